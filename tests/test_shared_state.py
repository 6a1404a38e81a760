"""Several balancers, one farm (STATE_URL): real balancer processes sharing a real redis-server.

Two ``python3 app_distributed.py`` processes share one Redis and three one-slot fake workers
(real processes speaking the worker contract; each records how many jobs it runs at once and
when each started). Every request is real HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.balancer.test_faults import (FakeWorkerProcess, fake_worker, http, job_starts, overlapping_jobs,
                                        send_numbered_jobs, start_all, stop)
from tests.procs import ServiceProcess, free_port, python_service, wait_until
from tests.redis_server import RedisServer

LEASE_TTL_S = 3.0
JOB_S = 0.3


@dataclass
class SharedFarm:
    redis: RedisServer
    workers: list[FakeWorkerProcess]
    balancers: list[ServiceProcess]

    def status(self, balancer: ServiceProcess) -> dict[str, Any]:
        reply = http("GET", balancer.url + "/queue-status", timeout=5)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    def shared_in_flight(self) -> dict[str, int]:
        raw = self.redis.client().hgetall("dat:inflight")
        return {k.decode(): int(v) for k, v in raw.items()}

    def idle(self) -> bool:
        live = [b for b in self.balancers if b.proc is not None and b.proc.poll() is None]
        return all(self.status(b)["in_flight"] == 0 and self.status(b)["waiting"] == 0 for b in live) and \
            all(n == 0 for n in self.shared_in_flight().values())


def start_balancer(redis_url: str, workers: list[FakeWorkerProcess], log_dir: Path, name: str) -> ServiceProcess:
    port = free_port()
    return python_service(
        ["app_distributed.py"], port,
        {"BACKENDS": ",".join(w.url for w in workers), "STATE_URL": redis_url, "LEASE_TTL": str(LEASE_TTL_S),
         "HEALTH_INTERVAL": "0.5", "HEALTH_TIMEOUT": "1", "RETRIES": "0", "QUEUE_TIMEOUT": "60",
         "NO_PROXY": "*", "no_proxy": "*"},
        log_path=log_dir / f"balancer-{name}.log",
    )


@pytest.fixture(scope="module")
def shared_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedFarm]:
    """One farm for the module; ``farm`` mends what a test broke (a killed balancer, a killed Redis)."""
    log_dir = tmp_path_factory.mktemp("shared-farm")
    store = RedisServer(log_dir / "redis").start()
    workers = [fake_worker("slow", log_dir, "--delay", str(JOB_S)) for _ in range(3)]
    started: list[ServiceProcess] = []
    try:
        start_all(*workers)
        started.extend(workers)
        balancers = [start_balancer(store.url, workers, log_dir, name) for name in ("one", "two")]
        start_all(*balancers)
        started.extend(balancers)
        yield SharedFarm(store, workers, balancers)
    finally:
        stop(*started)
        store.stop()


@pytest.fixture
def farm(shared_farm: SharedFarm) -> SharedFarm:
    """The module's farm, whole again: Redis and both balancers up, three backends online, idle, journals empty."""
    if shared_farm.redis.proc is None or shared_farm.redis.proc.poll() is not None:
        shared_farm.redis.start()
    dead = [b for b in shared_farm.balancers if b.proc is None or b.proc.poll() is not None]
    if dead:
        start_all(*dead)
    for worker in shared_farm.workers:
        worker.set_mode("slow", delay=JOB_S)
    wait_until(lambda: all(shared_farm.status(b)["online_backends"] == 3 for b in shared_farm.balancers), 20,
               what="3 backends online on both balancers")
    wait_until(shared_farm.idle, LEASE_TTL_S + 3, what="an idle farm")
    for worker in shared_farm.workers:
        assert http("POST", worker.url + "/fake/reset", timeout=5).status_code == 200
    return shared_farm


