"""No API key, worker token or Authorization header reaches a log line or a metric (issue 12,
must-show 3): a real balancer and a real worker per LOG_FORMAT, with API_KEYS_FILE and
WORKER_TOKEN, get good, unknown, wrong-role, over-the-limit and malformed credentials; then
every line of both services' logs, and both /metrics pages, are searched for the secrets."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from common.apikeys import add_key
from tests.emulator.fixtures import EmulatorProcess
from tests.farms import NO_PROXIES
from tests.procs import ServiceProcess, free_port, python_service

WORKER_TOKEN = "wt-0f3c9d2e-secret-token"
UNKNOWN_KEY = "aft_unknown-key-5b1e77aa"
BASIC_PASSWORD = "basic-pw-7c2d"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess(log_path=tmp_path_factory.mktemp("emulator") / "emulator.log").start()
    yield process
    process.stop()


@dataclass
class Pair:
    """A worker and a balancer in front of it, logging in one LOG_FORMAT."""

    worker: ServiceProcess
    balancer: ServiceProcess
    keys: dict[str, str]
    log_dir: Path


@pytest.fixture(scope="module")
def pairs(emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Pair]]:
    """One pair per LOG_FORMAT, all four processes started at once."""
    made: dict[str, Pair] = {}
    for log_format in ("text", "json"):
        log_dir = tmp_path_factory.mktemp(f"secrets-{log_format}")
        user_key, _ = add_key(log_dir / "keys.json", "alice", rate_per_minute=3, max_concurrent=2)
        admin_key, _ = add_key(log_dir / "keys.json", "ops", role="admin")
        common = {"LOG_FORMAT": log_format, "WORKER_TOKEN": WORKER_TOKEN, **NO_PROXIES}
        worker = python_service(["app.py"], free_port(), {"OLLAMA_HOST": emulator.url, "MODELS_REFRESH": "1", **common},
                                log_path=log_dir / "worker.log")
        balancer = python_service(["app_distributed.py"], free_port(),
                                  {"BACKENDS": worker.url, "API_KEYS_FILE": str(log_dir / "keys.json"),
                                   "HEALTH_INTERVAL": "0.2", **common}, log_path=log_dir / "balancer.log")
        made[log_format] = Pair(worker, balancer, {"user": user_key, "admin": admin_key}, log_dir)
    services = [service for pair in made.values() for service in (pair.worker, pair.balancer)]
    threads = [threading.Thread(target=service.start) for service in services]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        yield made
    finally:
        for service in services:
            service.stop()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_key_token_or_authorization_header_is_logged(log_format: str, pairs: dict[str, Pair]) -> None:
    pair = pairs[log_format]
    worker, balancer, tmp_path = pair.worker, pair.balancer, pair.log_dir
    user_key, admin_key = pair.keys["user"], pair.keys["admin"]
    secrets = [user_key, admin_key, UNKNOWN_KEY, WORKER_TOKEN, BASIC_PASSWORD, "wrong-" + WORKER_TOKEN]
    try:
        b, w = balancer.url, worker.url

        def call(method: str, url: str, authorization: str | None = None, **kwargs: object) -> int:
            headers = {"Authorization": authorization} if authorization else {}
            headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
            return requests.request(method, url, headers=headers, timeout=30, **kwargs).status_code  # type: ignore[arg-type]

        job = {"json": {"commands": "apt-get install -y nginx", "engine": "rules"}}
        assert call("POST", b + "/generate", f"Bearer {user_key}", **job) == 200
        assert call("POST", b + "/explain", f"Bearer {user_key}", json={"playbook": "- hosts: all"}) == 200
        assert call("POST", b + "/generate", f"Bearer {UNKNOWN_KEY}", **job) == 401
        assert call("POST", b + "/generate", f"bearer   {UNKNOWN_KEY}   ", **job) == 401
        assert call("GET", b + "/queue-status", "Basic " + base64.b64encode(f"alice:{BASIC_PASSWORD}".encode()).decode()) == 401
        assert call("GET", b + "/admin/backends", f"Bearer {user_key}") == 403
        assert call("GET", b + "/admin/backends", f"Bearer {admin_key}") == 200
        assert call("POST", b + "/generate", f"Bearer {user_key}", **job) == 200
        assert call("POST", b + "/generate", f"Bearer {user_key}", **job) == 429
        assert call("GET", b + f"/jobs/{UNKNOWN_KEY}", f"Bearer {user_key}") == 404  # a secret-looking path is the client's own
        assert call("POST", w + "/generate", headers={"X-Worker-Token": "wrong-" + WORKER_TOKEN}, **job) == 401
        assert call("POST", w + "/generate", f"Bearer {user_key}", **job) == 401
        assert call("POST", w + "/generate", headers={"X-Worker-Token": WORKER_TOKEN}, **job) == 200
        metrics = requests.get(b + "/metrics", timeout=10).text + requests.get(w + "/metrics", timeout=10).text
    finally:  # the logs are whole once the processes have ended
        balancer.stop()
        worker.stop()
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("balancer", "worker")}
    for name, text in logs.items():
        lines = [line for line in text.splitlines() if "/jobs/" not in line]  # the one path the client chose
        assert len(lines) > 10, f"{name} logged nothing"
        for secret in secrets:
            leaked = [line for line in lines if secret in line]
            assert not leaked, f"{secret!r} in the {name} log: {leaked[:2]}"
        assert "Bearer" not in text and "X-Worker-Token: " not in text
    for secret in secrets:
        assert secret not in metrics
    access = [line for line in logs["balancer"].splitlines() if "POST /generate" in line or '"/generate"' in line]
    assert access and all("alice" in line for line in access if " 200 " in line or '"status": 200' in line)
    if log_format == "json":
        records = [json.loads(line) for line in logs["balancer"].splitlines() if line.startswith("{")]
        assert any(r.get("key") == "alice" for r in records)
