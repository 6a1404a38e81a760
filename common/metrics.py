"""Prometheus metrics both services share: ``GET /metrics``, and requests by endpoint and status.

Every project metric is named ``ansible_farm_<what>_<unit>`` in base units (seconds), counters
end in ``_total``. Each app has its own ``CollectorRegistry`` (built by ``create_app``): tests
build many apps in one process and each must count only its own requests. A service is ONE
gunicorn worker process (``common.serving.gunicorn_options``: ``workers=1``), so the registry
of that process is the whole service's and prometheus-client's multiprocess mode is not needed.
The exception, the balancer's BALANCER_PROCESSES > 1, is documented as such: its counters are
each process's own (its pool gauges are farm-wide, read from the shared ledger).

design: the request hooks are the only per-request cost: one dict lookup for the labelled
children (cached here, not in prometheus-client's locked ``labels``), one increment and one
histogram observation. Gauges of state (queues, backends) are read when Prometheus scrapes,
by collectors over the services' snapshots, never updated on the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from common.cooperative import short_lock

PREFIX = "ansible_farm_"
# request and job times: from a /healthz (ms) to an LLM job (minutes)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
UNMATCHED = "unmatched"  # the endpoint label of a request no route matched (a 404, whatever its path)


class _ShortLockValue(values.MutexValue):
    """prometheus-client's value with ``common.cooperative.short_lock`` (its own is gevent's under
    monkey-patching: several per request, each a Python call; an increment never yields)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = short_lock()


if values.ValueClass is values.MutexValue:  # not prometheus-client's multiprocess mode
    values.ValueClass = _ShortLockValue


def new_registry() -> CollectorRegistry:
    """A registry with the process collectors (CPU, memory, open files, GC, Python version)."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class HttpMetrics:
    """Requests by endpoint (the route template, never the raw path), method and status."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.registry = registry
        info = Gauge(PREFIX + "build_info", "Always 1; the service this is (balancer or worker)", ["service"], registry=registry)
        info.labels(service).set(1)
        self.requests = Counter(
            PREFIX + "http_requests", "HTTP requests answered, by endpoint (route template), method and status",
            ["endpoint", "method", "status"], registry=registry,
        )
        self.duration = Histogram(
            PREFIX + "http_request_duration_seconds", "Time from a request's arrival at the app to its reply, by endpoint",
            ["endpoint"], buckets=DURATION_BUCKETS, registry=registry,
        )
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(endpoint, method, str(status))
        counter.inc()
        histogram = self._histograms.get(endpoint)
        if histogram is None:
            histogram = self._histograms[endpoint] = self.duration.labels(endpoint)
        histogram.observe(seconds)


def endpoint_label() -> str:
    """The matched route's template (``/jobs/<request_id>``), or ``unmatched``."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def install_metrics(app: Flask, metrics: HttpMetrics, *, on_response: Callable[[Response], None] | None = None) -> None:
    """Count every request of ``app`` and serve ``GET /metrics`` from ``metrics.registry``."""

    from common.fastpath import mirrored  # imported here: fastpath itself imports this module

    @app.before_request
    @mirrored
    def _start_clock() -> None:
        g.metrics_t0 = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("metrics_t0")
        method = request.method if request.method in _METHODS else "other"
        metrics.observe(endpoint_label(), method, response.status_code,
                        time.perf_counter() - started if started is not None else 0.0)
        if on_response is not None:
            on_response(response)
        return response

    if on_response is None:  # the fast path (common.fastpath) counts its requests the same way
        mirrored(_count)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        # the classic text format (0.0.4): every Prometheus and every parser reads it
        return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