def send_jobs(farm: SharedFarm, targets: list[ServiceProcess], *, spacing_s: float = 0.05,
              first: int = 0) -> tuple[list[threading.Thread], dict[int, requests.Response | BaseException]]:
    """One numbered /generate per target, ``spacing_s`` apart (the arrival order)."""
    return send_numbered_jobs([target.url for target in targets], first=first, spacing_s=spacing_s)


def journal(farm: SharedFarm) -> list[tuple[float, int]]:
    return job_starts(farm.workers)


def test_two_balancers_share_three_one_slot_workers_in_arrival_order(farm: SharedFarm) -> None:
    one, two = farm.balancers
    threads, results = send_jobs(farm, [one, two] * 15)
    for thread in threads:
        thread.join(90)
    assert sorted(results) == list(range(30))
    failed = {n: r for n, r in results.items() if not isinstance(r, requests.Response) or r.status_code != 200}
    assert not failed, {n: getattr(r, "text", r) for n, r in failed.items()}
    # never overbooked: no worker ever ran two jobs at once (beyond the fake's bookkeeping after a reply)
    assert overlapping_jobs(farm.workers, "echo job ") == [], [w.stats()["max_jobs_in_flight"] for w in farm.workers]
    # FIFO across both balancers: a job never starts before one that arrived earlier, beyond the
    # few milliseconds between the wake-ups of one dispatch
    starts = journal(farm)
    assert sorted(n for _, n in starts) == list(range(30))
    started_at = {n: t for t, n in starts}
    overtaken = [(a, b) for a in range(30) for b in range(a + 1, 30) if started_at[b] < started_at[a] - 0.05]
    assert not overtaken, overtaken
    assert {reply.headers["X-Backend"] for reply in results.values() if isinstance(reply, requests.Response)} == \
        {w.url for w in farm.workers}
    wait_until(farm.idle, 5, what="in_flight and waiting back to 0 on both balancers and in Redis")
    assert farm.status(one)["state"] == farm.status(two)["state"] == "redis"


def test_a_killed_balancers_slots_come_back_within_lease_ttl(farm: SharedFarm) -> None:
    one, two = farm.balancers
    for worker in farm.workers:
        worker.set_mode("slow", delay=2.0)  # the killed balancer's jobs hold every slot for a while
    threads_one, _ = send_jobs(farm, [one] * 3, spacing_s=0.02)
    wait_until(lambda: sum(farm.shared_in_flight().values()) == 3, 5, what="balancer one holding all three slots")
    for worker in farm.workers:
        worker.set_mode("slow", delay=JOB_S)
    threads_two, results = send_jobs(farm, [two] * 6, first=100, spacing_s=0.02)
    wait_until(lambda: farm.status(two)["waiting"] == 6, 5, what="balancer two's jobs waiting")
    assert one.proc is not None
    one.kill()  # the balancer and its gunicorn worker: no release, no goodbye
    killed = time.time()
    for thread in threads_two:
        thread.join(60)
    assert sorted(results) == list(range(100, 106))
    assert all(isinstance(r, requests.Response) and r.status_code == 200 for r in results.values()), results
    # its slots came back within LEASE_TTL (plus one health round that reaps them)
    first_after = min(t for t, n in journal(farm) if n >= 100)
    assert first_after - killed <= LEASE_TTL_S + 1.5, first_after - killed
    wait_until(farm.idle, 5, what="in_flight back to 0 on the live balancer and in Redis")
    for thread in threads_one:
        thread.join(1)


