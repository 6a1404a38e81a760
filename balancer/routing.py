"""Routing policy, pure: pick a backend from a snapshot; no locks, no I/O.

A backend is usable when it is online, has a free slot, is not excluded (already tried for
this job) and has the requested model when its model list is known. Among usable backends the
one with the fewest jobs in flight wins, then the higher weight, then configured order.
Model names compare as Ollama does: ``codellama`` means ``codellama:latest``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from balancer.state import BackendSnapshot, Status
from common.contract import has_model


def model_known_missing(backends: Iterable[BackendSnapshot], model: str) -> bool:
    """True when every backend's model list is known and none has ``model``."""
    backends = list(backends)
    return bool(backends) and all(b.models is not None and not has_model(b.models, model) for b in backends)


def usable(backend: BackendSnapshot, model: str | None, exclude: frozenset[str] = frozenset()) -> bool:
    """Whether a job for ``model`` may go to ``backend`` right now."""
    return (
        backend.status is Status.ONLINE
        and backend.url not in exclude
        and backend.in_flight < backend.slots
        and has_model(backend.models, model)
    )


def choose(
    backends: Sequence[BackendSnapshot], model: str | None, exclude: frozenset[str] = frozenset()
) -> BackendSnapshot | None:
    """The backend the next job for ``model`` should go to, or None when none is usable."""
    candidates = [b for b in backends if usable(b, model, exclude)]
    if not candidates:
        return None
    return min(candidates, key=lambda b: (b.in_flight, -b.weight, b.order))
