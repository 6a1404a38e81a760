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
    if words[:1] == ["["] and words[-1:] == ["]"]:
        words = words[1:-1]
    elif words[:1] == ["[["] and words[-1:] == ["]]"]:
        if len(words) == 5 and words[2] in ("==", "=", "!=") and _GLOB.search(words[3]):
            return None  # `[[ $x == a* ]]` matches a pattern
        words = words[1:-1]
    elif words[:1] == ["test"]:
        words = words[1:]
    else:
        return None
    negate = False
    while words[:1] == ["!"]:
        negate, words = not negate, words[1:]
    verdict = _expression(words)
    return None if verdict is None else verdict != negate


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
    return " and ".join(p if re.fullmatch(r"[\w.]+(?: [=!<>]= \d+)?", p) else f"({p})" for p in present)


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
