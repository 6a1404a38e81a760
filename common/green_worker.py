"""The gunicorn worker class both services run: gevent, with deadlines, a connection cap and a drain.

design: a client that has not finished its request must cost no job thread. Under gthread a
thread reads the request head, so 400 clients trickling one header byte a second held every
thread and the balancer answered nothing (measured: 0 of 10 ``/queue-status`` calls within
5 s). Under gevent each connection is a greenlet (a few KB) parked on its socket, and jobs,
health checks and status calls run beside thousands of them. gevent's monkey-patching also
makes the pools' locks and conditions cooperative, so the code stays plain blocking Python.

On top of gunicorn's ``GeventWorker`` this class adds what HAProxy calls ``timeout
http-request``, ``timeout http-keep-alive`` and ``maxconn``, through ``DeadlineSocket``, a
wrapper the request parser reads from:

- idle: a kept-alive connection waits KEEPALIVE seconds for the next request's first byte,
  then is closed in silence;
- head: a request head (the first on a connection counts from the accept) must be complete
  within HEADER_TIMEOUT, else 408 JSON and the connection closes;
- body: the body must arrive within BODY_TIMEOUT after the head, else 408 JSON (raised to the
  app as ``RequestTimeout``, so its own error handler renders it) and the connection closes;
- past MAX_CONNECTIONS open connections a new one gets 503 JSON with ``Retry-After``.

Errors the HTTP parser raises (a malformed request line, a header too long, ...) are answered
as JSON too, never with gunicorn's HTML page.

SIGTERM drains instead of stopping at once: the app's ``Lifecycle.drain`` runs first, while
the server still listens (a worker says ``draining`` and finishes its queue), then the
listener closes and open requests finish within the graceful timeout. SIGHUP calls the app's
``Lifecycle.reload`` instead of restarting the process, so in-memory state survives.
"""

from __future__ import annotations

import errno
import json
import logging
import resource
import signal
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

import gevent
from gevent.local import local as greenlet_local
from gunicorn import util as gunicorn_util
from gunicorn.http import errors as parse_errors
from gunicorn.workers.ggevent import GeventWorker

