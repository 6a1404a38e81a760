"""Hybrid conversion: rules for the lines they cover, one LLM call for the rest.

design: the rules engine (``playbook.convert``) turns every statement into tasks; what no
rule covers becomes a guarded ``command``/``shell`` task (a "fallback") and is listed in
``Conversion.uncovered``. Hybrid asks the model once for tasks for exactly those
statements, each tagged with its script line (``[L12] ...``), and puts the model's tasks in
place of the fallback tasks of the same lines, so the playbook stays in script order. The
mapping is trusted only when it is unambiguous (every task tagged with a line we asked
about, or one task per statement); otherwise, and whenever the LLM is unreachable or never
produces valid tasks, the fallback tasks stay and a warning says so. Pure: no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from playbook.convert import Conversion
from worker.llm import Message
from worker.prompts import PLAYBOOK_SYSTEM, context_note, fenced

_LINE_TAG = re.compile(r"^\s*\[L(\d+)\]\s*")


@dataclass(frozen=True)
class Gap:
    """One statement no rule covers, by its script lines (1-based, inclusive)."""

    first_line: int
    last_line: int
    text: str

    @property
    def label(self) -> str:
        return f"line {self.first_line}" if self.first_line == self.last_line else f"lines {self.first_line}-{self.last_line}"


def gaps_of(conversion: Conversion) -> list[Gap]:
    """The statements the LLM should convert, in script order; statements sharing a line
    (``a; b``) make one gap, so every gap has lines of its own to tag and to splice."""
    gaps: list[Gap] = []
    for statement in sorted(conversion.uncovered, key=lambda s: (s.first_line, s.last_line)):
        if gaps and statement.first_line <= gaps[-1].last_line:
            last = gaps[-1]
            gaps[-1] = Gap(last.first_line, max(last.last_line, statement.last_line), f"{last.text}; {statement.text}")
        else:
            gaps.append(Gap(statement.first_line, statement.last_line, statement.text))
    return gaps


def gap_messages(gaps: Sequence[Gap], context: str = "") -> list[Message]:
    """Ask for tasks for the uncovered statements only, each task tagged with its line."""
    listing = "\n".join(gap.text.strip() for gap in gaps)
    lines = ", ".join(f"[L{gap.first_line}] for {gap.label}" for gap in gaps)
    return [
        {"role": "system", "content": PLAYBOOK_SYSTEM},
        {
            "role": "user",
            "content": context_note(context) + (
                "Convert these shell commands into Ansible tasks. Answer with one ```yaml block holding a "
                "playbook with one play whose tasks convert the commands in order. Start each task's name "
                f"with the tag of the command it converts: {lines}.\n\n" + fenced(listing, "sh")
            ),
        },
    ]


def assign_tasks(gaps: Sequence[Gap], tasks: Sequence[Mapping[str, Any]]) -> dict[int, list[dict[str, Any]]] | None:
    """Map the model's tasks to gaps (by first line); None when the mapping is ambiguous."""
    if not gaps or not tasks:
        return None
    by_line = {gap.first_line: gap for gap in gaps}
    tags = [_tag_of(task) for task in tasks]
    tagged = [(task, tag) for task, tag in zip(tasks, tags) if tag is not None]
    if len(tagged) == len(tasks):
        assigned: dict[int, list[dict[str, Any]]] = {}
        for task, tag in tagged:
            gap = by_line.get(tag) or next((g for g in gaps if g.first_line <= tag <= g.last_line), None)
            if gap is None:
                return None
            assigned.setdefault(gap.first_line, []).append(_untagged(task))
        return assigned if set(assigned) == set(by_line) else None
    if len(tasks) == len(gaps):
        return {gap.first_line: [_untagged(task)] for gap, task in zip(gaps, tasks)}
    return None


def splice(conversion: Conversion, assigned: dict[int, list[dict[str, Any]]], gaps: Sequence[Gap]) -> list[dict[str, Any]]:
    """The rules' tasks with each gap's fallback tasks replaced by the model's, in script order."""
    span_of = {gap.first_line: gap for gap in gaps}
    tasks: list[dict[str, Any]] = []
    placed: set[int] = set()
    for task, source in zip(conversion.tasks, conversion.sources):
        gap = next(
            (g for g in span_of.values() if source.rule == "fallback" and g.first_line <= source.first_line <= g.last_line),
            None,
        )
        if gap is None or gap.first_line not in assigned:
            tasks.append(task)
        elif gap.first_line not in placed:
            tasks.extend(assigned[gap.first_line])
            placed.add(gap.first_line)
    return tasks


def _tag_of(task: Mapping[str, Any]) -> int | None:
    match = _LINE_TAG.match(str(task.get("name", "")))
    return int(match.group(1)) if match else None


def _untagged(task: Mapping[str, Any]) -> dict[str, Any]:
    name = str(task.get("name", ""))
    stripped = _LINE_TAG.sub("", name).strip()
    return {**task, "name": stripped or name}


def covered_by_llm(gaps: Sequence[Gap], assigned: dict[int, list[dict[str, Any]]]) -> list[str]:
    """Labels of the gaps the model converted, for the reply."""
    return [gap.label for gap in gaps if gap.first_line in assigned]
