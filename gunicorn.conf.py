"""gunicorn settings for both services: `gunicorn -c gunicorn.conf.py app:app` (or app_distributed:app).

ONE process on purpose: slots, the job queue, backend health and the balancer's waiting
queue live in memory, and several processes would each keep their own copy (a worker
would run several LLM jobs on one GPU; a balancer would overbook the workers).
Concurrency comes from threads (gthread): every waiting job holds a thread, so there are
more threads than slots + queue. The timeout is the worker heartbeat and is kept longer
than the slowest LLM job. `python3 app.py` runs gunicorn with these same values.
"""

import os

from common.serving import gunicorn_options

_threads = int(os.environ.get("THREADS", "128"))
_timeout = int(float(os.environ.get("TIMEOUT", "600"))) + 60
_options = gunicorn_options(int(os.environ.get("PORT", "5000")), threads=_threads, timeout_s=_timeout)

bind = _options["bind"]
workers = _options["workers"]
worker_class = _options["worker_class"]
threads = _options["threads"]
timeout = _options["timeout"]
graceful_timeout = _options["graceful_timeout"]
keepalive = _options["keepalive"]
accesslog = _options["accesslog"]
errorlog = _options["errorlog"]
loglevel = _options["loglevel"]
control_socket_disable = _options["control_socket_disable"]
