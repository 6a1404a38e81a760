r"""`sed -i`: each editing command of the script becomes a `replace` or `lineinfile` task.

# design: the replace module runs one Python regex over the whole file (MULTILINE), so every
# sed command is rewritten as a regex whose matches are exactly the text sed would change:
#   s/P/R/g            -> P                          (every match on every line)
#   s/P/R/             -> ^(.*?)(P) -> \1R'          (sed changes the first match of a line)
#   /A/ s/P/R/         -> ^(?=.*?A)(.*?)(P)          (only lines that match the address)
#   /A/!s/P/R/         -> ^(?!.*?A)(.*?)(P)
#   0,/P/ s//R/        -> \A([\s\S]*?)(P)            (the first match in the file)
#   /A/c TEXT          -> ^(?=.*?A).*$ -> TEXT
#   /A/a TEXT, /A/i T  -> the matching line followed or preceded by TEXT
#   /A/d               -> lineinfile state=absent
# Groups added in front shift the script's own groups, so backreferences are renumbered.
# Anything else (line numbers, hold space, several files' worth of state) declines, and the
# line stays a command.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, replace
from typing import Any

from playbook.rules import rule
from playbook.rules.base import RUNTIME_VALUE, Invocation, Task, has_runtime_value, human_list
from playbook.jinja_literals import literal as jinja_literal
from playbook.rules.content import literal
from playbook.rules.files import COPY, FIND, GLOB_CHARS, register_name

REPLACE = "ansible.builtin.replace"
LINEINFILE = "ansible.builtin.lineinfile"

# POSIX classes as Python class contents; none of them may match a newline (a sed pattern
# sees one line, the replace module the whole file)
_POSIX_CLASSES = {"[:space:]": r" \t\r\f\v", "[:digit:]": r"0-9", "[:alpha:]": "a-zA-Z",
                  "[:alnum:]": "a-zA-Z0-9", "[:upper:]": "A-Z", "[:lower:]": "a-z",
                  "[:blank:]": r" \t", "[:punct:]": r"!-/:-@\[-`{-~", "[:xdigit:]": "0-9A-Fa-f"}
# GNU escapes whose Python meaning would include the newline
_ONE_LINE_ESCAPES = {"s": r"[^\S\n]", "W": r"[^\w\n]", "<": r"\b(?=\w)", ">": r"\b(?<=\w)",
                     "`": r"\A", "'": r"\Z"}
# GNU escapes that mean something else in Python (\dNNN is a decimal character code)
_UNMODELLED_ESCAPES = frozenset("dDocC")


def sed_regex(pattern: str, extended: bool) -> str | None:
    """A sed (BRE or ERE) pattern as a Python regex that stays within one line; None for
    escapes Python reads differently."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "[":
            end = _class_end(pattern, i)
            if end is None:
                out.append(re.escape(pattern[i:]))
                break
            out.append(_bracket(pattern[i:end + 1]))
            i = end + 1
            continue
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if not extended and nxt in "(){}+?|":
                out.append(nxt)
            elif nxt in _UNMODELLED_ESCAPES:
                return None
            elif nxt in _ONE_LINE_ESCAPES:
                out.append(_ONE_LINE_ESCAPES[nxt])
            elif nxt == "n":
                out.append(r"\n")
            elif nxt == "t":
                out.append(r"\t")
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        if not extended and ch in "(){}+?|":
            out.append("\\" + ch)
        elif not extended and ch == "*" and (not out or out[-1] in ("^", "(", "\\(")):
            out.append(r"\*")  # a leading `*` is literal in a BRE
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int | None:
    """Index of the `]` closing the bracket expression that opens at `start`."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a `]` first in the list is literal
    while i < len(pattern):
        if pattern.startswith("[:", i):
            close = pattern.find(":]", i + 2)
            if close < 0:
                return None
            i = close + 2
            continue
        if pattern[i] == "]":
            return i
        i += 1
    return None


def _bracket(text: str) -> str:
    """A POSIX bracket expression as a Python class (no backslash escapes inside POSIX ones)."""
    body = text[1:-1]
    negated = body.startswith("^")
    if negated:
        body = body[1:]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("[:", i):
            close = body.index(":]", i + 2)
            out.append(_POSIX_CLASSES.get(body[i:close + 2], re.escape(body[i:close + 2])))
            i = close + 2
            continue
        ch = body[i]
        out.append("\\" + ch if ch in "\\[]^" and not (ch == "^" and i > 0) else ch)
        i += 1
    return ("[^\\n" if negated else "[") + "".join(out) + "]"


def sed_replacement(text: str) -> str:
    """A sed replacement as a Python re replacement (`&` -> whole match, `\\1` -> group 1)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt.isdigit():
                out.append("\\g<" + nxt + ">")
            elif nxt == "n":
                out.append("\n")
            elif nxt == "t":
                out.append("\t")
            elif nxt == "\\":
                out.append("\\\\")
            elif nxt == "&":
                out.append("&")
            else:
                out.append(nxt)
            i += 2
            continue
        out.append("\\g<0>" if ch == "&" else ch)
        i += 1
    return "".join(out)


def _shift_groups(regex: str, by: int) -> str:
    """Backreferences `\\N` in a Python regex, renumbered by `by` (groups added in front)."""
    if by == 0:
        return regex
    return re.sub(r"(?<!\\)((?:\\\\)*)\\([1-9])", lambda m: f"{m.group(1)}\\{int(m.group(2)) + by}", regex)


def _shift_replacement(replacement: str, whole: int, by: int) -> str:
    """`\\g<0>` -> group `whole` (the pattern's own match), `\\g<N>` -> `\\g<N+by>`."""
    return re.sub(r"\\g<(\d+)>", lambda m: f"\\g<{whole if m.group(1) == '0' else int(m.group(1)) + by}>",
                  replacement)


def _escape_text(text: str) -> str:
    """Literal text as a Python re replacement."""
    return text.replace("\\", "\\\\")


# --- parsing a sed script into commands --------------------------------------------------

@dataclass(frozen=True)
class SedCommand:
    """One editing command: its address (a regex, `0,/re/` or none), and what it does."""

    verb: str  # s, d, a, i, c
    address: str | None = None  # a sed regex the line must match
    negated: bool = False  # `/re/!cmd`
    first_only: bool = False  # `0,/re/`: up to the first line that matches
    address_flags: str = ""  # `I` after the address
    pattern: str = ""  # s: the pattern (empty: the address's)
    replacement: str = ""  # s: the replacement; a/i/c: the text
    flags: str = ""  # s: g, I, i
    delimiter: str = "/"  # s: the character between pattern and replacement
    line: int | None = None  # c: the line number that is its address


def _delimited(script: str, start: int, delim: str) -> tuple[str, int] | None:
    """The text up to the next unescaped `delim` from `start`: (text, index after it).
    `\\delim` stands for the delimiter itself; other escapes are kept."""
    out: list[str] = []
    i = start
    while i < len(script):
        ch = script[i]
        if ch == "\\" and i + 1 < len(script):
            out.append(script[i + 1] if script[i + 1] == delim and delim not in "\\" else ch + script[i + 1])
            i += 2
            continue
        if ch == "\n":
            return None
        if ch == delim:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return None


def _text_argument(script: str, start: int) -> tuple[str, int] | None:
    """The text of a/i/c: GNU one-line form (`a text`, leading blanks dropped) or POSIX
    (`a\\` newline `text`, kept as written). A line ending in a backslash continues, its
    next line kept as written; `\\x` is x."""
    i = start
    while i < len(script) and script[i] in " \t":
        i += 1
    if script.startswith("\\\n", i):
        i += 2
    elif script.startswith("\\", i):
        i += 1
    out: list[str] = []
    while i < len(script):
        ch = script[i]
        if ch == "\\" and i + 1 < len(script):
            out.append(script[i + 1])
            i += 2
            continue
        if ch == "\n":
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i


def parse_sed(script: str) -> list[SedCommand] | None:
    """The commands of a sed script, or None when one of them is not modelled."""
    commands: list[SedCommand] = []
    i = 0
    n = len(script)
    while True:
        while i < n and script[i] in " \t\n;":
            i += 1
        if i >= n:
            return commands
        address: str | None = None
        first_only = False
        address_flags = ""
        if script.startswith("0,/", i):
            first_only = True
            i += 2
        if i < n and script[i] == "/":
            parsed = _delimited(script, i + 1, "/")
            if parsed is None:
                return None
            address, i = parsed
            if i < n and script[i] == "I":
                address_flags = "I"
                i += 1
        elif first_only:
            return None
        elif i < n and script[i].isdigit():  # `91c TEXT`: a line number, for c only
            start = i
            while i < n and script[i].isdigit():
                i += 1
            if not script.startswith("c", i) or int(script[start:i]) < 1:
                return None  # d, a, i and s by line number change a different line on every run
            text = _text_argument(script, i + 1)
            if text is None:
                return None
            commands.append(SedCommand("c", replacement=text[0], line=int(script[start:i])))
            i = text[1]
            continue
        while i < n and script[i] in " \t":
            i += 1
        negated = False
        if i < n and script[i] == "!":
            negated = True
            i += 1
            while i < n and script[i] in " \t":
                i += 1
        if i >= n:
            return None
        verb = script[i]
        i += 1
        if verb == "s":
            if i >= n or script[i] in "\\\n ":
                return None
            delim = script[i]
            pattern = _delimited(script, i + 1, delim)
            if pattern is None:
                return None
            replacement = _delimited(script, pattern[1], delim)
            if replacement is None:
                return None
            i = replacement[1]
            flags_start = i
            while i < n and script[i] in "gIi":
                i += 1
            command = SedCommand("s", address, negated, first_only, address_flags, pattern[0],
                                 replacement[0], script[flags_start:i], delim)
        elif verb == "d":
            command = SedCommand("d", address, negated, first_only, address_flags)
        elif verb in "aic":
            text = _text_argument(script, i)
            if text is None or address is None:
                return None  # line-number and last-line addresses are not modelled
            command = SedCommand(verb, address, negated, first_only, address_flags,
                                 replacement=text[0])
            i = text[1]
        else:
            return None
        while i < n and script[i] in " \t":
            i += 1
        if i < n and script[i] not in ";\n":
            return None
        commands.append(command)


# --- commands as tasks ----------------------------------------------------------------------

def _short(text: str, limit: int = 40) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _starts_literal(regex: str) -> bool:
    """The regex begins with a plain character that is not optional: every match is non-empty."""
    return bool(re.match(r"[A-Za-z0-9_;:#=,'\"@%/<>~-](?![*?{+])", regex))


def _one_match_per_line(regex: str) -> bool:
    """sed's first match of a line is its only one: anchored at the start, or non-empty and
    running to the end of the line."""
    if "|" in regex:
        return False
    if regex.startswith("^"):
        return True
    tail = regex.endswith(".*") and not regex.endswith("\\.*")
    end = regex.endswith("$") and not regex.endswith("\\$")
    return (tail or end) and _starts_literal(regex)


def _compiles(regex: str) -> bool:
    try:
        re.compile(regex)
    except re.error:
        return False
    return True


def _matches_empty(regex: str) -> bool:
    return _compiles(regex) and re.fullmatch(regex, "") is not None


# sed has no line after a file's final newline (nor in an empty file); a MULTILINE regex
# sees an empty one there
_NOT_PAST_END = r"(?!\Z)"  # after ^: a line starting at the very end is that phantom line
_NOT_PAST_END_BEFORE_DOLLAR = r"(?!(?<![^\n])\Z)"  # the end of a line that starts there


def _kept_to_lines(regexp: str) -> str | None:
    """`regexp`, unable to match on that empty last "line"; None when it does not compile
    or cannot be kept off it."""
    if not _compiles(regexp):
        return None
    compiled = re.compile(regexp, re.MULTILINE)
    if compiled.match("\n", 1) is None and compiled.match("") is None:
        return regexp
    if regexp.startswith("^"):
        return "^" + _NOT_PAST_END + regexp[1:]
    if regexp == "$":
        return _NOT_PAST_END_BEFORE_DOLLAR + "$"
    return None


def _line_guard(command: SedCommand, extended: bool) -> tuple[str, int] | None:
    """A lookahead that holds on the lines the command's address selects, and its groups."""
    if command.address is None:
        return "", 0
    address = sed_regex(command.address, extended)
    if address is None or not _compiles(address):
        return None
    if "I" in command.address_flags:
        address = "(?i:" + address + ")"
    groups = re.compile(address).groups
    return ("(?!" if command.negated else "(?=") + ".*?(?:" + address + "))", groups


def _substitute(path: str, command: SedCommand, extended: bool, last_pattern: str | None,
                extra: dict[str, Any]) -> Task | None:
    raw = command.pattern or command.address or last_pattern
    if not raw or not re.fullmatch(r"[gIi]*", command.flags):
        return None
    pattern = sed_regex(raw, extended)
    if pattern is None:
        return None
    if "I" in command.flags or "i" in command.flags:
        pattern = "(?i:" + pattern + ")"
    anchored = pattern.startswith("^") and "|" not in pattern
    replacement = sed_replacement(command.replacement)
    # Python's re.sub also takes an empty match right after another one (`s/ *$/x/` would
    # add two x to a line with trailing blanks): only anchored forms are safe, and removals
    # of what runs to the end of the line (`s/[[:space:]]*$//`), where an extra empty
    # match removes nothing
    trailing_removal = replacement == "" and command.address is None and not command.first_only \
        and pattern.endswith("$") and not pattern.endswith("\\$") and "|" not in pattern
    if _matches_empty(pattern) and not anchored and pattern != "$" and not trailing_removal:
        return None
    every = "g" in command.flags
    what = f"Replace {_short(raw)} in {path}"
    if command.first_only:
        if command.negated or every or (command.pattern and command.pattern != command.address):
            return None
        regexp = r"\A([\s\S]*?)(" + _shift_groups(pattern, 2) + ")"
        replace = "\\g<1>" + _shift_replacement(replacement, 2, 2)
        what = f"Replace the first {_short(raw)} in {path}"
    elif trailing_removal:
        return _replace_task(what, path, pattern, "", extra)
    elif command.address is None and (every or pattern == "$" or _one_match_per_line(pattern)):
        regexp, replace = pattern, replacement
    else:
        line_guard = _line_guard(command, extended)
        if line_guard is None:
            return None
        guard, groups = line_guard
        if every and not anchored:
            return None  # every match, but only on some lines: no single regex says it
        if anchored:
            regexp = "^" + guard + _shift_groups(pattern[1:], groups)
            replace = _shift_replacement(replacement, 0, groups) if groups else replacement
        else:
            shift = groups + 2
            regexp = "^" + guard + "(.*?)(" + _shift_groups(pattern, shift) + ")"
            replace = f"\\g<{groups + 1}>" + _shift_replacement(replacement, shift, shift)
        if command.address is not None:
            what = f"Replace {_short(raw)} on lines matching {_short(command.address)} in {path}"
    kept = _kept_to_lines(regexp)
    return None if kept is None else _replace_task(what, path, kept, replace, extra)


def _replace_task(title: str, path: str, regexp: str, replace: str, extra: dict[str, Any]) -> Task | None:
    if not _compiles(regexp):
        return None
    return Task(title, REPLACE, {"path": path, "regexp": literal(regexp), "replace": literal(replace), **extra},
                role="config", path=path)


def _command_task(path: str, command: SedCommand, extended: bool, last_pattern: str | None,
                  extra: dict[str, Any]) -> Task | None:
    if command.line is not None:
        # the line after line-1 newlines, if there is one (something follows them), with its
        # newline: sed's c writes the text and a newline even for a last line without one
        by_number = r"\A((?:[^\n]*\n){%d})(?=[\s\S])[^\n]*\n?" % (command.line - 1)
        return _replace_task(f"Change line {command.line} of {path}", path, by_number,
                             "\\g<1>" + _escape_text(command.replacement) + "\n", extra)
    if command.verb == "s":
        return _substitute(path, command, extended, last_pattern, extra)
    if command.first_only or command.address is None:
        return None
    line_guard = _line_guard(command, extended)
    if line_guard is None:
        return None
    guard = line_guard[0]
    if command.verb == "d":
        regexp = sed_regex(command.address, extended)
        if command.negated or regexp is None:
            return None
        if "I" in command.address_flags:
            regexp = "(?i)" + regexp
        if not _compiles(regexp):
            return None
        return Task(f"Remove lines matching {_short(command.address)} from {path}", LINEINFILE,
                    {"path": path, "regexp": literal(regexp), "state": "absent", **extra},
                    role="config", path=path)
    text = _escape_text(command.replacement)
    line = _kept_to_lines("^" + guard + ".*$")
    if line is None:
        return None
    if command.verb == "c":
        title, replace = f"Change the lines matching {_short(command.address)} in {path}", text
    elif command.verb == "a":
        title, replace = f"Add a line after lines matching {_short(command.address)} in {path}", "\\g<0>\n" + text
    else:
        title, replace = f"Add a line before lines matching {_short(command.address)} in {path}", text + "\n\\g<0>"
    return _replace_task(title, path, line, replace, extra)


def sed_tasks(path: str, script: str, extended: bool, backup: str = "") -> list[Task] | None:
    """The tasks that make the edits of `script` on `path`, or None if one is not modelled;
    with ``backup`` (`sed -i.bak`), the original is first kept as `path` + that suffix."""
    commands = parse_sed(script)
    if not commands:
        return None
    # a/i/c text goes out at the end of sed's cycle, past the commands after it; a task per
    # command would run those later commands over the new text, so they must come last
    if any(c.verb in "aic" for c in commands[:-1]):
        return None
    extra: dict[str, Any] = {}
    tasks: list[Task] = []
    if backup:  # (not the modules' `backup: true`: that one names the copy `path.PID.DATE~`)
        tasks.append(Task(f"Keep {path} as {path}{backup}", COPY,
                          {"src": path, "dest": path + backup, "remote_src": True, "mode": "preserve"},
                          role="config", path=path + backup))
    last: str | None = None
    for command in commands:
        task = _command_task(path, command, extended, last, extra)
        if task is None:
            return None
        tasks.append(task)
        last = command.pattern or command.address or last
    return tasks


_SHORT_FLAGS = frozenset("rEsu")


@rule("sed")
def sed(inv: Invocation) -> list[Task] | None:
    in_place, backup, extended = False, "", False
    scripts: list[str] = []
    files: list[str] = []
    globbed: list[bool] = []  # per file: a pattern the shell expands
    args = list(inv.args)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            files.extend(args[i + 1:])
            globbed.extend(inv.is_glob(j + 1) for j in range(i + 1, len(args)))
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name == "--in-place":
                in_place, backup = True, backup or value
            elif name == "--regexp-extended":
                extended = True
            elif name == "--expression":
                if not eq:
                    if i + 1 >= len(args):
                        return None
                    value = args[i + 1]
                    i += 1
                scripts.append(value)
            elif name not in ("--separate", "--posix"):
                return None
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter == "i":
                    in_place, backup = True, backup or arg[j + 1:]
                    break
                if letter == "e":
                    if arg[j + 1:]:
                        scripts.append(arg[j + 1:])
                    elif i + 1 < len(args):
                        scripts.append(args[i + 1])
                        i += 1
                    else:
                        return None
                    break
                if letter not in _SHORT_FLAGS:
                    return None  # -n prints only what p says, -f reads a file, -z, -l ...
                extended = extended or letter in "rE"
                j += 1
        elif not scripts and not any(a in ("-e", "--expression") or a.startswith("--expression=")
                                     or re.fullmatch(r"-[rEsu]*e.*", a) for a in args):
            scripts.append(arg)
        else:
            files.append(arg)
            globbed.append(inv.is_glob(i + 1))
        i += 1
    if not in_place or not scripts or not files or any(c in backup for c in "*/"):
        return None  # (a suffix with `*` or `/` names the backup by a template: not modelled)
    script = "\n".join(scripts)
    masked, facts = _hold_host_values(script)
    if has_runtime_value(masked) or not _values_only_in_text(masked, facts):
        return None  # sed reads the value as regex or replacement syntax, known on the host only
    tasks: list[Task] = []
    for name, pattern in zip(files, globbed):
        path = inv.path(name)
        if path is None:
            return None
        made = _glob_tasks(path, masked, extended, backup) if pattern else sed_tasks(path, masked, extended, backup)
        if made is None:
            return None
        tasks.extend(made)
    return _put_values_back(tasks, facts, extended)


def _glob_tasks(path: str, script: str, extended: bool, backup: str) -> list[Task] | None:
    """`sed -i ... /etc/yum.repos.d/CentOS-*`: the files the pattern names (one directory, no
    dot files unless the pattern starts with a dot, as the shell's glob), each edited."""
    directory, pattern = posixpath.split(path)
    if GLOB_CHARS.search(directory) or not pattern or pattern.startswith(".") or directory in ("", "/") \
            or backup:
        return None
    made = sed_tasks("{{ item }}", script, extended, backup)
    if made is None:
        return None
    register = register_name(directory, pattern)
    files = f"the files {directory}/{pattern}"
    tasks = [Task(f"Find {files}", FIND, {"paths": directory, "patterns": pattern, "file_type": "file"},
                  extra={"register": register})]
    loop = {"loop": "{{ " + register + ".files | map(attribute='path') | list }}"}
    for task in made:
        tasks.append(replace(task, name=task.name.replace("{{ item }}", files), extra={**task.extra, **loop},
                             role="other", path=None))
    return tasks


# design: a value only the host knows reaches sed as the walker's `{{ shell_NAME }}` (a value a
# task worked out: a random password, a tag, the script's argument) or `{{ ansible_facts.X }}`.
# In a regex sed reads it as regex syntax, and so does the task: in a basic regex (no -E) the
# characters `+?|(){}` are plain, so the value goes through Jinja `replace`s that make each a
# one-character class for Python's re (no backslash: see jinja_literals); the rest (`.*^$[]`)
# means the same to both, and the task says so. In a replacement or an
# a/i/c text it is inserted, and the task says it: sed reads `\`, `&` and its delimiter in
# the value as syntax, the replace task (backslashes escaped for Python's re) inserts it as
# written, which is the same for any value without them; the task carries a note saying so.
# A gathered fact that is a word of letters, digits and `._+-` (a host name, an architecture,
# a release, a number) means nothing in either, so it needs no note. A delimiter that is one
# of those characters declines either way.
_WORD_FACT = re.compile(r"\{\{ ansible_facts\.(?:architecture|kernel|system|nodename|fqdn|hostname|domain"
                        r"|processor_vcpus|distribution_release|distribution_version|distribution_major_version)"
                        r" \}\}")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
_HELD = re.compile("\x00(\\d+)\x00")


def _hold_host_values(script: str) -> tuple[str, list[str]]:
    """``script`` with each value the host knows as a placeholder sed takes as plain text."""
    values: list[str] = []

    def hold(match: re.Match[str]) -> str:
        values.append(match.group(0))
        return f"\x00{len(values) - 1}\x00"

    return RUNTIME_VALUE.sub(hold, script), values


def _values_only_in_text(script: str, values: list[str]) -> bool:
    if not values:
        return True
    commands = parse_sed(script)
    if not commands:
        return False
    for command in commands:
        if "\x00" in command.replacement and command.verb == "s" and command.delimiter in _WORD_CHARS:
            return False  # a delimiter even a word value may hold
    return True


# the keys of the tasks sed_tasks makes whose value is a regex
_REGEX_KEYS = frozenset({"regexp", "after", "before", "insertafter", "insertbefore"})
# what a basic regex reads as plain characters and Python's re as syntax
_BRE_PLAIN = "+?|(){}"


def _as_bre_text(held: str, extended: bool) -> str:
    """``held`` (`{{ expression }}`) as a piece of Python regex that matches what sed's regex
    with the value in it matched."""
    if extended or _WORD_FACT.fullmatch(held):
        return held
    expression = held[3:-3]
    for char in _BRE_PLAIN:
        expression += f" | replace({jinja_literal(char)}, {jinja_literal('[' + char + ']')})"
    return "{{ " + expression + " }}"


def _put_values_back(tasks: list[Task], values: list[str], extended: bool) -> list[Task] | None:
    if not values:
        return tasks
    out = []
    noted: list[str] = []
    in_regex: list[str] = []

    def regex_value(match: re.Match[str]) -> str:
        held = values[int(match.group(1))]
        if not _WORD_FACT.fullmatch(held) and held not in in_regex:
            in_regex.append(held)
        return _as_bre_text(held, extended)

    def value(match: re.Match[str]) -> str:
        held = values[int(match.group(1))]
        if _WORD_FACT.fullmatch(held):
            return held
        if held not in noted:
            noted.append(held)
        # Python's re reads a backslash in the replacement: doubled, written with no backslash (jinja_literals)
        return held[:-3] + f" | replace({jinja_literal(chr(92))}, {jinja_literal(chr(92) * 2)}) }}}}"

    for task in tasks:
        args = dict(task.args)
        for key, arg in args.items():
            if isinstance(arg, str) and "\x00" in arg:
                if key not in _REGEX_KEYS | {"replace"} or "{% raw %}" in arg:
                    return None  # text (a/i/c lines), or text Ansible must not template around it
                args[key] = _HELD.sub(regex_value if key in _REGEX_KEYS else value, arg)
        name = _HELD.sub(lambda m: "$" + values[int(m.group(1))].strip("{} ").split(".")[-1].removeprefix("shell_"),
                         task.name)
        out.append(replace(task, name=name, args=args))
    notes = []
    if noted:
        notes.append(f"{human_list(noted)} goes in as written; sed would have read a `\\`, `&` or "
                     "its delimiter in the value as its own syntax")
    if in_regex:
        notes.append(f"{human_list(in_regex)} is read as a regular expression, as sed read it: the same for letters, "
                     "digits and `.*^$[]-_`; a `\\` in the value may mean something else to Python's re")
    if notes:  # on the first edit (a `sed -i.bak` backup copy comes before it)
        first = next((i for i, task in enumerate(out) if task.module != COPY), 0)
        out[first] = replace(out[first], note="; ".join(notes))
    return out
