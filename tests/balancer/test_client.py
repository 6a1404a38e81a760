"""HttpWorkerClient against real loopback sockets: transport failures map into the error tree."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from balancer.client import BackendUnreachable, HttpWorkerClient
from common.errors import UpstreamTimeout
from tests.balancer.conftest import SilentServer
from tests.procs import free_port


class _Busy(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = b'{"error": "queue full"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "9")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_worker() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_error_replies_are_replies_not_exceptions(busy_worker: str) -> None:
    reply = HttpWorkerClient().send(busy_worker, "POST", "/generate", json={"commands": "ls"}, timeout_s=5)
    assert (reply.status, reply.json(), reply.retry_after) == (503, {"error": "queue full"}, "9")
    assert reply.content_type == "application/json"


def test_connection_refused_is_backend_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendUnreachable) as caught:
        HttpWorkerClient().send(url, "GET", "/queue-status", timeout_s=2)
    assert caught.value.url == url and "connection refused" in caught.value.message
    assert caught.value.status == 502


def test_no_reply_within_the_timeout_is_upstream_timeout() -> None:
    silent = SilentServer()
    try:
        with pytest.raises(UpstreamTimeout) as caught:
            HttpWorkerClient().send(silent.url, "POST", "/generate", json={"commands": "ls"}, timeout_s=0.2)
        assert caught.value.status == 504 and "did not answer /generate within 0.2s" in caught.value.message
    finally:
        silent.close()
