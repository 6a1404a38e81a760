"""Split a shell script into chunks of about N lines that never cut a statement.

# design: the parser (playbook.shell) gives each top-level statement its exact line span;
# statements sharing a line (`a; b`) are fused into one unit, so a unit is the smallest thing
# a chunk may hold. Units are packed greedily until the next one would push the chunk's count
# of code lines past `chunk_size`; a unit longer than that becomes a chunk of its own. Blank
# and comment lines never count and never form a chunk: the lines between two chunks belong
# to the next one (a comment introduces what follows), trailing comments to the last one, so
# the chunks' spans cover every non-blank line exactly once and in order.
# A chunk run on its own loses the shell state its earlier lines set up (the directory, the
# exported and plain variables, functions, `set` options), so each chunk also carries, as
# `context`, the top-level statements before it that only set such state; a converter reads
# them to know where and with what it runs, and converts none of them.
"""

from __future__ import annotations

import re

from dataclasses import dataclass

from playbook.shell import Command, Statement, parse_script

__all__ = ["Chunk", "split_script"]


@dataclass(frozen=True)
class Chunk:
    """A slice of a script: the exact source lines first_line..last_line (1-based, inclusive)."""

    index: int
    text: str
    first_line: int
    last_line: int
    context: str = ""  # earlier statements that set shell state (cd, export, variables, functions)


# commands whose only effect is the shell's own state: what later lines run with
STATE_COMMANDS = frozenset({"cd", "pushd", "popd", "export", "set", "shopt", "umask", "alias", "readonly", "declare",
                            "typeset", "source", ".", "deactivate", "read"})


def sets_shell_state(statement: Statement) -> bool:
    """True for a statement that changes the state later lines run with: a directory, variables,
    a function, an `exit` that ends the script; a compound statement (`if`, `case`, a loop) when
    anything inside it may (its tasks are made by the chunk that holds it, never twice: a
    converter reads a context for its state only)."""
    if statement.kind == "function":
        return True
    if statement.kind == "compound":
        return _STATE_INSIDE.search(statement.text) is not None
    if statement.kind == "list":  # `cd /tmp || exit`, `X=1 && Y=2`
        return any(_sets_state(c) for c in statement.commands if c.is_simple)
    command = statement.command
    return command is not None and _sets_state(command)


def _sets_state(command: Command) -> bool:
    return command.name in STATE_COMMANDS or command.name == "exit" \
        or (command.name == "" and bool(command.assignments))


_STATE_INSIDE = re.compile(r"(?:^|[\s;&|(])(?:[A-Za-z_][A-Za-z0-9_]*(?:\[[^]]*\])?\+?=|(?:"
                           + "|".join(re.escape(c) for c in sorted(STATE_COMMANDS - {"."}) + ["exit"])
                           + r")(?=[\s;]|$)|\.\s|\(\()", re.MULTILINE)  # `((n++))` sets n


def split_script(script: str, chunk_size: int = 10) -> list[Chunk]:
    """Cut `script` into chunks of about `chunk_size` code lines, never inside a statement."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if not script.strip():
        raise ValueError("the script is empty: there are no commands to split")
    parsed = parse_script(script)
    # a call to one of the script's functions that sets state (`includeDependencies` sources a
    # library) is state too: later chunks must have run it
    setters = {c.function_name for s in parsed.statements if s.kind == "function" for c in s.commands[:1]
               if c.function_name and _STATE_INSIDE.search(s.text.split("{", 1)[-1])}
    state = [s for s in parsed.statements if sets_shell_state(s)
             or (s.command is not None and s.command.is_simple and s.command.name in setters)]
    units = _units([(s.first_line, s.last_line) for s in parsed.statements])
    if not units:
        raise ValueError("the script has only comments and blank lines: no commands to split")

    groups: list[list[tuple[int, int]]] = []
    size = 0
    for unit in units:
        lines = unit[1] - unit[0] + 1
        if groups and groups[-1] and size + lines <= chunk_size:
            groups[-1].append(unit)
            size += lines
        else:
            groups.append([unit])
            size = lines

    source_lines = _lines_with_ends(script)
    blank = [not line.strip() for line in source_lines]
    last_nonblank = max(i + 1 for i, is_blank in enumerate(blank) if not is_blank)

    chunks: list[Chunk] = []
    start = 1
    for index, group in enumerate(groups):
        while start <= len(blank) and blank[start - 1]:
            start += 1
        end = group[-1][1] if index < len(groups) - 1 else max(group[-1][1], last_nonblank)
        text = "".join(source_lines[start - 1:end])
        # every function of the script, as the whole conversion knows them (a body may call one
        # defined further down), and the state set before the chunk
        context = "".join(s.text + "\n" for s in state if s.last_line < start or (s.kind == "function" and s.first_line > end))
        chunks.append(Chunk(index=index, text=text, first_line=start, last_line=end, context=context))
        start = end + 1
    return chunks


def _units(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Fuse statement spans that share a line into indivisible units."""
    units: list[tuple[int, int]] = []
    for first, last in spans:
        if units and first <= units[-1][1]:
            units[-1] = (units[-1][0], max(units[-1][1], last))
        else:
            units.append((first, last))
    return units


def _lines_with_ends(script: str) -> list[str]:
    """Source lines with their terminators, split on \\n only (as the parser counts lines)."""
    lines = script.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out
