"""Forward one job to a worker: take a slot, send, give the slot back; retry elsewhere on failure.

design: what is retried on another backend is what another worker can do better without
paying twice for the same generation. A connection failure (no reply at all, including a
worker that died mid-job) marks the backend offline and the job goes elsewhere: LLM jobs
change nothing outside the worker, so resending a body the dead worker had received is safe.
A 503 (that worker's LLM is down or its queue full: the job did not run) and a 500 (a fault
of that worker) are retried too. A 502 is final: the model ran and failed (no valid playbook
after its repair attempts, or an LLM error), and repeating a full generation on each worker
would multiply the wait; the client may retry. A 504 is final: the job is too slow and
running it again would double the wait. Retries are bounded by RETRIES and never return to a
backend already tried for this job. Split mode retries a failed chunk elsewhere itself
(balancer.fanout), since there one chunk's failure would fail the whole request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from balancer.client import BackendUnreachable, FileField, WorkerClient, WorkerReply
from balancer.pool import BackendPool
from balancer.state import CancelSignal
from common.errors import ApiError, ClientGone, NoBackendAvailable

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({500, 503})


@dataclass(frozen=True)
class Job:
    """One request to forward: where, what, and the model it needs (for routing)."""

    method: str
    path: str
    model: str | None
    json: Any = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, FileField] | None = None


@dataclass(frozen=True)
class Forwarded:
    """A worker's final reply and where it came from."""

    reply: WorkerReply
    backend: str
    attempts: int
    elapsed_s: float
    tried: tuple[str, ...]
    sent_at: float  # time.monotonic() when the final attempt was sent


@dataclass
class Proxy:
    """Sends jobs through the pool with bounded retries."""

    pool: BackendPool
    client: WorkerClient
    timeout_s: float
    retries: int

    def forward(
        self, job: Job, *, exclude: frozenset[str] = frozenset(), cancel: CancelSignal | None = None
    ) -> Forwarded:
        """The job's final reply; raises from the error tree when no worker could give one.

        ``cancel`` set (the client left) drops the job while it waits, and cancels it on the
        worker while it runs (ClientGone).
        """
        start = time.monotonic()
        tried: list[str] = []
        last_reply: Forwarded | None = None
        last_error: ApiError | None = None
        for attempt in range(1, self.retries + 2):
            try:
                lease = self.pool.acquire(job.model, exclude=exclude | set(tried), cancel=cancel, retry=attempt > 1)
            except NoBackendAvailable:
                if attempt == 1:
                    raise
                break  # nowhere left to retry: report the last failure below
            with lease:
                if cancel is not None and cancel.is_set():
                    raise ClientGone("the client disconnected before its job was sent to a worker")
                tried.append(lease.url)
                sent_at = time.monotonic()
                try:
                    reply = self.client.send(
                        lease.url, job.method, job.path,
                        json=job.json, data=job.data, files=job.files, timeout_s=self.timeout_s, cancel=cancel,
                    )
                except BackendUnreachable as exc:
                    self.pool.mark_offline(lease.url, exc.message)
                    last_error = exc
                    log.warning("%s %s on %s failed (attempt %d): %s", job.method, job.path, lease.url, attempt, exc)
                    continue
            result = Forwarded(reply, lease.url, attempt, time.monotonic() - start, tuple(tried), sent_at)
            if reply.status not in RETRYABLE_STATUSES:
                return result
            log.warning("%s %s on %s answered %d (attempt %d)", job.method, job.path, lease.url, reply.status, attempt)
            last_reply = result
        if last_reply is not None:  # a worker's own error reply says more than a refused connection
            return last_reply
        assert last_error is not None
        raise NoBackendAvailable(
            f"no worker could take the job: tried {', '.join(tried)}; last error: {last_error.message}",
            retry_after_s=self.pool.retry_after_s,
            extra={"tried": tried},
        ) from last_error
