"""Run a Flask app under gunicorn from ``python3 app.py``, as production does.

design: each service keeps its slots, queues and health in memory, so it must be ONE
process (the balancer's BALANCER_PROCESSES shares its pool between several: balancer.shm_state). Concurrency comes from gevent (``common.green_worker``): every connection is a
greenlet, so thousands of slow, idle or waiting clients cost no thread, and the deadlines on
request heads and bodies, the connection cap and the SIGTERM drain live in that worker class.
``python3 app.py`` embeds gunicorn through ``BaseApplication`` so what the seed's users start
is what tests and benchmarks exercise; ``gunicorn -c gunicorn.conf.py app:app`` runs the same
options. The entry points monkey-patch with gevent before importing anything else, so every
lock and socket in the service is cooperative.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.config import AccessLogFormat

from common.config import ConfigError, parse_float
from common.green_worker import ServerLimits, ServingWorker

T = TypeVar("T")

# (env name, field, default, doc): the server knobs both services share
SERVER_SETTINGS: tuple[tuple[str, str, float | None, str], ...] = (
    ("HEADER_TIMEOUT", "header_timeout_s", 10.0, "seconds a client may take to send a request head; then 408"),
    ("BODY_TIMEOUT", "body_timeout_s", 60.0, "seconds a client may take to send a request body after its head; then 408"),
    ("KEEPALIVE", "keepalive_s", 5.0, "seconds an idle kept-alive client connection stays open"),
    ("MAX_CONNECTIONS", "max_connections", 4096, "open client connections; past it a new one gets 503"),
    ("DRAIN_TIMEOUT", "drain_timeout_s", None, "seconds SIGTERM waits for running and waiting jobs (default: TIMEOUT)"),
)


def server_limits_from_env(*, drain_timeout_default_s: float, env: Mapping[str, str] | None = None) -> ServerLimits:
    """The shared server settings from the environment; ConfigError names a bad one."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name, attr, default, _doc in SERVER_SETTINGS:
        raw = env.get(name, "").strip()
        if not raw:
            values[attr] = drain_timeout_default_s if default is None else default
            continue
        number = parse_float(name, raw)
        if number <= 0:
            raise ConfigError(f"{name} must be a positive number, not {raw!r}")
        values[attr] = int(number) if isinstance(default, int) else number
    return ServerLimits(**values)


def worker_class(limits: ServerLimits) -> type[ServingWorker]:
    """The gunicorn worker class carrying ``limits``."""
    return type("ServingWorker", (ServingWorker,), {"limits": limits, "__module__": ServingWorker.__module__})


def gunicorn_options(port: int, limits: ServerLimits, *, host: str = "0.0.0.0", processes: int = 1) -> dict[str, Any]:
    """The options both services run with; gunicorn.conf.py uses the same values.

    ``processes``: one unless the service shares its state between processes (the balancer's
    BALANCER_PROCESSES); then the state must be made before the fork (``on_starting``)."""
    return {
        "bind": f"{host}:{port}",
        "workers": processes,  # one by default: state lives in memory (see module docstring)
        "worker_class": worker_class(limits),
        "worker_connections": limits.max_connections + 64,  # room to answer 503 past the cap
        "backlog": 4096,
        "timeout": 120,  # heartbeat only: the event loop notifies every second unless it is stuck
        "graceful_timeout": int(limits.drain_timeout_s) + 30,  # the drain, then open requests
        "keepalive": max(1, math.ceil(limits.keepalive_s)),
        "accesslog": "-",
        "logger_class": AccessLogger,
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn 27's control socket has one default path per user: several services on
        # one machine would fight over it, and nothing here uses it.
        "control_socket_disable": True,
    }


COMBINED = '%s - %s %s "%s" %s %s "%s" "%s"%s'  # gunicorn's default access format, with room for a suffix


