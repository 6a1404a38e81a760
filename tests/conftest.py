"""Shared fixtures: real worker processes on free loopback ports against the Ollama emulator."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.certs import CertFiles, make_certs
from tests.procs import ServiceProcess, free_port, python_service, stop_processes
from tests.redis_server import RedisServer
from validation.validator import PlaybookValidator


@pytest.fixture(scope="session")
def validator() -> Iterator[PlaybookValidator]:
    """One real validator (argspecs + warm syntax-check helper) shared by the web tests."""
    shared = PlaybookValidator()
    shared.warm_up()
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """One set of test certificates (CA, server, client, and a rogue CA's) for the whole session."""
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start ``python3 app.py`` workers (as the seed does); all are stopped by pid afterwards."""
    started: list[ServiceProcess] = []

    def start(llm_url: str, port: int | None = None, *, wait: bool = True, **env: str) -> ServiceProcess:
        """One worker; ``wait=False`` only launches it (then ``start_processes``/``wait_ready`` it with others)."""
        port = port or free_port()
        worker = python_service(
            ["app.py"],
            port,
            {"OLLAMA_HOST": llm_url, "MODELS_REFRESH": "1", **env},
            log_path=tmp_path / f"worker-{port}.log",
        )
        started.append(worker)
        return worker.start() if wait else worker.launch()

    yield start
    stop_processes(*started)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session (Debian's; ``make install`` installs it)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test (restarted first if a test killed it)."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    redis_server.client().flushall()
    return redis_server.url


def pytest_report_header() -> str:
    return f"python: {sys.executable}"
