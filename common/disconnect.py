"""Notice that an HTTP client went away while its request waits or runs.

design: under gunicorn the WSGI environ carries the client socket (``gunicorn.socket``).
A small watcher (a greenlet under the gevent server) looks at it every ``poll_s``: when the
socket is readable and a peek (``MSG_PEEK``) reads nothing, the peer closed its side, and the
request's ``cancel`` event is set so the job queue drops the waiting job and a streaming LLM
call stops reading. A zero-timeout ``select`` comes first, so the peek never blocks (gevent
would otherwise park a non-blocking read until data came). Pipelined bytes are left unread.
Under servers that do not expose the socket the event simply never fires.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


def peer_closed(sock: Any) -> bool:
    """True when the other end has closed the connection."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
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
