"""API keys on the balancer (issue 12, items 1 and 2), through the factory with fake workers:
401 without a known key, 403 for a user key on /admin, 429 with Retry-After past a key's rate or
concurrency, a split counted once and held to its key's max_concurrent, and SIGHUP reloading the
keys (and still the backends)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.apikeys import KeyRing, add_key, digest
from tests.balancer.conftest import FakeFarm
from tests.procs import wait_until


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "keys.json"
    user, _ = add_key(path, "alice", role="user", rate_per_minute=3, max_concurrent=1)
    admin, _ = add_key(path, "ops", role="admin", rate_per_minute=100, max_concurrent=5)
    return {"path": str(path), "user": user, "admin": admin}


@pytest.fixture
def client(make_app: Callable[..., Flask], keys: dict[str, Any]) -> FlaskClient:
    return make_app(api_keys_file=keys["path"]).test_client()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_only_digests_are_stored_and_the_key_is_found_by_its_digest(keys: dict[str, Any]) -> None:
    text = Path(keys["path"]).read_text()
    assert keys["user"] not in text and digest(keys["user"]) in text
    ring = KeyRing.load(keys["path"])
    assert ring.find(keys["user"]).name == "alice" and ring.find(keys["admin"]).role == "admin"  # type: ignore[union-attr]
    assert ring.find(keys["user"] + "x") is None and ring.find("") is None


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YTpi"},
                                     {"Authorization": "Bearer"}], ids=["none", "unknown", "basic", "empty"])
@pytest.mark.parametrize(("method", "path"), [("POST", "/generate"), ("GET", "/queue-status"), ("GET", "/jobs/x"),
                                              ("GET", "/admin/backends"), ("GET", "/status/history"), ("GET", "/no/such")])
def test_no_or_an_unknown_key_is_a_401_json_error(client: FlaskClient, headers: dict[str, str], method: str, path: str) -> None:
    reply = client.open(path, method=method, json={"commands": "ls"}, headers=headers)
    assert reply.status_code == 401 and reply.is_json and "API key" in reply.json["error"]
    assert reply.headers["WWW-Authenticate"] == "Bearer" and reply.headers["X-Request-Id"]


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/", "/status"])
def test_probes_metrics_and_the_static_pages_are_open(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_a_user_key_runs_jobs_and_reads_status_but_gets_403_on_admin(client: FlaskClient, keys: dict[str, Any]) -> None:
    user = bearer(keys["user"])
    assert client.post("/generate", json={"commands": "apt-get install -y nginx"}, headers=user).status_code == 200
    assert client.get("/queue-status", headers=user).status_code == 200
    for method, path in [("GET", "/admin/backends"), ("POST", "/admin/backends/drain"), ("POST", "/admin/reload"),
                         ("DELETE", "/admin/backends")]:
        reply = client.open(path, method=method, json={"url": "http://w1.test:5001"}, headers=user)
        assert reply.status_code == 403 and "admin" in reply.json["error"], (path, reply.json)
    admin = bearer(keys["admin"])
    assert client.get("/admin/backends", headers=admin).status_code == 200
    drained = client.post("/admin/backends/drain", json={"url": "http://w1.test:5001"}, headers=admin)
    assert drained.status_code == 200 and drained.json["backend"]["status"] == "draining"


def test_admin_token_still_opens_admin_when_keys_are_on(make_app: Callable[..., Flask], keys: dict[str, Any]) -> None:
    client = make_app(api_keys_file=keys["path"], admin_token="root-token").test_client()
    assert client.get("/admin/backends", headers=bearer("root-token")).status_code == 200
    assert client.get("/admin/backends", headers=bearer("wrong")).status_code == 401
    assert client.get("/admin/backends", headers=bearer(keys["user"])).status_code == 403


def test_past_its_rate_a_key_gets_429_with_retry_after(client: FlaskClient, keys: dict[str, Any]) -> None:
    user = bearer(keys["user"])
    for _ in range(3):
        assert client.post("/explain", json={"playbook": "- hosts: all"}, headers=user).status_code == 200
    for _ in range(5):  # status reads do not count
        assert client.get("/queue-status", headers=user).status_code == 200
    refused = client.post("/explain", json={"playbook": "- hosts: all"}, headers=user)
    assert refused.status_code == 429 and refused.is_json and "3 jobs a minute" in refused.json["error"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # another key has its own window
    assert client.post("/explain", json={"playbook": "- hosts: all"}, headers=bearer(keys["admin"])).status_code == 200


def test_past_its_concurrency_a_key_gets_429_until_its_job_ends(client: FlaskClient, keys: dict[str, Any], farm: FakeFarm) -> None:
    gate = threading.Event()
    for worker in farm.workers.values():
        worker.gate = gate
    user = bearer(keys["user"])
    first: list[int] = []
    runner = threading.Thread(target=lambda: first.append(
        client.post("/explain", json={"playbook": "- hosts: all"}, headers=user).status_code))
    runner.start()
    wait_until(lambda: sum(w.running for w in farm.workers.values()) == 1, 10, what="the first job running")
    refused = client.post("/explain", json={"playbook": "- hosts: all"}, headers=user)
    assert refused.status_code == 429 and "max_concurrent" in refused.json["error"] and refused.headers["Retry-After"]
    gate.set()
    runner.join(10)
    assert first == [200]
    assert client.post("/explain", json={"playbook": "- hosts: all"}, headers=user).status_code == 200


def test_a_split_is_one_request_and_runs_no_more_chunks_at_once_than_its_key_may(
    make_app: Callable[..., Flask], farm: FakeFarm, tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    key, _ = add_key(path, "splitter", rate_per_minute=2, max_concurrent=2)
    client = make_app(api_keys_file=str(path), chunk_size=1).test_client()
    script = "\n".join(f"echo {n}" for n in range(6))
    reply = client.post("/generate", json={"commands": script, "split": True}, headers=bearer(key))
    assert reply.status_code == 200 and reply.json["chunks_processed"] == 6
    assert sum(w.max_running for w in farm.workers.values()) <= 3  # each worker ran chunks one at a time
    limits = client.application.extensions["balancer"].limits
    held = limits._jobs._held.get("splitter", set())  # every unit given back
    assert held == set()
    assert client.post("/generate", json={"commands": "ls"}, headers=bearer(key)).status_code == 200  # 2nd request
    assert client.post("/generate", json={"commands": "ls"}, headers=bearer(key)).status_code == 429  # 3rd


def test_a_split_holds_at_most_max_concurrent_units(make_app: Callable[..., Flask], farm: FakeFarm, tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key, _ = add_key(path, "narrow", rate_per_minute=10, max_concurrent=2)
    app = make_app(api_keys_file=str(path), chunk_size=1)
    gate = threading.Event()
    for worker in farm.workers.values():
        worker.gate = gate
    reply: list[Any] = []
    runner = threading.Thread(target=lambda: reply.append(app.test_client().post(
        "/generate", json={"commands": "\n".join(f"echo {n}" for n in range(5)), "split": True}, headers=bearer(key))))
    runner.start()
    wait_until(lambda: sum(w.running for w in farm.workers.values()) == 2, 10, what="two chunks running")
    held = app.extensions["balancer"].limits._jobs._held
    assert len(held["narrow"]) == 2  # three workers are free, but the key allows two jobs at once
    assert sum(w.running for w in farm.workers.values()) == 2
    busy = app.test_client().post("/explain", json={"playbook": "- hosts: all"}, headers=bearer(key))
    assert busy.status_code == 429
    gate.set()
    runner.join(20)
    assert reply[0].status_code == 200 and reply[0].json["chunks_processed"] == 5
    assert held["narrow"] == set()


def test_sighup_reloads_the_keys_and_still_the_backends(
    make_app: Callable[..., Flask], keys: dict[str, Any], tmp_path: Path, farm: FakeFarm
) -> None:
    backends = tmp_path / "backends.json"
    backends.write_text(json.dumps({"backends": farm.urls[:2]}))
    app = make_app(api_keys_file=keys["path"], backends_file=str(backends))
    client = app.test_client()
    new, _ = add_key(keys["path"], "bob")
    assert client.get("/queue-status", headers=bearer(new)).status_code == 401
    backends.write_text(json.dumps({"backends": farm.urls[:1]}))
    app.extensions["lifecycle"].reload()  # what SIGHUP calls
    assert client.get("/queue-status", headers=bearer(new)).status_code == 200
    assert [b["url"] for b in client.get("/queue-status", headers=bearer(new)).json["backends"]] == farm.urls[:1]
    Path(keys["path"]).write_text("{not json")
    app.extensions["lifecycle"].reload()  # a broken file keeps the running keys
    assert client.get("/queue-status", headers=bearer(new)).status_code == 200


def test_a_malformed_keys_file_stops_the_start(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    from balancer.settings import ConfigError

    bad = tmp_path / "keys.json"
    for text, message in [("[]", "expected an object"), ('{"keys": [{"name": "a", "sha256": "xyz"}]}', "64 lower-case hex"),
                          ('{"keys": [{"name": "a", "sha256": "' + "0" * 64 + '", "role": "root"}]}', "role"),
                          ('{"keys": [{"name": "a", "sha256": "' + "0" * 64 + '", "max_concurrent": 0}]}', "max_concurrent")]:
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            make_app(api_keys_file=str(bad))
