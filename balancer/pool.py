"""The backend pool: every worker's slots, status and models, and the balancer's waiting queue.

design: all shared state (backends and waiters) sits behind ONE lock; nothing does I/O while
holding it. A job takes a slot with ``acquire`` (a ``Lease``, a context manager whose exit
always gives the slot back). When no usable slot is free the job joins a bounded FIFO queue,
HAProxy-style (``maxconn`` = slots, ``maxqueue`` = MAX_QUEUE, ``timeout queue`` =
QUEUE_TIMEOUT): every time a slot frees or a backend comes online, ``_dispatch`` hands free
slots to waiters in arrival order, so a waiter is never overtaken by a later job that could
use the same slot. Each waiter has its own Condition on the shared lock, so a handoff wakes
exactly the thread it serves. Only a full queue or a queue timeout is a 503; MAX_QUEUE=0 gives
the fail-fast behaviour (503 at once when every backend is busy). The routing choice itself
is the pure ``routing.choose`` over snapshots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from balancer.routing import choose, model_known_missing
from balancer.settings import BackendSpec
from balancer.state import BackendSnapshot, CancelSignal, HealthReport, PoolSnapshot, Status
from common.contract import has_model
from common.errors import ClientGone, ModelNotFound, NoBackendAvailable, QueueFull, QueueTimeout

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.25  # how often a waiter whose client may leave looks at its cancel event


@dataclass
class _Backend:
    spec: BackendSpec
    order: int
    in_flight: int = 0
    status: Status = Status.ONLINE  # optimistic until the first probe or failure says otherwise
    models: tuple[str, ...] | None = None
    queue_size: int = 0
    active: bool = False
    last_error: str | None = None
    reported_slots: int | None = None  # what the worker's /queue-status says

    @property
    def slots(self) -> int:
        """Configured slots win; else what the worker reports; 1 until it has answered."""
        return self.spec.slots or self.reported_slots or 1

    def snapshot(self) -> BackendSnapshot:
        return BackendSnapshot(
            url=self.spec.url,
            order=self.order,
            slots=self.slots,
            weight=self.spec.weight,
            in_flight=self.in_flight,
            status=self.status,
            models=self.models,
            queue_size=self.queue_size,
            active=self.active,
            last_error=self.last_error,
        )


@dataclass(eq=False)
class _Waiter:
    model: str | None
    exclude: frozenset[str]
    wakeup: threading.Condition
    backend: _Backend | None = None


class Lease:
    """One slot on one backend; ``release`` (or leaving the ``with`` block) gives it back once."""

    def __init__(self, pool: BackendPool, url: str, waited_s: float) -> None:
        self._pool = pool
        self.url = url
        self.waited_s = waited_s
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._pool._release(self.url)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Lease({self.url!r}, released={self._released})"


@dataclass
class BackendPool:
    """Backends, their slots and the FIFO waiting queue, behind one lock."""

    specs: Sequence[BackendSpec]
    max_queue: int = 100
    queue_timeout_s: float = 600.0
    retry_after_s: int = 10
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _backends: dict[str, _Backend] = field(init=False, repr=False)
    _waiters: deque[_Waiter] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        self._backends = {spec.url: _Backend(spec, order) for order, spec in enumerate(self.specs)}

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
        """A slot on a usable backend, waiting in FIFO order if all are busy.

        ``retry``: the job already waited its turn and failed elsewhere; it waits at the front.

        Raises ModelNotFound (no backend has ``model``), NoBackendAvailable (none online that
        could take it), QueueFull, QueueTimeout (waited ``timeout_s``, default QUEUE_TIMEOUT),
        or ClientGone (``cancel`` was set while waiting: the client left, its place is freed).
        """
        excluded = frozenset(exclude)
        timeout = self.queue_timeout_s if timeout_s is None else timeout_s
        start = self.clock()
        with self._lock:
            snapshot = self._snapshot_locked()
            if model is not None and model_known_missing(snapshot.backends, model):
                raise ModelNotFound(model, f"model '{model}' is installed on no backend; "
                                           f"pull it on a worker first (ollama pull {model})")
            chosen = choose(snapshot.backends, model, excluded)
            if chosen is not None:
                return self._lease_locked(self._backends[chosen.url], start)
            if not self._could_serve_locked(model, excluded):
                raise NoBackendAvailable(
                    self._nobody_message(model, excluded), retry_after_s=self.retry_after_s
                )
            if len(self._waiters) >= self.max_queue:
                raise QueueFull(
                    f"every backend is busy and the queue is full ({self.max_queue} waiting); retry later",
                    retry_after_s=self.retry_after_s,
                    extra={"waiting": len(self._waiters)},
                )
            waiter = _Waiter(model, excluded, threading.Condition(self._lock))
            if retry:
                self._waiters.appendleft(waiter)
            else:
                self._waiters.append(waiter)
            deadline = start + timeout
            try:
                while waiter.backend is None:
                    remaining = deadline - self.clock()
                    if remaining <= 0:
                        raise QueueTimeout(
                            f"waited {timeout:g}s for a free backend; every backend is still busy, retry later",
                            retry_after_s=self.retry_after_s,
                        )
                    if cancel is not None and cancel.is_set():
                        raise ClientGone("the client disconnected while its job waited for a backend")
                    waiter.wakeup.wait(remaining if cancel is None else min(remaining, CANCEL_POLL_S))
            except BaseException:  # timeout, cancel, or anything interrupting the wait
                if waiter.backend is None:
                    self._waiters.remove(waiter)
                else:  # a slot was handed over just now: give it back, never leak it
                    waiter.backend.in_flight = max(0, waiter.backend.in_flight - 1)
                    self._dispatch_locked()
                raise
            return Lease(self, waiter.backend.spec.url, self.clock() - start)

    def _lease_locked(self, backend: _Backend, start: float) -> Lease:
        backend.in_flight += 1
        return Lease(self, backend.spec.url, self.clock() - start)

    def _release(self, url: str) -> None:
        with self._lock:
            backend = self._backends[url]
            backend.in_flight = max(0, backend.in_flight - 1)
            self._dispatch_locked()

    def _dispatch_locked(self) -> None:
        """Hand free slots to waiters, oldest first."""
        if not self._waiters:
            return
        for waiter in list(self._waiters):
            chosen = choose(self._snapshot_locked().backends, waiter.model, waiter.exclude)
            if chosen is None:
                continue
            backend = self._backends[chosen.url]
            backend.in_flight += 1
            waiter.backend = backend
            self._waiters.remove(waiter)
            waiter.wakeup.notify()

    def _could_serve_locked(self, model: str | None, exclude: frozenset[str]) -> bool:
        return any(
            b.status is Status.ONLINE and b.spec.url not in exclude and has_model(b.models, model)
            for b in self._backends.values()
        )

    def _nobody_message(self, model: str | None, exclude: frozenset[str]) -> str:
        states = ", ".join(
            f"{b.spec.url} {'tried' if b.spec.url in exclude else b.status.value}"
            + (f" ({b.last_error})" if b.last_error and b.status is not Status.ONLINE else "")
            for b in self._backends.values()
        )
        wanted = f" with model '{model}'" if model else ""
        return f"no online backend{wanted} can take the job ({states}); retry later"

    # --- health ---------------------------------------------------------------------------

    def mark_offline(self, url: str, error: str) -> None:
        """Stop routing to ``url`` until a health probe finds it answering again."""
        with self._lock:
            backend = self._backends[url]
            was = backend.status
            backend.status = Status.OFFLINE
            backend.last_error = error
            backend.active = False
        if was is not Status.OFFLINE:
            log.warning("backend %s offline: %s", url, error)

    def report_health(self, url: str, report: HealthReport) -> None:
        """Record a probe's result; an answering backend (re)joins and may take waiting jobs."""
        if not report.ok:
            self.mark_offline(url, report.error or "health check failed")
            return
        with self._lock:
            backend = self._backends[url]
            was = backend.status
            backend.status = Status.DRAINING if report.draining else Status.ONLINE
            if report.models is not None:
                backend.models = report.models or None  # an empty list says nothing useful (Ollama down?)
            backend.queue_size = report.queue_size
            backend.active = report.active
            if report.slots is not None:
                backend.reported_slots = report.slots
            self._dispatch_locked()
        if was is not backend.status:
            log.info("backend %s %s", url, backend.status.value)

    def set_draining(self, url: str, draining: bool = True) -> None:
        """Take ``url`` out of routing without failing its running jobs (or put it back)."""
        with self._lock:
            backend = self._backends[url]
            backend.status = Status.DRAINING if draining else Status.ONLINE
            self._dispatch_locked()

    # --- views ----------------------------------------------------------------------------

    def snapshot(self) -> PoolSnapshot:
        """A consistent copy of the pool's state."""
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> PoolSnapshot:
        return PoolSnapshot(tuple(b.snapshot() for b in self._backends.values()), len(self._waiters))

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(self._backends)

    @property
    def total_slots(self) -> int:
        with self._lock:
            return sum(b.slots for b in self._backends.values())
