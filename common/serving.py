"""Run a Flask app under gunicorn from ``python3 app.py``, as production does.

design: each service keeps its slots, queues and health in memory, so it must be ONE
process; concurrency comes from gthread's thread pool. ``python3 app.py`` embeds gunicorn
through ``BaseApplication`` so what the seed's users start is what tests and benchmarks
exercise: keep-alive, a graceful SIGTERM, a timeout longer than the slowest LLM job.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask
from gunicorn.app.base import BaseApplication

T = TypeVar("T")


def gunicorn_options(port: int, *, threads: int, timeout_s: int, host: str = "0.0.0.0") -> dict[str, Any]:
    """The options both services run with; gunicorn.conf.py uses the same values."""
    return {
        "bind": f"{host}:{port}",
        "workers": 1,  # one process: state lives in memory (see module docstring)
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout_s,
        "graceful_timeout": 30,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn 27's control socket has one default path per user: several services on
        # one machine would fight over it, and nothing here uses it.
        "control_socket_disable": True,
    }


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
