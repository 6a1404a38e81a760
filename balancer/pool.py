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

A backend's status is derived, never stored: an admin drain, the worker's own ``draining``
or a pending removal make it draining; failed health checks (with rise/fall hysteresis)
make it offline; an ejection by outlier detection (``record_failure``) makes it ejected
until its time is up; else it is online. Membership changes at run time (``add``,
``remove``, ``apply``): a removed backend leaves routing at once and the pool forgets it
when its last job in flight gives its slot back.
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
from balancer.state import BackendSnapshot, CancelSignal, HealthPolicy, HealthReport, OutlierPolicy, PoolSnapshot, Status
from common.contract import has_model
from common.cooperative import short_lock
from common.errors import ClientGone, ModelNotFound, NoBackendAvailable, QueueFull, QueueTimeout

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.25  # how often a waiter looks at a cancel signal that cannot call back (a plain event)


# what a job's candidate backends depend on (besides membership): a change to any of them, in any
# pool, bumps ROUTING_CHANGES, so a cache of candidates made at one count is good while it stands
ROUTING_FIELDS = frozenset({"spec", "order", "reported_slots", "models", "removing"})
ROUTING_CHANGES = [0]


@dataclass
class _Backend:
    # design: routing reads a snapshot of every backend per job, and /queue-status per call; most
    # backends have not changed since the last one but for their jobs in flight, which change with
    # every job. Snapshots are cached per in_flight value; any assignment to another field drops
    # them all (__setattr__), and a running ejection is never cached (its status and remaining
    # time move with the clock), so a cached snapshot always equals a fresh one.
    spec: BackendSpec
    order: int
    in_flight: int = 0
    reachable: bool = True  # optimistic until the first probes or a refused connection say otherwise
    probe_streak: int = 0  # > 0: good probes in a row; < 0: failed probes in a row
    worker_draining: bool = False  # the worker's /queue-status says it is shutting down
    admin_draining: bool = False
    removing: bool = False
    consecutive_failures: int = 0
    ejections: int = 0
    ejected_until: float | None = None  # clock() time; None: never ejected
    probation: bool = False  # back from an ejection: one failure ejects it again
    models: tuple[str, ...] | None = None
    queue_size: int = 0
    active: bool = False
    last_error: str | None = None
    reported_slots: int | None = None  # what the worker's /queue-status says
    _cached: dict[int, BackendSnapshot] = field(default_factory=dict, repr=False, compare=False)  # by in_flight

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name != "_cached" and name != "in_flight":
            object.__setattr__(self, "_cached", {})
            if name in ROUTING_FIELDS:
                ROUTING_CHANGES[0] += 1

    @property
    def slots(self) -> int:
        """Configured slots win; else what the worker reports; 1 until it has answered."""
        return self.spec.slots or self.reported_slots or 1

    def ejected(self, now: float) -> bool:
        return self.ejected_until is not None and now < self.ejected_until

    def status(self, now: float) -> Status:
        if self.admin_draining or self.worker_draining or self.removing:
            return Status.DRAINING
        if not self.reachable:
            return Status.OFFLINE
        if self.ejected(now):
            return Status.EJECTED
        return Status.ONLINE

    def snapshot(self, now: float) -> BackendSnapshot:
        cached = self._cached.get(self.in_flight)
        if cached is not None:
            return cached
        snapshot = self._snapshot(now)
        if not self.ejected(now):
            self._cached[self.in_flight] = snapshot
        return snapshot

    def _snapshot(self, now: float) -> BackendSnapshot:
        return BackendSnapshot(
            url=self.spec.url,
            order=self.order,
            slots=self.slots,
            weight=self.spec.weight,
            in_flight=self.in_flight,
            status=self.status(now),
            models=self.models,
            queue_size=self.queue_size,
            active=self.active,
            last_error=self.last_error,
            consecutive_failures=self.consecutive_failures,
            ejections=self.ejections,
            ejection_remaining_s=round(self.ejected_until - now, 3) if self.ejected(now) and self.ejected_until else None,
            removing=self.removing,
        )


@dataclass(eq=False)
class _Waiter:
    model: str | None
    exclude: frozenset[str]
    wakeup: threading.Condition
    backend: _Backend | None = None
    cancel: CancelSignal | None = None  # the job's own signal: also says whose place this is (balancer.jobs)


