"""The balancer's fast path (common.fastpath): the same replies as Flask's views, and never a hook skipped."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, Response
from werkzeug.test import TestResponse

from common.fastpath import FastPath, status_line
from tests.balancer.conftest import FakeFarm

GENERATE = {"commands": "apt-get update", "model": "codellama:13b"}
COMPARED_HEADERS = ("Content-Type", "Content-Length", "X-Backend", "Retry-After")


def slow_road(app: Flask) -> Flask:
    """The same app with the fast path off: an unmarked hook (that does nothing) turns it off."""
    app.before_request(lambda: None)
    return app


def answer(app: Flask, method: str, path: str, **kwargs: Any) -> TestResponse:
    return app.test_client().open(path, method=method, headers={"X-Request-Id": "req-1"}, **kwargs)


def served_fast(app: Flask, method: str, path: str) -> bool:
    fast = app.wsgi_app
    assert isinstance(fast, FastPath)
    return (method, path) in fast.routes and fast.hooks_mirrored()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/generate", GENERATE),
        ("POST", "/generate", {**GENERATE, "engine": "rules", "split": False}),
        ("POST", "/generate", {"commands": "ls", "model": "no-such-model", "engine": "llm"}),  # 404 from the pool
        ("POST", "/generate", {"commands": "  "}),  # 400: declined, Flask says why
        ("POST", "/generate", [1]),
        ("GET", "/queue-status", None),
        ("GET", "/healthz", None),
        ("HEAD", "/healthz", None),  # not a fast route: Flask's
    ],
)
def test_the_fast_path_answers_as_flask_does(make_app: Callable[..., Flask], method: str, path: str, body: Any) -> None:
    fast_app = make_app()
    fast = answer(fast_app, method, path, json=body)
    slow = answer(slow_road(make_app()), method, path, json=body)
    assert (fast.status_code, fast.status) == (slow.status_code, slow.status)
    assert fast.get_data() == slow.get_data()
    for name in COMPARED_HEADERS:
        assert fast.headers.get(name) == slow.headers.get(name), name
    assert fast.headers["X-Request-Id"] == slow.headers["X-Request-Id"] == "req-1"


def test_a_worker_that_is_down_gives_the_same_json_error(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    for worker in farm.workers.values():
        worker.down = True
    fast = answer(make_app(retries=1), "POST", "/generate", json=GENERATE)
    slow = answer(slow_road(make_app(retries=1)), "POST", "/generate", json=GENERATE)
    assert fast.status_code == slow.status_code == 503
    assert fast.json is not None and slow.json is not None
    assert fast.json["error"] == slow.json["error"] and fast.headers["Retry-After"] == slow.headers["Retry-After"]


def test_a_hook_added_later_is_never_skipped(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    app = make_app()
    assert served_fast(app, "POST", "/generate")

    @app.before_request
    def refuse() -> Response:  # as an API-key check would
        return Response(json.dumps({"error": "no key"}), status=401, content_type="application/json")

    assert not served_fast(app, "POST", "/generate")
    assert answer(app, "POST", "/generate", json=GENERATE).status_code == 401
    assert answer(app, "GET", "/queue-status").status_code == 401
    assert farm.job_calls() == []


def test_fast_requests_are_counted_and_logged_like_the_others(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    seen: list[dict[str, Any]] = []
    fast = app.wsgi_app

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ)
        return fast(environ, start_response)

    app.wsgi_app = spy  # type: ignore[method-assign]
    assert answer(app, "POST", "/generate", json=GENERATE).status_code == 200
    facts = seen[0]["ansible_farm.access"]  # what the access line adds (common.logs)
    assert facts["request_id"] == "req-1" and facts["backend"] and facts["attempts"] == 1
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'ansible_farm_http_requests_total{endpoint="/generate",method="POST",status="200"} 1.0' in metrics


def test_a_body_over_the_limit_and_a_short_body_go_to_flask(make_app: Callable[..., Flask]) -> None:
    app = make_app(max_content_length=64)
    assert answer(app, "POST", "/generate", json={"commands": "x" * 100}).status_code == 413
    short = app.test_client().post("/generate", data=b'{"commands"', headers={"Content-Length": "40"},
                                   content_type="application/json")
    assert short.status_code == 400 and "error" in short.json


def test_status_lines_are_werkzeugs() -> None:
    assert status_line(200) == "200 OK"
    assert status_line(503) == "503 SERVICE UNAVAILABLE"
    assert status_line(499) == "499 UNKNOWN"
