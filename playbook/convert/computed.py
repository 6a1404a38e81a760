"""`X=$(...)` a set_fact can compute with no shell task; pure.

    random_value   `openssl rand -hex 16`, `head /dev/urandom | tr -dc A-Za-z0-9 | head -c 13`:
                   a random string of the same characters and length (the password lookup)
    cut_value      `echo "$HOST_VALUE" | cut -d. -f1,2`, `uname -r | cut -d. -f1`: the same
                   fields of a value the host holds, in Jinja

design: each takes a pipeline as argv lists (words already resolved; None for a stage that is
not a simple command) and answers a Jinja expression, or None for any other shape. A random
value is made once, where the script made it (the set_fact keeps it), by the controller's
password lookup with no file (`/dev/null`: nothing stored), over the characters the script kept
(`tr -dc`), so it is as random as the script's; a length the script's pipeline leaves to chance
(base64 then `tr -dc`) is its longest, said in the note.
"""

from __future__ import annotations

import math
import re

Argv = list[str]

# `tr -dc` sets the lookup can say: ranges of letters and digits, and their classes
_SET_PARTS = {"a-z": "ascii_lowercase", "A-Z": "ascii_uppercase", "0-9": "digits",
              "[:alnum:]": "ascii_letters,digits", "[:digit:]": "digits", "[:alpha:]": "ascii_letters",
              "[:lower:]": "ascii_lowercase", "[:upper:]": "ascii_uppercase", "a-f": "abcdef"}
_URANDOM = "/dev/urandom"


def random_value(stages: list[Argv | None], stdin: str | None = None) -> tuple[str, str | None] | None:
    """(expression, note) for a pipeline that prints random characters, else None. ``stdin`` is
    the file the first stage reads by redirection (`</dev/urandom tr -dc ...`)."""
    if not stages or any(s is None or not s for s in stages):
        return None
    argvs = [s for s in stages if s is not None]
    if len(argvs) == 1 and argvs[0][:2] == ["openssl", "rand"] and len(argvs[0]) == 4 and argvs[0][2] == "-hex" \
            and argvs[0][3].isdigit() and 0 < int(argvs[0][3]) <= 4096:
        return _lookup(["digits", "abcdef"], 2 * int(argvs[0][3])), None
    if not _reads_urandom(argvs[0], stdin):
        return None
    dd_bytes = _dd_count(argvs[0])
    encoded: int | None = None  # characters base64 made of the dd's bytes
    chars: list[str] | None = None
    length: int | None = None
    for argv in argvs[1:] if argvs[0][0] != "tr" else argvs:
        if argv[0] == "tr" and len(argv) == 3 and argv[1] == "-dc" and chars is None:
            chars = _charset(argv[2])
            if chars is None:
                return None
        elif argv == ["base64"] or argv == ["base64", "-w", "0"] or argv == ["base64", "-w0"]:
            if dd_bytes is None or chars is not None:
                return None
            encoded = math.ceil(4 * dd_bytes / 3)
        elif argv in (["rev"],) or (argv[0] == "cut" and len(argv) == 3 and argv[1] == "-b"
                                   and re.fullmatch(r"\d+-", argv[2])):
            if chars is not None:
                return None  # only before the `tr -dc`: it reorders or cuts base64 text
        elif argv[:2] == ["head", "-c"] and len(argv) == 3 and argv[2].isdigit() and chars is not None \
                and length is None:
            length = int(argv[2])
        else:
            return None
    if chars is None:
        return None
    note = None
    if length is None:
        if encoded is None:
            return None
        length = encoded
        note = (f"the script keeps the {', '.join(chars)} characters of {encoded} base64 ones, about "
                f"{math.floor(encoded * 62 / 64)} on average; the fact has {encoded}")
    if not 0 < length <= 4096:
        return None
    return _lookup(chars, length), note


