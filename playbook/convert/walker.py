"""The statement walker: converts parsed shell statements into tasks, keeping the shell's state.

# design: one pass over the parsed statements keeps the shell's state the way bash would:
# variables (substituted into later words), exported variables (`environment`), the current
# directory (`chdir` and relative paths), functions (inlined where called). Each simple
# command is resolved into an Invocation and offered to the rule table (playbook.rules); what
# no rule takes becomes `ansible.builtin.command` (or `shell` when shell syntax is needed),
# guarded by `creates`/`removes` when the line says what it makes, else `changed_when`, and a
# warning naming the line. A shell task carries what it depends on: the variables and the
# functions its text uses, and the directory it runs in.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from playbook.convert.conditions import (
    HOST_VALUE,
    decide,
    file_test,
    host_expression,
    host_query,
    join_when,
    negate,
    register_name,
)
from playbook.convert.fallback import creates_of, download_to_stdout, fallback_name, read_only, short, strip_leading_sudo
from playbook.convert.guards import PathCondition, guard_of_compound, if_condition, is_true, path_condition, test_guard
from playbook.passes import COMMAND, SHELL, Step, TaskSource
from playbook.rules import apply_rules, command_key
from playbook.rules.base import Invocation, Task
from playbook.rules.network import unpack_download
from playbook.rules.content import echo_text, literal, printf_text
from playbook.shell import MAX_NESTING, Branch, Command, Pipeline, Statement, Word, parse_script, source_text

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
# modules that run the project's own build (a Makefile, setup.py, composer scripts): they read
# every exported variable, as the command did
_RUNS_BUILD_TOOLS = ("community.general.make", "ansible.builtin.pip", "community.general.composer",
                     "community.general.npm", "community.general.gem")
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "no_proxy", "ftp_proxy", "all_proxy"})

@dataclass
class _Context:
    """Per statement: what applies to every task it produces."""

    statement: Statement
    become: bool = False
    become_user: str | None = None
    ignore_errors: bool = False
    creates: str | None = None
    when: str | None = None  # a guard (`[ -f X ] || ( ... )`) the tasks run under





_Snapshot = tuple[int, int, int, dict[str, str], dict[str, str], str | None, dict[str, str], int | None]

_PARAMETER_OP = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(%%|%|##|#|,,|\^\^|//|/)([^}]*)\}")
_LENGTH = re.compile(r"\$\{#([A-Za-z_][A-Za-z0-9_]*)\}")
_SUBSTITUTION = re.compile(r"\$\((.*)\)|`(.*)`", re.DOTALL)
_NAMED_VALUE = re.compile(r"(?:\{\{|\(\() ((?:shell_\w+|ansible_facts\.\w+)) (?:\}\}|\)\))")  # also as fallback_name writes it
_FACT = HOST_VALUE  # a value known on the host only: a fact (see fact_name) or a gathered one
_CAT_FILE = re.compile(r"\$\(\s*cat\s+(\S+)\s*\)|`\s*cat\s+(\S+)\s*`")
_RETURN = re.compile(r"(?:^|[\s;&|({])return\b")
_DEFAULTED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*|[1-9])(:?)-([^}]*)\}")
# what a login shell has set before the script's first line: a default for these is not taken
_LOGIN_ENVIRONMENT = frozenset({"HOME", "PATH", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "LANG",
                                "LC_ALL", "TERM", "HOSTNAME", "UID", "EUID", "SUDO_USER", "TMPDIR",
                                "XDG_RUNTIME_DIR", "MAIL", "SHLVL"})
_VAR_REF = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*|[1-9])|\{([A-Za-z_][A-Za-z0-9_]*|[1-9])\})$")


@dataclass
class ShellWalker:
    """Walks statements in script order; ``drafts`` are the tasks made so far."""

    variables: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    functions: dict[str, tuple[str, tuple[Statement, ...] | None]] = field(default_factory=dict)
    shell_only: set[str] = field(default_factory=set)  # variables only shell tasks set
    sourced: list[str] = field(default_factory=list)  # files `.`/`source` read: shell tasks read them too
    definitions: dict[str, str] = field(default_factory=dict)  # `X=$(cmd)`: set by the shell, carried into shell tasks
    ended_at: int | None = None  # the line of an `exit` every later line is behind
    depth: int = 0  # statements being converted inside one another (blocks, arms, calls)
    arguments: list[str] | None = None  # "$@" of the function being inlined (None: the script's, unknown)
    calling: list[str] = field(default_factory=list)  # the functions being inlined, innermost last
    directories: list[str | None] = field(default_factory=list)  # the `pushd` stack
    uncalled: set[str] = field(default_factory=set)  # functions the script defines and never runs
    fact_variables: dict[str, str] = field(default_factory=dict)  # fact -> the shell variable it holds
    locals: list[dict[str, tuple[str | None, str | None]]] = field(default_factory=list)  # per call: `local` names, their outer value
    drafts: list[Step] = field(default_factory=list)
    uncovered: list[Statement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # --- statements ----------------------------------------------------------------------

    def statement(self, statement: Statement, become: bool = False, when: str | None = None,
                  become_user: str | None = None) -> None:
        ctx = _Context(statement, become=become, when=when, become_user=become_user)
        if self.ended_at is not None:
            return
        if self.depth >= MAX_NESTING:  # a function calling functions calling ... : one shell task
            self.fallback_shell(ctx, statement.text, None)
            return
        self.depth += 1
        try:
            self.walk(ctx, statement, become, when)
        finally:
            self.depth -= 1

    def walk(self, ctx: _Context, statement: Statement, become: bool, when: str | None) -> None:
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
            if compound.branches and not compound.redirects and self.conditional(ctx, compound):
                return
            self.fallback_shell(ctx, statement.text, guard_of_compound(statement.text))
            return
        pipelines = list(statement.pipelines)
        operators = list(statement.operators)
        # `cmd || true`, `cmd || echo "could not"`: run cmd, never fail
        if operators and operators[-1] == "||" and (is_true(pipelines[-1]) or (
                len(pipelines[-1].commands) == 1 and _only_prints(pipelines[-1].commands[0]))):
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
        if operators == ["||"] and _is_cd(pipelines[0]) and _exits(pipelines[1]):
            pipelines, operators = pipelines[:1], []
        # `install || handle_error $? "..."`, `make || { echo failed; exit 1; }`: the script stops
        # where the command failed, as the play stops at a failed task
        if operators == ["||"] and self.stops_the_script(pipelines[1]):
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

    def pipeline(self, ctx: _Context, pipeline: Pipeline) -> None:
        commands = pipeline.commands
        if pipeline.negated:
            self.fallback_shell(ctx, join_text(commands), None)
            return
        if len(commands) == 1:
            self.command(ctx, commands[0], None)
            return
        stdin = self.produced_text(commands[0])
        if stdin is not None and len(commands) == 2 and commands[1].is_simple:
            if self.command(ctx, commands[1], stdin, fallback=False):
                return
        if len(commands) == 2 and (self.signing_key(ctx, commands) or self.downloaded_then(ctx, commands)):
            return
        self.fallback_shell(ctx, join_text(commands), None, become=any(c.become for c in commands))

    def downloaded_then(self, ctx: _Context, commands: tuple[Command, ...]) -> bool:
        """`curl -fsSL URL | gpg --dearmor -o KEY` and `curl -fsSL URL | [sudo] bash`: the download
        is a get_url into /tmp, and the second stage reads that file (a command: gpg writes KEY
        unless it is there, bash runs the installer)."""
        fetch = self.resolve_words(commands[0].words) if commands[0].is_simple and not commands[0].redirects else None
        stage = commands[1]
        into = [r.target for r in stage.redirects if r.op == ">" and r.fd in (None, 1) and not r.dynamic]
        then = self.resolve_words(stage.words) if stage.is_simple and len(stage.redirects) == len(into) <= 1 else None
        url = download_to_stdout(fetch) if fetch else None
        if url is None or not then or any(_FACT.search(a) for a in [url, *then]):
            return False
        if into and "-o" not in then:  # `gpg --dearmor > KEY`
            then = [*then, "-o", into[0]]
        elif into:
            return False
        name = command_key(then[0])
        base = re.sub(r"[^A-Za-z0-9._-]", "_", posixpath.basename(url.split("?")[0].rstrip("/")) or "download")
        become = ctx.become or any(c.become for c in commands)
        if name == "tar" and not into:  # `curl URL | tar -xz -C DIR`: unarchive fetches it itself
            unpacked = unpack_download(url, Invocation(argv=tuple(then), cwd=self.cwd, line=ctx.statement.first_line))
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

    def signing_key(self, ctx: _Context, commands: tuple[Command, ...]) -> bool:
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

    def command(self, ctx: _Context, command: Command, stdin: str | None,
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
        glob_aware = bool(command.words) and command_key(command.words[0].value) in _GLOB_AWARE \
            and not any(w.raw in ('"$@"', "$@") for w in command.words)
        argv = self.resolve_words(command.words, literal_globs=_takes_patterns(command) or glob_aware)
        globbed = frozenset(i for i, w in enumerate(command.words) if w.glob) if glob_aware else frozenset()
        redirects = []
        for redirect in command.redirects:
            target = self.substitute(redirect.target) if redirect.dynamic else redirect.target
            if target is None:
                argv = None
                break
            redirects.append(replace(redirect, target=target, dynamic=False))
        heredoc = self.heredoc_text(command) if command.heredoc is not None else None
        if argv is None and stdin is None and _only_prints(command):
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
            self.cwd = self.directories.pop() if self.directories else None
            return True
        if name == "unset" and all(re.fullmatch(r"[A-Za-z_]\w*", a) for a in argv[1:]):
            for variable in argv[1:]:
                self.variables.pop(variable, None)
                self.definitions.pop(variable, None)
                self.environment.pop(variable, None)
            return True
        if name in ("exit", "return") and len(argv) <= 2 and not redirects:
            return self.exit(sub_ctx, name, argv[1] if len(argv) == 2 else "0")
        inline = _inline_script(name, argv)
        if inline is not None:  # `bash -c "..."`, `su - user -c "..."`: the inner commands, as that user
            user, script = inline
            become_user = user if user is not None else sub_ctx.become_user
            # a host value in the inner script (`bash -c "mkdir /home/{{ shell_x }}"`) is read as a
            # variable of its own, so the inner parse keeps it one word
            held = {f"__host_value_{n}": value for n, value in enumerate(dict.fromkeys(HOST_VALUE.findall(script)))}
            for variable, expression in held.items():
                script = script.replace("{{ " + expression + " }}", "${" + variable + "}")
                self.variables[variable] = "{{ " + expression + " }}"
            for inner in parse_script(script).statements:
                moved = replace(inner, first_line=ctx.statement.first_line,
                                last_line=ctx.statement.last_line)
                self.statement(moved, become=sub_ctx.become or user is not None, when=ctx.when,
                               become_user=None if become_user == "root" else become_user)
            for variable in held:
                self.variables.pop(variable, None)
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
                                line=ctx.statement.first_line, globbed=globbed)
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

    def fails_unless(self, ctx: _Context, compound: Command) -> bool:
        """`if ! cmd; then echo "failed"; exit 1; fi` is `cmd` as a task: where it fails the play
        stops, as the script did (its message is lost)."""
        if compound.node_type != "if_statement" or len(compound.branches) != 1:
            return False
        branch = compound.branches[0]
        condition = branch.condition or ()
        if len(condition) != 1 or len(condition[0].pipelines) != 1 or condition[0].operators \
                or not condition[0].pipelines[0].negated or not branch.body \
                or any(not c.is_simple or c.name in ("[", "[[", "test") for c in condition[0].commands):
            return False  # a test (`! [ -f X ]`) reads better as a stat and a fail
        last = branch.body[-1]
        if len(last.pipelines) != 1 or last.operators or not self.stops_the_script(last.pipelines[0]):
            return False
        if not all(s.command is not None and (_only_prints(s.command) or _MESSAGE.fullmatch(s.command.name or ""))
                   for s in branch.body[:-1]):
            return False
        statement = condition[0]
        positive = replace(statement, pipelines=(replace(statement.pipelines[0], negated=False),),
                           text=re.sub(r"^\s*!\s*", "", statement.text), first_line=ctx.statement.first_line,
                           last_line=ctx.statement.last_line)
        self.statement(positive, become=ctx.become, when=ctx.when, become_user=ctx.become_user)
        return True

    def stops_the_script(self, pipeline: Pipeline) -> bool:
        """`exit N` (N not 0), a `{ ...; exit N; }` group, or a call to a function that ends so."""
        if len(pipeline.commands) != 1 or pipeline.negated:
            return False
        command = pipeline.commands[0]
        if command.node_type == "compound_statement" and command.body:
            last = command.body[-1].command
            return last is not None and last.name == "exit" and last.argv[1:2] not in ((), ("0",))
        if not command.is_simple or not command.words:
            return False
        if command.name == "exit":
            return command.argv[1:2] not in ((), ("0",))
        function = self.functions.get(command.name)
        body = function[1] if function else None
        last = body[-1].command if body else None
        return last is not None and last.name == "exit" and last.argv[1:2] not in ((), ("0",))

    def exit(self, ctx: _Context, name: str, status: str) -> bool:
        """`exit 0` ends the play for the host (`meta: end_host`), `exit N` fails it; with no
        ``when`` over it, no later line runs. `return` ends a function: nothing to do here."""
        if name == "return":
            return True
        statement = ctx.statement
        source = TaskSource(statement.first_line, statement.last_line, "exit")
        if status == "0":
            if ctx.when:
                self.drafts.append(Step({"name": "Stop here, as the script exits", "ansible.builtin.meta": "end_host",
                                         "when": ctx.when}, source))
        else:
            task: dict[str, Any] = {"name": f"Fail, as the script exits with status {status}",
                                    "ansible.builtin.fail": {"msg": f"the script exits here with status {status}"}}
            if ctx.when:
                task["when"] = ctx.when
            self.drafts.append(Step(task, source))
        if not ctx.when:
            self.ended_at = statement.first_line
        return True

    def unrolled(self, ctx: _Context, compound: Command) -> bool:
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
            self.variables, self.environment, self.cwd, self.definitions = snapshot[3], snapshot[4], snapshot[5], snapshot[6]
            self.ended_at, self.sourced = snapshot[7], sourced
            return True
        if compound.node_type == "compound_statement":
            return self.try_statements(compound.body, ctx, fallbacks=True)
        if compound.node_type != "for_statement" or not compound.loop_variable:
            return False
        values = [self.substitute_word(w) for w in compound.loop_values]
        if not values or len(values) > 20 or any(v is None or _FACT.search(v) for v in values):
            return False
        words = [w for v in values for w in (v or "").split()] \
            if all(not (w.raw.startswith('"') or w.raw.startswith("'")) for w in compound.loop_values) else values
        snapshot = self.snapshot()
        for value in words:
            self.variables[compound.loop_variable] = value or ""
            if not self.try_statements(compound.body, ctx, fallbacks=True):
                self.restore(snapshot)
                return False
        return True

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

    def library_function(self, ctx: _Context, name: str, body: tuple[Statement, ...]) -> None:
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
        for draft in self.drafts[snapshot[0]:]:
            draft.task["tags"] = ["never", name]
        self.variables, self.environment, self.cwd, self.definitions = snapshot[3], snapshot[4], snapshot[5], snapshot[6]
        self.ended_at, self.sourced = snapshot[7], sourced  # its `exit` ends the tagged run, not the play

    def call(self, name: str, body: tuple[Statement, ...], args: list[str] | None, ctx: _Context) -> bool:
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

    def guarded_body(self, ctx: _Context, condition: PathCondition, statements: tuple[Statement, ...]) -> bool:
        """Statements that run only when ``condition`` holds when the line starts: a ``stat``
        task registers the path, every task of the body gets the matching ``when``. A body
        that would fall back to the shell stays one shell task (False, nothing emitted)."""
        snapshot = self.snapshot()
        sourced = list(self.sourced)
        register = self.register_name(condition.path, ctx.when)
        when = join_when(ctx.when, f"{register}.stat.exists" if condition.exists else f"not {register}.stat.exists")
        statement = ctx.statement
        self.drafts.append(Step({"name": f"Check whether {condition.path} exists",
                                 "ansible.builtin.stat": {"path": condition.path}, "register": register},
                                TaskSource(statement.first_line, statement.last_line, "guard")))
        if ctx.when:
            self.drafts[-1].task["when"] = ctx.when
        if ctx.become:
            self.drafts[-1].task["become"] = True
        if not statements or not self.try_statements(statements, replace(ctx, when=when), fallbacks=True):
            self.restore(snapshot)
            return False
        # a subshell's cd and variables end with it; a block's hold only when its guard held, which
        # is known on the host, not here: later lines see the state from before the block
        self.variables, self.environment, self.cwd, self.definitions = snapshot[3], snapshot[4], snapshot[5], snapshot[6]
        self.sourced = sourced + ["?" + p.lstrip("?") for p in self.sourced if p not in sourced]  # read when there
        made = self.drafts[snapshot[0] + 1:]
        if not made:  # nothing to guard (the block only set state): no stat either
            del self.drafts[snapshot[0]]
            return True
        if len(made) == 1 and made[0].module in (COMMAND, SHELL) and not condition.exists and not ctx.when:
            # one command that runs when the path is absent: `creates` says it without a stat
            task = made[0].task
            task.pop("when", None)
            task.pop("changed_when", None)
            task[made[0].module]["creates"] = condition.path
            del self.drafts[snapshot[0]]
        return True

    def conditional(self, ctx: _Context, compound: Command) -> bool:
        """`if C1; then B1; elif C2; then B2; else B3; fi`: an arm whose condition the converter
        can decide is taken or skipped here; any other condition is checked on the host
        (``condition_check``) and its arm's tasks run under a ``when``. False, with nothing
        emitted, when a condition cannot be checked (a parse error, a redirect)."""
        snapshot = self.snapshot()
        sourced = list(self.sourced)
        before = (dict(self.variables), dict(self.environment), self.cwd, dict(self.definitions))
        earlier: list[str] = []  # negations of the arms before, checked on the host
        changed: set[str] = set()
        host_decided = False
        exhaustive = False  # an `else` (or an arm decided true) ends the chain: no arm may be skipped
        set_in: list[set[str]] = []  # per arm run on the host: the names it sets
        facts: dict[str, list[int]] = {}  # name -> indexes of the set_fact tasks made for it
        for branch in compound.branches:
            verdict: bool | None = True
            own: str | None = None
            if branch.condition is not None:
                verdict = self.decided(branch)
                if verdict is None:
                    label = None if branch.subject is None else \
                        f"{branch.subject.raw} matches {'|'.join(p.raw for p in branch.patterns)}"
                    own = self.host_condition(branch) or \
                        self.condition_check(ctx, branch.condition, join_when(ctx.when, *earlier), label)
                    if own is None:
                        self.restore(snapshot)
                        return False
            if verdict is False:
                continue
            when = join_when(ctx.when, *earlier, own)
            if when == ctx.when:  # decided here, no arm before it needs the host: bash runs it
                if not self.try_statements(branch.body, ctx, fallbacks=True):
                    self.restore(snapshot)
                    return False
                break
            host_decided = True
            self.variables, self.environment, self.cwd, self.definitions = (
                dict(before[0]), dict(before[1]), before[2], dict(before[3]))
            if branch.body and not self.arm(branch, replace(ctx, when=when), condition_held=own is not None):
                self.restore(snapshot)
                return False
            names = {n for n in {*self.variables, *before[0]} if self.variables.get(n) != before[0].get(n)}
            names |= {n for n in {*self.definitions, *before[3]} if self.definitions.get(n) != before[3].get(n)}
            names -= {str(n) for n in range(10)}
            for name in sorted(names):
                if self.variables.get(name) == "{{ " + fact_name(name) + " }}":
                    facts.setdefault(name, [])  # the arm worked it out into its fact already
                    continue
                made = self.fact_from_arm(ctx, name, when)
                if made:
                    facts.setdefault(name, []).extend(made)
            set_in.append(names)
            changed |= names
            if self.cwd != before[2]:
                changed.add("PWD")
            if own is None:
                exhaustive = True
                break  # an `else`, or an arm decided true here: no later arm can run
            earlier.append(negate(own))
        if host_decided:
            # which arm ran is known on the host only: a name every path sets (or had before)
            # becomes a fact set on the host; any other is unknown afterwards
            self.variables, self.environment, self.cwd, self.definitions = before
            self.sourced = sourced + ["?" + p.lstrip("?") for p in self.sourced if p not in sourced]  # read when there
            defaults: dict[str, str] = {}
            for name in sorted(changed - {"PWD"}):
                needs_default = not exhaustive or any(name not in names for names in set_in)
                knowable = name in facts and (not needs_default or name in before[0])
                if knowable and needs_default:
                    defaults[name] = before[0][name]
                if not knowable:
                    for index in sorted(facts.pop(name, []), reverse=True):
                        del self.drafts[index]
                        for others in facts.values():
                            others[:] = [i - 1 if i > index else i for i in others]
                    self.variables.pop(name, None)
                    self.definitions.pop(name, None)
                    self.environment.pop(name, None)
                    self.shell_only.add(name)
                    continue
                self.variables[name] = "{{ " + fact_name(name) + " }}"
                self.fact_variables[fact_name(name)] = name
                self.definitions.pop(name, None)
                if name in self.environment:
                    self.environment[name] = self.variables[name]
            if defaults:
                statement = ctx.statement
                task: dict[str, Any] = {"name": "Set " + ", ".join(defaults) + " as the script had them",
                                        "ansible.builtin.set_fact": {fact_name(n): v for n, v in defaults.items()}}
                if ctx.when:
                    task["when"] = ctx.when
                self.drafts.insert(snapshot[0], Step(task, TaskSource(statement.first_line, statement.last_line, "fact")))
            if "PWD" in changed:
                self.cwd = None
        return True

    def arm(self, branch: Branch, ctx: _Context, condition_held: bool) -> bool:
        """An arm's statements under its ``when``. Where its condition held, the arm's first
        statement sees `$?` as 0 (`if ! cmd; then handle_error "$?"`, as bash has it)."""
        if not condition_held or not branch.body or "$?" not in branch.body[0].text:
            return self.try_statements(branch.body, ctx, fallbacks=True)
        self.variables["?"] = "0"
        try:
            done = self.try_statements(branch.body[:1], ctx, fallbacks=True)
        finally:
            self.variables.pop("?", None)
        return done and self.try_statements(branch.body[1:], ctx, fallbacks=True)

    def fact_from_arm(self, ctx: _Context, name: str, when: str | None) -> list[int]:
        """Tasks at the end of an arm that keep what it set ``name`` to as a fact (the indexes of
        the tasks made; none when the arm unset it)."""
        statement = ctx.statement
        source = TaskSource(statement.first_line, statement.last_line, "fact")
        fact = fact_name(name)
        made: list[int] = []
        if name in self.variables:
            task: dict[str, Any] = {"name": f"Set {name}", "ansible.builtin.set_fact": {fact: self.variables[name]}}
        elif name in self.definitions:  # `X=$(cat f)`: the shell works it out, the fact keeps it
            output = f"{fact}_output"
            check: dict[str, Any] = {"name": f"Work out {name}",
                                     SHELL: {"cmd": literal(self.shell_script(f'printf "%s" "${name}"')),
                                             "executable": "/bin/bash"},
                                     "register": output, "changed_when": False, "check_mode": False}
            if self.cwd:
                check[SHELL]["chdir"] = self.cwd
            self.finish(replace(ctx, when=when), check, SHELL, self.fact_environment(check[SHELL]["cmd"]))
            made.append(len(self.drafts))
            self.drafts.append(Step(check, source))
            task = {"name": f"Set {name}", "ansible.builtin.set_fact": {fact: "{{ " + output + ".stdout }}"}}
        else:
            return made
        if when:
            task["when"] = when
        made.append(len(self.drafts))
        self.drafts.append(Step(task, source))
        return made

    def work_out(self, ctx: _Context, name: str, word: Word) -> None:
        """`X=$(cmd)`: the command runs once, where the script ran it (a task whose output a
        fact keeps; `$(cat FILE)` is a slurp), so every later task sees the same value, as the
        script did (`$(openssl rand -hex 32)` carried into each task would differ each time)."""
        statement = ctx.statement
        source = TaskSource(statement.first_line, statement.last_line, "fact")
        fact = fact_name(name)
        read = _CAT_FILE.fullmatch(word.raw.strip('"'))
        path = self.substitute((read.group(1) or read.group(2)).strip("\"'")) if read else None
        if path is not None and path.startswith("/") and not _FACT.search(path):
            task: dict[str, Any] = {"name": f"Read {path}", "ansible.builtin.slurp": {"src": path},
                                    "register": f"{fact}_file"}
            self.finish(ctx, task, "ansible.builtin.slurp", {})
            self.drafts.append(Step(task, source))
            value = "{{ " + fact + "_file.content | b64decode | regex_replace('\\n+$', '') }}"
            fact_task: dict[str, Any] = {"name": f"Set {name}", "ansible.builtin.set_fact": {fact: value}}
            if ctx.when:
                fact_task["when"] = ctx.when
            self.drafts.append(Step(fact_task, source))
        elif not self.fact_from_arm(ctx, name, ctx.when):
            return
        self.variables[name] = "{{ " + fact + " }}"
        self.definitions.pop(name, None)
        self.fact_variables[fact] = name

    def fact_environment(self, text: str) -> dict[str, str]:
        """The variables ``text`` reads whose value is known on the host only (a fact): a shell
        task gets them through its environment, so its script holds no Jinja."""
        return {name: value for name, value in self.variables.items() if _FACT.search(value) and _uses(text, name)}

    def decided(self, branch: Branch) -> bool | None:
        """Whether an arm runs, when the converter can tell now (every operand known), else None."""
        if branch.subject is not None:  # a `case` arm
            if any(p.glob and p.value == "*" for p in branch.patterns):
                return True
            subject = self.substitute_word(branch.subject)
            if subject is None or _FACT.search(subject) or any(any(part.expansion for part in p.parts) for p in branch.patterns):
                return None
            return any(fnmatch.fnmatchcase(subject, p.value) if p.glob else subject == p.value
                       for p in branch.patterns)
        condition = branch.condition or ()
        if len(condition) != 1 or condition[0].kind not in ("command", "compound"):
            return None
        text = self.condition_text(condition[0].text)
        return None if text is None or _FACT.search(text) else decide(text)

    def host_condition(self, branch: Branch) -> str | None:
        """A `when` expression for an arm whose test compares values the host knows (facts):
        `[ "$(uname -m)" = aarch64 ]` is `ansible_facts.architecture == 'aarch64'`, no task."""
        condition = branch.condition or ()
        if branch.subject is not None:
            subject = self.substitute_word(branch.subject)
            if subject is None or not _FACT.search(subject) or any(p.glob or any(part.expansion for part in p.parts)
                                                                    for p in branch.patterns):
                return None
            tests = [host_expression(f"[ {shlex.quote(subject)} = {shlex.quote(p.value)} ]") for p in branch.patterns]
            if any(t is None for t in tests):
                return None
            return " or ".join(f"({t})" if len(tests) > 1 else str(t) for t in tests)
        if len(condition) != 1 or condition[0].kind not in ("command", "compound"):
            return None
        text = self.condition_text(condition[0].text)
        return None if text is None else host_expression(text)

    def condition_text(self, text: str) -> str | None:
        """A test's text with what the converter knows put in: variables, and the substitutions
        it can work out (`$(uname -m)` is a gathered fact); None when something is unknown."""
        def one(match: re.Match[str]) -> str:
            value = self.expanded(match.group(0))
            return match.group(0) if value is None else value

        return self.substitute(re.sub(r"\$\([^()`]*\)|`[^`]*`", one, text))

    def condition_check(self, ctx: _Context, condition: tuple[Statement, ...], when: str | None,
                        label: str | None = None) -> str | None:
        """A task that checks ``condition`` on the host (a ``stat`` for a file test, else the
        condition itself run by the shell, never failing, never changing); the expression that
        is true when it held. None when the condition cannot run as a task."""
        if any(s.kind == "error" or s.errors for s in condition):
            return None
        text = "\n".join(s.text for s in condition)
        statement = ctx.statement
        source = TaskSource(statement.first_line, statement.last_line, "guard")
        # design: a name is reused once nothing reads it any more (a later `if` re-registers it,
        # as the shell re-tests); only the checks the enclosing `when` still reads are taken, so
        # a chunk of a split script names its checks as the whole script does
        taken = set(re.findall(r"[A-Za-z_]\w*", when or ""))
        substituted = self.substitute(text)
        tested = file_test(substituted) if substituted is not None and len(condition) == 1 else None
        if tested is not None:
            register = register_name(tested.path, taken)
            stat: dict[str, Any] = {"path": tested.path}
            if tested.follow:
                stat["follow"] = True
            task: dict[str, Any] = {"name": f"Check {tested.path}", "ansible.builtin.stat": stat,
                                    "register": register}
            expression = tested.when(register)
        else:
            register = register_name(label or text, taken)
            body = self.shell_script(strip_leading_sudo(text), pipefail=False)
            task = {"name": fallback_name(label or text).replace("Run ", "Check whether ", 1),
                    SHELL: {"cmd": literal(body), "executable": "/bin/bash"},
                    "register": register, "changed_when": False, "failed_when": False, "check_mode": False}
            if not all(_only_reads(c) for s in condition for c in s.commands):
                # `if ! curl ... | gpg --dearmor -o KEY`: the test itself changes the host
                task["changed_when"] = True
                del task["check_mode"]
            if "|" in re.sub(r"'[^']*'|\|\||\"(?:\\.|[^\"])*\"", "", body):
                # a test's status is its pipeline's last command's, as in the script (no pipefail:
                # `cmd | grep -q x` would fail on SIGPIPE); ignore_errors says so to ansible-lint
                task["ignore_errors"] = True
            if self.cwd:
                task[SHELL]["chdir"] = self.cwd
            expression = f"{register}.rc == 0"
            facts = self.fact_environment(body)
            if facts:
                task["environment"] = facts
        if ctx.become or any(c.become for s in condition for c in s.commands):
            task["become"] = True
        if when:
            task["when"] = when
        self.drafts.append(Step(task, source))
        return expression

    def early_exit(self, ctx: _Context, condition: PathCondition, body: tuple[Statement, ...]) -> bool:
        """`if [ -f X ]; then echo "already done"; exit 0; fi`: the play ends for the host there."""
        simple = [s.commands[0].argv if len(s.commands) == 1 and s.commands[0].is_simple else None for s in body]
        if not simple or simple[-1] not in (("exit",), ("exit", "0")) \
                or any(argv is None or argv[:1] not in (("echo",), ("printf",), ("true",), (":",)) for argv in simple[:-1]):
            return False
        register = self.register_name(condition.path)
        statement = ctx.statement
        source = TaskSource(statement.first_line, statement.last_line, "guard")
        when = f"{register}.stat.exists" if condition.exists else f"not {register}.stat.exists"
        self.drafts.append(Step({"name": f"Check whether {condition.path} exists",
                                 "ansible.builtin.stat": {"path": condition.path}, "register": register}, source))
        self.drafts.append(Step({"name": f"Stop here when {condition.path} {'exists' if condition.exists else 'is missing'}",
                                 "ansible.builtin.meta": "end_host", "when": when}, source))
        return True

    def register_name(self, path: str, when: str | None = None) -> str:
        base = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_") or "path"
        name = f"{base}_stat"
        taken = set(re.findall(r"[A-Za-z_]\w*", when or ""))  # the checks still read (see condition_check)
        n = 2
        while name in taken:
            name, n = f"{base}_stat_{n}", n + 1
        return name

    def try_statements(self, statements: tuple[Statement, ...], ctx: _Context, fallbacks: bool = False) -> bool:
        """Convert nested statements at the outer statement's lines; roll back on a fallback
        (unless ``fallbacks``: a guarded block keeps its shell tasks, each under the guard)."""
        snapshot = self.snapshot()
        for inner in statements:
            moved = replace(inner, first_line=ctx.statement.first_line,
                            last_line=ctx.statement.last_line)
            self.statement(moved, become=ctx.become, when=ctx.when)
        fell_back = any(d.source is not None and d.source.rule == "fallback" for d in self.drafts[snapshot[0]:]) \
            or len(self.uncovered) != snapshot[2]
        if (fell_back and not fallbacks) or any(s.kind == "error" for s in statements):
            self.restore(snapshot)
            return False
        return True

    def snapshot(self) -> _Snapshot:
        return (len(self.drafts), len(self.warnings), len(self.uncovered), dict(self.variables),
                dict(self.environment), self.cwd, dict(self.definitions), self.ended_at)

    def restore(self, snapshot: _Snapshot) -> None:
        drafts, warnings, uncovered, variables, environment, cwd, definitions, ended_at = snapshot
        del self.drafts[drafts:]
        del self.warnings[warnings:]
        del self.uncovered[uncovered:]
        self.variables, self.environment, self.cwd = variables, environment, cwd
        self.definitions, self.ended_at = definitions, ended_at

    def declaration(self, ctx: _Context, command: Command) -> bool:
        keyword = command.words[0].value
        if keyword == "unset" and all(re.fullmatch(r"[A-Za-z_]\w*", w.value) for w in command.words[1:]):
            for word in command.words[1:]:
                self.variables.pop(word.value, None)
                self.definitions.pop(word.value, None)
                self.environment.pop(word.value, None)
            return True
        if keyword not in ("export", "declare", "typeset", "local", "readonly"):
            self.fallback_shell(ctx, command.text, None)
            return True
        export = keyword == "export"
        if keyword == "local" and self.locals:
            for word in command.words[1:]:
                variable = word.value.split("=", 1)[0]
                self.locals[-1].setdefault(variable, (self.variables.get(variable), self.definitions.get(variable)))
        for name, word in command.assignments:
            self.assign(name, word, export=export, ctx=ctx)
        if export:
            assigned = {name for name, _ in command.assignments}
            for word in command.words[1:]:
                if word.value in self.variables and word.value not in assigned:
                    self.environment[word.value] = self.variables[word.value]
        return True

    def assign(self, name: str, word: Word, export: bool, ctx: _Context | None = None) -> None:
        value = self.substitute_word(word)
        if value is not None:
            self.variables[name] = value
            self.definitions.pop(name, None)
            if export:
                self.environment[name] = value
            return
        self.variables.pop(name, None)
        self.definitions.pop(name, None)
        if not export and not word.glob:
            # the shell computes it (`X=$(lsb_release -cs)`): shell tasks that use it set it first
            self.definitions[name] = f"{name}={word.raw}"
            if ctx is not None and any(p.expansion and p.text.startswith(("$(", "`")) and not p.text.startswith("$((")
                                       for p in word.parts):
                self.work_out(ctx, name, word)
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
            name = (ref.group(1) or ref.group(2)) if ref else ("?" if part.text in ("$?", "${?}") else None)
            if name is None:
                value = self.defaulted(part.text)
                if value is None:
                    value = self.expanded(part.text)
                if value is None:
                    return None
                out.append(value)
                continue
            if name not in self.variables:
                return None
            out.append(self.variables[name])
        return "".join(out)

    def expanded(self, expansion: str) -> str | None:
        """What the converter can work out of an expansion on known values: `${X%%.*}`, `${X,,}`,
        `${#X}`, and the pure `$(basename P [SUFFIX])`, `$(dirname P)`, `$(echo W)`."""
        match = _PARAMETER_OP.fullmatch(expansion)
        if match:
            name, operator, pattern = match.group(1), match.group(2), match.group(3)
            value = self.variables.get(name)
            if value is None or _FACT.search(value) or "$" in pattern or "`" in pattern:
                return None
            return parameter_operation(value, operator, pattern)
        match = _LENGTH.fullmatch(expansion)
        if match:
            value = self.variables.get(match.group(1))
            return None if value is None else str(len(value))
        match = _SUBSTITUTION.fullmatch(expansion)
        if match is None or "$(" in expansion[2:] or expansion.count("`") > 2:
            return None  # only one level: `$(basename $(dirname x))` is the host's to work out
        inner = parse_script(match.group(1) or match.group(2) or "").statements
        command = inner[0].command if len(inner) == 1 else None
        if command is None or command.redirects or command.assignments:
            return None
        argv = self.resolve_words(command.words)
        if not argv or any(_FACT.search(a) for a in argv):
            return None
        if host_query(argv):
            return host_query(argv)
        if argv[0] == "basename" and len(argv) in (2, 3) and not argv[1].startswith("-"):
            base = posixpath.basename(argv[1].rstrip("/")) or "/"
            return base[: -len(argv[2])] if len(argv) == 3 and base.endswith(argv[2]) and base != argv[2] else base
        if argv[0] == "dirname" and len(argv) == 2 and not argv[1].startswith("-"):
            return posixpath.dirname(argv[1].rstrip("/")) or ("/" if argv[1].startswith("/") else ".")
        if argv[0] == "echo" and len(argv) >= 2 and not argv[1].startswith("-"):
            return " ".join(argv[1:])
        return None

    def defaulted(self, expansion: str) -> str | None:
        """`${NAME:-word}`: NAME's value when the converter knows it and it is set, else the
        literal word when NAME is an argument the script was not given or a variable that is
        neither the script's nor the login environment's; None when it depends on the host."""
        match = _DEFAULTED.fullmatch(expansion)
        if match is None or "$" in match.group(3) or "`" in match.group(3):
            return None
        name, colon, default = match.group(1), match.group(2), match.group(3)
        if len(default) >= 2 and default[0] == default[-1] and default[0] in "\"'":
            default = default[1:-1]
        if name in self.variables:
            value = self.variables[name]
            return default if colon and value == "" else value
        if name.isdigit() or (name not in self.definitions and name not in self.shell_only
                              and name not in _LOGIN_ENVIRONMENT):
            return default
        return None

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

        result = re.sub(r"\\[$`\\]|\$(?:([A-Za-z_][A-Za-z0-9_]*|[1-9])|\{([A-Za-z_][A-Za-z0-9_]*|[1-9])\}|"
                        r"[({0#?@*!$-])|`", one, text)
        return None if unknown else result

    def resolve_words(self, words: tuple[Word, ...], literal_globs: bool = False) -> list[str] | None:
        values: list[str] = []
        for word in words:
            if len(word.parts) == 1 and word.parts[0].expansion and word.parts[0].text in ("$@", "${@}"):
                if self.arguments is None:
                    return None
                values.extend(self.arguments)  # "$@": each argument a word of its own
                continue
            value = word.value if literal_globs and word.glob and not any(p.expansion for p in word.parts) \
                else self.substitute_word(word)
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
        """The command as written, with its redirections and heredoc, without its leading sudo."""
        text = source_text((command,))
        if command.become and command.words:
            start = text.find(command.words[0].raw, 4)
            if start > 0:
                return text[start:]
        return text

    # --- tasks -----------------------------------------------------------------------------

    def emit(self, ctx: _Context, task: Task, rule_name: str, env: dict[str, str]) -> None:
        if task.note:
            self.warn(ctx.statement, task.note)
        if task.role == "no-op":
            return
        data = task.as_dict()
        module = task.module
        if module in (COMMAND, SHELL):
            if self.cwd and "chdir" not in data[module]:
                data[module]["chdir"] = self.cwd
            if ctx.creates and "creates" not in data[module]:
                data[module]["creates"] = ctx.creates
        self.finish(ctx, data, module, env)
        statement = ctx.statement
        self.drafts.append(Step(data, TaskSource(statement.first_line, statement.last_line, rule_name)))

    def finish(self, ctx: _Context, data: dict[str, Any], module: str, env: dict[str, str]) -> None:
        if ctx.become:
            data["become"] = True
            if ctx.become_user:
                data["become_user"] = ctx.become_user
        environment = {**self.environment, **env}
        if module not in (COMMAND, SHELL, *_RUNS_BUILD_TOOLS):
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
        if ctx.when:
            data["when"] = ctx.when

    def fallback(self, ctx: _Context, command: Command, argv: list[str], redirects: list[Any],
                 env: dict[str, str]) -> None:
        if redirects or command.heredoc is not None or command.herestring is not None \
                or any(w.raw.startswith("~") for w in command.words):
            self.fallback_shell(ctx, self.command_text(command), creates_of(argv, redirects),
                                env=env)
            return
        module_args: dict[str, Any] = {"cmd": shlex.join(argv)}
        self.guarded(ctx, COMMAND, module_args, argv, creates_of(argv, []), env)

    def fallback_shell(self, ctx: _Context, text: str, creates: str | None,
                       become: bool = False, env: dict[str, str] | None = None) -> None:
        ctx = replace(ctx, become=ctx.become or become)
        text = strip_leading_sudo(text)
        self.note_shell_only(ctx, text)
        body = self.shell_script(text)
        env = {**self.fact_environment(body), **(env or {})}
        module_args: dict[str, Any] = {"cmd": body, "executable": "/bin/bash"}
        simple = not re.search(r"[\n;&|()`]", text.strip())  # else it may change things whatever its first word
        self.guarded(ctx, SHELL, module_args, text.split() if simple else [], creates, env or {}, title=text)

    def shell_script(self, text: str, pipefail: bool = True) -> str:
        """``text`` with everything it depends on before it: the files the script sourced (when
        it uses a variable the converter does not know), the variables it uses, the commands
        that set the shell-computed ones (`X=$(cmd)`), and the functions it calls."""
        functions = self.functions_used(text)
        used = "\n".join([*functions, text])
        needed: list[str] = []
        queue = [used]
        while queue:
            current = queue.pop()
            for name, definition in self.definitions.items():
                if name not in needed and _uses(current, name):
                    needed.append(name)
                    queue.append(definition)
        definitions = [self.definitions[name] for name in self.definitions if name in needed]
        if definitions:
            functions = self.functions_used("\n".join([text, *definitions]))
            used = "\n".join([*functions, *definitions, text])
        prelude = [f"{name}={shlex.quote(value)}" for name, value in self.variables.items()
                   if name not in self.environment and not name.isdigit() and not _FACT.search(value)
                   and _uses(used, name)]
        if self.arguments is not None and re.search(r"\$(?:[1-9@*#]|\{[1-9@*#])", text):
            prelude.append(shlex.join(["set", "--", *self.arguments]))
        prelude += functions + definitions
        unknown = [n for n in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", used) if n not in self.variables]
        if unknown and self.sourced:
            # a file an `if` arm sourced ("?" before it) is read when it is there
            prelude[:0] = [f"[ -r {shlex.quote(path[1:])} ] && . {shlex.quote(path[1:])}" if path.startswith("?")
                           else f". {shlex.quote(path)}" for path in dict.fromkeys(self.sourced)]
        if pipefail and "|" in re.sub(r"'[^']*'|\|\||\"(?:\\.|[^\"])*\"", "", "\n".join([*functions, *definitions, text])):
            prelude.insert(0, "set -o pipefail")
        return "\n".join(prelude + [text.strip()])

    def functions_used(self, text: str) -> list[str]:
        """Definitions of the script's functions that ``text`` calls, directly or through another."""
        found: list[str] = []
        queue = [text]
        while queue:
            current = queue.pop()
            for name, (definition, _) in self.functions.items():
                if name not in found and re.search(r"(?:^|[\s;&|(`{])" + re.escape(name) + r"(?=$|[\s;&|)`}])", current):
                    found.append(name)
                    queue.append(definition)
        return [self.functions[name][0] for name in reversed(found)]

    def note_shell_only(self, ctx: _Context, text: str) -> None:
        """Warn when a shell task uses a variable only an earlier shell task set: each task runs
        in its own shell, so the value is gone (the playbook would not do what the script did)."""
        lost = sorted(name for name in self.shell_only
                      if name not in self.variables and re.search(r"\$\{?" + re.escape(name) + r"\b", text))
        if lost:
            self.warn(ctx.statement, f"uses {', '.join('$' + n for n in lost)}, set by an earlier shell task; each task "
                                     "runs in its own shell, so it is unset here: set it in this task or make it a variable")
        self.shell_only.update(re.findall(r"(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=", text))

    def guarded(self, ctx: _Context, module: str, module_args: dict[str, Any], argv: list[str],
                creates: str | None, env: dict[str, str], title: str | None = None) -> None:
        creates = ctx.creates or creates
        if self.cwd:
            module_args["chdir"] = self.cwd
        module_args["cmd"] = literal(module_args["cmd"])  # `{{X}}` in a command is the script's, not Ansible's
        data: dict[str, Any] = {"name": fallback_name(title or module_args["cmd"]), module: module_args}
        if creates:
            module_args["creates"] = creates
        elif read_only(argv):
            data["changed_when"] = False
        else:
            data["changed_when"] = True
        self.finish(ctx, data, module, env)
        statement = ctx.statement
        span = f"{statement.first_line}" if statement.first_line == statement.last_line \
            else f"{statement.first_line}-{statement.last_line}"
        kind = "shell" if module == SHELL else "command"
        self.warnings.append(f"line {span}: no rule for `{short(title or module_args['cmd'])}`; "
                             f"kept as {kind}, review it")
        if statement not in self.uncovered:
            self.uncovered.append(statement)
        self.drafts.append(Step(data, TaskSource(statement.first_line, statement.last_line, "fallback")))

    def plain_names(self) -> None:
        """Task names say a host value as the script did (`$WSL_USER`), not as a template:
        Ansible shows a name before templating it, and lint wants templates only at the end."""
        def plain(match: re.Match[str]) -> str:
            expression = match.group(1)
            return "$" + self.fact_variables[expression] if expression in self.fact_variables else expression

        for draft in self.drafts:
            name = draft.task.get("name")
            if isinstance(name, str) and ("{{" in name or "((" in name):
                draft.task["name"] = _NAMED_VALUE.sub(plain, name)

    def warn(self, statement: Statement, message: str) -> None:
        span = f"{statement.first_line}" if statement.first_line == statement.last_line \
            else f"{statement.first_line}-{statement.last_line}"
        warning = f"line {span}: {message}"
        if warning not in self.warnings:
            self.warnings.append(warning)




