"""The one seam between the balancer and its workers: ``WorkerClient.send(WorkerRequest)``.

A ``WorkerRequest`` is a value (where, what, how long to wait), as httpx's transports take one
``Request``; ``send`` gives back a ``WorkerReply`` or raises. This is the only module that
speaks HTTP to workers. Transport failures are translated once, here, into the error tree:

    connection refused, unresolvable, connect timeout, TLS handshake -> BackendUnreachable, sent=False (502)
    connection closed or reset after the request, reply cut or malformed -> BackendUnreachable, sent=True (502)
    no reply within the request's timeout (TIMEOUT)                  -> UpstreamTimeout (504)
    the client left (``cancel`` set) before the reply came           -> ClientGone (499)

A worker's own error replies (4xx/5xx with a JSON body) are not exceptions: they come back as
a ``WorkerReply`` for the proxy to pass through. ``FakeWorkerClient`` is the shipped fake:
tests hand it a function of the request instead of patching the transport.

design: ``HttpWorkerClient`` is a small HTTP/1.1 client of its own over kept-alive sockets,
one idle stack per worker. It used ``requests``, and ``requests`` cost most of the balancer's
CPU per proxied job (preparing the request, merging settings, http.client's header parsing
through the email package: 41% of the samples at 64 clients, ``make profile``); the workers
only ever see a JSON, form or multipart POST or a GET, with a Content-Length or chunked reply.
The request's head and body go out in one send, and TCP_QUICKACK is set after it, so a
worker that writes its reply head and body in two sends (Nagle on) is acknowledged at once
instead of waiting for our delayed ACK (about 40 ms a reply). https backends get the same
connections wrapped in TLS (the system's trusted CAs unless an ``ssl_context`` is given: the
balancer's is WORKER_CA with WORKER_CLIENT_CERT for mutual TLS). A worker whose certificate does
not verify fails the handshake, before any byte of a request: BackendUnreachable, sent=False, so
it is marked offline with the reason and the job goes elsewhere.

design: a job whose client left must not keep a GPU busy. While it waits for the reply,
``send`` registers a callback on ``cancel`` (``common.disconnect.on_cancel``: the request's
``CancelEvent`` calls back, no watcher of its own); when it fires, the connection's socket is
shut down. The worker sees its client (us) go, drops the job or stops the LLM's stream, and
``send`` raises ClientGone. Because the connection is our own, this holds for http and https.
"""

from __future__ import annotations

import _socket
import base64
import ipaddress
import json as jsonlib
import logging
import os
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from balancer.state import CancelSignal
from common.disconnect import PEEK_NOW, on_cancel, os_socket
from common.errors import ClientGone, UpstreamError, UpstreamTimeout
from common.green_send import send_all

log = logging.getLogger(__name__)


class BackendUnreachable(UpstreamError):
    """No reply came from a worker: the connection failed, or broke before the reply was whole.

    ``sent``: the connection was made and the request (maybe) sent; the worker then closed or
    reset it. That is the worker's fault (outlier detection counts it); a refused connection
    says the worker is not there (health).
    """

    def __init__(self, url: str, message: str, *, sent: bool = False, untrusted: bool = False) -> None:
        super().__init__(f"worker {url} unreachable: {message}", extra={"backend": url})
        self.url = url
        self.sent = sent
        self.untrusted = untrusted  # its TLS certificate does not verify: it is not our worker


FileField = tuple[str, bytes, str]  # (filename, content, content type)


@dataclass(frozen=True)
class WorkerRequest:
    """One request to a worker: ``method`` ``url + path``, with at most one kind of body.

    ``json``: a JSON body; ``data``: form fields, sent url-encoded, or as multipart beside
    ``files`` (field name -> (filename, content, content type)). ``timeout_s`` bounds the
    wait for the whole reply once connected (TIMEOUT for jobs, HEALTH_TIMEOUT for probes).
    """

    url: str  # the worker's base URL, http(s)://host:port
    method: str
    path: str
    timeout_s: float
    json: Any = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, FileField] | None = None
    headers: Mapping[str, str] | None = None

    def with_headers(self, headers: Mapping[str, str]) -> WorkerRequest:
        """The same request with ``headers`` added (over any of the same name)."""
        return WorkerRequest(self.url, self.method, self.path, self.timeout_s, self.json, self.data, self.files,
                             {**self.headers, **headers} if self.headers else headers)

    def body(self) -> tuple[bytes, str | None]:
        """The encoded body and its Content-Type."""
        if self.files:
            return _multipart(self.data or {}, self.files)
        if self.data is not None:
            return urlencode(list(self.data.items())).encode("ascii"), "application/x-www-form-urlencoded"
        if self.json is not None:
            return _json_text(self.json).encode("utf-8"), "application/json"
        return b"", None


