"""The balancer's Prometheus metrics (served at ``/metrics`` with ``common.metrics``).

State is read when Prometheus scrapes: ``PoolCollector`` turns one ``pool.snapshot()`` into
jobs waiting and running, and per backend its jobs in flight, slots, status (one series per
status, 1 for the current one) and failures in a row. Events are counted where they happen,
once each: ``MeteredPool`` (the pool with its verbs observed) counts queue waits, queue
rejections, failures by kind and ejections; the web layer observes job and chunk durations;
the proxy reports each retry (``Proxy.on_retry``) against the backend the job left.

Failure kinds (``ansible_farm_backend_failures_total{kind}``), from the proxy's verdicts:
``refused`` (no connection: the backend goes offline), ``connection`` (closed or reset after
the request was sent), ``timeout`` (no reply within TIMEOUT), ``bad_reply`` (a 5xx, or a reply
that is not the contract's JSON), ``health_check`` (a failed probe), ``draining`` (the worker
said it is shutting down).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from balancer.jobs import ticket_in
from balancer.shared_pool import SharedPool
from balancer.pool import BackendPool, Lease
from balancer.state import HealthReport, PoolSnapshot, Status
from common.errors import ClientGone, QueueFull, QueueTimeout
from common.metrics import DURATION_BUCKETS, PREFIX

# chunks: seconds to minutes; queue waits: none (most) to the QUEUE_TIMEOUT
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
FAILURE_KINDS = ("refused", "connection", "timeout", "bad_reply", "health_check", "draining")


class BalancerMetrics:
    """The balancer's event metrics, in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.queue_wait = Histogram(
            PREFIX + "balancer_queue_wait_seconds", "Time a job (or a split's chunk) waited at the balancer for a free slot",
            buckets=WAIT_BUCKETS, registry=registry,
        )
        self.queue_rejections = Counter(
            PREFIX + "balancer_queue_rejections", "Jobs that left the balancer's queue without a slot, by reason "
            "(full: MAX_QUEUE reached; timeout: QUEUE_TIMEOUT passed; gone: the client left)",
            ["reason"], registry=registry,
        )
        self.job_duration = Histogram(
            PREFIX + "balancer_job_duration_seconds", "Time from a job's arrival to its reply, queue wait and retries included, "
            "by endpoint and split mode", ["endpoint", "split"], buckets=DURATION_BUCKETS, registry=registry,
        )
        self.chunk_duration = Histogram(
            PREFIX + "balancer_chunk_duration_seconds", "Time one chunk of a split job took, its retries included",
            buckets=DURATION_BUCKETS, registry=registry,
        )
        self.backend_failures = Counter(
            PREFIX + "backend_failures", "Failures of a backend, by kind", ["backend", "kind"], registry=registry,
        )
        self.backend_ejections = Counter(
            PREFIX + "backend_ejections", "Times outlier detection ejected a backend", ["backend"], registry=registry,
        )
        self.backend_retries = Counter(
            PREFIX + "backend_retries", "Jobs sent to another backend after this one failed them or said 503",
            ["backend"], registry=registry,
        )
        for reason in ("full", "timeout", "gone"):
            self.queue_rejections.labels(reason)
        self._job_children: dict[tuple[str, bool], Any] = {}

    def failure(self, url: str, kind: str) -> None:
        self.backend_failures.labels(url, kind).inc()

    def retry(self, url: str) -> None:
        """A job left ``url`` for another backend (``Proxy.on_retry``)."""
        self.backend_retries.labels(url).inc()

    def observe_job(self, endpoint: str, split: bool, seconds: float) -> None:
        key = (endpoint, split)
        child = self._job_children.get(key)
        if child is None:  # prometheus-client's labels() takes a lock and builds a key each time: once per pair
            child = self._job_children[key] = self.job_duration.labels(endpoint, "true" if split else "false")
        child.observe(seconds)