# --- helpers ---------------------------------------------------------------------------------

_PATTERN_TAKERS = frozenset({"apt-get", "apt", "aptitude", "dnf", "yum"})
# commands whose rules read Invocation.globbed: their glob words are passed as written
_GLOB_AWARE = frozenset({"rm"})


def _takes_patterns(command: Command) -> bool:
    """`apt-get purge apache2*`: the package modules take the glob as a name pattern themselves."""
    return bool(command.words) and command_key(command.words[0].value) in _PATTERN_TAKERS \
        and any(w.value in ("remove", "purge", "autoremove", "erase") for w in command.words[1:3])


def _inline_script(name: str, argv: list[str]) -> tuple[str | None, str] | None:
    """(user or None, script) of `bash -c SCRIPT` and `su [-|-l] [USER] -c SCRIPT`."""
    if name in ("bash", "sh") and len(argv) == 3 and argv[1] == "-c":
        return None, argv[2]
    if name != "su" or "-c" not in argv[:-1]:
        return None
    script_at = argv.index("-c") + 1
    rest = [a for i, a in enumerate(argv[1:], 1) if i not in (script_at - 1, script_at)]
    users = [a for a in rest if a not in ("-", "-l", "--login")]
    if len(users) > 1 or any(u.startswith("-") for u in users):
        return None
    return (users[0] if users else "root"), argv[script_at]

