"""Balancer routes over fake workers: input checks, pass-through, X-Backend, retries, queueing."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import pytest
from flask import Flask

from balancer.client import WorkerReply, WorkerRequest
from common.errors import UpstreamTimeout
from tests.balancer.conftest import FakeFarm, wait_waiting
from tests.procs import wait_until

GENERATE = {"commands": "apt-get update\napt-get install -y nginx", "model": "codellama:13b"}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/generate", {}, "missing field 'commands'"),
        ("/generate", {"commands": "  "}, "field 'commands' is empty"),
        ("/generate", {"commands": 3}, "must be a string"),
        ("/generate", {"commands": "ls", "model": 7}, "field 'model' must be a string"),
        ("/generate", {"commands": "ls", "engine": "magic"}, "field 'engine' must be one of"),
        ("/generate", {"commands": "ls", "split": "maybe"}, "field 'split' must be true or false"),
        ("/generate", [1], "must be a JSON object"),
        ("/explain", {"model": "codellama:13b"}, "missing field 'playbook'"),
        ("/generate-code", {"description": ""}, "field 'description' is empty"),
        ("/explain-code", {}, "missing field 'code'"),
    ],
)
def test_bad_input_is_400_json_before_any_forwarding(
    make_app: Callable[..., Flask], farm: FakeFarm, path: str, body: object, message: str
) -> None:
    response = make_app().test_client().post(path, json=body)
    assert response.status_code == 400 and message in response.json["error"]
    assert farm.job_calls() == []


def test_not_json_and_not_utf8_are_400(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    client = make_app().test_client()
    assert client.post("/generate", data="{oops", content_type="application/json").status_code == 400
    response = client.post("/upload", data={"file": (io.BytesIO(b"echo \xff\xfe"), "s.sh")})
    assert response.status_code == 400 and "not UTF-8" in response.json["error"]
    response = client.post("/upload", data={"model": "codellama:13b"})
    assert response.status_code == 400 and "missing file" in response.json["error"]
    assert farm.job_calls() == []


def test_body_over_the_limit_is_413_json(make_app: Callable[..., Flask]) -> None:
    response = make_app(max_content_length=1024).test_client().post("/generate", json={"commands": "x" * 2000})
    assert response.status_code == 413 and "error" in response.json


@pytest.mark.parametrize("path,field", [("/generate", "commands"), ("/explain", "playbook"),
                                        ("/generate-code", "description"), ("/explain-code", "code")])
def test_every_endpoint_is_forwarded_with_x_backend(
    make_app: Callable[..., Flask], farm: FakeFarm, path: str, field: str
) -> None:
    response = make_app().test_client().post(path, json={field: "ls -l"})
    assert response.status_code == 200
    assert response.headers["X-Backend"] == farm.urls[0]
    assert farm[0].jobs[0]["path"] == path
    assert farm[0].jobs[0]["json"] == {field: "ls -l", "model": "codellama:13b"}  # default model made explicit


def test_upload_is_forwarded_as_multipart(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    response = make_app().test_client().post(
        "/upload", data={"file": (io.BytesIO(b"apt-get update\n"), "setup.sh"), "model": "codellama:13b"})
    assert response.status_code == 200 and "apt-get update" in response.json["playbook"]
    job = farm[0].jobs[0]
    assert job["path"] == "/upload" and job["files"]["file"][:2] == ("setup.sh", b"apt-get update\n")
    assert job["data"] == {"model": "codellama:13b"}


@pytest.mark.parametrize("status", [400, 404, 413])
def test_worker_client_errors_pass_through_unchanged(make_app: Callable[..., Flask], farm: FakeFarm, status: int) -> None:
    farm[0].status = status
    response = make_app().test_client().post("/generate", json=GENERATE)
    assert response.status_code == status
    assert response.json == {"error": f"fake failure {status}"}
    assert response.headers["X-Backend"] == farm.urls[0]
    assert len(farm.job_calls()) == 1  # never retried: another worker would say the same


def test_connection_failure_is_retried_on_another_backend_and_marked_offline(
    make_app: Callable[..., Flask], farm: FakeFarm
) -> None:
    farm[0].down = True
    app = make_app()
    response = app.test_client().post("/generate", json=GENERATE)
    assert response.status_code == 200 and response.headers["X-Backend"] == farm.urls[1]
    status = app.test_client().get("/queue-status").json
    assert status["backends"][0]["status"] == "offline"
    assert "connection refused" in status["backends"][0]["last_error"]
    assert status["backends"][1]["status"] == "online"


def test_5xx_is_retried_elsewhere_but_504_is_not(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    farm[0].status = 503
    app = make_app()
    response = app.test_client().post("/generate", json=GENERATE)
    assert response.status_code == 200 and response.headers["X-Backend"] == farm.urls[1]
    farm[0].status, farm[1].status = 504, 504
    response = app.test_client().post("/generate", json=GENERATE)
    assert response.status_code == 504 and response.headers["X-Backend"] == farm.urls[0]
    assert app.test_client().get("/queue-status").json["backends"][0]["status"] == "online"  # it answered


def test_retries_are_bounded_and_the_last_worker_error_comes_back(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    for worker in farm.workers.values():
        worker.status = 503
    response = make_app(retries=1).test_client().post("/generate", json=GENERATE)
    assert response.status_code == 503 and response.json == {"error": "fake failure 503"}
    assert len(farm.job_calls()) == 2


def test_a_502_is_final_the_model_ran_and_failed(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    farm[0].status = 502
    response = make_app().test_client().post("/generate", json=GENERATE)
    assert response.status_code == 502 and response.headers["X-Backend"] == farm.urls[0]
    assert len(farm.job_calls()) == 1, "a full generation is not repeated on every worker"


def test_every_worker_down_is_503_with_retry_after(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    for worker in farm.workers.values():
        worker.down = True
    response = make_app().test_client().post("/generate", json=GENERATE)
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    assert "connection refused" in response.json["error"]


@pytest.mark.parametrize(("path", "body"), [("/generate", {**GENERATE, "engine": "llm"}), ("/explain", {"playbook": "- hosts: all"})])
def test_model_nobody_has_is_404_without_forwarding(
    make_app: Callable[..., Flask], farm: FakeFarm, path: str, body: dict[str, str]
) -> None:
    app = make_app()
    app.extensions["balancer"].health.check_once()
    response = app.test_client().post(path, json={**body, "model": "llama9:70b"})
    assert response.status_code == 404 and "llama9:70b" in response.json["error"]
    assert farm.job_calls() == []


@pytest.mark.parametrize("engine", [None, "hybrid", "rules"])
def test_a_conversion_that_may_need_no_model_goes_to_a_worker_when_none_has_it(
    make_app: Callable[..., Flask], farm: FakeFarm, engine: str | None
) -> None:
    """The rules engine needs no model, nor hybrid for a script the rules cover: the worker decides (README's first curl)."""
    app = make_app()
    app.extensions["balancer"].health.check_once()
    body = {**GENERATE, "model": "llama9:70b", **({"engine": engine} if engine else {})}
    response = app.test_client().post("/generate", json=body)
    assert response.status_code == 200, response.json
    assert len(farm.job_calls()) == 1


def post_in_thread(app: Flask, path: str, body: dict[str, object], results: list[int]) -> threading.Thread:
    def run() -> None:
        results.append(app.test_client().post(path, json=body).status_code)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_busy_farm_queues_instead_of_503_and_status_shows_it(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    gate = threading.Event()
    for worker in farm.workers.values():
        worker.gate = gate
    app = make_app()
    results: list[int] = []
    threads = [post_in_thread(app, "/generate", GENERATE, results) for _ in range(7)]
    wait_waiting(app, 4)
    status = app.test_client().get("/queue-status").json
    assert status["waiting"] == 4 and status["active"] is True
    assert status["active_backends"] == 3 and status["busy_backends"] == 3
    assert status["queue_size"] == 7
    assert [b["in_flight"] for b in status["backends"]] == [1, 1, 1]
    gate.set()
    for thread in threads:
        thread.join(10)
    assert results == [200] * 7
    assert max(w.max_running for w in farm.workers.values()) == 1


def test_max_queue_zero_is_503_at_once_when_all_busy(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    gate = threading.Event()
    for worker in farm.workers.values():
        worker.gate = gate
    app = make_app(max_queue=0)
    results: list[int] = []
    threads = [post_in_thread(app, "/generate", GENERATE, results) for _ in range(3)]
    wait_until(lambda: all(w.running for w in farm.workers.values()), 10, 0.005, what="three running jobs")
    response = app.test_client().post("/generate", json=GENERATE)
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    assert "queue is full" in response.json["error"]
    gate.set()
    for thread in threads:
        thread.join(10)
    assert results == [200] * 3


def test_queue_status_answers_while_a_probe_hangs(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    farm[2].probe_gate = threading.Event()
    app = make_app(health_timeout_s=0.2)
    health = app.extensions["balancer"].health
    round_done = threading.Event()
    threading.Thread(target=lambda: (health.check_once(), round_done.set()), daemon=True).start()
    assert app.test_client().get("/queue-status").status_code == 200  # from memory, while the probe hangs
    assert round_done.wait(5)
    assert app.test_client().get("/queue-status").json["backends"][2]["status"] == "online"  # one failure: not yet
    health.check_once()  # the hung probe is not repeated, but each round it still hangs counts (HEALTH_FALL=3)
    health.check_once()
    status = app.test_client().get("/queue-status").json
    assert [b["status"] for b in status["backends"]] == ["online", "online", "offline"]
    assert "no answer" in status["backends"][2]["last_error"]
    assert status["backends"][0]["models"] == ["codellama:13b"]


def test_health_check_marks_offline_and_back_online(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    app = make_app()
    health = app.extensions["balancer"].health
    farm[1].down = True

    def status_after(rounds: int) -> str:
        for _ in range(rounds):
            health.check_once()
        return str(app.test_client().get("/queue-status").json["backends"][1]["status"])

    assert [status_after(1), status_after(1), status_after(1)] == ["online", "online", "offline"]  # HEALTH_FALL=3
    farm[1].down = False
    assert [status_after(1), status_after(1)] == ["offline", "online"]  # HEALTH_RISE=2


def test_root_serves_the_web_ui_and_healthz_answers(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    page = client.get("/")
    assert page.status_code == 200 and b"<html" in page.data.lower()
    assert client.get("/healthz").json["status"] == "ok"
    missing = client.get("/nope")
    assert missing.status_code == 404 and "error" in missing.json


def test_a_worker_that_times_out_is_a_504_naming_it_in_x_backend(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    def too_slow(request: WorkerRequest) -> WorkerReply:
        if request.path == "/queue-status":  # alive: it answers its health probe, the job is just slow
            return farm.handle(request)
        raise UpstreamTimeout(f"worker {request.url} did not answer {request.path} within 1s", extra={"backend": request.url})

    farm.client.handler = too_slow
    app = make_app()
    response = app.test_client().post("/generate", json=GENERATE)
    assert response.status_code == 504 and response.is_json
    assert response.headers["X-Backend"] == farm.urls[0] and farm.urls[0] in response.json["error"]
    assert len(farm.job_calls()) == 1  # not run again elsewhere: that would double the wait
    first = app.test_client().get("/queue-status").json["backends"][0]
    assert first["consecutive_failures"] == 1 and "TIMEOUT" in first["last_error"]  # always too slow: ejected in the end


def test_a_hung_worker_that_fails_its_probe_too_is_a_failure_and_the_job_goes_elsewhere(
    make_app: Callable[..., Flask], farm: FakeFarm
) -> None:
    def first_hangs(request: WorkerRequest) -> WorkerReply:
        if request.url == farm.urls[0]:
            raise UpstreamTimeout(f"worker {request.url} did not answer {request.path} within 1s", extra={"backend": request.url})
        return farm.handle(request)

    farm.client.handler = first_hangs
    app = make_app()
    response = app.test_client().post("/generate", json=GENERATE)
    assert response.status_code == 200 and response.headers["X-Backend"] == farm.urls[1]
    first = app.test_client().get("/queue-status").json["backends"][0]
    assert first["consecutive_failures"] == 1 and "no answer to a health probe" in first["last_error"]
