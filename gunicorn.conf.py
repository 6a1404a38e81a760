"""gunicorn settings for both services: `gunicorn -c gunicorn.conf.py app:app` (or app_distributed:app).

ONE process on purpose: slots, the job queue, backend health and the balancer's waiting
queue live in memory, and several processes would each keep their own copy (a worker
would run several LLM jobs on one GPU; a balancer would overbook the workers).
Concurrency comes from threads (gthread): every waiting job holds a thread, so there are
more threads than slots + queue. gthread's `timeout` is only the worker heartbeat, not a
cap on a request; the LLM timeout itself is TIMEOUT / LLM_TIMEOUT.

The values come from the entry module's `server_options()`, the very options
`python3 app.py` / `python3 app_distributed.py` run with.
"""

import importlib
import sys

_entry = next((arg.split(":")[0] for arg in sys.argv[1:] if ":" in arg and not arg.startswith("-")), "app")
globals().update(importlib.import_module(_entry).server_options())
