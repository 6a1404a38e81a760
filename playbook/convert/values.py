"""Words and variables: what a word expands to with the values the walker knows (``$X``,
``${X:-default}``, ``${X%%.*}``, the pure ``$(basename ...)``), assignments and declarations,
and the values only the host can work out (``X=$(cmd)``), kept as facts (``fact_name``)."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import replace
from typing import Any

from playbook.convert.computed import cut_value, php_value, random_value
from playbook.convert.conditions import HOST_VALUE, host_query
from playbook.convert.host_checks import command_path
from playbook.jinja_literals import END, glob_regex
from playbook.jinja_literals import literal as jinja_literal
from playbook.convert.state import Context
from playbook.convert.tasks import TasksMixin
from playbook.passes import SHELL, Step, TaskSource
from playbook.rules.base import Invocation, parse_options
from playbook.rules.content import literal
from playbook.shell import Command, Word, parse_script

_PARAMETER_OP = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(%%|%|##|#|,,|\^\^|//|/)([^}]*)\}")
_LENGTH = re.compile(r"\$\{#([A-Za-z_][A-Za-z0-9_]*)\}")
_SUBSTITUTION = re.compile(r"\$\((.*)\)|`(.*)`", re.DOTALL)
_CAT_FILE = re.compile(r"\$\(\s*cat\s+(\S+)\s*\)|`\s*cat\s+(\S+)\s*`")
_DEFAULTED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*|[1-9])(:?)-((?:[^{}]|\$\{[^{}]*\})*)\}")
# what a login shell has set before the script's first line: a default for these is not taken
_LOGIN_ENVIRONMENT = frozenset({"HOME", "PATH", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "LANG",
                                "LC_ALL", "TERM", "HOSTNAME", "UID", "EUID", "SUDO_USER", "TMPDIR",
                                "XDG_RUNTIME_DIR", "MAIL", "SHLVL"})
_VAR_REF = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*|[1-9])|\{([A-Za-z_][A-Za-z0-9_]*|[1-9])\})$")


class ValuesMixin(TasksMixin):
    """Substitutes known values into words; records assignments; turns host-only values into facts."""

    # --- words -------------------------------------------------------------------------------

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
            if name not in self.variables and name in self.inputs and quoted(word.raw, part.text):
                # unquoted, the shell would split the value into words (`$APT install x`)
                out.append(self.environment_value(name))
                continue
            if name not in self.variables and name in ("USER", "LOGNAME"):
                # who runs the script, as `$(whoami)`: the user the facts were gathered as
                out.append("{{ ansible_facts.user_id }}")
                continue
            if name not in self.variables:
                return None
            out.append(self.variables[name])
        return "".join(out)

    def environment_value(self, name: str) -> str:
        """A variable the script reads and never sets: the host's environment's value, as the
        script would have read it (empty when unset), said once in a warning."""
        value = "{{ ansible_env." + name + " | default }}"
        self.fact_variables[value[3:-3]] = name
        if self.current is not None and not any(f"`${name}`" in w for w in self.warnings):
            self.warn(self.current, f"reads `${name}`, which the script never sets: the playbook takes it from "
                                    "the host's environment (ansible_env, empty when unset); pass it there or "
                                    "replace it with a play variable")
        return value

    def expanded(self, expansion: str) -> str | None:
        """What the converter can work out of an expansion on known values: `${X%%.*}`, `${X,,}`,
        `${#X}`, and the pure `$(basename P [SUFFIX])`, `$(dirname P)`, `$(echo W)`, `$(cat <<EOF ...)`."""
        if expansion in self.worked_out:  # a query a task of this line worked out
            return self.worked_out[expansion]
        match = _PARAMETER_OP.fullmatch(expansion)
        if match:
            name, operator, pattern = match.group(1), match.group(2), match.group(3)
            value = self.variables.get(name)
            if value is None or HOST_VALUE.search(value) or "$" in pattern or "`" in pattern:
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
        if command.heredoc is not None:
            if [w.raw for w in command.words] != ["cat"]:
                return None
            # `sql=$(cat <<SQL ... SQL)`: the heredoc's text, its last newlines cut as $( ) does
            text = self.heredoc_text(command)
            return None if text is None or HOST_VALUE.search(text) else text.rstrip("\n")
        argv = self.resolve_words(command.words)
        if not argv or any(HOST_VALUE.search(a) for a in argv):
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
        if argv[0] in self.functions and len(argv) <= 10 and argv[0] not in self.calling:
            return self.echoed_by(argv[0], argv[1:])
        return None

    def echoed_by(self, name: str, args: list[str]) -> str | None:
        """What `$(NAME ARGS)` prints for a function whose body only assigns words and ends in one
        `echo` of words (`path_to_cache() { v=$1; echo "/tmp/jdk-${v}.tar.gz"; }`), worked out
        here; None for any other body. A command substitution is a subshell: what the body sets
        ends with it."""
        _, body = self.functions[name]
        if not body or len(body) > 20:
            return None
        commands = [s.command if s.kind == "command" and not s.operators else None for s in body]
        if any(c is None or not c.is_simple or c.redirects or c.heredoc is not None or c.herestring is not None
               for c in commands):
            return None
        saved = (dict(self.variables), self.arguments)
        try:
            self.variables.update({str(n): value for n, value in enumerate(args, 1)})
            for n in range(len(args) + 1, 10):
                self.variables.pop(str(n), None)
            self.arguments = list(args)
            for command in commands[:-1]:
                assert command is not None
                if command.words or not command.assignments:
                    return None
                for variable, word in command.assignments:
                    value = self.substitute_word(word)
                    if value is None:
                        return None
                    self.variables[variable] = value
            last = commands[-1]
            assert last is not None
            argv = self.resolve_words(last.words) if not last.assignments else None
            if not argv or argv[0] != "echo" or (len(argv) > 1 and argv[1].startswith("-")):
                return None
            return " ".join(argv[1:])
        finally:
            self.variables, self.arguments = saved

    def defaulted(self, expansion: str) -> str | None:
        """`${NAME:-word}`: NAME's value when the converter knows it and it is set, else the
        literal word when NAME is an argument the script was not given or a variable that is
        neither the script's nor the login environment's; None when it depends on the host."""
        match = _DEFAULTED.fullmatch(expansion)
        if match is None or "`" in match.group(3) or "$(" in match.group(3):
            return None
        name, colon, default = match.group(1), match.group(2), match.group(3)
        if len(default) >= 2 and default[0] == default[-1] and default[0] in "\"'":
            default = default[1:-1]
        if "$" in default:  # `${HOME_DIR:-/home/${USER}}`: the default's own variables, when known
            if default.startswith("'") or HOST_VALUE.search(self.substitute(default) or "{{ unknown }}"):
                return None
            default = self.substitute(default)
            if default is None:
                return None
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
            if match.group(3) is not None:  # `${X:-default}`, `${X%%.*}`: what the converter can work out
                value = self.defaulted("$" + match.group(3))
                if value is None:
                    value = self.expanded("$" + match.group(3))
                if value is None:
                    unknown = True
                    return match.group(0)
                return value
            name = match.group(1) or match.group(2)
            if name is not None and name not in self.variables and name in self.inputs:
                return self.environment_value(name)
            if name is None or name not in self.variables:
                unknown = True
                return match.group(0)
            return self.variables[name]

        result = re.sub(r"\\[$`\\]|\$(?:([A-Za-z_][A-Za-z0-9_]*|[1-9])|\{([A-Za-z_][A-Za-z0-9_]*|[1-9])\}|"
                        r"(?=\{[A-Za-z_][A-Za-z0-9_]*(?::?[-%#,^/]))(\{(?:[^{}]|\$\{[^{}]*\})*\})|[({0#?@*!$-])|`",
                        one, text)
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

    # --- assignments -------------------------------------------------------------------------

    def declaration(self, ctx: Context, command: Command) -> bool:
        keyword = command.words[0].value
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

    def assign(self, name: str, word: Word, export: bool, ctx: Context | None = None) -> None:
        if ctx is not None and not export and self.argument_fact(ctx, name, word):
            return
        value = self.substitute_word(word)
        if value is not None:
            self.variables[name] = value
            self.definitions.pop(name, None)
            if export:
                self.environment[name] = value
            return
        self.variables.pop(name, None)
        self.definitions.pop(name, None)
        if ctx is not None and not export and self.operated_fact(ctx, name, word):
            return
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

    # --- facts: values the host works out ------------------------------------------------

    def argument_fact(self, ctx: Context, name: str, word: Word) -> bool:
        """`SOURCE=${1:-open}` at the script's level: the script's argument, which the play takes
        as the variable shell_1 (`-e shell_1=oracle`), its default when not given; so a test on
        SOURCE is a `when` and every arm is converted, as the script runs either way."""
        parts = [p for p in word.parts if p.text]
        match = _DEFAULTED.fullmatch(parts[0].text) if len(parts) == 1 and parts[0].expansion else None
        if match is None or not match.group(1).isdigit() or self.arguments is not None or self.calling \
                or "$" in match.group(3) or "`" in match.group(3):
            return False
        default = match.group(3)
        if len(default) >= 2 and default[0] == default[-1] and default[0] in "\"'":
            default = default[1:-1]
        fact, argument = fact_name(name), fact_name(match.group(1))
        value = "{{ " + argument + " | default(" + jinja_literal(default) + (", true" if match.group(2) else "") + ") }}"
        task: dict[str, Any] = {"name": f"Set {name}", "ansible.builtin.set_fact": {fact: value}}
        if ctx.when:
            task["when"] = ctx.when
        statement = ctx.statement
        self.drafts.append(Step(task, TaskSource(statement.first_line, statement.last_line, "fact")))
        self.variables[name] = "{{ " + fact + " }}"
        self.fact_variables[fact] = name
        self.warn(statement, f"reads the script's argument ${match.group(1)} (default {default!r}): "
                             f"pass it with -e {argument}=VALUE")
        return True

    def operated_fact(self, ctx: Context, name: str, word: Word) -> bool:
        """`SERIES="${VERSION%%.*}"` where VERSION is a value the host holds: the same operation
        in Jinja, kept as a fact (a set_fact task), so later lines can still use SERIES."""
        parts = [p for p in word.parts if p.text]
        match = _PARAMETER_OP.fullmatch(parts[0].text) if len(parts) == 1 and parts[0].expansion else None
        source = self.variables.get(match.group(1)) if match else None
        held = HOST_VALUE.fullmatch(source) if source else None
        if match is None or held is None or "$" in match.group(3) or "`" in match.group(3):
            return False
        expression = jinja_operation(held.group(1), match.group(2), match.group(3))
        if expression is None:
            return False
        fact = fact_name(name)
        task: dict[str, Any] = {"name": f"Set {name}", "ansible.builtin.set_fact": {fact: "{{ " + expression + " }}"}}
        if ctx.when:
            task["when"] = ctx.when
        statement = ctx.statement
        self.drafts.append(Step(task, TaskSource(statement.first_line, statement.last_line, "fact")))
        self.variables[name] = "{{ " + fact + " }}"
        self.fact_variables[fact] = name
        return True

    def work_out(self, ctx: Context, name: str, word: Word) -> None:
        """`X=$(cmd)`: the command runs once, where the script ran it (a task whose output a
        fact keeps; `$(cat FILE)` is a slurp), so every later task sees the same value, as the
        script did (`$(openssl rand -hex 32)` carried into each task would differ each time)."""
        fact = fact_name(name)
        if self.read_file(ctx, name, word) or self.fetched(ctx, name, word) or self.computed(ctx, name, word):
            pass
        elif not self.fact_from_arm(ctx, name, ctx.when):
            return
        self.variables[name] = "{{ " + fact + " }}"
        self.definitions.pop(name, None)
        self.fact_variables[fact] = name

    def read_file(self, ctx: Context, name: str, word: Word) -> bool:
        """`X=$(cat FILE)`: a slurp of FILE, its last newlines cut as `$( )` cuts them."""
        read = _CAT_FILE.fullmatch(word.raw.strip('"'))
        path = self.substitute((read.group(1) or read.group(2)).strip("\"'")) if read else None
        # `~/x`: the home of the user the script runs as, which slurp expands the same way
        # (not under become, where it would be root's)
        if path is None or not (path.startswith("/") or (path.startswith("~/") and not ctx.become)) \
                or HOST_VALUE.search(path):
            return False
        statement = ctx.statement
        source = TaskSource(statement.first_line, statement.last_line, "fact")
        fact = fact_name(name)
        task: dict[str, Any] = {"name": f"Read {path}", "ansible.builtin.slurp": {"src": path},
                                "register": f"{fact}_file"}
        self.finish(ctx, task, "ansible.builtin.slurp", {})
        self.drafts.append(Step(task, source))
        value = "{{ " + fact + "_file.content | b64decode | regex_replace('\\n+$', '') }}"
        fact_task: dict[str, Any] = {"name": f"Set {name}", "ansible.builtin.set_fact": {fact: value}}
        if ctx.when:
            fact_task["when"] = ctx.when
        self.drafts.append(Step(fact_task, source))
        return True

    def computed(self, ctx: Context, name: str, word: Word) -> bool:
        """`X=$(openssl rand -hex 16)`, `X=$(uname -r | cut -d. -f1,2)`, `X=$(command -v apt-get)`:
        a set_fact computes it (see computed.py), after a stat for `command -v`."""
        match = _SUBSTITUTION.fullmatch(word.raw.strip('"'))
        inner = parse_script(match.group(1) or match.group(2) or "").statements if match else ()
        pipeline = inner[0].pipelines[0] if len(inner) == 1 and len(inner[0].pipelines) == 1 \
            and not inner[0].operators else None
        if pipeline is None or pipeline.negated or len(pipeline.commands) > 8:
            return False
        stages: list[list[str] | None] = []
        stdin = None
        for index, command in enumerate(pipeline.commands):
            redirects = [r for r in command.redirects if not (r.op == ">" and r.fd == 2 and r.target == "/dev/null")]
            if index == 0 and len(redirects) == 1 and redirects[0].op == "<" and not redirects[0].dynamic:
                stdin, redirects = redirects[0].target, []
            if not command.is_simple or redirects or command.heredoc is not None or command.herestring is not None:
                return False
            stages.append(self.resolve_words(command.words))
        fact = fact_name(name)
        found = random_value(stages, stdin)
        expression, note = found if found is not None else (None, None)
        if expression is None and len(stages) == 2 and stages[0] and stages[1] and stages[1][0] == "cut":
            echoed = stages[0][1] if stages[0][0] == "echo" and len(stages[0]) == 2 else host_query(stages[0])
            held = HOST_VALUE.fullmatch(echoed) if echoed else None
            expression = cut_value(held.group(1), stages[1]) if held else None
        statement = ctx.statement
        source = TaskSource(statement.first_line, statement.last_line, "fact")
        php = php_value(stages[0]) if expression is None and len(stages) == 1 and stages[0] and stdin is None else None
        if php is not None:
            task, expression = self.php_task(php, fact)
            if task is None:
                return False
            self.finish(ctx, task, next(k for k in task if "." in k), {})
            self.drafts.append(Step(task, source))
        if expression is None and len(stages) == 1 and stages[0] and stages[0][:2] == ["command", "-v"] \
                and len(stages[0]) == 3 and stdin is None:
            looked = command_path(stages[0][2], f"{fact}_path", set(self.functions))
            if looked is None:
                return False
            task, expression = looked
            self.finish(ctx, task, "ansible.builtin.stat", {})
            self.drafts.append(Step(task, source))
        if expression is None:
            return False
        if note:
            self.warn(statement, note)
        fact_task: dict[str, Any] = {"name": f"Set {name}", "ansible.builtin.set_fact": {fact: "{{ " + expression + " }}"}}
        if ctx.when:
            fact_task["when"] = ctx.when
        self.drafts.append(Step(fact_task, source))
        return True

    def php_task(self, php: tuple[str, str, str | None], fact: str) -> tuple[dict[str, Any] | None, str | None]:
        """The task and value for `$(php -r ...)` (see computed.php_value): a fetch is the uri
        module (PHP's copy() follows redirects and prints nothing for an error status), a
        hash_file the stat module's checksum (empty for a missing file, as hash_file's false)."""
        kind, target, algorithm = php
        if kind == "fetch":
            task: dict[str, Any] = {"name": f"Fetch {target}", "ansible.builtin.uri": {
                "url": target, "return_content": True, "status_code": [200, 201, 202, 203, 204, 400, 401, 403, 404,
                                                                       410, 500, 502, 503]},
                "register": f"{fact}_response"}
            return task, (f"({fact}_response.content | default('') | regex_replace('\\n+$', '')) "
                          f"if {fact}_response.status | default(0) < 400 else ''")
        path = Invocation(argv=("php",), cwd=self.cwd).path(target)
        if path is None or algorithm is None:
            return None, None
        task = {"name": f"Work out the {algorithm} of {path}", "ansible.builtin.stat": {
            "path": path, "get_checksum": True, "checksum_algorithm": algorithm}, "register": f"{fact}_stat"}
        return task, f"{fact}_stat.stat.checksum | default('')"

    def fetched(self, ctx: Context, name: str, word: Word) -> bool:
        """`X=$(curl -s URL [-H 'K: V'])`, `X=$(curl -s URL | jq -r '.a.b')`: the body (or that
        field of it) fetched by the uri module, as curl got it (redirects only with -L, any
        status without -f), and kept as a fact."""
        match = _SUBSTITUTION.fullmatch(word.raw.strip('"'))
        inner = parse_script(match.group(1) or match.group(2) or "").statements if match else ()
        pipeline = inner[0].pipelines[0] if len(inner) == 1 and len(inner[0].pipelines) == 1 \
            and not inner[0].operators else None
        if pipeline is None or pipeline.negated or not 1 <= len(pipeline.commands) <= 4 \
                or any(not c.is_simple or c.redirects for c in pipeline.commands):
            return False
        # a URL's `?` is a glob to bash that matches no file (it would need a directory `https:`)
        words = pipeline.commands[0].words
        argv = self.resolve_words(words, literal_globs=all("://" in w.value for w in words if w.glob))
        if not argv or argv[0] != "curl":
            return False
        later = [self.resolve_words(c.words) for c in pipeline.commands[1:]]
        scraped = _first_match(later) if len(later) >= 2 else None
        if len(later) >= 2 and scraped is None:
            return False
        opts = parse_options(argv[1:], takes_value="H", long_value=("--header",))
        urls = [p for p in opts.positionals if re.match(r"https?://", p)]
        if len(urls) != 1 or len(opts.positionals) != 1 or HOST_VALUE.search(urls[0]) \
                or any(f not in ("-s", "-S", "-L", "-f", "-k", "-H", "--silent", "--show-error", "--location",
                                 "--fail", "--insecure", "--header") for f, _ in opts.flags):
            return False
        fact = fact_name(name)
        value = "{{ " + fact + "_response.content | regex_replace('\\n+$', '') }}"
        if scraped is not None:
            # `grep -o PAT | head -n 1`: the first match (grep reads lines; `.` matches no newline
            # in Python either), or nothing
            value = "{{ ((" + fact + "_response.content | default('') | regex_findall('" + scraped + "')) + [''])[0] }}"
        elif len(pipeline.commands) == 2:
            jq = self.resolve_words(pipeline.commands[1].words)
            if not jq or len(jq) != 3 or jq[0] != "jq" or jq[1] != "-r" \
                    or not re.fullmatch(r"(?:\.[A-Za-z_]\w*)+", jq[2]):
                return False  # without -r jq prints JSON (a quoted string), not the value
            value = "{{ " + fact + "_response.json" + jq[2] + " | default('null') }}"  # jq's null when absent
        args: dict[str, Any] = {"url": urls[0], "return_content": True}
        headers = [h.split(":", 1) for h in opts.all("-H", "--header")]
        if any(len(h) != 2 for h in headers):
            return False
        if headers:
            args["headers"] = {k.strip(): v.strip() for k, v in headers}
        if not opts.has("-L", "--location"):
            args["follow_redirects"] = "none"
        if not opts.has("-f", "--fail"):  # curl prints the body of an error page too and succeeds
            args["status_code"] = [200, 201, 202, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 500, 502, 503]
        if opts.has("-k", "--insecure"):
            args["validate_certs"] = False
        statement = ctx.statement
        source = TaskSource(statement.first_line, statement.last_line, "fact")
        for task in ({"name": f"Fetch {urls[0]}", "ansible.builtin.uri": args, "register": f"{fact}_response"},
                     {"name": f"Set {name}", "ansible.builtin.set_fact": {fact: value}}):
            if ctx.when:
                task["when"] = ctx.when
            self.drafts.append(Step(task, source))
        return True

    def fact_from_arm(self, ctx: Context, name: str, when: str | None) -> list[int]:
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


# a grep pattern that reads the same to grep (basic regex) and to Python: `.` and `*` the only
# special characters, no backslash or quote (which Jinja versions read differently)
_SAME_REGEX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.*/:=@%,-]*")


def _first_match(stages: list[list[str] | None]) -> str | None:
    """PAT of `| grep -o PAT | head -n 1 [| tr -d '\\r\\n']` after a download, else None."""
    if len(stages) not in (2, 3) or any(not s for s in stages):
        return None
    grep, head, *rest = stages
    assert grep is not None and head is not None
    if len(grep) != 3 or grep[0] != "grep" or grep[1] != "-o" or not _SAME_REGEX.fullmatch(grep[2]) \
            or "**" in grep[2] or head not in (["head", "-n", "1"], ["head", "-1"], ["head", "-n1"]):
        return None
    if rest and rest[0] != ["tr", "-d", "\\r\\n"]:
        return None
    return grep[2]


def quoted(raw: str, reference: str) -> bool:
    """True when every ``reference`` (`$X`, `${X}`) in the word ``raw`` is inside double quotes."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', "", raw)
    return reference in raw and reference not in outside


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