from common.errors import RequestTimeout
from common.green_send import send_all
from common.lean_http import LeanServer
from common.lifecycle import Lifecycle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """Deadlines and caps for client connections, and the drain bound."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    keepalive_s: float = 5.0
    max_connections: int = 4096
    drain_timeout_s: float = 600.0
    retry_after_s: int = 5


class HeadTimeout(Exception):
    """The request head did not arrive within HEADER_TIMEOUT (answered 408 by the worker class)."""


class DeadlineSocket:
    """A client socket whose reads obey the phase deadlines (idle, head, body).

    Reads with flags (the disconnect watch peeks with ``MSG_PEEK``) pass straight through.
    Once a deadline has passed, every later read reports end of data, so gunicorn closes the
    connection instead of reading the rest of a request it already answered.

    design: gunicorn writes a reply's head and then its body, two sends and two trips through
    the kernel's loopback path per reply (a third of the balancer's sends per proxied job).
    The first write after a request is held, and goes out with the next one in a single send.
    Anything else done with the socket (a read, ``fileno`` for sendfile, close, shutdown) and
    the end of each request send a held head first, so the bytes keep their order.
    """

    IDLE, HEAD, BODY = "idle", "head", "body"

    def __init__(self, sock: Any, limits: ServerLimits) -> None:
        self._sock = sock
        self._limits = limits
        self._phase = self.HEAD
        self._deadline = time.monotonic() + limits.header_timeout_s
        self._requests = 0
        self._expired = False
        self._waiting_idle = False  # parked on a kept-alive connection, no byte of a next request yet
        self._closing = False
        self._hold_next = False  # a request was read: its reply's first write (the head) waits for the next
        self._held: bytes | None = None
        self._unread = b""  # bytes read for a request and given back (common.lean_http hands it to gunicorn)
        self._watcher: Any = None  # the disconnect watch's read watcher, made at the first job (read_watcher)

    def save_state(self) -> tuple[str, float, int]:
        """Where the connection is before a request head is read (for ``unread``)."""
        return self._phase, self._deadline, self._requests

    def unread(self, data: bytes, state: tuple[str, float, int]) -> None:
        """Give back ``data``, the start of a request read from the connection, and return to ``state``:
        the next reads return ``data`` first, and that request is read as if for the first time."""
        self._unread = data + self._unread
        self._phase, self._deadline, self._requests = state
        self._hold_next = False

    def read_watcher(self) -> Any:
        """A read watcher on this connection's descriptor for ``common.disconnect``'s watch, stopped:
        made once per connection rather than once per job (a system call and a watcher each), and
        closed with the connection (``close_watcher``), before its descriptor is."""
        watcher = self._watcher
        if watcher is None:
            watcher = self._watcher = gevent.get_hub().loop.io(self._sock.fileno(), 1)  # 1: READ
        return watcher

    def close_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
            watcher.close()

    def close_if_idle(self) -> None:
        """At shutdown: end a kept-alive connection that waits for a next request (HAProxy's soft-stop)."""
        if self._waiting_idle:
            self._closing = True  # the parked read then ends as a quiet end of data, not an error
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @contextmanager
    def reading_head(self) -> Iterator[None]:
        """Around the parse of one request head: idle (kept alive) or head deadline, then body."""
        if self._requests:
            self._phase, self._deadline = self.IDLE, time.monotonic() + self._limits.keepalive_s
        try:
            yield
            self._hold_next = True
        finally:
            self._requests += 1
            self._phase, self._deadline = self.BODY, time.monotonic() + self._limits.body_timeout_s

    # --- writes: a reply's head goes out with its body -------------------------------------

    def sendall(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= COALESCE_MAX:
                send_all(self._sock, held + data)
                return
            send_all(self._sock, held)
        elif self._hold_next:
            self._hold_next = False
            self._held = bytes(data)
            return
        send_all(self._sock, data)

    def flush(self) -> None:
        """Send a held reply head now."""
        held, self._held = self._held, None
        if held is not None:
            send_all(self._sock, held)

    def end_reply(self) -> None:
        """The request is over: a head still held (a reply without a body) goes out."""
        self._hold_next = False
        self.flush()

    def send(self, data: bytes, flags: int = 0) -> int:
        self.flush()
        sent: int = self._sock.send(data, flags)
        return sent

    def fileno(self) -> int:
        self.flush()  # gunicorn's sendfile writes to the descriptor itself
        number: int = self._sock.fileno()
        return number

    def shutdown(self, how: int) -> None:
        try:
            self.flush()
        except OSError:
            pass
        self._sock.shutdown(how)

    def close(self) -> None:
        try:
            self.flush()
        except OSError:
            pass
        self.close_watcher()
        self._sock.close()

    # --- reads -----------------------------------------------------------------------------

    def recv(self, size: int, flags: int = 0) -> bytes:
        if flags:
            return self._sock.recv(size, flags)
        if self._held is not None:
            self.flush()
        if self._unread:
            given, self._unread = self._unread[:size], self._unread[size:]
            if self._phase == self.IDLE:  # as for bytes off the wire: the request's head has its own deadline
                self._phase, self._deadline = self.HEAD, time.monotonic() + self._limits.header_timeout_s
            return given
        if self._expired:
            raise parse_errors.NoMoreData()
        remaining = self._deadline - time.monotonic()
        self._waiting_idle = self._phase == self.IDLE
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            data: bytes = self._sock.recv(size)
        except TimeoutError:  # socket.timeout is TimeoutError since Python 3.10
            self._expired = True
            if self._phase == self.IDLE:
                raise parse_errors.NoMoreData() from None
            if self._phase == self.HEAD:
                raise HeadTimeout(f"the request head did not arrive within HEADER_TIMEOUT={self._limits.header_timeout_s:g}s") from None
            raise RequestTimeout(
                f"the request body did not arrive within BODY_TIMEOUT={self._limits.body_timeout_s:g}s; send it faster or smaller"
            ) from None
        except OSError:
            if self._closing:  # gevent wakes the parked read with EBADF when we shut the socket down
                raise parse_errors.NoMoreData() from None
            raise
        finally:
            self._waiting_idle = False
            self._sock.settimeout(None)
        if data and self._phase == self.IDLE:  # the next request began: its head has its own deadline
            self._phase, self._deadline = self.HEAD, time.monotonic() + self._limits.header_timeout_s
        return data

    def __getattr__(self, name: str) -> Any:
        if self.__dict__.get("_held") is not None:
            self.flush()  # sendfile, sendmsg, ...: whatever else writes must come after the held head
        return getattr(self._sock, name)


COALESCE_MAX = 64 * 1024  # a larger body follows its head in a send of its own (no copy of it)


# gunicorn's parse errors and the status each deserves; anything else a client sent is a 400
_PARSE_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (parse_errors.LimitRequestLine, 414, "URI Too Long"),
    (parse_errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (parse_errors.UnsupportedTransferCoding, 501, "Not Implemented"),
    (parse_errors.ExpectationFailed, 417, "Expectation Failed"),
    (parse_errors.ForbiddenProxyRequest, 403, "Forbidden"),
)


def error_reply(status: int, reason: str, message: str, retry_after_s: int | None = None) -> bytes:
    """A complete HTTP/1.1 JSON error response that closes the connection."""
    body = json.dumps({"error": message}).encode("utf-8")
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if retry_after_s is not None:
        head.append(f"Retry-After: {retry_after_s}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class ServingWorker(GeventWorker):
    """gunicorn's gevent worker with request deadlines, a connection cap, drain and reload.

    ``limits`` is set on a subclass made by ``common.serving.worker_class``.
    """

    limits = ServerLimits()

    def init_process(self) -> None:
        self._lean: LeanServer | None | bool = False  # made at the first connection, once the app is loaded
        self._connections: set[DeadlineSocket] = set()
        self._current = greenlet_local()
        self._draining = False
        _raise_open_files_limit(self.limits.max_connections + 512)
        _freeze_settings(self.cfg)
        gunicorn_util.http_date = _http_date  # the same text, formatted once a second instead of per reply
        super().init_process()

    def init_signals(self) -> None:
        super().init_signals()
        signal.signal(signal.SIGHUP, self._on_hup)

    # --- connections ---------------------------------------------------------------------

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        if len(self._connections) >= self.limits.max_connections:
            self._refuse(client, addr)
            return
        conn = DeadlineSocket(client, self.limits)
        self._connections.add(conn)
        self._current.conn = conn
        try:
            if self._lean is False:
                self._lean = LeanServer.for_worker(self)
            if not isinstance(self._lean, LeanServer) or not self._serve_lean(self._lean, listener, conn, addr):
                super().handle(listener, conn, addr)
        finally:
            self._connections.discard(conn)
            conn.close_watcher()  # before gevent's server closes the client socket

    def _serve_lean(self, lean: LeanServer, listener: Any, conn: DeadlineSocket, addr: Any) -> bool:
        """The connection's plain requests for the app's fast routes (``common.lean_http``); False when
        gunicorn takes the connection over. Failures end as gunicorn's own ``handle`` ends them."""
        try:
            if not lean.serve(listener, conn, addr):
                return False
        except parse_errors.NoMoreData:
            pass
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.EBADF):
                log.error("socket error processing a request", exc_info=exc)
        except Exception as exc:
            self.handle_error(None, conn, addr, exc)
        try:
            conn.close()
        except OSError:
            pass
        return True

    def timeout_ctx(self) -> Any:
        """Around each request-head parse of a kept-alive connection (gunicorn's hook)."""
        return self._current.conn.reading_head()

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            if isinstance(sock, DeadlineSocket):
                try:
                    sock.end_reply()
                except OSError:
                    pass

    def _refuse(self, client: Any, addr: Any) -> None:
        log.warning("refused a connection from %s: %d open, MAX_CONNECTIONS=%d",
                    addr[0] if addr else "?", len(self._connections), self.limits.max_connections)
        message = f"too many open connections (MAX_CONNECTIONS={self.limits.max_connections}); retry later"
        try:
            client.sendall(error_reply(503, "Service Unavailable", message, self.limits.retry_after_s))
        except OSError:
            pass
        finally:
            client.close()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer what went wrong before the app saw the request, as JSON."""
        if isinstance(exc, ssl.SSLError) or (isinstance(exc, HeadTimeout) and not _handshake_done(client)):
            # no TLS session to answer in (plain HTTP, an unknown CA, no certificate, a silent client)
            log.info("TLS handshake with %s failed: %s", addr[0] if addr else "?", _tls_reason(exc))
            return
        if isinstance(exc, HeadTimeout):
            status, reason, message = 408, "Request Timeout", str(exc)
        elif isinstance(exc, RequestTimeout):
            status, reason, message = 408, "Request Timeout", exc.message
        elif isinstance(exc, parse_errors.ParseException) and not isinstance(
            exc, (parse_errors.InvalidResponseHeader, parse_errors.InvalidResponseHeaderName, parse_errors.ConfigurationProblem)
        ):
            status, reason = next(((s, r) for kind, s, r in _PARSE_STATUS if isinstance(exc, kind)), (400, "Bad Request"))
            message = f"malformed HTTP request: {exc}"
        else:
            log.error("error handling a request", exc_info=exc)
            status, reason, message = 500, "Internal Server Error", "internal error; see the service log"
        ip = addr[0] if addr else "?"
        log.info("%s %d from %s: %s", "answered" if status < 500 else "failed", status, ip, message)
        try:
            client.sendall(error_reply(status, reason, message))
        except OSError as write_error:
            if write_error.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.EBADF):
                log.debug("could not send the %d reply: %s", status, write_error)

    # --- signals ---------------------------------------------------------------------------

    def _lifecycle(self) -> Lifecycle:
        extensions = getattr(self.wsgi, "extensions", {})
        hooks = extensions.get("lifecycle") if isinstance(extensions, dict) else None
        return hooks if isinstance(hooks, Lifecycle) else Lifecycle()

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: drain (the app finishes what it promised), then stop like gunicorn does."""
        if self._draining:
            return
        self._draining = True
        gevent.spawn(self._drain_then_stop)

    def _drain_then_stop(self) -> None:
        started = time.monotonic()
        log.info("SIGTERM: draining for up to %gs", self.limits.drain_timeout_s)
        try:
            self._lifecycle().drain(self.limits.drain_timeout_s)
        except Exception as exc:  # a failing hook must not keep the process alive
            log.error("drain hook failed", exc_info=exc)
        log.info("drained in %.1fs; closing the listener and finishing open requests", time.monotonic() - started)
        self.alive = False
        while self._connections:  # requests still running keep their connection until they answer
            for conn in list(self._connections):
                conn.close_if_idle()
            gevent.sleep(0.1)

    def _on_hup(self, sig: int, frame: Any) -> None:
        gevent.spawn(self._reload)

    def _reload(self) -> None:
        try:
            self._lifecycle().reload()
        except Exception as exc:
            log.error("SIGHUP: reload failed; the running configuration stays", exc_info=exc)


def _freeze_settings(cfg: Any) -> None:
    """Make gunicorn's settings plain attributes of ``cfg`` in the serving process.

    gunicorn looks each setting up through ``Config.__getattr__`` (a dict lookup and a method
    call) a dozen times per request; nothing changes them once the worker runs (SIGHUP here
    reloads the app's own configuration, and under gunicorn's CLI it replaces the process)."""
    for name, setting in cfg.settings.items():
        if not hasattr(type(cfg), name):  # a property of Config computes from settings: left alone
            object.__setattr__(cfg, name, setting.get())


_date_second = -1
_date_text = ""


def _http_date(timestamp: float | None = None) -> str:
    """gunicorn's ``util.http_date`` (the Date header), computed once per second."""
    global _date_second, _date_text
    if timestamp is not None:
        return formatdate(timestamp, localtime=False, usegmt=True)
    second = int(time.time())
    if second != _date_second:
        _date_text = formatdate(second, localtime=False, usegmt=True)
        _date_second = second
    return _date_text


def _handshake_done(client: Any) -> bool:
    """False for a TLS connection whose handshake has not completed (plain connections: True)."""
    sock = client._sock if isinstance(client, DeadlineSocket) else client
    if not hasattr(sock, "do_handshake"):
        return True
    try:
        return sock.version() is not None  # None until the handshake is done
    except (OSError, ValueError):
        return False


def _tls_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return getattr(exc, "reason", None) or str(exc)
    return f"no handshake within HEADER_TIMEOUT ({exc})"


def _raise_open_files_limit(wanted: int) -> None:
    """Let the process hold ``wanted`` sockets, as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if hard != resource.RLIM_INFINITY and hard < wanted:
        log.warning("open-file limit %d is below MAX_CONNECTIONS + 512 = %d; raise `ulimit -n`", hard, wanted)


