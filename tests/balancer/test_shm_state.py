"""The shared-memory ledger itself (BALANCER_PROCESSES): its verbs, its queue, its wake-ups, its reaping.

The pool over it is tested with the Redis one (test_shared_pool.py), and with real processes in
tests/test_processes.py.
"""

from __future__ import annotations

import os
import threading
import time

from balancer.shared_state import Candidate, DownMark
from balancer.shm_state import MAX_OWNERS, ShmLedger, ShmRegion

ONE = (Candidate("http://w1:5001", 1),)


def ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n:031x}"[:32] for n in range(count)]


def test_a_retry_goes_to_the_front_and_a_waiter_that_leaves_is_skipped() -> None:
    ledger = ShmLedger(ShmRegion.create(64))
    assert ledger.acquire("1" * 32, "a" * 16, ONE, max_queue=10).outcome == "lease"
    waiters = ids("2", 3)
    for waiter in waiters:
        assert ledger.acquire(waiter, "a" * 16, ONE, max_queue=10).outcome == "queued"
    assert ledger.acquire("3" * 32, "a" * 16, ONE, max_queue=10, front=True).outcome == "queued"  # a retry
    assert ledger.leave(waiters[0]) == "left"
    assert ledger.view().waiting == 3
    order = []
    lease = "1" * 32
    for _ in range(3):
        assert ledger.release(lease) == "http://w1:5001"
        served = [w for w in ["3" * 32, *waiters] if ledger.lease_of(w)]
        assert len(served) == 1
        lease = served[0]
        order.append(lease)
    assert order == ["3" * 32, waiters[1], waiters[2]]
    assert ledger.release(lease) == "http://w1:5001"
    view = ledger.view()
    assert view.waiting == 0 and view.in_flight == {"http://w1:5001": 0}


def test_the_queue_bound_and_down_marks() -> None:
    ledger = ShmLedger(ShmRegion.create(64))
    two = (Candidate("http://w1:5001", 1), Candidate("http://w2:5001", 1))
    ledger.mark([DownMark("http://w1:5001", 30, "ejected", "3 failures")], [])
    assert ledger.acquire("1" * 32, "a" * 16, two, max_queue=1).url == "http://w2:5001"  # w1 is down
    assert ledger.acquire("2" * 32, "a" * 16, two, max_queue=1).outcome == "queued"
    assert ledger.acquire("3" * 32, "a" * 16, two, max_queue=1).outcome == "full"
    mark = ledger.view().down["http://w1:5001"]
    assert (mark.status, mark.reason) == ("ejected", "3 failures") and 0 < mark.seconds <= 30
    assert ledger.mark([], ["http://w1:5001"]) == 1  # up again: the waiter is served there at once
    assert ledger.lease_of("2" * 32) == "http://w1:5001"


def test_wake_ups_wait_for_room_rather_than_get_lost() -> None:
    """A process's datagram queue holds few wake-ups (net.unix.max_dgram_qlen); when it is full the
    sender waits until the process reads, and every wake-up arrives."""
    region = ShmRegion.create(256)
    sender, receiver = ShmLedger(region), ShmLedger(region)
    backends = [Candidate(f"http://w{n}:5001", 1) for n in range(30)]
    held = ids("1", 30)
    for lease, backend in zip(held, backends):
        assert sender.acquire(lease, "b" * 16, (backend,), max_queue=100).outcome == "lease"
    wakeups = receiver.subscribe("a" * 16)
    waiters = ids("2", 30)
    for waiter, backend in zip(waiters, backends):
        assert receiver.acquire(waiter, "a" * 16, (backend,), max_queue=100).outcome == "queued"
    releasing = threading.Thread(target=lambda: [sender.release(lease) for lease in held])
    releasing.start()
    time.sleep(0.3)  # let the queue fill while nobody reads
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 30 and time.monotonic() < deadline:
        woken = wakeups.get(1.0)
        if woken is not None:
            got.append(woken[0])
    releasing.join(5)
    wakeups.close()
    assert sorted(got) == sorted(waiters)


def test_a_dead_processs_tickets_are_reaped_and_its_row_freed() -> None:
    region = ShmRegion.create(64)
    ledger = ShmLedger(region, lease_ttl_s=60)
    pid = os.fork()
    if pid == 0:  # a balancer process that takes the slot, queues a job, and dies
        child = ShmLedger(region, lease_ttl_s=60)
        child.acquire("1" * 32, "c" * 16, ONE, max_queue=10)
        child.acquire("2" * 32, "c" * 16, ONE, max_queue=10)
        os._exit(0)
    os.waitpid(pid, 0)
    assert ledger.view().in_flight == {"http://w1:5001": 1} and ledger.view().waiting == 1
    ledger.renew("", [], [])  # any process's renewal reaps the dead one (its pid is gone)
    assert ledger.view().in_flight == {"http://w1:5001": 0} and ledger.view().waiting == 0
    assert ledger.acquire("3" * 32, "a" * 16, ONE, max_queue=10).outcome == "lease"
    owners = region.words("owner_pid")
    assert sum(1 for row in range(MAX_OWNERS) if owners[row] != 0) == 1  # only this process now
