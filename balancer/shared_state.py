"""The farm's shared state in Redis: slots taken, backends down, and ONE FIFO queue of waiters.

design: every change is one Lua script, so taking and giving back a slot is atomic however
many balancers share the store. Time is Redis's own (``TIME`` inside the scripts), so the
balancers' clocks never have to agree.

- A taken slot is a *lease*: ``leases`` (a sorted set, id -> expiry) plus ``lease_url``
  (id -> backend) and the count ``inflight`` (backend -> leases). Its balancer renews it
  every LEASE_TTL/3; a lease not renewed for LEASE_TTL (its balancer died) is *reaped* by the
  next script any balancer runs, which gives the slot back.
- A job that finds no usable slot joins ``queue`` (a list: arrival order across all
  balancers; a retry goes to the front) with its candidates (``waiters``: id -> JSON
  {balancer, candidates: [[url, slots], ...]}) and an expiry (``waiter_expiry``) renewed like
  a lease: a dead balancer's waiters leave the queue by themselves.
- Whenever a slot may have freed (a release, a reap, a backend back up), ``dispatch`` hands
  free slots to waiters oldest first: it makes the waiter's lease and PUBLISHes ``"<id>
  <url>"`` on the waiter's balancer's channel, whose one subscriber wakes exactly that job.
  The lease exists before the message is sent, so a lost message costs no slot: the waiter
  finds its lease when its balancer reconnects, and an orphan lease expires.
- ``down`` (backend -> until, Redis time) holds every backend some balancer sees offline,
  draining or ejected; its balancer refreshes the mark while it lasts, so the mark of a dead
  balancer ends too. A backend is usable when it is in no ``down`` mark that is still running
  and has fewer leases than slots.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from balancer.settings import redact_url
from common.errors import ServiceUnavailable

log = logging.getLogger(__name__)

KEY_PREFIX = "dat:"

_LIBRARY = r"""
local P = ARGV[1]
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function is_down(url, t)
  local until_ = redis.call('HGET', P .. 'down', url)
  return until_ and tonumber(until_) > t
end

local function inflight(url)
  return tonumber(redis.call('HGET', P .. 'inflight', url) or '0')
end

local function pick(candidates, t)
  local best, best_n = nil, nil
  for _, c in ipairs(candidates) do
    local n = inflight(c[1])
    if n < tonumber(c[2]) and not is_down(c[1], t) and (best_n == nil or n < best_n) then
      best, best_n = c[1], n
    end
  end
  return best
end

local function take(id, url, t, ttl)
  if redis.call('HGET', P .. 'lease_url', id) then return end  -- one lease per id, whatever happens
  redis.call('HINCRBY', P .. 'inflight', url, 1)
  redis.call('HSET', P .. 'lease_url', id, url)
  redis.call('ZADD', P .. 'leases', t + ttl, id)
end

local function give_back(id)
  local url = redis.call('HGET', P .. 'lease_url', id)
  if not url then return false end
  redis.call('HDEL', P .. 'lease_url', id)
  redis.call('ZREM', P .. 'leases', id)
  if inflight(url) > 0 then redis.call('HINCRBY', P .. 'inflight', url, -1) end
  return url
end

local function forget_waiter(id)
  redis.call('HDEL', P .. 'waiters', id)
  redis.call('ZREM', P .. 'waiter_expiry', id)
end

local function reap(t)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', t)) do give_back(id) end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'waiter_expiry', '-inf', t)) do
    redis.call('LREM', P .. 'queue', 1, id)
    forget_waiter(id)
  end
end

-- the store's epoch: made by the first script on an empty store, so a new one says it lost its data
local function epoch(t)
  local e = redis.call('GET', P .. 'epoch')
  if not e then
    e = string.format('%d', t * 1000000)
    redis.call('SET', P .. 'epoch', e)
  end
  return e
end

local function free_slots(t)
  local free, flat = 0, redis.call('HGETALL', P .. 'slots')
  for i = 1, #flat, 2 do
    if not is_down(flat[i], t) then free = free + math.max(0, tonumber(flat[i + 1]) - inflight(flat[i])) end
  end
  return free
end

