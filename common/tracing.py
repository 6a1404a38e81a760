"""Request ids and forwarding headers, shared by both services.

A request id is the client's ``X-Request-Id`` when it is a plain token (letters, digits,
``._~:@+=-``, at most 128 characters), else a new one; it is never echoed back otherwise.
The balancer sends it to the worker, and both return it in their reply and log it.

On the way to a worker the balancer appends the client's address to ``X-Forwarded-For`` and
a ``for=...;proto=...`` element to ``Forwarded`` (RFC 7239). An incoming chain that is not
printable ASCII or longer than ``MAX_CHAIN`` is dropped, and only our element is sent. These
headers are informational: nothing routes by them, nor by the client's ``Host``.
"""

from __future__ import annotations

import os
import re

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._~:@+=-]{1,128}")
MAX_CHAIN = 2048  # longest X-Forwarded-For / Forwarded chain passed on
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


def request_id_from(header: str | None) -> str:
    """The client's request id when it is a plain token (letters, digits, ``._~:@+=-``, at most
    128); else a new one. Anything else (blanks, quotes, control characters) is not echoed back."""
    value = (header or "").strip()
    if _REQUEST_ID.fullmatch(value):
        return value
    return os.urandom(16).hex()  # 128 random bits, as uuid4's, at a seventh of its cost (every request gets one)


def _chain(value: str | None) -> str:
    value = (value or "").strip()
    if not value or len(value) > MAX_CHAIN or not _PRINTABLE.fullmatch(value):
        return ""
    return value


def _node(addr: str) -> str:
    """An address as a Forwarded ``for=`` value: IPv6 bracketed and quoted (RFC 7239 section 6)."""
    if not addr:
        return "unknown"
    if ":" in addr:
        return f'"[{addr}]"'
    return addr


def forwarding_headers(
    x_forwarded_for: str | None, forwarded_chain: str | None, remote_addr: str | None, scheme: str = "http"
) -> dict[str, str]:
    """``X-Forwarded-For`` and ``Forwarded`` for the next hop: the client's chains (the incoming
    headers' values) plus this hop's client."""
    addr = (remote_addr or "").strip()
    xff = _chain(x_forwarded_for)
    forwarded = _chain(forwarded_chain)
    proto = scheme if scheme in ("http", "https") else "http"
    ours = f"for={_node(addr)};proto={proto}"
    return {
        "X-Forwarded-For": f"{xff}, {addr or 'unknown'}" if xff else (addr or "unknown"),
        "Forwarded": f"{forwarded}, {ours}" if forwarded else ours,
    }