def test_a_redis_outage_is_a_clear_503_and_service_comes_back_with_no_slot_leaked(farm: SharedFarm) -> None:
    one, two = farm.balancers
    running, results = send_jobs(farm, [one, two], spacing_s=0.01)  # these run through the outage
    wait_until(lambda: sum(farm.shared_in_flight().values()) == 2, 5, what="two jobs running")
    farm.redis.kill()
    for balancer in farm.balancers:
        reply = http("POST", balancer.url + "/generate", json={"commands": "echo during the outage"}, timeout=10)
        assert reply.status_code == 503, reply.text
        assert reply.headers["Content-Type"].startswith("application/json")
        assert int(reply.headers["Retry-After"]) >= 1
        assert "state store" in reply.json()["error"] and "STATE_URL" in reply.json()["error"]
        assert farm.status(balancer)["state"] == "unreachable"
    for thread in running:
        thread.join(10)
    assert all(isinstance(r, requests.Response) and r.status_code == 200 for r in results.values()), results
    farm.redis.start()  # empty: it lost every lease; the jobs given back during the outage stay given back
    wait_until(lambda: all(farm.status(b)["state"] == "redis" for b in farm.balancers), 10, what="state: redis again")
    threads, after = send_jobs(farm, [one, two] * 3, first=200)
    for thread in threads:
        thread.join(30)
    assert all(isinstance(r, requests.Response) and r.status_code == 200 for r in after.values()), after
    wait_until(farm.idle, LEASE_TTL_S + 2, what="no slot leaked: in_flight 0 everywhere")
    assert all(n == 0 for n in farm.shared_in_flight().values())
    assert redis.Redis.from_url(farm.redis.url).llen("dat:queue") == 0


def test_haproxy_in_front_of_two_balancers_steps_around_a_killed_one(farm: SharedFarm, tmp_path: Path) -> None:
    """deploy/haproxy/two-balancers.cfg, unchanged, with real HAProxy: a balancer's death costs no job."""
    one, two = farm.balancers
    front_port = free_port()
    config = Path(__file__).resolve().parent.parent / "deploy" / "haproxy" / "two-balancers.cfg"
    haproxy = ServiceProcess(
        [haproxy_binary(), "-db", "-f", str(config)], front_port,
        {"FRONT_BIND": f"127.0.0.1:{front_port}", "BALANCER_1": f"127.0.0.1:{one.port}",
         "BALANCER_2": f"127.0.0.1:{two.port}"},
        log_path=tmp_path / "haproxy.log",
    )
    haproxy.start(20)
    try:
        front = ServiceProcess([], front_port)
        threads, results = send_jobs(farm, [front] * 12, spacing_s=0.03)
        wait_until(lambda: sum(farm.shared_in_flight().values()) >= 3, 5, what="jobs running")
        assert one.proc is not None
        one.kill()
        for thread in threads:
            thread.join(60)
        assert sorted(results) == list(range(12))
        failed = {n: getattr(r, "text", r) for n, r in results.items()
                  if not isinstance(r, requests.Response) or r.status_code != 200}
        assert not failed, failed
        wait_until(farm.idle, LEASE_TTL_S + 3, what="in_flight back to 0 on the live balancer and in Redis")
    finally:
        haproxy.stop()


def haproxy_binary() -> str:
    """Debian's haproxy (``make install`` installs it); a failure, never a skip, without it."""
    for candidate in ("/usr/sbin/haproxy", "/usr/bin/haproxy"):
        if Path(candidate).exists():
            return candidate
    raise AssertionError("haproxy is not installed: run `make install` (it installs Debian's haproxy)")


def test_a_split_job_runs_its_chunks_on_the_shared_slots(farm: SharedFarm) -> None:
    one, two = farm.balancers
    script = "\n".join(f"echo line {n}" for n in range(25))  # three chunks of 10 lines
    reply = http("POST", one.url + "/generate", json={"commands": script, "split": True}, timeout=60)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert len(body["chunks"]) == 3 and {c["backend"] for c in body["chunks"]} <= {w.url for w in farm.workers}
    assert overlapping_jobs(farm.workers) == [], [w.stats()["max_jobs_in_flight"] for w in farm.workers]
    wait_until(farm.idle, 5, what="every chunk's slot given back")
    assert farm.status(two)["state"] == "redis"
