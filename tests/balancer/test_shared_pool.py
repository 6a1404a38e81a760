"""The shared pool over each ledger: a real redis-server (STATE_URL) and a shared-memory region
(BALANCER_PROCESSES); several pools in one process, one store. Separate processes on the
shared-memory ledger: tests/balancer/test_processes.py."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from balancer.settings import BackendSpec
from balancer.shared_pool import Ledger, SharedPool
from balancer.shared_state import RedisLedger, StateUnavailable
from balancer.shm_state import ShmLedger, ShmRegion
from balancer.state import HealthReport, OutlierPolicy, Status
from common.errors import ClientGone, QueueFull, QueueTimeout
from tests.procs import free_port, wait_until
from tests.redis_server import RedisServer

URLS = ("http://w1:5001", "http://w2:5001", "http://w3:5001")


def _pool_maker(kind: str, redis_url: str) -> tuple[Callable[..., SharedPool], list[SharedPool]]:
    """A maker of SharedPools over one ledger of ``kind`` (every pool it makes shares it), and its pools."""
    made: list[SharedPool] = []
    region = ShmRegion.create(64) if kind == "shared-memory" else None

    def make(url: str = redis_url, *, lease_ttl_s: float = 15.0, slots: int = 1, **kwargs: object) -> SharedPool:
        ledger: Ledger = (ShmLedger(region, lease_ttl_s=lease_ttl_s) if region is not None
                          else RedisLedger(url, lease_ttl_s=lease_ttl_s))
        pool = SharedPool([BackendSpec(u, slots=slots) for u in URLS], ledger=ledger, **kwargs)  # type: ignore[arg-type]
        pool.ensure_started()
        made.append(pool)
        return pool

    return make, made


@pytest.fixture(params=["redis", "shared-memory"])
def make_pool(request: pytest.FixtureRequest) -> Iterator[Callable[..., SharedPool]]:
    """Pools over either ledger: what a shared pool does, it does over Redis and in shared memory."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    make, made = _pool_maker(request.param, redis_url)
    yield make
    for pool in made:
        pool.stop()


@pytest.fixture
def make_redis_pool(redis_url: str) -> Iterator[Callable[..., SharedPool]]:
    """Pools over Redis only: for what is about Redis itself (unreachable, restarted)."""
    make, made = _pool_maker("redis", redis_url)
    yield make
    for pool in made:
        pool.stop()


def acquire_in_thread(pool: SharedPool, results: list[object], **kwargs: object) -> threading.Thread:
    def run() -> None:
        try:
            results.append(pool.acquire(None, **kwargs))  # type: ignore[arg-type]
        except Exception as exc:
            results.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_two_pools_share_the_slots_and_one_fifo_queue(make_pool: Callable[..., SharedPool]) -> None:
    a, b = make_pool(), make_pool()
    leases = [a.acquire(None), b.acquire(None), a.acquire(None)]
    assert sorted(lease.url for lease in leases) == sorted(URLS)  # one job per one-slot worker, whoever took it
    assert a.snapshot().waiting == 0 and all(x.in_flight == 1 for x in b.snapshot().backends)

    served: list[tuple[int, object]] = []
    order = [b, a, b, a]  # arrival order alternates between the balancers
    threads = []
    for index, pool in enumerate(order):
        results: list[object] = []
        threads.append((index, results, acquire_in_thread(pool, results, timeout_s=10)))
        wait_until(lambda i=index: a.snapshot().waiting == i + 1, 5, what=f"waiter {index} queued")
    for lease in leases:  # each freed slot goes to the oldest waiter, on whichever balancer it waits
        lease.release()
        wait_until(lambda n=len(served): sum(1 for _, r, _ in threads if r) == n + 1, 5, what="one waiter served")
        served.extend((index, results[0]) for index, results, _ in threads
                      if results and index not in {i for i, _ in served})
    assert [index for index, _ in served] == [0, 1, 2]
    assert not any(isinstance(lease, Exception) for _, lease in served)
    assert a.snapshot().waiting == 1  # the fourth still waits: three slots only
    for _, lease in served:
        lease.release()  # type: ignore[attr-defined]
    threads[3][2].join(5)
    threads[3][1][0].release()  # type: ignore[union-attr]
    assert a.snapshot().waiting == 0
    assert all(x.in_flight == 0 for x in a.snapshot().backends)


def test_thirty_jobs_from_two_pools_never_overbook_a_slot(make_pool: Callable[..., SharedPool]) -> None:
    pools = [make_pool(), make_pool()]
    running: Counter[str] = Counter()
    most: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def job(n: int) -> None:
        try:
            with pools[n % 2].acquire(None, timeout_s=30) as lease:
                with lock:
                    running[lease.url] += 1
                    most[lease.url] = max(most[lease.url], running[lease.url])
                time.sleep(0.02)
                with lock:
                    running[lease.url] -= 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert set(most) <= set(URLS) and max(most.values()) == 1
    assert pools[0].snapshot().waiting == 0
    assert all(b.in_flight == 0 for b in pools[1].snapshot().backends)


