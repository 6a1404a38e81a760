"""Following a job by its request id: its place in the balancer's queue, then running, then done."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from balancer.jobs import JobBoard, Ticket, request_id_from, ticket_in
from balancer.pool import BackendPool
from balancer.settings import BackendSpec
from common.errors import ClientGone
from tests.balancer.conftest import FakeFarm, wait_waiting
from tests.balancer.test_pool import Acquirer, wait_for_waiting
from tests.procs import wait_until


@pytest.mark.parametrize("header", ["abc", "ui-0123456789abcdef", "a.b_c~d:e@f+g=h-i", "x" * 128])
def test_a_plain_token_is_kept_as_the_request_id(header: str) -> None:
    assert request_id_from(header) == header
    assert request_id_from(f"  {header} ") == header


@pytest.mark.parametrize("header", [None, "", "   ", "x" * 129, "a b", "<script>", 'a"b', "a/b", "é", "a\x00b"])
def test_anything_else_gets_a_new_id(header: str | None) -> None:
    made = request_id_from(header)
    assert made != header and len(made) == 32 and made.isalnum()
    assert request_id_from(header) != made  # a new one each time


def board_over(pool: BackendPool, clock: Callable[[], float] | None = None, **kwargs: Any) -> JobBoard:
    if clock is not None:
        kwargs["clock"] = clock
    return JobBoard(pool.waiting_signals, refresh_s=0, **kwargs)


def test_a_waiting_job_knows_its_place_and_the_place_moves_up() -> None:
    pool = BackendPool([BackendSpec("http://a:5001")])
    board = board_over(pool)
    running = pool.acquire(None, cancel=board.open("first", "/generate"))
    second, third = board.open("second", "/explain"), board.open("third", "/generate")
    jobs = [Acquirer(pool, cancel=second), Acquirer(pool, cancel=third)]
    jobs[0].start()
    wait_for_waiting(pool, 1)
    jobs[1].start()
    wait_for_waiting(pool, 2)

    views = {rid: board.lookup(rid) for rid in ("first", "second", "third")}
    assert [(v.state, v.position, v.queue_length) for v in views.values() if v] == [
        ("running", None, 2), ("waiting", 1, 2), ("waiting", 2, 2)]
    assert views["second"] is not None and views["second"].path == "/explain"

    running.release()  # the first job's slot goes to the second; the third moves up
    assert jobs[0].got.wait(5) and jobs[0].lease is not None
    third_view = board.lookup("third")
    assert third_view is not None and (third_view.state, third_view.position, third_view.queue_length) == ("waiting", 1, 1)
    second_view = board.lookup("second")
    assert second_view is not None and second_view.state == "running"

    jobs[0].lease.release()
    assert jobs[1].got.wait(5) and jobs[1].lease is not None
    jobs[1].lease.release()


def test_a_split_job_is_found_through_the_signal_that_wraps_it_and_counts_its_waiting_chunks() -> None:
    @dataclass(frozen=True)
    class AnyOf:  # what the fan-out hands the pool: a chunk failure or the client leaving
        first: threading.Event
        second: object

        def is_set(self) -> bool:
            return self.first.is_set()

    pool = BackendPool([BackendSpec("http://a:5001")])
    board = board_over(pool)
    blocker = pool.acquire(None, cancel=board.open("other", "/generate"))
    ticket = board.open("split-job", "/generate", split=True)
    wrapped = AnyOf(threading.Event(), ticket)
    assert ticket_in(wrapped) is ticket and ticket_in(AnyOf(threading.Event(), None)) is None
    chunks = [Acquirer(pool, cancel=wrapped) for _ in range(3)]
    for n, chunk in enumerate(chunks, start=1):
        chunk.start()
        wait_for_waiting(pool, n)
    view = board.lookup("split-job")
    assert view is not None and (view.state, view.position, view.waiting_leases, view.split) == ("waiting", 1, 3, True)
    blocker.release()
    for chunk in chunks:
        assert chunk.got.wait(5) and chunk.lease is not None
        chunk.lease.release()


def test_a_finished_job_is_done_with_its_status_for_a_while_then_forgotten() -> None:
    now = [100.0]
    pool = BackendPool([BackendSpec("http://a:5001")])
    board = board_over(pool, clock=lambda: now[0], keep_done_s=60)
    ticket = board.open("job", "/generate")
    now[0] += 2.5
    board.close(ticket, 502)
    view = board.lookup("job")
    assert view is not None and (view.state, view.status, view.elapsed_s, view.position) == ("done", 502, 2.5, None)
    now[0] += 61
    board.close(board.open("later", "/generate"), 200)  # closing another job sweeps the old ones out
    assert board.lookup("job") is None and board.lookup("nobody") is None


def test_at_most_max_done_finished_jobs_are_kept() -> None:
    board = board_over(BackendPool([BackendSpec("http://a:5001")]), max_done=3)
    for n in range(5):
        board.close(board.open(f"job-{n}", "/generate"), 200)
    assert [n for n in range(5) if board.lookup(f"job-{n}")] == [2, 3, 4]


def test_the_ticket_stands_in_for_the_disconnect_event() -> None:
    class CallbackEvent(threading.Event):
        def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
            return callback

    gone = CallbackEvent()
    ticket = Ticket("id", "/generate", False, 0.0, gone)
    assert ticket.on_set(print) is print and not ticket.is_set()
    gone.set()
    assert ticket.is_set() and ticket.wait(0)
    plain = Ticket("id", "/generate", False, 0.0, threading.Event())
    assert not hasattr(plain, "on_set")  # what the plain event lacks, the ticket lacks too
    assert not Ticket("id", "/generate", False, 0.0).is_set()


def test_a_client_that_leaves_while_waiting_leaves_the_queue_through_its_ticket() -> None:
    pool = BackendPool([BackendSpec("http://a:5001")])
    board = board_over(pool)
    blocker = pool.acquire(None)
    gone = threading.Event()
    waiting = Acquirer(pool, cancel=board.open("leaver", "/generate", gone))
    waiting.start()
    wait_for_waiting(pool, 1)
    gone.set()
    assert waiting.got.wait(5) and isinstance(waiting.error, ClientGone)
    assert pool.snapshot().waiting == 0
    blocker.release()


# -- through the app ---------------------------------------------------------------------------------


def test_the_request_id_comes_back_and_names_the_job(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    client = make_app().test_client()
    mine = client.post("/explain", json={"playbook": "- hosts: all"}, headers={"X-Request-Id": "my-job-1"})
    assert mine.status_code == 200 and mine.headers["X-Request-Id"] == "my-job-1"
    job = client.get("/jobs/my-job-1")
    assert job.status_code == 200
    assert job.json == {"request_id": "my-job-1", "path": "/explain", "split": False, "state": "done", "position": None,
                        "waiting_leases": 0, "queue_length": 0, "elapsed_s": job.json["elapsed_s"], "status": 200}
    made = client.post("/explain", json={"playbook": "- hosts: all"}, headers={"X-Request-Id": "<bad id>"})
    assert made.headers["X-Request-Id"] != "<bad id>"
    assert client.get(f"/jobs/{made.headers['X-Request-Id']}").json["state"] == "done"
    for worker in farm.workers.values():
        worker.status = 502  # the model ran and failed: final
    failed = client.post("/generate", json={"commands": "ls"}, headers={"X-Request-Id": "f"})
    assert failed.status_code == 502 and failed.headers["X-Request-Id"] == "f"
    assert client.get("/jobs/f").json["status"] == 502


def test_an_unknown_request_id_is_404_json(make_app: Callable[..., Flask]) -> None:
    reply = make_app().test_client().get("/jobs/never-sent")
    assert reply.status_code == 404 and "never-sent" in reply.json["error"]


def test_queued_jobs_report_their_places_through_the_app(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    for worker in farm.workers.values():
        worker.gate = threading.Event()
    app = make_app()
    client = app.test_client()
    replies: dict[str, int] = {}

    def send(rid: str, split: bool = False) -> None:
        body = {"commands": "apt-get update\napt-get install -y nginx", "split": split}
        replies[rid] = app.test_client().post("/generate", json=body, headers={"X-Request-Id": rid}).status_code

    senders = [threading.Thread(target=send, args=(f"busy-{n}",)) for n in range(3)]
    for sender in senders:
        sender.start()
    wait_until(lambda: sum(w.running for w in farm.workers.values()) == 3, 10, what="three running jobs")
    waiting = [threading.Thread(target=send, args=("queued-1",)), threading.Thread(target=send, args=("queued-2",))]
    for n, sender in enumerate(waiting, start=1):
        sender.start()
        wait_waiting(app, n)
    assert client.get("/jobs/busy-0").json["state"] == "running"
    first, second = client.get("/jobs/queued-1").json, client.get("/jobs/queued-2").json
    assert (first["state"], first["position"], second["position"], second["queue_length"]) == ("waiting", 1, 2, 2)

    for worker in farm.workers.values():
        assert worker.gate is not None
        worker.gate.set()
    for sender in senders + waiting:
        sender.join(10)
    assert replies == {"busy-0": 200, "busy-1": 200, "busy-2": 200, "queued-1": 200, "queued-2": 200}
    assert client.get("/jobs/queued-2").json["state"] == "done"
