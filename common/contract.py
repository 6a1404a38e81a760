"""Values of the HTTP contract that both services share (see openapi.yaml)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

DEFAULT_MODEL = "codellama:13b"
ENGINES = ("rules", "llm", "hybrid")  # how /generate converts; see worker.service


def canonical_model(name: str) -> str:
    """``name`` with Ollama's implicit ``:latest`` tag made explicit."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def has_model(models: Iterable[str] | None, model: str | None) -> bool:
    """True when ``model`` is among ``models`` as Ollama compares names, or either is unknown."""
    if model is None or models is None:
        return True
    if type(models) is tuple:  # a backend's known models: the balancer asks this per backend per job
        return _has_model(models, model)
    wanted = canonical_model(model)
    return any(canonical_model(m) == wanted for m in models)


@lru_cache(maxsize=4096)
def _has_model(models: tuple[str, ...], model: str) -> bool:
    wanted = canonical_model(model)
    return any(canonical_model(m) == wanted for m in models)
