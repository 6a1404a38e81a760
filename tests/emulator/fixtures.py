"""Pytest plugin: the Ollama emulator and the real SmolLM2 server as real processes.

Load it with ``pytest_plugins = ["tests.emulator.fixtures"]`` or ``-p tests.emulator.fixtures``.

- ``ollama_emulator`` (function scope): an ``EmulatorProcess`` on a free loopback port, in its
  start-up state (one process per session, reset before each test; restarted if a test ended it).
- ``smollm2_server`` (session scope): base URL of ``python -m worker.local_llm`` serving the
  SmolLM2 GGUF through xllamacpp's OpenAI-compatible server. It never skips: when the model
  cannot start, the test fails and says why.

``EmulatorProcess`` works without pytest too::

    with EmulatorProcess(models=["codellama:13b"]) as emu:
        emu.queue_replies([{"status": 500, "error": "boom"}])
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulator.ollama_emulator import DEFAULT_MODELS
from tests.procs import ServiceProcess, free_port

LOCAL_LLM_MODEL = "smollm2:135m"


class EmulatorProcess:
    """One emulator child process, driven through its ``/_emulator`` control API."""

    def __init__(
        self,
        port: int | None = None,
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        delay_s: float = 0.0,
        log_path: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        argv = [
            sys.executable,
            "-m",
            "tests.emulator.ollama_emulator",
            "--port",
            str(self.port),
            "--models",
            ",".join(models),
            "--delay-s",
            str(delay_s),
        ]
        self.process = ServiceProcess(argv, self.port, ready_path="/api/version", log_path=log_path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "EmulatorProcess":
        self.process.start()
        return self

    def stop(self) -> None:
        """SIGTERM the child (by pid) and wait for it."""
        self.process.stop()

    def kill(self) -> None:
        """SIGKILL the child, as a crash would."""
        self.process.kill()

    def restart(self) -> "EmulatorProcess":
        """Stop if running, then start again on the same port (fresh state)."""
        self.stop()
        return self.start()

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = requests.post(self.url + path, json=dict(body or {}), timeout=10)
        response.raise_for_status()
        return response.json()

    def _get(self, path: str) -> Any:
        response = requests.get(self.url + path, timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget replies, requests, stats; restore start-up config; release hangs."""
        self._post("/_emulator/reset")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change ``delay_s`` and/or ``models``; returns the new config."""
        result: dict[str, Any] = self._post("/_emulator/config", settings)
        return result

    def queue_replies(self, replies: Sequence[Mapping[str, Any]]) -> None:
        """Queue scripted replies: ``{"content", "delay_s"?}``, ``{"status", "error"}``, ``{"hang": True}``."""
        self._post("/_emulator/replies", {"replies": list(replies)})

    def requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat/generate/completions requests received, in order."""
        result: list[dict[str, Any]] = self._get("/_emulator/requests")
        return result

    def stats(self) -> dict[str, int]:
        """``in_flight``, ``max_in_flight``, ``served``, ``cancelled``."""
        result: dict[str, int] = self._get("/_emulator/stats")
        return result


@pytest.fixture(scope="session")
def _emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """The session's one emulator process; stopped by pid at the end."""
    emulator = EmulatorProcess(log_path=tmp_path_factory.mktemp("ollama-emulator") / "ollama_emulator.log")
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def ollama_emulator(_emulator_process: EmulatorProcess) -> EmulatorProcess:
    """An emulator in its start-up state: the session's process, reset (replies, requests, stats,
    models and delay; hanging requests released), or started again when a test stopped or killed it."""
    process = _emulator_process.process.proc
    if process is None or process.poll() is not None:
        return _emulator_process.start()
    _emulator_process.reset()
    return _emulator_process


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the real SmolLM2 (xllamacpp) OpenAI-compatible server."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("smollm2") / "local_llm.log"
    server = ServiceProcess(
        [sys.executable, "-m", "worker.local_llm", "--port", str(port)],
        port,
        ready_path="/health",
        log_path=log_path,
    )
    try:
        server.start(timeout_s=180)
    except AssertionError as exc:
        server.kill()
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else "(no log)"
        pytest.fail(
            f"the embedded SmolLM2 server (python -m worker.local_llm) did not start: {exc}\n"
            f"--- last lines of {log_path} ---\n{tail}",
            pytrace=False,
        )
    try:
        yield server.url
    finally:
        server.stop()
