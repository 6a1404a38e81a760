"""Jinja string literals and regexes that read the same on every Ansible: no backslash in them; pure.

design: a backslash inside a Jinja string literal means different things on different
controllers. ansible-core 2.19 keeps it as written in a template (``{{ 'a\\\\b' | length }}`` is 4,
``{{ 'it\\'s' }}`` is ``it\\'s``), while a ``when`` and earlier versions read it as an escape. A
regex such as ``^(.*?)\\..*$`` with ``\\1`` then matched nothing in a set_fact and the fact kept
the whole value: a wrong playbook in silence. So nothing here writes a backslash:

- a literal goes in whichever quote it does not hold; text holding both is pieces joined with
  ``~``; a backslash in the text is ``('%c' | format(92))``;
- a regex says a literal character with a class (``[.]``), the end of the text with ``(?!.)``
  under ``(?s)``, and needs no group reference (callers cut with a lookahead or an empty
  replacement instead of ``\\1``); a character that cannot be said so (``^``, ``[``, a backslash) makes
  the regex None (so does `[`), and the caller keeps the shell's own way.
"""

from __future__ import annotations

from collections.abc import Iterator

BACKSLASH = "('%c' | format(92))"
END = "(?!.)"  # the end of the text, under (?s): `$` would also match before a final newline

# characters a regex reads as themselves, outside a class
_PLAIN = frozenset(" _-:/@%,=~!<>&#;'\"`")
# characters a class makes literal: [.] [*] [+] [?] [$] [{] [}] [(] [)] [|]; []] is `]` (`[[]`
# would be `[`, but Python warns it may read as a nested set one day)
_CLASSED = frozenset(".*+?${}()|]")


def literal(text: str) -> str:
    """``text`` as a Jinja expression that evaluates to exactly ``text``."""
    terms = list(_terms(text))
    if not terms:
        return "''"
    return terms[0] if len(terms) == 1 else "(" + " ~ ".join(terms) + ")"


def _terms(text: str) -> Iterator[str]:
    for index, piece in enumerate(text.split("\\")):
        if index:
            yield BACKSLASH
        if not piece:
            continue
        if "'" not in piece:
            yield f"'{piece}'"
        elif '"' not in piece:
            yield f'"{piece}"'
        else:  # both quotes: single-quoted runs joined by "'"
            for part_index, part in enumerate(piece.split("'")):
                if part_index:
                    yield "\"'\""
                if part:
                    yield f"'{part}'"


def regex_char(char: str) -> str | None:
    """One literal character as regex text without a backslash; None when it has no such form."""
    if char.isalnum() or char in _PLAIN:
        return char
    if char in _CLASSED:
        return f"[{char}]"
    return None


def class_body(body: str) -> str | None:
    """A bracket expression's body (``!x`` or ``^x`` negated, as bash reads it) as a regex class;
    None when it holds a backslash or a quote-free form cannot say it."""
    if "\\" in body or "[:" in body:
        return None
    negated = body[:1] in ("!", "^")
    return "[" + ("^" if negated else "") + (body[1:] if negated else body) + "]"


def glob_regex(pattern: str, *, lazy: bool = False) -> str | None:
    """A bash glob as a Python regex with no backslash (`*` lazy or greedy, `?` one character,
    brackets as classes); None for a character it cannot say so."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*?" if lazy else ".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 2)
            body = class_body(pattern[i + 1:end]) if end >= 0 else None
            if body is None:
                return None
            out.append(body)
            i = end
        else:
            said = regex_char(char)
            if said is None:
                return None
            out.append(said)
        i += 1
    return "".join(out)
