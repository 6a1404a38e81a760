"""Deterministic shell-to-Ansible conversion: statements -> rule tasks, the rest guarded commands.

    convert_script   the recipe: parse -> walk statements (``walker``) -> tidy (``playbook.passes``)
    walker           the statement walker that keeps the shell's state and asks the rules;
                     its mixins: state, tasks, values, branches, functions, queries (and shapes)
    host_checks      host tests a module answers (`command -v`, `grep -q`, `id -u`)
    computed         `X=$(...)` a set_fact computes (random strings, `cut` of a fact)
    os_release       `. /etc/os-release` as a slurp and facts
    conditions       `if` conditions decided now or turned into `when` expressions
    fallback         helpers for the tasks no rule covers (creates, read-only, names)
    guards           shell guards that say what a line makes (`[ -f X ] || ...`)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playbook.convert.walker import ShellWalker, lines_with_parse_errors
from playbook.passes import COMMAND, SHELL, Step, TaskSource, settled_warnings, tidy
from playbook.shell import Statement, called_names, parse_script

__all__ = ["COMMAND", "SHELL", "Conversion", "TaskSource", "convert_script"]


@dataclass(frozen=True)
class Conversion:
    """The result: tasks in script order (plain dicts in Ansible's shape) with their sources,
    handlers, the statements no rule covered, and warnings naming lines."""

    tasks: list[dict[str, Any]]
    sources: list[TaskSource]
    handlers: list[dict[str, Any]]
    uncovered: list[Statement]
    warnings: list[str]

    @property
    def module_share(self) -> float:
        """Share of tasks that use a real module rather than command/shell."""
        if not self.tasks:
            return 1.0
        real = sum(1 for t in self.tasks if COMMAND not in t and SHELL not in t)
        return real / len(self.tasks)

    def play(self, hosts: str = "all", name: str = "Apply the converted shell script") -> dict[str, Any]:
        """One play holding the tasks and handlers."""
        play: dict[str, Any] = {"name": name, "hosts": hosts, "tasks": list(self.tasks)}
        if self.handlers:
            play["handlers"] = list(self.handlers)
        return play


def convert_script(script: str, context: str = "") -> Conversion:
    """Convert a shell script to Ansible tasks (pure: no I/O, no LLM).

    ``context`` holds statements that ran before the script (a split chunk's ``cd``,
    ``export``, variables, functions): they set the converter's state and yield no task.
    """
    parsed = parse_script(script)
    converter = ShellWalker()
    converter.inputs = environment_inputs(context + "\n" + script)
    before = parse_script(context).statements if context.strip() else ()
    readers = converter.take_script_arguments([s for s in (*before, *parsed.statements) if s.kind != "function"])
    if before:
        for statement in before:
            converter.statement(statement)
        converter.drafts.clear()
        converter.uncovered.clear()
        converter.warnings.clear()
    defined = {c.function_name for s in parsed.statements if s.kind == "function"
               for c in s.commands[:1] if c.function_name}
    converter.uncalled = defined - called_names(parsed.statements)
    for statement in parsed.statements:  # a function body may call one defined further down
        definition = statement.commands[0] if statement.kind == "function" and statement.commands else None
        if definition is not None and definition.function_name and definition.function_name not in converter.functions:
            converter.functions[definition.function_name] = (statement.text, definition.body)
    lines = script.splitlines()
    refused: int | None = None  # the line of a placeholder bash stops at
    for issue in parsed.issues:
        placeholder = _PLACEHOLDER.search(lines[issue.line - 1]) if 0 < issue.line <= len(lines) else None
        if placeholder is not None:  # `mode=<%MODE%>`: a template to fill in, which bash refuses
            refused = issue.line if refused is None else min(refused, issue.line)
            converter.warnings.append(
                f"line {issue.line}: {placeholder.group(0)} is a template placeholder, not shell: bash stops at "
                "this line with a syntax error (only the lines before it run), so no task was made for it or "
                "what follows; fill the placeholders in and convert again")
        converter.warnings.append(f"line {issue.line}: {issue.message.removeprefix(f'line {issue.line}: ')}")
    broken = lines_with_parse_errors(parsed.statements)
    for statement in parsed.statements:
        if statement.kind != "error" and broken & set(range(statement.first_line, statement.last_line + 1)):
            # tree-sitter recovers from `echo "rm -rf /` by surfacing `rm -rf /` as a statement:
            # what shares a line with a parse error is never run as a command
            converter.warn(statement, "is part of a line that could not be parsed; no task was made for it")
            continue
        if refused is not None and statement.last_line >= refused:
            converter.warn(statement, f"is at or after the syntax error at line {refused}, where bash stops; "
                                      "no task was made for it")
            continue
        if converter.ended_at is not None:
            converter.warn(statement, f"comes after the `exit` at line {converter.ended_at} and never runs; "
                                      "no task was made for it")
            continue
        if id(statement) in readers:
            converter.argument_defaults(statement, readers[id(statement)])
        converter.statement(statement)
    converter.plain_names()
    tidied = tidy(converter.drafts)
    return Conversion(tasks=tidied.tasks, sources=[_source(step) for step in tidied.steps],
                      handlers=tidied.handlers, uncovered=converter.uncovered,
                      warnings=settled_warnings(converter.warnings, tidied.tasks))


# `<%NAME%>`: a template's placeholder (ERB, DigitalOcean's user scripts), which bash cannot parse
_PLACEHOLDER = re.compile(r"<%[^%\n]{1,80}%>")

# what bash, a login or sudo set, and words that only look like variables
_NOT_INPUTS = frozenset({
    "HOME", "PATH", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "LANG", "LC_ALL", "TERM", "HOSTNAME",
    "UID", "EUID", "SUDO_USER", "SUDO_UID", "SUDO_GID", "TMPDIR", "XDG_RUNTIME_DIR", "MAIL", "SHLVL",
    "RANDOM", "SECONDS", "LINENO", "FUNCNAME", "BASH_SOURCE", "BASH_VERSION", "BASH_REMATCH", "BASHPID",
    "PIPESTATUS", "IFS", "OPTIND", "OPTARG", "OPTERR", "REPLY", "PPID", "HOSTTYPE", "OSTYPE", "MACHTYPE",
    "EPOCHSECONDS", "EPOCHREALTIME", "GROUPS", "BASH", "BASH_ARGV", "BASH_ARGC", "DIRSTACK", "COLUMNS", "LINES",
})
_ASSIGNED = (
    # a name starts at a word's start (\b): never tried from inside a long word, where \w* would
    # rescan the rest of the word from every letter (50,000 letters took minutes)
    r"\b([A-Za-z_]\w*)(?:\[[^\]\n]*\])?\+?=",  # X=1, X+=1, A[i]=1, also after local/export/declare
    r"\$\{([A-Za-z_]\w*):?[=?]",  # ${X:=default}
    r"\b(?:for|select)\s+([A-Za-z_]\w*)",
    r"\bgetopts\s+\S+\s+([A-Za-z_]\w*)",
    r"\bprintf\s+-v\s+([A-Za-z_]\w*)",
    r"\(\(\s*([A-Za-z_]\w*)\s*(?:\+\+|--|[-+*/%]?=)",  # ((X++)), ((X += 2))
    r"\(\(\s*(?:\+\+|--)\s*([A-Za-z_]\w*)",
    r"\blet\s+[\"']?([A-Za-z_]\w*)",
)
_NAMING_COMMANDS = re.compile(r"\b(?:read|mapfile|readarray|local|export|declare|typeset|readonly|unset)\b([^\n;&|)]*)")


def environment_inputs(text: str) -> frozenset[str]:
    """The variables a script reads and never sets anywhere, which the shell takes from its
    environment. None at all when it sources a file, evals text or runs with `set -u` (a file
    may set any of them; an unset one stops the script)."""
    # each pattern only on the lines that hold its literal part: a 1 MB line costs a substring test
    sourcing = "\n".join(line for line in text.splitlines() if "." in line or "source" in line or "eval" in line)
    if re.search(r"(?:^|[;&|({]|\bthen|\bdo|\belse)\s*(?:\.|source|eval)\s", sourcing, re.MULTILINE) \
            or re.search(r"^\s*set\s+(?:-[a-zA-Z]*u|-o\s+nounset)", text, re.MULTILINE):
        return frozenset()
    setting = "\n".join(line for line in text.splitlines() if "=" in line or "for" in line or "select" in line
                         or "getopts" in line or "printf" in line or "let" in line)
    assigned = {name for pattern in _ASSIGNED for name in re.findall(pattern, setting)}
    for words in _NAMING_COMMANDS.findall(text):
        assigned.update(re.findall(r"(?<![-\w$])([A-Za-z_]\w*)", words))
    read = set(re.findall(r"\$\{?([A-Za-z_]\w*)", text))
    return frozenset(read - assigned - _NOT_INPUTS)


def _source(step: Step) -> TaskSource:
    assert step.source is not None, "every converted task has its script lines"
    return step.source


