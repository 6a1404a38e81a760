"""Notice that an HTTP client went away while its request waits or runs.

design: one watch per request, and under the gevent server no greenlet and no thread for it.
Under gunicorn the WSGI environ carries the client socket (``gunicorn.socket``); the watch
arms an event-loop read watcher on it (``loop.io``; the connection's own when it keeps one, as
``common.green_worker.DeadlineSocket`` does for all its jobs), which costs nothing until the kernel says
the socket is readable. The request's body has been read by then, so readable means the peer
closed its side (or pipelined another request): a non-blocking peek (``MSG_PEEK |
MSG_DONTWAIT``) on the operating system's socket tells which. Closed: the request's
``CancelEvent`` is set, in a greenlet of its own (its callbacks may take locks, which the
loop itself must never wait for), so the job queue drops the waiting job, the balancer shuts
the worker connection of a running job, and a streaming LLM call stops reading. Pipelined
bytes are left unread and the watch falls back to peeking on a loop timer every ``poll_s``
(a readable socket would wake a read watcher at once, again and again).

The peek goes to the operating system's socket under gevent's and our wrappers: gevent's own
recv would park on the socket until data came, and the request's own reader could find the
socket taken ("This socket is already used by another greenlet", a 500). Under a server
without gevent the watch is a small polling thread; under servers that do not expose the
socket the event never fires.

``CancelEvent`` is a ``threading.Event`` that also calls back when set, so that whoever
waits on a cancellation (a queued job, a request to a worker) is told at once instead of
polling for it. ``on_cancel`` gives the same for a plain event, by polling on a thread.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from common.cooperative import short_lock

log = logging.getLogger(__name__)

Callback = Callable[[], None]
POLL_S = 0.25  # how often a fallback watch looks (pipelined requests, plain events, no gevent)
PEEK_NOW = int(socket.MSG_PEEK | socket.MSG_DONTWAIT)  # the flags of a peek that never waits (an int: an
# IntFlag's "|" runs Python code at each use)


class CancelEvent(threading.Event):
    """An event that runs callbacks once when it is set (a client left, a split failed).

    ``on_set`` registers one and returns a function that unregisters it, or None when the
    event is already set (the callback will then never run: the caller acts itself).
    """

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: dict[int, Callback] = {}
        self._next = 0
        self._fired = False
        self._guard = short_lock()  # never held while a callback runs

    def on_set(self, callback: Callback) -> Callback | None:
        with self._guard:
            if self._fired:
                return None
            key = self._next
            self._next += 1
            self._callbacks[key] = callback

        def remove() -> None:
            with self._guard:
                self._callbacks.pop(key, None)

        return remove

    def set(self) -> None:
        with self._guard:
            if self._fired:
                return
            self._fired = True
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        super().set()
        for callback in callbacks:
            try:
                callback()
            except Exception as exc:  # one failing callback must not keep the others from running
                log.error("a cancellation callback failed", exc_info=exc)


class Signal(Protocol):
    """Anything that says a job is no longer wanted."""

    def is_set(self) -> bool: ...


def on_cancel(signal: Signal, callback: Callback, poll_s: float = POLL_S) -> Callback | None:
    """Call ``callback`` once when ``signal`` is set; returns an unregister function, or None
    when it is set already. Signals with ``on_set`` (``CancelEvent``, or a composite of them)
    call back themselves; for any other a thread polls it every ``poll_s``."""
    register = getattr(signal, "on_set", None)
    if register is not None:
        result: Callback | None = register(callback)
        return result
    if signal.is_set():
        return None
    done = threading.Event()

    def poll() -> None:
        while not done.wait(poll_s):
            if signal.is_set():
                callback()
                return

    threading.Thread(target=poll, name="cancel-poll", daemon=True).start()
    return done.set


def os_socket(sock: Any) -> Any:
    """The operating system's socket under gevent's (and our DeadlineSocket's) wrappers."""
    for _ in range(4):
        inner = getattr(sock, "_sock", None)
        if inner is None:
            break
        sock = inner
    return sock


def peer_closed(sock: Any) -> bool:
    """True when the other end has closed the connection; never blocks, never yields."""
    try:
        return bool(os_socket(sock).recv(1, PEEK_NOW) == b"")
    except (BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError):
        return True


def _is_green(sock: Any) -> bool:
    """Whether ``sock`` (or a socket it wraps) is gevent's: then the event loop can watch it."""
    for _ in range(4):
        if type(sock).__module__.startswith("gevent."):
            return True
        sock = getattr(sock, "_sock", None)
        if sock is None:
            return False
    return False


class _LoopWatch:
    """Sets ``gone`` when the peer of ``sock`` closes: a read watcher on gevent's loop, no greenlet."""

    def __init__(self, sock: Any, gone: CancelEvent, poll_s: float) -> None:
        gevent = _gevent()
        self._gevent = gevent
        self._raw = os_socket(sock)
        self._gone = gone
        self._poll_s = poll_s
        self._loop = gevent.get_hub().loop
        owned = getattr(sock, "read_watcher", None)  # the connection's own (common.green_worker.DeadlineSocket)
        self._owned = owned is None
        self._io: Any = self._loop.io(self._raw.fileno(), 1) if owned is None else owned()  # 1: READ
        self._io.ref = False
        self._timer: Any = None
        self._io.start(self._readable)

    def _readable(self) -> None:  # runs in the loop: never blocks, never raises
        try:
            data = self._raw.recv(1, PEEK_NOW)
        except (BlockingIOError, InterruptedError):
            return  # a spurious wake-up
        except (OSError, ValueError):
            data = b""
        self._io.stop()
        if data == b"":
            self._fire()
        else:  # pipelined bytes: the socket stays readable, so look now and then instead
            self._timer = self._loop.timer(self._poll_s, self._poll_s)
            self._timer.ref = False
            self._timer.start(self._tick)

    def _tick(self) -> None:
        if peer_closed(self._raw):
            self._timer.stop()
            self._fire()

    def _fire(self) -> None:
        self._gevent.spawn(self._gone.set)  # only when a client left: its callbacks may take locks

    def stop(self) -> None:
        self._io.stop()
        if self._owned:
            self._io.close()
        if self._timer is not None:
            self._timer.stop()
            self._timer.close()


def _gevent() -> Any:
    """The gevent module, imported at the first watch (a process without gevent never gets here)."""
    global _GEVENT
    if _GEVENT is None:
        import gevent

        _GEVENT = gevent
    return _GEVENT


_GEVENT: Any = None


class _ThreadWatch:
    """The same for servers without gevent: a thread peeks every ``poll_s``."""

    def __init__(self, sock: Any, gone: CancelEvent, poll_s: float) -> None:
        self._done = threading.Event()

        def watch() -> None:
            while not self._done.wait(poll_s):
                if peer_closed(sock):
                    gone.set()
                    return

        threading.Thread(target=watch, name="disconnect-watch", daemon=True).start()

    def stop(self) -> None:
        self._done.set()


class watch_disconnect:  # noqa: N801 - used as the function it was: ``with watch_disconnect(environ) as gone``
    """A context giving an event that is set once the client of this request disconnects.

    Enter it after the request body has been read (a body still arriving would look like
    pipelined bytes). A class rather than a generator context: it is entered once per job.
    """

    __slots__ = ("_environ", "_poll_s", "_watch")

    def __init__(self, environ: Mapping[str, Any], poll_s: float = POLL_S) -> None:
        self._environ = environ
        self._poll_s = poll_s
        self._watch: _LoopWatch | _ThreadWatch | None = None

    def __enter__(self) -> CancelEvent:
        gone = CancelEvent()
        sock = self._environ.get("gunicorn.socket")
        if sock is not None and hasattr(sock, "fileno"):
            self._watch = _LoopWatch(sock, gone, self._poll_s) if _is_green(sock) else _ThreadWatch(sock, gone, self._poll_s)
        return gone

    def __exit__(self, *exc: object) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()
