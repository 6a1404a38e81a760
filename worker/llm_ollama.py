"""``OllamaLLM``: the ``LLMClient`` over Ollama's native API, through the official client.

What ollama-python 0.6.3 raises (it wraps httpx) and what we make of it, once:

    ollama.ResponseError 404 "model ... not found"   -> ModelNotFound(model)
    ollama.ResponseError 503 (server busy)           -> LLMUnavailable, Ollama's message
    ollama.ResponseError other (incl. mid-stream)    -> LLMError, Ollama's message
    ConnectionError (non-streamed calls: list())     -> LLMUnavailable
    httpx.ConnectError / ConnectTimeout (streamed)   -> LLMUnavailable  (refused, DNS, no route)
    httpx.ReadError / RemoteProtocolError / ...      -> LLMUnavailable  (reset, died mid-answer)
    httpx.ReadTimeout / WriteTimeout / PoolTimeout   -> LLMTimeout
    malformed reply (JSON/validation ValueError)     -> LLMError

The streamed ``chat`` sends the request lazily on the first ``next()``, so every failure
surfaces while iterating; the non-streamed calls raise the builtin ``ConnectionError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

import httpx
import ollama

from common.errors import ClientGone, LLMError, LLMTimeout, LLMUnavailable, ModelNotFound
from worker.llm import Completion, Message

log = logging.getLogger(__name__)


class OllamaLLM:
    """``LLMClient`` for one Ollama server (``host`` as in ``OLLAMA_HOST``).

    ``timeout_s`` bounds each wait for the next bytes of an answer (a read timeout), so a
    long answer that keeps streaming never times out while a stalled one does;
    ``connect_timeout_s`` bounds reaching the server. ``options`` are Ollama model options
    (``temperature``, ``num_ctx``, ``num_predict``...), ``keep_alive`` how long Ollama keeps
    the model loaded.
    """

    def __init__(
        self,
        host: str,
        timeout_s: float,
        *,
        connect_timeout_s: float = 5.0,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | float | None = None,
    ) -> None:
        self.host = host
        self.timeout_s = timeout_s
        self.options = dict(options or {})
        self.keep_alive = keep_alive
        timeout = httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s))
        self._client = ollama.Client(host=host, timeout=timeout)

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        json_schema: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """Stream one chat answer; stop and raise ``ClientGone`` as soon as ``cancel`` is set.

        design: cancel is checked before the request and between streamed pieces (Ollama
        sends one per token), and closing the stream generator closes the HTTP response,
        which makes Ollama abort the generation. A server that sends nothing at all is
        bounded by ``timeout_s``, not by ``cancel``.
        """
        if cancel is not None and cancel.is_set():
            raise ClientGone(f"client left before the {model} job started")
        stream: Iterator[ollama.ChatResponse] | None = None
        parts: list[str] = []
        try:
            stream = self._client.chat(
                model=model,
                messages=[dict(m) for m in messages],
                stream=True,
                format=dict(json_schema) if json_schema is not None else None,
                options=self.options or None,
                keep_alive=self.keep_alive,
            )
            for chunk in stream:
                if cancel is not None and cancel.is_set():
                    log.info("client gone: stopped reading %s after %d pieces", model, len(parts))
                    raise ClientGone(f"client left while {model} was answering; generation stopped")
                parts.append(chunk.message.content or "")
                if chunk.done:
                    return Completion(
                        text="".join(parts),
                        model=chunk.model or model,
                        prompt_tokens=chunk.prompt_eval_count or 0,
                        response_tokens=chunk.eval_count or 0,
                    )
        except ClientGone:
            raise
        except Exception as exc:  # translated once, below
            self._raise_mapped(exc, model)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        raise LLMError(f"Ollama at {self.host} ended the {model} answer before it was done; try again")

    def list_models(self) -> list[str]:
        """Names of the models installed on this Ollama (``/api/tags``)."""
        try:
            listing = self._client.list()
        except Exception as exc:
            self._raise_mapped(exc, None)
        return [m.model for m in listing.models if m.model]

    def _raise_mapped(self, exc: Exception, model: str | None) -> NoReturn:
        """Raise the ``common.errors`` error for ``exc``; anything unknown propagates."""
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404 and model and "not found" in str(exc.error):
                raise ModelNotFound(model) from exc
            if exc.status_code == 503:
                raise LLMUnavailable(f"Ollama at {self.host} is busy: {exc.error}") from exc
            raise LLMError(f"Ollama at {self.host} failed: {exc.error}") from exc
        if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
            raise LLMTimeout(
                f"Ollama at {self.host} sent nothing for {self.timeout_s:g}s"
                f"{f' while running {model}' if model else ''}; the model may be too slow or stuck"
            ) from exc
        if isinstance(exc, (ConnectionError, httpx.TransportError)):
            raise LLMUnavailable(
                f"cannot reach Ollama at {self.host} ({type(exc).__name__}: {exc or 'connection lost'}); "
                "start Ollama (ollama serve) or set OLLAMA_HOST to where it runs"
            ) from exc
        if isinstance(exc, ValueError):
            raise LLMError(f"Ollama at {self.host} sent a malformed reply: {exc}") from exc
        raise exc