-- hand free slots to waiters, oldest first; returns how many were served
local function dispatch(t, ttl)
  if redis.call('LLEN', P .. 'queue') == 0 then return 0 end
  local free = free_slots(t)
  local served = 0
  if free <= 0 then return 0 end
  for _, id in ipairs(redis.call('LRANGE', P .. 'queue', 0, -1)) do
    local raw = redis.call('HGET', P .. 'waiters', id)
    if not raw then
      redis.call('LREM', P .. 'queue', 1, id)
    else
      local waiter = cjson.decode(raw)
      local url = pick(waiter.candidates, t)
      if url then
        take(id, url, t, ttl)
        redis.call('LREM', P .. 'queue', 1, id)
        forget_waiter(id)
        redis.call('PUBLISH', P .. 'wake:' .. waiter.balancer, id .. ' ' .. url)
        served = served + 1
        free = free - 1
        if free <= 0 then break end
      end
    end
  end
  return served
end
"""

# ARGV: prefix, ttl, id, balancer, front (0/1), max_queue, candidates JSON
_ACQUIRE = _LIBRARY + r"""
local t, ttl = now(), tonumber(ARGV[2])
local id, balancer, front, max_queue = ARGV[3], ARGV[4], ARGV[5] == '1', tonumber(ARGV[6])
local candidates = cjson.decode(ARGV[7])
local e = epoch(t)
reap(t)
for _, c in ipairs(candidates) do redis.call('HSET', P .. 'slots', c[1], c[2]) end
dispatch(t, ttl)
local url = pick(candidates, t)
if url then
  take(id, url, t, ttl)
  return {'lease', url, e}
end
local waiting = redis.call('LLEN', P .. 'queue')
if waiting >= max_queue then return {'full', tostring(waiting), e} end
redis.call('HSET', P .. 'waiters', id, cjson.encode({balancer = balancer, candidates = candidates}))
redis.call('ZADD', P .. 'waiter_expiry', t + ttl, id)
if front then redis.call('LPUSH', P .. 'queue', id) else redis.call('RPUSH', P .. 'queue', id) end
return {'queued', tostring(waiting + 1), e}
"""

# ARGV: prefix, ttl, id -> the backend whose slot came back, or false
_RELEASE = _LIBRARY + r"""
local t, ttl = now(), tonumber(ARGV[2])
reap(t)
local url = give_back(ARGV[3])
dispatch(t, ttl)
return url
"""

# ARGV: prefix, ttl, id -> 'left' (was waiting), 'released' (a slot had been handed over: given back), 'none'
_LEAVE = _LIBRARY + r"""
local t, ttl = now(), tonumber(ARGV[2])
local id = ARGV[3]
if redis.call('LREM', P .. 'queue', 1, id) > 0 then
  forget_waiter(id)
  return 'left'
end
forget_waiter(id)
if give_back(id) then
  dispatch(t, ttl)
  return 'released'
end
return 'none'
"""

# ARGV: prefix, ttl -> waiters served
_DISPATCH = _LIBRARY + r"""
local t, ttl = now(), tonumber(ARGV[2])
reap(t)
return dispatch(t, ttl)
"""

# ARGV: prefix, ttl, epoch this balancer last saw, leases JSON [[id, url], ...],
#       waiters JSON [[id, balancer, candidates], ...]
# -> {epoch now, ids of waiters that had been handed a slot (their wake-up may have been lost)}
# When the epoch differs from the one the balancer saw last (none yet: ''), the store lost its
# data (Redis restarted empty) and what this balancer still runs or waits for is made again.
# Otherwise a lease or waiter the store lacks was given back or reaped meanwhile, and stays so.
_RENEW = _LIBRARY + r"""
local t, ttl = now(), tonumber(ARGV[2])
local e = epoch(t)
local lost = ARGV[3] ~= '' and e ~= ARGV[3]
reap(t)
for _, lease in ipairs(cjson.decode(ARGV[4])) do
  if redis.call('ZSCORE', P .. 'leases', lease[1]) then
    redis.call('ZADD', P .. 'leases', t + ttl, lease[1])
  elseif lost then
    take(lease[1], lease[2], t, ttl)
  end
end
local assigned = {}
for _, w in ipairs(cjson.decode(ARGV[5])) do
  local id = w[1]
  if redis.call('HGET', P .. 'lease_url', id) then
    table.insert(assigned, id)
  elseif redis.call('ZSCORE', P .. 'waiter_expiry', id) then
    redis.call('ZADD', P .. 'waiter_expiry', t + ttl, id)
  elseif lost then
    redis.call('HSET', P .. 'waiters', id, cjson.encode({balancer = w[2], candidates = w[3]}))
    redis.call('ZADD', P .. 'waiter_expiry', t + ttl, id)
    redis.call('RPUSH', P .. 'queue', id)
  end
