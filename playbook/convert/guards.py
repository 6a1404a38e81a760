"""Shell guards that say what the rest of a line makes: `[ -d X ] || cmd`, `[ ! -f X ] && cmd`,
`if [ ! -f X ]; then ... fi`, and the `|| true` that means "never fail"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from playbook.shell import Pipeline

def is_true(pipeline: Pipeline) -> bool:
    commands = pipeline.commands
    return len(commands) == 1 and commands[0].is_simple and commands[0].argv in (("true",), (":",))


TEST = re.compile(r"^\s*(?:\[\[?|test)\s+(!\s+)?-([edfsLx])\s+(\"[^\"]+\"|'[^']+'|[^\s\]]+)"
                   r"\s*(?:\]\]?)?\s*$")


@dataclass(frozen=True)
class PathCondition:
    """`[ -f P ]`, `test -d P`, `ls P`: P exists (``exists``), or with `!` it does not."""

    path: str
    exists: bool

    def negated(self) -> PathCondition:
        return PathCondition(self.path, not self.exists)


_LS = re.compile(r"^\s*ls\s+(?:-[a-zA-Z]+\s+)*(\"[^\"$]+\"|'[^']+'|[^\s$;&|<>]+)\s*(?:[12&]?>\s*/dev/null\s*)*(?:2>&1\s*)?$")


def path_condition(pipeline: Pipeline) -> PathCondition | None:
    """The file test a pipeline is, if it is one (no variables in the path)."""
    if len(pipeline.commands) != 1 or pipeline.negated:
        return None
    text = pipeline.commands[0].text
    match = TEST.match(text)
    if match and "$" not in match.group(3):
        return PathCondition(match.group(3).strip("\"'"), not match.group(1))
    match = _LS.match(text)
    if match:
        return PathCondition(match.group(1).strip("\"'"), True)
    return None


def if_condition(text: str) -> tuple[PathCondition, str] | None:
    """`if [ ! -f X ]; then BODY fi` (no else): the condition and BODY's text."""
    match = IF_TEST.match(text)
    if not match or re.search(r"\b(else|elif)\b", text):
        return None
    body = text[match.end():]
    end = re.search(r"\bfi\s*$", body)
    if end is None:
        return None
    return PathCondition(match.group(3).strip("\"'"), not match.group(1)), body[:end.start()]


IF_TEST = re.compile(r"^\s*if\s+(?:\[\[?|test)\s+(!\s+)?-([edfsL])\s+(\"[^\"]+\"|'[^']+'|[^\s\]]+)"
                     r"\s*(?:\]\]?)?\s*;?\s*then\b")


def test_guard(pipeline: Pipeline, operator: str | None) -> str | None:
    """`[ -d X ] || ...` and `[ ! -e X ] && ...`: the rest of the line makes X."""
    if operator is None or len(pipeline.commands) != 1:
        return None
    match = TEST.match(pipeline.commands[0].text)
    if not match or "$" in match.group(3):
        return None
    negated = bool(match.group(1))
    if (operator == "||" and not negated) or (operator == "&&" and negated):
        return match.group(3).strip("\"'")
    return None


IF_GUARD = re.compile(r"^\s*if\s+(?:\[\[?|test)\s+!\s+-([edfsL])\s+(\"[^\"$]+\"|'[^']+'|[^\s\]$]+)"
                       r"\s*(?:\]\]?)?\s*;?\s*then\b")


def guard_of_compound(text: str) -> str | None:
    """`if [ ! -f X ]; then ... fi` (no else) creates X."""
    match = IF_GUARD.match(text)
    if not match or re.search(r"\b(else|elif)\b", text):
        return None
    return match.group(2).strip("\"'")


