"""Branches on the host: `if`/`elif`/`case` whose arms the walker decides now or guards with a
``when`` over a check task (``conditional``), path guards (``guarded_body``, ``early_exit``),
and the lines that stop the script (``exit``, ``fails_unless``, ``stops_the_script``).
The condition language itself (deciding, negating, host expressions) is in ``conditions``."""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import replace
from typing import Any

from playbook.convert.conditions import (
    HOST_VALUE,
    decide,
    file_test,
    host_expression,
    host_match,
    join_when,
    negate,
    register_name,
)
from playbook.convert.fallback import fallback_name, strip_leading_sudo
from playbook.convert.guards import PathCondition
from playbook.convert.host_checks import inline_call, module_check
from playbook.convert.shapes import PIPE, only_prints, only_reads, service_verb
from playbook.convert.state import Context
from playbook.convert.values import ValuesMixin, fact_name
from playbook.passes import COMMAND, SHELL, Step, TaskSource
from playbook.rules.base import UNKNOWN_DIRECTORY
from playbook.rules.content import literal
from playbook.shell import Branch, Command, Pipeline, Statement

_MESSAGE = re.compile(r"(?:\w+_)?(?:log|msg|message|info|warn|warning|error|err|fail|die|print|say|notice)(?:_\w+)?",
                      re.IGNORECASE)


