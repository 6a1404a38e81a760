"""The worker's jobs: each request becomes one queued LLM job with its own answer.

``generate`` has three engines. ``rules`` converts deterministically (no LLM, no slot).
``llm`` asks the model for the whole playbook and checks it; when the reply is not a
valid playbook the model is asked again with the concrete error, at most
``generate_attempts`` times, all within the same slot. ``hybrid`` (the default) takes the
rules' tasks and asks the model once for the lines no rule covers (see ``worker.hybrid``);
a script the rules cover entirely never looks at the model (it need not be installed), and
when the LLM is unreachable or the model is not installed it answers with the rules' result
and a warning naming the reason.
Every returned playbook is validated and the report is part of the reply.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from common.errors import InvalidPlaybook, LLMError, LLMTimeout, LLMUnavailable, ModelNotFound
from playbook.convert import convert_script
from playbook.errors import PlaybookError
from playbook.extract import extract_playbook
from playbook.render import render_playbook
from playbook.validate import iter_tasks, structure_errors
from validation.validator import PlaybookValidator, ValidationReport
from worker import hybrid, prompts
from worker.jobs import JobQueue, Ticket
from worker.llm import Completion, LLMClient, Message
from worker.models import ModelCatalog

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class TokenTally:
    """Token counts summed over every LLM call of one job."""

    prompt_tokens: int = 0
    response_tokens: int = 0
    calls: int = 0

    def add(self, completion: Completion) -> Completion:
        self.prompt_tokens += completion.prompt_tokens
        self.response_tokens += completion.response_tokens
        self.calls += 1
        return completion

    def to_json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "response_tokens": self.response_tokens,
            "total_tokens": self.prompt_tokens + self.response_tokens,
        }


@dataclass(frozen=True)
class PlaybookCheck:
    """A candidate playbook from model text and what is wrong with it (no errors: accepted)."""

    plays: list[dict[str, Any]] | None
    errors: list[str] = field(default_factory=list)
    report: ValidationReport | None = None


@dataclass(frozen=True)
class JobRun:
    """What a queued LLM job returned, with the fields every reply carries."""

    value: Any
    fields: dict[str, Any]


class WorkerService:
    """Runs jobs through the queue against one LLM."""

    def __init__(
        self,
        llm: LLMClient,
        queue: JobQueue,
        catalog: ModelCatalog,
        validator: PlaybookValidator,
        *,
        generate_attempts: int = 3,
    ) -> None:
        self.llm = llm
        self.queue = queue
        self.catalog = catalog
        self.validator = validator
        self.generate_attempts = generate_attempts

    def generate(
        self,
        commands: str,
        model: str,
        engine: str,
        cancel: threading.Event | None = None,
        *,
        lint: bool = False,
        context: str = "",
    ) -> dict[str, Any]:
        """Convert shell commands into one validated playbook with the chosen engine.

        ``context``: earlier commands (cd, export, variables) that set state for these; not converted.
        """
        if engine == "rules":
            return self._generate_rules(commands, context, lint)
        if engine == "hybrid":  # the model matters only for the lines no rule covers
            return self._generate_hybrid(commands, context, model, cancel, lint)
        self.catalog.require(model)
        return self._generate_llm(commands, context, model, cancel, lint)

    def explain(self, playbook: str, model: str, cancel: threading.Event | None = None) -> dict[str, Any]:
        return self._text_job("explain", "explanation", prompts.explain_playbook_messages(playbook), model, cancel)

    def generate_code(self, description: str, model: str, cancel: threading.Event | None = None) -> dict[str, Any]:
        return self._text_job("generate-code", "code", prompts.generate_code_messages(description), model, cancel)

    def explain_code(self, code: str, model: str, cancel: threading.Event | None = None) -> dict[str, Any]:
        return self._text_job("explain-code", "explanation", prompts.explain_code_messages(code), model, cancel)

    def check_playbook(self, text: str) -> PlaybookCheck:
        """Extract a playbook from model text and list what is wrong with it."""
        try:
            plays = extract_playbook(text)
        except PlaybookError as exc:
            return PlaybookCheck(None, [str(exc)])
        errors = structure_errors(plays)
        if errors:
            return PlaybookCheck(plays, errors)
        report = self.validator.validate(plays)
        return PlaybookCheck(plays, list(report.errors), report)

    def _generate_rules(self, commands: str, context: str, lint: bool) -> dict[str, Any]:
        started = time.monotonic()
        conversion = convert_script(commands, context)
        reply = self._finish([conversion.play()], conversion.warnings, lint)
        return {**reply, "engine": "rules", "model": None, "elapsed": round(time.monotonic() - started, 3), **TokenTally().to_json()}

    def _generate_llm(
        self, commands: str, context: str, model: str, cancel: threading.Event | None, lint: bool
    ) -> dict[str, Any]:
        def job(tally: TokenTally) -> tuple[list[dict[str, Any]], int]:
            messages: list[Message] = prompts.playbook_messages(commands, context)
            last_error = ""
            for attempt in range(1, self.generate_attempts + 1):
                reply = tally.add(self.llm.chat(model, messages, cancel=cancel))
                check = self.check_playbook(reply.text)
                if not check.errors and check.plays is not None:
                    return check.plays, attempt
                last_error = "; ".join(check.errors)
                log.info("model %s gave no valid playbook (attempt %d): %s", model, attempt, last_error)
                messages = [*messages, {"role": "assistant", "content": reply.text}, prompts.repair_message(last_error, commands)]
            raise InvalidPlaybook(
                f"the model did not produce a valid playbook in {self.generate_attempts} attempts; last error: {last_error}",
                extra={"attempts": self.generate_attempts},
            )

        run = self._run("generate", model, cancel, job)
        plays, attempts = run.value
        return {**self._finish(plays, [], lint), "engine": "llm", "attempts": attempts, **run.fields}

    def _generate_hybrid(
        self, commands: str, context: str, model: str, cancel: threading.Event | None, lint: bool
    ) -> dict[str, Any]:
        started = time.monotonic()
        conversion = convert_script(commands, context)
        gaps = hybrid.gaps_of(conversion)
        if not gaps:
            reply = self._finish([conversion.play()], conversion.warnings, lint)
            return {**reply, "engine": "hybrid", "model": model, "llm_lines": [], "elapsed": round(time.monotonic() - started, 3), **TokenTally().to_json()}
        warnings = [w for w in conversion.warnings if not _about_gap(w, gaps)]
        try:
            run = self._run("generate", model, cancel, lambda tally: self._convert_gaps(gaps, context, model, cancel, tally))
        except (LLMUnavailable, LLMTimeout, LLMError, ModelNotFound) as exc:
            # design: a model installed nowhere is the LLM being unusable for this job, as when it is
            # down: the rules' playbook with a warning naming it (the uncovered lines stay guarded commands)
            log.warning("hybrid: LLM failed (%s); answering with the rules result", exc.message)
            warnings = [*conversion.warnings, f"the LLM could not be used ({exc.message}); {_labels(gaps)} kept as guarded commands from the rules engine"]
            reply = self._finish([conversion.play()], warnings, lint)
            return {**reply, "engine": "rules", "model": model, "llm_lines": [], "elapsed": round(time.monotonic() - started, 3), **TokenTally().to_json()}
        assigned, error = run.value
        if assigned is None:
            warnings = [*conversion.warnings, f"the model gave no usable tasks for {_labels(gaps)} ({error}); kept as guarded commands from the rules engine"]
            tasks = list(conversion.tasks)
        else:
            tasks = hybrid.splice(conversion, assigned, gaps)
        play = {**conversion.play(), "tasks": tasks}
        reply = self._finish([play], warnings, lint)
        llm_lines = hybrid.covered_by_llm(gaps, assigned or {})
        return {**reply, "engine": "hybrid", "llm_lines": llm_lines, **run.fields}

    def _convert_gaps(
        self, gaps: list[hybrid.Gap], context: str, model: str, cancel: threading.Event | None, tally: TokenTally
    ) -> tuple[dict[int, list[dict[str, Any]]] | None, str]:
        """Ask the model for the gaps' tasks until they are valid and mappable to lines."""
        messages = hybrid.gap_messages(gaps, context)
        listing = "\n".join(gap.text.strip() for gap in gaps)
        error = ""
        for _ in range(self.generate_attempts):
            reply = tally.add(self.llm.chat(model, messages, cancel=cancel))
            check = self.check_playbook(reply.text)
            if not check.errors and check.plays is not None:
                tasks = [ref.task for ref in iter_tasks(check.plays)]
                assigned = hybrid.assign_tasks(gaps, tasks)
                if assigned is not None:
                    return assigned, ""
                error = "the tasks could not be matched to the commands: start each task's name with the [L<line>] tag of its command"
            else:
                error = "; ".join(check.errors)
            messages = [*messages, {"role": "assistant", "content": reply.text}, prompts.repair_message(error, listing)]
        return None, error

    def _finish(self, plays: list[dict[str, Any]], warnings: list[str], lint: bool) -> dict[str, Any]:
        """Render and validate the final playbook; an invalid one is returned with a warning."""
        text = render_playbook(plays)
        report = self.validator.validate(plays, lint=lint, text=text)
        warnings = list(warnings)
        if not report.ok:
            warnings.append("the playbook did not pass validation; review it: " + "; ".join(report.errors))
        return {"playbook": text, "warnings": warnings, "validation": report.to_json()}

    def _text_job(
        self, kind: str, field_name: str, messages: list[Message], model: str, cancel: threading.Event | None
    ) -> dict[str, Any]:
        run = self._run(kind, model, cancel, lambda tally: tally.add(self.llm.chat(model, messages, cancel=cancel)).text.strip())
        return {field_name: run.value, **run.fields}

    def _run(self, kind: str, model: str, cancel: threading.Event | None, job: Callable[[TokenTally], T]) -> JobRun:
        """Check the model, wait for a slot, run ``job`` in it; return its value and the common fields."""
        started = time.monotonic()
        self.catalog.require(model)
        with self.queue.slot(kind, model, cancel) as ticket:
            tally = TokenTally()
            value = job(tally)
        return JobRun(value, _common_fields(ticket, tally, model, time.monotonic() - started))


def _labels(gaps: list[hybrid.Gap]) -> str:
    return ", ".join(gap.label for gap in gaps)


def _about_gap(warning: str, gaps: list[hybrid.Gap]) -> bool:
    """The rules' "no rule for line N" warnings are moot once the model converts line N."""
    return "no rule for" in warning and any(
        warning.startswith(f"line {line}:") or warning.startswith(f"line {line}-")
        for gap in gaps
        for line in range(gap.first_line, gap.last_line + 1)
    )


def _common_fields(ticket: Ticket, tally: TokenTally, model: str, elapsed_s: float) -> dict[str, Any]:
    fields: dict[str, Any] = {"elapsed": round(elapsed_s, 3), "model": model, **tally.to_json()}
    if ticket.queue_position:
        fields["queue_position"] = ticket.queue_position
        fields["queue_wait"] = round(ticket.waited_s, 3)
    return fields
