"""HTTP routes of the balancer; ``create_app`` builds it from settings and a worker client.

Every worker endpoint is served here: input is checked first (400 JSON before anything is
forwarded), then the job goes to a free worker through the pool and the worker's status and
JSON body come back unchanged with ``X-Backend: <url>``. ``split: true`` on ``/generate`` and
``/upload`` runs the fan-out instead. Every job is tracked under its ``X-Request-Id`` (sent back
on its reply) so ``GET /jobs/<id>`` can say where it is (``balancer.jobs``); ``GET /status`` is
the status page, drawn from ``/queue-status`` and ``GET /status/history`` (``balancer.history``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, g, jsonify, request, send_from_directory

from balancer.admin import install_admin, reload_backends
from balancer.auth import KeyStore, current_key, install_auth
from balancer.client import HttpWorkerClient, WorkerClient
from balancer.fanout import SplitConverter
from balancer.health import HealthMonitor
from balancer.history import History
from balancer.jobs import REQUEST_ID_HEADER, JobBoard, request_id_from
from balancer.limits import KeyLimits
from balancer.metrics import BalancerMetrics, MeteredPool, MeteredSharedPool, PoolCollector
from balancer.pool import BackendPool
from balancer.shared_pool import SharedPool
from balancer.proxy import Forwarded, Job, Proxy
from balancer.settings import ConfigError, Settings
from balancer.shared_state import RedisLedger
from balancer import shm_state
from balancer.shm_state import ShmLedger
from balancer.state import CancelSignal, HealthPolicy, OutlierPolicy
from balancer.status import StatusRenderer
from balancer.tracing import TracingClient
from common.disconnect import watch_disconnect
from common.apikeys import KeyFileError
from common.errors import ApiError, BadRequest, NotFound
from common.fastpath import Fallback, FastPath, FastRequest, Reply, flask_response, json_reply, mirrored
from common.worker_token import WORKER_TOKEN_HEADER
from common.lifecycle import Lifecycle
from common.logs import annotate
from common.metrics import HttpMetrics, install_metrics, new_registry
from common.tracing import forwarding_headers
from common.http import (
    engine_field,
    install_json_errors,
    json_body,
    json_object,
    optional_bool,
    optional_text,
    require_text,
    uploaded_script,
)

log = logging.getLogger(__name__)
R = TypeVar("R", Response, Reply)

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

# the pages load nothing from elsewhere (no CDN) and may only talk to this balancer
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass
class Balancer:
    """The collaborators one balancer app runs with (``app.extensions["balancer"]``)."""

    settings: Settings
    pool: BackendPool
    client: WorkerClient
    health: HealthMonitor
    proxy: Proxy
    splitter: SplitConverter
    jobs: JobBoard
    history: History
    metrics: BalancerMetrics
    http_metrics: HttpMetrics
    keys: KeyStore | None
    limits: KeyLimits

    @classmethod
    def build(cls, settings: Settings, client: WorkerClient | None = None) -> Balancer:
        client = client or HttpWorkerClient(
            connect_timeout_s=settings.connect_timeout_s,
            pool_size=settings.max_queue + settings.total_slots + 16,
            hosts=len(settings.backends),
            ssl_context=settings.worker_tls(),
            headers={WORKER_TOKEN_HEADER: settings.worker_token} if settings.worker_token else None,
        )
        registry = new_registry()
        metrics = BalancerMetrics(registry)
        shared: dict[str, Any] = {}
        pool_class: type[MeteredPool] = MeteredPool
        if settings.state_url:  # several balancers, one farm: slots, down marks and the queue in Redis
            pool_class = MeteredSharedPool
            shared["ledger"] = RedisLedger(settings.state_url, lease_ttl_s=settings.lease_ttl_s,
                                           retry_after_s=settings.retry_after_s)
        elif settings.processes > 1:  # several processes of this balancer: the same, in shared memory
            pool_class = MeteredSharedPool
            region = shm_state.inherited() or shm_state.prepare(settings.shared_tickets)
            shared["ledger"] = ShmLedger(region, lease_ttl_s=settings.lease_ttl_s, retry_after_s=settings.retry_after_s)
        pool = pool_class(
            settings.backends,
            **shared,
            max_queue=settings.max_queue,
            queue_timeout_s=settings.queue_timeout_s,
            retry_after_s=settings.retry_after_s,
            outliers=OutlierPolicy(
                failures=settings.outlier_failures,
                base_ejection_s=settings.ejection_time_s,
                max_ejection_s=settings.max_ejection_time_s,
                max_ejection_percent=settings.max_ejection_percent,
            ),
            health=HealthPolicy(rise=settings.health_rise, fall=settings.health_fall),
            metrics=metrics,
        )
        registry.register(PoolCollector(pool))
        health = HealthMonitor(pool, client, interval_s=settings.health_interval_s, timeout_s=settings.health_timeout_s)
        proxy = Proxy(pool, TracingClient(client), timeout_s=settings.timeout_s, retries=settings.retries,
                      probe=health.probe, on_retry=metrics.retry)
        splitter = SplitConverter(proxy, chunk_size=settings.chunk_size, retries=settings.retries, max_chunks=settings.max_chunks)
        keys = KeyStore(settings.api_keys_file) if settings.api_keys_file else None
        # a job holds its key's unit at most this long: its wait, then every attempt (a dead balancer's units expire)
        job_lifetime_s = settings.queue_timeout_s + (settings.retries + 1) * settings.timeout_s + 60
        limits = KeyLimits(settings.state_url if keys else "", job_lifetime_s=job_lifetime_s)
        return cls(settings, pool, client, health, proxy, splitter, JobBoard(pool.waiting_signals), History(pool.snapshot),
                   metrics, HttpMetrics(registry, "balancer"), keys, limits)


def create_app(settings: Settings | None = None, *, client: WorkerClient | None = None) -> Flask:
    """The balancer app; tests pass their own settings and a FakeWorkerClient.

    Background health checks start here (unless HEALTH_INTERVAL is 0); under gunicorn the
    app is built inside the serving process, so the thread lives where requests are served.
    """
    settings = settings or Settings.from_env()
    balancer = Balancer.build(settings, client)
    balancer.health.ensure_started()
    if isinstance(balancer.pool, SharedPool):
        balancer.pool.ensure_started()
    if settings.health_interval_s > 0:  # a serving balancer; without health checks (tests) history is sampled when read
        balancer.history.ensure_started()

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["balancer"] = balancer
    install_json_errors(app)
    install_admin(app, settings, balancer.pool)
    install_metrics(app, balancer.http_metrics)

    def reload() -> None:
        """SIGHUP: API_KEYS_FILE and BACKENDS_FILE read anew, each on its own (a bad one keeps its running state)."""
        if balancer.keys is not None:
            try:
                balancer.keys.reload()
            except KeyFileError as exc:
                log.error("SIGHUP: API keys not reloaded, the running ones stay: %s", exc)
        if balancer.keys is not None and not settings.backends_file:
            return  # nothing else to reload: the backends come from BACKENDS or app_distributed.py
        try:
            reload_backends(settings, balancer.pool)
        except ConfigError as exc:
            log.error("SIGHUP: backends not reloaded: %s", exc)

    # SIGTERM: nothing to wait for before the listener closes; open requests (running and
    # waiting jobs) then finish within the graceful timeout, which follows DRAIN_TIMEOUT
    app.extensions["lifecycle"] = Lifecycle(reload=reload)

    def model_of(value: Any) -> str:
        return optional_text({"model": value}, "model", settings.default_model)

    def engine_of(value: Any) -> str | None:
        return engine_field(value, None)  # absent: the worker's own default

    def tracked(environ: dict[str, Any], request_id: str, path: str, run: Callable[[CancelSignal], R], *,
                split: bool = False) -> R:
        """Run one job under a ticket (its cancel signal): ``GET /jobs/<request id>`` tells where it is.

        With API keys, a single job holds one unit of its key's max_concurrent while it is in
        progress (429 when none is free); a split holds its own (``convert_split``).
        """
        key = current_key(environ)
        if key is None or split:
            return tracked_job(environ, request_id, path, run, split)
        with balancer.limits.job(key):
            return tracked_job(environ, request_id, path, run, split)

    def tracked_job(environ: dict[str, Any], request_id: str, path: str, run: Callable[[CancelSignal], R],
                    split: bool) -> R:
        with watch_disconnect(environ) as gone:
            ticket = balancer.jobs.open(request_id, path, gone, split=split)
            ticket.forward_headers.update(
                forwarding_headers(environ.get("HTTP_X_FORWARDED_FOR"), environ.get("HTTP_FORWARDED"),
                                   environ.get("REMOTE_ADDR"), environ.get("wsgi.url_scheme", "http")),
                **{REQUEST_ID_HEADER: request_id},
            )
            status = 500
            try:
                response = run(ticket)
                status = response.status_code
                return response
            except ApiError as exc:
                status = exc.status
                tried = exc.extra.get("tried")
                if isinstance(tried, list) and tried:
                    annotate(environ, backend=",".join(map(str, tried)), attempts=len(tried))
                raise
            finally:
                balancer.jobs.close(ticket, status)
                elapsed = (ticket.finished or ticket.started) - ticket.started
                balancer.metrics.observe_job(path, split, elapsed)
                annotate(environ, queue_wait=round(ticket.queue_wait_s, 6))

    def forward_reply(environ: dict[str, Any], request_id: str, path: str, job: Job) -> Reply:
        """The worker's reply to ``job`` as ours (ApiError when no worker gave one)."""
        def run(cancel: CancelSignal) -> Reply:
            forwarded = balancer.proxy.forward(job, cancel=cancel)
            annotate(environ, backend=forwarded.backend, attempts=forwarded.attempts)
            return relay(forwarded)

        return tracked(environ, request_id, path, run)

    def forward(job: Job) -> Response:
        return flask_response(forward_reply(request.environ, g.request_id, request.path, job))

    def convert_split(
        commands: str, model: str, engine: str | None, *, lint: bool, context: str = "", extra: dict[str, Any] | None = None
    ) -> Response:
        def run(cancel: CancelSignal) -> Response:
            key = current_key(request.environ)
            with ExitStack() as stack:
                admit = stack.enter_context(balancer.limits.split(key)).unit if key is not None else None
                result = balancer.splitter.convert_split(
                    commands, model=model, engine=engine, gone=cancel, lint=lint, context=context, admit=admit
                )
            chunks = result.get("chunks", [])
            for chunk in chunks:
                balancer.metrics.chunk_duration.observe(chunk.get("elapsed", 0.0))
            annotate(request.environ, backend=",".join(result.get("backends", [])),
                     attempts=sum(chunk.get("attempts", 1) for chunk in chunks))
            return split_reply({**result, **(extra or {})})

        return tracked(request.environ, g.request_id, request.path, run, split=True)

    def plain_generate(body: dict[str, Any]) -> Job | None:
        """The job a ``/generate`` body asks for; None when it asks for a split. BadRequest for bad fields."""
        require_text(body, "commands")
        model = model_of(body.get("model"))
        engine = engine_of(body.get("engine"))
        if optional_bool(body.get("split"), "split"):
            return None
        body = {k: v for k, v in body.items() if k != "split"}
        if engine:
            body["engine"] = engine
        return Job("POST", "/generate", model, json={**body, "model": model}, model_optional=engine != "llm")

    def healthz_reply() -> Reply:
        return json_reply({"status": "ok", "total_backends": len(balancer.pool.urls)})

    status_text = StatusRenderer()

    def queue_status_reply() -> Reply:
        return Reply(200, status_text.render(balancer.pool.snapshot()))

    def fast_generate(req: FastRequest) -> Reply:
        """``POST /generate`` of one job, its input valid; anything else (a split, a refusal) is Flask's."""
        try:
            job = plain_generate(json_object(req.body, "/generate"))
        except BadRequest:
            raise Fallback from None
        if job is None:
            raise Fallback
        return forward_reply(req.environ, req.request_id, "/generate", job)

    @app.before_request
    @mirrored
    def request_id() -> None:
        """Every request has an id: the client's X-Request-Id when it is a plain token, else a new one."""
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))

    if balancer.keys is not None:  # after the request id, so a 401 carries one too
        install_auth(app, balancer.keys, balancer.limits, admin_token=settings.admin_token)

    @app.after_request
    @mirrored
    def request_id_header(response: Response) -> Response:
        if "request_id" in g and REQUEST_ID_HEADER not in response.headers:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        if "request_id" in g:
            annotate(request.environ, request_id=g.request_id)
        return response

    def forward_json(path: str, body: dict[str, Any], model: str) -> Response:
        return forward(Job("POST", path, model, json={**body, "model": model}))

    @app.get("/")
    def index() -> Response:
        return page("index.html", "the web UI")

    @app.get("/status")
    def status_page() -> Response:
        return page("status.html", "the status page")

    @app.get("/status/history")
    def status_history() -> Response:
        return jsonify(balancer.history.to_json())

    @app.get("/jobs/<request_id>")
    def job(request_id: str) -> Response:
        view = balancer.jobs.lookup(request_id)
        if view is None:
            raise NotFound(
                f"no job with request id {request_id!r} is waiting, running or finished in the last "
                f"{balancer.jobs.keep_done_s:g}s; send X-Request-Id with the job to follow it"
            )
        return jsonify(view.to_json())

    @app.get("/healthz")
    def healthz() -> Response:
        return flask_response(healthz_reply())

    @app.get("/queue-status")
    def queue_status() -> Response:
        return flask_response(queue_status_reply())

    @app.post("/generate")
    def generate() -> Response:
        body = json_body(request)
        job = plain_generate(body)
        if job is not None:
            return forward(job)
        commands = require_text(body, "commands")
        model = model_of(body.get("model"))
        engine = engine_of(body.get("engine"))
        lint = optional_bool(body.get("lint"), "lint")
        return convert_split(commands, model, engine, lint=lint, context=optional_text(body, "context", ""))

    @app.post("/upload")
    def upload() -> Response:
        script = uploaded_script(request)
        model = model_of(request.form.get("model"))
        engine = engine_of(request.form.get("engine"))
        lint = optional_bool(request.form.get("lint"), "lint")
        if optional_bool(request.form.get("split"), "split"):
            return convert_split(script.text, model, engine, lint=lint, extra={"filename": script.filename})
        form = {"model": model, **({"engine": engine} if engine else {}), **({"lint": "true"} if lint else {})}
        files = {"file": (script.filename or "script.sh", script.raw, script.mimetype)}
        return forward(Job("POST", "/upload", model, data=form, files=files, model_optional=engine != "llm"))

    @app.post("/explain")
    def explain() -> Response:
        body = json_body(request)
        require_text(body, "playbook")
        return forward_json("/explain", body, model_of(body.get("model")))

    @app.post("/generate-code")
    def generate_code() -> Response:
        body = json_body(request)
        require_text(body, "description")
        return forward_json("/generate-code", body, model_of(body.get("model")))

    @app.post("/explain-code")
    def explain_code() -> Response:
        body = json_body(request)
        require_text(body, "code")
        return forward_json("/explain-code", body, model_of(body.get("model")))

    # the hottest routes skip Flask's per-request machinery (common.fastpath); the views above
    # still answer them whenever the fast path declines (HEAD, bad input, a split)
    FastPath.install(app, {("POST", "/generate"): fast_generate, ("GET", "/queue-status"): lambda _: queue_status_reply(),
                           ("GET", "/healthz"): lambda _: healthz_reply()}, metrics=balancer.http_metrics)
    return app


