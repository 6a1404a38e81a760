"""Tasks as the walker emits them: a rule's task with the statement's become/when/environment
(``emit``, ``finish``), and the guarded ``command``/``shell`` task for what no rule covers
(``fallback``, ``fallback_shell``), which carries the variables, shell-computed definitions,
sourced files and functions its text depends on (``shell_script``). Pure helpers for those
tasks are in ``fallback``."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from typing import Any

from playbook.convert.conditions import HOST_VALUE
from playbook.convert.fallback import creates_of, fallback_name, read_only, short, strip_leading_sudo
from playbook.convert.shapes import PIPE, SHELL_BUILTINS, argument_numbers, shell_read, uses
from playbook.convert.state import Context, WalkerState
from playbook.passes import COMMAND, SHELL, Step, TaskSource
from playbook.rules.base import DEFAULT_UMASK, UNKNOWN_DIRECTORY, Task
from playbook.rules.content import literal
from playbook.shell import Command, source_text

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
_NAMED_VALUE = re.compile(r"(?:\{\{|\(\() ((?:shell_\w+|ansible_facts\.\w+|ansible_env\.\w+ \| default|ansible_env\.PWD)) (?:\}\}|\)\))")  # also as fallback_name writes it


class TasksMixin(WalkerState):
    """Makes the tasks: rule tasks with the statement's context, fallback tasks, task names."""

    def emit(self, ctx: Context, task: Task, rule_name: str, env: dict[str, str]) -> None:
        if task.note:
            self.warn(ctx.statement, task.note)
        if task.role == "no-op":
            return
        if task.module == "ansible.builtin.pip" and self.virtualenv and "virtualenv" not in task.args \
                and "executable" not in task.args:
            task = replace(task, args={**task.args, "virtualenv": self.virtualenv})  # pip after `activate`
        data = task.as_dict()
        module = task.module
        if module in (COMMAND, SHELL):
            if self.cwd and "chdir" not in data[module]:
                data[module]["chdir"] = self.cwd
            self.note_lost_directory(ctx)
            if ctx.creates and "creates" not in data[module]:
                data[module]["creates"] = ctx.creates
        self.finish(ctx, data, module, env)
        statement = ctx.statement
        self.drafts.append(Step(data, TaskSource(statement.first_line, statement.last_line, rule_name)))

    def finish(self, ctx: Context, data: dict[str, Any], module: str, env: dict[str, str]) -> None:
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

    def fallback(self, ctx: Context, command: Command, argv: list[str], redirects: list[Any],
                 env: dict[str, str]) -> None:
        if redirects or command.heredoc is not None or command.herestring is not None \
                or any(w.raw.startswith("~") for w in command.words) or self.umask != DEFAULT_UMASK \
                or argv[0] in SHELL_BUILTINS:
            # (under the script's own umask the shell task sets it first; `eval` has no program)
            self.fallback_shell(ctx, self.command_text(command), creates_of(argv, redirects),
                                env=env)
            return
        module_args: dict[str, Any] = {"cmd": shlex.join(argv)}
        self.guarded(ctx, COMMAND, module_args, argv, creates_of(argv, []), env)

    def fallback_shell(self, ctx: Context, text: str, creates: str | None,
                       become: bool = False, env: dict[str, str] | None = None) -> None:
        ctx = replace(ctx, become=ctx.become or become)
        text = strip_leading_sudo(text)
        self.note_shell_only(ctx, text)
        self.note_lost_arguments(ctx, text)
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
                if name not in needed and uses(current, name):
                    needed.append(name)
                    queue.append(definition)
        definitions = [self.definitions[name] for name in self.definitions if name in needed]
        if definitions:
            functions = self.functions_used("\n".join([text, *definitions]))
            used = "\n".join([*functions, *definitions, text])
        prelude = [f"{name}={shlex.quote(value)}" for name, value in self.variables.items()
                   if name not in self.environment and not name.isdigit() and not HOST_VALUE.search(value)
                   and uses(used, name)]
        if self.arguments is not None and re.search(r"\$(?:[1-9@*#]|\{[1-9@*#])", text):
            prelude.append(shlex.join(["set", "--", *self.arguments]))
        elif given := self.script_arguments(text):  # the script's own $1.., which the play takes as variables
            prelude.append("set -- " + " ".join(f'"$SCRIPT_ARG_{n}"' for n in given))
        prelude += functions + definitions
        unknown = [n for n in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", used) if n not in self.variables]
        if unknown and self.sourced:
            # a file an `if` arm sourced ("?" before it) is read when it is there
            prelude[:0] = [f"[ -r {shlex.quote(path[1:])} ] && . {shlex.quote(path[1:])}" if path.startswith("?")
                           else f". {shlex.quote(path)}" for path in dict.fromkeys(self.sourced)]
        if self.umask != DEFAULT_UMASK:
            prelude.insert(0, f"umask {self.umask:03o}")
        if pipefail and PIPE.search("\n".join([*functions, *definitions, text])):
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

    def fact_environment(self, text: str) -> dict[str, str]:
        """The variables ``text`` reads whose value is known on the host only (a fact): a shell
        task gets them through its environment, so its script holds no Jinja. The script's own
        arguments come as SCRIPT_ARG_N, which the task's `set --` makes $N again."""
        facts = {name: value for name, value in self.variables.items()
                 if not name.isdigit() and HOST_VALUE.search(value) and uses(text, name)}
        facts.update({f"SCRIPT_ARG_{n}": self.variables[n] for n in self.script_arguments(text)})
        return facts

    def script_arguments(self, text: str) -> list[str]:
        """"1".."N" when ``text`` reads the script's own argument $N (held as the play variable
        shell_N): a task's shell has no arguments, so it is given them."""
        if self.arguments is not None:
            return []
        used = [n for n in argument_numbers(text) if HOST_VALUE.search(self.variables.get(str(n), ""))]
        return [str(n) for n in range(1, max(used) + 1)] if used else []

    def note_shell_only(self, ctx: Context, text: str) -> None:
        """Warn when a shell task uses a variable only an earlier shell task set: each task runs
        in its own shell, so the value is gone (the playbook would not do what the script did)."""
        lost = sorted(name for name in self.shell_only
                      if name not in self.variables and re.search(r"\$\{?" + re.escape(name) + r"\b", text))
        if lost:
            self.warn(ctx.statement, f"uses {', '.join('$' + n for n in lost)}, set by an earlier shell task; each task "
                                     "runs in its own shell, so it is unset here: set it in this task or make it a variable")
        self.shell_only.update(re.findall(r"(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=", text))

    def note_lost_arguments(self, ctx: Context, text: str) -> None:
        """Warn when a shell task reads positional parameters nobody can give it: `"$@"` or
        `$#` of the script, or `$1` after a `shift` of the script's own arguments."""
        if self.arguments is not None:
            return  # known: the task starts with `set --`
        unknown = [f"${n}" for n in dict.fromkeys(argument_numbers(text)) if str(n) not in self.variables]
        unknown += list(dict.fromkeys(re.findall(r"\$[@*#]", shell_read(text))))
        if unknown:
            self.warn(ctx.statement, f"reads {', '.join(unknown)}, positional parameters a task's shell does not "
                                     "have (empty there): pass what it needs as a variable")

    def note_lost_directory(self, ctx: Context) -> None:
        """Warn when a command task runs after a `cd` the converter could not follow: the task
        runs where Ansible runs commands, not where the script had moved to."""
        if self.cwd == UNKNOWN_DIRECTORY:
            self.warn(ctx.statement, "runs where Ansible runs its commands, not in the directory the script had "
                                     "moved to (an earlier cd whose target is known on the host only): review the "
                                     "relative paths it uses")

    def guarded(self, ctx: Context, module: str, module_args: dict[str, Any], argv: list[str],
                creates: str | None, env: dict[str, str], title: str | None = None) -> None:
        creates = ctx.creates or creates
        if self.cwd:
            module_args["chdir"] = self.cwd
        self.note_lost_directory(ctx)
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

    def command_text(self, command: Command) -> str:
        """The command as written, with its redirections and heredoc, without its leading sudo."""
        text = source_text((command,))
        if command.become and command.words:
            start = text.find(command.words[0].raw, 4)
            if start > 0:
                return text[start:]
        return text

    def plain_names(self) -> None:
        """Task names say a host value as the script did (`$WSL_USER`), not as a template:
        Ansible shows a name before templating it, and lint wants templates only at the end."""
        def plain(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression == "ansible_env.PWD":
                return "$PWD"  # START_DIRECTORY: where the script started
            return "$" + self.fact_variables[expression] if expression in self.fact_variables else expression

        for draft in self.drafts:
            name = draft.task.get("name")
            if isinstance(name, str) and ("{{" in name or "((" in name):
                name = draft.task["name"] = _NAMED_VALUE.sub(plain, name)
            if isinstance(name, str) and re.search(r"\{[{%#]|[}%#]\}", name):
                # the script's own `{{X}}` (`sed 's/{{VERSION}}/...'`): Ansible would template it
                draft.task["name"] = name.replace("{", "(").replace("}", ")")
