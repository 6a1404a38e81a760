"""WORKER_TOKEN: a secret shared by the balancers and the workers, the simpler alternative to mTLS.

The balancer sends it on every request to a worker as ``X-Worker-Token``; a worker with
WORKER_TOKEN set refuses any other request with 401 (but ``/healthz`` and ``/metrics``, which
load-balancer probes and Prometheus read). Compared in constant time, on digests so that not
even the length shows. Over plain HTTP it travels in clear text: use it with TLS, or on a
network only the farm can reach.
"""

from __future__ import annotations

import hashlib
import hmac

WORKER_TOKEN_HEADER = "X-Worker-Token"


def token_matches(sent: str | None, expected: str) -> bool:
    """Whether ``sent`` is ``expected``, in constant time."""
    if not sent:
        return False
    digest = hashlib.sha256
    return hmac.compare_digest(digest(sent.encode("utf-8", "surrogateescape")).digest(),
                               digest(expected.encode("utf-8")).digest())
