"""Forward one job to a worker: take a slot, send, give the slot back; retry elsewhere on failure.

design: what is retried on another backend is what another worker can do better without
paying twice for the same generation. Each reply gets a verdict (``judge``):

- the contract's reply (2xx with the endpoint's JSON field, or a JSON 4xx) is final;
- a worker's JSON 502 (the model ran and failed: no valid playbook after its repair
  attempts) or 504 (its LLM timed out) is final too: repeating a full generation on each
  worker would multiply the wait; the client may retry;
- a 503 means "not here": that worker is draining, its LLM is down or its queue is full, and
  the job never ran. It goes elsewhere and is no mark against the worker;
- anything else is the backend's fault: another 5xx, a reply that is not the contract's JSON
  (an HTML page with 200, a wrong-shaped object), a connection closed or reset after the
  request was sent. It counts toward outlier detection (``pool.record_failure``) and the
  job goes elsewhere. LLM jobs change nothing outside the worker, so resending is safe.

A refused connection marks the backend offline (health) and the job goes elsewhere. A job
with no reply within TIMEOUT counts as a failure (as Envoy counts gateway timeouts, so a
worker that is always too slow gets ejected), and it is final (504) while its worker still
answers a health probe: it is slow, and running it again would double the wait. When the
worker does not answer the probe either, it is hung, and the job goes elsewhere. Retries are bounded by
RETRIES and never return to a backend already tried for this job. Split mode retries a
failed chunk elsewhere itself (balancer.fanout), since there one chunk's failure would fail
the whole request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from balancer.client import BackendUnreachable, FileField, WorkerClient, WorkerReply, WorkerRequest
from balancer.pool import BackendPool
from balancer.state import CancelSignal, HealthReport
from common.cooperative import let_others_run
from common.errors import ApiError, ClientGone, NoBackendAvailable, UpstreamError, UpstreamTimeout

log = logging.getLogger(__name__)

# the field a successful reply of each job endpoint must carry
RESULT_FIELDS = {
    "/generate": "playbook",
    "/upload": "playbook",
    "/explain": "explanation",
    "/explain-code": "explanation",
    "/generate-code": "code",
}


class Verdict(str, Enum):
    """What a worker's reply means for the job and for the worker."""

    FINAL = "final"  # the contract's answer: relay it
    ELSEWHERE = "elsewhere"  # 503: the job did not run there; no fault of the worker
    FAULT = "fault"  # the backend's fault: count it, try another


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str = ""
    draining: bool = False


_FINAL = Judgement(Verdict.FINAL)  # the common verdict, made once


