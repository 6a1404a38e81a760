"""LOG_FORMAT: the access line in both formats, the record formatter, request ids and forwarding chains."""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

import pytest
from gunicorn.config import Config

from common.logs import ENVIRON_KEY, JsonFormatter, annotate, log_format_from_env, logger_class
from common.tracing import MAX_CHAIN, forwarding_headers, request_id_from


class _Resp:
    status = "200 OK"
    sent = 1234


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def access_record(fmt: str, environ: dict[str, Any]) -> tuple[logging.LogRecord, str]:
    cfg = Config()
    cfg.set("accesslog", "/dev/null")
    logger = logger_class(fmt)(cfg)
    lines = _Lines()
    logger.access_log.addHandler(lines)
    try:
        logger.access(_Resp(), None, environ, datetime.timedelta(milliseconds=3))
    finally:
        logger.access_log.removeHandler(lines)
    assert len(lines.records) == 1
    record = lines.records[0]
    return record, (JsonFormatter().format(record) if fmt == "json" else record.getMessage())


ENVIRON = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "POST", "RAW_URI": "/generate", "PATH_INFO": "/generate",
           "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": "curl/8"}


def test_the_json_access_line_has_every_field_of_the_request() -> None:
    environ = dict(ENVIRON)
    annotate(environ, request_id="abc-1", backend="http://w1:5001", attempts=2, queue_wait=0.25, missing=None)
    _, line = access_record("json", environ)
    record = json.loads(line)
    assert record["request_id"] == "abc-1" and record["method"] == "POST" and record["path"] == "/generate"
    assert record["status"] == 200 and record["duration"] == 0.003 and record["bytes"] == 1234
    assert record["backend"] == "http://w1:5001" and record["attempts"] == 2 and record["queue_wait"] == 0.25
    assert "missing" not in record and record["level"] == "INFO" and record["time"].endswith("Z")
    assert list(record)[:4] == ["time", "level", "logger", "request_id"]


def test_the_text_access_line_is_the_combined_line_then_the_requests_fields() -> None:
    environ = dict(ENVIRON)
    _, plain = access_record("text", environ)
    assert plain.startswith('127.0.0.1 - - [') and plain.endswith('"POST /generate HTTP/1.1" 200 1234 "-" "curl/8"')
    annotate(environ, request_id="abc-1", backend="http://w1:5001", attempts=1)
    _, line = access_record("text", environ)
    assert line == plain.replace(plain[plain.index("["):plain.index("]") + 1], line[line.index("["):line.index("]") + 1]) + \
        " request_id=abc-1 backend=http://w1:5001 attempts=1"
    assert ENVIRON_KEY not in ENVIRON


def test_a_record_with_an_exception_is_one_json_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("balancer.pool", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed here" and parsed["level"] == "ERROR" and "ValueError: boom" in parsed["exc"]


@pytest.mark.parametrize(("raw", "expected"), [("", "text"), ("JSON", "json"), (" text ", "text")])
def test_log_format_values(raw: str, expected: str) -> None:
    assert log_format_from_env({"LOG_FORMAT": raw}) == expected


def test_a_bad_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        log_format_from_env({"LOG_FORMAT": "xml"})


@pytest.mark.parametrize("header", ["abc", "job-1.retry_2", "a" * 128, "id:user@host+1=2~"])
def test_plain_request_ids_are_kept(header: str) -> None:
    assert request_id_from(header) == header


@pytest.mark.parametrize("header", [None, "", "a" * 129, "has space", "quote\"d", "new\nline", "é"])
def test_other_request_ids_are_replaced(header: str | None) -> None:
    made = request_id_from(header)
    assert made != header and len(made) == 32 and made.isalnum()


def test_forwarding_headers_append_the_client() -> None:
    assert forwarding_headers(None, None, "10.0.0.1") == {"X-Forwarded-For": "10.0.0.1", "Forwarded": "for=10.0.0.1;proto=http"}
    both = forwarding_headers("203.0.113.7, 10.1.1.1", 'for="[2001:db8::1]"', "::1", "https")
    assert both == {"X-Forwarded-For": "203.0.113.7, 10.1.1.1, ::1", "Forwarded": 'for="[2001:db8::1]", for="[::1]";proto=https'}


@pytest.mark.parametrize("chain", ["x" * (MAX_CHAIN + 1), "bad\x01byte", "caf\u00e9"])
def test_an_unusable_incoming_chain_is_dropped(chain: str) -> None:
    headers = forwarding_headers(chain, chain, "10.0.0.1", "gopher")
    assert headers == {"X-Forwarded-For": "10.0.0.1", "Forwarded": "for=10.0.0.1;proto=http"}


def test_the_readme_lists_the_log_settings_for_both_services() -> None:
    from common.logs import LOG_SETTINGS
    from tests.procs import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, default, _doc in LOG_SETTINGS:
        assert readme.count(f"| `{name}` | `{default}` |") == 2, f"{name} is not in both settings tables"