class Lease:
    """One slot on one backend; ``release`` (or leaving the ``with`` block) gives it back once."""

    def __init__(self, pool: BackendPool, url: str, waited_s: float) -> None:
        self._pool = pool
        self.url = url
        self.waited_s = waited_s
        self.handed_over = False  # set by release: the slot went straight to a waiting job
        self._released = False
        self._lock = short_lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self.handed_over = self._pool._release(self.url)

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
    outliers: OutlierPolicy = field(default_factory=OutlierPolicy)
    health: HealthPolicy = field(default_factory=HealthPolicy)
    clock: Callable[[], float] = time.monotonic
    # made at first use, so a pool built before gevent patches threading still gets a cooperative lock
    _lock: threading.Lock = field(default_factory=lambda: threading.Lock(), init=False, repr=False)
    _backends: dict[str, _Backend] = field(init=False, repr=False)
    _waiters: deque[_Waiter] = field(default_factory=deque, init=False, repr=False)
    _next_order: int = field(default=0, init=False, repr=False)
    _completed: int = field(default=0, init=False, repr=False)  # jobs that got a final reply from a worker
    _failed: int = field(default=0, init=False, repr=False)  # jobs that failed by a backend's fault
    # routable_model's answers, each with the ROUTING_CHANGES count it was made at
    _routable: dict[str, tuple[int, str | None]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._backends = {}
        for spec in self.specs:
            self._add_locked(spec)

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
            waiter = _Waiter(model, excluded, threading.Condition(self._lock), cancel=cancel)
            if retry:
                self._waiters.appendleft(waiter)
            else:
                self._waiters.append(waiter)
            deadline = start + timeout
            # design: a signal that calls back (common.disconnect.CancelEvent: the client left) wakes
            # its waiter; polling it would wake 1,000 waiting jobs 4,000 times a second
            register = getattr(cancel, "on_set", None)
            unregister = register(lambda: self._wake(waiter)) if register is not None else None
            poll = cancel is not None and unregister is None  # a plain event, or one set already
            try:
                while waiter.backend is None:
                    remaining = self._wait_left(deadline, timeout, cancel)
                    waiter.wakeup.wait(min(remaining, CANCEL_POLL_S) if poll else remaining)
            except BaseException:  # timeout, cancel, or anything interrupting the wait
                if waiter.backend is None:
                    self._waiters.remove(waiter)
                else:  # a slot was handed over just now: give it back, never leak it
                    waiter.backend.in_flight = max(0, waiter.backend.in_flight - 1)
                    self._dispatch_locked()
                raise
            finally:
                if unregister is not None:
                    unregister()
            return Lease(self, waiter.backend.spec.url, self.clock() - start)

    def _wait_left(self, deadline: float, timeout: float, cancel: CancelSignal | None) -> float:
        """Seconds a waiting job may still wait; QueueTimeout when none are left, ClientGone when it was cancelled."""
        remaining = deadline - self.clock()
        if remaining <= 0:
            raise QueueTimeout(
                f"waited {timeout:g}s for a free backend; every backend is still busy, retry later",
                retry_after_s=self.retry_after_s,
            )
        if cancel is not None and cancel.is_set():
            raise ClientGone("the client disconnected while its job waited for a backend")
        return remaining

    def routable_model(self, model: str | None) -> str | None:
        """The model to route a job by when the job can run without it (the rules engine, or hybrid
        with every line covered): ``model`` when some backend may have it, else None (any backend;
        the worker then answers without the model, or says why it cannot)."""
        if model is None:
            return None
        known = self._routable.get(model)
        if known is not None and known[0] == ROUTING_CHANGES[0]:  # models and members as they were then
            return known[1]
        with self._lock:
            changes = ROUTING_CHANGES[0]
            missing = bool(self._backends) and all(
                b.models is not None and not has_model(b.models, model) for b in self._backends.values()
            )
            if len(self._routable) > 256:
                self._routable.clear()
            self._routable[model] = (changes, None if missing else model)
        return None if missing else model

    def _wake(self, waiter: _Waiter) -> None:
        """A waiting job's cancel signal was set: let it look (called back outside the pool's lock)."""
        with self._lock:
            waiter.wakeup.notify()

    def _lease_locked(self, backend: _Backend, start: float) -> Lease:
        backend.in_flight += 1
        return Lease(self, backend.spec.url, self.clock() - start)

    def _release(self, url: str) -> bool:
        """Give a slot on ``url`` back; True when a waiting job was handed a slot."""
        with self._lock:
            return self._release_locked(url)

    def _release_locked(self, url: str) -> bool:
        backend = self._backends.get(url)
        if backend is None:
            return False
        backend.in_flight = max(0, backend.in_flight - 1)
        if backend.removing and backend.in_flight == 0:
            del self._backends[url]
            ROUTING_CHANGES[0] += 1
            log.info("backend %s removed: its last job finished", url)
        return self._dispatch_locked() > 0

    def _dispatch_locked(self) -> int:
        """Hand free slots to waiters, oldest first; how many were served."""
        served = 0
        if not self._waiters:
            return served
        for waiter in list(self._waiters):
            now = self.clock()
            if not any(b.in_flight < b.slots and b.status(now) is Status.ONLINE for b in self._backends.values()):
                return served  # every slot taken: nobody further back can be served either (the common case under load)
            chosen = choose(self._snapshot_locked().backends, waiter.model, waiter.exclude)
            if chosen is None:
                continue
            backend = self._backends[chosen.url]
            backend.in_flight += 1
            waiter.backend = backend
            self._waiters.remove(waiter)
            waiter.wakeup.notify()
            served += 1
        return served

    def _could_serve_locked(self, model: str | None, exclude: frozenset[str]) -> bool:
        now = self.clock()
        return any(
            b.status(now) is Status.ONLINE and b.spec.url not in exclude and has_model(b.models, model)
            for b in self._backends.values()
        )

    def _nobody_message(self, model: str | None, exclude: frozenset[str]) -> str:
        now = self.clock()
        states = ", ".join(
            f"{b.spec.url} {'tried' if b.spec.url in exclude else b.status(now).value}"
            + (f" ({b.last_error})" if b.last_error and b.status(now) is not Status.ONLINE else "")
            for b in self._backends.values()
        )
        wanted = f" with model '{model}'" if model else ""
        return f"no online backend{wanted} can take the job ({states}); retry later"

    # --- health ---------------------------------------------------------------------------

    def mark_offline(self, url: str, error: str) -> None:
        """A connection to ``url`` was refused or timed out: stop routing there until it rises again."""
        with self._lock:
            backend = self._backends.get(url)
            if backend is None:
                return
            was = backend.reachable
            backend.reachable = False
            backend.probe_streak = min(0, backend.probe_streak)
            backend.last_error = error
            backend.active = False
        if was:
            log.warning("backend %s offline: %s", url, error)

    def report_health(self, url: str, report: HealthReport) -> None:
        """Record a probe's result: HEALTH_FALL failures in a row take a backend offline,
        HEALTH_RISE successes bring it back; the worker's own ``draining`` counts at once."""
        with self._lock:
            backend = self._backends.get(url)
            if backend is None:
                return
            was = backend.status(self.clock())
            if report.ok:
                backend.probe_streak = max(0, backend.probe_streak) + 1
                if not backend.reachable and backend.probe_streak >= self.health.rise:
                    backend.reachable = True
                backend.worker_draining = report.draining
                if report.models is not None:
                    backend.models = report.models or None  # an empty list says nothing useful (Ollama down?)
                backend.queue_size = report.queue_size
                backend.active = report.active
                if report.slots is not None:
                    backend.reported_slots = report.slots
            else:
                backend.probe_streak = min(0, backend.probe_streak) - 1
                backend.last_error = report.error or "health check failed"
                if backend.reachable and -backend.probe_streak >= self.health.fall:
                    backend.reachable = False
                    backend.active = False
            now_status = backend.status(self.clock())
            self._dispatch_locked()
        if was is not now_status:
            log.info("backend %s %s%s", url, now_status.value, "" if report.ok else f": {report.error}")

    def set_draining(self, url: str, draining: bool = True) -> None:
        """Take ``url`` out of routing without failing its running jobs (or put it back); KeyError if unknown."""
        with self._lock:
            self._backends[url].admin_draining = draining
            self._dispatch_locked()

    def worker_draining(self, url: str) -> None:
        """The worker said it is shutting down (a 503 with ``draining``): route elsewhere until it says otherwise."""
        with self._lock:
            backend = self._backends.get(url)
            if backend is not None and not backend.worker_draining:
                backend.worker_draining = True
                log.info("backend %s draining (the worker said so)", url)

    # --- outlier detection ------------------------------------------------------------------

    def record_success(self, url: str) -> None:
        """A job on ``url`` got the contract's reply: its failure streak and probation end."""
        with self._lock:
            self._completed += 1
            backend = self._backends.get(url)
            if backend is not None:  # assigned only when it changes: an assignment drops its cached snapshots
                if backend.consecutive_failures:
                    backend.consecutive_failures = 0
                if backend.probation:
                    backend.probation = False

    def record_failure(self, url: str, reason: str) -> bool:
        """A job on ``url`` failed by the backend's fault; True when this ejected it."""
        with self._lock:
            self._failed += 1
            backend = self._backends.get(url)
            if backend is None:
                return False
            now = self.clock()
            backend.consecutive_failures += 1
            backend.last_error = reason
            threshold = 1 if backend.probation else self.outliers.failures
            if backend.consecutive_failures < threshold or backend.ejected(now):
                return False
            members = [b for b in self._backends.values() if not b.removing]
            ejected_now = sum(1 for b in members if b.ejected(now))
            if (ejected_now + 1) * 100 > self.outliers.max_ejection_percent * len(members):
                log.warning(
                    "backend %s failed %d jobs in a row (%s) but is not ejected: %d of %d are ejected already "
                    "(MAX_EJECTION_PERCENT=%d)", url, backend.consecutive_failures, reason, ejected_now,
                    len(members), self.outliers.max_ejection_percent,
                )
                return False
            if backend.ejected_until is not None and now - backend.ejected_until > self.outliers.max_ejection_s:
                backend.ejections = 0  # well-behaved for long enough: forget its history
            backend.ejections += 1
            duration = self.outliers.ejection_s(backend.ejections)
            backend.ejected_until = now + duration
            backend.probation = True
            failures, backend.consecutive_failures = backend.consecutive_failures, 0
            backend.last_error = f"ejected for {duration:g}s after {failures} failed job(s) in a row: {reason}"
        log.warning("backend %s %s", url, backend.last_error)
        return True

    def tick(self) -> None:
        """Let waiting jobs take backends whose ejection has ended (called by the health loop)."""
        with self._lock:
            self._dispatch_locked()

    # --- membership ---------------------------------------------------------------------------

    def add(self, spec: BackendSpec) -> None:
        """Add a backend at run time; ValueError if it is a member already."""
        with self._lock:
            existing = self._backends.get(spec.url)
            if existing is not None and not existing.removing:
                raise ValueError(f"backend {spec.url} is already a member")
            self._add_locked(spec)
            self._dispatch_locked()
        log.info("backend %s added (slots %s, weight %d)", spec.url, spec.slots or "as reported", spec.weight)

    def remove(self, url: str) -> int:
        """Remove a backend: no new jobs go there; returns its jobs in flight, which finish. KeyError if unknown."""
        with self._lock:
            backend = self._backends.get(url)
            if backend is None or backend.removing:
                raise KeyError(url)
            in_flight = backend.in_flight
            if in_flight:
                backend.removing = True
            else:
                del self._backends[url]
                ROUTING_CHANGES[0] += 1
            self._dispatch_locked()
        log.info("backend %s removed%s", url, f"; {in_flight} job(s) in flight finish first" if in_flight else "")
        return in_flight

    def apply(self, specs: Sequence[BackendSpec]) -> tuple[list[str], list[str], list[str]]:
        """Make membership equal ``specs`` (a reloaded backends.json): (added, removed, updated) URLs."""
        wanted = {spec.url: spec for spec in specs}
        with self._lock:
            current = {url: b for url, b in self._backends.items() if not b.removing}
        added = [url for url in wanted if url not in current]
        removed = [url for url in current if url not in wanted]
        updated = [url for url in wanted if url in current and current[url].spec != wanted[url]]
        for url in removed:
            try:
                self.remove(url)
            except KeyError:
                pass  # removed meanwhile
        for url in added:
            try:
                self.add(wanted[url])
            except ValueError:
                pass  # added meanwhile
        with self._lock:
            for url in updated:
                if url in self._backends:
                    self._backends[url].spec = wanted[url]
            self._dispatch_locked()
        return added, removed, updated

    def _add_locked(self, spec: BackendSpec) -> None:
        existing = self._backends.get(spec.url)
        if existing is not None:  # re-added while its removal waited for jobs: keep its slots
            existing.spec, existing.removing = spec, False
            return
        self._backends[spec.url] = _Backend(spec, self._next_order)
        self._next_order += 1
        ROUTING_CHANGES[0] += 1

    # --- views ----------------------------------------------------------------------------

    def snapshot(self) -> PoolSnapshot:
        """A consistent copy of the pool's state."""
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> PoolSnapshot:
        now = self.clock()
        return PoolSnapshot(
            tuple(b.snapshot(now) for b in self._backends.values()), len(self._waiters), self._completed, self._failed
        )

    def waiting_signals(self) -> tuple[CancelSignal | None, ...]:
        """The cancel signal of each job waiting for a slot, in queue order (the front first)."""
        with self._lock:
            return tuple(waiter.cancel for waiter in self._waiters)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every backend the pool knows, those being removed included (they still have jobs)."""
        with self._lock:
            return tuple(self._backends)

    @property
    def total_slots(self) -> int:
        with self._lock:
            return sum(b.slots for b in self._backends.values() if not b.removing)
