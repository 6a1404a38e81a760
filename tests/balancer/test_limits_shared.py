"""Per-key limits that hold across balancers (issue 12, item 2): with STATE_URL the rate window and
the units of concurrency live in one real Redis, so two balancers count one budget per key."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from balancer.limits import KeyLimits
from common.apikeys import ApiKey, add_key, digest
from common.errors import ServiceUnavailable, TooManyRequests
from tests.farms import NO_PROXIES
from tests.procs import ServiceProcess, free_port, python_service

KEY = ApiKey("team", digest("k"), "user", rate_per_minute=3, max_concurrent=1)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    return "" if request.param == "memory" else str(request.getfixturevalue("redis_url"))


def test_the_rate_window_is_one_per_key_across_two_balancers(redis_url: str) -> None:
    first, second = KeyLimits(redis_url), KeyLimits(redis_url)
    first.count_request(KEY)
    second.count_request(KEY)
    first.count_request(KEY)
    with pytest.raises(TooManyRequests) as refused:
        second.count_request(KEY)
    assert 1 <= refused.value.retry_after_s <= 60 and refused.value.headers()["Retry-After"]


def test_units_of_concurrency_are_shared_and_given_back(redis_url: str) -> None:
    first, second = KeyLimits(redis_url), KeyLimits(redis_url)
    with first.job(KEY):
        with pytest.raises(TooManyRequests, match="max_concurrent"):
            with second.job(KEY):
                pass
    with second.job(KEY):  # given back when the job ended
        pass


def test_a_split_waits_for_its_keys_units_and_gives_them_all_back(store: str) -> None:
    limits = KeyLimits(store)
    key = ApiKey("wide", digest("w"), "user", rate_per_minute=10, max_concurrent=2)
    running, peak, lock = [0], [0], threading.Lock()

    def chunk(budget) -> None:  # type: ignore[no-untyped-def]
        with budget.unit():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            threading.Event().wait(0.05)
            with lock:
                running[0] -= 1

    with limits.split(key) as budget:
        threads = [threading.Thread(target=chunk, args=(budget,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert peak[0] == 2
    with limits.job(key), limits.job(key):  # both units are free again
        pass


def test_an_unreachable_store_is_a_503_not_a_free_pass() -> None:
    limits = KeyLimits(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(ServiceUnavailable, match="STATE_URL"):
        limits.count_request(KEY)
    with pytest.raises(ServiceUnavailable):
        with limits.job(KEY):
            pass


@pytest.fixture
def two_balancers(redis_url: str, tmp_path: Path) -> Iterator[tuple[list[ServiceProcess], str]]:
    keys = tmp_path / "keys.json"
    key, _ = add_key(keys, "shared-team", rate_per_minute=4, max_concurrent=5)
    port = free_port()
    worker = ServiceProcess([sys.executable, "-m", "tests.faults.fake_worker", "--port", str(port), "--mode", "good",
                             "--max-life", "300"], port, log_path=tmp_path / "worker.log")
    started = [worker.start()]
    try:
        balancers = [
            python_service(["app_distributed.py"], free_port(),
                           {"BACKENDS": worker.url, "STATE_URL": redis_url, "API_KEYS_FILE": str(keys),
                            "HEALTH_INTERVAL": "0.2", **NO_PROXIES}, log_path=tmp_path / f"balancer-{n}.log")
            for n in range(2)
        ]
        threads = [threading.Thread(target=b.start) for b in balancers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        started += balancers
        yield balancers, key
    finally:
        for service in reversed(started):
            service.stop()


def test_two_balancers_on_one_redis_hold_one_rate_limit(two_balancers: tuple[list[ServiceProcess], str]) -> None:
    balancers, key = two_balancers
    headers = {"Authorization": f"Bearer {key}"}
    statuses = [requests.post(balancers[n % 2].url + "/explain", json={"playbook": "- hosts: all"}, headers=headers,
                              timeout=30).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 200]
    for balancer in balancers:  # each has seen only two of the four: the fifth is refused by either
        refused = requests.post(balancer.url + "/explain", json={"playbook": "- hosts: all"}, headers=headers, timeout=30)
        assert refused.status_code == 429 and "4 jobs a minute" in refused.json()["error"]
        assert int(refused.headers["Retry-After"]) >= 1
    assert requests.post(balancers[0].url + "/explain", json={"playbook": "- hosts: all"}, timeout=30).status_code == 401