class AccessLogger(glogging.Logger):
    """gunicorn's logger, with the access line of its default format written without its machinery.

    design: gunicorn builds a dict of every request header, response header and environ
    variable for each access line, whatever the format uses (6% of the balancer's CPU per
    proxied job, 18% of a ``/healthz``). With the default format this writes the same line
    from the few values it names; any other ``access_log_format`` goes through gunicorn.
    """

    _stamp_second = -1
    _stamp = ""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != AccessLogFormat.default:
            super().access(resp, req, environ, request_time)
            return
        self.combined_line(resp, environ)

    def combined_line(self, resp: Any, environ: dict[str, Any], suffix: str = "") -> None:
        """gunicorn's default (combined) access line from the values it names, then ``suffix``."""
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        request_line = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
        fields = (environ.get("REMOTE_ADDR", "-"), self._get_user(environ) or "-", self._now(), request_line,
                  status, "-" if sent is None else sent, environ.get("HTTP_REFERER", "-"), environ.get("HTTP_USER_AGENT", "-"))
        quoted = [value.replace('"', '\\"') if isinstance(value, str) else value for value in fields]
        try:
            handler = self._plain_handler()
            if handler is None:
                self.access_log.info(COMBINED, *quoted, suffix)
                return
            line = COMBINED % (*quoted, suffix)
            handler.acquire()
            try:
                handler.stream.write(line + handler.terminator)
                handler.flush()
            finally:
                handler.release()
        except Exception:
            self.exception("access log line failed")

    def _plain_handler(self) -> logging.StreamHandler[Any] | None:
        """The access log's one stream handler when it writes each message as it is (gunicorn's own
        ``%(message)s`` set-up, to stdout or a file): a line then goes straight to its stream, as
        that handler would write it, without a log record (a fifth of the line's cost otherwise).
        None when anything else is configured (filters, other handlers or formats, syslog)."""
        log = self.access_log
        handlers = log.handlers
        if len(handlers) != 1 or log.filters or not log.isEnabledFor(logging.INFO):
            return None
        handler = handlers[0]
        if (type(handler) not in (logging.StreamHandler, logging.FileHandler) or handler.filters
                or type(handler.formatter) is not logging.Formatter or handler.formatter._fmt != "%(message)s"
                or handler.level > logging.INFO or handler.stream is None):
            return None
        return handler

    def _now(self) -> str:
        second = int(time.time())
        if second != self._stamp_second:  # strftime once a second, not once a request
            self._stamp = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
            self._stamp_second = second
        return self._stamp


class _ReloadingArbiter(Arbiter):
    """gunicorn's master, except that SIGHUP asks the worker to reload instead of replacing it."""

    def handle_hup(self) -> None:
        self.log.info("SIGHUP: asking the worker to reload its configuration")
        self.kill_workers(signal.SIGHUP)


class EmbeddedServer(BaseApplication):
    """gunicorn serving the app that ``factory`` builds.

    The app is built in ``load()``, i.e. inside the forked worker process, so the
    background threads it starts (health checks, model refresh) live where requests are
    served, exactly as with ``gunicorn app:app``.
    """

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key.lower(), value)

    def load(self) -> Flask:
        return self._factory()

    def run(self) -> None:
        try:
            _ReloadingArbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            raise SystemExit(1) from None


def configure_logging() -> None:
    """One-line log records on stderr; call once from an entry point."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(factory: Callable[[], Flask], options: dict[str, Any]) -> None:
    """Block serving the app ``factory`` builds, with gunicorn ``options``, until SIGTERM/SIGINT."""
    EmbeddedServer(factory, options).run()


def settings_or_exit(load: Callable[[], T], program: str) -> T:
    """Load settings; a bad value ends the program with its message and exit status 2."""
    try:
        return load()
    except ValueError as exc:
        print(f"{program}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def lazy_app(factory: Callable[[], Flask]) -> Callable[[str], Flask]:
    """A module ``__getattr__`` that builds ``app`` on first access, for `gunicorn module:app`.

    gunicorn imports the module in its master (gunicorn.conf.py reads ``server_options``) and
    looks ``app`` up in the forked worker: built there, the app's threads live where it serves.
    """

    def module_getattr(name: str) -> Flask:
        if name != "app":
            raise AttributeError(name)
        module = sys.modules[factory.__module__]
        if "app" not in module.__dict__:
            module.__dict__["app"] = factory()
        return module.__dict__["app"]

    return module_getattr
