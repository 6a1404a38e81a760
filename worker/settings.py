"""Every setting of the worker, declared once, read from the environment once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from common.contract import DEFAULT_MODEL, ENGINES

LLM_APIS = ("ollama", "openai")


class SettingsError(ValueError):
    """A setting has a value the service cannot run with; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class WorkerSettings:
    """Worker configuration; ``from_env()`` reads it, ``__post_init__`` checks it."""

    port: int = 5000
    llm_api: str = "ollama"  # LLM_API: ollama (native API) | openai (OpenAI-compatible chat API)
    llm_url: str = "http://127.0.0.1:11434"  # OLLAMA_HOST (also the base URL for LLM_API=openai)
    llm_api_key: str | None = None  # LLM_API_KEY, sent as a bearer token to OpenAI-compatible servers
    llm_timeout_s: float = 600.0  # LLM_TIMEOUT (alias TIMEOUT): one LLM call's read timeout
    llm_max_tokens: int | None = None  # LLM_MAX_TOKENS: cap on one answer's tokens (unset: the model's own)
    default_model: str = DEFAULT_MODEL  # DEFAULT_MODEL
    default_engine: str = "hybrid"  # DEFAULT_ENGINE: rules | llm | hybrid
    syntax_check: bool = True  # SYNTAX_CHECK: run ansible-playbook --syntax-check on every playbook
    slots: int = 1  # WORKER_SLOTS: LLM jobs run at once (one GPU: 1)
    max_queue: int = 100  # MAX_QUEUE: jobs that may wait for a slot; beyond it 503
    queue_timeout_s: float = 3600.0  # QUEUE_TIMEOUT: longest wait for a slot before 503
    generate_attempts: int = 3  # GENERATE_ATTEMPTS: asks of the model until the playbook is valid
    models_refresh_s: float = 30.0  # MODELS_REFRESH: how often the installed-model list is refreshed
    max_content_length: int = 10 * 1024 * 1024  # MAX_CONTENT_LENGTH in bytes
    extra_threads: int = 8  # threads beyond slots + queue, so status calls never starve
    web_root: str = field(default_factory=lambda: os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web"))

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise SettingsError(f"PORT must be between 1 and 65535, got {self.port}")
        if self.llm_api not in LLM_APIS:
            raise SettingsError(f"LLM_API must be one of {', '.join(LLM_APIS)}, got {self.llm_api!r}")
        if self.default_engine not in ENGINES:
            raise SettingsError(f"DEFAULT_ENGINE must be one of {', '.join(ENGINES)}, got {self.default_engine!r}")
        if self.slots < 1:
            raise SettingsError(f"WORKER_SLOTS must be at least 1, got {self.slots}")
        if not self.llm_url.startswith(("http://", "https://")):
            raise SettingsError(f"OLLAMA_HOST must be an http(s) URL, got {self.llm_url!r}")

    @property
    def threads(self) -> int:
        """Server threads: every running and waiting job holds one, plus spares for status calls."""
        return self.slots + self.max_queue + self.extra_threads

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "WorkerSettings":
        env = os.environ if env is None else env
        llm_url = env.get("OLLAMA_HOST", "").strip() or cls.llm_url
        if "://" not in llm_url:  # Ollama accepts OLLAMA_HOST=host:port
            llm_url = "http://" + llm_url
        timeout_default = _float(env, "TIMEOUT", cls.llm_timeout_s, minimum=1)
        return cls(
            port=_int(env, "PORT", cls.port, minimum=1),
            llm_api=_choice(env, "LLM_API", cls.llm_api, LLM_APIS),
            llm_url=llm_url.rstrip("/"),
            llm_api_key=env.get("LLM_API_KEY") or None,
            llm_timeout_s=_float(env, "LLM_TIMEOUT", timeout_default, minimum=1),
            llm_max_tokens=_int(env, "LLM_MAX_TOKENS", 0, minimum=0) or None,
            default_model=env.get("DEFAULT_MODEL", "").strip() or cls.default_model,
            default_engine=_choice(env, "DEFAULT_ENGINE", cls.default_engine, ENGINES),
            syntax_check=_choice(env, "SYNTAX_CHECK", "1", ("1", "0", "true", "false", "yes", "no")) in ("1", "true", "yes"),
            slots=_int(env, "WORKER_SLOTS", cls.slots, minimum=1),
            max_queue=_int(env, "MAX_QUEUE", cls.max_queue),
            queue_timeout_s=_float(env, "QUEUE_TIMEOUT", cls.queue_timeout_s, minimum=1),
            generate_attempts=_int(env, "GENERATE_ATTEMPTS", cls.generate_attempts, minimum=1),
            models_refresh_s=_float(env, "MODELS_REFRESH", cls.models_refresh_s, minimum=1),
            max_content_length=_int(env, "MAX_CONTENT_LENGTH", cls.max_content_length, minimum=1024),
        )
