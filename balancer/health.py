"""Background health checks: probe every backend's ``/queue-status`` in parallel, at an interval.

Probes run on their own small thread pool with a short timeout, and the pool's lock is taken
only to record each result, never during I/O; so a backend that accepts connections and never
answers slows nothing but its own probe. Each result goes to the pool, which applies the
rise/fall hysteresis (HEALTH_RISE good probes bring a backend online, HEALTH_FALL failed ones
take it offline) and records its models, queue and own ``status`` (``draining``). A probe
still hanging from an earlier round counts as a failed probe each round, without piling up. A
worker whose TLS certificate does not verify is taken offline at the first probe, not the
HEALTH_FALL-th: it is not one of ours, and no request is ever sent to it.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from balancer.client import BackendUnreachable, WorkerClient, WorkerRequest
from balancer.pool import BackendPool
from balancer.state import HealthReport
from common.errors import ApiError

log = logging.getLogger(__name__)


def parse_queue_status(body: Any) -> HealthReport:
    """A HealthReport from a worker's ``/queue-status`` JSON; a malformed one is a failure."""
    if not isinstance(body, dict):
        return HealthReport(ok=False, error="/queue-status did not return a JSON object")
    models = body.get("models")
    if isinstance(models, list) and all(isinstance(m, str) for m in models):
        known: tuple[str, ...] | None = tuple(models)
    else:
        known = None
    queue_size = body.get("queue_size", 0)
    slots = body.get("slots")
    if not (isinstance(slots, int) and _is_count(slots) and slots >= 1):
        slots = None
    return HealthReport(
        ok=True,
        models=known,
        queue_size=queue_size if _is_count(queue_size) else 0,
        active=bool(body.get("active", False)),
        draining=body.get("status") == "draining" or body.get("draining") is True,
        slots=slots,
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class HealthMonitor:
    """Probes every backend every ``interval_s``; ``check_once`` runs one round synchronously."""

    def __init__(self, pool: BackendPool, client: WorkerClient, *, interval_s: float, timeout_s: float) -> None:
        self.pool = pool
        self.client = client
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._owner_pid: int | None = None
        self._start_lock = threading.Lock()
        self._probes: ThreadPoolExecutor | None = None
        self._pending: dict[str, Future[HealthReport]] = {}  # the last probe of each backend

    def probe(self, url: str) -> HealthReport:
        """One backend's health, never raising."""
        try:
            reply = self.client.send(WorkerRequest(url, "GET", "/queue-status", self.timeout_s))
        except BackendUnreachable as exc:
            if exc.untrusted:  # not our worker, whatever it answers: never route there
                self.pool.mark_offline(url, exc.message)
            return HealthReport(ok=False, error=exc.message)
        except ApiError as exc:
            return HealthReport(ok=False, error=exc.message)
        except Exception as exc:  # a probe must never kill the monitor
            log.error("health probe of %s failed unexpectedly", url, exc_info=exc)
            return HealthReport(ok=False, error=f"probe failed: {type(exc).__name__}")
        if reply.status != 200:
            return HealthReport(ok=False, error=f"/queue-status answered HTTP {reply.status}")
        try:
            body = reply.json()
        except ValueError:
            return HealthReport(ok=False, error="/queue-status did not return JSON")
        return parse_queue_status(body)

    def check_once(self) -> None:
        """Probe all backends in parallel and record the results; returns after at most ~timeout."""
        if self._probes is None:
            self._probes = ThreadPoolExecutor(max_workers=64, thread_name_prefix="health")
        futures = {}
        for url in self.pool.urls:
            pending = self._pending.get(url)
            if pending is not None and not pending.done():  # the last probe still hangs: never pile probes up
                self.pool.report_health(url, HealthReport(ok=False, error=f"health check got no answer within {self.timeout_s:g}s"))
                continue
            self._pending[url] = future = self._probes.submit(self.probe, url)
            futures[future] = url
        done, _ = wait(futures, timeout=self.timeout_s + 1.0)
        for future in done:
            self.pool.report_health(futures[future], future.result())
        for future in set(futures) - done:
            self.pool.report_health(futures[future], HealthReport(ok=False, error=f"health check got no answer within {self.timeout_s:g}s"))
        self.pool.tick()

    def ensure_started(self) -> None:
        """Start the background loop once per process (gunicorn forks after the app is built)."""
        if self.interval_s <= 0:
            return
        pid = os.getpid()
        if self._owner_pid == pid:
            return
        with self._start_lock:
            if self._owner_pid == pid:
                return
            self._owner_pid = pid
            self._stop.clear()
            self._probes = None  # executors do not survive a fork
            self._pending = {}
            self._thread = threading.Thread(target=self._run, name="health-monitor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 2.0)
        if self._probes is not None:
            self._probes.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        log.info("health checks every %gs of %d backends", self.interval_s, len(self.pool.urls))
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception as exc:
                log.error("health round failed", exc_info=exc)
            self._stop.wait(self.interval_s)
