"""Every knob of the balancer, declared once, read from the environment at start.

Precedence for the backend list: env ``BACKENDS`` (comma-separated URLs) > the file named by
``BACKENDS_FILE`` (``{"backends": ["http://h:5001", {"url": ..., "slots": 1, "weight": 1}]}``)
> the ``BACKENDS`` list at the top of ``app_distributed.py`` (passed in as ``defaults``).
Every other setting: env > ``defaults`` > the field default below.

A malformed value is a ``ConfigError`` naming the setting and what is wrong; the entry point
turns it into a message and a non-zero exit, never a silent fallback.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common.apikeys import KeyFileError, KeyRing
from common.config import ConfigError, check_range, describe, read_env, setting
from common.config import is_int as _is_int
from common.contract import DEFAULT_MODEL

__all__ = ["BackendSpec", "ConfigError", "Settings", "load_backends_file", "normalize_url"]


@dataclass(frozen=True)
class BackendSpec:
    """One configured worker: its base URL, how many jobs it runs at once, its routing weight.

    ``slots`` None: as many as the worker reports in its ``/queue-status`` (1 until it answers).
    """

    url: str
    slots: int | None = None
    weight: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", normalize_url(self.url))
        if self.slots is not None and (not _is_int(self.slots) or self.slots < 1):
            raise ConfigError(f"backend {self.url}: 'slots' must be an integer >= 1, not {self.slots!r}")
        if not _is_int(self.weight) or self.weight < 1:
            raise ConfigError(f"backend {self.url}: 'weight' must be an integer >= 1, not {self.weight!r}")



@dataclass(frozen=True)
class Settings:
    """The balancer's configuration; ``from_env`` builds it, ``__post_init__`` validates it."""

    backends: tuple[BackendSpec, ...] = setting("BACKENDS", (), "worker URLs (or `BACKENDS_FILE`)",
                                                shown="the list in `app_distributed.py`")
    chunk_size: int = setting("CHUNK_SIZE", 10, "lines per chunk in split mode")
    timeout_s: float = setting("TIMEOUT", 600.0, "seconds to wait for a worker's reply to one job")
    port: int = setting("PORT", 5000, "TCP port the balancer listens on")
    max_queue: int = setting("MAX_QUEUE", 100, "jobs that may wait for a free slot; 0 = 503 at once when all busy")
    queue_timeout_s: float = setting("QUEUE_TIMEOUT", 600.0, "seconds a job may wait for a slot before 503")
    health_interval_s: float = setting("HEALTH_INTERVAL", 2.0, "seconds between health checks; 0 = no background checks")
    health_timeout_s: float = setting("HEALTH_TIMEOUT", 1.0, "seconds one health probe may take")
    connect_timeout_s: float = setting("CONNECT_TIMEOUT", 3.0, "seconds to open a connection to a worker")
    retries: int = setting("RETRIES", 3, "extra attempts, each on another backend, after a refused connection, a 503 or a backend fault")
    health_rise: int = setting("HEALTH_RISE", 2, "good health checks in a row that bring an offline backend back")
    health_fall: int = setting("HEALTH_FALL", 3, "failed health checks in a row that take a backend offline")
    outlier_failures: int = setting("OUTLIER_FAILURES", 3, "failed jobs in a row that eject a backend (outlier detection)")
    ejection_time_s: float = setting("EJECTION_TIME", 30.0, "seconds of the first ejection; each later one doubles it")
    max_ejection_time_s: float = setting("MAX_EJECTION_TIME", 600.0, "longest ejection in seconds")
    max_ejection_percent: int = setting("MAX_EJECTION_PERCENT", 50, "most backends ejected at once, in percent of all")
    admin_token: str = setting("ADMIN_TOKEN", "", "bearer token for /admin; unset: /admin answers loopback clients only",
                               repr=False)
    backends_file: str = setting("BACKENDS_FILE", "", "a backends.json; reloaded on SIGHUP and POST /admin/reload")
    max_chunks: int = setting("MAX_CHUNKS", 200, "most chunks one split request may make; beyond it 413")
    retry_after_s: int = setting("RETRY_AFTER", 10, "Retry-After seconds on 503 from the balancer")
    max_content_length: int = setting("MAX_CONTENT_LENGTH", 10 * 1024 * 1024, "largest request body in bytes")
    default_model: str = setting("DEFAULT_MODEL", DEFAULT_MODEL, "model used when a request names none")
    state_url: str = setting("STATE_URL", "", "`redis://host:port/db`: keep slots, health and the queue in Redis, shared "
                             "by several balancers; unset: in this process's memory", repr=False)
    lease_ttl_s: float = setting("LEASE_TTL", 15.0, "seconds a slot taken through STATE_URL stays taken when its "
                                 "balancer stops renewing it (dies)")
    processes: int = setting("BALANCER_PROCESSES", 1, "serving processes sharing ONE pool (slots, FIFO queue, down "
                             "marks) in shared memory, or through STATE_URL when set: more than one uses more CPUs "
                             "([several processes](#several-balancer-processes))")
    api_keys_file: str = setting("API_KEYS_FILE", "", "a JSON file of API key digests, roles and limits: every "
                                 "request but the open ones needs a key ([security](#security)); reloaded on SIGHUP")
    worker_ca: str = setting("WORKER_CA", "", "a PEM CA that https workers' certificates must chain to "
                             "(default: the system's trusted CAs)")
    worker_client_cert: str = setting("WORKER_CLIENT_CERT", "", "a PEM client certificate shown to https workers (mutual TLS)")
    worker_client_key: str = setting("WORKER_CLIENT_KEY", "", "the PEM private key of `WORKER_CLIENT_CERT`")
    worker_token: str = setting("WORKER_TOKEN", "", "a shared secret sent to every worker as `X-Worker-Token` "
                                "(the workers' `WORKER_TOKEN`)", repr=False)

    def __post_init__(self) -> None:
        if not self.backends:
            raise ConfigError("no backends configured: set BACKENDS, BACKENDS_FILE or the list in app_distributed.py")
        urls = [b.url for b in self.backends]
        duplicates = sorted({u for u in urls if urls.count(u) > 1})
        if duplicates:
            raise ConfigError(f"BACKENDS lists {', '.join(duplicates)} more than once")
        check_range("CHUNK_SIZE", self.chunk_size, 1)
        check_range("TIMEOUT", self.timeout_s, 0.001)
        check_range("PORT", self.port, 1, 65535)
        check_range("MAX_QUEUE", self.max_queue, 0)
        check_range("QUEUE_TIMEOUT", self.queue_timeout_s, 0.001)
        check_range("HEALTH_INTERVAL", self.health_interval_s, 0)
        check_range("HEALTH_TIMEOUT", self.health_timeout_s, 0.001)
        check_range("CONNECT_TIMEOUT", self.connect_timeout_s, 0.001)
        check_range("RETRIES", self.retries, 0)
        check_range("HEALTH_RISE", self.health_rise, 1)
        check_range("HEALTH_FALL", self.health_fall, 1)
        check_range("OUTLIER_FAILURES", self.outlier_failures, 1)
        check_range("EJECTION_TIME", self.ejection_time_s, 0.001)
        check_range("MAX_EJECTION_TIME", self.max_ejection_time_s, self.ejection_time_s)
        check_range("MAX_EJECTION_PERCENT", self.max_ejection_percent, 0, 100)
        check_range("MAX_CHUNKS", self.max_chunks, 1)
        check_range("RETRY_AFTER", self.retry_after_s, 1)
        check_range("MAX_CONTENT_LENGTH", self.max_content_length, 1)
        if not self.default_model.strip():
            raise ConfigError("DEFAULT_MODEL is empty")
        check_range("LEASE_TTL", self.lease_ttl_s, 1)
        check_range("BALANCER_PROCESSES", self.processes, 1, 64)
        if self.processes > 1 and self.api_keys_file and not self.state_url:
            raise ConfigError("BALANCER_PROCESSES > 1 with API_KEYS_FILE needs STATE_URL: each key's limits must be "
                              "counted in one place for every process")
        if self.state_url:
            check_state_url(self.state_url)
        if bool(self.worker_client_cert) != bool(self.worker_client_key):
            raise ConfigError("WORKER_CLIENT_CERT and WORKER_CLIENT_KEY go together: set both or neither")
        for name, path in (("API_KEYS_FILE", self.api_keys_file), ("WORKER_CA", self.worker_ca),
                           ("WORKER_CLIENT_CERT", self.worker_client_cert), ("WORKER_CLIENT_KEY", self.worker_client_key)):
            if path and not Path(path).is_file():
                raise ConfigError(f"{name} {path}: no such file")
        if self.api_keys_file:
            try:
                KeyRing.load(self.api_keys_file)
            except KeyFileError as exc:
                raise ConfigError(str(exc)) from None

    def worker_tls(self) -> ssl.SSLContext:
        """The TLS context for https workers: WORKER_CA (else the system's CAs) and the client certificate."""
        context = ssl.create_default_context(cafile=self.worker_ca or None)
        if self.worker_client_cert:
            context.load_cert_chain(self.worker_client_cert, self.worker_client_key)
        return context

    @property
    def total_slots(self) -> int:
        return sum(b.slots or 1 for b in self.backends)

    @property
    def shared_tickets(self) -> int:
        """Jobs the shared-memory ledger of BALANCER_PROCESSES has room for (running and waiting, with room to grow)."""
        return 4 * (self.max_queue + self.total_slots) + 1024

    @property
    def backend_urls(self) -> tuple[str, ...]:
        return tuple(b.url for b in self.backends)

    @classmethod
    def from_env(cls, defaults: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``) over ``defaults`` (keyed by env name)."""
        env = os.environ if env is None else env
        defaults = dict(defaults or {})
        values: dict[str, Any] = {"backends": _backends_from(env, defaults)}
        values.update(read_env(cls, env, defaults, skip=("backends",)))
        return cls(**values)

    def reload_backends(self, env: Mapping[str, str] | None = None) -> tuple[BackendSpec, ...]:
        """The backend list read anew from BACKENDS_FILE (SIGHUP, POST /admin/reload), or ConfigError."""
        env = os.environ if env is None else env
        if env.get("BACKENDS", "").strip():
            raise ConfigError(
                "the backends come from env BACKENDS, which cannot change while running; "
                "use BACKENDS_FILE or the /admin/backends endpoints"
            )
        if not self.backends_file:
            raise ConfigError(
                "there is no BACKENDS_FILE to reload (the backends come from app_distributed.py); "
                "set BACKENDS_FILE or use the /admin/backends endpoints"
            )
        return load_backends_file(self.backends_file)

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(env name, default, doc) of every setting, for the README and ``--help``."""
        return describe(cls)


