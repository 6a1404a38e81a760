"""``OpenAICompatLLM``: the ``LLMClient`` over any OpenAI-compatible chat API, with ``requests``.

Speaks ``POST {base}/v1/chat/completions`` (streamed SSE, usage asked for with
``stream_options.include_usage``) and ``GET {base}/v1/models`` -- what Ollama's ``/v1``,
llama.cpp's server (``worker.local_llm``), vLLM and others serve. Failures map once:

    connection refused / reset / DNS, died mid-answer    -> LLMUnavailable
    requests.ReadTimeout, or a stall mid-stream          -> LLMTimeout
      (requests reports the latter as ConnectionError(ReadTimeoutError))
    404 naming the model                                 -> ModelNotFound(model)
    503 (loading the model, busy)                        -> LLMUnavailable with its message
    any other error status, or an error event mid-stream -> LLMError with the server's message
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

import requests
from urllib3.exceptions import ReadTimeoutError

from common.errors import ClientGone, LLMError, LLMTimeout, LLMUnavailable, ModelNotFound
from worker.llm import Completion, Message

log = logging.getLogger(__name__)


def _error_message(response: requests.Response) -> str:
    """The server's own words from an error reply (OpenAI, Ollama or plain-text shapes)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


class OpenAICompatLLM:
    """``LLMClient`` for an OpenAI-compatible server at ``base_url`` (with or without ``/v1``).

    ``timeout_s`` bounds each wait for the next bytes of the answer (read timeout);
    ``max_tokens`` and ``temperature`` are sent when given. One ``requests.Session`` per
    thread keeps connections alive without sharing a session across threads.
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float,
        api_key: str | None = None,
        *,
        connect_timeout_s: float = 5.0,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.base_url = base[: -len("/v1")] if base.endswith("/v1") else base
        self.timeout_s = timeout_s
        self.timeout = (min(connect_timeout_s, timeout_s), timeout_s)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._headers = {"Accept": "application/json, text/event-stream"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._local = threading.local()

    @property
    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self._headers)
        return session

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        json_schema: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """Stream one chat completion; stop and raise ``ClientGone`` once ``cancel`` is set.

        design: cancel is checked before the request and between SSE events; leaving the
        ``with`` block closes the connection, which tells the server to stop generating.
        """
        if cancel is not None and cancel.is_set():
            raise ClientGone(f"client left before the {model} job started")
        payload: dict[str, Any] = {
            "model": model,
            "messages": [dict(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if json_schema is not None:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": dict(json_schema)},
            }
        if self.max_tokens is not None:
            payload["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        url = f"{self.base_url}/v1/chat/completions"
        try:
            with self._session.post(url, json=payload, stream=True, timeout=self.timeout) as response:
                if response.status_code >= 400:
                    self._raise_status(response, model)
                return self._read_stream(response, model, cancel)
        except (ClientGone, LLMError, ModelNotFound):
            raise
        except requests.RequestException as exc:
            self._raise_transport(exc, model)

    def _read_stream(self, response: requests.Response, model: str, cancel: threading.Event | None) -> Completion:
        parts: list[str] = []
        usage: Mapping[str, Any] = {}
        served_model = model
        finished = False
        for data in self._events(response):
            if cancel is not None and cancel.is_set():
                log.info("client gone: stopped reading %s after %d pieces", model, len(parts))
                raise ClientGone(f"client left while {model} was answering; generation stopped")
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
            except ValueError as exc:
                raise LLMError(f"{self.base_url} sent a malformed event: {data[:200]!r}") from exc
            if not isinstance(event, dict):
                raise LLMError(f"{self.base_url} sent a malformed event: {data[:200]!r}")
            if "error" in event:
                error = event["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                raise LLMError(f"{self.base_url} failed while answering with {model}: {message}")
            served_model = str(event.get("model") or served_model)
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    parts.append(piece)
                finished = finished or bool(choice.get("finish_reason"))
            if event.get("usage"):
                usage = event["usage"]
        else:
            if not finished:
                raise LLMError(f"{self.base_url} ended the {model} answer before it was done; try again")
        return Completion(
            text="".join(parts),
            model=served_model,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            response_tokens=int(usage.get("completion_tokens") or 0),
        )

    @staticmethod
    def _events(response: requests.Response) -> Iterator[str]:
        """The ``data:`` payloads of an SSE stream (one line each, as OpenAI servers send)."""
        for line in response.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                yield line[len("data:") :].strip()

    def list_models(self) -> list[str]:
        """Model ids from ``GET /v1/models``."""
        try:
            response = self._session.get(f"{self.base_url}/v1/models", timeout=self.timeout)
        except requests.RequestException as exc:
            self._raise_transport(exc, None)
        if response.status_code >= 400:
            self._raise_status(response, None)
        try:
            return [str(item["id"]) for item in response.json()["data"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise LLMError(f"{self.base_url}/v1/models sent a malformed list: {exc}") from exc

    def _raise_status(self, response: requests.Response, model: str | None) -> NoReturn:
        message = _error_message(response)
        if response.status_code == 404 and model and "model" in message.lower():
            raise ModelNotFound(model)
        if response.status_code == 503:
            raise LLMUnavailable(f"{self.base_url} is not ready: {message}")
        raise LLMError(f"{self.base_url} answered {response.status_code}: {message}")

    def _raise_transport(self, exc: requests.RequestException, model: str | None) -> NoReturn:
        stalled = isinstance(exc, requests.ConnectionError) and any(isinstance(a, ReadTimeoutError) for a in exc.args)
        if isinstance(exc, requests.ReadTimeout) or stalled:
            raise LLMTimeout(
                f"{self.base_url} sent nothing for {self.timeout_s:g}s"
                f"{f' while running {model}' if model else ''}; the model may be too slow or stuck"
            ) from exc
        if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            raise LLMUnavailable(
                f"cannot reach the LLM server at {self.base_url} ({type(exc).__name__}); "
                "start it or point the worker at a running one"
            ) from exc
        raise LLMError(f"request to {self.base_url} failed: {exc}") from exc
