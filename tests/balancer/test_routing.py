"""Routing policy: a pure choice over snapshots."""

from __future__ import annotations

from dataclasses import replace

from balancer.routing import choose, model_known_missing
from common.contract import canonical_model, has_model
from balancer.state import BackendSnapshot, Status


def backend(order: int, **changes: object) -> BackendSnapshot:
    base = BackendSnapshot(url=f"http://w{order}:5001", order=order, slots=1, weight=1, in_flight=0,
                           status=Status.ONLINE, models=None, queue_size=0, active=False, last_error=None)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_first_free_backend_in_configured_order() -> None:
    backends = [backend(0, in_flight=1), backend(1), backend(2)]
    assert choose(backends, "codellama:13b").url == "http://w1:5001"  # type: ignore[union-attr]


def test_ties_broken_by_fewest_in_flight_then_weight() -> None:
    backends = [backend(0, slots=4, in_flight=2), backend(1, slots=4, in_flight=1), backend(2, slots=4, in_flight=1, weight=3)]
    assert choose(backends, None).url == "http://w2:5001"  # type: ignore[union-attr]


def test_offline_draining_full_and_excluded_backends_are_skipped() -> None:
    backends = [backend(0, status=Status.OFFLINE), backend(1, status=Status.DRAINING), backend(2, in_flight=1),
                backend(3), backend(4)]
    assert choose(backends, None, frozenset({"http://w3:5001"})).url == "http://w4:5001"  # type: ignore[union-attr]
    assert choose(backends[:3], None) is None


def test_only_backends_with_the_model_when_their_list_is_known() -> None:
    backends = [backend(0, models=("llama3:8b",)), backend(1, models=("codellama:13b",)), backend(2)]
    assert choose(backends, "codellama:13b").url == "http://w1:5001"  # type: ignore[union-attr]
    assert choose(backends, "mistral").url == "http://w2:5001"  # unknown list: may have it  # type: ignore[union-attr]
    assert choose(backends[:2], "mistral") is None


def test_model_names_compare_like_ollama() -> None:
    assert canonical_model("codellama") == "codellama:latest"
    assert canonical_model("registry.local:5000/team/model") == "registry.local:5000/team/model:latest"
    assert has_model(("codellama:latest",), "codellama")
    assert not has_model(("codellama:7b",), "codellama")


def test_model_known_missing_only_when_every_list_is_known() -> None:
    assert model_known_missing([backend(0, models=("a:1",)), backend(1, models=("b:1",))], "c:1")
    assert not model_known_missing([backend(0, models=("a:1",)), backend(1)], "c:1")
    assert not model_known_missing([backend(0, models=("c:1",))], "c:1")
