"""Membership at run time, with real processes: /admin add, remove, drain and undrain with jobs in
flight, SIGHUP reloading backends.json, the admin token, and no client steering the balancer's
connections."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.balancer.conftest import FakeFarm
from tests.emulator.fixtures import EmulatorProcess
from tests.procs import ServiceProcess, free_port, python_service, wait_until

TOKEN = "s3cret-admin-token"
EXPLAIN = {"playbook": "- hosts: all\n  tasks: []\n"}


def status(balancer: ServiceProcess) -> dict[str, Any]:
    reply = requests.get(balancer.url + "/queue-status", timeout=5)
    assert reply.status_code == 200
    return dict(reply.json())


def urls(balancer: ServiceProcess) -> list[str]:
    return [b["url"] for b in status(balancer)["backends"]]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServiceProcess]]:
    """Three workers on one emulator (2 s per answer), shared by this module's tests."""
    logs = tmp_path_factory.mktemp("membership")
    emulator = EmulatorProcess(delay_s=2.0, log_path=logs / "emulator.log").start()
    started: list[ServiceProcess] = []
    try:
        for n in range(3):
            port = free_port()
            started.append(python_service(["app.py"], port, {"OLLAMA_HOST": emulator.url, "DEFAULT_ENGINE": "llm"},
                                          log_path=logs / f"worker-{n}.log").start())
        yield started
    finally:
        for worker in started:
            worker.stop()
        emulator.stop()


@pytest.fixture
def start_balancer(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(**env: str) -> ServiceProcess:
        service = python_service(["app_distributed.py"], free_port(),
                                 {"HEALTH_INTERVAL": "0.2", "HEALTH_TIMEOUT": "0.5", **env},
                                 log_path=tmp_path / f"balancer-{len(started)}.log")
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.stop()


def test_a_backend_added_and_one_removed_with_jobs_in_flight_lose_no_job(
    workers: list[ServiceProcess], start_balancer: Callable[..., ServiceProcess]
) -> None:
    first, second, third = workers
    balancer = start_balancer(BACKENDS=f"{first.url},{second.url}")
    admin = f"{balancer.url}/admin/backends"
    with ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(requests.post, balancer.url + "/explain", json=EXPLAIN, timeout=60) for _ in range(6)]
        wait_until(lambda: status(balancer)["in_flight"] == 2, 10, what="both backends busy")
        added = requests.post(admin, json={"url": third.url}, timeout=5)  # from loopback, no ADMIN_TOKEN: allowed
        assert added.status_code == 201 and added.json()["backend"]["url"] == third.url
        removed = requests.delete(admin, json={"url": first.url}, timeout=5)
        assert removed.status_code == 200 and removed.json() == {"removed": first.url, "in_flight": 1}
        entry = next(b for b in status(balancer)["backends"] if b["url"] == first.url)
        assert entry["status"] == "draining" and entry["removing"] is True
        replies = [job.result() for job in jobs]
    assert [r.status_code for r in replies] == [200] * 6
    served_by = [r.headers["X-Backend"] for r in replies]
    assert served_by.count(first.url) == 1  # only the job it had when removed
    assert third.url in served_by
    wait_until(lambda: first.url not in urls(balancer), 10, what="the removed backend to be forgotten")
    assert status(balancer)["total_backends"] == 2
    after = [requests.post(balancer.url + "/explain", json=EXPLAIN, timeout=30).headers["X-Backend"] for _ in range(2)]
    assert first.url not in after
    assert requests.delete(admin, json={"url": first.url}, timeout=5).status_code == 404
    assert requests.post(admin, json={"url": third.url}, timeout=5).status_code == 409


def test_drain_and_undrain_a_backend(workers: list[ServiceProcess], start_balancer: Callable[..., ServiceProcess]) -> None:
    first, second, _ = workers
    balancer = start_balancer(BACKENDS=f"{first.url},{second.url}")
    drained = requests.post(balancer.url + "/admin/backends/drain", json={"url": first.url}, timeout=5)
    assert drained.status_code == 200 and drained.json()["backend"]["status"] == "draining"
    assert {requests.post(balancer.url + "/explain", json=EXPLAIN, timeout=30).headers["X-Backend"] for _ in range(2)} == {second.url}
    undrained = requests.post(balancer.url + "/admin/backends/undrain", json={"url": first.url}, timeout=5)
    assert undrained.status_code == 200 and undrained.json()["backend"]["status"] == "online"


