"""The worker: one per GPU machine. ``PORT=5001 OLLAMA_HOST=http://127.0.0.1:11434 python3 app.py``.

``python3 app.py`` runs gunicorn embedded; ``gunicorn -c gunicorn.conf.py app:app`` runs the
same server with the same options (``server_options``). ``app`` is built on first access, so
it is built in the serving process, where its background threads must live.
"""

from typing import Any

from flask import Flask

from common.serving import configure_logging, gunicorn_options, lazy_app, serve, settings_or_exit
from worker.settings import WorkerSettings
from worker.web import create_app

settings = settings_or_exit(WorkerSettings.from_env, "app.py")


def server_options() -> dict[str, Any]:
    """gunicorn's options for this worker: one process, a thread for every running and waiting job."""
    return gunicorn_options(settings.port, threads=settings.threads, timeout_s=int(settings.llm_timeout_s) + 60)


def build_app() -> Flask:
    return create_app(settings)


__getattr__ = lazy_app(build_app)  # `gunicorn app:app` builds it in the serving process


if __name__ == "__main__":
    configure_logging()
    serve(build_app, server_options())
