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
    OFFLINE = "offline"
    DRAINING = "draining"


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

    @property
    def free_slots(self) -> int:
        return max(0, self.slots - self.in_flight)


@dataclass(frozen=True)
class PoolSnapshot:
    """The whole pool at one moment: backends in configured order and jobs waiting for a slot."""

    backends: tuple[BackendSnapshot, ...]
    waiting: int


@dataclass(frozen=True)
class HealthReport:
    """What one health probe learned about a backend."""

    ok: bool
    error: str | None = None
    models: tuple[str, ...] | None = None
    queue_size: int = 0
    active: bool = False
    draining: bool = False
    slots: int | None = None  # the worker's own WORKER_SLOTS, when it says
