"""The status page's history: a ring buffer of pool samples, and the pool's job totals behind it."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from balancer.history import History, Sample, jobs_per_minute
from balancer.pool import BackendPool
from balancer.settings import BackendSpec
from balancer.state import PoolSnapshot, Status
from tests.balancer.conftest import FakeFarm
from tests.balancer.test_routing import backend


def sample(at: float, completed: int, waiting: int = 0) -> Sample:
    return Sample(at=at, waiting=waiting, in_flight=0, slots=1, online=1, completed=completed, failed=0)


def test_jobs_per_minute_is_the_completed_totals_growth_over_the_trailing_minute() -> None:
    samples = [sample(0, 0), sample(30, 10), sample(60, 30), sample(90, 30), sample(150, 30)]
    # at 30: 10 so far (never extrapolated from half a minute); at 60: 30; at 90: 20 since 30; at 150: none since 90
    assert jobs_per_minute(samples) == [0.0, 10.0, 30.0, 20.0, 0.0]
    assert jobs_per_minute([]) == []


def test_a_sample_counts_what_the_snapshot_says() -> None:
    snapshot = PoolSnapshot(
        (backend(0, in_flight=1, slots=2), backend(1, status=Status.OFFLINE, in_flight=1, slots=4), backend(2, slots=1)),
        waiting=5, completed=7, failed=2,
    )
    assert Sample.of(snapshot, 12.34567) == Sample(at=12.346, waiting=5, in_flight=2, slots=3, online=2, completed=7, failed=2)


def test_the_ring_keeps_the_newest_capacity_samples_and_reads_take_one_when_stale() -> None:
    now = [1000.0]
    waiting = [0]
    history = History(lambda: PoolSnapshot((backend(0),), waiting[0]), interval_s=1.0, capacity=3, clock=lambda: now[0])
    for n in range(5):
        waiting[0] = n
        history.record()
        now[0] += 1
    assert [s.waiting for s in history.samples()] == [3, 4, 4]  # the last second passed: one more sample kept
    now[0] += 0.5
    waiting[0] = 9
    assert [(s.at, s.waiting) for s in history.samples()] == [(1003, 3), (1004, 4), (1005, 4), (1005.5, 9)]
    assert [s.at for s in history.samples()] == [1003, 1004, 1005, 1005.5]  # this moment's sample is not kept
    body = history.to_json()
    assert (body["interval_s"], body["capacity"], body["now"], body["completed"]) == (1.0, 3, 1005.5, 0)
    assert [s["at"] for s in body["samples"]] == [1003.0, 1004.0, 1005.0, 1005.5]
    assert set(body["samples"][0]) == {"at", "waiting", "in_flight", "slots", "online", "completed", "failed",
                                       "jobs_per_minute"}


def test_the_pool_counts_completed_and_failed_jobs() -> None:
    pool = BackendPool([BackendSpec("http://a:5001"), BackendSpec("http://b:5001")])
    pool.record_success("http://a:5001")
    pool.record_success("http://gone:5001")  # a backend removed meanwhile: the job still completed
    pool.record_failure("http://b:5001", "HTTP 500")
    snapshot = pool.snapshot()
    assert (snapshot.completed, snapshot.failed) == (2, 1)


def test_status_history_moves_when_jobs_complete(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    app = make_app()
    client = app.test_client()
    before = client.get("/status/history").json
    assert before["completed"] == 0 and before["samples"][-1]["online"] == 3
    for _ in range(4):
        assert client.post("/explain", json={"playbook": "- hosts: all"}).status_code == 200
    after = client.get("/status/history").json  # at once: the reply ends with this moment's sample
    assert after["completed"] == 4 and after["jobs_per_minute"] > 0
    assert after["samples"][-1]["completed"] == 4


def test_the_status_page_is_served_without_outside_assets(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for path in ("/status", "/"):
        page = client.get(path)
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        text = page.get_data(as_text=True)
        assert "http://" not in text and "https://" not in text and "//cdn" not in text  # nothing from elsewhere
