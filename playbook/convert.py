"""Deterministic shell-to-Ansible conversion: statements -> rule tasks, the rest guarded commands.

# design: one pass over the parsed statements keeps the shell's state the way bash would:
# variables (substituted into later words), exported variables (`environment`), the current
# directory (`chdir` and relative paths), functions (inlined where called). Each simple
# command is resolved into an Invocation and offered to the rule table (playbook.rules); what
# no rule takes becomes `ansible.builtin.command` (or `shell` when shell syntax is needed),
# guarded by `creates`/`removes` when the line says what it makes, else `changed_when`, and a
# warning naming the line. A second pass tidies like a person would: `apt-get update` folds
# into the next install, a later chmod/chown folds into the task that created the path, and a
# restart that follows a config change becomes a handler notified by that change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
import shlex
from dataclasses import dataclass, field, replace
from typing import Any

from playbook.rules import apply_rules, command_key
from playbook.rules.base import Invocation, Task
from playbook.rules.content import echo_text, printf_text
from playbook.shell import Command, Pipeline, Statement, Word, parse_script

__all__ = ["Conversion", "TaskSource", "convert_script"]

COMMAND = "ansible.builtin.command"
SHELL = "ansible.builtin.shell"
# modules that only manage files/users/services: an exported proxy or locale changes nothing
_NO_ENVIRONMENT = frozenset({
    "ansible.builtin.file", "ansible.builtin.copy", "ansible.builtin.lineinfile",
    "ansible.builtin.blockinfile", "ansible.builtin.replace", "ansible.builtin.user",
    "ansible.builtin.group", "ansible.builtin.systemd_service", "ansible.builtin.service",
    "ansible.builtin.hostname", "ansible.builtin.cron", "ansible.posix.sysctl",
    "ansible.posix.mount", "ansible.posix.authorized_key", "ansible.builtin.pause",
    "community.general.timezone", "community.general.ufw", "ansible.posix.firewalld",
    "ansible.posix.seboolean", "community.general.modprobe", "ansible.builtin.meta",
})
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "no_proxy", "ftp_proxy", "all_proxy"})
_READ_ONLY = frozenset({
    "ls", "cat", "grep", "egrep", "which", "id", "whoami", "uname", "df", "free", "getent",
    "test", "[", "stat", "head", "tail", "wc", "date", "hostname", "env", "printenv", "pwd",
    "ps", "ss", "netstat", "lsblk", "blkid", "ip", "nproc", "command", "type", "find",
    "curl", "ping", "dig", "nslookup", "node", "npm", "java", "python3", "python", "go",
    "docker", "psql", "mysql", "nginx", "apachectl", "apache2ctl", "sshd", "visudo",
})
_READ_ONLY_FLAGS = {
    "nginx": ("-t", "-T", "-v", "-V"), "apachectl": ("configtest", "-t", "-v"),
    "apache2ctl": ("configtest", "-t", "-v"), "sshd": ("-t", "-T"), "visudo": ("-c",),
    "node": ("-v", "--version"), "npm": ("-v", "--version"), "java": ("-version", "--version"),
    "python3": ("--version", "-V"), "python": ("--version", "-V"), "go": ("version",),
    "docker": ("--version", "version", "info", "ps"), "curl": ("--version",),
    "psql": ("--version",), "mysql": ("--version",),
}


@dataclass(frozen=True)
class TaskSource:
    """Where a task came from: its script lines (1-based, inclusive) and the rule, or
    "fallback" for a command/shell task no rule covered."""

    first_line: int
    last_line: int
    rule: str


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
    converter = _Converter()
    if context.strip():
        for statement in parse_script(context).statements:
            converter.statement(statement)
        converter.drafts.clear()
        converter.uncovered.clear()
        converter.warnings.clear()
    for issue in parsed.issues:
        converter.warnings.append(f"line {issue.line}: {issue.message.removeprefix(f'line {issue.line}: ')}")
    broken = _lines_with_parse_errors(parsed.statements)
    for statement in parsed.statements:
        if statement.kind != "error" and broken & set(range(statement.first_line, statement.last_line + 1)):
            # tree-sitter recovers from `echo "rm -rf /` by surfacing `rm -rf /` as a statement:
            # what shares a line with a parse error is never run as a command
            converter.warn(statement, "is part of a line that could not be parsed; no task was made for it")
            continue
        converter.statement(statement)
    drafts = _fold_apt_update(converter.drafts)
    drafts = _fold_attributes(drafts)
    drafts = _fold_edits(drafts)
    drafts = _fold_mount_all(drafts)
    drafts, handlers = _handlers(drafts)
    return Conversion(tasks=[d.task for d in drafts], sources=[d.source for d in drafts],
                      handlers=handlers, uncovered=converter.uncovered,
                      warnings=converter.warnings)


@dataclass
class _Draft:
    task: dict[str, Any]
    source: TaskSource
    module: str
    role: str = "other"
    service: str | None = None
    path: str | None = None
    become: bool = False


@dataclass
class _Context:
    """Per statement: what applies to every task it produces."""

    statement: Statement
    become: bool = False
    become_user: str | None = None
    ignore_errors: bool = False
    creates: str | None = None


_VAR_REF = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$")


@dataclass
class _Converter:
    variables: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    functions: dict[str, tuple[str, tuple[Statement, ...] | None]] = field(default_factory=dict)
    drafts: list[_Draft] = field(default_factory=list)
    uncovered: list[Statement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # --- statements ----------------------------------------------------------------------

    def statement(self, statement: Statement, become: bool = False) -> None:
        ctx = _Context(statement, become=become)
        if statement.kind == "error":
            self.warn(statement, "could not be parsed; no task was made for it, fix the line and convert again")
            return
        if statement.kind == "function":
            definition = statement.commands[0] if statement.commands else None
            if definition is not None and definition.function_name:
                self.functions[definition.function_name] = (statement.text, definition.body)
            return
        if statement.kind == "compound":
            compound = statement.commands[0]
            if not compound.redirects and self.unrolled(ctx, compound):
                return
            self.fallback_shell(ctx, statement.text, _guard_of_compound(statement.text))
            return
        pipelines = list(statement.pipelines)
        operators = list(statement.operators)
        # `cmd || true`: run cmd, never fail
        if operators and operators[-1] == "||" and _is_true(pipelines[-1]):
            ctx.ignore_errors = True
            pipelines, operators = pipelines[:-1], operators[:-1]
        # `[ -d X ] || cmd`, `[ ! -f X ] && cmd`: cmd creates X
        guard = _test_guard(pipelines[0], operators[0] if operators else None)
        if guard is not None:
            ctx.creates = guard
            pipelines, operators = pipelines[1:], operators[1:]
        if any(op != "&&" for op in operators):
            self.fallback_shell(ctx, statement.text, None)
            return
        for pipeline in pipelines:
            self.pipeline(ctx, pipeline)

    def pipeline(self, ctx: _Context, pipeline: Pipeline) -> None:
        commands = pipeline.commands
        if pipeline.negated:
            self.fallback_shell(ctx, _join_text(commands), None)
            return
        if len(commands) == 1:
            self.command(ctx, commands[0], None)
            return
        stdin = self.produced_text(commands[0])
        if stdin is not None and len(commands) == 2 and commands[1].is_simple:
            if self.command(ctx, commands[1], stdin, fallback=False):
                return
        self.fallback_shell(ctx, _join_text(commands), None, become=any(c.become for c in commands))

    def produced_text(self, command: Command) -> str | None:
        """The text an echo/printf/`cat <<EOF`/crontab-edit stage writes to its stdout."""
        if command.is_simple and not command.redirects:
            argv = self.resolve_words(command.words)
            if argv is None:
                return None
            if argv and argv[0] == "echo":
                return echo_text(tuple(argv[1:]))
            if argv and argv[0] == "printf":
                return printf_text(tuple(argv[1:]))
            if argv == ["cat"] and command.heredoc is not None:
                return self.heredoc_text(command)
            return None
        if command.node_type in ("subshell", "compound_statement"):
            # `(crontab -l; echo "0 3 * * * job") | crontab -`
            inner = parse_script(command.text.strip()[1:-1])
            pieces = []
            for statement in inner.statements:
                for stage in statement.commands:
                    argv = self.resolve_words(stage.words) if stage.is_simple else None
                    if argv and argv[0] == "echo":
                        pieces.append(echo_text(tuple(argv[1:])))
                    elif not (argv and argv[0] == "crontab" and "-l" in argv):
                        return None
            return "".join(pieces) or None
        return None

    # --- simple commands -----------------------------------------------------------------

    def command(self, ctx: _Context, command: Command, stdin: str | None,
                fallback: bool = True) -> bool:
        """Convert one command; returns False (doing nothing) only when fallback is off."""
        if not command.is_simple:
            if fallback:
                self.fallback_shell(ctx, command.text, None, become=command.become)
            return fallback
        if command.node_type in ("variable_assignment", "variable_assignments"):
            for name, word in command.assignments:
                self.assign(name, word, export=False)
            return True
        if command.node_type == "declaration_command" and command.words:
            return self.declaration(ctx, command)
        argv = self.resolve_words(command.words)
        redirects = []
        for redirect in command.redirects:
            target = self.substitute(redirect.target) if redirect.dynamic else redirect.target
            if target is None:
                argv = None
                break
            redirects.append(replace(redirect, target=target, dynamic=False))
        heredoc = self.heredoc_text(command) if command.heredoc is not None else None
        if argv is None or (command.heredoc is not None and heredoc is None) or not argv:
            if fallback:
                creates = _creates_of(argv, redirects) if argv else None
                self.fallback_shell(ctx, self.command_text(command), creates,
                                    become=command.become)
            return fallback
        sub_ctx = replace(ctx, become=ctx.become or command.become,
                          become_user=command.become_user or ctx.become_user)
        name = command_key(argv[0])
        if name == "cd" and not redirects:
            return self.change_directory(argv)
        if name in ("bash", "sh") and len(argv) == 3 and argv[1] == "-c":
            for inner in parse_script(argv[2]).statements:
                moved = replace(inner, first_line=ctx.statement.first_line,
                                last_line=ctx.statement.last_line)
                self.statement(moved, become=sub_ctx.become)
            return True
        if name in self.functions and not redirects:
            text, body = self.functions[name]
            if len(argv) > 1 or body is None or not self.try_statements(body, sub_ctx):
                self.fallback_shell(sub_ctx, text + "\n" + shlex.join(argv), None)
            return True
        env = {}
        for var, word in command.assignments:
            value = self.substitute_word(word)
            if value is None:
                argv = None
                break
            env[var] = value
        if argv is None:
            if fallback:
                self.fallback_shell(ctx, self.command_text(command), None, become=command.become)
            return fallback
        invocation = Invocation(argv=tuple(argv), stdin=heredoc if heredoc is not None else stdin,
                                redirects=tuple(redirects), cwd=self.cwd,
                                line=ctx.statement.first_line)
        found = apply_rules(invocation)
        if found is None:
            if not fallback:
                return False
            self.fallback(sub_ctx, command, argv, redirects, env)
            return True
        rule_name, tasks = found
        for task in tasks:
            self.emit(sub_ctx, task, rule_name, env)
        return True

    def unrolled(self, ctx: _Context, compound: Command) -> bool:
        """A `for` over fixed words or a `{ }` group of statements the rules cover, task by
        task; False (and nothing emitted) when any part would fall back to the shell."""
        if compound.body is None or compound.node_type == "while_statement":
            return False
        if compound.node_type == "subshell":
            return False  # its cd and variables must not leak; keep it whole
        if compound.node_type == "compound_statement":
            return self.try_statements(compound.body, ctx)
        if compound.node_type != "for_statement" or not compound.loop_variable:
            return False
        values = [self.substitute_word(w) for w in compound.loop_values]
        if not values or len(values) > 20 or any(v is None for v in values):
            return False
        snapshot = self.snapshot()
        for value in values:
            self.variables[compound.loop_variable] = value or ""
            if not self.try_statements(compound.body, ctx):
                self.restore(snapshot)
                return False
        return True

    def try_statements(self, statements: tuple[Statement, ...], ctx: _Context) -> bool:
        """Convert nested statements at the outer statement's lines; roll back on a fallback."""
        snapshot = self.snapshot()
        for inner in statements:
            moved = replace(inner, first_line=ctx.statement.first_line,
                            last_line=ctx.statement.last_line)
            self.statement(moved, become=ctx.become)
        if any(d.source.rule == "fallback" for d in self.drafts[snapshot[0]:]) \
                or len(self.uncovered) != snapshot[2]:
            self.restore(snapshot)
            return False
        return True

    def snapshot(self) -> tuple[int, int, int, dict[str, str], dict[str, str], str | None]:
        return (len(self.drafts), len(self.warnings), len(self.uncovered), dict(self.variables),
                dict(self.environment), self.cwd)

    def restore(self, snapshot: tuple[int, int, int, dict[str, str], dict[str, str],
                                      str | None]) -> None:
        drafts, warnings, uncovered, variables, environment, cwd = snapshot
        del self.drafts[drafts:]
        del self.warnings[warnings:]
        del self.uncovered[uncovered:]
        self.variables, self.environment, self.cwd = variables, environment, cwd

    def declaration(self, ctx: _Context, command: Command) -> bool:
        keyword = command.words[0].value
        if keyword not in ("export", "declare", "typeset", "local", "readonly"):
            self.fallback_shell(ctx, command.text, None)
            return True
        export = keyword == "export"
        for name, word in command.assignments:
            self.assign(name, word, export=export)
        if export:
            assigned = {name for name, _ in command.assignments}
            for word in command.words[1:]:
                if word.value in self.variables and word.value not in assigned:
                    self.environment[word.value] = self.variables[word.value]
        return True

    def assign(self, name: str, word: Word, export: bool) -> None:
        value = self.substitute_word(word)
        if value is not None:
            self.variables[name] = value
            if export:
                self.environment[name] = value
            return
        self.variables.pop(name, None)
        if export:
            # design: `export PATH=$PATH:/opt/x` -> the remote value via the gathered facts
            parts = []
            for part in word.parts:
                ref = _VAR_REF.match(part.text) if part.expansion else None
                if not part.expansion:
                    parts.append(part.text)
                elif ref and (ref.group(1) or ref.group(2)) in self.variables:
                    parts.append(self.variables[ref.group(1) or ref.group(2)])
                elif ref:
                    parts.append("{{ ansible_env." + (ref.group(1) or ref.group(2)) + " }}")
                else:
                    self.warnings.append(f"cannot export {name}: its value needs the shell")
                    return
            self.environment[name] = "".join(parts)

    def change_directory(self, argv: list[str]) -> bool:
        target = argv[1] if len(argv) > 1 else "~"
        if target == "-":
            self.cwd = None
        elif target.startswith(("/", "~")):
            self.cwd = target.rstrip("/") or "/"
        elif self.cwd is not None:
            self.cwd = Invocation(argv=("cd",), cwd=self.cwd).path(target)
        return True

    # --- words and variables -------------------------------------------------------------

    def substitute_word(self, word: Word) -> str | None:
        if word.glob:
            return None
        out = []
        for part in word.parts:
            if not part.expansion:
                out.append(part.text)
                continue
            ref = _VAR_REF.match(part.text)
            name = (ref.group(1) or ref.group(2)) if ref else None
            if name is None or name not in self.variables:
                return None
            out.append(self.variables[name])
        return "".join(out)

    def substitute(self, text: str) -> str | None:
        """Known variables substituted into text written with $NAME/${NAME}; None if unknown."""
        unknown = False

        def one(match: re.Match[str]) -> str:
            nonlocal unknown
            if match.group(0).startswith("\\"):
                return match.group(0)[1:]
            name = match.group(1) or match.group(2)
            if name is None or name not in self.variables:
                unknown = True
                return match.group(0)
            return self.variables[name]

        result = re.sub(r"\\[$`\\]|\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\}|"
                        r"[({0-9#?@*!$-])|`", one, text)
        return None if unknown else result

    def resolve_words(self, words: tuple[Word, ...]) -> list[str] | None:
        values = []
        for word in words:
            value = self.substitute_word(word)
            if value is None:
                return None
            values.append(value)
        return values

    def heredoc_text(self, command: Command) -> str | None:
        heredoc = command.heredoc
        if heredoc is None:
            return None
        if heredoc.quoted:
            return heredoc.body
        return self.substitute(heredoc.body)

    def command_text(self, command: Command) -> str:
        """The command as written, without its leading sudo."""
        if command.become and command.words:
            start = command.text.find(command.words[0].raw, 4)
            if start > 0:
                return command.text[start:]
        return command.text

    # --- tasks -----------------------------------------------------------------------------

    def emit(self, ctx: _Context, task: Task, rule_name: str, env: dict[str, str]) -> None:
        if task.role == "no-op":
            return
        if task.note:
            self.warn(ctx.statement, task.note)
        data = task.as_dict()
        module = task.module
        if module in (COMMAND, SHELL):
            if self.cwd and "chdir" not in data[module]:
                data[module]["chdir"] = self.cwd
            if ctx.creates and "creates" not in data[module]:
                data[module]["creates"] = ctx.creates
        self.finish(ctx, data, module, env)
        statement = ctx.statement
        self.drafts.append(_Draft(task=data, source=TaskSource(statement.first_line,
                                                               statement.last_line, rule_name),
                                  module=module, role=task.role, service=task.service,
                                  path=task.path, become=ctx.become))

    def finish(self, ctx: _Context, data: dict[str, Any], module: str, env: dict[str, str]) -> None:
        if ctx.become:
            data["become"] = True
            if ctx.become_user:
                data["become_user"] = ctx.become_user
        environment = {**self.environment, **env}
        if module not in (COMMAND, SHELL):
            # design: a module does not read the script's variables; only proxy settings and
            # what the line itself set (`FOO=1 pip install`) can change what it does
            environment = {k: v for k, v in environment.items()
                           if k in env or k.lower() in _PROXY_VARIABLES}
            if module in _NO_ENVIRONMENT:
                environment = {}
        if module in ("ansible.builtin.apt", "ansible.builtin.dnf"):
            environment.pop("DEBIAN_FRONTEND", None)
        if environment:
            data["environment"] = environment
        if ctx.ignore_errors:
            data["failed_when"] = False

    def fallback(self, ctx: _Context, command: Command, argv: list[str], redirects: list[Any],
                 env: dict[str, str]) -> None:
        if redirects or command.heredoc is not None or command.herestring is not None \
                or any(w.raw.startswith("~") for w in command.words):
            self.fallback_shell(ctx, self.command_text(command), _creates_of(argv, redirects),
                                env=env)
            return
        module_args: dict[str, Any] = {"cmd": shlex.join(argv)}
        self.guarded(ctx, COMMAND, module_args, argv, _creates_of(argv, []), env)

    def fallback_shell(self, ctx: _Context, text: str, creates: str | None,
                       become: bool = False, env: dict[str, str] | None = None) -> None:
        ctx = replace(ctx, become=ctx.become or become)
        text = _strip_leading_sudo(text)
        prelude = [f"{name}={shlex.quote(value)}" for name, value in self.variables.items()
                   if name not in self.environment and re.search(
                       r"\$\{?" + re.escape(name) + r"\b", text)]
        if "|" in re.sub(r"'[^']*'|\|\||\"(?:\\.|[^\"])*\"", "", text):
            prelude.insert(0, "set -o pipefail")
        body = "\n".join(prelude + [text.strip()])
        module_args: dict[str, Any] = {"cmd": body, "executable": "/bin/bash"}
        argv = body.split()
        self.guarded(ctx, SHELL, module_args, argv, creates, env or {})

    def guarded(self, ctx: _Context, module: str, module_args: dict[str, Any], argv: list[str],
                creates: str | None, env: dict[str, str]) -> None:
        creates = ctx.creates or creates
        if self.cwd:
            module_args["chdir"] = self.cwd
        data: dict[str, Any] = {"name": _fallback_name(module_args["cmd"]), module: module_args}
        if creates:
            module_args["creates"] = creates
        elif _read_only(argv):
            data["changed_when"] = False
        else:
            data["changed_when"] = True
        self.finish(ctx, data, module, env)
        statement = ctx.statement
        span = f"{statement.first_line}" if statement.first_line == statement.last_line \
            else f"{statement.first_line}-{statement.last_line}"
        kind = "shell" if module == SHELL else "command"
        program = argv[0] if argv else "?"
        if program == "set" and len(argv) > 3:
            program = argv[3]
        self.warnings.append(f"line {span}: no rule for `{_short(module_args['cmd'])}`; "
                             f"kept as {kind}, review it")
        if statement not in self.uncovered:
            self.uncovered.append(statement)
        self.drafts.append(_Draft(task=data, source=TaskSource(statement.first_line,
                                                               statement.last_line, "fallback"),
                                  module=module, become=ctx.become))

    def warn(self, statement: Statement, message: str) -> None:
        span = f"{statement.first_line}" if statement.first_line == statement.last_line \
            else f"{statement.first_line}-{statement.last_line}"
        warning = f"line {span}: {message}"
        if warning not in self.warnings:
            self.warnings.append(warning)

    def uncover(self, statement: Statement, why: str) -> None:
        self.warn(statement, why)
        if statement not in self.uncovered:
            self.uncovered.append(statement)


