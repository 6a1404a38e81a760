"""gunicorn settings for both services: `gunicorn -c gunicorn.conf.py app:app` (or app_distributed:app).

ONE process on purpose: slots, the job queue, backend health and the balancer's waiting
queue live in memory, and several processes would each keep their own copy (a worker
would run several LLM jobs on one GPU; a balancer would overbook the workers). The one
exception is the balancer's BALANCER_PROCESSES: its processes share one pool in shared
memory (or Redis), made by the master before it forks them (`on_starting`).
Concurrency comes from gevent (see common/green_worker.py): each connection is a greenlet,
so slow or waiting clients cost no thread. `timeout` is only the worker heartbeat; the LLM
timeout itself is TIMEOUT / LLM_TIMEOUT, and graceful_timeout follows DRAIN_TIMEOUT.

The values come from the entry module's `server_options()`, the very options
`python3 app.py` / `python3 app_distributed.py` run with. Under this CLI, SIGHUP is
gunicorn's own: it replaces the worker process, which reads its settings anew
(`python3 app_distributed.py` instead reloads backends.json in place and keeps its state).
"""

from gevent import monkey

monkey.patch_all()  # before the service imports anything: every lock and socket cooperative

import importlib  # noqa: E402
import sys  # noqa: E402

from gunicorn.config import Config  # noqa: E402


def _entry_module(argv: list[str]) -> str:
    """The module of the APP_MODULE argument, read with gunicorn's own argument parser."""
    known, _ = Config().parser().parse_known_args(argv)
    positional = [arg for arg in getattr(known, "args", None) or [] if ":" in arg]
    return positional[0].split(":")[0] if positional else "app"


globals().update(importlib.import_module(_entry_module(sys.argv[1:])).server_options())
