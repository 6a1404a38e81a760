"""The installed-model list of the worker's LLM, cached and refreshed in the background.

design: the list is fetched by a daemon thread every ``refresh_s`` so ``/queue-status`` never
waits on the LLM. ``None`` means "not known yet" (the LLM was never reachable): requests then
go through and the LLM itself says what is wrong. A miss (or a list never fetched yet) triggers
one synchronous refresh (rate-limited) before the worker answers 404, so a freshly pulled
model works at once and the first request after start does not slip through.
"""

from __future__ import annotations

import logging
import threading
import time

from common.contract import has_model
from common.errors import ApiError, ModelNotFound
from worker.llm import LLMClient

log = logging.getLogger(__name__)


class ModelCatalog:
    """Cached ``LLMClient.list_models()``; ``require(model)`` raises ModelNotFound."""

    def __init__(self, llm: LLMClient, refresh_s: float = 30.0, *, min_refresh_gap_s: float = 2.0) -> None:
        self._llm = llm
        self._refresh_s = refresh_s
        self._min_gap_s = min_refresh_gap_s
        self._lock = threading.Lock()
        self._models: tuple[str, ...] | None = None
        self._last_error: str | None = None
        self._fetched_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "ModelCatalog":
        """Refresh now in the background, then every ``refresh_s``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="model-catalog", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def models(self) -> list[str] | None:
        with self._lock:
            return None if self._models is None else list(self._models)

    def last_error(self) -> str | None:
        with self._lock:
            return self._last_error

    def refresh(self) -> list[str] | None:
        """Fetch the list now; on failure keep the old list and remember the error."""
        try:
            models = tuple(self._llm.list_models())
        except ApiError as exc:
            with self._lock:
                self._last_error = exc.message
                self._fetched_at = time.monotonic()
            log.warning("cannot list models: %s", exc.message)
            return self.models()
        with self._lock:
            if models != self._models:
                log.info("models available: %s", ", ".join(models) or "(none)")
            self._models = models
            self._last_error = None
            self._fetched_at = time.monotonic()
        return list(models)

    def require(self, model: str) -> None:
        """Raise ModelNotFound when the LLM's known model list lacks ``model``."""
        known = self.models()
        if known is not None and has_model(known, model):
            return
        with self._lock:
            stale = time.monotonic() - self._fetched_at >= self._min_gap_s
        if stale:  # not fetched yet, or maybe pulled since: ask now (rate-limited)
            known = self.refresh()
        if known is None or has_model(known, model):
            return
        raise ModelNotFound(model, f"model '{model}' is not installed on this worker (installed: {', '.join(known) or 'none'}); pull it with: ollama pull {model}")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self._refresh_s)

