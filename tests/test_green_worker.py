"""Units of the serving stack: a reply's head and body leave in one send, in order whatever the
app does; the lean access line is gunicorn's own default line."""

from __future__ import annotations

import datetime
import logging
import re
from typing import Any

import pytest
from gunicorn import glogging
from gunicorn.config import Config

from common.green_worker import COALESCE_MAX, DeadlineSocket, ServerLimits
from common.serving import AccessLogger


class Recorder:
    """The socket under DeadlineSocket: records every call that puts bytes on the wire."""

    def __init__(self) -> None:
        self.wire: list[tuple[str, bytes]] = []

    def sendall(self, data: bytes) -> None:
        self.wire.append(("sendall", bytes(data)))

    def send(self, data: bytes, flags: int = 0) -> int:
        self.wire.append(("send", bytes(data)))
        return len(data)

    def recv(self, size: int, flags: int = 0) -> bytes:
        return b"GET / HTTP/1.1\r\n\r\n"

    def settimeout(self, value: float | None) -> None:
        pass

    def fileno(self) -> int:
        self.wire.append(("fileno", b""))
        return 99

    def close(self) -> None:
        self.wire.append(("close", b""))

    def sendfile(self, file: Any) -> None:
        self.wire.append(("sendfile", b""))


def after_a_request() -> tuple[DeadlineSocket, Recorder]:
    inner = Recorder()
    sock = DeadlineSocket(inner, ServerLimits())
    with sock.reading_head():
        sock.recv(100)
    return sock, inner


def test_the_head_goes_out_with_the_body_in_one_send() -> None:
    sock, inner = after_a_request()
    sock.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    assert inner.wire == []
    sock.sendall(b"{}")
    sock.sendall(b"more")  # later writes pass straight through
    sock.end_reply()
    assert inner.wire == [("sendall", b"HTTP/1.1 200 OK\r\n\r\n{}"), ("sendall", b"more")]


def test_a_reply_without_a_body_goes_out_at_the_end_of_the_request() -> None:
    sock, inner = after_a_request()
    sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    sock.end_reply()
    sock.sendall(b"not held: no request was read since")
    assert inner.wire == [("sendall", b"HTTP/1.1 204 No Content\r\n\r\n"), ("sendall", b"not held: no request was read since")]


@pytest.mark.parametrize("then", ["fileno", "recv", "send", "close", "sendfile"])
def test_anything_else_done_with_the_socket_sends_a_held_head_first(then: str) -> None:
    sock, inner = after_a_request()
    sock.sendall(b"HEAD")
    {"fileno": sock.fileno, "recv": lambda: sock.recv(10), "send": lambda: sock.send(b"x"), "close": sock.close,
     "sendfile": lambda: sock.sendfile(None)}[then]()  # gunicorn's sendfile of a static file
    assert inner.wire[0] == ("sendall", b"HEAD") and len(inner.wire) == (1 if then == "recv" else 2)


def test_a_large_body_is_not_copied_behind_its_head() -> None:
    sock, inner = after_a_request()
    body = b"x" * (COALESCE_MAX + 1)
    sock.sendall(b"HEAD")
    sock.sendall(body)
    assert inner.wire == [("sendall", b"HEAD"), ("sendall", body)]


class _Resp:
    status = "200 OK"
    sent = 1234
    headers: list[tuple[str, str]] = [("Content-Type", "application/json")]


class _Req:
    headers = [("HOST", "x")]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def access_line(logger_class: type[glogging.Logger], environ: dict[str, Any]) -> str:
    cfg = Config()
    cfg.set("accesslog", "/dev/null")
    logger = logger_class(cfg)
    lines = _Lines()
    logger.access_log.addHandler(lines)
    try:
        logger.access(_Resp(), _Req(), environ, datetime.timedelta(milliseconds=3))
    finally:
        logger.access_log.removeHandler(lines)
    assert len(lines.lines) == 1
    return lines.lines[0]


def test_the_lean_access_line_is_gunicorns_default_line() -> None:
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "POST", "RAW_URI": '/generate?x="1"',
               "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": 'curl "8"', "HTTP_AUTHORIZATION": "Basic dXNlcjpwdw=="}
    ours = access_line(AccessLogger, environ)
    theirs = access_line(glogging.Logger, environ)
    stamp = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")
    assert stamp.sub("[t]", ours) == stamp.sub("[t]", theirs)  # the same line, but for a second ticking between
    assert '"POST /generate?x=\\"1\\" HTTP/1.1" 200 1234 "-" "curl \\"8\\""' in ours and ours.startswith("127.0.0.1 - user [")