# design: json.dumps makes a new C encoder for each call (a third of its cost for a job's small
# body); this one is made once with json.dumps's default settings. Without json.dumps's
# circular-reference markers (a job's body comes from parsed JSON: it has no cycles; one would
# end in RecursionError rather than ValueError)
_MAKE_ENCODER = getattr(jsonlib.encoder, "c_make_encoder", None)
_ENCODER = _MAKE_ENCODER(None, jsonlib.JSONEncoder().default, jsonlib.encoder.encode_basestring_ascii,
                         None, ": ", ", ", False, False, True) if _MAKE_ENCODER else None


def _json_text(value: Any) -> str:
    """``json.dumps(value)``."""
    if _ENCODER is None:  # pragma: no cover - CPython has the C encoder
        return jsonlib.dumps(value)
    return "".join(_ENCODER(value, 0))


@dataclass(frozen=True)
class WorkerReply:
    """A worker's complete HTTP reply."""

    status: int
    body: bytes
    content_type: str = "application/json"
    retry_after: str | None = None

    def json(self) -> Any:
        return jsonlib.loads(self.body.decode("utf-8"))


class WorkerClient(Protocol):
    """What the balancer needs from an HTTP client."""

    def send(self, request: WorkerRequest, *, cancel: CancelSignal | None = None) -> WorkerReply:
        """Send ``request``; raise BackendUnreachable/UpstreamTimeout, or ClientGone when
        ``cancel`` is set before the reply came."""
        ...


# --- the transport ---------------------------------------------------------------------------

MAX_HEAD = 64 * 1024  # a worker's reply head larger than this is malformed
SWEEP_S = 30.0  # how often idle connections are checked for a worker that closed them
RECV_SIZE = 64 * 1024


@dataclass(frozen=True, eq=False)
class _Origin:
    """Where a worker's URL points, parsed once (one object per URL: it keys the idle stacks by identity)."""

    scheme: str
    host: str
    port: int
    host_header: str
    prefix: str  # a path the URL carries before each request's own
    authorization: str | None  # from user:password@ in the URL
    family: int | None = None  # AF_INET or AF_INET6 when the host is an IP address: no name to resolve


def _origin(url: str) -> _Origin:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if parts.port is None else f"{shown}:{parts.port}"
    authorization = None
    if parts.username is not None:
        pair = f"{parts.username}:{parts.password or ''}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    try:
        family: int | None = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = None
    return _Origin(scheme, host, port, host_header, parts.path.rstrip("/"), authorization, family)


class _Broken(Exception):
    """The connection broke or the reply is malformed; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Connection:
    """One kept-alive connection to a worker and its read buffer."""

    __slots__ = ("sock", "raw", "buf", "ssl")

    def __init__(self, sock: socket.socket, *, tls: bool) -> None:
        self.sock = sock
        self.raw: socket.socket = os_socket(sock)  # for peeks and shutdown, under gevent's and ssl's wrappers
        self.buf = bytearray()
        self.ssl = tls

    def idle_and_alive(self) -> bool:
        """Whether a pooled connection may carry a request: the worker has not closed it, and
        nothing unexpected waits to be read (urllib3 checks the same before reusing one)."""
        if self.buf:
            return False
        try:
            if self.raw.gettimeout() != 0.0:  # gevent keeps it so: no ioctl per request then
                self.raw.settimeout(0.0)  # a socket with a timeout would wait for data even with MSG_DONTWAIT
            _socket.socket.recv(self.raw, 1, PEEK_NOW)  # the bytes under any TLS
        except (BlockingIOError, InterruptedError):
            return True
        except (OSError, ValueError):
            return False
        return False  # end of data, or bytes nobody asked for

    def shutdown(self) -> None:
        """End the connection under a reader blocked on it (which then reads end of data)."""
        try:
            _socket.socket.shutdown(self.raw, socket.SHUT_RDWR)  # not ssl's, which drops its TLS state first
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def fill(self, deadline: float) -> None:
        """Read at least one more byte into ``buf`` before ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        data = self.sock.recv(RECV_SIZE)
        if not data:
            raise _Broken("the worker closed the connection before its reply was complete")
        self.buf += data

    def take(self, size: int, deadline: float) -> bytes:
        while len(self.buf) < size:
            self.fill(deadline)
        out = bytes(self.buf[:size])
        del self.buf[:size]
        return out

    def line(self, deadline: float, limit: int = MAX_HEAD) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                out = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return out
            if len(self.buf) > limit:
                raise _Broken("a line of the worker's reply is too long")
            self.fill(deadline)


