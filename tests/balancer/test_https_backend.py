"""A worker behind https, with the real balancer process (gevent, its own HTTP client): health
probes and jobs go over TLS, and a client that leaves mid-job cancels the job on that worker."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.balancer.test_client import RawServer, read_request, self_signed
from tests.procs import ServiceProcess, free_port, python_service, wait_until

STATUS = json.dumps({"queue_size": 0, "active": False, "slots": 1, "models": ["codellama:13b"]}).encode()
PLAYBOOK = json.dumps({"playbook": "---\n- hosts: all\n  tasks: []\n", "elapsed": 0.0, "prompt_tokens": 1,
                       "response_tokens": 1, "total_tokens": 2, "model": "codellama:13b", "warnings": []}).encode()


class TlsWorker:
    """Answers /queue-status and quick jobs over TLS; a job whose commands say ``hold`` is held
    until its client (the balancer) closes the connection."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.held = threading.Event()
        self.closed = threading.Event()
        self.server = RawServer(self.serve, tls)

    def serve(self, conn: socket.socket, index: int) -> None:
        while True:
            request = read_request(conn)
            if not request:
                return
            if request.startswith(b"GET /queue-status"):
                body = STATUS
            elif b"hold" in request:
                self.held.set()
                conn.settimeout(30)
                try:
                    if conn.recv(1) == b"":
                        self.closed.set()
                except OSError:
                    self.closed.set()
                return
            else:
                body = PLAYBOOK
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


@pytest.fixture
def https_farm(tmp_path: Path) -> Iterator[tuple[TlsWorker, ServiceProcess]]:
    server_tls, _ = self_signed(tmp_path)
    worker = TlsWorker(server_tls)
    balancer = python_service(
        ["app_distributed.py"], free_port(),
        # the balancer trusts the system's CAs; OpenSSL reads SSL_CERT_FILE for them
        {"BACKENDS": worker.server.url, "SSL_CERT_FILE": str(tmp_path / "cert.pem"),
         "HEALTH_INTERVAL": "0.2", "HEALTH_TIMEOUT": "1", "TIMEOUT": "60"},
        log_path=tmp_path / "balancer.log",
    )
    balancer.start()
    try:
        yield worker, balancer
    finally:
        balancer.stop()
        worker.server.close()


def test_jobs_on_an_https_worker_run_and_a_leaving_client_cancels_its_job(https_farm: tuple[TlsWorker, ServiceProcess]) -> None:
    worker, balancer = https_farm
    assert worker.server.url.startswith("https://")

    def backend() -> dict[str, object]:
        entry: dict[str, object] = requests.get(balancer.url + "/queue-status", timeout=5).json()["backends"][0]
        return entry

    wait_until(lambda: backend()["status"] == "online" and backend()["models"], 20, what="the https worker online")
    reply = requests.post(balancer.url + "/generate", json={"commands": "echo quick"}, timeout=30)
    assert reply.status_code == 200 and reply.headers["X-Backend"] == worker.server.url

    body = json.dumps({"commands": "echo hold"}).encode()
    with socket.create_connection(("127.0.0.1", balancer.port)) as client:
        client.sendall(b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert worker.held.wait(20), "the job never reached the https worker"
    # the client is gone: the balancer shuts its TLS connection to the worker
    assert worker.closed.wait(10), "the https worker never saw the job cancelled"
    wait_until(lambda: backend()["in_flight"] == 0, 10, what="the balancer's slot given back")