end
dispatch(t, ttl)
return {e, assigned}
"""

# ARGV: prefix, ttl, marks JSON [[url, seconds, status, reason], ...] (seconds from now), ups JSON [url, ...]
_MARK = _LIBRARY + r"""
local t, ttl = now(), tonumber(ARGV[2])
for _, mark in ipairs(cjson.decode(ARGV[3])) do
  redis.call('HSET', P .. 'down', mark[1], t + tonumber(mark[2]))
  redis.call('HSET', P .. 'down_why', mark[1], cjson.encode({mark[3], mark[4]}))
end
for _, url in ipairs(cjson.decode(ARGV[4])) do
  redis.call('HDEL', P .. 'down', url)
  redis.call('HDEL', P .. 'down_why', url)
end
reap(t)
return dispatch(t, ttl)
"""

# ARGV: prefix -> {inflight flat, waiting, down flat (url, seconds left, why JSON [status, reason])}
_VIEW = _LIBRARY + r"""
local t = now()
local down, flat = {}, redis.call('HGETALL', P .. 'down')
for i = 1, #flat, 2 do
  local left = tonumber(flat[i + 1]) - t
  if left > 0 then
    table.insert(down, flat[i])
    table.insert(down, tostring(left))
    table.insert(down, redis.call('HGET', P .. 'down_why', flat[i]) or '[]')
  end
end
return {redis.call('HGETALL', P .. 'inflight'), redis.call('LLEN', P .. 'queue'), down}
"""


class StateUnavailable(ServiceUnavailable):
    """The shared state store cannot be reached: no slot can be taken safely."""


@dataclass(frozen=True)
class Candidate:
    """A backend a job may run on, with its slots; the order is the preference among equals."""

    url: str
    slots: int


@dataclass(frozen=True)
class Acquired:
    """What ``acquire`` did: took a lease on ``url``, queued the job (``waiting``: its place), or found the queue full."""

    outcome: str  # "lease" | "queued" | "full"
    url: str | None = None
    waiting: int = 0
    epoch: str = ""  # the store's epoch (see RENEW)


@dataclass(frozen=True)
class DownMark:
    """A balancer's word that a backend must not be used: for how long, as what status, and why."""

    url: str
    seconds: float
    status: str  # a Status value: offline | draining | ejected
    reason: str = ""


@dataclass(frozen=True)
class SharedView:
    """The farm-wide part of the pool's state, as the store has it now."""

    in_flight: dict[str, int]
    waiting: int
    down: dict[str, DownMark]  # backend -> its running down mark (seconds left)


