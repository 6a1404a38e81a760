"""Aggregate /queue-status from a pool snapshot."""

from __future__ import annotations

import json

from balancer.state import PoolSnapshot, Status
from balancer.status import StatusRenderer, aggregate
from tests.balancer.test_routing import backend


def test_seed_fields_and_per_backend_entries() -> None:
    snapshot = PoolSnapshot(
        backends=(
            backend(0, in_flight=1, queue_size=3, active=True, models=("codellama:13b",)),
            backend(1, in_flight=1, queue_size=0),  # its health reply is older than our job
            backend(2, status=Status.OFFLINE, queue_size=7, active=True, last_error="connection refused"),
        ),
        waiting=4,
    )
    status = aggregate(snapshot)
    assert status["queue_size"] == 3 + 1 + 0 + 4  # an offline worker's stale queue does not count
    assert status["active"] is True
    assert status["active_backends"] == 2
    assert status["total_backends"] == 3
    assert status["online_backends"] == 2
    assert status["busy_backends"] == 2
    assert status["waiting"] == 4
    assert status["backends"][0] == {
        "url": "http://w0:5001", "status": "online", "in_flight": 1, "slots": 1, "queue_size": 3,
        "active": True, "models": ["codellama:13b"], "last_error": None,
        "consecutive_failures": 0, "ejections": 0, "ejection_remaining_s": None, "removing": False,
    }
    assert status["backends"][2]["status"] == "offline"
    assert status["backends"][2]["active"] is False
    assert status["backends"][2]["last_error"] == "connection refused"


def test_idle_farm() -> None:
    status = aggregate(PoolSnapshot((backend(0), backend(1)), 0))
    assert (status["queue_size"], status["active"], status["active_backends"], status["total_backends"]) == (0, False, 0, 2)


def test_the_rendered_text_follows_every_change_and_is_reused_otherwise() -> None:
    renderer = StatusRenderer()
    first = PoolSnapshot(backends=(backend(0, in_flight=1), backend(1)), waiting=0, completed=5)
    text = renderer.render(first)
    assert json.loads(text) == aggregate(first) and text.endswith(b"\n")
    same_state = PoolSnapshot(backends=(backend(0, in_flight=1), backend(1)), waiting=0, completed=6)
    assert renderer.render(same_state) is text  # jobs completed meanwhile: not a /queue-status field
    for changed in (PoolSnapshot(backends=(backend(0, in_flight=0), backend(1)), waiting=0),
                    PoolSnapshot(backends=(backend(0, in_flight=1), backend(1)), waiting=2),
                    PoolSnapshot(backends=(backend(0, in_flight=1), backend(1, status=Status.OFFLINE)), waiting=2),
                    PoolSnapshot(backends=(backend(0, in_flight=1), backend(1, status=Status.OFFLINE)), waiting=2,
                                 state="unreachable")):  # Redis gone, the last known backends unchanged
        assert json.loads(renderer.render(changed)) == aggregate(changed)