def test_admin_calls_without_the_token_are_refused(workers: list[ServiceProcess], start_balancer: Callable[..., ServiceProcess]) -> None:
    balancer = start_balancer(BACKENDS=workers[0].url, ADMIN_TOKEN=TOKEN)
    admin = balancer.url + "/admin/backends"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = requests.post(admin, json={"url": workers[1].url}, headers=headers, timeout=5)
        assert refused.status_code == 401 and "error" in refused.json() and refused.headers["WWW-Authenticate"] == "Bearer"
    assert urls(balancer) == [workers[0].url]
    allowed = requests.post(admin, json={"url": workers[1].url}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert allowed.status_code == 201 and urls(balancer) == [workers[0].url, workers[1].url]
    assert TOKEN not in Path(balancer.log_path or "").read_text()  # type: ignore[arg-type]


def test_sighup_reloads_backends_json(workers: list[ServiceProcess], start_balancer: Callable[..., ServiceProcess],
                                      tmp_path: Path) -> None:
    file = tmp_path / "backends.json"
    file.write_text(json.dumps({"backends": [workers[0].url, workers[1].url]}))
    balancer = start_balancer(BACKENDS_FILE=str(file))
    assert urls(balancer) == [workers[0].url, workers[1].url]
    file.write_text(json.dumps({"backends": [workers[1].url, {"url": workers[2].url, "slots": 1}]}))
    assert balancer.proc is not None
    master = balancer.proc.pid
    balancer.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: urls(balancer) == [workers[1].url, workers[2].url], 10, what="the reloaded membership")
    assert balancer.proc.pid == master and balancer.proc.poll() is None  # reloaded in place, not restarted
    file.write_text("{not json")
    balancer.proc.send_signal(signal.SIGHUP)
    reload = requests.post(balancer.url + "/admin/reload", timeout=5)
    assert reload.status_code == 409 and "not valid JSON" in reload.json()["error"]
    assert urls(balancer) == [workers[1].url, workers[2].url]  # a broken file changes nothing


def test_nothing_a_client_sends_chooses_where_the_balancer_connects(
    workers: list[ServiceProcess], start_balancer: Callable[..., ServiceProcess]
) -> None:
    balancer = start_balancer(BACKENDS=workers[0].url)
    with socket.socket() as trap:  # a listener the client names; the balancer must never connect to it
        trap.bind(("127.0.0.1", 0))
        trap.listen(8)
        trap.settimeout(0.5)
        elsewhere = f"127.0.0.1:{trap.getsockname()[1]}"
        with socket.create_connection(("127.0.0.1", balancer.port), timeout=10) as sock:
            body = json.dumps(EXPLAIN).encode()
            sock.sendall(f"POST http://{elsewhere}/explain HTTP/1.1\r\nHost: {elsewhere}\r\nX-Backend: http://{elsewhere}\r\n"
                         f"X-Forwarded-Host: {elsewhere}\r\nForwarded: host={elsewhere}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and f"X-Backend: {workers[0].url}".encode() in reply
        with pytest.raises(socket.timeout):
            trap.accept()


def test_admin_answers_loopback_clients_only_without_a_token(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    client = make_app().test_client()
    far = client.get("/admin/backends", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert far.status_code == 403 and "loopback" in far.json["error"]
    spoofed = client.get("/admin/backends", environ_base={"REMOTE_ADDR": "10.1.2.3"}, headers={"X-Forwarded-For": "127.0.0.1"})
    assert spoofed.status_code == 403
    for near in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert client.get("/admin/backends", environ_base={"REMOTE_ADDR": near}).status_code == 200


@pytest.mark.parametrize("body,status", [
    ({}, 400), ({"url": "ftp://x"}, 400), ({"url": "http://new:1", "slots": 0}, 400), ({"url": "http://new:1", "bogus": 1}, 400),
])
def test_bad_admin_input_is_a_json_400(make_app: Callable[..., Flask], farm: FakeFarm, body: dict[str, Any], status: int) -> None:
    reply = make_app().test_client().post("/admin/backends", json=body)
    assert reply.status_code == status and "error" in reply.json


def test_reload_without_a_backends_file_is_a_409(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    reply = make_app().test_client().post("/admin/reload")
    assert reply.status_code == 409 and "BACKENDS_FILE" in reply.json["error"]