# --- helpers ---------------------------------------------------------------------------------

def _lines_with_parse_errors(statements: Iterable[Statement]) -> set[int]:
    """Every line that a statement with a parse error spans."""
    return {
        line
        for statement in statements
        if statement.kind == "error" or statement.errors
        for line in range(statement.first_line, statement.last_line + 1)
    }


def _is_true(pipeline: Pipeline) -> bool:
    commands = pipeline.commands
    return len(commands) == 1 and commands[0].is_simple and commands[0].argv in (("true",), (":",))


_TEST = re.compile(r"^\s*(?:\[\[?|test)\s+(!\s+)?-([edfsLx])\s+(\"[^\"]+\"|'[^']+'|[^\s\]]+)"
                   r"\s*(?:\]\]?)?\s*$")


def _test_guard(pipeline: Pipeline, operator: str | None) -> str | None:
    """`[ -d X ] || ...` and `[ ! -e X ] && ...`: the rest of the line makes X."""
    if operator is None or len(pipeline.commands) != 1:
        return None
    match = _TEST.match(pipeline.commands[0].text)
    if not match or "$" in match.group(3):
        return None
    negated = bool(match.group(1))
    if (operator == "||" and not negated) or (operator == "&&" and negated):
        return match.group(3).strip("\"'")
    return None


