"""The rule table: shell command name -> functions that turn one invocation into Ansible tasks.

# design: a rule is a plain function `(Invocation) -> list[Task] | None`, registered for one or
# more command names with `@rule("apt-get", "apt")`. Returning None means "I do not handle this
# form" and the next rule for the name is tried; when none matches, convert falls back to
# command/shell with a warning. One module per family (packages, services, files, ...); adding
# a command is adding a decorated function, nothing else changes. Rules never see sudo, cd,
# export or variables: convert resolves those and adds become/chdir/environment itself.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from playbook.rules.base import Invocation, RuleFn, Task

__all__ = ["Invocation", "Rule", "Task", "apply_rules", "command_key", "registered", "rule"]


@dataclass(frozen=True)
class Rule:
    name: str  # the function's name, for reports
    commands: tuple[str, ...]
    fn: RuleFn


_REGISTRY: dict[str, list[Rule]] = {}


def rule(*commands: str):
    """Register the decorated function for these command names (basename, e.g. `apt-get`)."""

    def register(fn: RuleFn) -> RuleFn:
        entry = Rule(name=fn.__name__, commands=commands, fn=fn)
        for command in commands:
            _REGISTRY.setdefault(command, []).append(entry)
        return fn

    return register


def command_key(argv0: str) -> str:
    """The registry key for a program: basename, `pip3.11` -> `pip3`, `python3.12` -> `python3`."""
    base = posixpath.basename(argv0)
    return re.sub(r"^(pip3|python3)\.\d+$", r"\1", base)


def registered() -> dict[str, tuple[str, ...]]:
    """Command name -> names of the rules for it (for docs and tests)."""
    return {name: tuple(r.name for r in rules) for name, rules in sorted(_REGISTRY.items())}


def apply_rules(invocation: Invocation) -> tuple[str, list[Task]] | None:
    """The first rule that handles the invocation: (rule name, tasks), else None."""
    if not invocation.argv:
        return None
    for entry in _REGISTRY.get(command_key(invocation.argv[0]), []):
        tasks = entry.fn(invocation)
        if tasks is not None:
            return entry.name, tasks
    return None


# the families register themselves on import
from playbook.rules import (  # noqa: E402,F401
    build,
    content,
    databases,
    files,
    network,
    packages,
    sed,
    services,
    system,
    users,
)
