"""The backend pool with its slots, down marks and waiting queue shared in Redis (``STATE_URL``).

design: this balancer keeps what it learns itself (health probes, models, outlier streaks,
membership) in the in-memory records of ``BackendPool``; what every balancer must agree on
lives in the store (``balancer.shared_state``): the slots taken, which backends are down and
ONE FIFO queue. A job's routing candidates (members with its model, not yet tried, weight and
order) are decided here; the store picks among them atomically, or queues the job.

A queued job waits on its own Event. The store wakes it through this balancer's pub/sub
channel, which one subscriber thread reads; the lease is made before the message, so after a
lost message (a reconnect) ``renew`` finds it. One maintenance thread renews this balancer's
leases and waiters every LEASE_TTL/3 (a dead balancer's expire within LEASE_TTL), refreshes
its down marks, retries releases that failed during an outage, and remakes what a restarted,
empty Redis lost, so the jobs running through an outage are counted again once it ends.

When the store is unreachable, a job that needs a slot gets 503 (``StateUnavailable``);
jobs already running finish, and jobs already waiting keep their place in this balancer
until it returns or their QUEUE_TIMEOUT ends.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import redis

from balancer.pool import CANCEL_POLL_S, ROUTING_CHANGES, BackendPool, Lease
from balancer.settings import BackendSpec
from balancer.shared_state import Acquired, Candidate, DownMark, SharedView, StateUnavailable
from balancer.state import CancelSignal, PoolSnapshot, Status
from common.contract import has_model
from common.errors import ModelNotFound, NoBackendAvailable, QueueFull

log = logging.getLogger(__name__)

RECONNECT_S = 0.5  # pause before the subscriber or maintenance tries an unreachable store again


class Wakeups(Protocol):
    """One balancer's wake-ups: ``(waiter id, backend url)`` when the store handed a waiter a slot."""

    def get(self, timeout_s: float) -> tuple[str, str] | None: ...

    def close(self) -> None: ...


class Ledger(Protocol):
    """What every balancer sharing a farm must agree on, each verb atomic: ``RedisLedger`` (STATE_URL,
    several machines) or ``ShmLedger`` (BALANCER_PROCESSES, several processes of one balancer)."""

    lease_ttl_s: float
    kind: str  # what /queue-status calls the state: redis, shared-memory

    @property
    def where(self) -> str: ...

    def acquire(self, lease_id: str, balancer: str, candidates: Sequence[Candidate], *, max_queue: int,
                front: bool = False) -> Acquired: ...

    def release(self, lease_id: str) -> str | None: ...

    def leave(self, waiter_id: str) -> str: ...

    def renew(self, epoch: str, leases: Iterable[tuple[str, str]],
              waiters: Iterable[tuple[str, str, Sequence[Candidate]]]) -> tuple[str, list[str]]: ...

    def mark(self, down: Iterable[DownMark], up: Iterable[str]) -> int: ...

    def view(self) -> SharedView: ...

    def lease_of(self, waiter_id: str) -> str | None: ...

    def subscribe(self, balancer: str, local: Callable[[str, str], None] | None = None) -> Wakeups: ...

    def interrupt(self, balancer: str) -> None: ...


@dataclass(eq=False)
class _SharedWaiter:
    id: str
    candidates: tuple[Candidate, ...]
    cancel: CancelSignal | None
    wakeup: threading.Event | None = None  # made once the job is queued (most jobs never are)
    url: str | None = None  # the backend the store handed it a slot on
    queued: bool = False  # the store has it in its queue (renewals only look after those)


class SharedLease(Lease):
    """A slot taken through the store; ``release`` gives it back there once."""

    def __init__(self, pool: SharedPool, url: str, waited_s: float, lease_id: str) -> None:
        super().__init__(pool, url, waited_s)
        self.lease_id = lease_id
        self._shared_pool = pool

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        # a job of this balancer woken meanwhile runs first; through Redis that wake-up is a message
        # still on its way, so always let the subscriber run
        self.handed_over = self._shared_pool._release_lease(self.lease_id, self.url)