_IF_GUARD = re.compile(r"^\s*if\s+(?:\[\[?|test)\s+!\s+-([edfsL])\s+(\"[^\"$]+\"|'[^']+'|[^\s\]$]+)"
                       r"\s*(?:\]\]?)?\s*;?\s*then\b")


def _guard_of_compound(text: str) -> str | None:
    """`if [ ! -f X ]; then ... fi` (no else) creates X."""
    match = _IF_GUARD.match(text)
    if not match or re.search(r"\b(else|elif)\b", text):
        return None
    return match.group(2).strip("\"'")


_OUTPUT_FLAGS = {"-o", "--output", "-out", "-O", "--output-document", "-keyout"}


def _creates_of(argv: list[str], redirects: list[Any]) -> str | None:
    """The file a command evidently makes, so it can be skipped when the file exists."""
    if not argv:
        return None
    name = command_key(argv[0])
    for redirect in redirects:
        if redirect.op in (">",) and redirect.fd in (None, 1) and redirect.target.startswith("/") \
                and redirect.target != "/dev/null":
            return str(redirect.target)
    for i, arg in enumerate(argv[1:-1], 1):
        if arg in _OUTPUT_FLAGS and argv[i + 1].startswith("/"):
            return argv[i + 1]
    if name == "ssh-keygen" and "-f" in argv[:-1]:
        return argv[argv.index("-f") + 1]
    if name == "dd":
        for arg in argv:
            if arg.startswith("of=/"):
                return arg[3:]
    if name in ("python3", "python") and argv[1:3] == ["-m", "venv"] and len(argv) >= 4 \
            and argv[-1].startswith("/"):
        return argv[-1] + "/bin/python"
    if name in ("virtualenv",) and argv[-1].startswith("/"):
        return argv[-1] + "/bin/python"
    if name == "fallocate" and argv[-1].startswith("/"):
        return argv[-1]
    if name in ("tar",) and any(a.startswith("-c") or a == "czf" for a in argv[1:2]) \
            and "-f" in "".join(argv[1:2]):
        return None
    if name == "certbot" and "-d" in argv[:-1]:
        return "/etc/letsencrypt/live/" + argv[argv.index("-d") + 1]
    return None