def fact_name(variable: str) -> str:
    """The Ansible fact that holds a shell variable set in an arm run on the host."""
    return "shell_" + re.sub(r"\W", "_", variable.lower())


def parameter_operation(value: str, operator: str, pattern: str) -> str | None:
    """`${X%pattern}` and friends on a known value (glob patterns, as bash matches them)."""
    if operator == ",,":
        return value.lower() if not pattern else None
    if operator == "^^":
        return value.upper() if not pattern else None
    if operator in ("/", "//"):
        old, _, new = pattern.partition("/")
        if not old or any(c in old for c in "*?[") or old.startswith(("#", "%")):
            return None
        return value.replace(old, new) if operator == "//" else value.replace(old, new, 1)
    cuts = range(len(value) + 1)
    if operator in ("%", "%%"):  # a suffix: shortest (%) or longest (%%)
        order = reversed(cuts) if operator == "%" else cuts
        for cut in order:
            if fnmatch.fnmatchcase(value[cut:], pattern):
                return value[:cut]
        return value
    order = cuts if operator == "#" else reversed(cuts)  # a prefix: shortest (#) or longest (##)
    for cut in order:
        if fnmatch.fnmatchcase(value[:cut], pattern):
            return value[cut:]
    return value


_MESSAGE = re.compile(r"(?:\w+_)?(?:log|msg|message|info|warn|warning|error|err|fail|die|print|say|notice)(?:_\w+)?",
                      re.IGNORECASE)
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