def jinja_operation(expression: str, operator: str, pattern: str) -> str | None:
    """`${X%pattern}` and friends on a value Ansible holds (``expression``), as a Jinja expression.

    design: no group reference (its backslash reads differently across Ansible versions): the
    part kept is the one group of a regex_findall anchored at the start: `(.*)` after a lazy
    prefix (#) or a greedy one (##), before the suffix behind a greedy start (%) or a lazy one
    (%%); the value itself when the pattern never matches, as bash does."""
    if operator == ",,":
        return None if pattern else f"{expression} | lower"
    if operator == "^^":
        return None if pattern else f"{expression} | upper"
    if operator in ("/", "//"):
        old, _, new = pattern.partition("/")
        if not old or any(c in old for c in "*?[\\") or old.startswith(("#", "%")) or operator == "/":
            return None
        return f"{expression} | replace({jinja_literal(old)}, {jinja_literal(new)})"
    longest = operator in ("%%", "##")
    prefix = operator in ("#", "##")
    body = glob_regex(pattern, lazy=not longest if prefix else False)
    if body is None:
        return None
    kept = "(?s)^" + (body + "(.*)" if prefix else "(.*" + ("?" if longest else "") + ")" + body + END)
    return f"(({expression} | regex_findall({jinja_literal(kept)})) or [{expression}]) | first"
