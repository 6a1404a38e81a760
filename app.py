"""The worker: one per GPU machine. ``PORT=5001 OLLAMA_HOST=http://127.0.0.1:11434 python3 app.py``.

``python3 app.py`` runs gunicorn embedded; ``gunicorn -c gunicorn.conf.py app:app`` runs the
same server with the same options (``server_options``). ``app`` is built on first access, so
it is built in the serving process, where its background threads must live.
"""

if __name__ == "__main__":  # serving: make every lock and socket cooperative before anything is imported
    from gevent import monkey

    monkey.patch_all()

from typing import Any  # noqa: E402

from flask import Flask  # noqa: E402

from common.logs import configure_logging, log_format_from_env, logging_options  # noqa: E402
from common.tls import ServerTls  # noqa: E402
from common.serving import (  # noqa: E402
    gunicorn_options,
    lazy_app,
    serve,
    server_limits_from_env,
    settings_or_exit,
)
from worker.settings import WorkerSettings  # noqa: E402
from worker.web import create_app  # noqa: E402

settings = settings_or_exit(WorkerSettings.from_env, "app.py")
server_limits = settings_or_exit(lambda: server_limits_from_env(drain_timeout_default_s=settings.llm_timeout_s), "app.py")
log_format = settings_or_exit(log_format_from_env, "app.py")
server_tls = settings_or_exit(ServerTls.from_env, "app.py")


def server_options() -> dict[str, Any]:
    """gunicorn's options for this worker: one gevent process with the shared server limits."""
    return {**gunicorn_options(settings.port, server_limits), **logging_options(log_format), **server_tls.gunicorn_options()}


def build_app() -> Flask:
    return create_app(settings)


__getattr__ = lazy_app(build_app)  # `gunicorn app:app` builds it in the serving process


if __name__ == "__main__":
    configure_logging(log_format)
    serve(build_app, server_options())
