"""Write a whole buffer to a socket in one ``send`` when the kernel takes it all.

design: gevent's ``sendall`` asks the kernel for the socket's buffer size (a ``getsockopt``) and
sets up a deadline and chunking on every call, for buffers of megabytes; a reply or a request on
the proxy's path is a few hundred bytes that one ``send`` takes whole (two system calls and a
few microseconds per proxied job saved). On a plain gevent socket that ``send`` goes to the
operating system's socket beneath it, which gevent keeps non-blocking: it takes what fits at
once or raises ``BlockingIOError``, without gevent's wrapper around it. Whatever is left (a full
buffer, a TLS socket, any other kind) goes through the socket's own ``sendall``, which waits
cooperatively for room within the socket's timeout. A TLS socket is never bypassed: only the
exact plain gevent socket class is.
"""

from __future__ import annotations

from typing import Any

try:
    from gevent.socket import socket as _green_socket
except ImportError:  # pragma: no cover - both services run under gevent
    _green_socket = None


def send_all(sock: Any, data: bytes) -> None:
    """``sock.sendall(data)``: one ``send`` on the OS socket first when ``sock`` is a plain gevent socket."""
    sent = 0
    if type(sock) is _green_socket:
        try:
            sent = sock._sock.send(data)
        except BlockingIOError:
            sent = 0
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:] if sent else data)
