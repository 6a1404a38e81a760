"""Start real service processes on free loopback ports for integration tests; end them by pid."""

from __future__ import annotations

import os
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(list(self.argv), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout_s, what=f"{self.argv} on port {self.port}")
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
        """Signal the child and wait for it; SIGKILL if it does not end in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        """End the child at once, as a crash would."""
        self.stop(signal.SIGKILL)


def python_service(script_args: Sequence[str], port: int, env: Mapping[str, str], **kwargs) -> ServiceProcess:  # type: ignore[no-untyped-def]
    """A ServiceProcess running ``python3 <script_args>`` with this interpreter."""
    return ServiceProcess([sys.executable, *script_args], port, {"PORT": str(port), **env}, **kwargs)