_TESTS = frozenset({"[", "[[", "test", "command", "type", "hash", "which", "grep", "egrep", "fgrep", "id",
                    "getent", "lsb_release", "uname", "arch", "cat", "ls", "stat", "pgrep", "true", "false",
                    "hostname", "head", "tail", "wc", "awk", "cut", "tr", "sort", "uniq", "nproc", "free", "df",
                    "dmesg", "ping", "dpkg-query", "rpm", "getenforce", "sestatus", "ip", "ss", "lsmod", "whoami"})
_READ_FLAGS = {"dpkg": ("-s", "-l", "-L", "--status", "--list", "--get-selections", "--print-architecture"),
               "systemctl": ("is-active", "is-enabled", "is-failed", "status", "list-units", "list-unit-files"),
               "apt-cache": ("policy", "show", "search", "madison"), "docker": ("ps", "info", "inspect", "images"),
               "sed": ("-n",)}


def _only_reads(command: Command) -> bool:
    """Whether a condition's command only looks (a test, a query), so checking it changes nothing."""
    if command.node_type in ("test_command",):
        return True
    if not command.is_simple or not command.words:
        return False
    name = command_key(command.words[0].value)
    if name in _TESTS:
        return not (name == "sed" or any(r.op in (">", ">>") and r.target not in ("/dev/null",) for r in command.redirects))
    flags = _READ_FLAGS.get(name)
    return flags is not None and any(w.value in flags for w in command.words[1:3])


