"""HTTPS for both services: the server's certificate and, optionally, the CA its clients must show.

``TLS_CERT`` and ``TLS_KEY`` make a service serve HTTPS (gunicorn's ``certfile``/``keyfile``);
``TLS_CLIENT_CA`` makes it accept only clients whose certificate that CA signed (mutual TLS:
gunicorn's ``ca_certs`` with ``cert_reqs=CERT_REQUIRED``), which is how a worker lets in only its
balancers. Declared once here for both services; the files are checked at start, so a wrong
path or a key that does not fit its certificate stops the start with exit status 2.

design: gevent's server does the TLS handshake as it accepts, before the connection reaches
the worker class, with no deadline and no count: a client that connects and never says hello
held its connection forever (past HEADER_TIMEOUT and outside MAX_CONNECTIONS), and a failed
handshake (plain HTTP, an unknown CA) printed a traceback outside the log format. So the
context gunicorn hands to gevent (``lazy_handshake``) leaves the handshake to the first read:
it then happens inside the request-head deadline of ``common.green_worker.DeadlineSocket``,
counted like any connection, and a failure is one log line.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from common.config import ConfigError, describe, read_env, setting


@dataclass(frozen=True)
class ServerTls:
    """How a service serves: HTTP, HTTPS, or HTTPS that wants a client certificate."""

    cert: str = setting("TLS_CERT", "", "a PEM certificate (chain): serve HTTPS with it (both services)")
    key: str = setting("TLS_KEY", "", "the PEM private key of `TLS_CERT`")
    client_ca: str = setting("TLS_CLIENT_CA", "", "a PEM CA: accept only clients whose certificate it signed "
                             "(mutual TLS; on a worker: its balancers' `WORKER_CLIENT_CERT`)")

    def __post_init__(self) -> None:
        if bool(self.cert) != bool(self.key):
            raise ConfigError("TLS_CERT and TLS_KEY go together: set both or neither")
        if self.client_ca and not self.cert:
            raise ConfigError("TLS_CLIENT_CA needs TLS_CERT and TLS_KEY: client certificates are asked for over HTTPS only")
        for name, path in (("TLS_CERT", self.cert), ("TLS_KEY", self.key), ("TLS_CLIENT_CA", self.client_ca)):
            if path and not os.path.isfile(path):
                raise ConfigError(f"{name} {path}: no such file")
        if self.cert:
            try:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.client_ca or None)
                context.load_cert_chain(self.cert, self.key)
            except (ssl.SSLError, OSError) as exc:
                raise ConfigError(f"TLS_CERT/TLS_KEY/TLS_CLIENT_CA cannot be used: {exc}") from None

    def gunicorn_options(self) -> dict[str, Any]:
        """gunicorn's TLS options (none when serving plain HTTP)."""
        if not self.cert:
            return {}
        options: dict[str, Any] = {"certfile": self.cert, "keyfile": self.key, "ssl_context": lazy_handshake}
        if self.client_ca:
            options |= {"ca_certs": self.client_ca, "cert_reqs": ssl.CERT_REQUIRED}
        return options

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerTls:
        return cls(**read_env(cls, os.environ if env is None else env))

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        return describe(cls)


@dataclass(frozen=True)
class LazyHandshakeContext:
    """An SSL context whose sockets shake hands on their first read or write, not when accepted."""

    context: ssl.SSLContext

    def wrap_socket(self, sock: Any, **kwargs: Any) -> Any:
        return self.context.wrap_socket(sock, **{**kwargs, "do_handshake_on_connect": False})


def lazy_handshake(config: Any, default_ssl_context_factory: Callable[[], ssl.SSLContext]) -> LazyHandshakeContext:
    """gunicorn's ``ssl_context`` hook: its own context (cert, key, client CA), handshake deferred."""
    return LazyHandshakeContext(default_ssl_context_factory())
