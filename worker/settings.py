"""Every setting of the worker, declared once (env name, default, doc), read from the environment
once, with the parsers and the ``ConfigError`` the balancer uses (``common.config``).

A malformed value is a ``ConfigError`` naming the setting; ``app.py`` prints it and exits with
status 2. The README's worker table is checked against ``describe()`` by a test.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common.config import (
    ConfigError,
    at_least,
    describe,
    one_of,
    parse_float,
    parse_int,
    parse_str,
    read_env,
    setting,
)
from common.contract import DEFAULT_MODEL, ENGINES

LLM_APIS = ("ollama", "openai")

SettingsError = ConfigError  # the worker's former name for it

__all__ = ["LLM_APIS", "ConfigError", "SettingsError", "WorkerSettings"]


def _llm_url(name: str, value: Any) -> str:
    """An http(s) base URL; Ollama's own ``OLLAMA_HOST=host:port`` gets ``http://``."""
    url = parse_str(name, value)
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def _max_tokens(name: str, value: Any) -> int | None:
    return at_least(0, parse_int)(name, value) or None


def _web_root() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")


@dataclass(frozen=True)
class WorkerSettings:
    """Worker configuration; ``from_env()`` reads it, ``__post_init__`` checks it."""

    port: int = setting("PORT", 5000, "listen port", parse=at_least(1, parse_int))
    llm_api: str = setting("LLM_API", "ollama", "`ollama` (native API, official client) or `openai` "
                           "(OpenAI-compatible chat API: Ollama, llama.cpp, vLLM)", parse=one_of(LLM_APIS))
    llm_url: str = setting("OLLAMA_HOST", "http://127.0.0.1:11434",
                           "the LLM's URL (also the base URL with `LLM_API=openai`)", parse=_llm_url)
    llm_api_key: str | None = setting("LLM_API_KEY", None, "bearer token for OpenAI-compatible servers",
                                      parse=parse_str, repr=False)
    llm_timeout_s: float = setting("LLM_TIMEOUT", 600.0, "seconds one LLM call may take",
                                   parse=at_least(1, parse_float), alias="TIMEOUT")
    llm_max_tokens: int | None = setting("LLM_MAX_TOKENS", None, "cap on the tokens of one answer "
                                         "(Ollama `num_predict`, OpenAI `max_tokens`)", parse=_max_tokens)
    default_model: str = setting("DEFAULT_MODEL", DEFAULT_MODEL, "model when a request names none")
    default_engine: str = setting("DEFAULT_ENGINE", "hybrid", "engine when a request names none: `rules`, `llm` or "
                                  "`hybrid`", parse=one_of(ENGINES))
    syntax_check: bool = setting("SYNTAX_CHECK", True, "run `ansible-playbook --syntax-check` on every playbook (0: off)")
    slots: int = setting("WORKER_SLOTS", 1, "LLM jobs run at once", parse=at_least(1, parse_int))
    max_queue: int = setting("MAX_QUEUE", 100, "jobs that may wait; beyond it 503", parse=at_least(0, parse_int))
    queue_timeout_s: float = setting("QUEUE_TIMEOUT", 3600.0, "longest wait for a slot", parse=at_least(1, parse_float))
    generate_attempts: int = setting("GENERATE_ATTEMPTS", 3, "asks of the model until its playbook is valid",
                                     parse=at_least(1, parse_int))
    models_refresh_s: float = setting("MODELS_REFRESH", 30.0, "seconds between model-list refreshes",
                                      parse=at_least(1, parse_float))
    max_content_length: int = setting("MAX_CONTENT_LENGTH", 10 * 1024 * 1024, "largest request body in bytes",
                                      parse=at_least(1024, parse_int))
    worker_token: str = setting("WORKER_TOKEN", "", "a shared secret: every request but `/healthz` and `/metrics` "
                                "must carry it as `X-Worker-Token` (the balancers' `WORKER_TOKEN`), else 401",
                                repr=False)
    # not read from the environment
    extra_threads: int = 8  # threads beyond slots + queue, so status calls never starve
    web_root: str = field(default_factory=_web_root)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"PORT must be between 1 and 65535, not {self.port!r}")
        if self.llm_api not in LLM_APIS:
            raise ConfigError(f"LLM_API must be one of {', '.join(LLM_APIS)}, not {self.llm_api!r}")
        if self.default_engine not in ENGINES:
            raise ConfigError(f"DEFAULT_ENGINE must be one of {', '.join(ENGINES)}, not {self.default_engine!r}")
        if self.slots < 1:
            raise ConfigError(f"WORKER_SLOTS must be >= 1, not {self.slots!r}")
        if not self.llm_url.startswith(("http://", "https://")):
            raise ConfigError(f"OLLAMA_HOST must be an http(s) URL, not {self.llm_url!r}")
        if not self.default_model.strip():
            raise ConfigError("DEFAULT_MODEL is empty")

    @property
    def threads(self) -> int:
        """Server threads: every running and waiting job holds one, plus spares for status calls."""
        return self.slots + self.max_queue + self.extra_threads

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        """Settings from ``env`` (default ``os.environ``); unset or empty variables keep the default."""
        env = os.environ if env is None else env
        return cls(**read_env(cls, env))

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(env name, default, doc) of every setting, for the README and its test."""
        return describe(cls)
