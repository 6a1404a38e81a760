"""Pure predicates on parsed shell: what a command or pipeline is (a print, a query, a `cd`, an
`exit`, an inline script), with no walker state. Used by the walker and its mixins."""

from __future__ import annotations

import re
from collections.abc import Iterable

from playbook.rules import command_key
from playbook.shell import Command, Pipeline, Statement

# bash builtins with no program of their own (Debian has /usr/bin/echo, test, kill, ...; not
# these): `ansible.builtin.command` cannot run them, only a shell can
SHELL_BUILTINS = frozenset(
    ". alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown "
    "enable eval exec exit export fc fg getopts hash help history jobs let local logout mapfile popd pushd "
    "read readarray readonly return set shift shopt source suspend times trap type typeset ulimit umask "
    "unalias unset wait".split())
_PATTERN_TAKERS = frozenset({"apt-get", "apt", "aptitude", "dnf", "yum"})


def takes_patterns(command: Command) -> bool:
    """`apt-get purge apache2*`: the package modules take the glob as a name pattern themselves."""
    return bool(command.words) and command_key(command.words[0].value) in _PATTERN_TAKERS \
        and any(w.value in ("remove", "purge", "autoremove", "erase") for w in command.words[1:3])


def inline_script(name: str, argv: list[str]) -> tuple[str | None, str] | None:
    """(user or None, script) of `bash -c SCRIPT`, `su [-|-l] [USER] -c SCRIPT` (and runuser's)."""
    if name in ("bash", "sh") and len(argv) == 3 and argv[1] in ("-c", "-lc", "-cl"):
        return None, argv[2]
    if name not in ("su", "runuser") or "-c" not in argv[:-1]:
        return None
    script_at = argv.index("-c") + 1
    rest = [a for i, a in enumerate(argv[1:], 1) if i not in (script_at - 1, script_at)]
    users = [a for a in rest if a not in ("-", "-l", "--login")]
    if len(users) > 1 or any(u.startswith("-") for u in users):
        return None
    return (users[0] if users else "root"), argv[script_at]


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')
_ARGUMENT = re.compile(r"\$(?:([1-9])(?![0-9])|\{([1-9])(?![:\-=?+0-9]))")
_QUOTED_HEREDOC = re.compile(r"<<-?\s*(['\"])(\w+)\1[^\n]*\n.*?^\s*\2\s*$", re.DOTALL | re.MULTILINE)
# `set -- ...` or `shift`: from there on $1.. are no longer what the caller gave
MOVES_ARGUMENTS = re.compile(r"(?:^|[;&|({]|\bthen|\bdo|\belse)\s*(?:shift|set\s+--)(?=$|[\s;&|)}])", re.MULTILINE)


def argument_numbers(text: str) -> list[int]:
    """The positional parameters ``text`` reads as the shell would ($2, ${2}, "$2"), in order;
    not in single quotes (`awk '{print $2}'`) or a quoted heredoc, nor `${1:-default}`."""
    return [int(plain or braced) for plain, braced in _ARGUMENT.findall(shell_read(text))]


def shell_read(text: str) -> str:
    """``text`` without what the shell takes as plain text: single-quoted words, quoted heredocs."""
    return _QUOTED.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", _QUOTED_HEREDOC.sub("", text))


def login_shell(name: str, argv: list[str]) -> bool:
    """`su - USER -c ...`, `su -l`, `runuser --login`: a login shell, which starts in the user's home."""
    return name in ("su", "runuser") and any(a in ("-", "-l", "--login") for a in argv[1:])


_TESTS = frozenset({"[", "[[", "test", "command", "type", "hash", "which", "grep", "egrep", "fgrep", "id",
                    "getent", "lsb_release", "uname", "arch", "cat", "ls", "stat", "pgrep", "true", "false",
                    "hostname", "head", "tail", "wc", "awk", "cut", "tr", "sort", "uniq", "nproc", "free", "df",
                    "dmesg", "ping", "dpkg-query", "rpm", "getenforce", "sestatus", "ip", "ss", "lsmod", "whoami"})
_READ_FLAGS = {"dpkg": ("-s", "-l", "-L", "--status", "--list", "--get-selections", "--print-architecture"),
               "systemctl": ("is-active", "is-enabled", "is-failed", "status", "list-units", "list-unit-files"),
               "apt-cache": ("policy", "show", "search", "madison"), "docker": ("ps", "info", "inspect", "images"),
               "sed": ("-n",), "service": ("status",)}


def only_reads(command: Command) -> bool:
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


def is_cd(pipeline: Pipeline) -> bool:
    commands = pipeline.commands
    return len(commands) == 1 and commands[0].is_simple and commands[0].name in ("cd", "pushd") \
        and not commands[0].redirects


def exits(pipeline: Pipeline) -> bool:
    commands = pipeline.commands
    return len(commands) == 1 and commands[0].is_simple and commands[0].name in ("exit", "return") \
        and len(commands[0].words) <= 2


def only_prints(command: Command) -> bool:
    """`echo ...`/`printf ...` whose output goes to the terminal (or nowhere), not to a file."""
    if not command.words or command.words[0].raw not in ("echo", "printf") or command.heredoc is not None:
        return False
    return all(r.op in (">&", "<&") or r.target in ("/dev/null", "/dev/stderr", "/dev/stdout", "&2", "&1", "2", "1")
               for r in command.redirects)


def uses(text: str, name: str) -> bool:
    return re.search(r"\$\{?" + re.escape(name) + r"\b", text) is not None


def lines_with_parse_errors(statements: Iterable[Statement]) -> set[int]:
    """Every line that a statement with a parse error spans."""
    return {
        line
        for statement in statements
        if statement.kind == "error" or statement.errors
        for line in range(statement.first_line, statement.last_line + 1)
    }


# a pipe as ansible-lint's risky-shell-pipe sees one: any `|` that is not `||` (inside quotes
# too: `X="$(a | b)"` pipes); a task whose script has one sets pipefail
PIPE = re.compile(r"(?<!\|)\|(?!\|)")


def service_verb(pipeline: Pipeline) -> tuple[str, str] | None:
    """(service, verb) of `service X VERB` or `systemctl [--quiet] VERB X`, any redirects aside."""
    commands = pipeline.commands
    if len(commands) != 1 or not commands[0].is_simple or pipeline.negated:
        return None
    argv = [a for a in commands[0].argv if a not in ("--quiet", "-q")]
    if len(argv) == 3 and argv[0].endswith("service"):
        return argv[1], argv[2]
    if len(argv) == 3 and argv[0].endswith("systemctl"):
        return argv[2].removesuffix(".service"), argv[1]
    return None


def starts_unless_running(check: Pipeline, start: Pipeline) -> bool:
    """`service X status || service X start` (or systemctl is-active/start): X is started."""
    first, second = service_verb(check), service_verb(start)
    return first is not None and second is not None and first[0] == second[0] \
        and first[1] in ("status", "is-active") and second[1] == "start"