def judge(path: str, reply: WorkerReply) -> Judgement:
    """The verdict on ``reply`` to a request for ``path``; pure."""
    if "json" not in reply.content_type.lower():
        return Judgement(Verdict.FAULT, f"HTTP {reply.status} with {reply.content_type or 'no content type'}, not JSON")
    try:
        body = json.loads(reply.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Judgement(Verdict.FAULT, f"HTTP {reply.status} with a body that is not valid JSON")
    if not isinstance(body, dict):
        return Judgement(Verdict.FAULT, f"HTTP {reply.status} with a JSON {type(body).__name__}, not an object")
    if 200 <= reply.status < 300:
        wanted = RESULT_FIELDS.get(path)
        if wanted is not None and not isinstance(body.get(wanted), str):
            return Judgement(Verdict.FAULT, f"HTTP {reply.status} without the '{wanted}' text the contract promises")
        return _FINAL
    has_error = isinstance(body.get("error"), str)
    if reply.status == 503:
        return Judgement(Verdict.ELSEWHERE, str(body.get("error", "HTTP 503")), draining=body.get("draining") is True)
    if 400 <= reply.status < 500 or (reply.status in (502, 504) and has_error):
        return _FINAL if has_error else Judgement(Verdict.FAULT, f"HTTP {reply.status} without an error message")
    return Judgement(Verdict.FAULT, f"HTTP {reply.status}" + (f": {body['error']}" if has_error else ""))


@dataclass(frozen=True)
class Job:
    """One request to forward: where, what, and the model it needs (for routing)."""

    method: str
    path: str
    model: str | None
    json: Any = None
    data: Mapping[str, str] | None = None
    files: Mapping[str, FileField] | None = None
    model_optional: bool = False  # the job can run without the model (rules/hybrid): any backend will do when none has it

    def to(self, url: str, timeout_s: float) -> WorkerRequest:
        """This job as a request to the worker at ``url``."""
        return WorkerRequest(url, self.method, self.path, timeout_s, json=self.json, data=self.data, files=self.files)


@dataclass(frozen=True)
class Forwarded:
    """A worker's final reply and where it came from."""

    reply: WorkerReply
    backend: str
    attempts: int
    elapsed_s: float
    tried: tuple[str, ...]
    sent_at: float  # time.monotonic() when the final attempt was sent


def _no_probe(url: str) -> HealthReport:
    return HealthReport(ok=True)


@dataclass
class Proxy:
    """Sends jobs through the pool with bounded retries."""

    pool: BackendPool
    client: WorkerClient
    timeout_s: float
    retries: int
    probe: Callable[[str], HealthReport] = _no_probe  # asks a silent worker whether it is alive
    on_retry: Callable[[str], None] | None = None  # told the backend a job leaves for another (metrics)

    def forward(
        self, job: Job, *, exclude: frozenset[str] = frozenset(), cancel: CancelSignal | None = None
    ) -> Forwarded:
        """The job's final reply; raises from the error tree when no worker could give one.

        ``cancel`` set (the client left) drops the job while it waits, and cancels it on the
        worker while it runs (ClientGone).
        """
        start = time.monotonic()
        tried: list[str] = []
        last_reply: Forwarded | None = None  # the last 503: "not here", with its Retry-After
        last_error: ApiError | None = None
        model = self.pool.routable_model(job.model) if job.model_optional else job.model
        for attempt in range(1, self.retries + 2):
            try:
                lease = self.pool.acquire(model, exclude=exclude | set(tried), cancel=cancel, retry=attempt > 1)
            except NoBackendAvailable:
                if attempt == 1:
                    raise
                break  # nowhere left to retry: report the last failure below
            with lease:
                if cancel is not None and cancel.is_set():
                    raise ClientGone("the client disconnected before its job was sent to a worker")
                tried.append(lease.url)
                if len(tried) > 1 and self.on_retry is not None:
                    self.on_retry(tried[-2])
                sent_at = time.monotonic()
                try:
                    reply = self.client.send(job.to(lease.url, self.timeout_s), cancel=cancel)
                except BackendUnreachable as exc:
                    if exc.sent:
                        self.pool.record_failure(lease.url, exc.message)
                    else:
                        self.pool.mark_offline(lease.url, exc.message)
                    last_error = exc
                    log.warning("%s %s on %s failed (attempt %d): %s", job.method, job.path, lease.url, attempt, exc)
                    continue
                except UpstreamTimeout as exc:
                    if not self._hung(lease.url):  # alive and slow: running it again elsewhere would double the wait
                        self.pool.record_failure(lease.url, f"no reply within TIMEOUT={self.timeout_s:g}s")
                        raise
                    self.pool.record_failure(lease.url, f"no reply within {self.timeout_s:g}s and no answer to a health probe")
                    last_error = exc
                    log.warning("%s %s on %s: the worker hangs (attempt %d)", job.method, job.path, lease.url, attempt)
                    continue
            # the slot is back and went to a waiting job: let that job be sent before this reply is
            # judged and relayed (under gevent that work would otherwise hold the CPU first, and the
            # worker would sit idle meanwhile: the handoff gap of ``bench.packing``)
            if lease.handed_over:
                let_others_run()
            result = Forwarded(reply, lease.url, attempt, time.monotonic() - start, tuple(tried), sent_at)
            judgement = judge(job.path, reply)
            if judgement.verdict is Verdict.FINAL:
                self.pool.record_success(lease.url)
                return result
            if judgement.verdict is Verdict.ELSEWHERE:
                if judgement.draining:
                    self.pool.worker_draining(lease.url)
                last_reply = result
            else:
                self.pool.record_failure(lease.url, judgement.reason)
                last_error = UpstreamError(f"worker {lease.url} answered {judgement.reason}", extra={"backend": lease.url})
            log.warning("%s %s on %s: %s (attempt %d)", job.method, job.path, lease.url,
                        judgement.reason or judgement.verdict.value, attempt)
        if last_reply is not None:  # a worker's own "not here" says more than a refused connection
            return last_reply
        assert last_error is not None
        summary = f"tried {', '.join(tried)}; last error: {last_error.message}"
        if isinstance(last_error, BackendUnreachable) and not last_error.sent:
            raise NoBackendAvailable(
                f"no worker could take the job: {summary}", retry_after_s=self.pool.retry_after_s, extra={"tried": tried}
            ) from last_error
        raise UpstreamError(f"no worker gave a valid reply: {summary}", extra={"tried": tried}) from last_error

    def _hung(self, url: str) -> bool:
        """Whether the worker at ``url`` fails a health probe now (recorded as a probe result)."""
        report = self.probe(url)
        self.pool.report_health(url, report)
        return not report.ok
