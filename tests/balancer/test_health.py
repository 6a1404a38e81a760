"""Health checks never pile up probes on a backend whose last probe still hangs."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask

from tests.balancer.conftest import FakeFarm


def test_a_hanging_probe_is_not_sent_again_until_it_ends(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    gate = threading.Event()
    farm[0].probe_gate = gate
    health = make_app(health_timeout_s=0.05).extensions["balancer"].health
    try:
        health.check_once()
        health.check_once()
        probes = [call for call in farm.client.calls if call[2] == "/queue-status"]
        assert sum(1 for call in probes if call[0] == farm.urls[0]) == 1
        assert sum(1 for call in probes if call[0] == farm.urls[1]) == 2, "the healthy backends are still probed"
    finally:
        gate.set()
