"""The one seam between the balancer and its workers: ``WorkerClient.send``.

This is the only module that imports ``requests``. Transport failures are translated once,
here, into the error tree:

    connection refused, connect timeout                       -> BackendUnreachable, sent=False (502)
    connection closed or reset after the request, reply cut   -> BackendUnreachable, sent=True (502)
    no reply within the read timeout (TIMEOUT)                -> UpstreamTimeout (504)

A worker's own error replies (4xx/5xx with a JSON body) are not exceptions: they come back as
a ``WorkerReply`` for the proxy to pass through. ``FakeWorkerClient`` is the shipped fake:
tests hand it a function instead of patching requests.

design: a job whose client left must not keep a GPU busy. ``send(..., cancel=)`` watches the
signal while it waits for the worker's reply; when it fires, the socket of that request is
shut down. The worker sees its client (us) go, drops the job or stops the LLM's stream, and
``send`` raises ClientGone. The socket is known because our urllib3 connections note it, per
request, in a holder the sending thread hands over (``_Tracked``).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError

from balancer.state import CancelSignal
from common.errors import ClientGone, UpstreamError, UpstreamTimeout

log = logging.getLogger(__name__)


class BackendUnreachable(UpstreamError):
    """No reply came from a worker: the connection failed, or broke before the reply was whole.

    ``sent``: the connection was made and the request (maybe) sent; the worker then closed or
    reset it. That is the worker's fault (outlier detection counts it); a refused connection
    says the worker is not there (health).
    """

    def __init__(self, url: str, message: str, *, sent: bool = False) -> None:
        super().__init__(f"worker {url} unreachable: {message}", extra={"backend": url})
        self.url = url
        self.sent = sent


@dataclass(frozen=True)
class WorkerReply:
    """A worker's complete HTTP reply."""

    status: int
    body: bytes
    content_type: str = "application/json"
    retry_after: str | None = None

    def json(self) -> Any:
        import json

        return json.loads(self.body.decode("utf-8"))


FileField = tuple[str, bytes, str]  # (filename, content, content type)
CANCEL_POLL_S = 0.2


class WorkerClient(Protocol):
    """What the balancer needs from an HTTP client."""

    def send(
        self,
        url: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, FileField] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float,
        cancel: CancelSignal | None = None,
    ) -> WorkerReply:
        """Send one request to the worker at ``url``; raise BackendUnreachable/UpstreamTimeout,
        or ClientGone when ``cancel`` fires before the reply came."""
        ...