def check_state_url(url: str) -> None:
    """STATE_URL must name a Redis server (``redis://``, ``rediss://`` or ``unix://``); ConfigError if not."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"redis", "rediss", "unix"} or (parts.scheme != "unix" and not parts.hostname):
        raise ConfigError(f"STATE_URL must look like redis://host:6379/0, not {redact_url(url)!r}")
    try:
        parts.port
    except ValueError:
        raise ConfigError(f"STATE_URL {redact_url(url)!r} has an invalid port") from None
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ConfigError(f"STATE_URL {redact_url(url)!r}: the database must be a number, like /0")


def redact_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url.strip())
    if parts.password is None:
        return url.strip()
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def normalize_url(url: Any) -> str:
    """``http(s)://host:port`` without a trailing slash, or ConfigError."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"backend URL must be a non-empty string, not {url!r}")
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"backend URL {url!r} must look like http://host:port")
    try:
        parts.port
    except ValueError:
        raise ConfigError(f"backend URL {url!r} has an invalid port") from None
    if parts.query or parts.fragment:
        raise ConfigError(f"backend URL {url!r} must not have a query or fragment")
    return text


def load_backends_file(path: str | Path) -> tuple[BackendSpec, ...]:
    """Backends from a ``backends.json`` file, or ConfigError naming the file and the problem."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"BACKENDS_FILE {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"BACKENDS_FILE {path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "backends" not in data:
        raise ConfigError(f'BACKENDS_FILE {path}: expected an object like {{"backends": ["http://host:5001"]}}')
    try:
        return _backend_list(data["backends"])
    except ConfigError as exc:
        raise ConfigError(f"BACKENDS_FILE {path}: {exc}") from None


def _backends_from(env: Mapping[str, str], defaults: Mapping[str, Any]) -> tuple[BackendSpec, ...]:
    if env.get("BACKENDS", "").strip():
        urls = [part for part in env["BACKENDS"].split(",") if part.strip()]
        return _backend_list(urls, where="env BACKENDS")
    if env.get("BACKENDS_FILE", "").strip():
        return load_backends_file(env["BACKENDS_FILE"].strip())
    if "BACKENDS" in defaults:
        return _backend_list(defaults["BACKENDS"], where="BACKENDS in app_distributed.py")
    return ()


def _backend_list(items: Any, where: str = "'backends'") -> tuple[BackendSpec, ...]:
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f"{where} must be a list of URLs, not {type(items).__name__}")
    specs = []
    for item in items:
        if isinstance(item, str):
            specs.append(BackendSpec(item))
        elif isinstance(item, Mapping):
            unknown = set(item) - {"url", "slots", "weight"}
            if unknown:
                raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} in {dict(item)!r}; use url, slots, weight")
            if "url" not in item:
                raise ConfigError(f"{where}: entry {dict(item)!r} has no 'url'")
            specs.append(BackendSpec(item["url"], item.get("slots"), item.get("weight", 1)))
        else:
            raise ConfigError(f"{where}: entry {item!r} must be a URL string or an object with 'url'")
    return tuple(specs)
