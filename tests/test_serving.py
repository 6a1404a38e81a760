"""The server both services run (common/green_worker.py), tried as hostile clients would.

Real processes on loopback: a worker on the rules engine (no LLM needed) and a balancer in
front of it. Slow heads and bodies get 408 JSON at their deadlines while status calls and
jobs go on; a connection past MAX_CONNECTIONS gets 503 JSON; malformed HTTP gets JSON errors.
The latency targets under 2,000 slow clients are measured by ``bench/slow_clients.py``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bench.slow_clients import Trickler
from tests.procs import ServiceProcess, free_port, python_service

HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 2.0
KEEPALIVE = 1.0
LIMITS = {"HEADER_TIMEOUT": str(HEADER_TIMEOUT), "BODY_TIMEOUT": str(BODY_TIMEOUT), "KEEPALIVE": str(KEEPALIVE)}
JOB = {"commands": "apt-get install -y nginx\nsystemctl enable --now nginx\n", "engine": "rules"}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("serving")
    worker = python_service(["app.py"], free_port(), {**LIMITS, "OLLAMA_HOST": "http://127.0.0.1:9", "DEFAULT_ENGINE": "rules"},
                            log_path=logs / "worker.log").start()
    balancer = python_service(["app_distributed.py"], free_port(), {**LIMITS, "BACKENDS": worker.url},
                              log_path=logs / "balancer.log")
    try:
        balancer.start()
        yield {"worker": worker, "balancer": balancer}
    finally:
        balancer.stop()
        worker.stop()


def raw_exchange(port: int, data: bytes, *, wait_s: float = 10.0) -> tuple[bytes, float]:
    """Send ``data``, read until the server closes; (everything read, seconds until the first byte)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        start = time.monotonic()
        sock.sendall(data)
        chunks, first = [], None
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            first = first if first is not None else time.monotonic() - start
            chunks.append(chunk)
        return b"".join(chunks), first if first is not None else float("inf")


def status_and_json(reply: bytes) -> tuple[int, dict[str, object], str]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body), head.decode("latin-1")


@pytest.mark.parametrize("service", ["worker", "balancer"])
def test_2000_slow_heads_hold_no_thread_and_each_gets_408_at_header_timeout(
    services: dict[str, ServiceProcess], service: str
) -> None:
    target = services[service]
    trickler = Trickler(target.port, 2000).start()
    try:
        session = requests.Session()
        statuses = [session.get(target.url + "/queue-status", timeout=5).status_code for _ in range(50)]
        with ThreadPoolExecutor(4) as pool:
            jobs = list(pool.map(lambda _: requests.post(target.url + "/generate", json=JOB, timeout=30), range(4)))
        trickler.wait_all_answered(HEADER_TIMEOUT + 15)
    finally:
        trickler.close()
    assert statuses == [200] * 50  # answered while 2,000 clients trickle (p99 in bench/slow_clients.py)
    assert [job.status_code for job in jobs] == [200] * 4 and all("playbook" in job.json() for job in jobs)
    assert trickler.statuses() == [408] * 2000
    waited = [c.replied_at - c.opened_at for c in trickler.connections if c.replied_at is not None]
    assert min(waited) >= HEADER_TIMEOUT - 0.2  # not before the deadline
    body = trickler.connections[0].reply.split(b"\r\n\r\n", 1)[1]
    assert "HEADER_TIMEOUT" in json.loads(body)["error"]


@pytest.mark.parametrize("service", ["worker", "balancer"])
def test_a_body_slower_than_body_timeout_gets_408_json_and_the_connection_closes(
    services: dict[str, ServiceProcess], service: str
) -> None:
    port = services[service].port
    head = b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    reply, first_byte_s = raw_exchange(port, head + b'{"commands": ')
    status, body, _ = status_and_json(reply)
    assert status == 408 and "BODY_TIMEOUT" in str(body["error"])
    assert first_byte_s >= BODY_TIMEOUT - 0.2


@pytest.mark.parametrize("service", ["worker", "balancer"])
def test_an_idle_kept_alive_connection_is_closed_in_silence(services: dict[str, ServiceProcess], service: str) -> None:
    reply, _ = raw_exchange(services[service].port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and reply.count(b"HTTP/1.1") == 1  # no 408 written to an idle connection


@pytest.mark.parametrize("request_bytes,status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    (b"POST /generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
])
@pytest.mark.parametrize("service", ["worker", "balancer"])
def test_malformed_http_gets_a_json_error_never_html(
    services: dict[str, ServiceProcess], service: str, request_bytes: bytes, status: int
) -> None:
    reply, _ = raw_exchange(services[service].port, request_bytes)
    got, body, head = status_and_json(reply)
    assert got == status and isinstance(body["error"], str) and "application/json" in head


@pytest.mark.parametrize("script", ["app.py", "app_distributed.py"])
def test_past_max_connections_a_new_connection_gets_503_with_retry_after(script: str, tmp_path: Path) -> None:
    env = {"MAX_CONNECTIONS": "20", "HEADER_TIMEOUT": "30", "OLLAMA_HOST": "http://127.0.0.1:9",
           "BACKENDS": "http://127.0.0.1:9"}
    service = python_service([script], free_port(), env, log_path=tmp_path / "service.log").start()
    held: list[socket.socket] = []
    try:
        for _ in range(20):
            held.append(socket.create_connection(("127.0.0.1", service.port), timeout=5))
        reply, _ = raw_exchange(service.port, b"GET /queue-status HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body, head = status_and_json(reply)
        assert status == 503 and "MAX_CONNECTIONS=20" in str(body["error"]) and "Retry-After:" in head
        for sock in held:
            sock.close()
        held.clear()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the server notices the closed connections and admits again
            reply, _ = raw_exchange(service.port, b"GET /queue-status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if reply.startswith(b"HTTP/1.1 200"):
                break
            time.sleep(0.2)
        assert reply.startswith(b"HTTP/1.1 200")
    finally:
        for sock in held:
            sock.close()
        service.stop()


@pytest.mark.parametrize("script", ["app.py", "app_distributed.py"])
def test_sigterm_with_an_idle_kept_alive_client_exits_0_at_once_and_quietly(script: str, tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    env = {"OLLAMA_HOST": "http://127.0.0.1:9", "BACKENDS": "http://127.0.0.1:9", "KEEPALIVE": "30"}
    service = python_service([script], free_port(), env, log_path=log).start()
    session = requests.Session()
    assert session.get(service.url + "/healthz", timeout=5).status_code == 200  # this connection stays open, idle
    assert service.proc is not None
    started = time.monotonic()
    service.proc.terminate()
    assert service.proc.wait(20) == 0
    assert time.monotonic() - started < 10  # not held for KEEPALIVE by the idle connection
    text = log.read_text()
    assert "Traceback" not in text and "[ERROR]" not in text
