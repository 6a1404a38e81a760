"""What a service does when its server is told to stop (SIGTERM) or to reload (SIGHUP).

Each app puts one ``Lifecycle`` in ``app.extensions["lifecycle"]``; the server's worker class
(``common.green_worker``) calls it. Keeping the hooks on the app (not in a global) lets tests
build many apps in one process and lets the server stay ignorant of what a service holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


def _nothing_to_reload() -> None:
    log.info("SIGHUP: this service has nothing to reload")


@dataclass(frozen=True)
class Lifecycle:
    """Hooks the server calls.

    ``drain(timeout_s)`` runs on SIGTERM while the server still listens: it blocks until the
    service has finished what it promised (or ``timeout_s`` passed); then the server stops
    accepting, lets open requests end and exits 0. ``reload()`` runs on SIGHUP.
    """

    drain: Callable[[float], None] = lambda timeout_s: None
    reload: Callable[[], None] = _nothing_to_reload
