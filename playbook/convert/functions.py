"""Shell functions: a call inlined at its call site with its arguments bound (``call``), a
function never called kept as tasks tagged ``never`` (``library_function``), and what a
function's body shows it to be: a logger that only prints, a helper that only sets shell
variables, a wrapper that runs its arguments as a command."""

from __future__ import annotations

import re
from dataclasses import replace

from playbook.convert.state import Context
from playbook.convert.tasks import TasksMixin
from playbook.convert.values import fact_name
from playbook.shell import Branch, Command, Pipeline, Statement

_RETURN = re.compile(r"(?:^|[\s;&|({])return\b")


class FunctionsMixin(TasksMixin):
    """Inlines function calls and classifies function bodies."""

    def call(self, name: str, body: tuple[Statement, ...], args: list[str] | None, ctx: Context) -> bool:
        """A function's body at its call site, with $1..$9 and "$@" bound to ``args``: what the
        rules cover becomes modules, the rest shell tasks that carry what they use (``set --``
        for the arguments). False (nothing emitted) when a `return` cuts the body short: it
        stays one shell task with the definition."""
        body = _returns_as_else(body)
        if any(_has_return(s) for s in body[:-1]) or (body and body[-1].kind != "command" and _has_return(body[-1])):
            return False
        positional = {str(n): self.variables.pop(str(n)) for n in range(1, 10) if str(n) in self.variables}
        arguments = self.arguments
        self.variables.update({str(n): value for n, value in enumerate(args or (), 1)})
        self.arguments = None if args is None else list(args)
        self.calling.append(name)
        self.locals.append({})
        try:
            return self.try_statements(body, ctx, fallbacks=True)
        finally:
            self.calling.pop()
            for variable, (value, definition) in self.locals.pop().items():  # `local X`: X as before the call
                for store, saved in ((self.variables, value), (self.definitions, definition)):
                    if saved is None:
                        store.pop(variable, None)
                    else:
                        store[variable] = saved
            self.arguments = arguments
            for n in range(1, 10):
                self.variables.pop(str(n), None)
            self.variables.update(positional)

    def library_function(self, ctx: Context, name: str, body: tuple[Statement, ...]) -> None:
        """A function the script defines and never calls (a library): its tasks, tagged
        ``never`` and its name, so the play does what the script does (nothing) unless run
        with ``--tags NAME``. What it sets is not seen by later lines."""
        snapshot = self.snapshot()
        sourced = list(self.sourced)
        text = "\n".join(statement.text for statement in body)
        used = sorted({int(n) for n in re.findall(r"\$\{?([1-9])", text)})
        arguments = ["{{ " + fact_name(f"{name}_{n}") + " }}" for n in range(1, used[-1] + 1)] if used else []
        self.fact_variables.update({fact_name(f"{name}_{n}"): str(n) for n in range(1, used[-1] + 1)} if used else {})
        if used:
            self.warn(ctx.statement, f"function {name} is never called: its tasks run only with --tags {name}, "
                                     f"its arguments given as -e {fact_name(name + '_1')}=...")
        if not self.call(name, body, arguments, ctx):
            self.fallback_shell(ctx, f"{name} \"$@\"", None)
        for draft in self.drafts[snapshot.drafts:]:
            draft.task["tags"] = ["never", name]
        self.restore_shell_state(snapshot)
        self.ended_at, self.sourced = snapshot.ended_at, sourced  # its `exit` ends the tagged run, not the play

    def prints_only(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether function ``name`` only prints (a logging helper): its statements set variables,
        test, print, or call functions that only print."""
        if name in seen:
            return False
        _, body = self.functions[name]
        return body is not None and all(self.statement_prints_only(s, seen | {name}) for s in body)

    def statement_prints_only(self, statement: Statement, seen: frozenset[str]) -> bool:
        for command in statement.commands:
            if command.node_type in ("variable_assignment", "variable_assignments", "test_command"):
                continue
            if command.node_type == "declaration_command" and command.words and command.words[0].value in (
                    "local", "declare", "typeset"):
                continue
            if command.node_type in ("if_statement", "case_statement", "for_statement", "compound_statement") \
                    and (command.branches or command.body):
                inner = [s for branch in command.branches for s in (*(branch.condition or ()), *branch.body)] \
                    + list(command.body or ())
                if all(self.statement_prints_only(s, seen) for s in inner):
                    continue
                return False
            if not command.is_simple or not command.words:
                return False
            word = command.words[0].value
            if word in ("echo", "printf", "test", "[", "true", ":") and all(
                    r.op in (">&", "<&") or r.target in ("/dev/null", "/dev/stderr", "&2", "2") or r.target.isdigit()
                    for r in command.redirects):
                continue
            if word in self.functions and self.prints_only(word, seen):
                continue
            return False
        return True

    def shell_state_only(self, name: str) -> bool:
        """Whether function ``name`` only sets shell state: assignments, arrays, `eval` of
        assignments, tests, `return` (and printing), never a command that changes the host."""
        _, body = self.functions[name]
        if not body:
            return False
        statements = list(body)
        sets = False
        while statements:
            statement = statements.pop()
            for command in statement.commands:
                if command.node_type in ("variable_assignment", "variable_assignments"):
                    sets = True
                    continue
                if command.node_type == "test_command":
                    continue
                if command.node_type in ("if_statement", "compound_statement", "for_statement"):
                    statements.extend(s for branch in command.branches for s in (*(branch.condition or ()), *branch.body))
                    statements.extend(command.body or ())
                    continue
                if not command.is_simple or not command.words or command.redirects:
                    return False
                word = command.words[0].value
                if word in ("local", "declare", "typeset", "export", "unset"):
                    sets = sets or word != "unset"
                    continue
                if word == "eval" and all(_state_code(w.raw) for w in command.words[1:]):
                    sets = True
                    continue
                if word in self.functions and word != name and self.prints_only(word):
                    continue
                if word not in ("return", "true", ":", "echo", "printf", "test", "[", "shift"):
                    return False
        return sets

    def wrapper(self, name: str) -> bool:
        """Whether function ``name`` only runs its arguments as a command: one statement runs
        "$@" (its output may go to a file), and the others only set variables, print, exit on
        failure or clean up its own temporary file."""
        _, body = self.functions[name]
        if not body:
            return False
        runs = [s for s in body if s.command is not None and s.command.words
                and s.command.words[0].raw in ('"$@"', "$@")]
        if len(runs) != 1:
            return False
        return all(s is runs[0] or _harmless(s) for s in body)


_STATE_CLAUSE = re.compile(r'if \[ (?:! )?-z "?X"? \]|fi|return \d+|(?:X|\w+)\+?=\([^()$`]*\)|(?:X|\w+)=[^\s()$`;]*|')


def _state_code(raw: str) -> bool:
    """Whether an `eval` argument only sets shell variables: `if [ -z "${X}" ]; then X=(); fi`,
    `${var}+=("${2}")`. Never `eval "$1"` or anything that runs a command."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    text = text.replace('\\"', '"').replace("\\$", "$")
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\$\{[^{}]*\}|\$\w+", "X", text)
    clauses = [c.strip().removeprefix("then ").strip() for c in text.split(";")]
    return all(_STATE_CLAUSE.fullmatch(c) for c in clauses)


_HARMLESS = frozenset({"set", "local", "echo", "printf", "exit", "return", "true", ":", "cat", "rm", "unset"})


def _harmless(statement: Statement) -> bool:
    """A statement of a wrapper function that changes nothing the command does: assignments
    (`OUTPUT=$(mktemp)`, `E=$?`), `set +e`, printing, exiting, removing its temporary file, and
    `if` blocks made only of those."""
    for command in statement.commands:
        if command.node_type in ("variable_assignment", "variable_assignments", "declaration_command"):
            continue
        if command.node_type == "if_statement":
            if not all(_harmless(s) for branch in command.branches for s in (*(branch.condition or ()), *branch.body)):
                return False
            continue
        if command.node_type == "test_command":
            continue
        if not command.is_simple or not command.words or command.words[0].raw not in _HARMLESS:
            return False
        if command.words[0].raw in ("rm", "cat") and not all(
                w.raw.startswith(("-", '"$', "$")) for w in command.words[1:]):
            return False  # only its own temporary file, named by a variable
    return True


def _has_return(statement: Statement) -> bool:
    """Whether a `return` is in ``statement`` (in an `else` made by _returns_as_else: in its arms)."""
    if statement.node_type == "if_else":
        return any(_has_return(s) for branch in statement.commands[0].branches
                   for s in (*(branch.condition or ()), *branch.body))
    return _RETURN.search(statement.text) is not None


def _returns_as_else(body: tuple[Statement, ...]) -> tuple[Statement, ...]:
    """`if C; then A; return; fi; REST` in a function is `if C; then A; else REST; fi`: each
    early return becomes an `else` holding the rest of the body."""
    for index, statement in enumerate(body):
        command = statement.commands[0] if statement.kind == "compound" and statement.commands else None
        if command is None or command.node_type != "if_statement" or len(command.branches) != 1:
            continue
        arm = command.branches[0]
        last = arm.body[-1].command if arm.body else None
        if last is None or last.name != "return" or any(_RETURN.search(s.text) for s in arm.body[:-1]):
            continue
        rest = _returns_as_else(body[index + 1:])
        text = "\n".join(s.text for s in (statement, *rest))
        joined = Command(node_type="if_else", text=text, first_line=statement.first_line,
                         last_line=(rest[-1] if rest else statement).last_line,
                         branches=(replace(arm, body=arm.body[:-1]), Branch(None, rest)))
        merged = Statement(text=text, first_line=joined.first_line, last_line=joined.last_line, kind="compound",
                           node_type="if_else", pipelines=(Pipeline((joined,)),))
        return (*body[:index], merged)
    return body
