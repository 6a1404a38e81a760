"""Per-key limits: jobs per minute and jobs at once, kept in memory or, with STATE_URL, in Redis.

design: the rate is the ``limits`` library's moving window (its memory or Redis storage), so
N balancers on one Redis count one window per key. Concurrency is not a rate: each job holds a
unit while it is in progress (waiting for a worker or running) and gives it back when it ends.
In Redis a key's units are members of a sorted set scored by their expiry, taken and counted by
one Lua script (atomic across balancers); the expiry (longest a job can last) returns the units
of a balancer that died holding them. A split holds one unit from the start and takes one more
for each further chunk in progress, waiting (never 429) while the key has none free, so a split
counts as one request and as many concurrent jobs as it has chunks in progress.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from balancer.state import CancelSignal
from common.apikeys import ApiKey
from common.errors import ClientGone, ServiceUnavailable, TooManyRequests

log = logging.getLogger(__name__)

NAMESPACE = "ansible-farm"
POLL_S = 0.2  # how often a waiting split chunk looks for a free unit of its key


class JobCounter(Protocol):
    """Units of concurrency per key name."""

    def take(self, name: str, limit: int) -> str | None:
        """A unit of ``name`` (its token), or None when ``limit`` are taken."""
        ...

    def give_back(self, name: str, token: str) -> None: ...


class MemoryJobCounter:
    """Units in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, set[str]] = {}

    def take(self, name: str, limit: int) -> str | None:
        with self._lock:
            held = self._held.setdefault(name, set())
            if len(held) >= limit:
                return None
            token = uuid.uuid4().hex
            held.add(token)
            return token

    def give_back(self, name: str, token: str) -> None:
        with self._lock:
            self._held.get(name, set()).discard(token)


# KEYS[1]: the key's sorted set; ARGV: limit, lifetime in ms, token. Redis's own clock: one for all balancers.
_TAKE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


class RedisJobCounter:
    """Units in Redis, shared by every balancer on it; each expires after ``lifetime_s``."""

    def __init__(self, url: str, *, lifetime_s: float) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        self._take = self._redis.register_script(_TAKE)
        self._lifetime_ms = int(lifetime_s * 1000)

    def take(self, name: str, limit: int) -> str | None:
        token = uuid.uuid4().hex
        taken = self._take(keys=[_jobs_key(name)], args=[limit, self._lifetime_ms, token])
        return token if int(taken) == 1 else None

    def give_back(self, name: str, token: str) -> None:
        self._redis.zrem(_jobs_key(name), token)


def _jobs_key(name: str) -> str:
    return f"{NAMESPACE}:jobs:{name}"


class KeyLimits:
    """The limits of every API key; ``state_url`` (STATE_URL) puts them in Redis."""

    def __init__(self, state_url: str = "", *, job_lifetime_s: float = 3600.0) -> None:
        self.shared = bool(state_url)
        if state_url:
            storage = storage_from_string(state_url, key_prefix=f"{NAMESPACE}:rate")
            self._jobs: JobCounter = RedisJobCounter(state_url, lifetime_s=job_lifetime_s)
        else:
            storage = storage_from_string("memory://")
            self._jobs = MemoryJobCounter()
        self._rate = MovingWindowRateLimiter(storage)

    def count_request(self, key: ApiKey) -> None:
        """One more job in the key's minute; TooManyRequests (429) past ``rate_per_minute``."""
        item = RateLimitItemPerMinute(key.rate_per_minute)
        if self._state(lambda: self._rate.hit(item, key.name)):
            return
        stats = self._state(lambda: self._rate.get_window_stats(item, key.name))
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"API key {key.name!r} sent more than its {key.rate_per_minute} jobs a minute; retry in {retry_after} s",
            retry_after_s=retry_after, extra={"limit": "rate_per_minute"},
        )

    @contextmanager
    def job(self, key: ApiKey) -> Iterator[None]:
        """Hold one of the key's units for the job; TooManyRequests (429) when all are held."""
        token = self._take_or_refuse(key)
        try:
            yield
        finally:
            self.give_back_unit(key, token)

    @contextmanager
    def split(self, key: ApiKey) -> Iterator[SplitBudget]:
        """A split's units: one now (429 when none is free), more as its chunks run."""
        budget = SplitBudget(self, key, self._take_or_refuse(key))
        try:
            yield budget
        finally:
            budget.close()

    def _take_or_refuse(self, key: ApiKey) -> str:
        token = self._state(lambda: self._jobs.take(key.name, key.max_concurrent))
        if token is None:
            raise TooManyRequests(
                f"API key {key.name!r} has {key.max_concurrent} jobs in progress, its max_concurrent; "
                "retry when one has finished",
                retry_after_s=5, extra={"limit": "max_concurrent"},
            )
        return str(token)

    def take_unit(self, key: ApiKey) -> str | None:
        """One of the key's units, or None when all are held (a split's further chunks wait on this)."""
        token = self._state(lambda: self._jobs.take(key.name, key.max_concurrent))
        return None if token is None else str(token)

    def give_back_unit(self, key: ApiKey, token: str) -> None:
        try:
            self._jobs.give_back(key.name, token)
        except Exception as exc:  # it expires by itself; the job's answer must not fail for it
            log.warning("could not give back a job unit of key %s: %s", key.name, type(exc).__name__)

    def _state(self, call: Any) -> Any:
        try:
            return call()
        except Exception as exc:  # the store (Redis) is down: refuse honestly rather than run unlimited
            log.warning("the limits store is unreachable: %s", type(exc).__name__)
            raise ServiceUnavailable("the shared limits store (STATE_URL) cannot be reached; retry later",
                                     retry_after_s=5) from None


class SplitBudget:
    """The units one split holds: at least one while it runs, one per chunk in progress beyond it."""

    def __init__(self, limits: KeyLimits, key: ApiKey, first: str) -> None:
        self._limits = limits
        self._key = key
        self._cond = threading.Condition()
        self._free = [first]
        self._held = 1
        self._closed = False

    @contextmanager
    def unit(self, cancel: CancelSignal | None = None) -> Iterator[None]:
        """Hold a unit while one chunk is in progress; waits while the key has none free."""
        token = self._acquire(cancel)
        try:
            yield
        finally:
            with self._cond:
                if self._held > 1 or self._closed:  # beyond the split's own (or it ended): back to the key at once
                    self._held -= 1
                    self._limits.give_back_unit(self._key, token)
                else:
                    self._free.append(token)
                self._cond.notify()

    def _acquire(self, cancel: CancelSignal | None) -> str:
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    raise ClientGone("the split ended while its chunk waited for a unit of its API key")
                if self._free:
                    return self._free.pop()
                token = self._limits.take_unit(self._key)
                if token is not None:
                    self._held += 1
                    return token
                self._cond.wait(POLL_S)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for token in self._free:
                self._limits.give_back_unit(self._key, token)
            self._free.clear()
