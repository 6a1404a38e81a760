"""HTTP/1.1 for the app's fast routes without gunicorn's per-request machinery; gunicorn does the rest.

design: gunicorn's request parser, environ, response writer and hooks cost about a third of the
balancer's Python time per proxied job (``make profile``), as much as the job's own routing and
forwarding. ``serve_lean`` reads requests off a kept-alive connection itself, but only the
plainest kind, and only for the ``(method, path)`` pairs of the app's fast path
(``common.fastpath``): an HTTP/1.1 GET or POST whose target is exactly one of those paths,
whose header lines are tokens and printable values (each name once; no Transfer-Encoding,
Expect, Connection, Upgrade, no header gunicorn gives a meaning of its own such as
X-Forwarded-Proto or a name with ``_``), with a Content-Length body of at most LEAN_BODY_MAX.
Anything else is handed to gunicorn's own loop untouched: the bytes read so far go back into
the connection (``DeadlineSocket.unread``) and gunicorn parses them as if nothing had happened,
with its checks, limits and error replies; from then on gunicorn serves that connection.

The app is called as gunicorn calls it (the same environ keys), its reply is written as
gunicorn writes it (status line, ``Server``, ``Date``, ``Connection``, then the app's headers,
checked the same way) in one send, and the access line is logged through the same logger.
It is used only where all of that holds: plain TCP (no TLS, no PROXY protocol, no HTTP/2
cleartext), keep-alive on, gunicorn's default access format and request hooks, no SCRIPT_NAME.
The deadlines (idle, head, body) are the connection's own (``DeadlineSocket``), as under gunicorn.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gunicorn import SERVER
from gunicorn import util as gunicorn_util
from gunicorn.config import AccessLogFormat
from gunicorn.http.errors import InvalidResponseHeader, InvalidResponseHeaderName
from gunicorn.http.wsgi import HEADER_VALUE_RE, base_environ
from gunicorn.http.message import TOKEN_RE

LEAN_HEAD_MAX = 8192  # a longer request head is gunicorn's to parse (and limit)
LEAN_BODY_MAX = 1024 * 1024  # a longer body is read by gunicorn's body reader
MAX_HEADERS = 100  # gunicorn's default limit_request_fields
_NAME = re.compile(rb"[!#$%&'*+.^`|~0-9A-Za-z-]+")  # a token; "_" is left to gunicorn (it has rules for it)
_VALUE = re.compile(rb"[\x20-\x7e\t]*")
_TARGET = re.compile(rb"/[\x21-\x22\x24-\x7e]*")  # origin-form, printable, no fragment
# request headers with a meaning beyond their value: gunicorn decides what to do with these
_NOT_LEAN = frozenset({b"TRANSFER-ENCODING", b"EXPECT", b"CONNECTION", b"UPGRADE", b"TE", b"HTTP2-SETTINGS",
                       b"KEEP-ALIVE", b"PROXY-CONNECTION", b"TRAILER"})


class _Resp:
    """What the access logger reads of a reply (gunicorn's ``Response`` in miniature)."""

    __slots__ = ("status", "sent", "headers", "response_length")

    def __init__(self, status: str, sent: int, headers: list[tuple[str, str]]) -> None:
        self.status = status
        self.sent = sent
        self.headers = headers
        self.response_length = sent


@dataclass
class LeanServer:
    """Serves the plain requests for ``routes`` on one gunicorn worker's connections."""

    worker: Any  # the gunicorn worker: its app, cfg, log, alive, nr, max_requests, handle_error
    routes: frozenset[tuple[bytes, bytes]]
    not_lean: frozenset[bytes]

    @classmethod
    def for_worker(cls, worker: Any) -> LeanServer | None:
        """A lean server for ``worker``'s app, or None when it has no fast routes or the set-up needs gunicorn."""
        cfg = worker.cfg
        fast = getattr(getattr(worker.wsgi, "wsgi_app", None), "routes", None)
        if not isinstance(fast, Mapping) or not fast:
            return None
        if (cfg.is_ssl or _on(cfg.proxy_protocol) or not cfg.keepalive or os.environ.get("SCRIPT_NAME")
                or cfg.access_log_format != AccessLogFormat.default or _on(getattr(cfg, "http2_cleartext", None))
                or cfg.pre_request.__module__ != "gunicorn.config" or cfg.post_request.__module__ != "gunicorn.config"):
            return None
        routes = frozenset((method.encode("ascii"), path.encode("ascii")) for method, path in fast)
        scheme_headers = {name.upper().replace("_", "-").encode("latin-1") for name in cfg.secure_scheme_headers}
        forwarders = {name.upper().replace("_", "-").encode("latin-1") for name in cfg.forwarder_headers}
        return cls(worker, routes, _NOT_LEAN | scheme_headers | forwarders)

    def serve(self, listener: Any, conn: Any, addr: Any) -> bool:
        """Serve ``conn`` while its requests are plain ones: True once the connection is done
        with, False when the next request is gunicorn's (its bytes are back in ``conn``)."""
        worker = self.worker
        try:
            server = listener.getsockname()
        except OSError:
            return False
        if not isinstance(server, tuple) or not isinstance(addr, tuple):
            return False
        base = base_environ(worker.cfg)
        base.update({"SERVER_NAME": str(server[0]), "SERVER_PORT": str(server[1]), "REMOTE_ADDR": addr[0],
                     "REMOTE_PORT": str(addr[1]), "SCRIPT_NAME": "", "wsgi.url_scheme": "http",
                     "wsgi.multithread": True, "SERVER_PROTOCOL": "HTTP/1.1", "gunicorn.socket": conn})
        buf = b""
        while True:
            state = conn.save_state()
            try:
                with conn.reading_head():
                    while True:
                        end = buf.find(b"\r\n\r\n")
                        if end >= 0 or len(buf) > LEAN_HEAD_MAX:
                            break
                        data = conn.recv(65536)
                        if not data:
                            if buf:  # a head cut short: gunicorn says what it says about that
                                conn.unread(buf, state)
                                return False
                            return True
                        buf += data
            except Exception as exc:  # a deadline passed: gunicorn's answer for it (408 or a quiet close)
                if type(exc).__name__ == "NoMoreData":
                    return True
                raise
            request = self._plain(buf[:end]) if end >= 0 else None
            if request is None:
                conn.unread(buf, state)
                return False
            method, target, path, query, headers, length = request
            buf = buf[end + 4:]
            while len(buf) < length:  # the body, under the connection's body deadline
                data = conn.recv(65536)
                if not data:
                    return True  # the client left mid-body
                buf += data
            body, buf = buf[:length], buf[length:]
            if not self._answer(base, conn, method, target, path, query, headers, body, addr):
                return True

    def _plain(self, head: bytes) -> tuple[str, str, str, str, list[tuple[bytes, bytes]], int] | None:
        """(method, target, path, query, headers, content length) of a plain request head, else None."""
        request_line, _, rest = head.partition(b"\r\n")
        parts = request_line.split(b" ")
        if len(parts) != 3 or parts[2] != b"HTTP/1.1" or not _TARGET.fullmatch(parts[1]):
            return None
        method, target = parts[0], parts[1]
        path, _, query = target.partition(b"?")
        if (method, path) not in self.routes:
            return None
        headers: list[tuple[bytes, bytes]] = []
        seen: set[bytes] = set()
        length = 0
        for line in rest.split(b"\r\n") if rest else ():
            name, colon, value = line.partition(b":")
            if not colon or not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
                return None
            name = name.upper()
            if name in seen or name in self.not_lean:
                return None
            seen.add(name)
            value = value.strip(b" \t")
            if name == b"CONTENT-LENGTH":
                if not value.isdigit() or len(value) > 9:
                    return None
                length = int(value)
                if length > LEAN_BODY_MAX or (length and method == b"GET"):
                    return None
            headers.append((name, value))
        if len(headers) > MAX_HEADERS:
            return None
        return (method.decode("ascii"), target.decode("ascii"), path.decode("ascii"), query.decode("ascii"),
                headers, length)

    def _answer(self, base: dict[str, Any], conn: Any, method: str, target: str, path: str, query: str,
                headers: list[tuple[bytes, bytes]], body: bytes, addr: Any) -> bool:
        """Run the app for one request and write its reply; False when the connection must close."""
        worker = self.worker
        started = datetime.now()
        environ = dict(base)
        environ.update({"REQUEST_METHOD": method, "RAW_URI": target, "PATH_INFO": path, "QUERY_STRING": query,
                        "wsgi.input": io.BytesIO(body)})
        for name, raw in headers:
            key = _ENVIRON_KEYS.get(name)
            if key is None:
                key = _environ_key(name)
            environ[key] = raw.decode("latin-1")
        worker.nr += 1
        if worker.nr >= worker.max_requests and worker.alive:
            worker.log.info("Autorestarting worker after current request.")
            worker.alive = False
        reply: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            reply[:] = [status, response_headers]
            return _no_write

        result: Iterable[bytes] = worker.wsgi(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, response_headers = reply
        keep_alive = worker.alive
        lines = [f"HTTP/1.1 {status}\r\nServer: {SERVER}\r\nDate: {_http_date()}\r\n"
                 f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"]
        kept: list[tuple[str, str]] = []
        for name, value in response_headers:  # gunicorn's checks (Response.process_headers)
            hoppish = _NAMES.get(name)
            if hoppish is None:
                if not TOKEN_RE.fullmatch(name):
                    raise InvalidResponseHeaderName(f"{name!r}")
                hoppish = gunicorn_util.is_hoppish(name)
                if len(_NAMES) < 256:
                    _NAMES[name] = hoppish
            if not HEADER_VALUE_RE.fullmatch(value):
                raise InvalidResponseHeader(f"{name!r}")
            value = value.strip(" \t")
            if hoppish:
                continue
            kept.append((name, value))
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        code = status.split(None, 1)[0]
        if code in ("204", "304") or code.startswith("1"):
            payload = b""
        conn.end_reply()  # nothing of ours is held back: head and body go in one send here
        conn.sendall("".join(lines).encode("latin-1") + payload)
        worker.log.access(_Resp(status, len(payload), kept), None, environ, datetime.now() - started)
        return keep_alive


_ENVIRON_KEYS: dict[bytes, str] = {b"CONTENT-TYPE": "CONTENT_TYPE", b"CONTENT-LENGTH": "CONTENT_LENGTH"}


def _environ_key(name: bytes) -> str:
    """The environ key of a request header (upper case, as ``_plain`` leaves it), remembered."""
    key = "HTTP_" + name.decode("ascii").replace("-", "_")
    if len(_ENVIRON_KEYS) < 512:
        _ENVIRON_KEYS[name] = key
    return key


_NAMES: dict[str, bool] = {}  # response header names found to be tokens -> whether hop-by-hop
_date = [0, ""]  # (second, gunicorn's Date for it)


def _http_date() -> str:
    """gunicorn's Date header value, made once a second."""
    second = int(time.time())
    if second != _date[0]:
        _date[:] = [second, gunicorn_util.http_date(second)]
    return str(_date[1])


def _on(setting: Any) -> bool:
    """Whether a gunicorn setting that may be a bool or a word (``"off"``) is on."""
    return setting not in (None, False, "", "off")


def _no_write(data: bytes) -> None:
    raise RuntimeError("the fast routes return their body; they never call write()")

