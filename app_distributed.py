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

if __name__ == "__main__":  # serving: make every lock and socket cooperative before anything else is imported
    from gevent import monkey

    monkey.patch_all()

from typing import Any  # noqa: E402

from flask import Flask  # noqa: E402

from balancer import shm_state  # noqa: E402
from balancer.settings import Settings  # noqa: E402
from balancer.web import create_app  # noqa: E402
from common.logs import configure_logging, log_format_from_env, logging_options  # noqa: E402
from common.tls import ServerTls  # noqa: E402
from common.serving import (  # noqa: E402
    gunicorn_options,
    lazy_app,
    serve,
    server_limits_from_env,
    settings_or_exit,
)


def load_settings() -> Settings:
    return settings_or_exit(
        lambda: Settings.from_env({"BACKENDS": BACKENDS, "CHUNK_SIZE": chunk_size, "TIMEOUT": timeout}), "app_distributed.py"
    )


settings = load_settings()
server_limits = settings_or_exit(lambda: server_limits_from_env(drain_timeout_default_s=settings.timeout_s), "app_distributed.py")
log_format = settings_or_exit(log_format_from_env, "app_distributed.py")
server_tls = settings_or_exit(ServerTls.from_env, "app_distributed.py")


def server_options() -> dict[str, Any]:
    """gunicorn's options for the balancer: BALANCER_PROCESSES gevent processes (one by default) with the
    shared server limits; with several, their shared pool is made in the master before it forks them."""
    options = {**gunicorn_options(settings.port, server_limits, processes=settings.processes),
               **logging_options(log_format), **server_tls.gunicorn_options()}
    if settings.processes > 1 and not settings.state_url:
        options["on_starting"] = lambda _arbiter: shm_state.prepare(settings.shared_tickets)
    return options


def build_app() -> Flask:
    # read anew: under `gunicorn app_distributed:app`, SIGHUP replaces the worker process and
    # the new one must see the edited backends.json
    return create_app(load_settings())


__getattr__ = lazy_app(build_app)  # `gunicorn app_distributed:app` builds it in the serving process


if __name__ == "__main__":
    configure_logging(log_format)
    serve(build_app, server_options())
