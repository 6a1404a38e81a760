"""`$(query)` in a line worked out before the line (a fact, a module that reads it, or a shell
task) and `. /etc/os-release` read by a module: the walker's queries mixin.

design: a query is a `$(...)` that only reads the host (`$(dpkg --print-architecture)`, `$(cat
F)`, `$(. /etc/os-release && echo "$X")`); the line that holds it is tried with the query worked
out first into a fact, and kept that way only when a rule then takes the line (see
ShellWalker.pipeline). A module reads what one can (slurp, getent, the release variables, what
``computed`` takes); any other query is a shell task whose output a fact keeps.
"""

from __future__ import annotations

import re
from typing import Any

from playbook.convert.os_release import NAMES as RELEASE_NAMES
from playbook.convert.os_release import OS_RELEASE, os_release_tasks
from playbook.convert.shapes import only_reads
from playbook.convert.state import Context
from playbook.convert.values import ValuesMixin, fact_name
from playbook.passes import SHELL, Step, TaskSource
from playbook.rules.base import Invocation
from playbook.rules.content import literal
from playbook.shell import Pipeline, Word, WordPart, parse_script

# `$(. /etc/os-release && echo "$NAME")`: one of the variables the file sets
_RELEASE_ECHO = re.compile(r'\$\(\. /etc/os-release && echo "?\$\{?([A-Z_]+)\}?"?\)')


def _is_query(script: str) -> bool:
    """True for a command substitution's script that only reads: one query (`dpkg
    --print-architecture`), or `. /etc/os-release && echo "$VERSION_CODENAME"`."""
    statements = parse_script(script).statements
    if len(statements) != 1 or statements[0].kind == "error":
        return False
    commands = statements[0].commands
    if not commands or any(not c.is_simple or c.redirects or c.heredoc is not None for c in commands) \
            or any(op != "&&" for op in statements[0].operators) or len(statements[0].pipelines) != len(commands):
        return False
    for command in commands:
        argv = [w.raw for w in command.words]
        sourced = argv[:1] in (["."], ["source"]) and len(argv) == 2 and argv[1].startswith("/etc/")
        if not (sourced or only_reads(command) or (argv[:1] == ["echo"] and len(argv) > 1)):
            return False
    return True


class QueriesMixin(ValuesMixin):
    """Works out the queries in a line; reads /etc/os-release."""

    def queries_in(self, pipeline: Pipeline) -> list[str]:
        """The `$(...)` in the pipeline's words that the converter cannot work out and that only
        read the host (a query, a file sourced from /etc and echoed)."""
        found: list[str] = []
        for command in pipeline.commands:
            for word in command.words:
                for part in word.parts:
                    text = part.text
                    if part.expansion and text.startswith("$(") and not text.startswith("$((") \
                            and text not in found and self.expanded(text) is None and _is_query(text[2:-1]):
                        found.append(text)
        return found

    def query_fact(self, ctx: Context, text: str) -> None:
        slug = re.sub(r"[^a-z0-9]+", "_", text[2:-1].lower()).strip("_")[:40] or "query"
        fact = "shell_" + slug
        value = self.module_query(ctx, text, slug)
        if value is not None:  # a module reads it: no shell task
            self.worked_out[text] = value
            self.fact_variables[value[3:-3]] = text[1:]
            return
        check: dict[str, Any] = {"name": f"Work out {text}",
                                 SHELL: {"cmd": literal(self.shell_script(f'printf "%s" "{text}"')),
                                         "executable": "/bin/bash"},
                                 "register": f"{fact}_output", "changed_when": False, "check_mode": False}
        if self.cwd:
            check[SHELL]["chdir"] = self.cwd
        facts = self.fact_environment(check[SHELL]["cmd"])
        if facts:  # `$(ls "$DIR")` with DIR worked out on the host
            check["environment"] = facts
        keep: dict[str, Any] = {"name": f"Keep {text}", "ansible.builtin.set_fact": {fact: "{{ " + fact + "_output.stdout }}"}}
        source = TaskSource(ctx.statement.first_line, ctx.statement.last_line, "fact")
        for task in (check, keep):
            if ctx.when:
                task["when"] = ctx.when
            self.drafts.append(Step(task, source))
        self.worked_out[text] = "{{ " + fact + " }}"
        self.fact_variables[fact] = text[1:]  # task names say it as the script did: $(...)

    def module_query(self, ctx: Context, text: str, slug: str) -> str | None:
        """The `{{ fact }}` a module task works `$(query)` out into, emitting those tasks: `$(cat
        FILE)` a slurp, `$(. /etc/os-release && echo "$ID")` the release variables, `$(id -u U)`
        a getent, and what ``computed`` takes; None (nothing emitted) for any other query."""
        fact = fact_name(slug)
        released = _RELEASE_ECHO.fullmatch(text)
        if released and released.group(1) in RELEASE_NAMES:
            tasks, variables = os_release_tasks()
            source = TaskSource(ctx.statement.first_line, ctx.statement.last_line, "os-release")
            if ctx.when:
                tasks[0]["when"] = ctx.when
            self.drafts.extend(Step(task, source) for task in tasks)
            return variables[released.group(1)]
        word = Word(raw=text, parts=(WordPart(text, expansion=True),))
        if self.read_file(ctx, slug, word) or self.computed(ctx, slug, word):
            return "{{ " + fact + " }}"
        user = re.fullmatch(r"\$\(id -u ([a-z_][a-z0-9_-]*)\)", text)
        if user is None:
            return None
        source = TaskSource(ctx.statement.first_line, ctx.statement.last_line, "fact")
        look: dict[str, Any] = {"name": f"Look up the user {user.group(1)}", "ansible.builtin.getent": {
            "database": "passwd", "key": user.group(1), "fail_key": False}, "register": f"{fact}_user"}
        # `id -u` prints the uid (the passwd entry's second field), nothing for no such user
        keep = {"name": f"Keep {text}", "ansible.builtin.set_fact": {
            fact: "{{ ((" + fact + "_user.ansible_facts.getent_passwd.get('" + user.group(1) + "')) or ['', ''])[1] }}"}}
        for task in (look, keep):
            if ctx.when:
                task["when"] = ctx.when
            self.drafts.append(Step(task, source))
        return "{{ " + fact + " }}"

    def release_variables(self, ctx: Context, invocation: Invocation) -> bool:
        """`. /etc/os-release`: its standard variables become facts read from the host's file
        (see os_release); the file's other names stay known to shell tasks only, which source
        it first."""
        if invocation.name not in (".", "source") or invocation.argv[1:] != (OS_RELEASE,) \
                or invocation.redirects or invocation.stdin is not None:
            return False
        tasks, variables = os_release_tasks()
        source = TaskSource(ctx.statement.first_line, ctx.statement.last_line, "os-release")
        if ctx.when:  # the facts are set either way: empty when the file was not read, as unset
            tasks[0]["when"] = ctx.when
        self.drafts.extend(Step(task, source) for task in tasks)
        self.host_set.update(variables)
        for variable, value in variables.items():
            self.variables[variable] = value
            self.definitions.pop(variable, None)
            self.fact_variables[value[3:-3]] = variable
        if OS_RELEASE not in self.sourced:
            self.sourced.append(OS_RELEASE)
        return True
