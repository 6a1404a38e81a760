"""One call that says whether a playbook is valid: structure, modules/parameters, syntax-check, lint.

    validator = PlaybookValidator()          # starts loading argspecs in the background
    report = validator.validate(plays)       # ValidationReport(ok, errors, lint, elapsed_s)
"""

# design: the checks run cheapest first and stop at the first layer that finds
# errors — structure and anything that would read the worker's own files
# (µs, ``playbook.local_reads``: refused before ansible sees the text), module/parameter names against the argspec table
# (µs once loaded), then ``ansible-playbook --syntax-check`` through the warm
# helper (~40 ms) — so a broken reply costs almost nothing and the errors sent
# back to the model are the most specific ones. Lint is optional and only
# reported, never makes a playbook invalid. Reports are cached per rendered
# text (LRU): retries and the balancer's merged playbook often repeat a text.
# The argspec table loads in a daemon thread started by the constructor, so a
# worker starts at once; a validate() that comes before it is ready waits for
# it (bounded), and if it cannot be built the module check is skipped with a note.

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from playbook.errors import PlaybookError
from playbook.local_reads import local_read_errors
from playbook.render import render_playbook
from playbook.validate import module_errors, structure_errors
from validation.argspecs import load_argspecs
from validation.syntax import SyntaxChecker, lint_playbook

log = logging.getLogger(__name__)

__all__ = ["PlaybookValidator", "ValidationReport"]

Specs = Mapping[str, Collection[str]]


@dataclass(frozen=True)
class ValidationReport:
    """The verdict on one playbook. ``lint`` is None when lint was not asked for."""

    ok: bool
    errors: list[str]
    lint: list[str] | None
    elapsed_s: float
    notes: list[str] = field(default_factory=list)  # checks that were skipped, and why

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class PlaybookValidator:
    """Validates playbooks (lists of plays); thread-safe; reuse one per process."""

    def __init__(
        self,
        specs: Specs | None = None,
        *,
        redirects: Mapping[str, str] | None = None,
        specs_loader: Callable[[], Specs] | None = load_argspecs,
        syntax: SyntaxChecker | None = None,
        syntax_check: bool = True,
        specs_wait_s: float = 120.0,
        cache_size: int = 512,
    ) -> None:
        self._specs: Specs | None = specs
        self._redirects = dict(redirects) if redirects is not None else None
        self._specs_error: str | None = None
        self._specs_ready = threading.Event()
        self._specs_wait_s = specs_wait_s
        self._syntax = syntax if syntax is not None else (SyntaxChecker() if syntax_check else None)
        self._owns_syntax = syntax is None
        self._cache: OrderedDict[tuple[str, bool], ValidationReport] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        if specs is not None or specs_loader is None:
            if specs is None:
                self._specs_error = "module and parameter names not checked: no argspec table"
            self._specs_ready.set()
        else:
            threading.Thread(target=self._load_specs, args=(specs_loader,), name="argspecs", daemon=True).start()

    def _load_specs(self, loader: Callable[[], Specs]) -> None:
        try:
            self._specs = loader()
        except Exception as exc:  # noqa: BLE001 - any failure means "skip this check", logged once
            log.warning("module parameter checks disabled: %s", exc)
            self._specs_error = f"module and parameter names not checked: {exc}"
        finally:
            self._specs_ready.set()

    def warm_up(self) -> None:
        """Start the syntax-check helper in the background (call at service start)."""
        if self._syntax is not None:
            threading.Thread(target=self._syntax.start, name="syntax-warm-up", daemon=True).start()

    @property
    def specs_ready(self) -> bool:
        return self._specs_ready.is_set()

    def close(self) -> None:
        """Stop the syntax-check helper if this validator started it."""
        if self._syntax is not None and self._owns_syntax:
            self._syntax.close()

    def validate(self, plays: object, *, lint: bool = False, text: str | None = None) -> ValidationReport:
        """Check structure, module/parameter names, syntax (and lint if asked); never raises for bad input.

        ``text``: the playbook already rendered by the caller, so it is not rendered twice.
        """
        started = time.monotonic()
        errors = structure_errors(plays) or local_read_errors(plays)  # before ansible reads anything
        if errors:
            return ValidationReport(False, errors, None, time.monotonic() - started)
        if text is None:
            try:
                text = render_playbook(plays)  # type: ignore[arg-type]
            except PlaybookError as exc:
                return ValidationReport(False, [exc.message], None, time.monotonic() - started)
        key = (text, lint)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return dataclasses.replace(cached, elapsed_s=time.monotonic() - started)
        report = self._validate_text(plays, text, lint, started)
        with self._cache_lock:
            self._cache[key] = report
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return report

    def _validate_text(self, plays: object, text: str, lint: bool, started: float) -> ValidationReport:
        notes: list[str] = []
        errors: list[str] = []
        specs = self._wait_specs()
        if specs is None:
            notes.append(self._specs_error or "module and parameter names not checked: argspecs still loading")
        else:
            redirects = self._redirects if self._redirects is not None else getattr(specs, "redirects", None)
            errors = module_errors(plays, specs, redirects=redirects)
        if not errors and self._syntax is not None:
            errors = self._syntax.check(text).errors
        elif self._syntax is None:
            notes.append("ansible-playbook --syntax-check not run (disabled)")
        findings = lint_playbook(text) if lint else None
        return ValidationReport(not errors, errors, findings, time.monotonic() - started, notes)

    def _wait_specs(self) -> Specs | None:
        if not self._specs_ready.wait(self._specs_wait_s):
            log.warning("argspecs not ready after %.0f s; skipping the module check", self._specs_wait_s)
            return None
        return self._specs
