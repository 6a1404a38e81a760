"""A thin WSGI dispatch in front of a Flask app for its hottest routes; Flask answers the rest.

design: Flask's per-request machinery (contexts, the URL map, the request and response
objects, the hooks) cost about a third of the balancer's CPU per proxied job, more than the
job's own work (``make profile``). ``FastPath`` wraps ``app.wsgi_app`` and answers a few
exact ``(method, path)`` pairs itself; everything else, and anything unusual on those routes,
goes to Flask unchanged. A handler gets the request's environ, its body (read whole, only
when a Content-Length within MAX_CONTENT_LENGTH says how long) and its request id, and
returns a ``Reply`` or raises:

- ``Fallback``: let Flask answer instead (the body read so far is handed on), e.g. for input
  the handler would refuse: Flask's views then say what is wrong exactly as they always did;
- an ``ApiError``: rendered exactly as the app's JSON error handler renders it.

What the app's request hooks do for every request is done here too, by ``FastPath`` itself: the
request id (``X-Request-Id`` on the reply and in the access line) and the request metrics.
Those hooks are marked with ``mirrored``; a hook without the mark (one added later, an API-key
check say) turns the fast path off for every request, so nothing registered on the app is
ever skipped: at worst a request takes the slower road.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response
from werkzeug.http import HTTP_STATUS_CODES

from common.errors import ApiError
from common.logs import annotate
from common.metrics import HttpMetrics
from common.tracing import REQUEST_ID_HEADER, request_id_from

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
MIRRORED = "_fast_path_mirrored"


def mirrored(hook: F) -> F:
    """Mark a Flask request hook whose effect ``FastPath`` reproduces for the routes it serves."""
    setattr(hook, MIRRORED, True)
    return hook


class Fallback(Exception):
    """The fast path declines this request: Flask answers it."""


@dataclass(frozen=True)
class Reply:
    """A complete reply: status, body, content type, and further headers in order."""

    status_code: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(value: Any, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """``value`` as Flask's ``jsonify`` writes it (compact, ASCII, a final newline)."""
    return Reply(status, (json.dumps(value, separators=(",", ":")) + "\n").encode("ascii"), "application/json", headers)


def error_reply(exc: ApiError) -> Reply:
    """An ApiError as the JSON error handler (``common.http``) renders it."""
    return json_reply(exc.to_json(), exc.status, tuple(exc.headers().items()))


def flask_response(reply: Reply) -> Response:
    """The same reply as a Flask response, for the app's own views."""
    response = Response(reply.body, status=reply.status_code, content_type=reply.content_type)
    for name, value in reply.headers:
        response.headers[name] = value
    return response


@dataclass(frozen=True)
class FastRequest:
    """What a fast handler gets: the WSGI environ, the whole body, the request id."""

    environ: dict[str, Any]
    body: bytes
    request_id: str


Handler = Callable[[FastRequest], Reply]
_STATUS_LINES: dict[int, str] = {}


def status_line(code: int) -> str:
    """The status line werkzeug would send for ``code`` ("200 OK", "499 UNKNOWN")."""
    line = _STATUS_LINES.get(code)
    if line is None:
        reason = HTTP_STATUS_CODES.get(code)
        line = _STATUS_LINES[code] = f"{code} {reason.upper() if reason else 'UNKNOWN'}"
    return line


class FastPath:
    """WSGI middleware: ``routes`` answered here, everything else by ``app``'s own ``wsgi_app``."""

    def __init__(self, app: Flask, routes: Mapping[tuple[str, str], Handler], *, metrics: HttpMetrics | None,
                 max_content_length: int | None) -> None:
        self.app = app
        self.flask = app.wsgi_app
        self.routes = dict(routes)
        self.metrics = metrics
        self.max_content_length = max_content_length

    @classmethod
    def install(cls, app: Flask, routes: Mapping[tuple[str, str], Handler], *, metrics: HttpMetrics | None) -> FastPath:
        """Put a fast path in front of ``app`` (innermost: WSGI middleware added later still wraps it)."""
        fast = cls(app, routes, metrics=metrics, max_content_length=app.config.get("MAX_CONTENT_LENGTH"))
        app.wsgi_app = fast  # type: ignore[method-assign]
        return fast

    def hooks_mirrored(self) -> bool:
        """Whether every app-wide request hook is one this class reproduces."""
        app = self.app
        for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs,
                      app.url_value_preprocessors):
            for hook in hooks.get(None, ()):
                if not getattr(hook, MIRRORED, False):
                    return False
        return True

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        handler = self.routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if handler is None or not self.hooks_mirrored():
            return self.flask(environ, start_response)
        started = time.perf_counter()
        body = b""
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            length = _content_length(environ)
            if length is None or (self.max_content_length is not None and length > self.max_content_length):
                return self.flask(environ, start_response)  # chunked, or too large: Flask says what it always said
            try:
                body = environ["wsgi.input"].read(length) if length else b""
            except ApiError as exc:  # BODY_TIMEOUT (408), raised by the server's socket
                return self._answer(environ, start_response, error_reply(exc), request_id_from(
                    environ.get("HTTP_X_REQUEST_ID")), started)
            if len(body) != length:  # the client stopped short: Flask's reader tells it so
                return self._to_flask(environ, start_response, body)
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        try:
            reply = handler(FastRequest(environ, body, request_id))
        except Fallback:
            return self._to_flask(environ, start_response, body)
        except ApiError as exc:
            reply = error_reply(exc)
        except Exception as exc:  # as common.http's catch-all: logged once, a JSON 500
            log.error("unhandled error", exc_info=exc)
            reply = json_reply({"error": f"internal error: {type(exc).__name__}; see the service log"}, 500)
        return self._answer(environ, start_response, reply, request_id, started)

    def _to_flask(self, environ: dict[str, Any], start_response: Callable[..., Any], body: bytes) -> Iterable[bytes]:
        environ["wsgi.input"] = io.BytesIO(body)
        return self.flask(environ, start_response)

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any], reply: Reply, request_id: str,
                started: float) -> Iterable[bytes]:
        headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))), *reply.headers]
        if not any(name == REQUEST_ID_HEADER for name, _ in reply.headers):
            headers.append((REQUEST_ID_HEADER, request_id))
        annotate(environ, request_id=request_id)
        if self.metrics is not None:
            method = environ["REQUEST_METHOD"]
            self.metrics.observe(environ["PATH_INFO"], method, reply.status_code, time.perf_counter() - started)
        start_response(status_line(reply.status_code), headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [reply.body]


def _content_length(environ: Mapping[str, Any]) -> int | None:
    text = environ.get("CONTENT_LENGTH")
    if not text:
        return 0 if environ.get("HTTP_TRANSFER_ENCODING") is None else None
    try:
        length = int(text)
    except ValueError:
        return None
    return length if length >= 0 else None
