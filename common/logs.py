"""One log format for every line a service writes: its own records, gunicorn's and the access log.

``LOG_FORMAT=text`` (the default) writes ``time LEVEL logger: message`` for every record, and
the access log keeps the Apache combined line, followed by the request's own fields when it
has any (``request_id=... backend=... attempts=... queue_wait=...``). ``LOG_FORMAT=json``
writes one JSON object per line for everything: records get ``time``, ``level``, ``logger``,
``message`` (and ``exc`` with a traceback); each request gets ONE access object with ``time``,
``request_id``, ``method``, ``path``, ``status``, ``duration`` (seconds), ``bytes``,
``remote_addr`` and, on the balancer, ``backend``, ``attempts`` and ``queue_wait``.

design: the access line is written by gunicorn's logger once the reply is sent (so its
duration covers the whole exchange, and a request the app never saw is logged too); the
app hands its own per-request facts to it through the WSGI environ (``annotate``), the same
dict gunicorn passes to ``Logger.access``. Nothing is formatted that the chosen format does
not print.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from gunicorn.config import AccessLogFormat

from common.config import one_of
from common.serving import AccessLogger

# (env name, default, doc): declared once; the entry points read it, the README lists it
LOG_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("LOG_FORMAT", "text", "every log line, the access log included: `text` or `json` (one JSON object per line)"),
)
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ENVIRON_KEY = "ansible_farm.access"  # the app's per-request facts for the access line (a dict)

# the order of the access object's fields; the app's own come after the request's
_ACCESS_ORDER = ("request_id", "method", "path", "status", "duration", "bytes", "backend", "attempts", "queue_wait")


def log_format_from_env(env: Mapping[str, str] | None = None) -> str:
    """LOG_FORMAT, checked; ConfigError names a bad value (the entry point exits with status 2)."""
    env = os.environ if env is None else env
    raw = env.get("LOG_FORMAT", "").strip()
    return one_of(LOG_FORMATS)("LOG_FORMAT", raw) if raw else "text"


def annotate(environ: dict[str, Any], **fields: Any) -> None:
    """Add fields to the request's access line (None values are left out)."""
    facts = environ.get(ENVIRON_KEY)
    if facts is None:
        facts = environ[ENVIRON_KEY] = {}
    for key, value in fields.items():
        if value is not None:
            facts[key] = value


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC, ISO 8601), level, logger, message, then its extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _iso(record.created), "level": record.levelname, "logger": record.name}
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            out.update(access)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(fmt: str | None = None) -> None:
    """The service's own records on stderr in LOG_FORMAT; call once from an entry point."""
    fmt = fmt or log_format_from_env()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _text_suffix(facts: Mapping[str, Any]) -> str:
    return "".join(f" {key}={value}" for key, value in facts.items())


class FarmLogger(AccessLogger):
    """gunicorn's logger in LOG_FORMAT: its error log like the service's records, its access
    log as the combined line (text) or one JSON object per request (json)."""

    log_format = "text"  # set on a subclass by ``logger_class``

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not logging.getLogger().handlers:  # `gunicorn -c gunicorn.conf.py app:app`: the service's records too
            configure_logging(self.log_format)
        if self.log_format != "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(logging.Formatter(TEXT_FORMAT))
            return
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())
        for handler in self.access_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        facts = environ.get(ENVIRON_KEY)
        if self.log_format != "json":
            if not facts:
                super().access(resp, req, environ, request_time)
                return
            self._text_access(resp, req, environ, request_time, facts)
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        try:
            status = int(status)
        except (TypeError, ValueError):
            pass
        record: dict[str, Any] = {
            "request_id": None,
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("RAW_URI") or environ.get("PATH_INFO"),
            "status": status,
            "duration": round(request_time.total_seconds(), 6),
            "bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR"),
        }
        record.update(facts or {})
        ordered = {key: record[key] for key in _ACCESS_ORDER if key in record}
        ordered.update({key: value for key, value in record.items() if key not in ordered})
        try:
            self.access_log.info("%s %s", ordered["method"], ordered["path"], extra={"access": ordered})
        except Exception:
            self.exception("access log line failed")

    def _text_access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any, facts: Mapping[str, Any]) -> None:
        """The combined line (as ``AccessLogger`` writes it), then the app's fields, on one line."""
        if self.cfg.access_log_format != AccessLogFormat.default:
            super().access(resp, req, environ, request_time)
            return
        self.combined_line(resp, environ, _text_suffix(facts))


def logger_class(fmt: str) -> type[FarmLogger]:
    """gunicorn's ``logger_class`` for LOG_FORMAT ``fmt``."""
    return type("FarmLogger", (FarmLogger,), {"log_format": fmt, "__module__": FarmLogger.__module__})


def logging_options(fmt: str) -> dict[str, Any]:
    """gunicorn options that put its loggers in LOG_FORMAT (merged over ``gunicorn_options``)."""
    return {"logger_class": logger_class(fmt)}
