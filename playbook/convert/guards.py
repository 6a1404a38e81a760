"""Shell guards that say what the rest of a line makes: `[ -d X ] || cmd`, `[ ! -f X ] && cmd`,
`if [ ! -f X ]; then ... fi`, and the `|| true` that means "never fail"."""

from __future__ import annotations

import re

from playbook.shell import Pipeline

def is_true(pipeline: Pipeline) -> bool:
    commands = pipeline.commands
    return len(commands) == 1 and commands[0].is_simple and commands[0].argv in (("true",), (":",))


TEST = re.compile(r"^\s*(?:\[\[?|test)\s+(!\s+)?-([edfsLx])\s+(\"[^\"]+\"|'[^']+'|[^\s\]]+)"
                   r"\s*(?:\]\]?)?\s*$")


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