class BranchesMixin(ValuesMixin):
    """Converts conditionals and guards: arms decided here, or run under a ``when`` on the host."""

    # --- lines that stop the script ------------------------------------------------------

    def fails_unless(self, ctx: Context, compound: Command) -> bool:
        """`if ! cmd; then echo "failed"; exit 1; fi` is `cmd` as a task: where it fails the play
        stops, as the script did (its message is lost). An `else` that only prints (`log "done"`)
        changes nothing on the host either."""
        branches = compound.branches
        if compound.node_type != "if_statement" or len(branches) not in (1, 2) or (len(branches) == 2 and (
                branches[1].condition is not None or not all(
                    s.command is not None and (only_prints(s.command) or (
                        s.command.name in self.functions and self.prints_only(s.command.name)))
                    for s in branches[1].body))):
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
        if not all(s.command is not None and (only_prints(s.command) or only_reads(s.command)
                                              or _MESSAGE.fullmatch(s.command.name or ""))
                   for s in branch.body[:-1]):  # `service x status` shows why, and changes nothing
            return False
        statement = condition[0]
        positive = replace(statement, pipelines=(replace(statement.pipelines[0], negated=False),),
                           text=re.sub(r"^\s*!\s*", "", statement.text), first_line=ctx.statement.first_line,
                           last_line=ctx.statement.last_line)
        self.statement(positive, become=ctx.become, when=ctx.when, become_user=ctx.become_user)
        return True

    def restart_or_start(self, ctx: Context, compound: Command) -> bool:
        """`if service X status; then service X restart; else service X start; fi` (or systemctl
        is-active): X runs afterwards, restarted if it ran. The else arm's start, then the first
        arm's restart, with no check on the host: a start leaves a running X alone, and a restart
        folded into a handler later still finds X started."""
        branches = compound.branches
        if compound.node_type != "if_statement" or len(branches) != 2 or branches[1].condition is not None:
            return False
        condition = branches[0].condition or ()
        if len(condition) != 1 or len(condition[0].pipelines) != 1 or condition[0].operators:
            return False
        checked = service_verb(condition[0].pipelines[0])
        if checked is None or checked[1] not in ("status", "is-active"):
            return False
        snapshot = self.snapshot()
        for branch, states in ((branches[1], ("started",)), (branches[0], ("restarted",))):
            before = len(self.drafts)
            if not branch.body or not self.try_statements(branch.body, ctx):
                self.restore(snapshot)
                return False
            made = self.drafts[before:]
            if not made or not all(_manages_service(step, checked[0], states, ctx.when) for step in made):
                self.restore(snapshot)
                return False
            del self.drafts[before + 1:]  # `service x start` twice (the second under `if !`): once
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

    def exit(self, ctx: Context, name: str, status: str) -> bool:
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

    def early_exit(self, ctx: Context, condition: PathCondition, body: tuple[Statement, ...]) -> bool:
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

    # --- guards and conditionals ---------------------------------------------------------

    def guarded_body(self, ctx: Context, condition: PathCondition, statements: tuple[Statement, ...]) -> bool:
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
        self.restore_shell_state(snapshot)
        self.variables.update({k: v for k, v in self.host_set.items() if snapshot.variables.get(k) != v})
        self.sourced = sourced + ["?" + p.lstrip("?") for p in self.sourced if p not in sourced]  # read when there
        made = self.drafts[snapshot.drafts + 1:]
        if not made:  # nothing to guard (the block only set state): no stat either
            del self.drafts[snapshot.drafts]
            return True
        if len(made) == 1 and made[0].module in (COMMAND, SHELL) and not condition.exists and not ctx.when:
            # one command that runs when the path is absent: `creates` says it without a stat
            task = made[0].task
            task.pop("when", None)
            task.pop("changed_when", None)
            task[made[0].module]["creates"] = condition.path
            del self.drafts[snapshot.drafts]
        return True

    def conditional(self, ctx: Context, compound: Command) -> bool:
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
            last = branch.body[-1] if branch.body else None
            if last is None or len(last.pipelines) != 1 or last.operators or not self.stops_the_script(last.pipelines[0]):
                set_in.append(names)  # an arm that ends the script leaves no path on which a name goes unset
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
            computed: dict[str, str] = {}  # name -> what the shell set it to before (`DOMAIN=$1`)
            for name in sorted(changed & set(self.host_set)):  # facts set on every path (os_release)
                self.variables[name] = self.host_set[name]
            for name in sorted(changed - {"PWD"} - set(self.host_set)):
                needs_default = not exhaustive or any(name not in names for names in set_in)
                knowable = name in facts and (not needs_default or name in before[0] or name in before[3])
                if knowable and needs_default and name in before[0]:
                    defaults[name] = before[0][name]
                elif knowable and needs_default:
                    computed[name] = before[3][name]
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
            for name, definition in reversed(computed.items()):
                # the value before the `if` was the shell's to work out: worked out there, as the
                # default an arm that did not set it leaves
                kept = self.variables.pop(name)
                self.definitions[name] = definition
                made = self.fact_from_arm(replace(ctx, when=None), name, ctx.when)
                steps = [self.drafts[i] for i in made]
                for index in sorted(made, reverse=True):
                    del self.drafts[index]
                self.drafts[snapshot.drafts:snapshot.drafts] = steps
                self.definitions.pop(name, None)
                self.variables[name] = kept
            if defaults:
                statement = ctx.statement
                task: dict[str, Any] = {"name": "Set " + ", ".join(defaults) + " as the script had them",
                                        "ansible.builtin.set_fact": {fact_name(n): v for n, v in defaults.items()}}
                if ctx.when:
                    task["when"] = ctx.when
                self.drafts.insert(snapshot.drafts, Step(task, TaskSource(statement.first_line, statement.last_line, "fact")))
            if "PWD" in changed:
                self.cwd = UNKNOWN_DIRECTORY
        return True

    def arm(self, branch: Branch, ctx: Context, condition_held: bool) -> bool:
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

    def decided(self, branch: Branch) -> bool | None:
        """Whether an arm runs, when the converter can tell now (every operand known), else None."""
        if branch.subject is not None:  # a `case` arm
            if any(p.glob and p.value == "*" for p in branch.patterns):
                return True
            subject = self.substitute_word(branch.subject)
            if subject is None or HOST_VALUE.search(subject) or any(any(part.expansion for part in p.parts) for p in branch.patterns):
                return None
            return any(fnmatch.fnmatchcase(subject, p.value) if p.glob else subject == p.value
                       for p in branch.patterns)
        condition = branch.condition or ()
        if len(condition) == 1 and condition[0].kind == "list" and condition[0].operators:
            return self.decided_chain(condition[0])
        if len(condition) != 1 or condition[0].kind not in ("command", "compound"):
            return None
        text = self.condition_text(condition[0].text)
        return None if text is None or HOST_VALUE.search(text) else decide(text)

    def decided_chain(self, statement: Statement) -> bool | None:
        """`[[ "$V" == 20.x ]] || [[ "$V" == 22.x ]]` on known values: decided as bash runs the
        list (left to right; `a || b` skips b once a held, `a && b` once a failed)."""
        result: bool | None = None
        for index, pipeline in enumerate(statement.pipelines):
            command = pipeline.commands[0] if len(pipeline.commands) == 1 else None
            if command is None or pipeline.negated or command.redirects \
                    or (command.node_type != "test_command" and command.name not in ("[", "[[", "test")):
                return None
            operator = statement.operators[index - 1] if index else None
            if operator not in (None, "&&", "||"):
                return None
            if (operator == "||" and result) or (operator == "&&" and result is False):
                continue  # bash does not run it; the result stands
            text = self.condition_text(command.text)
            verdict = None if text is None or HOST_VALUE.search(text) else decide(text)
            if verdict is None:
                return None
            result = verdict
        return result

    def host_condition(self, branch: Branch) -> str | None:
        """A `when` expression for an arm whose test compares values the host knows (facts):
        `[ "$(uname -m)" = aarch64 ]` is `ansible_facts.architecture == 'aarch64'`, no task."""
        condition = branch.condition or ()
        if branch.subject is not None:
            subject = self.substitute_word(branch.subject)
            if subject is None or not HOST_VALUE.search(subject) or any(any(part.expansion for part in p.parts)
                                                                    for p in branch.patterns):
                return None
            tests = [host_match(subject, p.raw) if p.glob else host_expression(f"[ {shlex.quote(subject)} = {shlex.quote(p.value)} ]")
                     for p in branch.patterns]
            if any(t is None for t in tests):
                return None
            return " or ".join(f"({t})" if len(tests) > 1 else str(t) for t in tests)
        if len(condition) == 1 and condition[0].kind == "list" and condition[0].operators:
            return self.host_chain(condition[0])
        if len(condition) != 1 or condition[0].kind not in ("command", "compound"):
            return None
        text = self.condition_text(condition[0].text)
        return None if text is None else host_expression(text)

    def host_chain(self, statement: Statement) -> str | None:
        """`[ "$X" = true ] || [ "$X" = 1 ]`: each test a `when` expression, joined as bash
        reads `&&` and `||` (left to right, neither first)."""
        expression: str | None = None
        for index, pipeline in enumerate(statement.pipelines):
            command = pipeline.commands[0] if len(pipeline.commands) == 1 else None
            if command is None or pipeline.negated or command.redirects \
                    or (command.node_type != "test_command" and command.name not in ("[", "[[", "test")):
                return None
            text = self.condition_text(command.text)
            test = host_expression(text) if text is not None else None
            if test is None and text is not None and not HOST_VALUE.search(text):
                known = decide(text)  # a test on values known now
                test = None if known is None else str(known).lower()
            if test is None:
                return None
            operator = {"&&": "and", "||": "or"}.get(statement.operators[index - 1]) if index else None
            if index and operator is None:
                return None
            expression = f"({test})" if expression is None else f"({expression} {operator} ({test}))"
        return expression

    def condition_text(self, text: str) -> str | None:
        """A test's text with what the converter knows put in: variables, and the substitutions
        it can work out (`$(uname -m)` is a gathered fact); None when something is unknown."""
        def one(match: re.Match[str]) -> str:
            value = self.expanded(match.group(0))
            return match.group(0) if value is None else value

        return self.substitute(re.sub(r"\$\([^()`]*\)|`[^`]*`", one, text))

    def condition_check(self, ctx: Context, condition: tuple[Statement, ...], when: str | None,
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
        elif len(condition) == 1 and (  # unsubstituted, a word only the host knows stays a word: no module
                answered := module_check(self.called_test(substituted or text) or substituted or text,
                                         register_name(label or text, taken), set(self.functions))):
            task, expression = answered
        else:
            register = register_name(label or text, taken)
            body = self.shell_script(strip_leading_sudo(text), pipefail=False)
            task = {"name": fallback_name(label or text).replace("Run ", "Check whether ", 1),
                    SHELL: {"cmd": literal(body), "executable": "/bin/bash"},
                    "register": register, "changed_when": False, "failed_when": False, "check_mode": False}
            if not all(only_reads(c) for s in condition for c in s.commands):
                # `if ! curl ... | gpg --dearmor -o KEY`: the test itself changes the host
                task["changed_when"] = True
                del task["check_mode"]
            if PIPE.search(body):
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

    def called_test(self, text: str) -> str | None:
        """`command_exists dnf` for `command_exists() { command -v "$1" &> /dev/null; }`: the
        function's one-line test with its arguments (see host_checks.inline_call)."""
        bodies = {name: "\n".join(s.text for s in body) for name, (_, body) in self.functions.items()
                  if body is not None and len(body) == 1}
        return inline_call(text, bodies)

    def register_name(self, path: str, when: str | None = None) -> str:
        base = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_") or "path"
        name = f"{base}_stat"
        taken = set(re.findall(r"[A-Za-z_]\w*", when or ""))  # the checks still read (see condition_check)
        n = 2
        while name in taken:
            name, n = f"{base}_stat_{n}", n + 1
        return name


def _manages_service(step: Step, unit: str, states: tuple[str, ...], when: str | None) -> bool:
    """True when ``step`` is a service task on ``unit`` to one of ``states``, under ``when`` only."""
    args = step.args
    return step.module in ("ansible.builtin.service", "ansible.builtin.systemd_service", "ansible.builtin.systemd") \
        and isinstance(args, dict) and str(args.get("name", "")).removesuffix(".service") == unit \
        and args.get("state") in states and set(args) <= {"name", "state"} and step.task.get("when") == when
