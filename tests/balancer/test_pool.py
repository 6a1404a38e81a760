"""The backend pool: slots always given back, FIFO handoff, bounded queue, fail-fast, models."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from balancer import pool as pool_module
from balancer.pool import BackendPool, Lease
from balancer.settings import BackendSpec
from balancer.state import HealthReport, OutlierPolicy, Status
from common.disconnect import CancelEvent
from common.errors import ClientGone, ModelNotFound, NoBackendAvailable, QueueFull, QueueTimeout
from tests.balancer.conftest import FakeFarm
from tests.procs import wait_until

URLS = ["http://a:5001", "http://b:5001", "http://c:5001"]


def make_pool(count: int = 3, **kwargs: object) -> BackendPool:
    return BackendPool([BackendSpec(url) for url in URLS[:count]], **kwargs)  # type: ignore[arg-type]


def in_flight(pool: BackendPool) -> list[int]:
    return [b.in_flight for b in pool.snapshot().backends]


def wait_for_waiting(pool: BackendPool, count: int) -> None:
    wait_until(lambda: pool.snapshot().waiting == count, 10, 0.002, what=f"{count} waiting")


class Acquirer(threading.Thread):
    """A job acquiring a slot in the background; keeps the lease or the error."""

    def __init__(self, pool: BackendPool, model: str | None = None, **kwargs: object) -> None:
        super().__init__(daemon=True)
        self.pool, self.model, self.kwargs = pool, model, kwargs
        self.lease: Lease | None = None
        self.error: Exception | None = None
        self.got = threading.Event()

    def run(self) -> None:
        try:
            self.lease = self.pool.acquire(self.model, **self.kwargs)  # type: ignore[arg-type]
        except Exception as exc:
            self.error = exc
        self.got.set()


def test_jobs_spread_over_free_backends_and_slots_come_back() -> None:
    pool = make_pool()
    leases = [pool.acquire("m") for _ in range(3)]
    assert sorted(lease.url for lease in leases) == sorted(URLS)
    assert in_flight(pool) == [1, 1, 1]
    for lease in leases:
        lease.release()
        lease.release()  # idempotent
    assert in_flight(pool) == [0, 0, 0]


def test_slot_given_back_when_the_job_raises() -> None:
    pool = make_pool(1)
    with pytest.raises(RuntimeError):
        with pool.acquire("m"):
            assert in_flight(pool) == [1]
            raise RuntimeError("job failed")
    assert in_flight(pool) == [0]


def test_waiters_get_free_slots_in_arrival_order() -> None:
    pool = make_pool(1)
    first = pool.acquire("m")
    order: list[int] = []
    waiters = []
    for n in range(4):
        waiter = Acquirer(pool, "m")
        waiter.start()
        wait_for_waiting(pool, n + 1)
        waiters.append(waiter)
    first.release()
    for _ in range(4):
        got = wait_until(lambda: [w for w in waiters if w.got.is_set() and waiters.index(w) not in order], 10, 0.002,
                         what="a handoff")
        assert len(got) == 1, "one free slot must wake exactly one waiter"
        order.append(waiters.index(got[0]))
        assert got[0].lease is not None
        got[0].lease.release()
    assert order == [0, 1, 2, 3]
    assert pool.snapshot().waiting == 0 and in_flight(pool) == [0]


def test_full_queue_is_503_with_retry_after() -> None:
    pool = make_pool(1, max_queue=1, retry_after_s=7)
    lease = pool.acquire("m")
    waiter = Acquirer(pool, "m")
    waiter.start()
    wait_for_waiting(pool, 1)
    with pytest.raises(QueueFull) as caught:
        pool.acquire("m")
    assert caught.value.status == 503 and caught.value.headers() == {"Retry-After": "7"}
    lease.release()
    assert waiter.got.wait(5) and waiter.lease is not None
    waiter.lease.release()


def test_queue_timeout_is_503_and_leaves_the_queue() -> None:
    pool = make_pool(1, queue_timeout_s=0.05)
    with pool.acquire("m"):
        with pytest.raises(QueueTimeout) as caught:
            pool.acquire("m")
    assert caught.value.status == 503 and "Retry-After" in caught.value.headers()
    assert pool.snapshot().waiting == 0 and in_flight(pool) == [0]


def test_max_queue_zero_fails_fast_like_the_seed() -> None:
    pool = make_pool(2, max_queue=0)
    leases = [pool.acquire("m"), pool.acquire("m")]
    with pytest.raises(QueueFull):
        pool.acquire("m")
    leases[0].release()
    with pool.acquire("m") as lease:
        assert lease.url == leases[0].url
    leases[1].release()


def test_model_nobody_has_is_404_naming_it() -> None:
    pool = make_pool(2)
    for url in URLS[:2]:
        pool.report_health(url, HealthReport(ok=True, models=("codellama:13b",)))
    with pytest.raises(ModelNotFound) as caught:
        pool.acquire("llama9:70b")
    assert caught.value.status == 404 and "llama9:70b" in caught.value.message
    with pool.acquire("codellama:13b"):
        pass


def test_unknown_model_lists_do_not_give_404() -> None:
    pool = make_pool(2)
    pool.report_health(URLS[0], HealthReport(ok=True, models=("codellama:13b",)))
    with pool.acquire("mistral") as lease:  # b's list is not known yet: it may have it
        assert lease.url == URLS[1]


def test_job_for_a_model_waits_for_a_backend_that_has_it() -> None:
    pool = make_pool(2)
    pool.report_health(URLS[0], HealthReport(ok=True, models=("a:1",)))
    pool.report_health(URLS[1], HealthReport(ok=True, models=("a:1", "b:1")))
    held = pool.acquire("b:1")
    assert held.url == URLS[1]
    waiter = Acquirer(pool, "b:1")
    waiter.start()
    wait_for_waiting(pool, 1)
    with pool.acquire("a:1") as lease:  # a later job may use a slot the waiter cannot
        assert lease.url == URLS[0]
    assert not waiter.got.is_set()
    held.release()
    assert waiter.got.wait(5) and waiter.lease is not None and waiter.lease.url == URLS[1]
    waiter.lease.release()


def test_offline_backends_get_no_jobs_and_rejoin_when_healthy() -> None:
    pool = make_pool(2)
    pool.mark_offline(URLS[0], "connection refused")
    with pool.acquire("m") as lease:
        assert lease.url == URLS[1]
        waiter = Acquirer(pool, "m")
        waiter.start()
        wait_for_waiting(pool, 1)
        pool.report_health(URLS[0], HealthReport(ok=True))  # one good probe is not enough (HEALTH_RISE=2)
        assert not waiter.got.wait(0.2)
        pool.report_health(URLS[0], HealthReport(ok=True))  # back: the waiter gets it at once
        assert waiter.got.wait(5) and waiter.lease is not None and waiter.lease.url == URLS[0]
        waiter.lease.release()
    snap = pool.snapshot().backends[0]
    assert snap.status is Status.ONLINE and snap.last_error == "connection refused"


def test_nothing_online_is_503_at_once() -> None:
    pool = make_pool(2)
    for url in URLS[:2]:
        pool.mark_offline(url, "connection refused")
    with pytest.raises(NoBackendAvailable) as caught:
        pool.acquire("m")
    assert "offline" in caught.value.message


def test_excluded_backends_are_not_retried() -> None:
    pool = make_pool(2)
    with pool.acquire("m", exclude={URLS[0]}) as lease:
        assert lease.url == URLS[1]
    with pytest.raises(NoBackendAvailable):
        pool.acquire("m", exclude=set(URLS[:2]))


def test_draining_backend_finishes_but_takes_no_new_jobs() -> None:
    pool = make_pool(2)
    lease = pool.acquire("m")
    pool.set_draining(lease.url)
    with pool.acquire("m") as other:
        assert other.url != lease.url
    lease.release()
    assert pool.snapshot().backends[0].status is Status.DRAINING


@pytest.mark.parametrize("fail", [lambda pool, url: pool.mark_offline(url, "x"), lambda pool, url: None])
def test_many_threads_never_leak_or_overbook_slots(fail: Callable[[BackendPool, str], None]) -> None:
    pool = make_pool(3, max_queue=100)
    peak = {"over": 0}
    lock = threading.Lock()
    counts = {url: 0 for url in URLS}

    def job(n: int) -> None:
        with pool.acquire("m") as lease:
            with lock:
                counts[lease.url] += 1
                peak["over"] = max(peak["over"], counts[lease.url])
            if n == 5:
                fail(pool, lease.url)
            with lock:
                counts[lease.url] -= 1

    threads = [threading.Thread(target=job, args=(n,)) for n in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert peak["over"] == 1
    assert in_flight(pool) == [0, 0, 0] and pool.snapshot().waiting == 0


def test_a_waiter_whose_client_left_gives_up_its_place() -> None:
    pool = make_pool(1)
    held = pool.acquire("m")
    gone = threading.Event()
    leaving = Acquirer(pool, "m", cancel=gone)
    staying = Acquirer(pool, "m")
    leaving.start()
    wait_for_waiting(pool, 1)
    staying.start()
    wait_for_waiting(pool, 2)
    gone.set()
    assert leaving.got.wait(5) and isinstance(leaving.error, ClientGone)
    assert pool.snapshot().waiting == 1
    held.release()
    assert staying.got.wait(5) and staying.lease is not None  # the slot went to the job still wanted
    staying.lease.release()
    assert in_flight(pool) == [0]


def test_a_backend_without_configured_slots_takes_what_its_worker_reports(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    farm[0].slots = 3
    app = make_app(backends=(BackendSpec(farm.urls[0]), BackendSpec(farm.urls[1], slots=1)))
    balancer = app.extensions["balancer"]
    assert [b["slots"] for b in app.test_client().get("/queue-status").json["backends"]] == [1, 1]
    balancer.health.check_once()
    assert [b["slots"] for b in app.test_client().get("/queue-status").json["backends"]] == [3, 1]
    assert balancer.pool.total_slots == 4


def test_a_retried_job_waits_at_the_front_of_the_queue() -> None:
    pool = make_pool(1)
    first = pool.acquire("m")
    newcomer = Acquirer(pool, "m")
    newcomer.start()
    wait_for_waiting(pool, 1)
    retried = Acquirer(pool, "m", retry=True)
    retried.start()
    wait_for_waiting(pool, 2)
    first.release()
    assert retried.got.wait(5) and retried.lease is not None
    assert not newcomer.got.is_set(), "the newcomer must not overtake the job that already waited its turn"
    retried.lease.release()
    assert newcomer.got.wait(5) and newcomer.lease is not None
    newcomer.lease.release()


# --- outlier detection -----------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def outlier_pool(count: int = 4, **policy: Any) -> tuple[BackendPool, Clock]:
    clock = Clock()
    pool = BackendPool([BackendSpec(f"http://w{n}:5001") for n in range(count)], clock=clock,
                       outliers=OutlierPolicy(**policy))
    return pool, clock


def status_of(pool: BackendPool, index: int) -> Status:
    return pool.snapshot().backends[index].status


def test_three_failures_in_a_row_eject_a_backend_and_a_success_resets_the_count() -> None:
    pool, _ = outlier_pool()
    url = pool.urls[0]
    pool.record_failure(url, "HTTP 500")
    pool.record_failure(url, "HTTP 500")
    pool.record_success(url)
    assert not pool.record_failure(url, "HTTP 500") and not pool.record_failure(url, "HTTP 500")
    assert status_of(pool, 0) is Status.ONLINE and pool.snapshot().backends[0].consecutive_failures == 2
    assert pool.record_failure(url, "HTTP 500")
    snap = pool.snapshot().backends[0]
    assert snap.status is Status.EJECTED and snap.ejections == 1 and snap.ejection_remaining_s == 30.0
    assert "ejected for 30s after 3 failed job(s) in a row: HTTP 500" == snap.last_error
    with pool.acquire("m") as lease:
        assert lease.url != url  # an ejected backend gets no jobs


def test_ejection_time_doubles_up_to_the_cap_and_probation_ejects_on_one_failure() -> None:
    pool, clock = outlier_pool(base_ejection_s=30, max_ejection_s=100)
    url = pool.urls[0]
    lengths = []
    for _ in range(3):
        while not pool.record_failure(url, "HTTP 500"):
            pass
        lengths.append(pool.snapshot().backends[0].ejection_remaining_s)
        clock.now += lengths[-1] or 0
        assert status_of(pool, 0) is Status.ONLINE  # back, on probation
    assert lengths == [30.0, 60.0, 100.0]
    assert pool.record_failure(url, "HTTP 500")  # on probation: the first failure ejects again


def test_a_backend_back_from_ejection_that_succeeds_leaves_probation() -> None:
    pool, clock = outlier_pool()
    url = pool.urls[0]
    for _ in range(3):
        pool.record_failure(url, "HTTP 500")
    clock.now += 30
    pool.record_success(url)
    assert not pool.record_failure(url, "HTTP 500")  # a fresh count of three again


def test_never_more_than_max_ejection_percent_are_ejected() -> None:
    pool, _ = outlier_pool(count=4, max_ejection_percent=50)
    for url in pool.urls[:3]:
        for _ in range(3):
            pool.record_failure(url, "HTTP 500")
    assert [b.status for b in pool.snapshot().backends] == [Status.EJECTED, Status.EJECTED, Status.ONLINE, Status.ONLINE]
    single, _ = outlier_pool(count=1)
    for _ in range(5):
        assert not single.record_failure(single.urls[0], "HTTP 500")  # the only backend is never ejected


def test_a_waiter_gets_a_backend_whose_ejection_ended() -> None:
    pool, clock = outlier_pool(count=2)
    for _ in range(3):
        pool.record_failure(pool.urls[0], "HTTP 500")
    held = pool.acquire("m")
    waiter = Acquirer(pool, "m")
    waiter.start()
    wait_for_waiting(pool, 1)
    clock.now += 31
    pool.tick()
    assert waiter.got.wait(5) and waiter.lease is not None and waiter.lease.url == pool.urls[0]
    waiter.lease.release()
    held.release()


# --- membership --------------------------------------------------------------------------------

def test_a_removed_backend_takes_no_new_jobs_and_is_forgotten_after_its_last_job() -> None:
    pool = make_pool(2)
    lease = pool.acquire("m")
    assert lease.url == URLS[0]
    assert pool.remove(URLS[0]) == 1
    snap = pool.snapshot().backends[0]
    assert snap.status is Status.DRAINING and snap.removing and snap.in_flight == 1
    with pool.acquire("m") as other:
        assert other.url == URLS[1]
    lease.release()
    assert pool.urls == (URLS[1],)
    with pytest.raises(KeyError):
        pool.remove(URLS[0])


def test_added_backends_take_waiting_jobs_and_apply_syncs_to_a_list() -> None:
    pool = make_pool(1)
    held = pool.acquire("m")
    waiter = Acquirer(pool, "m")
    waiter.start()
    wait_for_waiting(pool, 1)
    pool.add(BackendSpec(URLS[1]))
    assert waiter.got.wait(5) and waiter.lease is not None and waiter.lease.url == URLS[1]
    with pytest.raises(ValueError, match="already a member"):
        pool.add(BackendSpec(URLS[1]))
    added, removed, updated = pool.apply([BackendSpec(URLS[1], slots=2), BackendSpec(URLS[2])])
    assert (added, removed, updated) == ([URLS[2]], [URLS[0]], [URLS[1]])
    assert [b.url for b in pool.snapshot().backends if not b.removing] == [URLS[1], URLS[2]]
    held.release()
    waiter.lease.release()
    assert pool.urls == (URLS[1], URLS[2]) and pool.snapshot().backends[0].slots == 2


def test_a_waiter_whose_client_leaves_is_woken_at_once_not_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "CANCEL_POLL_S", 30.0)  # a poll would take 30 s
    pool = make_pool(1)
    held = pool.acquire("m")
    gone, stays = CancelEvent(), CancelEvent()
    leaving, staying = Acquirer(pool, "m", cancel=gone), Acquirer(pool, "m", cancel=stays)
    leaving.start()
    wait_for_waiting(pool, 1)
    staying.start()
    wait_for_waiting(pool, 2)
    gone.set()
    assert leaving.got.wait(5) and isinstance(leaving.error, ClientGone)
    assert pool.snapshot().waiting == 1
    held.release()
    assert staying.got.wait(5) and staying.lease is not None
    assert not stays._callbacks, "the waiter's callback is removed once it has its slot"
    staying.lease.release()
    assert in_flight(pool) == [0]


def test_cached_backend_snapshots_always_equal_fresh_ones() -> None:
    """Whatever happens to the pool, and however the clock moves, the cached view is the fresh one."""
    import random

    now = [1000.0]
    pool = BackendPool([BackendSpec(f"http://w{n}:5001", slots=2) for n in range(4)], clock=lambda: now[0],
                       outliers=OutlierPolicy(failures=1, base_ejection_s=5, max_ejection_percent=100))
    rng = random.Random(7)
    leases: list[Lease] = []
    urls = [f"http://w{n}:5001" for n in range(4)]
    for _ in range(400):
        action = rng.randrange(9)
        url = rng.choice(urls)
        if action == 0 and len(leases) < 8:
            try:
                leases.append(pool.acquire(None, timeout_s=0.001))
            except Exception:
                pass
        elif action == 1 and leases:
            leases.pop(rng.randrange(len(leases))).release()
        elif action == 2:
            pool.record_failure(url, "HTTP 500")
        elif action == 3:
            pool.record_success(url)
        elif action == 4:
            pool.report_health(url, HealthReport(ok=rng.random() < 0.6, models=("m",), queue_size=rng.randrange(3),
                                                 active=rng.random() < 0.5, slots=rng.choice([None, 1, 2])))
        elif action == 5:
            pool.mark_offline(url, "connection refused")
        elif action == 6:
            pool.set_draining(url, rng.random() < 0.5)
        else:
            now[0] += rng.choice([0.001, 0.5, 3.0, 7.0])
        with pool._lock:
            fresh = tuple(b._snapshot(now[0]) for b in pool._backends.values())
        assert pool.snapshot().backends == fresh
