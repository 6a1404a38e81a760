"""Reply verdicts and the retry policy: what goes elsewhere, what counts against a worker, what is final."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask

from balancer.client import BackendUnreachable, WorkerReply, WorkerRequest, json_reply
from balancer.proxy import Verdict, judge
from tests.balancer.conftest import FakeFarm

GENERATE = {"commands": "apt-get install -y nginx"}


@pytest.mark.parametrize("path,reply,verdict", [
    ("/generate", json_reply({"playbook": "- hosts: all\n"}), Verdict.FINAL),
    ("/generate-code", json_reply({"code": "print(1)"}), Verdict.FINAL),
    ("/explain", json_reply({"explanation": "x"}), Verdict.FINAL),
    ("/generate", json_reply({"error": "missing field 'commands'"}, 400), Verdict.FINAL),
    ("/generate", json_reply({"error": "model 'x' is not installed"}, 404), Verdict.FINAL),
    ("/generate", json_reply({"error": "the model never produced a valid playbook"}, 502), Verdict.FINAL),
    ("/generate", json_reply({"error": "LLM timed out"}, 504), Verdict.FINAL),
    ("/generate", json_reply({"error": "draining", "draining": True}, 503), Verdict.ELSEWHERE),
    ("/generate", json_reply({"error": "queue full"}, 503), Verdict.ELSEWHERE),
    ("/generate", json_reply({"error": "boom"}, 500), Verdict.FAULT),
    ("/generate", WorkerReply(200, b"<html>hello</html>", "text/html"), Verdict.FAULT),
    ("/generate", WorkerReply(200, b"{not json", "application/json"), Verdict.FAULT),
    ("/generate", json_reply([1, 2]), Verdict.FAULT),
    ("/generate", json_reply({"result": 1}), Verdict.FAULT),
    ("/generate-code", json_reply({"explanation": "wrong field"}), Verdict.FAULT),
    ("/generate", WorkerReply(404, b"<h1>Not Found</h1>", "text/html"), Verdict.FAULT),
    ("/generate", json_reply({"detail": "no error field"}, 502), Verdict.FAULT),
])
def test_judge(path: str, reply: WorkerReply, verdict: Verdict) -> None:
    assert judge(path, reply).verdict is verdict


def failing(farm: FakeFarm, bad: dict[str, Callable[[], WorkerReply]]) -> None:
    """Make the workers at ``bad``'s URLs answer jobs with the given replies; the rest stay good."""
    def handler(request: WorkerRequest) -> WorkerReply:
        if request.path != "/queue-status" and request.url in bad:
            return bad[request.url]()
        return farm.handle(request)
    farm.client.handler = handler


def test_an_html_200_and_a_500_are_retried_elsewhere_and_counted(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    failing(farm, {farm.urls[0]: lambda: WorkerReply(200, b"<html>ok</html>", "text/html"),
                   farm.urls[1]: lambda: json_reply({"error": "boom"}, 500)})
    app = make_app()
    response = app.test_client().post("/generate", json=GENERATE)
    assert response.status_code == 200 and response.headers["X-Backend"] == farm.urls[2]
    backends = app.test_client().get("/queue-status").json["backends"]
    assert [b["consecutive_failures"] for b in backends] == [1, 1, 0]
    assert "not JSON" in backends[0]["last_error"] and "HTTP 500" in backends[1]["last_error"]


def test_a_reset_mid_reply_is_a_failure_a_refused_connection_is_offline(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    def reset() -> WorkerReply:
        raise BackendUnreachable(farm.urls[0], "connection reset", sent=True)

    def refused() -> WorkerReply:
        raise BackendUnreachable(farm.urls[1], "connection refused")

    failing(farm, {farm.urls[0]: reset, farm.urls[1]: refused})
    app = make_app()
    assert app.test_client().post("/generate", json=GENERATE).headers["X-Backend"] == farm.urls[2]
    backends = app.test_client().get("/queue-status").json["backends"]
    assert (backends[0]["status"], backends[0]["consecutive_failures"]) == ("online", 1)
    assert (backends[1]["status"], backends[1]["consecutive_failures"]) == ("offline", 0)


def test_a_draining_worker_sends_the_job_elsewhere_without_a_mark(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    failing(farm, {farm.urls[0]: lambda: json_reply({"error": "draining", "draining": True}, 503)})
    app = make_app()
    assert app.test_client().post("/generate", json=GENERATE).headers["X-Backend"] == farm.urls[1]
    first = app.test_client().get("/queue-status").json["backends"][0]
    assert (first["status"], first["consecutive_failures"]) == ("draining", 0)


def test_a_worker_502_stays_final_for_a_single_job(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    failing(farm, {farm.urls[0]: lambda: json_reply({"error": "no valid playbook after 3 attempts"}, 502)})
    response = make_app().test_client().post("/generate", json=GENERATE)
    assert response.status_code == 502 and response.headers["X-Backend"] == farm.urls[0]
    assert [call[0] for call in farm.job_calls()] == [farm.urls[0]]  # not run again elsewhere


def test_when_every_worker_answers_garbage_the_client_gets_a_502_naming_them(
    make_app: Callable[..., Flask], farm: FakeFarm
) -> None:
    failing(farm, {url: (lambda: json_reply({"result": 1})) for url in farm.urls})
    response = make_app().test_client().post("/generate", json=GENERATE)
    assert response.status_code == 502 and response.is_json
    message = response.json["error"]
    assert "no worker gave a valid reply" in message and all(url in message for url in farm.urls)
    assert json.loads(response.data)["tried"] == farm.urls
