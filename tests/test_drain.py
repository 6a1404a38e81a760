"""SIGTERM drains: a long job in flight through the balancer completes while its worker and then
the balancer itself are told to stop; both exit 0 and no job is lost.

The job lasts DRAIN_JOB_S seconds (default 32: longer than gunicorn's default graceful timeout
of 30 s, which used to kill such jobs). The issue's check used a 90 s job:
``DRAIN_JOB_S=90 pytest tests/test_drain.py``.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import requests

from tests.emulator.fixtures import EmulatorProcess
from tests.procs import ServiceProcess, free_port, python_service, wait_until

JOB_S = float(os.environ.get("DRAIN_JOB_S", "32"))


def backend(balancer: ServiceProcess, url: str) -> dict[str, object]:
    status = requests.get(balancer.url + "/queue-status", timeout=5).json()
    return dict(next(b for b in status["backends"] if b["url"] == url))


def exits_with(service: ServiceProcess, timeout_s: float) -> int:
    assert service.proc is not None
    return service.proc.wait(timeout_s)


def test_sigterm_to_a_worker_and_then_the_balancer_mid_job_loses_nothing(
    ollama_emulator: EmulatorProcess, start_worker: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    first = start_worker(ollama_emulator.url, DEFAULT_ENGINE="llm")
    second = start_worker(ollama_emulator.url, DEFAULT_ENGINE="llm")
    balancer = python_service(
        ["app_distributed.py"], free_port(),
        {"BACKENDS": f"{first.url},{second.url}", "HEALTH_INTERVAL": "0.2", "HEALTH_TIMEOUT": "0.5", "TIMEOUT": str(JOB_S + 60)},
        log_path=tmp_path / "balancer.log",
    ).start()
    ollama_emulator.queue_replies([{"content": "a long explanation", "delay_s": JOB_S}])
    long_job: dict[str, object] = {}

    def send_long_job() -> None:
        reply = requests.post(balancer.url + "/explain", json={"playbook": "- hosts: all\n  tasks: []\n"}, timeout=JOB_S + 120)
        long_job.update(status=reply.status_code, body=reply.json(), backend=reply.headers.get("X-Backend"))

    sender = threading.Thread(target=send_long_job)
    sender.start()
    try:
        wait_until(lambda: ollama_emulator.stats()["in_flight"] == 1, 20, what="the long job running")
        busy = first if backend(balancer, first.url)["in_flight"] else second
        other = second if busy is first else first
        assert busy.proc is not None
        busy.proc.send_signal(signal.SIGTERM)

        # the worker says it is draining and refuses new work with 503 + Retry-After, while it keeps its job
        wait_until(lambda: requests.get(busy.url + "/queue-status", timeout=2).json()["status"] == "draining", 10,
                   what="the worker to report draining")
        refused = requests.post(busy.url + "/explain", json={"playbook": "x: 1"}, timeout=10)
        assert refused.status_code == 503 and refused.json()["draining"] is True and "Retry-After" in refused.headers
        wait_until(lambda: backend(balancer, busy.url)["status"] == "draining", 10, what="the balancer to see it draining")
        routed = requests.post(balancer.url + "/explain", json={"playbook": "x: 1"}, timeout=30)
        assert routed.status_code == 200 and routed.headers["X-Backend"] == other.url

        # now the balancer: it stops accepting at once, and still delivers the job in flight
        assert balancer.proc is not None
        balancer.proc.send_signal(signal.SIGTERM)

        def refused_connections() -> bool:
            try:
                requests.get(balancer.url + "/healthz", timeout=1)
            except requests.ConnectionError:
                return True
            return False

        wait_until(refused_connections, 10, what="the balancer to close its listener")
        assert sender.is_alive(), "the long job is still running"
        sender.join(JOB_S + 60)
        assert long_job["status"] == 200 and long_job["body"]["explanation"] == "a long explanation"  # type: ignore[index]
        assert long_job["backend"] == busy.url
        assert exits_with(busy, 30) == 0
        assert exits_with(balancer, 30) == 0
    finally:
        sender.join(1)
        balancer.stop()
    assert ollama_emulator.stats()["cancelled"] == 0  # the long job was never cut
