"""API keys on the balancer (API_KEYS_FILE): who may call what, and each key's limits.

design: one ``before_request`` decides every request before a route runs, from the path alone:

- open (no key): ``GET /healthz`` (load-balancer probes), ``GET /metrics`` (Prometheus: counts
  and backend URLs, no key names or job content), and the static pages ``/`` and ``/status``
  (they hold no data; their API calls need a key like any other);
- ``admin``: everything under ``/admin`` (membership, drain, reload); ADMIN_TOKEN, when set,
  is still accepted there;
- ``user`` (or admin): everything else: jobs, ``/queue-status``, ``/jobs/<id>``, ``/status/history``.

A missing or unknown key is 401, a user key on an admin path 403. Jobs (POST on a job
endpoint) count against the key's ``rate_per_minute`` (429 with Retry-After past it); status
reads do not, so a client polling its job's place never runs out. The key itself is never
logged or put in a metric label: only its ``name``, which the access line carries as ``key``.
This hook is not ``mirrored`` (``common.fastpath``): with keys on, every request goes through
Flask and so through it; the fast path cannot skip it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, g, request

from balancer.limits import KeyLimits
from common.apikeys import ApiKey, KeyFileError, KeyRing
from common.errors import Forbidden, Unauthorized
from common.logs import annotate

log = logging.getLogger(__name__)

ENVIRON_KEY = "ansible_farm.api_key"  # the request's ApiKey, in its WSGI environ (no app context needed)
OPEN_PATHS = frozenset({"/healthz", "/metrics", "/", "/status"})
JOB_PATHS = frozenset({"/generate", "/upload", "/explain", "/generate-code", "/explain-code"})


class KeyStore:
    """The keys of API_KEYS_FILE now; ``reload`` swaps them for the file's current ones (SIGHUP)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ring = KeyRing.load(path)

    @property
    def ring(self) -> KeyRing:
        return self._ring

    def reload(self) -> int:
        """Read the file again; on a bad file the running keys stay and KeyFileError says why."""
        ring = KeyRing.load(self.path)
        with self._lock:
            self._ring = ring
        log.info("API keys reloaded from %s: %d keys", self.path, len(ring.keys))
        return len(ring.keys)


def presented_key() -> str | None:
    """The bearer token of the request, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def install_auth(app: Flask, store: KeyStore, limits: KeyLimits, *, admin_token: str = "") -> None:
    """Require a key on every request but the open ones; count each job against its key's rate."""

    @app.before_request
    def authenticate() -> None:
        path = request.path
        if request.method in ("GET", "HEAD") and path in OPEN_PATHS:
            return
        admin_path = path == "/admin" or path.startswith("/admin/")
        token = presented_key()
        key = store.ring.find(token) if token is not None else None
        if key is None:
            if admin_path and admin_token:
                return  # the admin blueprint checks ADMIN_TOKEN itself (401 when it is not that either)
            raise Unauthorized("this balancer needs an API key: send Authorization: Bearer <key>"
                               if token is None else "unknown API key")
        request.environ[ENVIRON_KEY] = key
        annotate(request.environ, key=key.name)
        if admin_path:
            if not key.is_admin:
                raise Forbidden(f"API key {key.name!r} has role 'user'; /admin needs an 'admin' key")
            g.admin_ok = True
            return
        if request.method == "POST" and path in JOB_PATHS:
            limits.count_request(key)


def current_key(environ: dict[str, Any]) -> ApiKey | None:
    """The API key of the request whose WSGI environ this is (None when keys are off, or on an open path)."""
    key = environ.get(ENVIRON_KEY)
    return key if isinstance(key, ApiKey) else None


__all__ = ["JOB_PATHS", "OPEN_PATHS", "KeyFileError", "KeyStore", "current_key", "install_auth"]