def _reads_urandom(argv: Argv, stdin: str | None) -> bool:
    if argv[0] == "tr":
        return stdin == _URANDOM
    if stdin is not None:
        return False
    if argv[0] in ("head", "cat") and argv[-1] == _URANDOM:
        return argv[0] == "cat" and len(argv) == 2 or argv[0] == "head" and (
            len(argv) == 2 or (len(argv) == 4 and argv[1] == "-c" and argv[2].isdigit()))
    return _dd_count(argv) is not None


def _dd_count(argv: Argv) -> int | None:
    """N of `dd if=/dev/urandom bs=1 count=N`: the bytes it reads."""
    if argv[0] != "dd" or f"if={_URANDOM}" not in argv or "bs=1" not in argv:
        return None
    counts = [a[6:] for a in argv if a.startswith("count=")]
    if len(counts) != 1 or not counts[0].isdigit() or set(argv[1:]) - {f"if={_URANDOM}", "bs=1", f"count={counts[0]}"}:
        return None
    return int(counts[0])


def _charset(spec: str) -> list[str] | None:
    names: list[str] = []
    rest = spec
    while rest:
        part = next((p for p in sorted(_SET_PARTS, key=len, reverse=True) if rest.startswith(p)), None)
        if part is None:
            return None
        names.extend(_SET_PARTS[part].split(","))
        rest = rest[len(part):]
    if {"ascii_lowercase", "ascii_uppercase"} <= set(names):
        names = ["ascii_letters"] + [n for n in names if n not in ("ascii_lowercase", "ascii_uppercase")]
    return list(dict.fromkeys(names))


def _lookup(chars: list[str], length: int) -> str:
    listed = ", ".join(f"'{c}'" for c in chars)
    return f"lookup('ansible.builtin.password', '/dev/null', chars=[{listed}], length={length})"


def cut_value(expression: str, cut: Argv) -> str | None:
    """`... | cut -dD -fLIST` of a one-line value the host holds (``expression``, Jinja)."""
    delimiter, fields = None, None
    args = cut[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-d", "-f") and i + 1 < len(args):
            value, i = args[i + 1], i + 2
        elif arg[:2] in ("-d", "-f") and len(arg) > 2:
            value, i = arg[2:], i + 1
        else:
            return None
        if arg.startswith("-d"):
            delimiter = value
        else:
            fields = value
    if delimiter is None or fields is None or len(delimiter) != 1 or delimiter in "'\\":
        return None
    span = re.fullmatch(r"(\d+)(?:([-,])(\d*))?", fields)
    if span is None:
        return None
    first = int(span.group(1))
    last = first if span.group(2) is None else int(span.group(3)) if span.group(3) else None
    if first < 1 or (last is not None and last < first) or (span.group(2) == "," and last != first + 1):
        return None  # a list of fields apart: not one slice
    stop = "" if last is None else str(last)
    picked = f"({expression}.split('{delimiter}')[{first - 1}:{stop}] | join('{delimiter}'))"
    # a line without the delimiter is printed whole, as cut does
    return f"{picked} if '{delimiter}' in {expression} else {expression}"


# `php -r 'copy("URL", "php://stdout");'` and `php -r "echo hash_file('sha384', 'FILE');"`, as
# composer's documented installer runs them
_PHP_FETCH = re.compile(r"""\s*copy\(\s*(['"])(https?://[^'"\s\\$]+)\1\s*,\s*(['"])php://stdout\3\s*\)\s*;?\s*""")
_PHP_HASH = re.compile(r"""\s*echo\s+hash_file\(\s*(['"])(md5|sha1|sha224|sha256|sha384|sha512)\1\s*,"""
                       r"""\s*(['"])([^'"\s\\$]+)\3\s*\)\s*;?\s*""")


def php_value(argv: Argv) -> tuple[str, str, str | None] | None:
    """("fetch", URL, None) or ("hash", FILE, ALGORITHM) for those two `php -r` one-liners."""
    if len(argv) != 3 or argv[:2] != ["php", "-r"]:
        return None
    fetch = _PHP_FETCH.fullmatch(argv[2])
    if fetch is not None:
        return "fetch", fetch.group(2), None
    hashed = _PHP_HASH.fullmatch(argv[2])
    return ("hash", hashed.group(4), hashed.group(2)) if hashed is not None else None
