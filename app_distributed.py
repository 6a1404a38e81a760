"""The balancer: ``python3 app_distributed.py`` (or ``app-distributed.py``, the same file).

Edit BACKENDS below (as the setup guide says), or override it with env BACKENDS
(comma-separated URLs) or BACKENDS_FILE (a backends.json). Every setting: balancer/settings.py.
"""

BACKENDS = [
    'http://localhost:5001',
    'http://localhost:5002',
    'http://localhost:5003',
]
chunk_size = 10  # lines per chunk for split processing (env CHUNK_SIZE overrides)
timeout = 600  # request timeout in seconds (env TIMEOUT overrides)

from typing import Any  # noqa: E402

from flask import Flask  # noqa: E402

from balancer.settings import Settings  # noqa: E402
from balancer.web import create_app  # noqa: E402
from common.serving import configure_logging, gunicorn_options, lazy_app, serve, settings_or_exit  # noqa: E402

settings = settings_or_exit(
    lambda: Settings.from_env({"BACKENDS": BACKENDS, "CHUNK_SIZE": chunk_size, "TIMEOUT": timeout}), "app_distributed.py"
)


def server_options() -> dict[str, Any]:
    """gunicorn's options for the balancer: one process, a thread for every job in flight or waiting."""
    return gunicorn_options(
        settings.port, threads=settings.server_threads, timeout_s=int(settings.timeout_s + settings.queue_timeout_s) + 60
    )


def build_app() -> Flask:
    return create_app(settings)


__getattr__ = lazy_app(build_app)  # `gunicorn app_distributed:app` builds it in the serving process


if __name__ == "__main__":
    configure_logging()
    serve(build_app, server_options())