class SharedPool(BackendPool):
    """``BackendPool`` whose slots, down marks and FIFO queue are shared through a ``Ledger``."""

    def __init__(self, specs: Iterable[BackendSpec], *, ledger: Ledger, **kwargs: Any) -> None:
        self.ledger = ledger
        self.balancer_id = uuid.uuid4().hex[:16]
        self._ids = itertools.count()
        self._wakeups = 0  # waiters of this balancer handed a slot so far
        self._candidates: dict[tuple[str | None, frozenset[str]], tuple[int, tuple[Candidate, ...]]] = {}  # a job's id: this balancer's id and a number (32 hex digits)
        self._leases: dict[str, str] = {}  # lease id -> backend, of this balancer's running jobs
        self._waiting: dict[str, _SharedWaiter] = {}  # this balancer's queued jobs, in arrival order
        self._unreleased: dict[str, str] = {}  # leases whose release met an unreachable store
        self._marked: set[str] = set()  # backends this balancer has marked down in the store
        self._reachable = True
        self._epoch = ""  # the store's epoch at the last renewal: a new one means it lost its data
        self._renewing = threading.Lock()  # one renewal at a time (subscriber and maintenance threads)
        self._stop = threading.Event()
        self._owner_pid: int | None = None
        self._threads: list[threading.Thread] = []
        super().__init__(list(specs), **kwargs)

    # --- jobs -----------------------------------------------------------------------------

    def acquire(
        self,
        model: str | None,
        *,
        exclude: Iterable[str] = (),
        timeout_s: float | None = None,
        cancel: CancelSignal | None = None,
        retry: bool = False,
    ) -> Lease:
        """As ``BackendPool.acquire``, through the store; StateUnavailable (503) when it cannot be reached."""
        excluded = frozenset(exclude)
        timeout = self.queue_timeout_s if timeout_s is None else timeout_s
        start = self.clock()
        with self._lock:
            backends = self._backends.values()
            if model is not None and backends and all(b.models is not None and not has_model(b.models, model)
                                                      for b in backends):
                raise ModelNotFound(model, f"model '{model}' is installed on no backend; "
                                           f"pull it on a worker first (ollama pull {model})")
            if not self._could_serve_locked(model, excluded):
                raise NoBackendAvailable(self._nobody_message(model, excluded), retry_after_s=self.retry_after_s)
            candidates = self._candidates_locked(model, excluded)
            waiter = _SharedWaiter(f"{self.balancer_id}{next(self._ids):016x}", candidates, cancel)
            self._waiting[waiter.id] = waiter  # before the store can wake it
        try:
            taken = self.ledger.acquire(waiter.id, self.balancer_id, candidates, max_queue=self.max_queue, front=retry)
        except StateUnavailable:
            self._forget_waiter(waiter.id)
            self._set_reachable(False)
            raise
        self._set_reachable(True)
        if not self._epoch:
            with self._lock:
                self._epoch = self._epoch or taken.epoch  # a change of epoch is for renew to notice
        if taken.outcome == "lease":
            assert taken.url is not None
            return self._lease(waiter.id, taken.url, start)
        if taken.outcome == "full":
            self._forget_waiter(waiter.id)
            raise QueueFull(
                f"every backend is busy and the queue is full ({self.max_queue} waiting); retry later",
                retry_after_s=self.retry_after_s,
                extra={"waiting": taken.waiting},
            )
        with self._lock:  # a wake-up from now on sets the event; one before it set ``url``
            waiter.queued = True
            wakeup = waiter.wakeup = threading.Event()
        register = getattr(cancel, "on_set", None)
        unregister = register(wakeup.set) if register is not None else None
        poll = cancel is not None and unregister is None
        deadline = start + timeout
        try:
            while waiter.url is None:
                remaining = self._wait_left(deadline, timeout, cancel)
                wakeup.wait(min(remaining, CANCEL_POLL_S) if poll else remaining)
                wakeup.clear()
        except BaseException:
            self._forget_waiter(waiter.id)
            try:
                self.ledger.leave(waiter.id)  # gives back a slot handed over meanwhile
            except StateUnavailable:
                pass  # not renewed any more: the store drops the waiter (or its lease) within LEASE_TTL
            raise
        finally:
            if unregister is not None:
                unregister()
        return self._lease(waiter.id, waiter.url, start)

    def _candidates_locked(self, model: str | None, excluded: frozenset[str]) -> tuple[Candidate, ...]:
        """The backends a job may run on, best first (weight, then order): made again only when
        membership, slots, weights or models have changed (``pool.ROUTING_CHANGES``)."""
        key = (model, excluded)
        cached = self._candidates.get(key)
        if cached is not None and cached[0] == ROUTING_CHANGES[0]:
            return cached[1]
        members = sorted((b for b in self._backends.values() if not b.removing and b.spec.url not in excluded
                          and has_model(b.models, model)), key=lambda b: (-b.spec.weight, b.order))
        candidates = tuple(Candidate(b.spec.url, b.slots) for b in members)
        if len(self._candidates) > 256:
            self._candidates.clear()
        self._candidates[key] = (ROUTING_CHANGES[0], candidates)
        return candidates

    def _lease(self, lease_id: str, url: str, start: float) -> SharedLease:
        with self._lock:
            self._waiting.pop(lease_id, None)  # no longer waiting: running
            self._leases[lease_id] = url
            backend = self._backends.get(url)
            if backend is not None:
                backend.in_flight += 1  # this balancer's own jobs: a removed backend leaves when they end
        return SharedLease(self, url, self.clock() - start, lease_id)

    def _forget_waiter(self, waiter_id: str) -> None:
        with self._lock:
            self._waiting.pop(waiter_id, None)

    def _release_lease(self, lease_id: str, url: str) -> bool:
        """Give a slot back through the store; True when a job of this balancer may have been handed it."""
        with self._lock:
            self._leases.pop(lease_id, None)
            woken = self._wakeups
            self._release_locked(url)
        try:
            self.ledger.release(lease_id)
        except StateUnavailable as exc:
            log.warning("slot on %s not given back yet (%s); retrying when the store answers", url, exc.message)
            with self._lock:
                self._unreleased[lease_id] = url
            self._set_reachable(False)
        return self.ledger.kind == "redis" or self._wakeups != woken

    def _woken(self, waiter_id: str, url: str) -> None:
        """The store handed ``waiter_id`` a slot on ``url`` (a message on this balancer's channel)."""
        with self._lock:
            waiter = self._waiting.get(waiter_id)
            if waiter is not None and waiter.url is None:
                waiter.url = url
                self._wakeups += 1
                if waiter.wakeup is not None:
                    waiter.wakeup.set()
                return
            orphan = waiter is None and waiter_id not in self._leases
        if orphan:  # nobody here waits for it (it left meanwhile): never keep a slot nobody uses
            try:
                self.ledger.release(waiter_id)
            except StateUnavailable:
                pass  # not renewed by anyone: the store reaps it within LEASE_TTL

    def waiting_signals(self) -> tuple[CancelSignal | None, ...]:
        with self._lock:
            return tuple(waiter.cancel for waiter in self._waiting.values())

    # --- state changes every balancer must see ------------------------------------------------

    def report_health(self, url: str, report: Any) -> None:
        super().report_health(url, report)
        self._publish_marks()

    def mark_offline(self, url: str, error: str) -> None:
        super().mark_offline(url, error)
        self._publish_marks()

    def set_draining(self, url: str, draining: bool = True) -> None:
        super().set_draining(url, draining)
        self._publish_marks()

    def worker_draining(self, url: str) -> None:
        super().worker_draining(url)
        self._publish_marks()

    def record_failure(self, url: str, reason: str) -> bool:
        ejected = super().record_failure(url, reason)
        if ejected:
            self._publish_marks()
        return ejected

    def add(self, spec: BackendSpec) -> None:
        super().add(spec)
        self._publish_marks(refresh=True)

    def remove(self, url: str) -> int:
        in_flight = super().remove(url)
        self._publish_marks(refresh=True)
        return in_flight

    def tick(self) -> None:
        """Each health round: refresh this balancer's down marks and let the store serve waiters."""
        super().tick()
        self._publish_marks(refresh=True)

    def _marks_locked(self) -> tuple[list[DownMark], set[str]]:
        now = self.clock()
        down: list[DownMark] = []
        for b in self._backends.values():
            status = b.status(now)
            if status is Status.ONLINE or (b.removing and not b.admin_draining):
                continue
            if status is Status.EJECTED and b.ejected_until is not None:
                seconds = b.ejected_until - now
            else:
                seconds = self.ledger.lease_ttl_s  # refreshed while it lasts; a dead balancer's mark ends
            down.append(DownMark(b.spec.url, seconds, status.value, b.last_error or ""))
        return down, {m.url for m in down}

    def _publish_marks(self, refresh: bool = False) -> None:
        """Tell the store which backends this balancer sees down (all of them on ``refresh``, else the changes)."""
        with self._lock:
            down, now_marked = self._marks_locked()
            up = self._marked - now_marked
            if not refresh:
                down = [m for m in down if m.url not in self._marked]
            if not down and not up and not refresh:
                return
        try:
            self.ledger.mark(down, up)
        except StateUnavailable:
            self._set_reachable(False)
            return
        self._set_reachable(True)
        with self._lock:
            self._marked = (self._marked | now_marked) - up

    # --- views ----------------------------------------------------------------------------

    def snapshot(self) -> PoolSnapshot:
        """The pool with the farm-wide slots taken, waiting jobs and down marks; ``state`` says where from."""
        try:
            view = self.ledger.view()
        except StateUnavailable:
            self._set_reachable(False)
            view = None
        with self._lock:
            local = self._snapshot_locked()
        if view is None:
            return replace(local, waiting=len(self._waiting), state="unreachable")
        self._set_reachable(True)
        backends = []
        for b in local.backends:
            mark = view.down.get(b.url)
            shared = replace(b, in_flight=view.in_flight.get(b.url, 0))
            if b.status is Status.ONLINE and mark is not None:  # another balancer sees it down
                status = Status(mark.status) if mark.status in Status._value2member_map_ else Status.OFFLINE
                shared = replace(shared, status=status, last_error=mark.reason or b.last_error,
                                 ejection_remaining_s=round(mark.seconds, 3) if status is Status.EJECTED else None)
            backends.append(shared)
        return replace(local, backends=tuple(backends), waiting=view.waiting, state=self.ledger.kind)

    @property
    def reachable(self) -> bool:
        return self._reachable

    def _set_reachable(self, reachable: bool) -> None:
        if reachable != self._reachable:
            self._reachable = reachable
            if reachable:
                log.info("state store %s reachable again", self.ledger.where)
            else:
                log.error("state store %s unreachable: jobs that need a slot get 503 until it answers",
                          self.ledger.where)

    # --- background: wake-ups and renewals ----------------------------------------------------

    def ensure_started(self) -> None:
        """Start the subscriber and maintenance threads once per process (gunicorn forks after build)."""
        pid = os.getpid()
        if self._owner_pid == pid:
            return
        self._owner_pid = pid
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._subscribe, name="state-wakeups", daemon=True),
            threading.Thread(target=self._maintain, name="state-leases", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.ledger.interrupt(self.balancer_id)  # wake the subscriber now rather than at its next read timeout
        for thread in self._threads:
            thread.join(timeout=3.0)

    def _subscribe(self) -> None:
        while not self._stop.is_set():
            wakeups: Wakeups | None = None
            try:
                wakeups = self.ledger.subscribe(self.balancer_id, local=self._woken)
                self._renew()  # messages sent while unsubscribed are lost: find those leases
                while not self._stop.is_set():
                    woken = wakeups.get(1.0)
                    if woken is not None:
                        self._woken(*woken)
            except (redis.RedisError, OSError, StateUnavailable) as exc:
                self._set_reachable(False)
                log.debug("state subscriber: %s", exc)
                self._stop.wait(RECONNECT_S)
            finally:
                if wakeups is not None:
                    wakeups.close()

    def _maintain(self) -> None:
        interval = max(0.2, self.ledger.lease_ttl_s / 3)
        while not self._stop.wait(interval if self._reachable else RECONNECT_S):
            try:
                self._renew()
                self._publish_marks(refresh=True)
            except Exception as exc:  # the loop must outlive any one failure
                log.error("state maintenance failed", exc_info=exc)

    def _renew(self) -> None:
        """Give back what failed to go back, renew what runs and waits, and wake waiters served meanwhile."""
        with self._renewing:
            with self._lock:
                unreleased = dict(self._unreleased)
                leases = list(self._leases.items())
                waiters = [(w.id, self.balancer_id, w.candidates) for w in self._waiting.values()
                           if w.queued and w.url is None]
            try:
                for lease_id in unreleased:
                    self.ledger.release(lease_id)
                    with self._lock:
                        self._unreleased.pop(lease_id, None)
                epoch, served = self.ledger.renew(self._epoch, leases, waiters)
                if self._epoch and epoch != self._epoch:
                    log.warning("state store %s lost its data (restarted empty?): %d running and %d waiting job(s) "
                                "of this balancer counted again", self.ledger.where, len(leases), len(waiters))
                self._epoch = epoch
                for waiter_id in served:
                    url = self.ledger.lease_of(waiter_id)
                    if url is not None:
                        self._woken(waiter_id, url)
            except StateUnavailable:
                self._set_reachable(False)
                return
        self._set_reachable(True)
