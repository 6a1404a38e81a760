"""HTTP routes of the worker; ``create_app`` builds it from settings and collaborators."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request, send_from_directory

from common.disconnect import watch_disconnect
from common.errors import Draining, NotFound, Unauthorized
from common.http import (
    engine_field,
    install_json_errors,
    json_body,
    optional_bool,
    optional_text,
    require_text,
    uploaded_script,
)
from common.lifecycle import Lifecycle
from common.logs import annotate
from common.metrics import HttpMetrics, install_metrics, new_registry
from common.tracing import REQUEST_ID_HEADER, request_id_from
from common.worker_token import WORKER_TOKEN_HEADER, token_matches
from validation.validator import PlaybookValidator
from worker.jobs import JobQueue
from worker.llm import LLMClient
from worker.metrics import MeteredLLM, MeteredSyntaxChecker, QueueCollector, WorkerMetrics
from worker.models import ModelCatalog
from worker.service import WorkerService
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/metrics"})  # served without WORKER_TOKEN: load-balancer probes, Prometheus


def build_llm(settings: WorkerSettings) -> LLMClient:
    """The real LLM adapter the settings ask for."""
    if settings.llm_api == "openai":
        from worker.llm_openai import OpenAICompatLLM

        return OpenAICompatLLM(
            settings.llm_url, settings.llm_timeout_s, api_key=settings.llm_api_key, max_tokens=settings.llm_max_tokens
        )
    from worker.llm_ollama import OllamaLLM

    options = {"num_predict": settings.llm_max_tokens} if settings.llm_max_tokens else None
    return OllamaLLM(settings.llm_url, settings.llm_timeout_s, options=options)


def create_app(
    settings: WorkerSettings | None = None,
    *,
    llm: LLMClient | None = None,
    validator: PlaybookValidator | None = None,
) -> Flask:
    """The worker app; tests pass their own settings, a FakeLLM and a shared validator."""
    settings = settings or WorkerSettings.from_env()
    registry = new_registry()
    metrics = WorkerMetrics(registry)
    llm = MeteredLLM(llm or build_llm(settings), metrics)
    if validator is None:
        syntax = MeteredSyntaxChecker(metrics) if settings.syntax_check else None
        validator = PlaybookValidator(syntax=syntax, syntax_check=settings.syntax_check)
        validator.warm_up()
    catalog = ModelCatalog(llm, settings.models_refresh_s).start()
    queue = JobQueue(settings.slots, settings.max_queue, timeout_s=settings.queue_timeout_s)
    service = WorkerService(llm, queue, catalog, validator, generate_attempts=settings.generate_attempts)

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["worker"] = service
    install_json_errors(app)
    draining = threading.Event()
    app.extensions["metrics"] = metrics
    registry.register(QueueCollector(queue, draining.is_set))
    install_metrics(app, HttpMetrics(registry, "worker"))

    @app.before_request
    def request_id() -> None:
        """Every request has an id: the balancer's (or client's) X-Request-Id when it is a plain token, else a new one."""
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))

    @app.after_request
    def request_id_header(response: Response) -> Response:
        if "request_id" in g:
            response.headers.setdefault(REQUEST_ID_HEADER, g.request_id)
            annotate(request.environ, request_id=g.request_id, forwarded_for=request.headers.get("X-Forwarded-For"))
        return response

    def measured(kind: str, reply: dict[str, Any]) -> dict[str, Any]:
        metrics.observe_reply(kind, reply)
        return reply

    def drain(timeout_s: float) -> None:
        """SIGTERM: take no new jobs, finish the running and queued ones (at most ``timeout_s``)."""
        draining.set()
        deadline = time.monotonic() + timeout_s
        while queue.snapshot().queue_size and time.monotonic() < deadline:
            time.sleep(0.2)
        left = queue.snapshot().queue_size
        if left:
            log.warning("drain: DRAIN_TIMEOUT=%gs passed with %d jobs still queued or running", timeout_s, left)

    app.extensions["lifecycle"] = Lifecycle(drain=drain)

    @app.before_request
    def require_worker_token() -> None:
        """With WORKER_TOKEN, only the balancers (who send it) are served; probes and scrapes stay open."""
        if settings.worker_token and request.path not in OPEN_PATHS:
            if not token_matches(request.headers.get(WORKER_TOKEN_HEADER), settings.worker_token):
                raise Unauthorized(f"this worker serves its balancers only: send the shared {WORKER_TOKEN_HEADER}")

    @app.before_request
    def refuse_new_jobs_while_draining() -> None:
        if draining.is_set() and request.method == "POST":
            raise Draining(
                "this worker is draining (shutting down): it finishes its running and queued jobs "
                "and takes no new ones; send the job to another worker"
            )

    def model_of(body: dict[str, Any]) -> str:
        return optional_text(body, "model", settings.default_model)

    def engine_of(value: Any) -> str:
        return engine_field(value, settings.default_engine) or settings.default_engine

    @app.get("/")
    def index() -> Response:
        if not os.path.isfile(os.path.join(settings.web_root, "index.html")):
            raise NotFound(f"the web UI is not installed ({settings.web_root}/index.html); use the JSON API")
        return send_from_directory(settings.web_root, "index.html")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/queue-status")
    def queue_status() -> Response:
        snap = queue.snapshot()
        status: dict[str, Any] = {
            "status": "draining" if draining.is_set() else "ok",
            "queue_size": snap.queue_size,
            "active": snap.active,
            "running": len(snap.running),
            "waiting": len(snap.waiting),
            "slots": snap.slots,
        }
        if snap.running:
            status["active_type"] = snap.running[0].kind
            status["active_model"] = snap.running[0].model
        status["models"] = catalog.models()
        status["llm"] = {"api": settings.llm_api, "url": settings.llm_url, "error": catalog.last_error()}
        return jsonify(status)

    @app.post("/generate")
    def generate() -> Response:
        body = json_body(request)
        commands = require_text(body, "commands")
        engine = engine_of(body.get("engine"))
        lint = optional_bool(body.get("lint"), "lint")
        context = optional_text(body, "context", "")
        with watch_disconnect(request.environ) as gone:
            return jsonify(measured("generate", service.generate(commands, model_of(body), engine, gone, lint=lint, context=context)))

    @app.post("/upload")
    def upload() -> Response:
        script = uploaded_script(request)
        engine = engine_of(request.form.get("engine"))
        lint = optional_bool(request.form.get("lint"), "lint")
        model = request.form.get("model", "").strip() or settings.default_model
        with watch_disconnect(request.environ) as gone:
            result = measured("generate", service.generate(script.text, model, engine, gone, lint=lint))
        return jsonify({**result, "filename": script.filename})

    @app.post("/explain")
    def explain() -> Response:
        body = json_body(request)
        playbook = require_text(body, "playbook")
        with watch_disconnect(request.environ) as gone:
            return jsonify(measured("explain", service.explain(playbook, model_of(body), gone)))

    @app.post("/generate-code")
    def generate_code() -> Response:
        body = json_body(request)
        description = require_text(body, "description")
        with watch_disconnect(request.environ) as gone:
            return jsonify(measured("generate-code", service.generate_code(description, model_of(body), gone)))

    @app.post("/explain-code")
    def explain_code() -> Response:
        body = json_body(request)
        code = require_text(body, "code")
        with watch_disconnect(request.environ) as gone:
            return jsonify(measured("explain-code", service.explain_code(code, model_of(body), gone)))

    return app
