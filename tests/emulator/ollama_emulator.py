"""An emulator of Ollama's documented HTTP API, run as a real process for integration tests.

    python -m tests.emulator.ollama_emulator --port 11434 [--models a,b] [--delay-s 0.5]

Endpoints (shapes follow https://github.com/ollama/ollama/blob/main/docs/api.md):

- ``GET /`` and ``HEAD /``: ``Ollama is running`` (text/plain).
- ``GET /api/version``: ``{"version": "0.12.3"}``.
- ``GET /api/tags``: the configured models (``name``, ``model``, ``modified_at``, ``size``,
  ``digest``, ``details``).
- ``POST /api/show`` ``{"model": m}``: ``modelfile``, ``parameters``, ``template``, ``details``,
  ``model_info``, ``capabilities``; unknown -> 404 ``{"error": "model 'm' not found"}``.
- ``GET /api/ps``: the models used by a chat/generate call since the last reset.
- ``POST /api/chat`` and ``POST /api/generate``: ``stream`` is true by default and answers
  NDJSON, one line per word-sized piece (``message.content`` / ``response``), then a final
  line with ``done: true``, ``done_reason: "stop"``, ``total_duration``, ``load_duration``,
  ``prompt_eval_count``, ``prompt_eval_duration``, ``eval_count``, ``eval_duration`` (all
  durations in ns; ``/api/generate`` adds ``context``). ``stream: false`` answers one JSON
  object with the whole text and the same counters. Empty ``messages`` / ``prompt`` only
  "loads" the model: one object with ``done_reason: "load"``.
- ``POST /v1/chat/completions`` (OpenAI-compatible; ``stream: true`` gives SSE ``data:``
  chunks, then a usage chunk when ``stream_options.include_usage``, then ``data: [DONE]``)
  and ``GET /v1/models``.

Errors, as Ollama words them: body not JSON -> 400 ``{"error": "<parse error>"}`` (empty body:
``"missing request body"``); no model -> 400 ``{"error": "model is required"}``; unknown model
-> 404 ``{"error": "model \\"m\\" not found, try pulling it first"}`` (the ``/v1`` endpoints wrap
messages as ``{"error": {"message", "type", "param", "code"}}``, type ``not_found_error`` for
404, ``invalid_request_error`` for 400, else ``api_error``); unknown path -> 404
``404 page not found`` (text/plain, like gin). A model name without a tag also matches
``<name>:latest``, as in Ollama.

Default answers (tests of the worker rely on exactly this):

- Token counts: ``prompt_eval_count`` is the number of whitespace-separated words in all
  prompt messages' contents (``/api/generate``: ``system`` + ``prompt``); ``eval_count`` is
  the number of whitespace-separated words of the answer. ``/v1`` ``usage`` uses the same.
- Playbook request: if the LAST user message contains a fenced code block tagged
  ```` ```sh ````, ```` ```bash ```` or ```` ```shell ```` (tag matched case-insensitively),
  the LAST such block is converted. The answer is the sentence
  ``Here is the Ansible playbook converted from your shell commands:``, a blank line, a
  ```` ```yaml ```` fence holding ``yaml.safe_dump`` of one play
  ``{name: Converted playbook, hosts: all, become: true, tasks: [...]}`` with ONE task per
  non-blank line of the block that does not start with ``#`` once stripped, in order,
  ``{name: <line stripped>, ansible.builtin.shell: <line as written>}``, the closing fence, a
  blank line and ``Review each task before running it against your hosts.``
- Anything else: ``Explanation: you asked about "<first non-empty line of the last user
  message, stripped>". This is the emulator's canned explanation.``
- With ``format`` (``"json"`` or a JSON schema; on ``/v1``: ``response_format`` of type
  ``json_object`` or ``json_schema``) the answer is instead a JSON object:
  ``{"playbook": [<the play above>]}`` for a playbook request, else ``{"text": "<the
  explanation above>"}``.

Control API for tests (JSON in, JSON out):

- ``POST /_emulator/reset``: forget queued replies, recorded requests, stats and loaded models;
  restore the start-up models and delay; release hanging requests (they answer 503).
- ``POST /_emulator/config`` ``{"delay_s": float, "models": [str, ...]}`` (either key): the
  delay before answering; a streamed answer spreads it evenly over its pieces.
- ``POST /_emulator/replies`` ``{"replies": [...]}``: queue scripted replies, consumed FIFO by
  the next chat/generate/completions calls that pass validation (body, model), instead of the
  default answer: ``{"content": "text"}`` (optionally ``"delay_s": 2`` overriding the
  configured delay), ``{"status": 500, "error": "msg"}`` (answered before any streaming, as
  Ollama does), ``{"hang": true}`` (accept, never answer until reset or exit).
- ``GET /_emulator/requests``: the JSON bodies of every chat/generate/completions request
  received (including rejected ones that parsed), in order.
- ``GET /_emulator/stats``: ``{"in_flight": n, "max_in_flight": n, "served": n, "cancelled": n}``
  over generation requests that passed validation: ``served`` finished sending their reply,
  ``cancelled`` lost their client mid-answer.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import re
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any

import yaml
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

log = logging.getLogger(__name__)

VERSION = "0.12.3"
DEFAULT_MODELS: tuple[str, ...] = ("codellama:13b", "llama3.1:8b")
PLAYBOOK_INTRO = "Here is the Ansible playbook converted from your shell commands:"
PLAYBOOK_OUTRO = "Review each task before running it against your hosts."
_SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell)[ \t]*\r?\n(.*?)^```[ \t]*\r?$", re.M | re.S | re.I)
_PIECE = re.compile(r"\s*\S+\s*|\s+")


# --- default answers (pure) -------------------------------------------------------------


def count_words(text: str) -> int:
    """Whitespace-separated words: the emulator's token count."""
    return len(text.split())


