"""Run a Flask app under gunicorn from ``python3 app.py``, as production does.

design: each service keeps its slots, queues and health in memory, so it must be ONE
process; concurrency comes from gthread's thread pool. ``python3 app.py`` embeds gunicorn
through ``BaseApplication`` so what the seed's users start is what tests and benchmarks
exercise: keep-alive, a graceful SIGTERM, a timeout longer than the slowest LLM job.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


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
    }


class EmbeddedServer(BaseApplication):  # type: ignore[misc]
    """gunicorn serving one already-built WSGI app."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key.lower(), value)

    def load(self) -> Flask:
        return self._app


def configure_logging() -> None:
    """One-line log records on stderr; call once from an entry point."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(app: Flask, port: int, *, threads: int, timeout_s: int) -> None:
    """Block serving ``app`` on 0.0.0.0:port until SIGTERM/SIGINT."""
    EmbeddedServer(app, gunicorn_options(port, threads=threads, timeout_s=timeout_s)).run()
