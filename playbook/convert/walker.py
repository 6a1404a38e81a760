"""The statement walker: converts parsed shell statements into tasks, keeping the shell's state.

# design: one pass over the parsed statements keeps the shell's state the way bash would:
# variables (substituted into later words), exported variables (`environment`), the current
# directory (`chdir` and relative paths), functions (inlined where called). Each simple
# command is resolved into an Invocation and offered to the rule table (playbook.rules); what
# no rule takes becomes `ansible.builtin.command` (or `shell` when shell syntax is needed),
# guarded by `creates`/`removes` when the line says what it makes, else `changed_when`, and a
# warning naming the line. A shell task carries what it depends on: the variables and the
# functions its text uses, and the directory it runs in.
#
# design: ShellWalker is one class split by job into mixins (see state.WalkerState): this
# module dispatches statements, pipelines and simple commands (and unrolls loops, groups and
# subshells); the rest lives in
#   state.py      the shell's state, Context, snapshot/restore/try_statements, warnings
#   tasks.py      emit/finish a rule's task; the guarded command/shell fallback tasks
#   values.py     words and variables: substitution, assignments, facts the host works out
#   branches.py   if/case arms decided here or under a `when`; path guards; exit and failing lines
#   functions.py  function calls inlined, uncalled (library) functions, loggers and wrappers
#   queries.py    `$(query)` in a line worked out first; `. /etc/os-release` read by a module
#   shapes.py     pure predicates on parsed shell (only prints, only reads, cd, exit, ...)
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, replace
from typing import Any

from playbook.convert.branches import BranchesMixin
from playbook.convert.conditions import HOST_VALUE as _FACT
from playbook.convert.conditions import HOST_VALUE, join_when, negate, register_name
from playbook.convert.fallback import creates_of, download_to_stdout
from playbook.convert.functions import FunctionsMixin
from playbook.convert.queries import QueriesMixin
from playbook.convert.host_checks import module_check
from playbook.convert.guards import guard_of_compound, if_condition, is_true, path_condition, test_guard
from playbook.convert.shapes import (
    MOVES_ARGUMENTS,
    argument_numbers,
    exits,
    inline_script,
    is_cd,
    login_shell,
    lines_with_parse_errors,
    only_prints,
    starts_unless_running,
    takes_patterns,
)
from playbook.convert.state import Context
from playbook.convert.values import fact_name, parameter_operation
from playbook.passes import COMMAND, Step, TaskSource
from playbook.rules import apply_rules, command_key
from playbook.rules.base import UNKNOWN_DIRECTORY, Invocation, Task, parse_options
from playbook.rules.content import echo_text, literal, printf_text
from playbook.rules.network import unpack_download
from playbook.shell import MAX_NESTING, Command, Pipeline, Statement, parse_script, source_text

# re-exported: callers and tests import them from here
__all__ = ["ShellWalker", "lines_with_parse_errors", "parameter_operation"]

# programs that ask to confirm, whose modules never ask (`yes | ufw enable`)
_CONFIRMS = frozenset({"ufw", "apt-get", "apt", "dnf", "yum"})
# commands whose rules read Invocation.globbed: their glob words are passed as written
_GLOB_AWARE = frozenset({"rm", "sed"})


def hold_value(script: str, value: str, variable: str) -> str:
    """``script`` with each ``value`` read through ``$variable`` instead; inside single quotes
    (`'${X}'` in `bash -c "... '${X}' ..."`, which the outer shell expanded before the inner
    one ran) the quote is closed around it, so the inner shell still sees the value."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(script):
        if script.startswith(value, i):
            reference = "${" + variable + "}"
            out.append("'\"" + reference + "\"'" if quote == "'" else reference)
            i += len(value)
            continue
        char = script[i]
        if char == "\\" and quote != "'":
            out.append(script[i:i + 2])
            i += 2
            continue
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        out.append(char)
        i += 1
    return "".join(out)


