"""Let other greenlets run now, under gevent; a no-op in a process that is not monkey-patched.
And a lock for short critical sections that is the operating system's own even under gevent."""

from __future__ import annotations

import _thread
from typing import Any

from gevent import monkey, sleep


def let_others_run() -> None:
    """Yield to the greenlets that are ready (under gevent), e.g. one just handed a slot this one
    gave back. Without gevent's patches, threads are scheduled by the OS and this does nothing
    (``time.sleep(0)`` there would give the CPU away to any process on the machine)."""
    if monkey.is_module_patched("time"):
        sleep(0)


def short_lock() -> Any:
    """A lock for a critical section that never blocks and never yields (a counter, a dict): the
    OS's own lock even when gevent has patched ``threading``. gevent's lock is written in Python
    (a microsecond or two a use, several uses a request); with nothing inside that could switch
    greenlets, the OS lock is just as correct, and it still excludes real threads."""
    global _allocate
    if _allocate is None:
        _allocate = monkey.get_original("_thread", "allocate_lock") if monkey.is_module_patched("threading") \
            else _thread.allocate_lock
    return _allocate()


_allocate: Any = None  # found at the first use: gevent patches after this module may be imported
