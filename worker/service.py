"""The worker's jobs: each request becomes one queued LLM job with its own answer.

``generate`` asks the model for a playbook and checks it; when the reply is not a valid
playbook the model is asked again with the concrete error, at most ``generate_attempts``
times, all within the same slot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.errors import InvalidPlaybook
from playbook.errors import PlaybookError
from playbook.extract import extract_playbook
from playbook.render import render_playbook
from playbook.validate import structure_errors
from worker import prompts
from worker.jobs import JobQueue, Ticket
from worker.llm import Completion, LLMClient, Message
from worker.models import ModelCatalog

log = logging.getLogger(__name__)


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
    """Why a candidate playbook was rejected (empty ``errors``: accepted)."""

    plays: list[dict[str, Any]] | None
    errors: list[str] = field(default_factory=list)


PlaybookChecker = Callable[[list[dict[str, Any]]], list[str]]


class WorkerService:
    """Runs jobs through the queue against one LLM."""

    def __init__(
        self,
        llm: LLMClient,
        queue: JobQueue,
        catalog: ModelCatalog,
        *,
        generate_attempts: int = 3,
        extra_checks: Sequence[PlaybookChecker] = (),
    ) -> None:
        self.llm = llm
        self.queue = queue
        self.catalog = catalog
        self.generate_attempts = generate_attempts
        self.extra_checks = tuple(extra_checks)

    def generate(self, commands: str, model: str, cancel: threading.Event | None = None) -> dict[str, Any]:
        """Convert shell commands into one validated playbook with the LLM."""

        def job(tally: TokenTally) -> dict[str, Any]:
            messages: list[Message] = prompts.playbook_messages(commands)
            last_error = ""
            for attempt in range(1, self.generate_attempts + 1):
                reply = tally.add(self.llm.chat(model, messages, cancel=cancel))
                check = self.check_playbook(reply.text)
                if not check.errors and check.plays is not None:
                    return {"playbook": render_playbook(check.plays), "attempts": attempt, "warnings": []}
                last_error = "; ".join(check.errors)
                log.info("model %s gave no valid playbook (attempt %d): %s", model, attempt, last_error)
                messages = [*messages, {"role": "assistant", "content": reply.text}, prompts.repair_message(last_error, commands)]
            raise InvalidPlaybook(
                f"the model did not produce a valid playbook in {self.generate_attempts} attempts; last error: {last_error}",
                extra={"attempts": self.generate_attempts},
            )

        return self._run("generate", model, cancel, job)

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
        for check in self.extra_checks:
            if errors:
                break
            errors = check(plays)
        return PlaybookCheck(plays, list(errors))

    def _text_job(
        self, kind: str, field_name: str, messages: list[Message], model: str, cancel: threading.Event | None
    ) -> dict[str, Any]:
        def job(tally: TokenTally) -> dict[str, Any]:
            reply = tally.add(self.llm.chat(model, messages, cancel=cancel))
            return {field_name: reply.text.strip()}

        return self._run(kind, model, cancel, job)

    def _run(
        self,
        kind: str,
        model: str,
        cancel: threading.Event | None,
        job: Callable[[TokenTally], dict[str, Any]],
    ) -> dict[str, Any]:
        """Check the model, wait for a slot, run ``job`` in it, and add the common reply fields."""
        started = time.monotonic()
        self.catalog.require(model)
        with self.queue.slot(kind, model, cancel) as ticket:
            tally = TokenTally()
            result = job(tally)
        return {**result, **_common_fields(ticket, tally, model, time.monotonic() - started)}


def _common_fields(ticket: Ticket, tally: TokenTally, model: str, elapsed_s: float) -> dict[str, Any]:
    fields: dict[str, Any] = {"elapsed": round(elapsed_s, 3), "model": model, **tally.to_json()}
    if ticket.queue_position:
        fields["queue_position"] = ticket.queue_position
        fields["queue_wait"] = round(ticket.waited_s, 3)
    return fields
