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

from balancer.settings import Settings  # noqa: E402
from balancer.web import create_app  # noqa: E402
from common.serving import configure_logging, serve, settings_or_exit  # noqa: E402

settings = settings_or_exit(lambda: Settings.from_env({"BACKENDS": BACKENDS, "CHUNK_SIZE": chunk_size, "TIMEOUT": timeout}), "app_distributed.py")

if __name__ == "__main__":
    configure_logging()
    serve(lambda: create_app(settings), settings.port, threads=settings.threads, timeout_s=int(settings.timeout_s + settings.queue_timeout_s) + 60)
else:  # imported by `gunicorn -c gunicorn.conf.py app_distributed:app`
    app = create_app(settings)
