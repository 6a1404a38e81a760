"""Tests an `if` runs on the host that a module answers, so they need no shell task; pure.

    command -v NAME        a stat of NAME in each directory of the host's PATH: an executable file
    grep -q [-i] WORD FILE the file read (slurp), searched for the literal WORD
    id [-u] NAME           the passwd database looked up (getent)

design: only the plain form is taken: one simple command, its output thrown away (to /dev/null),
literal words. `command -v` also finds functions, aliases and builtins, so a NAME the script
defines as a function or that bash has built in stays a shell test. A pattern is taken only
when it reads the same to grep and to Python's `re` (letters, digits, space and `.-_:/@,=%`:
`.` is any character to both), and the regex holds no backslash and no quote, which Jinja
versions read differently. A missing file is no match, as grep's status 2 is not 0.
"""

from __future__ import annotations

import re
from typing import Any

from playbook.shell import Command, parse_script

# bash builtins and keywords `command -v` reports without a file on the PATH
_BUILTINS = frozenset(
    "alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown echo "
    "enable eval exec exit export false fc fg getopts hash help history jobs kill let local logout mapfile "
    "popd printf pushd pwd read readarray readonly return set shift shopt source suspend test times trap true "
    "type typeset ulimit umask unalias unset wait if then else elif fi case esac for select while until do done "
    "in function time coproc".split())
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")
_USER = re.compile(r"[a-z_][a-z0-9_-]*\$?")
_PLAIN = re.compile(r"[A-Za-z0-9 ._:/@,=%-]+")
_PATH = re.compile(r"/[A-Za-z0-9._+@%,=/-]*")
_WHICH_EMPTY = re.compile(r'\[ -z "?(?:`which ([A-Za-z0-9_][A-Za-z0-9._+-]*)`|\$\(which ([A-Za-z0-9_][A-Za-z0-9._+-]*)\))"? \]')
_POSITIONAL = re.compile(r'"?\$(?:([1-9])|\{([1-9])\})"?')


def inline_call(text: str, bodies: dict[str, str]) -> str | None:
    """`[!] NAME ARGS` for a function whose body is one test (`command_exists() { command -v "$1"
    &> /dev/null; }`): that test with $1.. bound to the literal ARGS; None for anything else."""
    words = text.split()
    negated = words[:1] == ["!"]
    words = words[1:] if negated else words
    body = bodies.get(words[0]) if words else None
    args = words[1:]
    if body is None or len(args) > 9 or not all(_NAME.fullmatch(a) for a in args) or "\n" in body.strip() \
            or re.search(r"\$(?:[@*#0]|\{[@*#0])", body):
        return None
    def bound(match: re.Match[str]) -> str:
        n = int(match.group(1) or match.group(2))
        return args[n - 1] if n <= len(args) else "''"
    return ("! " if negated else "") + _POSITIONAL.sub(bound, body.strip().rstrip(";"))


def module_check(text: str, register: str, functions: frozenset[str] | set[str]) -> tuple[dict[str, Any], str] | None:
    """(the task, the `when` expression true when the test held) for a test a module answers."""
    if len(text) > 4096:
        return None
    which = _WHICH_EMPTY.fullmatch(text.strip())
    if which is not None:  # `[ -z "$(which X)" ]`: X is not on the PATH (which finds files only)
        found = _command_v(["command", "-v", which.group(1) or which.group(2)], register, set(functions) | {"which"})
        return None if found is None else (found[0], f"not ({found[1]})")
    statements = parse_script(text).statements
    if len(statements) != 1 or statements[0].kind == "error" or statements[0].operators \
            or len(statements[0].pipelines) != 1 or len(statements[0].pipelines[0].commands) != 1:
        return None
    pipeline = statements[0].pipelines[0]
    command = pipeline.commands[0]
    argv = _literal_argv(command)
    if argv is None:
        return None
    found = _command_v(argv, register, functions) or _grep(argv, register) or _id(argv, register)
    if found is None:
        return None
    task, expression = found
    return task, f"not ({expression})" if pipeline.negated else expression


def _literal_argv(command: Command) -> list[str] | None:
    """The words of a simple command whose output goes nowhere, when all are literal."""
    if not command.is_simple or command.become or command.assignments or command.heredoc is not None \
            or command.herestring is not None:
        return None
    for redirect in command.redirects:
        quiet = redirect.op in (">", ">>", "&>", "&>>") and redirect.target == "/dev/null"
        joined = redirect.op == ">&" and redirect.target in ("1", "2")
        if redirect.dynamic or not (quiet or joined):
            return None
    if any(w.glob or any(p.expansion for p in w.parts) for w in command.words):
        return None
    argv = [w.value for w in command.words]
    return argv if argv and not any("{{" in a or "{%" in a for a in argv) else None


def _command_v(argv: list[str], register: str, functions: frozenset[str] | set[str]) -> tuple[dict[str, Any], str] | None:
    if len(argv) != 3 or argv[:2] != ["command", "-v"] or not _NAME.fullmatch(argv[2]) \
            or argv[2] in _BUILTINS or argv[2] in functions:
        return None
    name = argv[2]
    task = {"name": f"Look for {name} on the PATH", "ansible.builtin.stat": {"path": "{{ item }}/" + name, "follow": True},
            "loop": "{{ ansible_facts.env.PATH.split(':') | select | list }}", "register": register}
    found = f"{register}.results | selectattr('stat.executable', 'defined') | selectattr('stat.executable') " \
            "| selectattr('stat.isreg') | list | length > 0"
    return task, found


def _grep(argv: list[str], register: str) -> tuple[dict[str, Any], str] | None:
    if not argv or argv[0] != "grep" or len(argv) < 3:
        return None
    flags = [a for a in argv[1:-2]]
    if not all(re.fullmatch(r"-[qiFs]+", f) for f in flags) or not any("q" in f for f in flags):
        return None
    pattern, path = argv[-2], argv[-1]
    if pattern.startswith("-") or not _PLAIN.fullmatch(pattern) or not _PATH.fullmatch(path):
        return None
    ignore_case = any("i" in f for f in flags)
    if any("F" in f for f in flags):
        pattern = pattern.replace(".", "[.]")
    regex = ("(?i)" if ignore_case else "") + pattern
    task = {"name": f"Read {path}", "ansible.builtin.slurp": {"src": path}, "register": register, "failed_when": False}
    return task, f"({register}.content | default('') | b64decode) is search('{regex}')"


def _id(argv: list[str], register: str) -> tuple[dict[str, Any], str] | None:
    if argv[:1] != ["id"] or len(argv) not in (2, 3) or (len(argv) == 3 and argv[1] != "-u") \
            or not _USER.fullmatch(argv[-1]):
        return None
    user = argv[-1]
    task = {"name": f"Look up the user {user}",
            "ansible.builtin.getent": {"database": "passwd", "key": user, "fail_key": False}, "register": register}
    return task, f"({register}.ansible_facts.getent_passwd | default({{}})).get('{user}') is not none"


def command_path(name: str, register: str, functions: frozenset[str] | set[str]) -> tuple[dict[str, Any], str] | None:
    """(the task, the Jinja value) for `$(command -v NAME)`: NAME's path on the host's PATH, or
    empty where it is not there."""
    found = _command_v(["command", "-v", name], register, functions)
    if found is None:
        return None
    paths = f"{register}.results | selectattr('stat.executable', 'defined') | selectattr('stat.executable') " \
            f"| selectattr('stat.isreg') | map(attribute='item') | list"
    return found[0], f"({paths})[:1] | map('regex_replace', '$', '/{name}') | join"
