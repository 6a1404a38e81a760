"""A small real farm for outside-in tests (the browser and the CLI): the Ollama emulator, real
``python3 app.py`` workers on it and a real ``python3 app_distributed.py`` in front, each a
process on a free loopback port, started in parallel and ended by pid."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.emulator.fixtures import EmulatorProcess
from tests.procs import ServiceProcess, free_port, python_service, start_processes, stop_processes, wait_until

# every *_proxy variable off for the processes a test starts: loopback only, whatever the environment says
NO_PROXIES = {name: "" for base in ("http", "https", "all") for name in (f"{base}_proxy", f"{base.upper()}_PROXY")}
NO_PROXIES |= {"NO_PROXY": "*", "no_proxy": "*"}
HTTP = requests.Session()
HTTP.trust_env = False


@dataclass
class Farm:
    """The running farm: ``url`` is the balancer's."""

    emulator: EmulatorProcess
    workers: list[ServiceProcess]
    balancer: ServiceProcess
    api_key: str | None = None  # sent with the farm's own status reads when the balancer asks for keys

    @property
    def url(self) -> str:
        return self.balancer.url

    def status(self) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        reply = HTTP.get(self.url + "/queue-status", timeout=5, headers=headers)
        reply.raise_for_status()
        result: dict[str, Any] = reply.json()
        return result

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until every worker is online at the balancer with its models known."""
        wait_until(
            lambda: all(b["status"] == "online" and b["models"] for b in self.status()["backends"]),
            timeout_s, 0.1, what="every backend online with its models",
        )

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Until no job runs or waits anywhere in the farm."""
        wait_until(lambda: self.status()["queue_size"] == 0 and self.emulator.stats()["in_flight"] == 0,
                   timeout_s, 0.05, what="an idle farm")


@contextmanager
def running_farm(log_dir: Path, *, workers: int = 2, api_key: str | None = None, **balancer_env: str) -> Iterator[Farm]:
    """Start the farm (one slot per worker), yield it, and stop every process it started by pid."""
    emulator = EmulatorProcess(log_path=log_dir / "ollama_emulator.log")
    worker_procs = [
        python_service(["app.py"], port, {"OLLAMA_HOST": emulator.url, "MODELS_REFRESH": "1", "WORKER_SLOTS": "1",
                                          **NO_PROXIES}, log_path=log_dir / f"worker-{port}.log")
        for port in (free_port() for _ in range(workers))
    ]
    balancer = python_service(
        ["app_distributed.py"], free_port(),
        {"BACKENDS": ",".join(w.url for w in worker_procs), "HEALTH_INTERVAL": "0.2", "HEALTH_TIMEOUT": "1",
         "CHUNK_SIZE": "2", **NO_PROXIES, **balancer_env},
        log_path=log_dir / "balancer.log",
    )
    started = [emulator.process, *worker_procs, balancer]
    try:
        start_processes(*started, timeout_s=60)
        farm = Farm(emulator, worker_procs, balancer, api_key)
        farm.wait_ready()
        yield farm
    finally:
        stop_processes(*started)  # SIGTERM to each at once: their graceful stops overlap
