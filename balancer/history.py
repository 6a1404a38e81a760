"""A short history of the pool for the status page's chart: a ring buffer of snapshots' numbers.

design: one sample a second (``interval_s``) of the pool's snapshot — jobs waiting at the
balancer, jobs in flight, slots, online backends, and the pool's running totals of completed
and failed jobs — kept for ``capacity`` samples (10 minutes), the oldest dropped first. The
sampler is one background thread (a greenlet under gevent) started with the health checks; an
app without them (tests, HEALTH_INTERVAL=0) samples when the history is read. A read always ends
with a sample of this moment, so the totals it reports are never an interval old. Jobs per minute
is derived, not counted twice: the completed total's growth over the trailing minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from balancer.state import PoolSnapshot, Status

log = logging.getLogger(__name__)

RATE_WINDOW_S = 60.0


@dataclass(frozen=True)
class Sample:
    """The pool's numbers at one moment."""

    at: float  # Unix time, seconds
    waiting: int  # jobs waiting for a slot at the balancer (the queue depth)
    in_flight: int  # jobs running on workers
    slots: int  # slots of the backends that take jobs now (online)
    online: int  # backends online
    completed: int  # running total: jobs that got a final reply from a worker
    failed: int  # running total: jobs that failed by a backend's fault

    @classmethod
    def of(cls, snapshot: PoolSnapshot, at: float) -> Sample:
        online = [b for b in snapshot.backends if b.status is Status.ONLINE]
        return cls(
            at=round(at, 3),
            waiting=snapshot.waiting,
            in_flight=sum(b.in_flight for b in snapshot.backends),
            slots=sum(b.slots for b in online),
            online=len(online),
            completed=snapshot.completed,
            failed=snapshot.failed,
        )


def jobs_per_minute(samples: list[Sample], window_s: float = RATE_WINDOW_S) -> list[float]:
    """For each sample, the jobs completed in the minute before it (the oldest sample in that
    minute is the baseline; a history shorter than a minute counts what it has, never extrapolates)."""
    rates: list[float] = []
    start = 0
    for sample in samples:
        while samples[start].at < sample.at - window_s:
            start += 1
        rates.append(float(sample.completed - samples[start].completed) * 60.0 / window_s)
    return rates


class History:
    """A ring buffer of ``Sample``s of one pool."""

    def __init__(
        self,
        snapshot: Callable[[], PoolSnapshot],
        *,
        interval_s: float = 1.0,
        capacity: int = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._snapshot = snapshot
        self.interval_s = interval_s
        self.capacity = capacity
        self.clock = clock
        self._samples: deque[Sample] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def record(self) -> Sample:
        """Take a sample now."""
        sample = Sample.of(self._snapshot(), self.clock())
        with self._lock:
            self._samples.append(sample)
        return sample

    def samples(self) -> list[Sample]:
        """Every kept sample, oldest first, ending with one taken now (kept only when the newest
        kept one is an interval old, so readers never add more than the sampler would)."""
        now = Sample.of(self._snapshot(), self.clock())
        with self._lock:
            if not self._samples or now.at - self._samples[-1].at >= self.interval_s:
                self._samples.append(now)
                return list(self._samples)
            return [*self._samples, now]

    def to_json(self) -> dict[str, Any]:
        """The history as ``GET /status/history`` answers it."""
        samples = self.samples()
        rates = jobs_per_minute(samples)
        newest = samples[-1]
        return {
            "interval_s": self.interval_s,
            "capacity": self.capacity,
            "rate_window_s": RATE_WINDOW_S,
            "now": newest.at,
            "completed": newest.completed,
            "failed": newest.failed,
            "jobs_per_minute": rates[-1],
            "samples": [
                {"at": s.at, "waiting": s.waiting, "in_flight": s.in_flight, "slots": s.slots, "online": s.online,
                 "completed": s.completed, "failed": s.failed, "jobs_per_minute": rate}
                for s, rate in zip(samples, rates)
            ],
        }

    def ensure_started(self) -> None:
        """Start sampling in the background (once)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="status-history", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.record()
            except Exception:  # never let one bad sample end the history
                log.exception("status history: sampling failed")
            self._stop.wait(self.interval_s)
