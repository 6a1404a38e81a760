"""Where each job is: known by its request id, waiting at the balancer (at which place) or running.

design: the web layer opens a ``Ticket`` for every job request, under the client's
``X-Request-Id`` (or an id made here), and hands the ticket down as the job's cancel signal:
``Ticket.is_set`` forwards to the disconnect watch, so nothing below changes behaviour. The pool
keeps each waiter's signal (``BackendPool.waiting_signals``), so every lease the job waits for
carries the ticket: one for a single job, one per chunk for a split (there the fan-out wraps
it in an any-of signal, a dataclass holding it, which is looked into). A job's place is then
its first waiting lease's index in the pool's FIFO queue, 1-based: exact, not estimated. The
map of places is rebuilt at most every ``refresh_s`` however many clients poll, and finished
jobs are remembered for ``keep_done_s`` so that a last poll reads ``done`` and the status.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from balancer.state import CancelSignal
from common.tracing import REQUEST_ID_HEADER, request_id_from
from common.cooperative import short_lock

__all__ = ["REQUEST_ID_HEADER", "JobBoard", "JobView", "Ticket", "request_id_from", "ticket_in"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Ticket:
    """One job request as the board tracks it; its cancel signal for the pool and the proxy."""

    request_id: str
    path: str
    split: bool
    started: float
    gone: CancelSignal | None = None
    finished: float | None = None
    status: int | None = None
    # what travels with the job to its workers (X-Request-Id, X-Forwarded-For, Forwarded: balancer.tracing)
    forward_headers: dict[str, str] = dataclasses.field(default_factory=dict)
    queue_wait_s: float = 0.0  # seconds its leases waited for a slot at the balancer, summed (balancer.metrics)

    def __post_init__(self) -> None:
        register = getattr(self.gone, "on_set", None)
        if register is not None:  # found by a plain lookup, twice a job, rather than through __getattr__
            self.__dict__["on_set"] = register

    def is_set(self) -> bool:
        return self.gone is not None and self.gone.is_set()

    def __getattr__(self, name: str) -> Any:
        """Anything else a cancel signal offers (``wait``, ``on_set``) is the disconnect watch's own:
        the ticket stands in for it without changing what its users can do with it."""
        gone = self.__dict__.get("gone")
        if gone is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(gone, name)


@dataclass(frozen=True)
class JobView:
    """What ``GET /jobs/<id>`` says about one job."""

    request_id: str
    path: str
    split: bool
    state: str  # waiting (for a slot at the balancer), running (on a worker, or being sent), done
    position: int | None  # 1-based place of its first waiting lease; None unless waiting
    waiting_leases: int  # its leases in the queue: 1 for a waiting job, up to one per chunk for a split
    queue_length: int  # every job waiting at the balancer
    elapsed_s: float  # since the balancer received it (until it finished)
    status: int | None  # the HTTP status of its reply, once done

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def ticket_in(signal: object, depth: int = 3) -> Ticket | None:
    """The ticket ``signal`` is, or holds in a field (split mode's any-of signal); else None."""
    if isinstance(signal, Ticket):
        return signal
    if depth > 0 and dataclasses.is_dataclass(signal) and not isinstance(signal, type):
        for field in dataclasses.fields(signal):
            found = ticket_in(getattr(signal, field.name, None), depth - 1)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class _Places:
    at: float
    queue_length: int
    first: dict[Ticket, int]  # 1-based place of each waiting ticket's first lease (tickets hash by identity)
    count: dict[Ticket, int]  # each waiting ticket's leases in the queue


class JobBoard:
    """Open jobs by request id, their places in the balancer's queue, and recently finished ones."""

    def __init__(
        self,
        waiting_signals: Callable[[], Sequence[object | None]],
        *,
        keep_done_s: float = 120.0,
        max_done: int = 1000,
        refresh_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._waiting_signals = waiting_signals
        self.keep_done_s = keep_done_s
        self.max_done = max_done
        self.refresh_s = refresh_s
        self.clock = clock
        self._lock = short_lock()  # no I/O under it
        self._open: dict[str, Ticket] = {}
        self._done: dict[str, Ticket] = {}
        # design: finished tickets in the order they finished, oldest first; a ticket whose id a later
        # job took over is dropped when it reaches the front (an OrderedDict's first value cost more
        # to reach than the rest of a job's bookkeeping here)
        self._finished: deque[Ticket] = deque()
        self._places: _Places | None = None

    def open(self, request_id: str, path: str, gone: CancelSignal | None = None, *, split: bool = False) -> Ticket:
        """Start tracking a job; a later job with the same id takes the id over."""
        ticket = Ticket(request_id, path, split, self.clock(), gone)
        with self._lock:
            self._open[request_id] = ticket
            self._done.pop(request_id, None)
        return ticket

    def close(self, ticket: Ticket, status: int) -> None:
        """The job's reply is decided: remember it as done for a while."""
        now = self.clock()
        with self._lock:
            ticket.finished, ticket.status = now, status
            if self._open.get(ticket.request_id) is ticket:
                del self._open[ticket.request_id]
                self._done[ticket.request_id] = ticket
                self._finished.append(ticket)
            self._forget_old_locked(now)

    def lookup(self, request_id: str) -> JobView | None:
        """The job's state now, or None when no open or recently finished job has that id."""
        with self._lock:
            ticket = self._open.get(request_id) or self._done.get(request_id)
        if ticket is None:
            return None
        now = self.clock()
        if ticket.finished is not None:
            return JobView(ticket.request_id, ticket.path, ticket.split, "done", None, 0, self._current_places(now).queue_length,
                           round(ticket.finished - ticket.started, 3), ticket.status)
        places = self._current_places(now)
        position = places.first.get(ticket)
        return JobView(
            ticket.request_id, ticket.path, ticket.split, "running" if position is None else "waiting", position,
            places.count.get(ticket, 0), places.queue_length, round(now - ticket.started, 3), None,
        )

    def _current_places(self, now: float) -> _Places:
        places = self._places
        if places is not None and now - places.at < self.refresh_s:
            return places
        signals = self._waiting_signals()  # outside our lock: the pool takes its own
        first: dict[Ticket, int] = {}
        count: dict[Ticket, int] = {}
        for place, signal in enumerate(signals, start=1):
            ticket = ticket_in(signal)
            if ticket is None:
                continue
            first.setdefault(ticket, place)
            count[ticket] = count.get(ticket, 0) + 1
        places = _Places(now, len(signals), first, count)
        self._places = places
        return places

    def _forget_old_locked(self, now: float) -> None:
        cutoff = now - self.keep_done_s
        done, finished = self._done, self._finished
        while finished:
            oldest = finished[0]
            if done.get(oldest.request_id) is oldest:
                if len(done) <= self.max_done and (oldest.finished or 0) >= cutoff:
                    break
                del done[oldest.request_id]
            finished.popleft()
