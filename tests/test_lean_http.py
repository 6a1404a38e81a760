"""The lean HTTP/1.1 path (common/lean_http.py): plain requests for the fast routes, the rest to gunicorn.

Real processes on loopback (a worker on the rules engine, a balancer in front of it), raw sockets:
what the lean path answers looks like what gunicorn answers, a connection moves to gunicorn at
the first request that is not plain, and pipelined requests are answered in order.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from common.lean_http import LeanServer
from tests.procs import ServiceProcess, free_port, python_service

JOB = json.dumps({"commands": "apt-get install -y nginx\n", "engine": "rules"}).encode()


@pytest.fixture(scope="module")
def balancer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    logs = tmp_path_factory.mktemp("lean")
    worker = python_service(["app.py"], free_port(), {"OLLAMA_HOST": "http://127.0.0.1:9", "DEFAULT_ENGINE": "rules"},
                            log_path=logs / "worker.log").start()
    service = python_service(["app_distributed.py"], free_port(), {"BACKENDS": worker.url}, log_path=logs / "balancer.log")
    try:
        yield service.start()
    finally:
        service.stop()
        worker.stop()


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: x", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def get(path: str, *extra: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: x", *extra]) + "\r\n\r\n").encode()


def replies(port: int, data: bytes, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``data`` on one connection and read ``count`` replies (status, headers, body)."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        buf = b""
        while len(out) < count:
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                assert chunk, f"the connection closed after {len(out)} replies"
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
            length = int(headers["content-length"])
            while len(buf) < length:
                buf += sock.recv(65536)
            out.append((int(lines[0].split(" ")[1]), headers, buf[:length]))
            buf = buf[length:]
    return out


def test_pipelined_requests_are_answered_in_order_and_the_connection_moves_to_gunicorn(balancer: ServiceProcess) -> None:
    data = (post("/generate", JOB, "X-Request-Id: one") + get("/queue-status") + get("/status/history")
            + post("/generate", JOB, "X-Request-Id: four") + get("/healthz"))
    answered = replies(balancer.port, data, 5)
    assert [status for status, _, _ in answered] == [200, 200, 200, 200, 200]
    first, status, history, fourth, healthz = answered
    assert first[1]["x-request-id"] == "one" and fourth[1]["x-request-id"] == "four"
    assert "playbook" in json.loads(first[2]) and "playbook" in json.loads(fourth[2])
    assert "backends" in json.loads(status[2]) and json.loads(healthz[2])["status"] == "ok"
    assert isinstance(json.loads(history[2]), dict)
    for _, headers, _ in answered:
        assert headers["connection"] == "keep-alive" and headers["server"] == "gunicorn"


def test_a_plain_request_and_one_gunicorn_parses_get_the_same_reply_headers(balancer: ServiceProcess) -> None:
    (lean,) = replies(balancer.port, post("/generate", JOB), 1)
    (slow,) = replies(balancer.port, post("/generate", JOB, "X-Forwarded-Proto: http"), 1)  # gunicorn's to parse
    assert lean[0] == slow[0] == 200
    assert set(lean[1]) == set(slow[1])
    for name in ("content-type", "x-backend", "server", "connection"):
        assert lean[1][name] == slow[1][name]


def test_bad_input_on_a_fast_route_gets_flasks_json_error(balancer: ServiceProcess) -> None:
    answered = replies(balancer.port, post("/generate", b"{oops") + post("/generate", b'{"commands": 3}'), 2)
    assert [status for status, _, _ in answered] == [400, 400]
    assert "not valid JSON" in json.loads(answered[0][2])["error"]
    assert "must be a string" in json.loads(answered[1][2])["error"]


def test_a_malformed_request_after_a_plain_one_gets_gunicorns_json_error(balancer: ServiceProcess) -> None:
    data = get("/healthz") + b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"
    with socket.create_connection(("127.0.0.1", balancer.port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    first, _, rest = received.partition(b"HTTP/1.1 400")
    assert first.startswith(b"HTTP/1.1 200") and b'"error": "malformed HTTP request' in rest


def lean_server(routes: set[tuple[str, str]]) -> LeanServer:
    cfg = SimpleNamespace(secure_scheme_headers={"X-FORWARDED-PROTO": "https"}, forwarder_headers=["SCRIPT_NAME", "PATH_INFO"])
    return LeanServer(SimpleNamespace(cfg=cfg), frozenset((m.encode(), p.encode()) for m, p in routes),
                      frozenset({b"TRANSFER-ENCODING", b"EXPECT", b"CONNECTION", b"X-FORWARDED-PROTO", b"SCRIPT-NAME"}))


@pytest.mark.parametrize(
    "head",
    [
        b"POST /generate HTTP/1.0\r\nContent-Length: 2",  # HTTP/1.0
        b"POST /explain HTTP/1.1\r\nContent-Length: 2",  # not a fast route
        b"POST /gen%65rate HTTP/1.1\r\nContent-Length: 2",  # an encoded path
        b"POST /generate HTTP/1.1\r\nTransfer-Encoding: chunked",
        b"POST /generate HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2",  # a repeated header
        b"POST /generate HTTP/1.1\r\nContent-Length: +2",
        b"POST /generate HTTP/1.1\r\nX_Custom: 1\r\nContent-Length: 2",  # "_" in a name
        b"POST /generate HTTP/1.1\r\nX-Forwarded-Proto: https\r\nContent-Length: 2",
        b"POST /generate HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2",
        b"POST /generate HTTP/1.1\r\nConnection: close\r\nContent-Length: 2",
        b"POST /generate HTTP/1.1\r\nX-Note: caf\xc3\xa9\r\nContent-Length: 2",  # a value beyond ASCII
        b"POST /generate HTTP/1.1\r\nX-Note : 1",  # a space before the colon
        b"GET /healthz HTTP/1.1\r\nContent-Length: 5",  # a GET with a body
        b"GET  /healthz HTTP/1.1",
    ],
)
def test_anything_but_a_plain_request_is_left_to_gunicorn(head: bytes) -> None:
    assert lean_server({("POST", "/generate"), ("GET", "/healthz")})._plain(head) is None


def test_a_plain_request_is_read() -> None:
    head = b"POST /generate?x=1 HTTP/1.1\r\nHost: a:5000\r\nContent-Type: application/json\r\nContent-Length: 12"
    method, target, path, query, headers, length = lean_server({("POST", "/generate")})._plain(head) or ((),) * 6
    assert (method, target, path, query, length) == ("POST", "/generate?x=1", "/generate", "x=1", 12)
    assert headers == [(b"HOST", b"a:5000"), (b"CONTENT-TYPE", b"application/json"), (b"CONTENT-LENGTH", b"12")]


def test_the_lean_path_is_off_for_an_app_without_fast_routes() -> None:
    worker = SimpleNamespace(wsgi=SimpleNamespace(wsgi_app=object()), cfg=SimpleNamespace())
    assert LeanServer.for_worker(worker) is None  # an app without fast routes (the worker's)


def test_the_balancer_serves_its_fast_routes_lean() -> None:
    from gunicorn.config import Config

    from balancer.settings import BackendSpec, Settings
    from balancer.web import create_app

    app = create_app(Settings(backends=(BackendSpec("http://127.0.0.1:9"),), health_interval_s=0))
    worker = SimpleNamespace(wsgi=app, cfg=Config())  # gunicorn's defaults, as the services run them
    lean = LeanServer.for_worker(worker)
    assert lean is not None and (b"POST", b"/generate") in lean.routes