def last_user_message(messages: Sequence[Mapping[str, Any]]) -> str:
    """Content of the last message with role ``user`` ('' when there is none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def shell_block(text: str) -> str | None:
    """Body of the LAST ```sh/```bash/```shell fenced block in ``text``, if any."""
    blocks = _SHELL_BLOCK.findall(text)
    return blocks[-1] if blocks else None


def playbook_for(script: str) -> list[dict[str, Any]]:
    """One play with one ``ansible.builtin.shell`` task per command line of ``script``."""
    tasks = [
        {"name": line.strip(), "ansible.builtin.shell": line}
        for line in script.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return [{"name": "Converted playbook", "hosts": "all", "become": True, "tasks": tasks}]


def explanation_for(request_text: str) -> str:
    first = next((line.strip() for line in request_text.splitlines() if line.strip()), "")
    return f'Explanation: you asked about "{first}". This is the emulator\'s canned explanation.'


def default_answer(request_text: str, *, as_json: bool) -> str:
    """The canned answer to the last user message (see the module docstring)."""
    script = shell_block(request_text)
    if script is None:
        text = explanation_for(request_text)
        return json.dumps({"text": text}) if as_json else text
    plays = playbook_for(script)
    if as_json:
        return json.dumps({"playbook": plays})
    body = yaml.safe_dump(plays, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return f"{PLAYBOOK_INTRO}\n\n```yaml\n{body}```\n\n{PLAYBOOK_OUTRO}"


def split_pieces(text: str) -> list[str]:
    """Word-sized pieces whose concatenation is exactly ``text``."""
    return _PIECE.findall(text)


# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What one generation request answers: text, an error, or nothing (hang)."""

    content: str = ""
    delay_s: float = 0.0
    status: int = 200
    error: str = ""
    hang: bool = False

    @classmethod
    def scripted(cls, spec: Mapping[str, Any], default_delay_s: float) -> "Reply":
        if spec.get("hang"):
            return cls(hang=True)
        if "status" in spec or "error" in spec:
            return cls(status=int(spec.get("status", 500)), error=str(spec.get("error", "internal error")))
        return cls(content=str(spec.get("content", "")), delay_s=float(spec.get("delay_s", default_delay_s)))


@dataclass
class Stats:
    in_flight: int = 0
    max_in_flight: int = 0
    served: int = 0
    cancelled: int = 0


@dataclass
class State:
    """Everything the control API can change; guarded by ``Emulator.lock``."""

    models: list[str]
    delay_s: float
    replies: deque[dict[str, Any]] = field(default_factory=deque)
    requests: list[Any] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    loaded: dict[str, float] = field(default_factory=dict)  # model -> last use (epoch s)
    epoch: int = 0
    release: threading.Event = field(default_factory=threading.Event)


class ApiFailure(Exception):
    """An error reply decided while validating a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(model: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, model).hex * 2


def _details(model: str) -> dict[str, Any]:
    family = re.split(r"[:\d]", model, maxsplit=1)[0] or "llama"
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": "13B" if "13b" in model else "8.0B",
        "quantization_level": "Q4_0",
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _openai_error(status: int, message: str) -> Response:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return _json({"error": {"message": message, "type": kind, "param": None, "code": None}}, status)


class Emulator:
    """The WSGI app: Ollama's API plus the ``/_emulator`` control API."""

    def __init__(self, models: Sequence[str] = DEFAULT_MODELS, delay_s: float = 0.0) -> None:
        self.initial_models = list(models)
        self.initial_delay_s = float(delay_s)
        self.lock = threading.Lock()
        self.state = State(models=list(models), delay_s=float(delay_s))
        self._ids = itertools.count(1)
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/"): lambda r: Response("Ollama is running", mimetype="text/plain"),
            ("GET", "/api/version"): lambda r: _json({"version": VERSION}),
            ("GET", "/api/tags"): self.tags,
            ("POST", "/api/show"): self.show,
            ("GET", "/api/ps"): self.ps,
            ("POST", "/api/chat"): self.chat,
            ("POST", "/api/generate"): self.generate,
            ("POST", "/v1/chat/completions"): self.openai_chat,
            ("GET", "/v1/models"): self.openai_models,
            ("POST", "/_emulator/reset"): self.control_reset,
            ("POST", "/_emulator/config"): self.control_config,
            ("POST", "/_emulator/replies"): self.control_replies,
            ("GET", "/_emulator/requests"): self.control_requests,
            ("GET", "/_emulator/stats"): self.control_stats,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        method = "GET" if request.method == "HEAD" else request.method
        handler = self.routes.get((method, request.path.rstrip("/") or "/"))
        if handler is None:
            response = Response("404 page not found", status=404, mimetype="text/plain")
        else:
            response = handler(request)
        return response(environ, start_response)

    # --- model catalogue ---------------------------------------------------------------

    def _resolve(self, name: str) -> str | None:
        """The installed model ``name`` refers to (``x`` matches ``x:latest``), or None."""
        with self.lock:
            models = list(self.state.models)
        for model in models:
            if name == model or f"{name}:latest" == model or name == f"{model}:latest":
                return model
        return None

    def tags(self, request: Request) -> Response:
        with self.lock:
            models = list(self.state.models)
        return _json(
            {
                "models": [
                    {
                        "name": m,
                        "model": m,
                        "modified_at": "2025-01-01T00:00:00.000000Z",
                        "size": 7365960935,
                        "digest": _digest(m),
                        "details": _details(m),
                    }
                    for m in models
                ]
            }
        )

    def show(self, request: Request) -> Response:
        try:
            body = self._body(request)
            name = str(body.get("model") or body.get("name") or "")
            if not name:
                raise ApiFailure(400, "model is required")
        except ApiFailure as failure:
            return _json({"error": failure.message}, failure.status)
        model = self._resolve(name)
        if model is None:
            return _json({"error": f"model '{name}' not found"}, 404)
        details = _details(model)
        return _json(
            {
                "license": "emulated",
                "modelfile": f"# Modelfile generated by the Ollama emulator\nFROM {model}\n",
                "parameters": 'stop "<|im_end|>"',
                "template": "{{ .Prompt }}",
                "details": details,
                "model_info": {
                    "general.architecture": details["family"],
                    "general.parameter_count": 13_000_000_000 if "13b" in model else 8_000_000_000,
                    f"{details['family']}.context_length": 4096,
                },
                "capabilities": ["completion"],
                "modified_at": "2025-01-01T00:00:00.000000Z",
            }
        )

    def ps(self, request: Request) -> Response:
        with self.lock:
            loaded = dict(self.state.loaded)
        return _json(
            {
                "models": [
                    {
                        "name": m,
                        "model": m,
                        "size": 7365960935,
                        "digest": _digest(m),
                        "details": _details(m),
                        "expires_at": (datetime.fromtimestamp(used, timezone.utc) + timedelta(minutes=5)).isoformat(),
                        "size_vram": 7365960935,
                        "context_length": 4096,
                    }
                    for m, used in loaded.items()
                ]
            }
        )

    def openai_models(self, request: Request) -> Response:
        with self.lock:
            models = list(self.state.models)
        data = [{"id": m, "object": "model", "created": 1735689600, "owned_by": "library"} for m in models]
        return _json({"object": "list", "data": data})

    # --- generation ----------------------------------------------------------------------

    def _body(self, request: Request) -> dict[str, Any]:
        raw = request.get_data()
        if not raw.strip():
            raise ApiFailure(400, "missing request body")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiFailure(400, f"invalid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiFailure(400, "json: cannot unmarshal into Go value of type api.Request")
        return body

    def _admit(self, request: Request) -> tuple[dict[str, Any], str]:
        """Parse, record and validate a generation request; return (body, model)."""
        body = self._body(request)
        with self.lock:
            self.state.requests.append(body)
        name = body.get("model")
        if not isinstance(name, str) or not name:
            raise ApiFailure(400, "model is required")
        model = self._resolve(name)
        if model is None:
            raise ApiFailure(404, f'model "{name}" not found, try pulling it first')
        return body, model

    def _reply(self, request_text: str, as_json: bool) -> Reply:
        """The next scripted reply, else the default answer."""
        with self.lock:
            spec = self.state.replies.popleft() if self.state.replies else None
            delay_s = self.state.delay_s
        if spec is not None:
            return Reply.scripted(spec, delay_s)
        return Reply(content=default_answer(request_text, as_json=as_json), delay_s=delay_s)

    def _run(
        self,
        model: str,
        reply: Reply,
        stream: bool,
        render_piece: Callable[[str], bytes],
        render_final: Callable[[str, dict[str, int]], bytes],
        render_error: Callable[[int, str], Response],
        prompt_tokens: int,
        mimetype: str,
    ) -> Response:
        """Serve ``reply`` (stream or one object), keeping ``stats`` and honouring hang/delay.

        design: every generation goes through one generator so in-flight accounting ends
        in its ``finally`` whatever happens (answer sent, client gone, reset releasing a hang).
        werkzeug sends the headers with the first yielded bytes, so hangs and delays before
        the first piece look to the client like a slow model that has not answered yet.
        Stats belong to an epoch: a request started before a reset never touches new stats.
        """
        with self.lock:
            epoch, release = self.state.epoch, self.state.release
            self.state.loaded[model] = time.time()
            stats = self.state.stats
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)

        def finish(outcome: str) -> None:
            with self.lock:
                if self.state.epoch != epoch:
                    return
                self.state.stats.in_flight -= 1
                if outcome == "served":
                    self.state.stats.served += 1
                else:
                    self.state.stats.cancelled += 1

        started = time.monotonic_ns()

        def counters(pieces_ns: int) -> dict[str, int]:
            total = time.monotonic_ns() - started
            return {
                "total_duration": max(total, 1),
                "load_duration": 1_000_000,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": max(total - pieces_ns, 1) // 2,
                "eval_count": count_words(reply.content),
                "eval_duration": max(pieces_ns, 1),
            }

        if reply.hang:
            release.wait()
            finish("served")
            return render_error(503, "emulator reset while the request was hanging")
        if reply.error:
            finish("served")
            return render_error(reply.status, reply.error)
        if not stream:
            release.wait(reply.delay_s)
            body = render_final(reply.content, counters(0))
            finish("served")
            return Response(body, mimetype="application/json")

        pieces = split_pieces(reply.content) or [""]
        pause_s = reply.delay_s / len(pieces)

        def generate() -> Iterator[bytes]:
            outcome = "cancelled"
            t0 = time.monotonic_ns()
            try:
                for piece in pieces:
                    if pause_s:
                        release.wait(pause_s)
                    yield render_piece(piece)
                yield render_final("", counters(time.monotonic_ns() - t0))
                outcome = "served"
            finally:
                finish(outcome)

        return Response(generate(), mimetype=mimetype)

    def chat(self, request: Request) -> Response:
        return self._ollama_generation(request, chat=True)

    def generate(self, request: Request) -> Response:
        return self._ollama_generation(request, chat=False)

    def _ollama_generation(self, request: Request, *, chat: bool) -> Response:
        try:
            body, model = self._admit(request)
            if chat:
                messages = body.get("messages") or []
                if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
                    raise ApiFailure(400, "messages must be a list of {role, content} objects")
                request_text = last_user_message(messages)
                prompt_tokens = sum(count_words(str(m.get("content") or "")) for m in messages)
                empty = not messages
            else:
                prompt = str(body.get("prompt") or "")
                request_text = prompt
                prompt_tokens = count_words(str(body.get("system") or "")) + count_words(prompt)
                empty = not prompt
        except ApiFailure as failure:
            return _json({"error": failure.message}, failure.status)

        def base(done: bool) -> dict[str, Any]:
            return {"model": body["model"], "created_at": _now_rfc3339(), "done": done}

        def content(text: str) -> dict[str, Any]:
            return {"message": {"role": "assistant", "content": text}} if chat else {"response": text}

        if empty:  # Ollama only loads the model
            with self.lock:
                self.state.loaded[model] = time.time()
            return _json({**base(True), **content(""), "done_reason": "load"})

        reply = self._reply(request_text, as_json=bool(body.get("format")))

        def piece(text: str) -> bytes:
            return (json.dumps({**base(False), **content(text)}) + "\n").encode()

        def final(text: str, numbers: dict[str, int]) -> bytes:
            line = {**base(True), **content(text), "done_reason": "stop", **numbers}
            if not chat:
                line["context"] = list(range(1, min(numbers["prompt_eval_count"] + numbers["eval_count"], 64) + 1))
            return (json.dumps(line) + "\n").encode()

        def error(status: int, message: str) -> Response:
            return _json({"error": message}, status)

        stream = body.get("stream", True) is not False
        return self._run(model, reply, stream, piece, final, error, prompt_tokens, "application/x-ndjson")

    def openai_chat(self, request: Request) -> Response:
        try:
            body, model = self._admit(request)
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
                raise ApiFailure(400, "[] is too short - 'messages'")
        except ApiFailure as failure:
            return _openai_error(failure.status, failure.message)
        response_format = body.get("response_format") or {}
        as_json = isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")
        reply = self._reply(last_user_message(messages), as_json=as_json)
        prompt_tokens = sum(count_words(str(m.get("content") or "")) for m in messages)
        ident = f"chatcmpl-{next(self._ids)}"
        created = int(time.time())
        stream = bool(body.get("stream", False))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def envelope(kind: str) -> dict[str, Any]:
            return {"id": ident, "object": kind, "created": created, "model": body["model"], "system_fingerprint": "fp_ollama"}

        def usage(numbers: dict[str, int]) -> dict[str, int]:
            p, c = numbers["prompt_eval_count"], numbers["eval_count"]
            return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

        def piece(text: str) -> bytes:
            chunk = {
                **envelope("chat.completion.chunk"),
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}],
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        def final(text: str, numbers: dict[str, int]) -> bytes:
            if not stream:
                return json.dumps(
                    {
                        **envelope("chat.completion"),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": usage(numbers),
                    }
                ).encode()
            last = {
                **envelope("chat.completion.chunk"),
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": "stop"}],
            }
            out = f"data: {json.dumps(last)}\n\n"
            if include_usage:
                out += f"data: {json.dumps({**envelope('chat.completion.chunk'), 'choices': [], 'usage': usage(numbers)})}\n\n"
            return (out + "data: [DONE]\n\n").encode()

        mimetype = "text/event-stream" if stream else "application/json"
        return self._run(model, reply, stream, piece, final, _openai_error, prompt_tokens, mimetype)

    # --- control API -----------------------------------------------------------------------

    def control_reset(self, request: Request) -> Response:
        with self.lock:
            self.state.release.set()
            self.state = State(
                models=list(self.initial_models), delay_s=self.initial_delay_s, epoch=self.state.epoch + 1
            )
        return _json({"status": "reset"})

    def control_config(self, request: Request) -> Response:
        try:
            body = self._body(request)
            delay_s = float(body["delay_s"]) if "delay_s" in body else None
            models = body.get("models")
            if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
                raise ApiFailure(400, "models must be a list of names")
        except (ApiFailure, TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        with self.lock:
            if delay_s is not None:
                self.state.delay_s = delay_s
            if models is not None:
                self.state.models = list(models)
            return _json({"delay_s": self.state.delay_s, "models": self.state.models})

    def control_replies(self, request: Request) -> Response:
        try:
            replies = self._body(request).get("replies")
            if not isinstance(replies, list) or not all(isinstance(r, dict) for r in replies):
                raise ApiFailure(400, "replies must be a list of objects")
        except ApiFailure as failure:
            return _json({"error": failure.message}, 400)
        with self.lock:
            self.state.replies.extend(replies)
            return _json({"queued": len(self.state.replies)})

    def control_requests(self, request: Request) -> Response:
        with self.lock:
            return _json(list(self.state.requests))

    def control_stats(self, request: Request) -> Response:
        with self.lock:
            s = self.state.stats
            return _json(
                {"in_flight": s.in_flight, "max_in_flight": s.max_in_flight, "served": s.served, "cancelled": s.cancelled}
            )


def serve(port: int, models: Sequence[str], delay_s: float, host: str = "127.0.0.1") -> None:
    """Serve the emulator until SIGTERM/SIGINT (thread per request, port reusable at once)."""
    server = make_server(host, port, Emulator(models, delay_s), threaded=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # werkzeug's serve_forever closes the socket on it

    signal.signal(signal.SIGTERM, stop)
    log.info("Ollama emulator on http://%s:%d serving %s", host, port, ", ".join(models))
    server.serve_forever()
    log.info("Ollama emulator on port %d stopped", port)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model names")
    parser.add_argument("--delay-s", type=float, default=0.0, help="delay before answering, in seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    serve(args.port, models, args.delay_s, args.host)


if __name__ == "__main__":
    main()
