"""The balancer's /metrics: what moves when jobs run, fail, retry and eject (in process, fake workers)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from balancer.client import WorkerReply, WorkerRequest
from balancer.metrics import failure_kind
from tests.balancer.conftest import FakeFarm
from tests.procs import wait_until

GENERATE = {"commands": "apt-get update\napt-get install -y nginx", "model": "codellama:13b"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: FlaskClient) -> Samples:
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_jobs_move_the_request_queue_and_job_series(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    client = make_app().test_client()
    before = scrape(client)
    assert client.post("/generate", json=GENERATE).status_code == 200
    assert client.post("/generate", json={**GENERATE, "split": True}).status_code == 200
    assert client.get("/jobs/never-sent").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    after = scrape(client)

    requests = "ansible_farm_http_requests_total"
    assert value(after, requests, endpoint="/generate", method="POST", status="200") - value(
        before, requests, endpoint="/generate", method="POST", status="200") == 2
    # the route template, never the raw path: ids and unknown paths cannot grow the label set
    assert value(after, requests, endpoint="/jobs/<request_id>", method="GET", status="404") == 1
    assert value(after, requests, endpoint="unmatched", method="GET", status="404") == 1
    assert not any("never-sent" in str(labels) or "/no/such" in str(labels) for _, labels in after)

    jobs = "ansible_farm_balancer_job_duration_seconds_count"
    assert value(after, jobs, endpoint="/generate", split="false") == 1
    assert value(after, jobs, endpoint="/generate", split="true") == 1
    assert value(after, "ansible_farm_balancer_chunk_duration_seconds_count") == 1  # two lines, CHUNK_SIZE 10: one chunk
    assert value(after, "ansible_farm_balancer_queue_wait_seconds_count") == 2  # one lease each
    assert value(after, "ansible_farm_balancer_jobs_completed_total") == 2
    assert value(after, "ansible_farm_http_request_duration_seconds_count", endpoint="/generate") == 2
    assert value(after, "ansible_farm_build_info", service="balancer") == 1


def test_backend_state_is_read_from_the_pool_at_scrape_time(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    farm[0].gate = threading.Event()
    farm[0].slots = 2
    app = make_app(max_queue=5)
    app.extensions["balancer"].health.check_once()
    client = app.test_client()
    for worker in farm.workers.values():
        worker.gate = farm[0].gate
    threads = [threading.Thread(target=lambda: app.test_client().post("/generate", json=GENERATE)) for _ in range(5)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: value(scrape(client), "ansible_farm_balancer_jobs_waiting") == 1, 10, what="one job waiting")
        samples = scrape(client)
        assert value(samples, "ansible_farm_balancer_jobs_running") == 4
        assert value(samples, "ansible_farm_backend_in_flight", backend=farm.urls[0]) == 2
        assert value(samples, "ansible_farm_backend_slots", backend=farm.urls[0]) == 2
        assert value(samples, "ansible_farm_backend_slots", backend=farm.urls[1]) == 1
        for url in farm.urls:
            assert value(samples, "ansible_farm_backend_status", backend=url, status="online") == 1
            assert value(samples, "ansible_farm_backend_status", backend=url, status="offline") == 0
    finally:
        farm.release_all()
        for thread in threads:
            thread.join(10)
    samples = scrape(client)
    assert value(samples, "ansible_farm_balancer_jobs_waiting") == 0 and value(samples, "ansible_farm_balancer_jobs_running") == 0
    assert value(samples, "ansible_farm_balancer_queue_wait_seconds_count") == 5


def test_failures_by_kind_retries_and_ejections_per_backend(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    bad, refused = farm.urls[0], farm.urls[1]
    farm[1].down = True

    def handler(request: WorkerRequest) -> WorkerReply:
        if request.url == bad and request.path == "/generate":
            return WorkerReply(200, b"<html>oops</html>", "text/html")
        return farm.handle(request)

    farm.client.handler = handler
    client = make_app(outlier_failures=2, max_ejection_percent=100).test_client()
    for _ in range(2):
        assert client.post("/generate", json=GENERATE).status_code == 200
    samples = scrape(client)
    assert value(samples, "ansible_farm_backend_failures_total", backend=bad, kind="bad_reply") == 2
    assert value(samples, "ansible_farm_backend_failures_total", backend=refused, kind="refused") >= 1
    assert value(samples, "ansible_farm_backend_ejections_total", backend=bad) == 1
    assert value(samples, "ansible_farm_backend_retries_total", backend=bad) == 2
    assert value(samples, "ansible_farm_backend_status", backend=bad, status="ejected") == 1
    assert value(samples, "ansible_farm_backend_status", backend=refused, status="offline") == 1
    assert value(samples, "ansible_farm_balancer_jobs_failed_total") == 2


def test_a_full_queue_is_counted_as_a_rejection(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    gate = threading.Event()
    for worker in farm.workers.values():
        worker.gate = gate
    app = make_app(max_queue=0)
    threads = [threading.Thread(target=lambda: app.test_client().post("/generate", json=GENERATE)) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        client = app.test_client()
        wait_until(lambda: value(scrape(client), "ansible_farm_balancer_jobs_running") == 3, 10, what="every slot busy")
        assert client.post("/generate", json=GENERATE).status_code == 503
        assert value(scrape(client), "ansible_farm_balancer_queue_rejections_total", reason="full") == 1
    finally:
        gate.set()
        for thread in threads:
            thread.join(10)


def test_each_app_counts_only_its_own_requests(make_app: Callable[..., Flask]) -> None:
    first, second = make_app().test_client(), make_app().test_client()
    first.get("/healthz")
    assert value(scrape(first), "ansible_farm_http_requests_total", endpoint="/healthz", method="GET", status="200") == 1
    assert value(scrape(second), "ansible_farm_http_requests_total", endpoint="/healthz", method="GET", status="200") == 0


def test_failure_kinds_follow_the_proxys_reasons() -> None:
    assert failure_kind("no reply within TIMEOUT=5s") == "timeout"
    assert failure_kind("HTTP 500: boom") == "bad_reply"
    assert failure_kind("HTTP 200 with text/html, not JSON") == "bad_reply"
    assert failure_kind("worker http://w:1 unreachable: connection reset") == "connection"


def test_the_request_id_and_the_clients_chain_go_to_the_worker(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    seen: list[dict[str, str]] = []

    def handler(request: WorkerRequest) -> WorkerReply:
        if request.path != "/queue-status":
            seen.append(dict(request.headers or {}))
        return farm.handle(request)

    farm.client.handler = handler
    client = make_app().test_client()
    reply = client.post("/generate", json=GENERATE, headers={
        "X-Request-Id": "trace-me-1", "X-Forwarded-For": "203.0.113.7", "Forwarded": "for=203.0.113.7;proto=https",
    }, environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert reply.status_code == 200 and reply.headers["X-Request-Id"] == "trace-me-1"
    assert seen[-1]["X-Request-Id"] == "trace-me-1"
    assert seen[-1]["X-Forwarded-For"] == "203.0.113.7, 198.51.100.2"
    assert seen[-1]["Forwarded"] == "for=203.0.113.7;proto=https, for=198.51.100.2;proto=http"

    split = client.post("/generate", json={**GENERATE, "split": True}, headers={"X-Request-Id": "a bad id\u00e9"})
    made = split.headers["X-Request-Id"]
    assert split.status_code == 200 and made != "a bad id\u00e9" and len(made) == 32
    assert seen[-1]["X-Request-Id"] == made and seen[-1]["X-Forwarded-For"] == "127.0.0.1"
