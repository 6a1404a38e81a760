"""common.disconnect: the cancel event's callbacks, and the one watch per request (no thread and
no greenlet under gevent) that sets it when the client closes its connection."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import gevent
import gevent.socket
import pytest

from common import disconnect
from common.disconnect import CancelEvent, on_cancel, watch_disconnect


def test_callbacks_run_once_when_set_and_not_after_removal() -> None:
    event = CancelEvent()
    calls: list[str] = []
    event.on_set(lambda: calls.append("a"))
    remove = event.on_set(lambda: calls.append("b"))
    assert remove is not None
    remove()
    event.on_set(lambda: 1 / 0)  # a failing callback is logged; the others still run
    event.on_set(lambda: calls.append("c"))
    event.set()
    event.set()
    assert calls == ["a", "c"] and event.is_set() and event.wait(0)
    assert event.on_set(lambda: calls.append("late")) is None  # already set: the caller acts itself
    assert calls == ["a", "c"]


def test_on_cancel_polls_a_plain_event() -> None:
    plain = threading.Event()
    fired = threading.Event()
    assert on_cancel(plain, fired.set, poll_s=0.01) is not None
    plain.set()
    assert fired.wait(2)
    assert on_cancel(plain, fired.set) is None


def wait_green(predicate: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    """Run gevent's loop until ``predicate`` holds (the watch's callbacks run in it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        gevent.sleep(0.01)
    return predicate()


def test_the_gevent_watch_uses_no_thread_and_fires_when_the_client_closes() -> None:
    ours, client = gevent.socket.socketpair()
    threads = threading.active_count()
    fired = threading.Event()
    with watch_disconnect({"gunicorn.socket": ours}) as gone:
        assert threading.active_count() == threads
        gone.on_set(fired.set)
        assert not wait_green(gone.is_set, 0.2)  # the client is still there
        client.close()
        assert wait_green(gone.is_set) and fired.is_set()
    ours.close()


def test_after_pipelined_bytes_the_gevent_watch_peeks_on_a_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    peeks: list[float] = []
    real = disconnect.peer_closed

    def counted(sock: object) -> bool:
        peeks.append(time.monotonic())
        return real(sock)

    monkeypatch.setattr(disconnect, "peer_closed", counted)
    ours, client = gevent.socket.socketpair()
    client.sendall(b"GET /next HTTP/1.1\r\n\r\n")  # a pipelined request: readable, yet the client is there
    with watch_disconnect({"gunicorn.socket": ours}, poll_s=0.02) as gone:
        assert not wait_green(gone.is_set, 0.3)
    # a socket that stays readable does not spin the loop: a peek per poll_s, not thousands
    assert 3 <= len(peeks) <= 20, len(peeks)
    assert ours.recv(100) == b"GET /next HTTP/1.1\r\n\r\n"  # the pipelined bytes are left for the server
    ours.close()
    client.close()


def test_a_stopped_watch_never_fires() -> None:
    ours, client = gevent.socket.socketpair()
    with watch_disconnect({"gunicorn.socket": ours}) as gone:
        pass
    client.close()
    assert not wait_green(gone.is_set, 0.2)
    ours.close()


def test_without_gevent_a_thread_watches() -> None:
    ours, client = socket.socketpair()
    with watch_disconnect({"gunicorn.socket": ours}, poll_s=0.01) as gone:
        client.close()
        assert gone.wait(2)
    ours.close()


def test_without_a_socket_the_event_never_fires() -> None:
    with watch_disconnect({}) as gone:
        assert not gone.is_set()
