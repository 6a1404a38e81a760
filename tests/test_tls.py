"""TLS on every hop (issue 12, item 3), with real processes and the real curl:

    curl --cacert ca.pem ──https──> app_distributed.py ──https + client certificate + WORKER_TOKEN──> app.py ──> emulator

The workers ask for a client certificate signed by the CA (TLS_CLIENT_CA); a worker whose own
certificate another CA signed is never used; a job whose client leaves is cancelled on its
worker over HTTPS. One farm per module; certificates from the session's ``certs`` fixture.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.certs import CertFiles
from tests.emulator.fixtures import EmulatorProcess
from tests.farms import NO_PROXIES
from tests.procs import ServiceProcess, free_port, python_service, wait_until

TOKEN = "shared-worker-secret"
HEADER_TIMEOUT_S = 2
SERVER_ENV = {"LOG_FORMAT": "json", "HEADER_TIMEOUT": str(HEADER_TIMEOUT_S), **NO_PROXIES}
CURL = shutil.which("curl")


@dataclass
class TlsFarm:
    emulator: EmulatorProcess
    worker: ServiceProcess
    rogue: ServiceProcess
    balancer: ServiceProcess
    certs: CertFiles

    def status(self) -> dict[str, Any]:
        reply = requests.get(self.balancer.url + "/queue-status", verify=self.certs.ca, timeout=5)
        body: dict[str, Any] = reply.json()
        return body

    def backend(self, url: str) -> dict[str, Any]:
        return next(b for b in self.status()["backends"] if b["url"] == url)


def tls_worker(emulator: EmulatorProcess, cert: str, key: str, certs: CertFiles, log_dir: Path) -> ServiceProcess:
    port = free_port()
    worker = python_service(
        ["app.py"], port,
        {"OLLAMA_HOST": emulator.url, "MODELS_REFRESH": "1", "TLS_CERT": cert, "TLS_KEY": key,
         "TLS_CLIENT_CA": certs.ca, "WORKER_TOKEN": TOKEN, **SERVER_ENV},
        log_path=log_dir / f"worker-{port}.log",
    )
    worker.tls_ca = certs.ca if cert == certs.server_cert else certs.rogue_ca
    worker.client_cert = certs.client
    return worker


@pytest.fixture(scope="module")
def farm(certs: CertFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFarm]:
    log_dir = tmp_path_factory.mktemp("tls-farm")
    emulator = EmulatorProcess(log_path=log_dir / "emulator.log")
    started: list[Any] = []
    try:
        started.append(emulator.start())
        worker = tls_worker(emulator, certs.server_cert, certs.server_key, certs, log_dir)
        rogue = tls_worker(emulator, certs.rogue_server_cert, certs.rogue_server_key, certs, log_dir)
        threads = [threading.Thread(target=w.start) for w in (worker, rogue)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        started += [worker, rogue]
        balancer = python_service(
            ["app_distributed.py"], free_port(),
            {"BACKENDS": f"{worker.url},{rogue.url}", "TLS_CERT": certs.server_cert, "TLS_KEY": certs.server_key,
             "WORKER_CA": certs.ca, "WORKER_CLIENT_CERT": certs.client_cert, "WORKER_CLIENT_KEY": certs.client_key,
             "WORKER_TOKEN": TOKEN, "HEALTH_INTERVAL": "0.2", "TIMEOUT": "60", **SERVER_ENV},
            log_path=log_dir / "balancer.log",
        )
        balancer.tls_ca = certs.ca
        started.append(balancer.start())
        tls_farm = TlsFarm(emulator, worker, rogue, balancer, certs)
        wait_until(lambda: tls_farm.backend(worker.url)["status"] == "online", 20, what="the good worker online")
        yield tls_farm
    finally:
        for service in reversed(started):
            service.stop()


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_with_the_ca_converts_through_the_balancer_and_the_mtls_workers(farm: TlsFarm) -> None:
    assert CURL is not None
    body = json.dumps({"commands": "sudo apt-get install -y nginx\nsudo systemctl enable --now nginx"})
    done = subprocess.run(
        [CURL, "-sS", "--fail-with-body", "--cacert", farm.certs.ca, "-D", "-", "-H", "Content-Type: application/json",
         "-d", body, farm.balancer.url + "/generate"],
        capture_output=True, text=True, timeout=60, env=NO_PROXIES | {"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr + done.stdout
    head, _, reply = done.stdout.replace("\r\n", "\n").partition("\n\n")
    assert f"x-backend: {farm.worker.url}" in head.lower()
    assert "ansible.builtin.apt" in json.loads(reply)["playbook"]
    # the LLM path too: /explain runs the model on the worker behind mTLS
    explained = requests.post(farm.balancer.url + "/explain", json={"playbook": "- hosts: all\n  tasks: []\n"},
                              verify=farm.certs.ca, timeout=60)
    assert explained.status_code == 200 and explained.json()["explanation"]


def test_plain_http_and_an_unknown_ca_get_no_answer_from_the_balancer(farm: TlsFarm) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(farm.balancer.url + "/healthz", verify=farm.certs.rogue_ca, timeout=5)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(farm.balancer.url.replace("https://", "http://") + "/healthz", timeout=5)


@pytest.mark.parametrize("client", ["none", "rogue"])
def test_a_worker_refuses_a_client_without_a_certificate_its_ca_signed(farm: TlsFarm, client: str) -> None:
    context = ssl.create_default_context(cafile=farm.certs.ca)
    if client == "rogue":
        context.load_cert_chain(farm.certs.rogue_client_cert, farm.certs.rogue_client_key)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with socket.create_connection(("127.0.0.1", farm.worker.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:  # TLS 1.3: the refusal comes with the first read
                tls.sendall(f"GET /queue-status HTTP/1.1\r\nHost: x\r\nX-Worker-Token: {TOKEN}\r\n\r\n".encode())
                assert tls.recv(100) == b"", "the worker answered a client without a certificate"


def test_a_worker_refuses_a_certified_client_without_the_worker_token(farm: TlsFarm) -> None:
    url = farm.worker.url + "/queue-status"
    refused = requests.get(url, verify=farm.certs.ca, cert=farm.certs.client, timeout=5)
    assert refused.status_code == 401 and "X-Worker-Token" in refused.json()["error"]
    wrong = requests.get(url, verify=farm.certs.ca, cert=farm.certs.client, timeout=5, headers={"X-Worker-Token": "nope"})
    assert wrong.status_code == 401
    right = requests.get(url, verify=farm.certs.ca, cert=farm.certs.client, timeout=5, headers={"X-Worker-Token": TOKEN})
    assert right.status_code == 200
    probe = requests.get(farm.worker.url + "/healthz", verify=farm.certs.ca, cert=farm.certs.client, timeout=5)
    assert probe.status_code == 200  # load-balancer probes need no token


def test_a_worker_whose_certificate_does_not_verify_is_never_used(farm: TlsFarm) -> None:
    rogue = farm.backend(farm.rogue.url)
    assert rogue["status"] == "offline", rogue  # at the first probe
    assert "certificate verify failed" in (rogue["last_error"] or ""), rogue
    for _ in range(6):
        reply = requests.post(farm.balancer.url + "/generate", json={"commands": "apt-get install -y git"},
                              verify=farm.certs.ca, timeout=60)
        assert reply.status_code == 200 and reply.headers["X-Backend"] == farm.worker.url
    assert farm.backend(farm.rogue.url)["status"] == "offline"
    assert farm.rogue.log_path is not None
    assert "ansible-tools-balancer" not in farm.rogue.log_path.read_text(), "the balancer reached the worker that does not verify"


def test_a_client_that_leaves_cancels_its_job_on_the_https_worker(farm: TlsFarm) -> None:
    farm.emulator.reset()
    farm.emulator.queue_replies([{"content": "word " * 300, "delay_s": 30}])
    body = json.dumps({"code": "print(1)"}).encode()
    context = ssl.create_default_context(cafile=farm.certs.ca)
    with socket.create_connection(("127.0.0.1", farm.balancer.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as client:
            client.sendall(b"POST /explain-code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            wait_until(lambda: farm.emulator.stats()["in_flight"] == 1, 20, what="the job streaming on the worker")
    # the client left: the balancer drops its TLS connection to the worker, which stops the LLM
    wait_until(lambda: farm.emulator.stats()["cancelled"] == 1, 15, what="the LLM call cancelled")
    wait_until(lambda: farm.status()["in_flight"] == 0, 10, what="the balancer's slot given back")


def test_the_cli_reads_the_https_balancer_with_its_ca(farm: TlsFarm) -> None:
    import io

    from cli.main import EXIT_OK, EXIT_UNREACHABLE, main

    out, err = io.StringIO(), io.StringIO()
    assert main(["--url", farm.balancer.url, "--cacert", farm.certs.ca, "status"], stdout=out, stderr=err) == EXIT_OK
    assert farm.worker.url in out.getvalue()
    assert main(["--url", farm.balancer.url, "--cacert", farm.certs.rogue_ca, "status"],
                stdout=io.StringIO(), stderr=err) == EXIT_UNREACHABLE
    assert "CERTIFICATE_VERIFY_FAILED" in err.getvalue()


@pytest.mark.parametrize("service", ["balancer", "worker"])
def test_a_client_that_never_shakes_hands_is_dropped_at_header_timeout_and_logged_as_json(
    farm: TlsFarm, service: str
) -> None:
    server = farm.balancer if service == "balancer" else farm.worker
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT_S + 5) as silent, \
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as plain:
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP to an HTTPS port
        try:
            answer = plain.recv(100)
        except ConnectionResetError:
            answer = b""
        assert answer == b""  # no reply in clear text: the connection is dropped
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the server, not by our timeout
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 2
    assert server.log_path is not None
    wait_until(lambda: "no handshake within HEADER_TIMEOUT" in server.log_path.read_text(), 5, what="the log line")  # type: ignore[union-attr]
    lines = server.log_path.read_text().splitlines()
    assert [line for line in lines if not line.startswith("{")] == []  # every line JSON: no traceback outside the format
    assert any("TLS handshake with 127.0.0.1 failed: HTTP_REQUEST" in line for line in lines)