def page(name: str, what: str) -> Response:
    """One of the shipped HTML pages, with headers that keep it to this origin."""
    if not (WEB_ROOT / name).is_file():
        return _json_error(404, f"{what} is not installed (web/{name}); use the JSON API")
    response = send_from_directory(WEB_ROOT, name)
    response.headers.update(PAGE_HEADERS)
    return response


def relay(forwarded: Forwarded) -> Reply:
    """The worker's reply as ours: same status and JSON body, plus X-Backend."""
    reply = forwarded.reply
    headers = (("X-Backend", forwarded.backend),) + ((("Retry-After", reply.retry_after),) if reply.retry_after else ())
    if "json" in reply.content_type.lower():
        return Reply(reply.status, reply.body, reply.content_type, headers)
    # never pass on an HTML error page; say what came back instead
    text = reply.body[:200].decode("utf-8", "replace")
    message = f"worker {forwarded.backend} answered HTTP {reply.status} with {reply.content_type}: {text}"
    return Reply(502 if reply.status < 400 else reply.status, json.dumps({"error": message}).encode(), "application/json",
                 headers)


def split_reply(result: dict[str, Any]) -> Response:
    response = jsonify(result)
    response.headers["X-Backend"] = ", ".join(result.get("backends", []))
    return response


def _json_error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status=status, content_type="application/json")