def _read_only(argv: list[str]) -> bool:
    if not argv:
        return False
    name = command_key(argv[0])
    if name == "systemctl" and len(argv) > 1 and argv[1] in ("status", "is-active", "is-enabled"):
        return True
    if name == "find" and any(a in ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint",
                                     "-fprintf", "-fls") for a in argv):
        return False
    if name in _READ_ONLY_FLAGS:
        return any(flag in argv[1:] for flag in _READ_ONLY_FLAGS[name])
    return name in _READ_ONLY and name not in ("curl", "docker", "psql", "mysql", "npm", "node",
                                               "python3", "python", "java", "go")


def _join_text(commands: tuple[Command, ...]) -> str:
    return " | ".join(c.text for c in commands)


def _strip_leading_sudo(text: str) -> str:
    return re.sub(r"^(\s*)sudo\s+(?:-[A-Za-z]+\s+(?:(?<=-u\s)\S+\s+)?)*", r"\1", text)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.replace("set -o pipefail\n", "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fallback_name(cmd: str) -> str:
    lines = [line for line in cmd.splitlines() if line.strip() and line != "set -o pipefail"
             and not re.match(r"^[A-Za-z_]\w*=", line)]
    text = _short(lines[0] if lines else cmd, 50).replace("{", "(").replace("}", ")")
    return "Run " + text


# --- post-processing ---------------------------------------------------------------------

def _fold_apt_update(drafts: list[_Draft]) -> list[_Draft]:
    out: list[_Draft] = []
    for draft in drafts:
        previous = out[-1] if out else None
        if previous is not None and previous.role == "apt-update" \
                and draft.module == "ansible.builtin.apt" and "name" in draft.task[draft.module]:
            draft.task[draft.module] = {**draft.task[draft.module], "update_cache": True}
            draft.source = TaskSource(previous.source.first_line, draft.source.last_line,
                                      draft.source.rule)
            out[-1] = draft
            continue
        out.append(draft)
    return out


_ATTRS = ("mode", "owner", "group")
_CREATORS = {"ansible.builtin.copy": "dest", "ansible.builtin.get_url": "dest",
             "ansible.builtin.file": "path", "ansible.builtin.lineinfile": "path",
             "ansible.builtin.blockinfile": "path"}


def _fold_attributes(drafts: list[_Draft]) -> list[_Draft]:
    """`chmod 600 f` / `chown u f` right after the task that made f: fold into that task."""
    out: list[_Draft] = []
    for draft in drafts:
        args = draft.task.get("ansible.builtin.file")
        if isinstance(args, dict) and "loop" not in draft.task and draft.path \
                and set(args) <= {"path", *_ATTRS}:
            target = next((d for d in reversed(out) if d.path == draft.path
                           and d.module in _CREATORS and "loop" not in d.task
                           and d.become == draft.become), None)
            if target is not None and _CREATORS[target.module] in target.task[target.module] \
                    and _may_move_back(args, out[out.index(target) + 1:]):
                module_args = target.task[target.module]
                mode = args.get("mode")
                if mode is not None and not mode.isdigit():
                    mode = _apply_symbolic(module_args.get("mode"), mode)
                    if mode is None:
                        out.append(draft)
                        continue
                for key in _ATTRS:
                    if key in args:
                        module_args[key] = mode if key == "mode" else args[key]
                target.source = TaskSource(target.source.first_line, draft.source.last_line,
                                           target.source.rule)
                continue
        out.append(draft)
    return out


_ACCOUNTS = frozenset({"ansible.builtin.user", "ansible.builtin.group"})


def _may_move_back(args: dict[str, Any], between: list[_Draft]) -> bool:
    """An attribute may move to an earlier task unless a task in between could depend on it:
    a command/shell (it may read or run the file), or for owner/group a user/group being made."""
    if any(d.module in (COMMAND, SHELL) for d in between):
        return False
    return not ({"owner", "group"} & set(args) and any(d.module in _ACCOUNTS for d in between))


_COPY = "ansible.builtin.copy"
_EDITS = {"ansible.builtin.replace": {"path", "regexp", "replace"},
          "ansible.builtin.lineinfile": {"path", "line", "create", "mode"}}


def _fold_edits(drafts: list[_Draft]) -> list[_Draft]:
    """`cat > f <<EOF` then `sed -i`/`echo >> f`: apply the edit to the written content.

    design: as separate tasks the copy rewrites the original text on every run and the edit
    changes it again, so the playbook never converges; the content as edited says the same
    thing once. Only plain edits fold, and only when nothing in between touches or runs
    anything (a command could read the intermediate file)."""
    out: list[_Draft] = []
    for draft in drafts:
        target = _content_target(draft, out)
        edited = _edited_content(draft, target.task[_COPY]["content"]) if target else None
        if target is None or edited is None:
            out.append(draft)
            continue
        target.task[_COPY]["content"] = edited
        mode = draft.task[draft.module].get("mode")
        if mode is not None:
            target.task[_COPY]["mode"] = mode
        target.source = TaskSource(target.source.first_line, draft.source.last_line,
                                   target.source.rule)
    return out


def _content_target(draft: _Draft, out: list[_Draft]) -> _Draft | None:
    """The earlier copy-with-content task of the same file this plain edit can fold into."""
    args = draft.task.get(draft.module)
    if draft.module not in _EDITS or not isinstance(args, dict) or not draft.path \
            or not set(args) <= _EDITS[draft.module] or set(draft.task) - {"name", draft.module, "become"}:
        return None
    for index in range(len(out) - 1, -1, -1):
        candidate = out[index]
        if candidate.path == draft.path:
            copy_args = candidate.task.get(_COPY)
            ok = isinstance(copy_args, dict) and isinstance(copy_args.get("content"), str) \
                and "loop" not in candidate.task and candidate.become == draft.become \
                and not any(d.module in (COMMAND, SHELL) for d in out[index + 1:])
            return candidate if ok else None
    return None


def _edited_content(draft: _Draft, content: str) -> str | None:
    """What the replace/lineinfile task would leave in a file holding `content`."""
    args = draft.task[draft.module]
    if draft.module == "ansible.builtin.replace":
        try:  # the replace module's own semantics: re.MULTILINE, Python replacement syntax
            return re.sub(args["regexp"], args["replace"], content, flags=re.MULTILINE)
        except (re.error, IndexError):
            return None
    line = args.get("line")
    if not isinstance(line, str):
        return None
    if line in content.splitlines():
        return content
    return (content if content.endswith("\n") or not content else content + "\n") + line + "\n"


def _fold_mount_all(drafts: list[_Draft]) -> list[_Draft]:
    """`mount -a` after fstab lines: those entries become `state: mounted`, no command."""
    out: list[_Draft] = []
    for draft in drafts:
        if draft.role != "mount-all":
            out.append(draft)
            continue
        entries = []
        for previous in reversed(out):
            if previous.role == "mount-all":
                break
            args = previous.task.get("ansible.posix.mount")
            if isinstance(args, dict) and args.get("state") == "present" \
                    and args.get("fstype") != "swap" and "loop" not in previous.task:
                entries.append(previous)
        if not entries or any(e.become != draft.become for e in entries):
            out.append(draft)
            continue
        for entry in entries:
            entry.task["ansible.posix.mount"]["state"] = "mounted"
            where = entry.task["ansible.posix.mount"]["path"]
            entry.task["name"] = f"Mount {where} and add it to /etc/fstab"
    return out


def _apply_symbolic(base: Any, symbolic: str) -> str | None:
    """`+x` applied to "0644" -> "0755"; None when the base is not a plain octal mode."""
    if not isinstance(base, str) or not base.isdigit():
        return None
    mode = int(base, 8)
    for clause in symbolic.split(","):
        match = re.fullmatch(r"([ugoa]*)([+=-])([rwx]*)", clause)
        if not match:
            return None
        who = match.group(1) or "a"
        if "a" in who:
            who = "ugo"
        bits = 0
        for person in who:
            shift = {"u": 6, "g": 3, "o": 0}[person]
            for perm in match.group(3):
                bits |= {"r": 4, "w": 2, "x": 1}[perm] << shift
        if match.group(2) == "+":
            mode |= bits
        elif match.group(2) == "-":
            mode &= ~bits
        else:
            for person in who:
                mode &= ~(7 << {"u": 6, "g": 3, "o": 0}[person])
            mode |= bits
    return format(mode, "04o")


def _related(path: str | None, service: str) -> bool:
    if not path:
        return False
    names = {service, service.removesuffix("d"), service.split("@")[0]}
    if "-" in service and len(service.split("-")[0]) >= 4:
        names.add(service.split("-")[0])  # redis-server: /etc/redis, postgresql-15: /etc/postgresql
    if service in ("ssh", "sshd"):
        names |= {"ssh", "sshd"}
    if service.startswith("php") or service.startswith("apache"):
        names |= {"php", "apache", "apache2", "httpd"}
    parts = set(re.split(r"[/._-]", path))
    return any(name and (name in parts or f"/{name}" in path) for name in names)


def _handlers(drafts: list[_Draft]) -> tuple[list[_Draft], list[dict[str, Any]]]:
    """A restart after a config change becomes a handler that the change notifies."""
    handlers: dict[str, dict[str, Any]] = {}
    out: list[_Draft] = []
    pending: list[_Draft] = []  # config tasks since the last restart
    for index, draft in enumerate(drafts):
        if draft.role == "config":
            pending.append(draft)
        if draft.role != "restart" or draft.service is None or "loop" in draft.task:
            out.append(draft)
            continue
        related = [d for d in pending if _related(d.path, draft.service)]
        if not related:
            trailing: list[_Draft] = []
            for previous in reversed(out):
                if previous.role != "config":
                    break
                trailing.append(previous)
            related = trailing
        if not related:
            out.append(draft)
            continue
        module_args = draft.task[draft.module]
        state = module_args.get("state", "restarted")
        verb = "Reload" if state == "reloaded" else "Restart"
        name = f"{verb} {draft.service}"
        handler: dict[str, Any] = {"name": name, draft.module: {"name": draft.service, "state": state}}
        if draft.become:
            handler["become"] = True
        handlers.setdefault(name, handler)
        for config in related:
            notify = config.task.setdefault("notify", [])
            if name not in notify:
                notify.append(name)
        pending = [d for d in pending if d not in related]
        if index < len(drafts) - 1:
            # later lines may rely on the restart having happened: run handlers here
            out.append(_Draft(task={"name": f"{verb} {draft.service} now if its configuration "
                                            "changed", "ansible.builtin.meta": "flush_handlers"},
                              source=draft.source, module="ansible.builtin.meta"))
    return out, list(handlers.values())
