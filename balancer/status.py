"""The balancer's ``/queue-status``, pure: aggregate a pool snapshot; answered from memory.

Fields: the seed's ``queue_size`` (every job in the farm: running or queued on a worker, plus
waiting at the balancer), ``active`` (some job is running), ``active_backends`` (backends
running a job right now), ``total_backends``; plus ``online_backends``, ``waiting`` (queued at
the balancer) and per backend ``{url, status, in_flight, slots, queue_size, active, models,
last_error, consecutive_failures, ejections, ejection_remaining_s, removing}``; ``state`` says where
the slots and the queue live (``memory``, ``redis`` for STATE_URL, or ``unreachable``).
"""

from __future__ import annotations

import json
from typing import Any

from balancer.state import BackendSnapshot, PoolSnapshot, Status


def backend_status(b: BackendSnapshot) -> dict[str, Any]:
    """One backend's entry: live slot use plus what its last health reply said."""
    reachable = b.status is not Status.OFFLINE
    return {
        "url": b.url,
        "status": b.status.value,
        "in_flight": b.in_flight,
        "slots": b.slots,
        "queue_size": max(b.queue_size, b.in_flight) if reachable else b.in_flight,
        "active": (b.active and reachable) or b.in_flight > 0,
        "models": list(b.models) if b.models is not None else None,
        "last_error": b.last_error,
        "consecutive_failures": b.consecutive_failures,
        "ejections": b.ejections,
        "ejection_remaining_s": b.ejection_remaining_s,
        "removing": b.removing,
    }


def aggregate(snapshot: PoolSnapshot) -> dict[str, Any]:
    """The farm-wide status for ``GET /queue-status``."""
    backends = [backend_status(b) for b in snapshot.backends]
    return {
        "queue_size": sum(b["queue_size"] for b in backends) + snapshot.waiting,
        "active": any(b["active"] for b in backends),
        "active_backends": sum(1 for b in backends if b["active"]),
        "total_backends": sum(1 for b in snapshot.backends if not b.removing),
        "online_backends": sum(1 for b in snapshot.backends if b.status is Status.ONLINE),
        "busy_backends": sum(1 for b in snapshot.backends if b.in_flight >= b.slots),
        "in_flight": sum(b.in_flight for b in snapshot.backends),
        "waiting": snapshot.waiting,
        "state": snapshot.state,
        "backends": backends,
    }


class StatusRenderer:
    """``/queue-status``'s JSON text (as Flask's ``jsonify`` writes it) for a pool snapshot.

    design: with 50 backends, building the reply's dicts and encoding them cost more than taking
    the snapshot (0.17 + 0.30 ms against 0.37 ms); between health rounds and job hand-offs the
    backends' state rarely changes from one call to the next. The last text is kept with the
    state it was made from, and given again while a new snapshot's backends and queue length
    and the store's state compare equal (snapshots are immutable values: 0.05 ms for 50 backends).
    """

    def __init__(self) -> None:
        self._last: tuple[tuple[tuple[BackendSnapshot, ...], int, str], bytes] | None = None

    def render(self, snapshot: PoolSnapshot) -> bytes:
        key = (snapshot.backends, snapshot.waiting, snapshot.state)  # everything ``aggregate`` reads
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        text = (json.dumps(aggregate(snapshot), separators=(",", ":")) + "\n").encode("ascii")
        self._last = (key, text)
        return text