def failure_kind(reason: str) -> str:
    """The kind of a failure ``Proxy`` reported to ``record_failure``, from its reason."""
    if reason.startswith("no reply within"):
        return "timeout"
    if reason.startswith("HTTP "):
        return "bad_reply"
    return "connection"  # BackendUnreachable(sent=True): "worker <url> unreachable: ..."


class MeteredPool(BackendPool):
    """The backend pool, counting what happens to jobs and backends into ``BalancerMetrics``."""

    def __init__(self, *args: Any, metrics: BalancerMetrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    def acquire(self, model: str | None, **kwargs: Any) -> Lease:
        try:
            lease = super().acquire(model, **kwargs)
        except QueueFull:
            self.metrics.queue_rejections.labels("full").inc()
            raise
        except QueueTimeout:
            self.metrics.queue_rejections.labels("timeout").inc()
            raise
        except ClientGone:
            self.metrics.queue_rejections.labels("gone").inc()
            raise
        self.metrics.queue_wait.observe(lease.waited_s)
        ticket = ticket_in(kwargs.get("cancel"))
        if ticket is not None:
            ticket.queue_wait_s += lease.waited_s
        return lease

    def mark_offline(self, url: str, error: str) -> None:
        self.metrics.failure(url, "refused")
        super().mark_offline(url, error)

    def report_health(self, url: str, report: HealthReport) -> None:
        if not report.ok:
            self.metrics.failure(url, "health_check")
        super().report_health(url, report)

    def worker_draining(self, url: str) -> None:
        self.metrics.failure(url, "draining")
        super().worker_draining(url)

    def record_failure(self, url: str, reason: str) -> bool:
        self.metrics.failure(url, failure_kind(reason))
        ejected = super().record_failure(url, reason)
        if ejected:
            self.metrics.backend_ejections.labels(url).inc()
        return ejected


class MeteredSharedPool(MeteredPool, SharedPool):
    """The Redis-shared pool (STATE_URL), counted like the in-memory one."""


class PoolCollector(Collector):
    """Jobs waiting and running, and each backend's state, from one pool snapshot per scrape."""

    def __init__(self, pool: BackendPool) -> None:
        self.pool = pool

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: the families depend on the pool's members

    def collect(self) -> Iterator[Metric]:
        return iter(pool_families(self.pool.snapshot()))


def pool_families(snapshot: PoolSnapshot) -> list[Metric]:
    """The metric families of one pool snapshot; pure."""
    waiting = GaugeMetricFamily(PREFIX + "balancer_jobs_waiting", "Jobs waiting at the balancer for a free slot")
    waiting.add_metric([], snapshot.waiting)
    running = GaugeMetricFamily(PREFIX + "balancer_jobs_running", "Jobs running on a backend (slots in use)")
    running.add_metric([], sum(b.in_flight for b in snapshot.backends))
    completed = CounterMetricFamily(PREFIX + "balancer_jobs_completed", "Jobs (a split's chunks one each) a worker answered")
    completed.add_metric([], snapshot.completed)
    failed = CounterMetricFamily(PREFIX + "balancer_jobs_failed", "Jobs that failed by a backend's fault")
    failed.add_metric([], snapshot.failed)
    in_flight = GaugeMetricFamily(PREFIX + "backend_in_flight", "Jobs running on the backend", labels=["backend"])
    slots = GaugeMetricFamily(PREFIX + "backend_slots", "Jobs the backend runs at once", labels=["backend"])
    status = GaugeMetricFamily(PREFIX + "backend_status", "1 for the backend's current status, 0 for the others",
                               labels=["backend", "status"])
    streak = GaugeMetricFamily(PREFIX + "backend_consecutive_failures", "Jobs the backend failed in a row",
                               labels=["backend"])
    for b in snapshot.backends:
        in_flight.add_metric([b.url], b.in_flight)
        slots.add_metric([b.url], b.slots)
        streak.add_metric([b.url], b.consecutive_failures)
        for state in Status:
            status.add_metric([b.url, state.value], 1 if b.status is state else 0)
    return [waiting, running, completed, failed, in_flight, slots, status, streak]