class _CancelWatch:
    """While a request waits for its reply: shut its socket down when ``cancel`` fires."""

    def __init__(self, cancel: CancelSignal | None) -> None:
        self.cancel = cancel
        self.fired = False
        self.sock: socket.socket | None = None  # noted by _TrackedConnection once the request is sent
        self._done = threading.Event()

    def __enter__(self) -> _CancelWatch:
        _current.watch = self
        if self.cancel is not None:
            threading.Thread(target=self._watch, name="cancel-watch", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        _current.watch = None

    def _watch(self) -> None:
        assert self.cancel is not None
        while not self._done.wait(CANCEL_POLL_S):
            if self.cancel.is_set():
                self.fired = True
                if self.sock is not None:
                    try:
                        self.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return


class _Current(threading.local):
    """The cancel watch of the request this thread is sending, if any."""

    watch: _CancelWatch | None = None


_current = _Current()


class _TrackedConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        _quick_ack(self.sock)
        watch = _current.watch
        if watch is not None:  # sent; the thread now waits for the reply on this socket
            watch.sock = self.sock


def _quick_ack(sock: socket.socket | None) -> None:
    """Acknowledge the worker's reply segments at once (Linux clears this after each use, so it is
    set per request). A worker that writes its reply head and body in two sends with Nagle on
    (as Python's http.server does) otherwise waits for our delayed ACK: about 40 ms a reply."""
    if sock is not None and hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


class _TrackedPool(HTTPConnectionPool):
    ConnectionCls = _TrackedConnection


class HttpWorkerClient:
    """``WorkerClient`` over a pooled ``requests.Session`` (keep-alive to every worker)."""

    def __init__(self, *, connect_timeout_s: float = 3.0, pool_size: int = 64, hosts: int = 16) -> None:
        self.connect_timeout_s = connect_timeout_s
        # One Session for all threads: urllib3's connection pools are thread-safe, and sharing
        # them keeps connections to each worker alive across requests (chunk threads come and go).
        self._session = requests.Session()
        # one connection pool per worker host, so keep-alive survives however many workers there are
        adapter = HTTPAdapter(pool_connections=max(16, hosts), pool_maxsize=pool_size, max_retries=0)
        adapter.poolmanager.pool_classes_by_scheme = {**adapter.poolmanager.pool_classes_by_scheme, "http": _TrackedPool}
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.trust_env = False  # never send worker traffic through an HTTP(S)_PROXY

    def send(
        self,
        url: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, FileField] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float,
        cancel: CancelSignal | None = None,
    ) -> WorkerReply:
        connect = min(self.connect_timeout_s, timeout_s)
        try:
            with _CancelWatch(cancel) as watch:
                response = self._session.request(
                    method,
                    url + path,
                    json=json,
                    data=data,
                    files=files,
                    headers=dict(headers or {}),
                    timeout=(connect, timeout_s),
                )
        except requests.RequestException as exc:
            if watch.fired:
                raise ClientGone(f"the client left; its job on {url} was cancelled") from exc
            raise _mapped(url, path, connect, timeout_s, exc) from exc
        return WorkerReply(
            status=response.status_code,
            body=response.content,
            content_type=response.headers.get("Content-Type", "application/octet-stream"),
            retry_after=response.headers.get("Retry-After"),
        )


def _mapped(url: str, path: str, connect: float, timeout_s: float, exc: requests.RequestException) -> Exception:
    """A transport failure as the error tree says it."""
    if isinstance(exc, requests.ConnectTimeout):
        return BackendUnreachable(url, f"no connection within {connect:g}s")
    if isinstance(exc, requests.ReadTimeout):
        return UpstreamTimeout(
            f"worker {url} did not answer {path} within {timeout_s:g}s; raise TIMEOUT or retry later",
            extra={"backend": url},
        )
    return BackendUnreachable(url, _reason(exc), sent=not _never_connected(exc))


def _never_connected(exc: requests.RequestException) -> bool:
    """True when no connection was made (refused, unresolvable, connect timeout)."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError and NameResolutionError are kinds of it


def _reason(exc: BaseException) -> str:
    """The innermost cause's text: 'Connection refused' rather than urllib3's wrapper chain."""
    text = str(exc)
    for marker in ("Connection refused", "Connection reset", "Connection aborted", "RemoteDisconnected",
                   "Remote end closed connection", "Name or service not known"):
        if marker in text:
            return marker.lower() if marker.startswith("Conn") else marker
    return type(exc).__name__ + (f": {text[:200]}" if text else "")


Handler = Callable[..., WorkerReply]


@dataclass
class FakeWorkerClient:
    """A ``WorkerClient`` for tests: ``handler(url, method, path, json=, data=, files=, headers=)``.

    The handler returns a WorkerReply or raises like the real client (BackendUnreachable,
    UpstreamTimeout). ``calls`` records (url, method, path) of every request.
    """

    handler: Handler
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(
        self,
        url: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, FileField] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float,
        cancel: CancelSignal | None = None,
    ) -> WorkerReply:
        with self._lock:
            self.calls.append((url, method, path))
        return self.handler(url, method, path, json=json, data=data, files=files, headers=headers)


def json_reply(body: Any, status: int = 200) -> WorkerReply:
    """A JSON WorkerReply, for fakes."""
    import json

    return WorkerReply(status, json.dumps(body).encode("utf-8"), "application/json")