@dataclass(frozen=True)
class _Head:
    status: int
    version: str
    headers: dict[str, str]  # lower-case names; repeated ones joined with ", "


def _read_head(conn: _Connection, deadline: float) -> _Head:
    while True:
        end = conn.buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(conn.buf) > MAX_HEAD:
            raise _Broken(f"the worker's reply head is over {MAX_HEAD} bytes")
        conn.fill(deadline)
    block = bytes(conn.buf[:end]).decode("latin-1")
    del conn.buf[: end + 4]
    status_line, _, rest = block.partition("\r\n")
    version, _, tail = status_line.partition(" ")
    code = tail[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise _Broken(f"the worker's reply is not HTTP: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in rest.split("\r\n") if rest else ():
        name, colon, value = line.partition(":")
        if not colon:
            raise _Broken(f"a malformed header line in the worker's reply: {line[:80]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return _Head(int(code), version, headers)


def _read_body(conn: _Connection, head: _Head, method: str, deadline: float) -> tuple[bytes, bool]:
    """The reply's body, and whether the connection can carry another request."""
    reusable = head.version != "HTTP/1.0" and "close" not in head.headers.get("connection", "").lower()
    if method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
        return b"", reusable
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size_text = conn.line(deadline).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Broken(f"a malformed chunk size in the worker's reply: {size_text[:20]!r}") from None
            if size == 0:
                while conn.line(deadline):  # trailers, up to the empty line
                    pass
                return b"".join(parts), reusable and not conn.buf
            parts.append(conn.take(size, deadline))
            if conn.take(2, deadline) != b"\r\n":
                raise _Broken("a chunk of the worker's reply does not end with CRLF")
    length_text = head.headers.get("content-length")
    if length_text is not None:
        try:
            length = int(length_text)
        except ValueError:
            raise _Broken(f"a malformed Content-Length in the worker's reply: {length_text[:20]!r}") from None
        if length < 0:
            raise _Broken("a negative Content-Length in the worker's reply")
        body = conn.take(length, deadline)
        return body, reusable and not conn.buf
    while True:  # no length: the body ends when the worker closes the connection
        try:
            conn.fill(deadline)
        except _Broken:
            body = bytes(conn.buf)
            conn.buf.clear()
            return body, False


def _open(origin: _Origin, timeout_s: float) -> socket.socket:
    """A connected socket to ``origin``. An IP address is connected to as it is: name resolution
    (a trip through gevent's resolver threads, 0.2 ms) is for names only."""
    if origin.family is None:
        return socket.create_connection((origin.host, origin.port), timeout=timeout_s)
    sock = socket.socket(origin.family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect((origin.host, origin.port))
    except BaseException:
        sock.close()
        raise
    return sock


def _quick_ack(sock: socket.socket) -> None:
    """Acknowledge the worker's reply segments at once (Linux clears this after each use, so it is
    set per request). A worker that writes its reply head and body in two sends with Nagle on
    (as Python's http.server does) otherwise waits for our delayed ACK: about 40 ms a reply."""
    if hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


def _multipart(data: Mapping[str, str], files: Mapping[str, FileField]) -> tuple[bytes, str]:
    """A multipart/form-data body: the fields, then the files (as requests/urllib3 encode it)."""
    boundary = os.urandom(16).hex()
    out = bytearray()
    for name, value in data.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{_param(name)}"\r\n\r\n'.encode()
        out += str(value).encode("utf-8") + b"\r\n"
    for name, (filename, content, content_type) in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{_param(name)}"; '
                f'filename="{_param(filename)}"\r\n').encode()
        kind = " ".join(str(content_type or "").split())  # never a line break in a header
        if kind:
            out += f"Content-Type: {kind}\r\n".encode()
        out += b"\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _param(value: str) -> str:
    """A quoted header parameter's text, escaped as HTML5 forms do (and urllib3)."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class _CancelHook:
    """Shuts a connection down when the request's ``cancel`` fires; notes that it did."""

    __slots__ = ("conn", "fired")

    def __init__(self, conn: _Connection) -> None:
        self.conn = conn
        self.fired = False

    def __call__(self) -> None:
        self.fired = True
        self.conn.shutdown()


class HttpWorkerClient:
    """``WorkerClient`` over kept-alive HTTP/1.1 connections to every worker (http or https)."""

    def __init__(self, *, connect_timeout_s: float = 3.0, pool_size: int = 64, hosts: int = 16,
                 ssl_context: ssl.SSLContext | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.connect_timeout_s = connect_timeout_s
        self._headers = dict(headers or {})  # sent with every request (WORKER_TOKEN's X-Worker-Token)
        self.pool_size = pool_size  # idle connections kept per worker; more may be open at once
        self._ssl_context = ssl_context
        self._ssl_lock = threading.Lock()
        self._origins: dict[str, _Origin] = {}
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._swept = time.monotonic()
        del hosts  # accepted for callers that size per host; idle stacks are made per worker as needed

    # -- connections --

    def _origin(self, url: str) -> _Origin:
        origin = self._origins.get(url)
        if origin is None:
            origin = self._origins[url] = _origin(url)
        return origin

    def _tls(self) -> ssl.SSLContext:
        with self._ssl_lock:
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
            return self._ssl_context

    def _pooled(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            try:
                conn = idle.pop()  # the most recently used: the likeliest to be alive
            except IndexError:
                return None
            if conn.idle_and_alive():
                return conn
            conn.close()
        return None

    def _connect(self, request: WorkerRequest, origin: _Origin, connect_s: float) -> _Connection:
        try:
            sock = _open(origin, connect_s)
        except TimeoutError:
            raise BackendUnreachable(request.url, f"no connection within {connect_s:g}s") from None
        except socket.gaierror as exc:
            raise BackendUnreachable(request.url, f"cannot resolve {origin.host}: {exc.strerror or exc}") from None
        except OSError as exc:
            raise BackendUnreachable(request.url, _os_reason(exc)) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if origin.scheme == "https":
                sock = self._tls().wrap_socket(sock, server_hostname=origin.host)
        except TimeoutError:
            sock.close()
            raise BackendUnreachable(request.url, f"no TLS handshake within {connect_s:g}s") from None
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise BackendUnreachable(request.url, f"its TLS certificate does not verify ({exc.verify_message}): "
                                     "certificate verify failed; check WORKER_CA", untrusted=True) from None
        except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; named for the reader
            sock.close()
            raise BackendUnreachable(request.url, f"TLS handshake failed: {exc}") from None
        return _Connection(sock, tls=origin.scheme == "https")

    def _keep(self, origin: _Origin, conn: _Connection) -> None:
        idle = self._idle.get(origin)
        if idle is None:
            idle = self._idle.setdefault(origin, deque())
        if len(idle) < self.pool_size:
            idle.append(conn)
        else:
            conn.close()
        if time.monotonic() - self._swept > SWEEP_S:
            self._sweep()

    def _sweep(self) -> None:
        """Close idle connections their workers have closed (a removed worker's would stay forever)."""
        self._swept = time.monotonic()
        for idle in list(self._idle.values()):
            for _ in range(len(idle)):
                try:
                    conn = idle.popleft()
                except IndexError:
                    break
                if conn.idle_and_alive():
                    idle.append(conn)
                else:
                    conn.close()

    # -- one exchange --

    def send(self, request: WorkerRequest, *, cancel: CancelSignal | None = None) -> WorkerReply:
        origin = self._origin(request.url)
        body, content_type = request.body()
        head = _request_head(request, origin, body, content_type, self._headers)
        if cancel is not None and cancel.is_set():
            raise ClientGone(f"the client left; its job was not sent to {request.url}")
        conn = self._pooled(origin)
        if conn is None:
            conn = self._connect(request, origin, min(self.connect_timeout_s, request.timeout_s))
        hook = _CancelHook(conn)
        unregister = on_cancel(cancel, hook) if cancel is not None else None
        if cancel is not None and unregister is None:  # it fired while we connected
            conn.close()
            raise ClientGone(f"the client left; its job was not sent to {request.url}")
        deadline = time.monotonic() + request.timeout_s
        try:
            reply, reusable = self._exchange(conn, request, head, body, deadline)
        except (TimeoutError, _Broken, OSError, ValueError) as exc:
            conn.close()
            if hook.fired:
                raise ClientGone(f"the client left; its job on {request.url} was cancelled") from None
            if isinstance(exc, TimeoutError):
                raise UpstreamTimeout(
                    f"worker {request.url} did not answer {request.path} within {request.timeout_s:g}s; "
                    "raise TIMEOUT or retry later",
                    extra={"backend": request.url},
                ) from None
            reason = exc.reason if isinstance(exc, _Broken) else _os_reason(exc)
            raise BackendUnreachable(request.url, reason, sent=True) from None
        finally:
            if unregister is not None:
                unregister()
        if reusable and not hook.fired:
            self._keep(origin, conn)
        else:
            conn.close()
        return reply

    def _exchange(self, conn: _Connection, request: WorkerRequest, head: bytes, body: bytes,
                  deadline: float) -> tuple[WorkerReply, bool]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        conn.sock.settimeout(remaining)
        if len(body) <= RECV_SIZE:
            send_all(conn.sock, head + body)  # one send: no Nagle wait between head and body
        else:
            send_all(conn.sock, head)
            send_all(conn.sock, body)
        _quick_ack(conn.raw)
        reply_head = _read_head(conn, deadline)
        while 100 <= reply_head.status < 200 and reply_head.status != 101:  # 100 Continue and the like
            reply_head = _read_head(conn, deadline)
        reply_body, reusable = _read_body(conn, reply_head, request.method, deadline)
        headers = reply_head.headers
        reply = WorkerReply(
            status=reply_head.status,
            body=reply_body,
            content_type=headers.get("content-type", "application/octet-stream"),
            retry_after=headers.get("retry-after"),
        )
        return reply, reusable

    def close(self) -> None:
        """Close every idle connection."""
        for idle in list(self._idle.values()):
            while idle:
                idle.pop().close()


def _request_head(request: WorkerRequest, origin: _Origin, body: bytes, content_type: str | None,
                  extra: Mapping[str, str] | None = None) -> bytes:
    lines = [_head_start(request.url, origin, request.method, request.path, content_type)]
    if body or request.method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}\r\n")
    for headers in (extra, request.headers):
        for name, value in headers.items() if headers else ():
            if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
                raise ValueError(f"a line break in the request header {name!r}")
            lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


_HEAD_STARTS: dict[tuple[str, str, str, str | None], str] = {}


def _head_start(url: str, origin: _Origin, method: str, path: str, content_type: str | None) -> str:
    """A request head's lines up to its Content-Length: the same for every job to one worker's
    endpoint, so made once (a few hundred kinds at most: workers, endpoints, body types)."""
    key = (url, method, path, content_type)
    start = _HEAD_STARTS.get(key)
    if start is None:
        target = quote(origin.prefix + path, safe="/%?=&:@!$'()*+,;~-._")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header}",
                 "User-Agent: ansible-tools-balancer", "Accept: */*"]
        if origin.authorization:
            lines.append(f"Authorization: {origin.authorization}")
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        start = "".join(f"{line}\r\n" for line in lines)
        if len(_HEAD_STARTS) < 1024 and not (content_type or "").startswith("multipart/"):  # a boundary each
            _HEAD_STARTS[key] = start
    return start


def _os_reason(exc: BaseException) -> str:
    """A short text for a socket error: 'connection refused' rather than an errno dump."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, (BrokenPipeError, ConnectionAbortedError)):
        return "connection aborted"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror.startswith(("Conn", "No route", "Network")) else exc.strerror
    return type(exc).__name__ + (f": {str(exc)[:200]}" if str(exc) else "")


# --- the fake ----------------------------------------------------------------------------------

Handler = Callable[[WorkerRequest], WorkerReply]


@dataclass
class FakeWorkerClient:
    """A ``WorkerClient`` for tests: ``handler(request)`` answers every ``WorkerRequest``.

    The handler returns a WorkerReply or raises like the real client (BackendUnreachable,
    UpstreamTimeout). ``calls`` records (url, method, path) of every request.
    """

    handler: Handler
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, request: WorkerRequest, *, cancel: CancelSignal | None = None) -> WorkerReply:
        with self._lock:
            self.calls.append((request.url, request.method, request.path))
        return self.handler(request)


def json_reply(body: Any, status: int = 200) -> WorkerReply:
    """A JSON WorkerReply, for fakes."""
    return WorkerReply(status, jsonlib.dumps(body).encode("utf-8"), "application/json")
