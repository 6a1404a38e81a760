"""Notice that an HTTP client went away while its request waits or runs.

design: under gunicorn the WSGI environ carries the client socket (``gunicorn.socket``).
A small watcher (a greenlet under the gevent server) looks at it every ``poll_s``: when a
non-blocking peek (``MSG_PEEK | MSG_DONTWAIT``) reads nothing, the peer closed its side, and
the request's ``cancel`` event is set so the job queue drops the waiting job and a streaming
LLM call stops reading. The peek goes to the operating system's socket under gevent's and our
wrappers: gevent's own recv would park the watcher on the socket until data came, and its
select yields to other greenlets even with a zero timeout, so the request's own reader could
find the socket taken ("This socket is already used by another greenlet", a 500). Pipelined
bytes are left unread. Under servers that do not expose the socket the event never fires.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


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
        return bool(os_socket(sock).recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"")
    except (BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError):
        return True


@contextmanager
def watch_disconnect(environ: Mapping[str, Any], poll_s: float = 0.25) -> Iterator[threading.Event]:
    """Yield an event that is set once the client of this request disconnects."""
    gone = threading.Event()
    sock = environ.get("gunicorn.socket")
    if sock is None or not hasattr(sock, "fileno"):
        yield gone
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(poll_s):
            if peer_closed(sock):
                gone.set()
                return

    thread = threading.Thread(target=watch, name="disconnect-watch", daemon=True)
    thread.start()
    try:
        yield gone
    finally:
        done.set()
