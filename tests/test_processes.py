"""One balancer, several processes (BALANCER_PROCESSES=2): one pool in shared memory, real processes.

``python3 app_distributed.py`` with two gunicorn worker processes in front of three one-slot
fake workers (real processes speaking the worker contract; each records how many jobs it runs
at once and when each started). Every request is real HTTP, so the kernel decides which process
accepts which connection.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.balancer.test_faults import (FakeWorkerProcess, fake_worker, http, job_starts, overlapping_jobs,
                                        send_numbered_jobs, start_all, stop)
from tests.procs import ServiceProcess, free_port, python_service, wait_until

LEASE_TTL_S = 3.0
JOB_S = 0.3


@dataclass
class ProcessFarm:
    workers: list[FakeWorkerProcess]
    balancer: ServiceProcess

    def status(self) -> dict[str, Any]:
        reply = http("GET", self.balancer.url + "/queue-status", timeout=5)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    def processes(self) -> list[int]:
        """The pids of the balancer's serving processes (gunicorn's workers)."""
        assert self.balancer.proc is not None
        master = self.balancer.proc.pid
        kids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    kids.append(int(entry))
        return kids

    def idle(self) -> bool:
        status = self.status()
        return status["in_flight"] == 0 and status["waiting"] == 0


def worker_connections(pid: int, ports: set[int]) -> int:
    """How many established TCP connections process ``pid`` has to any of ``ports``."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return 0
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if fields[3] == "01" and remote_port in ports and fields[9] in inodes:
            count += 1
    return count


@pytest.fixture(scope="module")
def process_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessFarm]:
    log_dir = tmp_path_factory.mktemp("process-farm")
    workers = [fake_worker("slow", log_dir, "--delay", str(JOB_S)) for _ in range(3)]
    port = free_port()
    balancer = python_service(
        ["app_distributed.py"], port,
        {"BACKENDS": ",".join(w.url for w in workers), "BALANCER_PROCESSES": "2", "LEASE_TTL": str(LEASE_TTL_S),
         "HEALTH_INTERVAL": "0.5", "HEALTH_TIMEOUT": "1", "RETRIES": "0", "QUEUE_TIMEOUT": "60",
         "NO_PROXY": "*", "no_proxy": "*"},
        log_path=log_dir / "balancer.log",
    )
    started: list[ServiceProcess] = []
    try:
        start_all(*workers)
        started.extend(workers)
        start_all(balancer)
        started.append(balancer)
        yield ProcessFarm(workers, balancer)
    finally:
        stop(*started)


@pytest.fixture
def farm(process_farm: ProcessFarm) -> ProcessFarm:
    """The module's farm: two serving processes, three backends online, idle, journals empty."""
    wait_until(lambda: len(process_farm.processes()) == 2, 20, what="two serving processes")
    for worker in process_farm.workers:
        worker.set_mode("slow", delay=JOB_S)
    wait_until(lambda: process_farm.status()["online_backends"] == 3, 20, what="3 backends online")
    wait_until(process_farm.idle, LEASE_TTL_S + 3, what="an idle farm")
    for worker in process_farm.workers:
        assert http("POST", worker.url + "/fake/reset", timeout=5).status_code == 200
    return process_farm


def send_jobs(farm: ProcessFarm, count: int, *, spacing_s: float = 0.05,
              first: int = 0) -> tuple[list[threading.Thread], dict[int, requests.Response | BaseException]]:
    """``count`` numbered /generate requests to the balancer, ``spacing_s`` apart (the arrival order)."""
    return send_numbered_jobs([farm.balancer.url] * count, first=first, spacing_s=spacing_s)


def journal(farm: ProcessFarm) -> list[tuple[float, int]]:
    return job_starts(farm.workers)


def test_two_processes_share_three_one_slot_workers_in_arrival_order(farm: ProcessFarm) -> None:
    threads, results = send_jobs(farm, 30)
    for thread in threads:
        thread.join(90)
    assert sorted(results) == list(range(30))
    failed = {n: r for n, r in results.items() if not isinstance(r, requests.Response) or r.status_code != 200}
    assert not failed, {n: getattr(r, "text", r) for n, r in failed.items()}
    # never overbooked: no worker ever ran two jobs at once, whichever process took each job
    assert overlapping_jobs(farm.workers, "echo job ") == [], [w.stats()["max_jobs_in_flight"] for w in farm.workers]
    # one FIFO for both processes: a job never starts before one that arrived earlier, beyond the
    # few milliseconds between the wake-ups of one dispatch
    starts = journal(farm)
    assert sorted(n for _, n in starts) == list(range(30))
    started_at = {n: t for t, n in starts}
    overtaken = [(a, b) for a in range(30) for b in range(a + 1, 30) if started_at[b] < started_at[a] - 0.05]
    assert not overtaken, overtaken
    wait_until(farm.idle, 5, what="in_flight and waiting back to 0")
    status = farm.status()
    assert status["state"] == "shared-memory"
    assert status["total_backends"] == 3


def test_the_queue_and_slots_are_farm_wide_in_the_status_of_either_process(farm: ProcessFarm) -> None:
    for worker in farm.workers:
        worker.set_mode("slow", delay=2.0)
    threads, results = send_jobs(farm, 7, spacing_s=0.02)
    # whichever process answers /queue-status (a new connection each time), it sees all 3 running and 4 waiting
    wait_until(lambda: farm.status()["waiting"] == 4, 5, what="four jobs waiting")
    for _ in range(6):
        status = farm.status()
        assert (status["in_flight"], status["waiting"]) == (3, 4), status
    for worker in farm.workers:
        worker.set_mode("slow", delay=JOB_S)
    for thread in threads:
        thread.join(60)
    assert all(isinstance(r, requests.Response) and r.status_code == 200 for r in results.values()), results
    wait_until(farm.idle, 5, what="idle again")


def test_a_killed_process_gives_its_slots_back(farm: ProcessFarm) -> None:
    for worker in farm.workers:
        worker.set_mode("slow", delay=5.0)  # the killed process's jobs would hold their slots a while
    threads, _ = send_jobs(farm, 3, spacing_s=0.02)
    wait_until(lambda: farm.status()["in_flight"] == 3, 5, what="all three slots taken")
    ports = {w.port for w in farm.workers}
    holders = {pid: worker_connections(pid, ports) for pid in farm.processes()}
    victim = max(holders, key=lambda pid: holders[pid])
    assert holders[victim] >= 1, holders
    for worker in farm.workers:
        worker.set_mode("slow", delay=JOB_S)
    os.kill(victim, signal.SIGKILL)  # no release, no goodbye
    killed = time.time()
    threads_after, results = send_jobs(farm, 4, first=100, spacing_s=0.02)
    for thread in threads_after:
        thread.join(60)
    assert sorted(results) == list(range(100, 104))
    assert all(isinstance(r, requests.Response) and r.status_code == 200 for r in results.values()), \
        {n: getattr(r, "text", r) for n, r in results.items()}
    # the victim's slots came back at the next renewal of the other process (every LEASE_TTL/3), not
    # after its jobs' 5 s: at least one of the new jobs started well before those would have ended
    first_after = min(t for t, n in journal(farm) if n >= 100)
    assert first_after - killed <= LEASE_TTL_S / 3 + 1.5, first_after - killed
    for thread in threads:
        thread.join(10)
    wait_until(farm.idle, 10, what="every slot free again")
    wait_until(lambda: len(farm.processes()) == 2, 20, what="gunicorn started a new serving process")