@dataclass
class ShellWalker(QueriesMixin, BranchesMixin, FunctionsMixin):
    """Walks statements in script order; ``drafts`` are the tasks made so far."""

    # --- statements ----------------------------------------------------------------------

    def statement(self, statement: Statement, become: bool = False, when: str | None = None,
                  become_user: str | None = None) -> None:
        ctx = Context(statement, become=become, when=when, become_user=become_user)
        if self.ended_at is not None:
            return
        if self.depth >= MAX_NESTING:  # a function calling functions calling ... : one shell task
            self.fallback_shell(ctx, statement.text, None)
            return
        outer, self.current = self.current, statement
        self.depth += 1
        try:
            self.walk(ctx, statement, become, when)
        finally:
            self.depth -= 1
            self.current = outer

    def arithmetic(self, statement: Statement, expression: str) -> None:
        """`((count++))`: arithmetic on shell variables changes nothing on the host (no task);
        what it assigns is unknown afterwards."""
        for name in re.findall(r"(?<![\w$])([A-Za-z_]\w*)\s*(?:\+\+|--|[-+*/%]?=(?!=))|(?:\+\+|--)\s*([A-Za-z_]\w*)", expression):
            variable = name[0] or name[1]
            self.variables.pop(variable, None)
            self.definitions.pop(variable, None)
            self.shell_only.add(variable)
        if re.search(r"\w\s*(?:\+\+|--)\s*$", expression.strip()):
            self.warn(statement, f"(({expression.strip()})) only counts in a shell variable: no task (its status is "
                                 "1 when the old value was 0, which would stop a script run with set -e)")

    def walk(self, ctx: Context, statement: Statement, become: bool, when: str | None) -> None:
        if statement.kind == "error":
            self.warn(statement, "could not be parsed; no task was made for it, fix the line and convert again")
            return
        if statement.kind == "function":
            definition = statement.commands[0] if statement.commands else None
            if definition is not None and definition.function_name:
                self.functions[definition.function_name] = (statement.text, definition.body)
                if definition.function_name in self.uncalled and definition.body is not None:
                    self.library_function(ctx, definition.function_name, definition.body)
            return
        if statement.kind == "compound":
            compound = statement.commands[0]
            arithmetic = re.fullmatch(r"\(\((.*)\)\)", statement.text.strip(), re.DOTALL)
            if compound.node_type == "compound_statement" and arithmetic and not compound.redirects:
                self.arithmetic(statement, arithmetic.group(1))
                return
            if not compound.redirects and self.unrolled(ctx, compound):
                return
            guarded_if = if_condition(statement.text) if compound.node_type == "if_statement" else None
            path = self.substitute(guarded_if[0].path) if guarded_if is not None else None
            if guarded_if is not None and path and not compound.redirects:
                condition, body = replace(guarded_if[0], path=path), parse_script(guarded_if[1]).statements
                if self.early_exit(ctx, condition, body) or self.guarded_body(ctx, condition, body):
                    return
            if not compound.redirects and self.fails_unless(ctx, compound):
                return
            if not compound.redirects and self.restart_or_start(ctx, compound):
                return
            if compound.branches and not compound.redirects and self.conditional(ctx, compound):
                return
            self.fallback_shell(ctx, statement.text, guard_of_compound(statement.text))
            return
        pipelines = list(statement.pipelines)
        operators = list(statement.operators)
        # `cmd || true`, `cmd || echo "could not"`: run cmd, never fail
        if operators and operators[-1] == "||" and (is_true(pipelines[-1]) or (
                len(pipelines[-1].commands) == 1 and only_prints(pipelines[-1].commands[0]))):
            ctx.ignore_errors = True
            pipelines, operators = pipelines[:-1], operators[:-1]
        # `ls X || ( ... )`, `[ -f X ] && { ...; }`: the block runs only when X is absent/present
        if len(pipelines) == 2 and operators in (["||"], ["&&"]):
            tested = path_condition(pipelines[0])
            block = pipelines[1].commands[0] if len(pipelines[1].commands) == 1 else None
            if tested is not None and block is not None and not block.redirects and (
                    block.node_type in ("subshell", "compound_statement") and block.body is not None
                    or test_guard(pipelines[0], operators[0]) is None and block.is_simple):
                run_when = tested.negated() if operators[0] == "||" else tested
                inner = block.body if block.body is not None and not block.is_simple else (
                    replace(statement, pipelines=(pipelines[1],), operators=()),)
                if self.guarded_body(ctx, run_when, inner):
                    return
        # `cd DIR || exit`: a task in a missing directory fails as the script would stop
        if operators == ["||"] and is_cd(pipelines[0]) and exits(pipelines[1]):
            pipelines, operators = pipelines[:1], []
        # `service X status || service X start`: X runs afterwards, which the service module says
        if operators == ["||"] and starts_unless_running(pipelines[0], pipelines[1]):
            pipelines, operators = pipelines[1:], []
        # `install || handle_error $? "..."`, `make || { echo failed; exit 1; }`: the script stops
        # where the command failed, as the play stops at a failed task
        if operators == ["||"] and self.stops_the_script(pipelines[1]):
            if self.required(ctx, pipelines[0]):
                return
            pipelines, operators = pipelines[:1], []
        # `[ -d X ] || cmd`, `[ ! -f X ] && cmd`: cmd creates X
        guard = test_guard(pipelines[0], operators[0] if operators else None)
        if guard is not None:
            ctx.creates = guard
            pipelines, operators = pipelines[1:], operators[1:]
        if any(op != "&&" for op in operators):
            self.fallback_shell(ctx, statement.text, None)
            return
        for pipeline in pipelines:
            self.pipeline(ctx, pipeline)

    def required(self, ctx: Context, test: Pipeline) -> bool:
        """`command -v mysql >/dev/null || { echo "mysql is required"; exit 1; }`: a test a module
        answers (host_checks), then a fail where it did not hold, as the script stops there."""
        text = ("! " if test.negated else "") + join_text(test.commands)
        register = register_name(text, set(re.findall(r"[A-Za-z_]\w*", ctx.when or "")))
        answered = module_check(self.called_test(text) or text, register, set(self.functions))
        if answered is None:
            return False
        task, expression = answered
        source = TaskSource(ctx.statement.first_line, ctx.statement.last_line, "guard")
        fail = {"name": "Fail, as the script stops here", "ansible.builtin.fail": {
            "msg": f"the script stops here: `{text.strip()}` did not hold"}, "when": join_when(ctx.when, negate(expression))}
        if ctx.when:
            task["when"] = ctx.when
        if ctx.become:
            task["become"] = True
        self.drafts.extend([Step(task, source), Step(fail, source)])
        return True

    def pipeline(self, ctx: Context, pipeline: Pipeline) -> None:
        """One pipeline; a `$(query)` in its words that only reads (`$(dpkg --print-architecture)`)
        is worked out by a task of its own first, when that lets a rule take the line."""
        queries = [] if pipeline.negated else self.queries_in(pipeline)
        if queries:
            snapshot = self.snapshot()
            for text in queries:
                self.query_fact(ctx, text)
            self.plain_pipeline(ctx, pipeline)
            fell_back = len(self.uncovered) != snapshot.uncovered or any(
                d.source is not None and d.source.rule == "fallback" for d in self.drafts[snapshot.drafts:])
            for text in queries:
                self.worked_out.pop(text, None)
            if not fell_back:
                return
            self.restore(snapshot)
        self.plain_pipeline(ctx, pipeline)

    def plain_pipeline(self, ctx: Context, pipeline: Pipeline) -> None:
        commands = pipeline.commands
        if pipeline.negated:
            self.fallback_shell(ctx, join_text(commands), None)
            return
        if len(commands) == 1:
            self.command(ctx, commands[0], None)
            return
        if len(commands) == 2 and self.answers_yes(ctx, commands):
            return
        stdin = self.produced_text(commands[0])
        if stdin is not None and len(commands) == 2 and self.sudoers_append(ctx, stdin, commands[1]):
            return
        if stdin is not None and len(commands) == 2 and commands[1].is_simple:
            if self.command(ctx, commands[1], stdin, fallback=False):
                return
        if len(commands) == 2 and (self.signing_key(ctx, commands) or self.downloaded_then(ctx, commands)):
            return
        self.fallback_shell(ctx, join_text(commands), None, become=any(c.become for c in commands))

    def sudoers_append(self, ctx: Context, text: str, stage: Command) -> bool:
        """`echo 'u ALL=(ALL) NOPASSWD: ALL' | (EDITOR='tee -a' visudo)`: visudo appends the line
        to /etc/sudoers through `tee -a` and installs it only if the file still parses; lineinfile
        with visudo as its validate (which adds the line once, where a second run of the script
        would add it again)."""
        if stage.node_type == "subshell" and stage.body is not None and len(stage.body) == 1 \
                and stage.body[0].command is not None and not stage.redirects:
            stage = stage.body[0].command
        editor = [self.substitute_word(w) for n, w in stage.assignments if n == "EDITOR"]
        line = text[:-1] if text.endswith("\n") else text
        if not stage.is_simple or stage.redirects or [w.raw for w in stage.words] != ["visudo"] \
                or len(stage.assignments) != 1 or editor != ["tee -a"] or "\n" in line or not line.strip():
            return False
        task = Task(f"Allow in /etc/sudoers: {line}", "ansible.builtin.lineinfile",
                    {"path": "/etc/sudoers", "line": line, "validate": "visudo -cf %s"})
        self.emit(replace(ctx, become=True), task, "visudo", {})
        return True

    def answers_yes(self, ctx: Context, commands: tuple[Command, ...]) -> bool:
        """`yes | ufw enable`, `yes y | apt-get install x`: the answers only confirm what the
        command asks, which its module does unasked; the command alone, for the programs
        whose modules never prompt."""
        first, second = commands
        if not first.is_simple or first.redirects or [w.raw for w in first.words] not in (["yes"], ["yes", "y"]) \
                or not second.is_simple or not second.words or command_key(second.words[0].value) not in _CONFIRMS:
            return False
        return self.command(ctx, second, None, fallback=False)

    def downloaded_then(self, ctx: Context, commands: tuple[Command, ...]) -> bool:
        """`curl -fsSL URL | gpg --dearmor -o KEY` and `curl -fsSL URL | [sudo] bash`: the download
        is a get_url into /tmp, and the second stage reads that file (a command: gpg writes KEY
        unless it is there, bash runs the installer)."""
        fetch = self.resolve_words(commands[0].words) if commands[0].is_simple and not commands[0].redirects else None
        stage = commands[1]
        into = [r.target for r in stage.redirects if r.op == ">" and r.fd in (None, 1) and not r.dynamic]
        then = self.resolve_words(stage.words) if stage.is_simple and len(stage.redirects) == len(into) <= 1 else None
        url = download_to_stdout(fetch) if fetch else None
        if url is None or not then or any(HOST_VALUE.search(a) for a in [url, *then]):
            return False
        if into and "-o" not in then:  # `gpg --dearmor > KEY`
            then = [*then, "-o", into[0]]
        elif into:
            return False
        name = command_key(then[0])
        base = re.sub(r"[^A-Za-z0-9._-]", "_", posixpath.basename(url.split("?")[0].rstrip("/")) or "download")
        become = ctx.become or any(c.become for c in commands)
        if name == "tar" and not into:  # `curl URL | tar -xz -C DIR`: unarchive fetches it itself
            unpacked = unpack_download(url, Invocation(argv=tuple(then), cwd=self.cwd, line=ctx.statement.first_line,
                                                       umask=self.umask))
            if unpacked is None:
                return False
            for task in unpacked:
                self.emit(replace(ctx, become=become), task, "download", {})
            return True
        if name == "gpg" and "--dearmor" in then and "-o" in then[:-1] and then[then.index("-o") + 1].startswith("/") \
                and all(a in ("--dearmor", "-o", "--batch", "--yes") or a == then[then.index("-o") + 1] for a in then[1:]):
            key = then[then.index("-o") + 1]
            fetched = f"/tmp/{base}" if base.endswith((".asc", ".gpg", ".key", ".pub")) else f"/tmp/{base}.asc"
            second = Task(f"Dearmor the signing key into {key}", COMMAND,
                          {"cmd": shlex.join(["gpg", "--batch", "--yes", "--dearmor", "-o", key, fetched]), "creates": key})
        elif name in ("bash", "sh") and len(then) == 1:
            fetched = f"/tmp/{base}"
            second = Task(f"Run the installer {base}", COMMAND, {"cmd": shlex.join([name, fetched])},
                          extra={"changed_when": True},
                          note=f"runs the installer script {url} as the script did: review what it does")
        else:
            return False
        sub = replace(ctx, become=become)
        download = Task(f"Download {url}", "ansible.builtin.get_url", {"url": url, "dest": fetched, "mode": "0644"})
        self.emit(sub, download, "download", {})
        self.emit(sub, second, "download", {})
        return True

    def signing_key(self, ctx: Context, commands: tuple[Command, ...]) -> bool:
        """`curl -fsSL URL | apt-key add -` (or wget -qO-): the apt_key module fetches it itself."""
        fetch = self.resolve_words(commands[0].words) if commands[0].is_simple and not commands[0].redirects else None
        add = self.resolve_words(commands[1].words) if commands[1].is_simple and not commands[1].redirects else None
        url = download_to_stdout(fetch) if fetch else None
        if url is None or add is None or [command_key(a) for a in add[:1]] != ["apt-key"] or add[1:] != ["add", "-"]:
            return False
        task = Task(f"Add the apt signing key from {url}", "ansible.builtin.apt_key", {"url": url, "state": "present"},
                    note="apt-key is deprecated on current Debian and Ubuntu; prefer a key file in /etc/apt/keyrings "
                         "and signed-by in the repository line")
        self.emit(replace(ctx, become=ctx.become or any(c.become for c in commands)), task, "apt-key", {})
        return True

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

    def command(self, ctx: Context, command: Command, stdin: str | None,
                fallback: bool = True) -> bool:
        """Convert one command; returns False (doing nothing) only when fallback is off."""
        if not command.is_simple:
            if fallback:
                self.fallback_shell(ctx, command.text, None, become=command.become)
            return fallback
        if command.node_type in ("variable_assignment", "variable_assignments"):
            for name, word in command.assignments:
                self.assign(name, word, export=False, ctx=ctx)
            return True
        if command.node_type == "declaration_command" and command.words:
            return self.declaration(ctx, command)
        if self.positional(command):
            return True
        glob_aware = bool(command.words) and command_key(command.words[0].value) in _GLOB_AWARE \
            and not any(w.raw in ('"$@"', "$@") for w in command.words)
        argv = self.resolve_words(command.words, literal_globs=takes_patterns(command) or glob_aware)
        globbed = frozenset(i for i, w in enumerate(command.words) if w.glob) if glob_aware else frozenset()
        redirects = []
        for redirect in command.redirects:
            target = self.substitute(redirect.target) if redirect.dynamic else redirect.target
            if target is None:
                argv = None
                break
            redirects.append(replace(redirect, target=target, dynamic=False))
        heredoc = self.heredoc_text(command) if command.heredoc is not None else None
        if argv is None and stdin is None and only_prints(command):
            return True  # `echo "Installing $PKG"`: output only, whatever the variable holds
        if argv is None and command.words and command.words[0].raw == "exit" and len(command.words) == 2:
            self.warn(ctx.statement, f"exits with status {command.words[1].raw}, known on the host only: "
                                     "the play fails there")
            return self.exit(ctx, "exit", command.words[1].raw)
        if argv is None or (command.heredoc is not None and heredoc is None) or not argv:
            if fallback:
                creates = creates_of(argv, redirects) if argv else None
                self.fallback_shell(ctx, self.command_text(command), creates,
                                    become=command.become)
                if command.words and command.words[0].raw in ("cd", "pushd"):
                    self.cwd = UNKNOWN_DIRECTORY  # `cd "$(mktemp -d)"`: somewhere only the host knows
            return fallback
        user = command.become_user
        if user is not None and ("$" in user or "`" in user):
            user = self.substitute(user.strip("\"'"))
            if user is None:  # `sudo -u "$WHO"` with WHO unknown: the shell says who
                if fallback:
                    self.fallback_shell(ctx, self.command_text(command), None, become=command.become)
                return fallback
        sub_ctx = replace(ctx, become=ctx.become or command.become, become_user=user or ctx.become_user)
        name = command_key(argv[0])
        if name == "cd" and not redirects:
            return self.change_directory(argv)
        if name == "pushd" and len(argv) == 2 and not argv[1].startswith(("-", "+")):
            self.directories.append(self.cwd)
            return self.change_directory(["cd", argv[1]])
        if name == "popd" and len(argv) == 1:
            # with the stack empty popd fails and the directory stays
            self.cwd = self.directories.pop() if self.directories else self.cwd
            return True
        if name == "umask" and len(argv) == 2 and re.fullmatch(r"[0-7]{1,4}", argv[1]) and not redirects:
            # design: the mask is shell state like the directory: files that later commands and
            # rules create get its modes (Invocation.umask), and shell tasks start with it
            self.umask = int(argv[1], 8) & 0o777
            return True
        if name == "trap" and not redirects:
            return self.trap(ctx, argv)
        if name == "unset" and all(re.fullmatch(r"[A-Za-z_]\w*", a) for a in argv[1:]):
            for variable in argv[1:]:
                self.variables.pop(variable, None)
                self.definitions.pop(variable, None)
                self.environment.pop(variable, None)
            return True
        if name in ("exit", "return") and len(argv) <= 2 and not redirects:
            return self.exit(sub_ctx, name, argv[1] if len(argv) == 2 else "0")
        inline = inline_script(name, argv)
        if inline is not None:  # `bash -c "..."`, `su - user -c "..."`: the inner commands, as that user
            user, script = inline
            become_user = user if user is not None else sub_ctx.become_user
            # a host value in the inner script (`bash -c "mkdir /home/{{ shell_x }}"`) is read as a
            # variable of its own, so the inner parse keeps it one word
            held = {f"__host_value_{n}": value for n, value in enumerate(dict.fromkeys(HOST_VALUE.findall(script)))}
            for variable, expression in held.items():
                script = hold_value(script, "{{ " + expression + " }}", variable)
                self.variables[variable] = "{{ " + expression + " }}"
            inner_statements = parse_script(script).statements
            if stdin is not None:
                # `cat <<EOF | su - postgres -c psql`: the piped text is the inner command's
                # input; it reaches one simple command, never a script (the pipe stays whole)
                single = inner_statements[0].command if len(inner_statements) == 1 else None
                if single is None or not single.is_simple:
                    for variable in held:
                        self.variables.pop(variable, None)
                    if fallback:
                        self.fallback_shell(ctx, self.command_text(command), None, become=command.become)
                    return fallback
                inner_ctx = replace(sub_ctx, become=sub_ctx.become or user is not None,
                                    become_user=None if become_user == "root" else become_user)
                done = self.command(inner_ctx, single, stdin, fallback)
                for variable in held:
                    self.variables.pop(variable, None)
                return done
            # a child shell: its cd, variables, activate and exit end with it
            before = self.snapshot()
            if login_shell(name, argv):
                self.cwd = UNKNOWN_DIRECTORY  # the user's home, which the converter does not know
            virtualenv, sourced = self.virtualenv, list(self.sourced)
            for inner in inner_statements:
                moved = replace(inner, first_line=ctx.statement.first_line,
                                last_line=ctx.statement.last_line)
                self.statement(moved, become=sub_ctx.become or user is not None, when=ctx.when,
                               become_user=None if become_user == "root" else become_user)
            self.restore_shell_state(before)
            self.ended_at, self.virtualenv, self.sourced = before.ended_at, virtualenv, sourced
            for variable in held:
                self.variables.pop(variable, None)
            return True
        if name == "read" and stdin is None and not redirects and command.heredoc is None \
                and command.herestring is None and self.prompt(sub_ctx, argv):
            return True
        if name in self.functions and self.shell_state_only(name) and not redirects:
            # `vvv_add_hook phase fn`: a function that only sets shell variables changes nothing on
            # the host (each task runs in a shell of its own); what it sets is unknown afterwards
            self.warn(ctx.statement, f"{name} only sets shell variables: no task; what it sets is unknown here")
            return True
        if name in self.functions and self.prints_only(name) and all(
                r.op in (">&", "<&") or r.target in ("/dev/null", "/dev/stderr", "&2", "2") for r in redirects):
            return True  # `vvv_info "installing"`: a function that only prints makes no task
        if name in self.functions and not redirects and len(argv) > 1 and self.wrapper(name):
            # `hide_output apt-get install -y x`: a function that runs its arguments as a
            # command (only saving or showing its output around it) is that command
            wrapped = replace(command, words=command.words[1:], text=shlex.join(argv[1:]))
            return self.command(sub_ctx, wrapped, stdin, fallback)
        if name in self.functions and not redirects:
            _, body = self.functions[name]
            if body is None or len(argv) > 10 or name in self.calling or not self.call(name, body, argv[1:], sub_ctx):
                self.fallback_shell(sub_ctx, shlex.join(argv), None)  # carries the definition
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
        if command.herestring is not None and heredoc is None:
            herestring = self.substitute_word(command.herestring)
            heredoc = None if herestring is None else herestring + "\n"
        invocation = Invocation(argv=tuple(argv), stdin=heredoc if heredoc is not None else stdin,
                                redirects=tuple(redirects), cwd=self.cwd,
                                line=ctx.statement.first_line, globbed=globbed, user=sub_ctx.become_user,
                                umask=self.umask)
        if self.virtual_environment(invocation) or self.release_variables(sub_ctx, invocation):
            return True
        found = apply_rules(invocation)
        if found is None:
            if not fallback:
                return False
            self.fallback(sub_ctx, command, argv, redirects, env)
            return True
        rule_name, tasks = found
        if rule_name == "source" and argv[1] not in self.sourced and "?" + argv[1] not in self.sourced:
            self.sourced.append(argv[1])
        for task in tasks:
            self.emit(sub_ctx, task, rule_name, env)
        return True

    def take_script_arguments(self, statements: list[Statement]) -> dict[int, list[int]]:
        """The script's own arguments ($1..$9 outside its functions): the play takes them as the
        variables shell_1.. (`-e shell_2=node01`), empty when not given as in the script; a shell
        task gets them back as $1.. (``script_arguments``). Before this they were the empty $1 of
        each task's own shell, whatever the caller gave. Returns, per statement (its lines), the
        arguments it is the first to read (keyed by id: a split chunk's context has lines of its
        own): ``argument_defaults`` goes before it."""
        first: dict[int, Statement] = {}
        for statement in statements:
            if MOVES_ARGUMENTS.search(statement.text):
                break  # what $1.. are from here on, positional() works out
            for n in argument_numbers(statement.text):
                first.setdefault(n, statement)
        if not first:
            return {}
        for n in range(1, max(first) + 1):
            self.variables[str(n)] = "{{ " + fact_name(str(n)) + " }}"
            self.fact_variables[fact_name(str(n))] = str(n)
        readers: dict[int, list[int]] = {}
        for n, statement in sorted(first.items()):
            readers.setdefault(id(statement), []).append(n)
        return readers

    def argument_defaults(self, statement: Statement, numbers: list[int]) -> None:
        """A set_fact of the script's arguments ``numbers`` to what -e gave, else empty (as the
        script had them without arguments), before the first statement that reads them."""
        names = [fact_name(str(n)) for n in numbers]
        task = {"name": "Set the script's " + ", ".join(f"${n}" for n in numbers) + " (empty unless given with -e)",
                "ansible.builtin.set_fact": {name: "{{ " + name + " | default('') }}" for name in names}}
        self.drafts.append(Step(task, TaskSource(statement.first_line, statement.last_line, "fact")))
        for n, name in zip(numbers, names):
            self.warn(statement, f"reads the script's argument ${n}: the play takes it as the variable {name} "
                                 f"(-e {name}=...), empty when not given, as in the script")

    def positional(self, command: Command) -> bool:
        """`set -- A B`, `shift [N]`: they change only the shell's positional parameters, kept
        here ($1.. known when every word is; else unknown from then on); no task, as a task
        running them alone would change nothing."""
        raw = [w.raw for w in command.words]
        if command.redirects or command.assignments or not raw or not (
                raw[0] == "shift" and len(raw) <= 2 or raw[:2] == ["set", "--"]):
            return False
        known = [str(n) for n in range(1, 10) if str(n) in self.variables]
        current = [self.variables[n] for n in known] if self.arguments is None else list(self.arguments)
        if raw[0] == "set":
            values = self.resolve_words(command.words[2:])
        else:
            count = self.substitute_word(command.words[1]) if len(raw) == 2 else "1"
            shifted = int(count) if count is not None and count.isdigit() else None
            known_all = self.arguments is not None or known == [str(n) for n in range(1, len(known) + 1)] and known
            values = current[shifted:] if shifted is not None and known_all and shifted <= len(current) else None
            if self.arguments is None and any(HOST_VALUE.search(v) for v in current):
                values = None  # the script's own arguments: how many the caller gave is unknown
        for n in range(1, 10):
            self.variables.pop(str(n), None)
        if values is None:  # unknown from here: later uses stay the shell's
            self.arguments = None
            return True
        self.variables.update({str(n): value for n, value in enumerate(values[:9], 1)})
        self.arguments = list(values)  # shell tasks that read $1.. start with this `set --`
        return True

    def prompt(self, ctx: Context, argv: list[str]) -> bool:
        """`read -rp "Username: " NAME`: the person running the play is asked (the pause module;
        with no terminal it goes on with an empty answer, as `read` at the end of its input),
        and NAME holds the answer as a fact."""
        opts = parse_options(argv[1:], takes_value="p")
        if len(opts.positionals) != 1 or not re.fullmatch(r"[A-Za-z_]\w*", opts.positionals[0]) \
                or any(f not in ("-r", "-p", "-s", "-e") for f, _ in opts.flags):
            return False  # several names (split at IFS), a count, a timeout, a delimiter: the shell's
        variable = opts.positionals[0]
        fact = fact_name(variable)
        prompt = (opts.get("-p") or f"Enter {variable}").strip()
        pause: dict[str, Any] = {"prompt": literal(prompt)}
        if opts.has("-s"):
            pause["echo"] = False
        source = TaskSource(ctx.statement.first_line, ctx.statement.last_line, "read")
        answer = "{{ " + fact + "_answer.user_input | default('') }}"
        for task in ({"name": f"Ask for {variable}", "ansible.builtin.pause": pause, "register": f"{fact}_answer"},
                     {"name": f"Set {variable}", "ansible.builtin.set_fact": {fact: answer}}):
            if ctx.when:
                task["when"] = ctx.when
            self.drafts.append(Step(task, source))
        if "-s" in [f for f, _ in opts.flags]:
            self.drafts[-1].task["no_log"] = True
        self.variables[variable] = "{{ " + fact + " }}"
        self.definitions.pop(variable, None)
        self.fact_variables[fact] = variable
        return True

    def virtual_environment(self, invocation: Invocation) -> bool:
        """`source DIR/bin/activate`: later commands run with DIR/bin first on PATH and
        VIRTUAL_ENV set (as activate does), and pip installs into DIR; `deactivate` undoes it.
        Without this, `pip install` after an activate became the pip module on the system
        Python: a wrong playbook in silence."""
        argv = invocation.argv
        if invocation.name == "deactivate" and len(argv) == 1 and self.virtualenv is not None:
            self.virtualenv = None
            self.environment.pop("VIRTUAL_ENV", None)
            self.environment.pop("PATH", None)
            return True
        if invocation.name not in (".", "source") or len(argv) != 2 or not argv[1].endswith("/bin/activate"):
            return False
        script = invocation.path(argv[1])
        if script is None or _FACT.search(script):
            return False
        venv = posixpath.dirname(posixpath.dirname(script))
        self.virtualenv = venv
        self.environment["VIRTUAL_ENV"] = venv
        self.environment["PATH"] = f"{venv}/bin:" + "{{ ansible_env.PATH }}"
        return True

    def unrolled(self, ctx: Context, compound: Command) -> bool:
        """A `for` over fixed words, a `{ }` group or a `( )` subshell, statement by statement
        (the parts no rule covers become shell tasks that carry the loop variable); False (and
        nothing emitted) for a loop over words only the host knows."""
        if compound.body is None or compound.node_type == "while_statement":
            return False
        if compound.node_type == "subshell":
            # its cd, variables and exit end with it
            snapshot = self.snapshot()
            sourced = list(self.sourced)
            if not self.try_statements(compound.body, ctx, fallbacks=True):
                return False
            self.restore_shell_state(snapshot)
            self.ended_at, self.sourced = snapshot.ended_at, sourced
            return True
        if compound.node_type == "compound_statement":
            return self.try_statements(compound.body, ctx, fallbacks=True)
        if compound.node_type != "for_statement" or not compound.loop_variable:
            return False
        values = [self.substitute_word(w) for w in compound.loop_values]
        if not values or len(values) > 20 or any(v is None or HOST_VALUE.search(v) for v in values):
            return False
        words = [w for v in values for w in (v or "").split()] \
            if all(not (w.raw.startswith('"') or w.raw.startswith("'")) for w in compound.loop_values) else values
        snapshot = self.snapshot()
        for value in words:
            self.variables[compound.loop_variable] = value or ""
            if not self.try_statements(compound.body, ctx, fallbacks=True):
                self.restore(snapshot)
                return False
        made = self.drafts[snapshot.drafts:]
        if len(words) > 1 and made and all(d.source is not None and d.source.rule == "fallback" for d in made):
            # no rule took any pass of the loop: one shell task running the loop as written reads
            # better than a copy of the same shell per value, and does the same
            self.restore(snapshot)
            return False
        return True

    def trap(self, ctx: Context, argv: list[str]) -> bool:
        """`trap HANDLER EXIT INT ...`: no task. The play has no hook for its end or a signal, and a
        task running the trap alone would fire an EXIT handler there and then; so the warning
        names what no longer runs at the end."""
        if len(argv) < 3 or argv[1] in ("-", "", "-l", "-p") or argv[1].startswith("-"):
            return True  # listing, resetting or ignoring signals: nothing a play runs
        self.warn(ctx.statement, f"`trap {argv[1]} {' '.join(argv[2:])}`: the play has no hook for when it ends or is "
                                 f"interrupted, so `{argv[1]}` does not run then: if it must, add its tasks at the "
                                 "end (or in the always: section of a block)")
        return True

    def change_directory(self, argv: list[str]) -> bool:
        target = argv[1] if len(argv) > 1 else "~"
        if target.startswith(("/", "~")):
            self.cwd = target.rstrip("/") or "/"
        elif target == "-":
            self.cwd = UNKNOWN_DIRECTORY
        else:  # relative: to the directory the script started in, or to a known one
            self.cwd = Invocation(argv=("cd",), cwd=self.cwd).path(target) or UNKNOWN_DIRECTORY
        return True


def join_text(commands: tuple[Command, ...]) -> str:
    return source_text(commands)
