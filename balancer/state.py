"""Values describing the pool's state: what callers get instead of the live records."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class CancelSignal(Protocol):
    """Anything that says a job is no longer wanted (a ``threading.Event``, for one)."""

    def is_set(self) -> bool: ...


class Status(str, Enum):
    """A backend's routing status."""

    ONLINE = "online"
    OFFLINE = "offline"  # failed its health checks (HEALTH_FALL in a row) or refused a connection
    DRAINING = "draining"  # the worker is shutting down, or an admin drains or removes it
    EJECTED = "ejected"  # its jobs failed OUTLIER_FAILURES times in a row; back after the ejection time


@dataclass(frozen=True)
class BackendSnapshot:
    """One backend as the pool sees it at one moment."""

    url: str
    order: int
    slots: int
    weight: int
    in_flight: int
    status: Status
    models: tuple[str, ...] | None  # None: not known yet (no health reply, or the worker listed none)
    queue_size: int  # the worker's own queue_size from its last health reply
    active: bool  # the worker's own `active` from its last health reply
    last_error: str | None
    consecutive_failures: int = 0  # jobs failed in a row (outlier detection)
    ejections: int = 0  # times ejected (each doubles the next ejection's length)
    ejection_remaining_s: float | None = None  # seconds until an ejected backend comes back
    removing: bool = False  # removed from membership; kept until its jobs in flight finish

    @property
    def free_slots(self) -> int:
        return max(0, self.slots - self.in_flight)


@dataclass(frozen=True)
class PoolSnapshot:
    """The whole pool at one moment: backends in configured order and jobs waiting for a slot."""

    backends: tuple[BackendSnapshot, ...]
    waiting: int
    completed: int = 0  # jobs (a split's chunks one each) that got their final reply from a worker, since start
    failed: int = 0  # jobs that failed by a backend's fault (each counts toward its ejection), since start
    state: str = "memory"  # where slots and the queue live: memory, redis (STATE_URL) or unreachable


@dataclass(frozen=True)
class HealthReport:
    """What one health probe learned about a backend."""

    ok: bool
    error: str | None = None
    models: tuple[str, ...] | None = None
    queue_size: int = 0
    active: bool = False
    draining: bool = False  # the worker says it is shutting down (``status: draining``)
    slots: int | None = None  # the worker's own WORKER_SLOTS, when it says


@dataclass(frozen=True)
class OutlierPolicy:
    """Envoy-style outlier detection: eject a backend whose jobs keep failing.

    ``failures`` consecutive failures eject it for ``base_ejection_s`` doubled per earlier
    ejection (capped at ``max_ejection_s``); it then returns on probation, where one more
    failure ejects it again. At most ``max_ejection_percent`` of the backends are ejected at
    once. A backend that stays un-ejected for ``max_ejection_s`` has its history forgotten.
    """

    failures: int = 3
    base_ejection_s: float = 30.0
    max_ejection_s: float = 600.0
    max_ejection_percent: int = 50

    def ejection_s(self, ejections: int) -> float:
        """How long the ``ejections``-th ejection (1-based) lasts."""
        return float(min(self.max_ejection_s, self.base_ejection_s * 2 ** max(0, ejections - 1)))


@dataclass(frozen=True)
class HealthPolicy:
    """HAProxy-style hysteresis: ``rise`` good probes bring a backend online, ``fall`` bad ones take it offline."""

    rise: int = 2
    fall: int = 3
