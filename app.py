"""The worker: one per GPU machine. ``PORT=5001 OLLAMA_HOST=http://127.0.0.1:11434 python3 app.py``."""

from common.serving import configure_logging, serve, settings_or_exit
from worker.settings import WorkerSettings
from worker.web import create_app

settings = settings_or_exit(WorkerSettings.from_env, "app.py")

if __name__ == "__main__":
    configure_logging()
    serve(lambda: create_app(settings), settings.port, threads=settings.threads, timeout_s=int(settings.llm_timeout_s) + 60)
else:  # imported by `gunicorn -c gunicorn.conf.py app:app`
    app = create_app(settings)
