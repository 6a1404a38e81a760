"""The worker's FIFO job queue: slots, order, bounds, cancellation, timeouts."""

from __future__ import annotations

import threading

import pytest

from common.errors import ClientGone, QueueFull, QueueTimeout
from tests.procs import wait_until
from worker.jobs import JobQueue


def hold_slot(queue: JobQueue, release: threading.Event, started: threading.Event) -> threading.Thread:
    def run() -> None:
        with queue.slot("generate", "m"):
            started.set()
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(5)
    return thread


def test_a_free_slot_is_taken_at_once_without_a_queue_position() -> None:
    queue = JobQueue(slots=1, max_queue=5)
    with queue.slot("generate", "m") as ticket:
        assert ticket.queue_position == 0
        snap = queue.snapshot()
        assert snap.active and snap.queue_size == 1 and snap.running[0].kind == "generate"
    assert queue.snapshot().queue_size == 0


def test_waiters_run_in_arrival_order_one_at_a_time() -> None:
    queue = JobQueue(slots=1, max_queue=10)
    release, started = threading.Event(), threading.Event()
    blocker = hold_slot(queue, release, started)
    order: list[int] = []
    positions: dict[int, int] = {}
    running = []
    lock = threading.Lock()

    def job(n: int) -> None:
        with queue.slot("generate", "m") as ticket:
            with lock:
                running.append(n)
                assert len(running) == 1, "two jobs ran at once on one slot"
                order.append(n)
                positions[n] = ticket.queue_position
                running.remove(n)

    threads = []
    for n in range(4):
        thread = threading.Thread(target=job, args=(n,))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=n: len(queue.snapshot().waiting) == n + 1, what=f"job {n} queued")
    release.set()
    for thread in [blocker, *threads]:
        thread.join(5)
    assert order == [0, 1, 2, 3]
    assert positions == {0: 1, 1: 2, 2: 3, 3: 4}


def test_a_full_queue_refuses_with_retry_after() -> None:
    queue = JobQueue(slots=1, max_queue=0)
    release, started = threading.Event(), threading.Event()
    blocker = hold_slot(queue, release, started)
    with pytest.raises(QueueFull) as info:
        with queue.slot("generate", "m"):
            pass
    assert info.value.status == 503 and "Retry-After" in info.value.headers()
    release.set()
    blocker.join(5)


def test_a_cancelled_waiter_leaves_the_queue_and_never_runs() -> None:
    queue = JobQueue(slots=1, max_queue=5, poll_s=0.01)
    release, started = threading.Event(), threading.Event()
    blocker = hold_slot(queue, release, started)
    cancel = threading.Event()
    outcome: list[BaseException] = []

    def waiter() -> None:
        try:
            with queue.slot("generate", "m", cancel):
                outcome.append(AssertionError("cancelled job ran"))
        except ClientGone as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: len(queue.snapshot().waiting) == 1, what="waiter queued")
    cancel.set()
    thread.join(5)
    assert isinstance(outcome[0], ClientGone)
    assert queue.snapshot().waiting == ()
    release.set()
    blocker.join(5)


def test_a_waiter_times_out_with_503() -> None:
    queue = JobQueue(slots=1, max_queue=5, timeout_s=0.05, poll_s=0.01)
    release, started = threading.Event(), threading.Event()
    blocker = hold_slot(queue, release, started)
    with pytest.raises(QueueTimeout) as info:
        with queue.slot("generate", "m"):
            pass
    assert info.value.status == 503
    assert queue.snapshot().waiting == ()
    release.set()
    blocker.join(5)


def test_the_slot_is_given_back_when_the_job_fails() -> None:
    queue = JobQueue(slots=1, max_queue=5)
    with pytest.raises(RuntimeError):
        with queue.slot("generate", "m"):
            raise RuntimeError("LLM exploded")
    with queue.slot("generate", "m") as ticket:
        assert ticket.queue_position == 0
