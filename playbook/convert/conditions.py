"""Conditions of `if`/`elif`: decided at conversion time when every operand is known, else
turned into an expression over a task that checks them on the host.

# design: a condition the converter can decide (`[ "$MODE" = "auto" ]` after `MODE=auto`)
# picks its branch, and only that branch becomes tasks, as bash would run it. Any other
# condition is checked on the host by a task registered under a name, and each branch's
# tasks carry a `when` over that name: the branch's own condition, the negation of every
# earlier arm, and the `when` of the enclosing block, joined with `and` in that order, so
# Jinja short-circuits before reading a check that was skipped.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from playbook.jinja_literals import END, glob_regex, literal, regex_char

# design: a value only the host knows is written as one Jinja expression in `{{ }}`: a fact the
# converter sets (`shell_NAME`, see values.fact_name) or one Ansible gathers. Such a value flows
# into module arguments as is, and a test on it becomes a `when` expression (no task).
# a variable the script reads and never sets is the host's environment's, empty when unset
ENVIRONMENT_VALUE = r"ansible_env\.\w+ \| default"
HOST_VALUE = re.compile(r"\{\{ ((?:shell_\w+|ansible_facts\.\w+|" + ENVIRONMENT_VALUE + r")) \}\}")

# commands whose output is a gathered fact: `$(uname -m)` is {{ ansible_facts.architecture }}
HOST_QUERIES: dict[tuple[str, ...], str] = {
    ("uname", "-m"): "architecture", ("arch",): "architecture", ("uname", "-r"): "kernel",
    ("uname", "-s"): "system", ("uname", "-n"): "nodename", ("hostname",): "nodename",
    ("hostname", "-f"): "fqdn", ("hostname", "--fqdn"): "fqdn", ("nproc",): "processor_vcpus",
    ("lsb_release", "-cs"): "distribution_release", ("lsb_release", "-sc"): "distribution_release",
    ("lsb_release", "--codename", "--short"): "distribution_release",
    ("lsb_release", "--short", "--codename"): "distribution_release",
    ("lsb_release", "-is"): "distribution", ("lsb_release", "-si"): "distribution",
    ("lsb_release", "--id", "--short"): "distribution", ("lsb_release", "--short", "--id"): "distribution",
    ("lsb_release", "-rs"): "distribution_version", ("lsb_release", "-sr"): "distribution_version",
    ("lsb_release", "-s", "-c"): "distribution_release", ("lsb_release", "-c", "-s"): "distribution_release",
    ("lsb_release", "-s", "-i"): "distribution", ("lsb_release", "-i", "-s"): "distribution",
    ("lsb_release", "-s", "-r"): "distribution_version", ("lsb_release", "-r", "-s"): "distribution_version",
    # who runs the command that expands it: facts are gathered as the connecting user, as a
    # script's `sudo X "$(whoami)"` expands it before sudo
    ("whoami",): "user_id", ("id", "-un"): "user_id", ("id", "-nu"): "user_id",
}


def host_query(argv: list[str]) -> str | None:
    """`{{ ansible_facts.X }}` for a command that prints a gathered fact, else None."""
    fact = HOST_QUERIES.get(tuple(argv))
    return None if fact is None else "{{ ansible_facts." + fact + " }}"


def host_expression(text: str) -> str | None:
    """A `when` expression for a test on values only the host knows (variables already
    substituted: `[ "{{ ansible_facts.architecture }}" = "aarch64" ]`); None when it is not
    such a test."""
    values: list[str] = []

    def hold(match: re.Match[str]) -> str:  # `{{ x }}` unquoted must stay one word
        values.append(match.group(0))
        return f"@@host{len(values) - 1}@@"

    held = HOST_VALUE.sub(hold, text.strip().rstrip(";"))
    pattern = _PATTERN_TEST.fullmatch(held)
    if pattern is not None:  # `[[ $(hostname) == dev* ]]`: the unquoted right side is a pattern
        regex = _pattern_regex(pattern.group(3))
        try:
            subject = shlex.split(pattern.group(1))
        except ValueError:
            return None
        subject_text = re.sub(r"@@host(\d+)@@", lambda m: values[int(m.group(1))], subject[0]) if len(subject) == 1 else ""
        if regex is None or not HOST_VALUE.search(subject_text):
            return None
        test = f"{_jinja(subject_text)} is match({literal(regex)})"
        return f"not ({test})" if pattern.group(2) == "!=" else test
    try:
        words = shlex.split(held)
    except ValueError:
        return None
    words = [re.sub(r"@@host(\d+)@@", lambda m: values[int(m.group(1))], w) for w in words]
    unwrapped = _test_operands(words)
    if unwrapped is None:
        return None
    negated, words = unwrapped
    if not any(HOST_VALUE.search(w) for w in words):
        return None
    expression: str | None = None
    if len(words) == 1:
        expression = f"{_jinja(words[0])} | length > 0"
    elif len(words) == 2 and words[0] in ("-n", "-z"):
        expression = f"{_jinja(words[1])} | length {'>' if words[0] == '-n' else '=='} 0"
    elif len(words) == 3 and words[1] in ("=", "==", "!="):
        expression = f"{_jinja(words[0])} {'!=' if words[1] == '!=' else '=='} {_jinja(words[2])}"
    elif len(words) == 3 and words[1] in _INT_OPERATORS:
        operator = {"-eq": "==", "-ne": "!=", "-lt": "<", "-le": "<=", "-gt": ">", "-ge": ">="}[words[1]]
        expression = f"{_jinja(words[0])} | int {operator} {_jinja(words[2])} | int"
    if expression is None:
        return None
    return f"not ({expression})" if negated else expression


_PATTERN_TEST = re.compile(r"\[\[\s+(\S+)\s+(==|=|!=)\s+([^\s\"'\\]*[*?\[][^\s\"'\\]*)\s+\]\]")


def _pattern_regex(pattern: str) -> str | None:
    """A `[[ x == PATTERN ]]` glob as a regex matched from the start (Jinja's `match`) to the end,
    with no backslash (jinja_literals); None for a character it cannot say so."""
    body = glob_regex(pattern)
    return None if body is None else "(?s)" + body + END


def host_match(subject: str, raw_pattern: str) -> str | None:
    """`SUBJECT is match(...)` for a `case` arm's glob pattern as written (`debian-11*`,
    `"18."*`: quoted parts are literal), SUBJECT holding host values; None for a pattern with
    a character other than letters, digits and ``._-+:/@%,=~``, or a bracket or an expansion.
    The regex holds no backslash (jinja_literals)."""
    out, i = ["(?s)^"], 0
    while i < len(raw_pattern):  # one pass, each character once
        char = raw_pattern[i]
        if char in "'\"":
            end = raw_pattern.find(char, i + 1)
            quoted = raw_pattern[i + 1:end]
            if end < 0 or not all(_case_literal(c) for c in quoted):
                return None
            out.extend(regex_char(c) or "" for c in quoted)
            i = end + 1
            continue
        if char == "*" or char == "?":
            out.append(".*" if char == "*" else ".")
        elif _case_literal(char):
            out.append(regex_char(char) or "")
        else:
            return None
        i += 1
    return f"{_jinja(subject)} is match({literal(''.join(out) + END)})"


def _case_literal(char: str) -> bool:
    return char.isalnum() or char in "._-+:/@%,=~"


def _jinja(word: str) -> str:
    """A shell word (quotes removed) as a Jinja expression: host values as themselves, the rest
    as string literals, joined with `~`."""
    pieces = HOST_VALUE.split(word)
    terms = [piece if index % 2 else literal(piece) for index, piece in enumerate(pieces) if piece or index % 2]
    if not terms:
        return "''"
    return terms[0] if len(terms) == 1 else "(" + " ~ ".join(terms) + ")"


_INT_OPERATORS = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__,
                  "-gt": int.__gt__, "-ge": int.__ge__}
_GLOB = re.compile(r"[*?\[]")


def decide(text: str) -> bool | None:
    """True/False for a test whose operands are all literal (variables already substituted):
    `[ A = B ]`, `[[ A != B ]]`, `test -n A`, `[ 3 -gt 2 ]`, `true`; None when it needs the host."""
    try:
        words = shlex.split(text.strip().rstrip(";"))
    except ValueError:
        return None
    if words in (["true"], [":"]):
        return True
    if words == ["false"]:
        return False
    unwrapped = _test_operands(words)
    if unwrapped is None:
        return None
    negated, words = unwrapped
    verdict = _expression(words)
    return None if verdict is None else verdict != negated


def _test_operands(words: list[str]) -> tuple[bool, list[str]] | None:
    """The operands of `[ ... ]`, `[[ ... ]]` or `test ...` and whether `!` negates them;
    None for anything else, or for `[[ $x == a* ]]`, which matches a pattern."""
    if words[:1] == ["["] and words[-1:] == ["]"]:
        words = words[1:-1]
    elif words[:1] == ["[["] and words[-1:] == ["]]"]:
        if len(words) == 5 and words[2] in ("==", "=", "!=") and _GLOB.search(words[3]):
            return None
        words = words[1:-1]
    elif words[:1] == ["test"]:
        words = words[1:]
    else:
        return None
    negated = False
    while words[:1] == ["!"]:
        negated, words = not negated, words[1:]
    return negated, words


def _expression(words: list[str]) -> bool | None:
    if len(words) == 1:
        return words[0] != ""
    if len(words) == 2 and words[0] in ("-n", "-z"):
        return (words[1] != "") == (words[0] == "-n")
    if len(words) != 3:
        return None
    left, operator, right = words
    if operator in ("=", "=="):
        return left == right
    if operator == "!=":
        return left != right
    if operator in _INT_OPERATORS and re.fullmatch(r"-?\d+", left) and re.fullmatch(r"-?\d+", right):
        return bool(_INT_OPERATORS[operator](int(left), int(right)))
    return None


@dataclass(frozen=True)
class FileTest:
    """`[ -f P ]` and friends: what `stat` must say about P (``flag`` is the test's letter)."""

    path: str
    flag: str
    negated: bool

    def when(self, register: str) -> str:
        stat = f"{register}.stat"
        expression = {
            "e": f"{stat}.exists",
            "f": f"{stat}.exists and {stat}.isreg",
            "d": f"{stat}.exists and {stat}.isdir",
            "L": f"{stat}.exists and {stat}.islnk",
            "h": f"{stat}.exists and {stat}.islnk",
            "s": f"{stat}.exists and {stat}.size > 0",
            "x": f"{stat}.exists and {stat}.executable",
            "r": f"{stat}.exists and {stat}.readable",
            "w": f"{stat}.exists and {stat}.writeable",
        }[self.flag]
        if not self.negated:
            return expression
        return f"not {stat}.exists" if self.flag == "e" else f"not ({expression})"

    @property
    def follow(self) -> bool:
        return self.flag not in ("L", "h")


_FILE_TEST = re.compile(r"^\s*(!\s+)?(?:\[\[?|test)\s+(!\s+)?-([edfsLhxrw])\s+(\"[^\"]*\"|'[^']*'|[^\s\]\"']+)"
                        r"\s*(?:\]\]?)?\s*;?\s*$")


def file_test(text: str) -> FileTest | None:
    """The file test ``text`` is (variables already substituted), if it is one."""
    match = _FILE_TEST.match(text)
    if match is None:
        return None
    path = match.group(4)
    if path[:1] in ("'", '"'):
        path = path[1:-1]
    if not path.startswith(("/", "~/")) or "$" in path or "`" in path:
        return None
    return FileTest(path, match.group(3), bool(match.group(1)) != bool(match.group(2)))


def join_when(*parts: str | None) -> str | None:
    """Conditions joined with `and` in order; each wrapped so `or` inside one stays inside it."""
    present = [p for p in parts if p]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return " and ".join(f"({p})" if " or " in p else p for p in present)


def negate(expression: str) -> str:
    """The opposite of ``expression``, written as simply as it allows."""
    match = re.fullmatch(r"([\w.]+)\.rc == 0", expression)
    if match:
        return f"{match.group(1)}.rc != 0"
    match = re.fullmatch(r"not \((.*)\)", expression)
    if match and _balanced(match.group(1)):
        return match.group(1)
    match = re.fullmatch(r"not ([\w.]+)", expression)
    if match:
        return match.group(1)
    match = re.fullmatch(r"([\w.]+) (==|!=) ('(?:[^'\\]|\\.)*')", expression)
    if match:
        return f"{match.group(1)} {'!=' if match.group(2) == '==' else '=='} {match.group(3)}"
    if re.fullmatch(r"[\w.]+", expression):
        return f"not {expression}"
    return f"not ({expression})"


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def register_name(text: str, taken: set[str]) -> str:
    """A readable, unique variable name for the result of checking ``text``."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("$", " "))
    words = [w for w in words if w not in ("if", "then", "test", "n", "z", "e", "f", "d", "q", "s", "v", "matches")]
    base = "_".join(words)[:32].strip("_") or "condition"
    if base[0].isdigit():
        base = "check_" + base
    name, n = f"{base}_check", 2
    while name in taken:
        name, n = f"{base}_check_{n}", n + 1
    return name
