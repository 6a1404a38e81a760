"""Issue 3's Must-show items with real processes: three `app.py` workers on free loopback ports
against the Ollama emulator, and `app_distributed.py` in front of them (BACKENDS from env).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.balancer.conftest import SilentServer
from tests.balancer.test_fanout import PROTECTED
from tests.emulator.fixtures import EmulatorProcess
from tests.procs import ServiceProcess, free_port, python_service, stop_processes, wait_until

DATA = Path(__file__).resolve().parent.parent / "data" / "balancer"

# The seed's calls (seed/distributed-setup.md), verbatim but for the port: tests never take :5000.
SEED_GENERATE = """curl -X POST http://localhost:5000/generate \\
  -H "Content-Type: application/json" \\
  -d '{"commands": "...", "model": "codellama:13b", "split": true}'"""
SEED_STATUS = "curl http://localhost:5000/queue-status"


@dataclass
class Farm:
    """The emulator, three workers and the balancer; ``url`` is the balancer's."""

    emulator: EmulatorProcess
    workers: list[ServiceProcess]
    balancer: ServiceProcess
    start_worker: Callable[..., ServiceProcess]
    extra_backends: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.balancer.url

    def status(self) -> dict[str, Any]:
        response = requests.get(self.url + "/queue-status", timeout=5)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    def backend(self, url: str) -> dict[str, Any]:
        return next(b for b in self.status()["backends"] if b["url"] == url)


def start_farm(ollama_emulator: EmulatorProcess, start_worker: Callable[..., ServiceProcess], tmp_path: Path,
               *, delay_s: float, extra_backends: list[str] | None = None, **env: str) -> Farm:
    ollama_emulator.configure(delay_s=delay_s)
    # the LLM engine: these tests follow each line through the emulator's one-task-per-line answer
    workers = [start_worker(ollama_emulator.url, wait=False, DEFAULT_ENGINE="llm") for _ in range(3)]
    backends = [w.url for w in workers] + list(extra_backends or [])
    port = free_port()
    balancer = python_service(
        ["app_distributed.py"], port,
        {"BACKENDS": ",".join(backends), "HEALTH_INTERVAL": "0.2", "HEALTH_TIMEOUT": "0.5", "TIMEOUT": "60",
         "QUEUE_TIMEOUT": "60", **env},
        log_path=tmp_path / "balancer.log",
    )
    farm = Farm(ollama_emulator, workers, balancer, start_worker, list(extra_backends or []))
    balancer.launch()
    for service in [*workers, balancer]:
        service.wait_ready()
    # the first health round has run once every worker reports its models
    wait_until(lambda: all(b["models"] for b in farm.status()["backends"] if b["url"] not in farm.extra_backends),
               20, what="first health round")
    return farm


@pytest.fixture
def farm(ollama_emulator: EmulatorProcess, start_worker: Callable[..., ServiceProcess], tmp_path: Path) -> Iterator[Farm]:
    """Three one-slot workers (emulator delay 1 s per answer) behind the balancer."""
    running = start_farm(ollama_emulator, start_worker, tmp_path, delay_s=1.0)
    yield running
    stop_processes(running.balancer, *running.workers)


def crash(service: ServiceProcess) -> None:
    """SIGKILL a service and its forked gunicorn worker (its process group), as a machine crash would."""
    service.kill()