def _is_cd(pipeline: Pipeline) -> bool:
    commands = pipeline.commands
    return len(commands) == 1 and commands[0].is_simple and commands[0].name in ("cd", "pushd") \
        and not commands[0].redirects


def _exits(pipeline: Pipeline) -> bool:
    commands = pipeline.commands
    return len(commands) == 1 and commands[0].is_simple and commands[0].name in ("exit", "return") \
        and len(commands[0].words) <= 2


def _only_prints(command: Command) -> bool:
    """`echo ...`/`printf ...` whose output goes to the terminal (or nowhere), not to a file."""
    if not command.words or command.words[0].raw not in ("echo", "printf") or command.heredoc is not None:
        return False
    return all(r.op in (">&", "<&") or r.target in ("/dev/null", "/dev/stderr", "/dev/stdout", "&2", "&1", "2", "1")
               for r in command.redirects)


def _uses(text: str, name: str) -> bool:
    return re.search(r"\$\{?" + re.escape(name) + r"\b", text) is not None


def lines_with_parse_errors(statements: Iterable[Statement]) -> set[int]:
    """Every line that a statement with a parse error spans."""
    return {
        line
        for statement in statements
        if statement.kind == "error" or statement.errors
        for line in range(statement.first_line, statement.last_line + 1)
    }


def join_text(commands: tuple[Command, ...]) -> str:
    return source_text(commands)


