"""Let other greenlets run now, under gevent; a no-op in a process that is not monkey-patched."""

from __future__ import annotations

from gevent import monkey, sleep


def let_others_run() -> None:
    """Yield to the greenlets that are ready (under gevent), e.g. one just handed a slot this one
    gave back. Without gevent's patches, threads are scheduled by the OS and this does nothing
    (``time.sleep(0)`` there would give the CPU away to any process on the machine)."""
    if monkey.is_module_patched("time"):
        sleep(0)
