"""The CLI's HTTP: one JSON (or multipart-free) request to the service, the reply as a value.

design: the stdlib only (``urllib``), so the CLI runs with any Python 3.11 and no install step.
Transport failures (nothing listening, no such host, no reply within the timeout) become
``Unreachable``/``NoReply``, raised once here; an HTTP error status is a ``Reply`` like any other,
since the services always answer JSON ``{"error": ...}`` and the caller decides what it means.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any


class TransportError(Exception):
    """The request got no HTTP reply."""


class Unreachable(TransportError):
    """Nothing answered at the URL (refused, no such host, no route)."""


class NoReply(TransportError):
    """Connected, but no reply came within the timeout."""


@dataclass(frozen=True)
class Reply:
    """One HTTP reply: status, parsed JSON body (None when it is not JSON) and headers."""

    status: int
    body: Any
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        """The service's own message, or what came back instead."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), str):
            return str(self.body["error"])
        snippet = " ".join(self.text.split())[:200]
        return f"a reply that is not the service's JSON: {snippet or '(empty)'}"


@dataclass(frozen=True)
class Api:
    """The service at ``base_url``."""

    base_url: str
    timeout_s: float = 900.0
    token: str | None = None  # ADMIN_TOKEN, for /admin
    api_key: str | None = None  # an API key (API_KEYS_FILE), for every call
    cafile: str | None = None  # a CA for an https --url

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def call(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Reply:
        """Send one request; a Reply for any HTTP status, TransportError when none came."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        sent = {"Accept": "application/json", "User-Agent": "ansiblectl", **(headers or {})}
        if data is not None:
            sent["Content-Type"] = "application/json"
        if self.token and path.startswith("/admin"):
            sent["Authorization"] = f"Bearer {self.token}"
        elif self.api_key:
            sent["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url(path), data=data, headers=sent, method=method)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        context = ssl.create_default_context(cafile=self.cafile) if self.cafile else None
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return _reply(response.status, response.read(), dict(response.headers.items()))
        except urllib.error.HTTPError as exc:
            with exc:
                return _reply(exc.code, exc.read(), dict(exc.headers.items()) if exc.headers else {})
        except (TimeoutError, socket.timeout) as exc:
            raise NoReply(f"no reply from {self.base_url} within {timeout:g}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise NoReply(f"no reply from {self.base_url} within {timeout:g}s") from exc
            raise Unreachable(f"cannot reach {self.base_url}: {exc.reason}") from exc
        except (ConnectionError, OSError) as exc:  # reset or closed mid-reply
            raise Unreachable(f"the connection to {self.base_url} failed: {exc}") from exc


def _reply(status: int, raw: bytes, headers: dict[str, str]) -> Reply:
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    return Reply(status, body, text, headers)
