"""Balancer fixtures: a farm of fake workers behind ``FakeWorkerClient``, and apps built on it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from flask import Flask

from balancer.client import BackendUnreachable, FakeWorkerClient, WorkerReply, WorkerRequest, json_reply
from balancer.settings import BackendSpec, Settings
from balancer.web import create_app
from tests.procs import wait_until


def playbook_for(commands: str) -> str:
    """What the emulator answers: one task per non-blank, non-comment line, as one YAML doc."""
    tasks = [
        {"name": line.strip(), "ansible.builtin.shell": line}
        for line in commands.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return "---\n" + yaml.safe_dump([{"name": "Converted playbook", "hosts": "all", "become": True, "tasks": tasks}], sort_keys=False)


@dataclass
class FakeWorker:
    """One fake worker; tests flip its fields to make it fail, hang or answer differently."""

    url: str
    models: list[str] | None = field(default_factory=lambda: ["codellama:13b"])
    slots: int = 1  # what its /queue-status reports
    down: bool = False  # every request: connection refused
    status: int | None = None  # every job answers this status with an error body
    playbook: str | None = None  # a fixed playbook text instead of playbook_for(commands)
    fail_on: str | None = None  # jobs whose commands contain this answer 502
    gate: threading.Event | None = None  # jobs block until it is set
    probe_gate: threading.Event | None = None  # /queue-status blocks until it is set
    jobs: list[dict[str, Any]] = field(default_factory=list)
    running: int = 0
    max_running: int = 0


class FakeFarm:
    """Fake workers keyed by URL, and the handler FakeWorkerClient calls."""

    def __init__(self, count: int) -> None:
        self.workers = {f"http://w{n}.test:500{n}": FakeWorker(f"http://w{n}.test:500{n}") for n in range(1, count + 1)}
        self.lock = threading.Lock()
        self.client = FakeWorkerClient(self.handle)

    def __getitem__(self, index: int) -> FakeWorker:
        return list(self.workers.values())[index]

    @property
    def urls(self) -> list[str]:
        return list(self.workers)

    def job_calls(self) -> list[tuple[str, str, str]]:
        return [call for call in self.client.calls if call[2] != "/queue-status"]

    def release_all(self) -> None:
        for worker in self.workers.values():
            for gate in (worker.gate, worker.probe_gate):
                if gate is not None:
                    gate.set()

    def handle(self, request: WorkerRequest) -> WorkerReply:
        url, path, json, data, files = request.url, request.path, request.json, request.data, request.files
        worker = self.workers[url]
        if worker.down:
            raise BackendUnreachable(url, "connection refused")
        if path == "/queue-status":
            if worker.probe_gate is not None:
                worker.probe_gate.wait(10)
            return json_reply({"queue_size": worker.running, "active": worker.running > 0, "slots": worker.slots, "models": worker.models})
        with self.lock:
            worker.jobs.append({"path": path, "json": json, "data": data, "files": files})
            worker.running += 1
            worker.max_running = max(worker.max_running, worker.running)
        try:
            if worker.gate is not None:
                worker.gate.wait(10)
            if worker.fail_on is not None and worker.fail_on in str((json or {}).get("commands")):
                return json_reply({"error": "the LLM failed on this input"}, 502)
            if worker.status is not None:
                return json_reply({"error": f"fake failure {worker.status}"}, worker.status)
            if worker.down:  # went down while the job ran
                raise BackendUnreachable(url, "connection reset")
            return self.answer(worker, path, json, data, files)
        finally:
            with self.lock:
                worker.running -= 1

    def answer(self, worker: FakeWorker, path: str, body: Any, form: Any, files: Any) -> WorkerReply:
        if path in {"/generate", "/upload"}:
            commands = body["commands"] if path == "/generate" else files["file"][1].decode("utf-8")
            text = worker.playbook if worker.playbook is not None else playbook_for(commands)
            words = len(commands.split())
            return json_reply({"playbook": text, "elapsed": 0.01, "prompt_tokens": words, "response_tokens": 2 * words,
                               "total_tokens": 3 * words, "model": (body or form)["model"], "warnings": []})
        field = "code" if path == "/generate-code" else "explanation"
        return json_reply({field: f"{path} done", "elapsed": 0.01, "prompt_tokens": 1, "response_tokens": 1,
                           "total_tokens": 2})


def fake_settings(urls: list[str], **overrides: Any) -> Settings:
    """Settings for in-process tests: no background health thread, short queue timeout."""
    values: dict[str, Any] = {
        "backends": tuple(BackendSpec(url) for url in urls),
        "health_interval_s": 0,
        "queue_timeout_s": 10,
        "retry_after_s": 3,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def farm() -> Iterator[FakeFarm]:
    """Three fake one-slot workers; any gate left closed is opened at teardown."""
    fake = FakeFarm(3)
    yield fake
    fake.release_all()


@pytest.fixture
def make_app(farm: FakeFarm) -> Callable[..., Flask]:
    """Build a balancer app over ``farm`` with settings overrides."""

    def make(**overrides: Any) -> Flask:
        return create_app(fake_settings(farm.urls, **overrides), client=farm.client)

    return make


def wait_waiting(app: Flask, count: int) -> None:
    """Block until ``count`` jobs wait in the balancer's queue."""
    pool = app.extensions["balancer"].pool
    wait_until(lambda: pool.snapshot().waiting == count, 10, 0.005, what=f"{count} waiting jobs")


class SilentServer:
    """A TCP server that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()
