"""The worker's Prometheus metrics (served at ``/metrics`` with ``common.metrics``).

``QueueCollector`` reads the job queue when Prometheus scrapes (jobs waiting and running,
slots). ``MeteredLLM`` wraps the LLM seam and counts calls by model and outcome, their time and
the tokens the LLM reported; ``MeteredSyntaxChecker`` times ``ansible-playbook --syntax-check``;
the web layer counts validation results and observes job times and queue waits from each reply.

The ``model`` label only ever names a model the LLM listed or answered as (a client's made-up
name on a failed call is ``other``), so clients cannot grow the label set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from common.contract import has_model
from common.errors import ApiError, ClientGone
from common.metrics import DURATION_BUCKETS, PREFIX
from validation.syntax import SyntaxChecker, SyntaxResult
from worker.jobs import JobQueue
from worker.llm import Completion, LLMClient, Message

SYNTAX_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerMetrics:
    """The worker's event metrics, in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.llm_calls = Counter(
            PREFIX + "worker_llm_calls", "LLM calls, by model and outcome (ok, or the error: unavailable, timeout, "
            "model_not_found, error, cancelled)", ["model", "outcome"], registry=registry,
        )
        self.llm_duration = Histogram(
            PREFIX + "worker_llm_call_duration_seconds", "Time one LLM call took, by model", ["model"],
            buckets=DURATION_BUCKETS, registry=registry,
        )
        self.llm_tokens = Counter(
            PREFIX + "worker_llm_tokens", "Tokens the LLM reported, by model and kind (prompt, response)",
            ["model", "kind"], registry=registry,
        )
        self.validations = Counter(
            PREFIX + "worker_validations", "Playbooks returned, by validation result (valid, invalid)", ["result"],
            registry=registry,
        )
        self.syntax_check = Histogram(
            PREFIX + "worker_syntax_check_duration_seconds", "Time one ansible-playbook --syntax-check took",
            buckets=SYNTAX_BUCKETS, registry=registry,
        )
        self.job_duration = Histogram(
            PREFIX + "worker_job_duration_seconds", "Time a job took at the worker, its queue wait included, by kind "
            "(generate, explain, generate-code, explain-code) and engine (rules, hybrid, llm; none for text jobs)",
            ["kind", "engine"], buckets=DURATION_BUCKETS, registry=registry,
        )
        self.queue_wait = Histogram(
            PREFIX + "worker_queue_wait_seconds", "Time a job waited for one of the worker's slots",
            buckets=DURATION_BUCKETS, registry=registry,
        )
        for result in ("valid", "invalid"):
            self.validations.labels(result)

    def observe_reply(self, kind: str, reply: Mapping[str, Any]) -> None:
        """A job's reply: its time, its queue wait, its validation result."""
        engine = reply.get("engine") if isinstance(reply.get("engine"), str) else "none"
        elapsed = reply.get("elapsed")
        if isinstance(elapsed, (int, float)):
            self.job_duration.labels(kind, engine).observe(elapsed)
        wait = reply.get("queue_wait")
        self.queue_wait.observe(wait if isinstance(wait, (int, float)) else 0.0)
        validation = reply.get("validation")
        if isinstance(validation, Mapping) and isinstance(validation.get("ok"), bool):
            self.validations.labels("valid" if validation["ok"] else "invalid").inc()


_OUTCOMES = {
    "LLMUnavailable": "unavailable",
    "LLMTimeout": "timeout",
    "ModelNotFound": "model_not_found",
    "ClientGone": "cancelled",
}


class MeteredLLM:
    """An ``LLMClient`` that counts and times every call of the one it wraps."""

    def __init__(self, inner: LLMClient, metrics: WorkerMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self._known: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def list_models(self) -> list[str]:
        models = self.inner.list_models()
        with self._lock:
            self._known = tuple(models)
        return models

    def _label(self, model: str) -> str:
        with self._lock:
            known = self._known
        return model if known and has_model(known, model) else "other"

    def chat(self, model: str, messages: Sequence[Message], **kwargs: Any) -> Completion:
        started = time.perf_counter()
        try:
            completion = self.inner.chat(model, messages, **kwargs)
        except (ApiError, ClientGone) as exc:
            label = self._label(model)
            self.metrics.llm_calls.labels(label, _OUTCOMES.get(type(exc).__name__, "error")).inc()
            self.metrics.llm_duration.labels(label).observe(time.perf_counter() - started)
            raise
        label = model if self._label(model) != "other" else self._label(completion.model)
        self.metrics.llm_calls.labels(label, "ok").inc()
        self.metrics.llm_duration.labels(label).observe(time.perf_counter() - started)
        if completion.prompt_tokens:
            self.metrics.llm_tokens.labels(label, "prompt").inc(completion.prompt_tokens)
        if completion.response_tokens:
            self.metrics.llm_tokens.labels(label, "response").inc(completion.response_tokens)
        return completion


class MeteredSyntaxChecker(SyntaxChecker):
    """``SyntaxChecker`` timing each check into ``worker_syntax_check_duration_seconds``."""

    def __init__(self, metrics: WorkerMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    def check(self, text: str) -> SyntaxResult:
        result = super().check(text)
        self.metrics.syntax_check.observe(result.elapsed_s)
        return result


class QueueCollector(Collector):
    """Jobs waiting and running and the slots, from one queue snapshot per scrape."""

    def __init__(self, queue: JobQueue, draining: Callable[[], bool] = lambda: False) -> None:
        self.queue = queue
        self.draining = draining

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self.queue.snapshot()
        for name, doc, value in (
            ("worker_jobs_waiting", "LLM jobs waiting for a slot", len(snap.waiting)),
            ("worker_jobs_running", "LLM jobs running", len(snap.running)),
            ("worker_slots", "LLM jobs the worker runs at once (WORKER_SLOTS)", snap.slots),
            ("worker_draining", "1 while the worker drains (SIGTERM came)", 1 if self.draining() else 0),
        ):
            family = GaugeMetricFamily(PREFIX + name, doc)
            family.add_metric([], value)
            yield family
