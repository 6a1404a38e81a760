"""The worker's job queue: at most ``slots`` LLM jobs run, the rest wait in FIFO order.

design: one Condition guards the whole state (running tickets + a deque of waiting ones).
A waiter proceeds only when it is at the head of the deque AND a slot is free, so order is
strict FIFO even when a slot frees while many threads are waiting. Waiters wake at least
every ``poll_s`` to notice that their client left (``cancel``) or that they waited too long;
either removes them from the deque and wakes the others, so a gone client never holds a
place. ``slot()`` is a context manager: the slot is given back in ``finally`` whatever the
job does.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from common.errors import ClientGone, QueueFull, QueueTimeout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobInfo:
    """What a job is, for status displays."""

    id: int
    kind: str  # generate | explain | generate-code | explain-code
    model: str
    enqueued_at: float


@dataclass(frozen=True)
class Ticket:
    """Handed to a job once it holds a slot."""

    job: JobInfo
    queue_position: int  # jobs ahead of it when it arrived (0: it ran at once)
    waited_s: float


@dataclass(frozen=True)
class QueueSnapshot:
    """A consistent copy of the queue's state."""

    slots: int
    running: tuple[JobInfo, ...]
    waiting: tuple[JobInfo, ...]

    @property
    def queue_size(self) -> int:
        return len(self.running) + len(self.waiting)

    @property
    def active(self) -> bool:
        return bool(self.running)


class JobQueue:
    """FIFO admission to a fixed number of slots, bounded, cancellable."""

    def __init__(self, slots: int, max_queue: int, *, timeout_s: float = 3600.0, poll_s: float = 0.25) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self._slots = slots
        self._max_queue = max_queue
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._cond = threading.Condition()
        self._running: dict[int, JobInfo] = {}
        self._waiting: deque[JobInfo] = deque()
        self._ids = itertools.count(1)

    @contextmanager
    def slot(self, kind: str, model: str, cancel: threading.Event | None = None) -> Iterator[Ticket]:
        """Wait for a slot in arrival order; run the body holding it; always give it back."""
        ticket = self._admit(kind, model, cancel)
        try:
            yield ticket
        finally:
            with self._cond:
                self._running.pop(ticket.job.id, None)
                self._cond.notify_all()

    def snapshot(self) -> QueueSnapshot:
        with self._cond:
            return QueueSnapshot(self._slots, tuple(self._running.values()), tuple(self._waiting))

    def _admit(self, kind: str, model: str, cancel: threading.Event | None) -> Ticket:
        arrived = time.monotonic()
        with self._cond:
            job = JobInfo(next(self._ids), kind, model, time.time())
            if not self._waiting and len(self._running) < self._slots:
                self._running[job.id] = job
                return Ticket(job, 0, 0.0)
            if len(self._waiting) >= self._max_queue:
                raise QueueFull(
                    f"worker queue is full ({len(self._waiting)} jobs waiting, {self._slots} running); retry later",
                    retry_after_s=self._retry_after_s(),
                )
            position = len(self._waiting) + len(self._running) - self._slots + 1
            self._waiting.append(job)
            deadline = arrived + self._timeout_s
            try:
                while not (self._waiting[0] is job and len(self._running) < self._slots):
                    if cancel is not None and cancel.is_set():
                        raise ClientGone("client disconnected while its job waited; job dropped")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise QueueTimeout(
                            f"job waited {self._timeout_s:.0f}s for a free slot; retry later",
                            retry_after_s=self._retry_after_s(),
                        )
                    self._cond.wait(min(self._poll_s, remaining))
            except BaseException:
                self._waiting.remove(job)
                self._cond.notify_all()
                raise
            self._waiting.popleft()
            self._running[job.id] = job
            self._cond.notify_all()
            return Ticket(job, position, time.monotonic() - arrived)

    def _retry_after_s(self) -> int:
        return max(1, min(60, 5 * (len(self._waiting) // self._slots + 1)))