def test_a_dead_balancers_slots_and_waiters_come_back_within_lease_ttl(make_pool: Callable[..., SharedPool]) -> None:
    dead, alive = make_pool(lease_ttl_s=1.0), make_pool(lease_ttl_s=1.0)
    taken = [dead.acquire(None) for _ in URLS]
    assert len({lease.url for lease in taken}) == 3
    results: list[object] = []
    acquire_in_thread(dead, results, timeout_s=30)  # a waiter of the balancer that will die
    wait_until(lambda: alive.snapshot().waiting == 1, 5, what="the dead balancer's waiter queued")
    dead.stop()  # as SIGKILL would: no release, no leave, no renewal from now on
    died = time.monotonic()
    lease = alive.acquire(None, timeout_s=10)  # waits in the queue until the store reaps the dead leases
    assert time.monotonic() - died < 1.0 + 2.0  # LEASE_TTL, plus one dispatch
    lease.release()
    # the dead waiter leaves the queue; a slot the store handed it meanwhile is never renewed, so it
    # comes back within LEASE_TTL too
    wait_until(lambda: alive.snapshot().waiting == 0, 3, what="the dead waiter gone from the queue")
    wait_until(lambda: all(b.in_flight == 0 for b in alive.snapshot().backends), 1.0 + 2.0,
               what="every slot free again")


def test_a_queue_timeout_or_a_cancel_leaves_the_queue_and_gives_back_a_slot_handed_over(
    make_pool: Callable[..., SharedPool],
) -> None:
    a, b = make_pool(max_queue=5), make_pool(max_queue=5)
    leases = [a.acquire(None) for _ in URLS]
    with pytest.raises(QueueTimeout):
        b.acquire(None, timeout_s=0.3)
    assert a.snapshot().waiting == 0
    cancel = threading.Event()
    results: list[object] = []
    thread = acquire_in_thread(b, results, timeout_s=30, cancel=cancel)
    wait_until(lambda: a.snapshot().waiting == 1, 5, what="queued")
    cancel.set()
    thread.join(5)
    assert isinstance(results[0], ClientGone)
    assert a.snapshot().waiting == 0
    for lease in leases:
        lease.release()
    assert all(x.in_flight == 0 for x in a.snapshot().backends)


def test_the_queue_bound_is_shared(make_pool: Callable[..., SharedPool]) -> None:
    a, b = make_pool(max_queue=1), make_pool(max_queue=1)
    leases = [a.acquire(None) for _ in URLS]
    results: list[object] = []
    thread = acquire_in_thread(a, results, timeout_s=5)
    wait_until(lambda: b.snapshot().waiting == 1, 5, what="queued")
    with pytest.raises(QueueFull):
        b.acquire(None)
    for lease in leases:
        lease.release()
    thread.join(5)
    results[0].release()  # type: ignore[union-attr]


def test_an_ejection_on_one_balancer_keeps_the_others_away(make_pool: Callable[..., SharedPool]) -> None:
    a = make_pool(outliers=OutlierPolicy(failures=1, base_ejection_s=30, max_ejection_percent=100))
    b = make_pool()
    assert a.record_failure(URLS[0], "HTTP 500 from the worker")
    seen = {x.url: x for x in b.snapshot().backends}[URLS[0]]
    assert seen.status is Status.EJECTED and "500" in (seen.last_error or "")
    urls = []
    for _ in range(2):
        lease = b.acquire(None)
        urls.append(lease.url)
    assert URLS[0] not in urls  # b never saw a failure itself, but a's ejection holds for it too


def test_an_offline_mark_ends_when_its_balancer_sees_the_backend_again(make_pool: Callable[..., SharedPool]) -> None:
    a, b = make_pool(), make_pool()
    a.mark_offline(URLS[1], "connection refused")
    assert {x.url: x.status for x in b.snapshot().backends}[URLS[1]] is Status.OFFLINE
    for _ in range(2):
        a.report_health(URLS[1], HealthReport(ok=True))
    assert {x.url: x.status for x in b.snapshot().backends}[URLS[1]] is Status.ONLINE


def test_an_unreachable_store_is_a_503_naming_it_and_the_status_says_so(
        make_redis_pool: Callable[..., SharedPool]) -> None:
    pool = make_redis_pool(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StateUnavailable) as raised:
        pool.acquire(None)
    assert raised.value.status == 503 and "Retry-After" in raised.value.headers()
    assert "state store" in raised.value.message and "STATE_URL" in raised.value.message
    assert pool.snapshot().state == "unreachable"


def test_slots_survive_a_redis_restart_and_none_leaks(make_redis_pool: Callable[..., SharedPool],
                                                     redis_server: RedisServer) -> None:
    pool = make_redis_pool(lease_ttl_s=1.5)
    running = [pool.acquire(None), pool.acquire(None)]
    redis_server.kill()
    with pytest.raises(StateUnavailable):
        pool.acquire(None)
    running[0].release()  # during the outage: given back once the store answers
    redis_server.start()  # empty: it lost every lease
    wait_until(lambda: pool.snapshot().state == "redis" and sum(b.in_flight for b in pool.snapshot().backends) == 1,
               5, what="the running job counted again, the released one not")
    running[1].release()
    assert sum(b.in_flight for b in pool.snapshot().backends) == 0
    with pool.acquire(None):
        pass
    assert sum(b.in_flight for b in pool.snapshot().backends) == 0

