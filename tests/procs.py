"""Start real service processes on free loopback ports for integration tests; end them by pid."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


# design: ports for test services come from below Linux's ephemeral range (32768-60999), where
# no outgoing connection can take one between this check and the child's bind; under
# pytest-xdist each test process draws from its own interleaved share, so two never collide.
TEST_PORTS = range(20000, 32768)


# ports handed out in this process: a port kept free on purpose (a backend that refuses
# connections) must never be handed out again to a service started later in the same test
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, from this process's share,
    never one this process handed out before."""
    index, count = _xdist_share()
    share = TEST_PORTS[index::count]
    for _ in range(500):
        port = random.choice(share)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port among {len(share)} tried at random 500 times")


def _xdist_share() -> tuple[int, int]:
    """(this process's index, how many test processes) under pytest-xdist, else (0, 1)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count < 2:
        return 0, 1
    return int(worker[2:]) % count, count


def wait_until(predicate, timeout_s: float = 20.0, interval_s: float = 0.05, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; return it, or fail after timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


@dataclass
class ServiceProcess:
    """One child process serving HTTP on ``port``; ``stop()`` ends exactly that pid."""

    argv: Sequence[str]
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    ready_path: str = "/healthz"
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    tls_ca: str | None = None  # it serves HTTPS with a certificate this CA signed
    client_cert: tuple[str, str] | None = None  # (cert, key) shown to it, when it asks for one

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> "ServiceProcess":
        """Launch the child and wait until it answers ``ready_path``."""
        self.launch()
        return self.wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float = 30.0) -> "ServiceProcess":
        """Wait until the launched child answers ``ready_path`` (fail at once if it exited)."""
        wait_until(self._ready, timeout_s, what=f"{self.argv} on port {self.port}")
        return self

    def launch(self) -> "ServiceProcess":
        """Start the child without waiting for it (``start_processes`` launches several, then waits)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        # its own process group: kill() ends the service with every process it forked (gunicorn's
        # worker would otherwise outlive a killed master and keep answering on its port)
        self.proc = subprocess.Popen(list(self.argv), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.argv} exited with {self.proc.returncode}; log: {self.log_path}")
        try:
            return requests.get(self.url + self.ready_path, timeout=1, verify=self.tls_ca or True,
                                cert=self.client_cert).status_code < 500
        except requests.RequestException:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
        """Signal the child and wait for it; kill its process group if it does not end in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if sig == signal.SIGKILL:
            self._kill_group()
        else:
            self.proc.send_signal(sig)
        self.wait_exit(timeout_s)

    def wait_exit(self, timeout_s: float = 15.0) -> None:
        """Wait for the signalled child to end; kill its process group if it does not in time."""
        assert self.proc is not None
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._kill_group()
            self.proc.wait(5)

    def kill(self) -> None:
        """End the child and every process it forked at once, as a crash of its machine would."""
        self.stop(signal.SIGKILL)

    def _kill_group(self) -> None:
        """SIGKILL the process group this object started (only the child, when it leads no group)."""
        assert self.proc is not None
        try:
            leads_group = os.getpgid(self.proc.pid) == self.proc.pid
        except ProcessLookupError:
            return
        if leads_group:
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            self.proc.kill()


def start_processes(*services: ServiceProcess, timeout_s: float = 30.0) -> None:
    """Launch every service, then wait for each: start-up costs the slowest, not the sum."""
    for service in services:
        service.launch()
    for service in services:
        service.wait_ready(timeout_s)


def stop_processes(*services: ServiceProcess, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
    """Signal every running service at once, then wait for each (its process group is killed on timeout)."""
    running = [s for s in services if s.proc is not None and s.proc.poll() is None]
    for service in running:
        assert service.proc is not None
        service.proc.send_signal(sig)
    for service in running:
        service.wait_exit(timeout_s)


def python_service(script_args: Sequence[str], port: int, env: Mapping[str, str], **kwargs) -> ServiceProcess:  # type: ignore[no-untyped-def]
    """A ServiceProcess running ``python3 <script_args>`` with this interpreter."""
    return ServiceProcess([sys.executable, *script_args], port, {"PORT": str(port), **env}, **kwargs)