def curl(command: str, port: int) -> dict[str, Any]:
    """Run one of the seed's curl commands through a shell, pointed at ``port``."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    result = subprocess.run(["bash", "-c", command.replace("localhost:5000", f"localhost:{port}") + " --silent"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def tasks_of(playbook: str) -> list[str]:
    docs = list(yaml.safe_load_all(playbook))
    assert len(docs) == 1, "the reply must be ONE YAML document"
    return [task["name"] for play in docs[0] for task in play["tasks"]]


# 1. the seed's calls, verbatim --------------------------------------------------------------

def test_seed_curl_calls_work_verbatim(farm: Farm) -> None:
    port = farm.balancer.port
    status = curl(SEED_STATUS, port)
    assert {"queue_size", "active", "active_backends", "total_backends"} <= set(status)
    assert status["total_backends"] == 3 and status["queue_size"] == 0 and status["active"] is False

    body = curl(SEED_GENERATE, port)
    assert body["chunks_processed"] == 1 and body["chunks"][0]["first_line"] == 1
    assert tasks_of(body["playbook"]) == ["..."]

    script = "".join(f"echo {n}\n" for n in range(1, 13))
    with_script = SEED_GENERATE.replace('"commands": "..."', '"commands": ' + shlex.quote(json.dumps(script))[1:-1])
    body = curl(with_script, port)
    assert body["chunks_processed"] == 2 and tasks_of(body["playbook"]) == [f"echo {n}" for n in range(1, 13)]


# 2. nine concurrent jobs on three one-slot workers ------------------------------------------

def test_nine_concurrent_jobs_queue_and_all_succeed(farm: Farm) -> None:
    seen: list[dict[str, Any]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(farm.status())

    def job(n: int) -> requests.Response:
        return requests.post(farm.url + "/generate", json={"commands": f"echo job {n}", "model": "codellama:13b"},
                             timeout=60)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with ThreadPoolExecutor(9) as pool:
        responses = list(pool.map(job, range(9)))
    stop.set()
    watcher.join(5)

    assert [r.status_code for r in responses] == [200] * 9
    assert all(tasks_of(r.json()["playbook"]) == [f"echo job {n}"] for n, r in enumerate(responses))
    assert {r.headers["X-Backend"] for r in responses} == {w.url for w in farm.workers}
    busy = [s for s in seen if s["waiting"] > 0 and s["active_backends"] == 3]
    assert busy, "never saw all three backends busy with jobs waiting at the balancer"
    assert all(b["in_flight"] == 1 and b["status"] == "online" for b in busy[0]["backends"])
    assert max(s["waiting"] for s in seen) >= 3
    assert farm.emulator.stats()["max_in_flight"] == 3  # one job per one-slot worker at a time


# 3. a 35-line script split over three workers at once -----------------------------------------

def test_35_lines_split_into_4_chunks_on_three_workers_at_once(farm: Farm) -> None:
    lines = [f"sudo apt-get install -y package{n:02d}" for n in range(1, 36)]
    response = requests.post(farm.url + "/generate",
                             json={"commands": "\n".join(lines) + "\n", "model": "codellama:13b", "split": True},
                             timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert tasks_of(body["playbook"]) == lines  # every line's task, once, in order
    assert body["chunks_processed"] == 4
    chunks = body["chunks"]
    assert [(c["first_line"], c["last_line"]) for c in chunks] == [(1, 10), (11, 20), (21, 30), (31, 35)]
    first_three = chunks[:3]
    assert {c["backend"] for c in first_three} == {w.url for w in farm.workers}
    assert max(c["started"] for c in first_three) < min(c["finished"] for c in first_three), "not concurrent"
    assert farm.emulator.stats()["max_in_flight"] == 3
    assert body["total_tokens"] == body["prompt_tokens"] + body["response_tokens"] > 0
    assert body["elapsed"] < sum(c["elapsed"] for c in chunks)  # wall time, not the sum


# 4. continuations, heredocs and if-blocks are never cut -----------------------------------------

def test_split_never_cuts_continuation_heredoc_or_if(farm: Farm) -> None:
    script = (DATA / "constructs.sh").read_text()
    response = requests.post(farm.url + "/generate", json={"commands": script, "split": True, "model": "codellama:13b"},
                             timeout=60)
    assert response.status_code == 200, response.text
    chunks = response.json()["chunks"]
    assert len(chunks) >= 3
    for what, (first, last) in PROTECTED.items():
        assert any(c["first_line"] <= first and last <= c["last_line"] for c in chunks), f"{what} was cut: {chunks}"
    # each construct reached one worker whole, in one request
    prompts = [json.dumps(request) for request in farm.emulator.requests()]
    for first, last in PROTECTED.values():
        block = "".join(script.splitlines(True)[first - 1:last])
        assert sum(json.dumps(block)[1:-1] in p for p in prompts) == 1


# 5. a worker killed during a job --------------------------------------------------------------

def test_worker_killed_mid_job_job_completes_elsewhere_and_it_rejoins(farm: Farm) -> None:
    farm.emulator.configure(delay_s=3.0)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(requests.post, farm.url + "/generate",
                              json={"commands": "echo survive", "model": "codellama:13b"}, timeout=60)
        busy = wait_until(lambda: [b for b in farm.status()["backends"] if b["in_flight"]], 10, what="the job to start")
        victim = next(w for w in farm.workers if w.url == busy[0]["url"])
        wait_until(lambda: requests.get(victim.url + "/queue-status", timeout=2).json()["active"], 10,
                   what="the job to run on its worker")
        crash(victim)
        response = pending.result(60)
    assert response.status_code == 200
    assert response.headers["X-Backend"] != victim.url
    assert tasks_of(response.json()["playbook"]) == ["echo survive"]
    assert farm.backend(victim.url)["status"] == "offline"

    farm.start_worker(farm.emulator.url, port=victim.port, DEFAULT_ENGINE="llm")
    wait_until(lambda: farm.backend(victim.url)["status"] == "online", 20, what="the restarted worker to rejoin")
    farm.emulator.configure(delay_s=0.0)
    results = [requests.post(farm.url + "/generate", json={"commands": f"echo {n}"}, timeout=30) for n in range(3)]
    assert all(r.status_code == 200 for r in results)


# 6. /queue-status at once while a backend accepts connections and never replies -------------------

def test_queue_status_answers_at_once_while_a_backend_never_replies(
    ollama_emulator: EmulatorProcess, start_worker: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    silent = SilentServer()
    farm = start_farm(ollama_emulator, start_worker, tmp_path, delay_s=0.0, extra_backends=[silent.url])
    try:
        wait_until(lambda: silent.accepted, 10, what="a health probe to connect to the silent backend")
        timings = []
        for _ in range(30):  # spans several health rounds, each stuck on the silent backend
            start = time.monotonic()
            status = farm.status()
            timings.append(time.monotonic() - start)
        assert max(timings) < 1.0, timings
        wait_until(lambda: farm.backend(silent.url)["status"] == "offline", 10, what="the silent backend offline")
        entry = farm.backend(silent.url)
        assert "no answer" in entry["last_error"] or "did not answer" in entry["last_error"]
        assert status["total_backends"] == 4
        response = requests.post(farm.url + "/generate", json={"commands": "echo fine"}, timeout=30)
        assert response.status_code == 200 and response.headers["X-Backend"] != silent.url
        print(f"/queue-status: median {sorted(timings)[len(timings) // 2] * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms")
    finally:
        farm.balancer.stop()
        silent.close()


def test_a_client_that_leaves_mid_job_cancels_the_job_on_its_worker(farm: Farm) -> None:
    farm.emulator.configure(delay_s=30)
    body = json.dumps({"commands": "echo abandoned", "engine": "llm"}).encode()
    request = b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    with socket.create_connection(("127.0.0.1", farm.balancer.port)) as client:
        client.sendall(request % (len(body), body))
        wait_until(lambda: farm.emulator.stats()["in_flight"] == 1, what="the job streaming from the LLM")
    # the client is gone: the balancer drops the worker connection, the worker stops the LLM
    wait_until(lambda: farm.emulator.stats()["cancelled"] == 1, 20, what="the LLM stream cancelled")
    wait_until(lambda: farm.status()["in_flight"] == 0, 10, what="the balancer's slot given back")
    assert farm.emulator.stats()["served"] == 0, "nobody was sent an answer"
