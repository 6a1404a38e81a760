"""The one seam between the worker and any LLM: ``LLMClient.chat``.

Adapters (``worker.llm_ollama.OllamaLLM``, ``worker.llm_openai.OpenAICompatLLM``) translate
their transport's failures into the error tree once:
connection refused/reset -> ``LLMUnavailable`` (503), read timeout -> ``LLMTimeout`` (504),
unknown model -> ``ModelNotFound`` (404), any other error reply -> ``LLMError`` (502).
``FakeLLM`` is the shipped fake for tests of everything above the adapters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from common.errors import ModelNotFound

Message = Mapping[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


@dataclass(frozen=True)
class Completion:
    """One finished LLM answer with the model's own token counts."""

    text: str
    model: str
    prompt_tokens: int = 0
    response_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.response_tokens


class LLMClient(Protocol):
    """What the worker needs from an LLM."""

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        json_schema: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """Run one chat completion; raise from ``common.errors`` on failure.

        ``json_schema`` asks for structured output (Ollama's ``format``); when ``cancel``
        is set while the answer streams in, stop reading and raise ``ClientGone``.
        """
        ...

    def list_models(self) -> list[str]:
        """Names of the installed models (e.g. ``codellama:13b``)."""
        ...


Responder = Callable[[str, Sequence[Message]], str]


@dataclass
class FakeLLM:
    """An in-process LLM for tests: answers with ``responder(model, messages)``.

    ``calls`` records every request; ``models`` is what ``list_models`` returns.
    A responder may raise any ``common.errors`` error to simulate failures.
    """

    responder: Responder
    models: list[str] = field(default_factory=lambda: ["codellama:13b"])
    calls: list[tuple[str, list[dict[str, str]]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def chat(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        json_schema: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> Completion:
        with self._lock:
            self.calls.append((model, [dict(m) for m in messages]))
        if self.models and model not in self.models:
            raise ModelNotFound(model)
        text = self.responder(model, messages)
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        return Completion(text=text, model=model, prompt_tokens=prompt_tokens, response_tokens=len(text.split()))

    def list_models(self) -> list[str]:
        return list(self.models)