class RedisLedger:
    """The shared state's operations, each one atomic script; any ``redis.RedisError`` becomes ``StateUnavailable``."""

    kind = "redis"

    def __init__(self, url: str, *, lease_ttl_s: float = 15.0, retry_after_s: int = 10, prefix: str = KEY_PREFIX,
                 client: redis.Redis | None = None) -> None:
        self.url = url
        self.lease_ttl_s = lease_ttl_s
        self.retry_after_s = retry_after_s
        self.prefix = prefix
        # a bounded pool that makes a burst of jobs wait a moment for a connection rather than fail;
        # no retries: an unreachable store is a 503 at once, and the next request tries again
        self.redis = client or redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=2.0, socket_connect_timeout=1.0, socket_timeout=2.0,
            retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
        ))
        self._scripts = {name: self.redis.register_script(body) for name, body in (
            ("acquire", _ACQUIRE), ("release", _RELEASE), ("leave", _LEAVE), ("dispatch", _DISPATCH),
            ("renew", _RENEW), ("mark", _MARK), ("view", _VIEW),
        )}

    @property
    def where(self) -> str:
        return redact_url(self.url)

    def channel(self, balancer: str) -> str:
        """The pub/sub channel on which ``balancer``'s waiters are woken."""
        return f"{self.prefix}wake:{balancer}"

    def _run(self, name: str, *args: Any) -> Any:
        try:
            return self._scripts[name](args=[self.prefix, self.lease_ttl_s, *args])
        except redis.RedisError as exc:
            raise self.unavailable(exc) from None

    def unavailable(self, exc: BaseException) -> StateUnavailable:
        return StateUnavailable(
            f"the shared state store (STATE_URL {self.where}) is unreachable: {exc}; no slot can be taken "
            "safely, retry later",
            retry_after_s=self.retry_after_s,
        )

    def acquire(self, lease_id: str, balancer: str, candidates: Sequence[Candidate], *, max_queue: int,
                front: bool = False) -> Acquired:
        """Take the least loaded usable candidate, or queue the job (at the front: ``front``)."""
        encoded = json.dumps([[c.url, c.slots] for c in candidates])
        outcome, value, epoch = self._run("acquire", lease_id, balancer, "1" if front else "0", max_queue, encoded)
        outcome = _text(outcome)
        if outcome == "lease":
            return Acquired("lease", url=_text(value), epoch=_text(epoch))
        return Acquired(outcome, waiting=int(value), epoch=_text(epoch))

    def release(self, lease_id: str) -> str | None:
        """Give a lease back (once; a second call is a no-op); the backend it was on, if it existed."""
        url = self._run("release", lease_id)
        return _text(url) if url else None

    def leave(self, waiter_id: str) -> str:
        """A waiter gives up: 'left' the queue, 'released' a slot handed to it meanwhile, or 'none'."""
        return _text(self._run("leave", waiter_id))

    def dispatch(self) -> int:
        """Reap what expired and hand free slots to waiters; how many were served."""
        return int(self._run("dispatch"))

    def renew(self, epoch: str, leases: Iterable[tuple[str, str]],
              waiters: Iterable[tuple[str, str, Sequence[Candidate]]]) -> tuple[str, list[str]]:
        """Extend this balancer's leases and waiters, remaking them when the store's ``epoch`` changed (it
        lost its data); returns the epoch now and the ids of waiters already served."""
        encoded_waiters = [[wid, balancer, [[c.url, c.slots] for c in candidates]] for wid, balancer, candidates in waiters]
        now_epoch, assigned = self._run("renew", epoch, json.dumps([list(lease) for lease in leases]),
                                        json.dumps(encoded_waiters))
        return _text(now_epoch), [_text(item) for item in assigned]

    def mark(self, down: Iterable[DownMark], up: Iterable[str]) -> int:
        """Mark backends down (each for its seconds from now) and clear marks of others; then dispatch."""
        marks = [[m.url, m.seconds, m.status, m.reason] for m in down]
        return int(self._run("mark", json.dumps(marks), json.dumps(list(up))))

    def view(self) -> SharedView:
        """Slots taken per backend, jobs waiting and the running down marks, in one round trip."""
        flat_inflight, waiting, flat_down = self._run("view")
        in_flight = {_text(flat_inflight[i]): int(flat_inflight[i + 1]) for i in range(0, len(flat_inflight), 2)}
        down = {}
        for i in range(0, len(flat_down), 3):
            url = _text(flat_down[i])
            why = json.loads(_text(flat_down[i + 2])) or ["offline", ""]
            down[url] = DownMark(url, float(flat_down[i + 1]), str(why[0]), str(why[1]))
        return SharedView(in_flight, int(waiting), down)

    def lease_of(self, waiter_id: str) -> str | None:
        """The backend of the lease handed to ``waiter_id``, if one was."""
        try:
            url = self.redis.hget(self.prefix + "lease_url", waiter_id)
        except redis.RedisError as exc:
            raise self.unavailable(exc) from None
        return _text(url) if url else None

    def subscribe(self, balancer: str, local: Callable[[str, str], None] | None = None) -> RedisWakeups:
        """The wake-ups of ``balancer``'s waiters (its pub/sub channel); RedisError when it cannot subscribe.
        Every wake-up goes through Redis, ``local`` ones included."""
        return RedisWakeups(self, balancer)

    def interrupt(self, balancer: str) -> None:
        """Wake ``balancer``'s subscriber now (it is stopping) rather than at its next read timeout."""
        try:
            self.redis.publish(self.channel(balancer), "")
        except redis.RedisError:
            pass

    def close(self) -> None:
        self.redis.close()


class RedisWakeups:
    """One balancer's wake-up messages: ``(waiter id, backend url)`` each, from its pub/sub channel."""

    def __init__(self, ledger: RedisLedger, balancer: str) -> None:
        self._pubsub = ledger.redis.pubsub(ignore_subscribe_messages=True)
        try:
            self._pubsub.subscribe(ledger.channel(balancer))
        except BaseException:
            self.close()
            raise

    def get(self, timeout_s: float) -> tuple[str, str] | None:
        """The next wake-up within ``timeout_s``, else None; RedisError when the store went away."""
        message = self._pubsub.get_message(timeout=timeout_s)
        if message is None or message.get("type") != "message":
            return None
        waiter_id, _, url = message["data"].decode().partition(" ")
        return (waiter_id, url) if waiter_id and url else None  # an empty message only wakes the loop (stop)

    def close(self) -> None:
        try:
            self._pubsub.close()
        except redis.RedisError:
            pass


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
