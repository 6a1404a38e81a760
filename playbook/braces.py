"""Bash brace expansion of unquoted text: `f{,.bak}`, `/srv/app/{logs,data}`, `{1..3}`.

# design: bash expands braces before any other expansion, on the unquoted text of a word,
# and only where the braces hold a comma at their own level or a sequence (`{1..10}`,
# `{01..10..2}`, `{a..e}`); any other `{`...`}` (`{}`, `{x}`, an unmatched brace) is literal.
# A word becomes as many words as its alternatives, left to right, nested braces included.
# The parser marks the unquoted pieces that may hold one; this module only computes the
# alternatives of such a piece, so it knows nothing of quoting.
"""

from __future__ import annotations

import re

__all__ = ["has_braces", "expand"]

_SEQUENCE = re.compile(r"(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?|([A-Za-z])\.\.([A-Za-z])(?:\.\.(-?\d+))?")
MAX_WORDS = 1024  # `{1..100000}`: not expanded (the converter leaves such a word to the shell)


def has_braces(text: str) -> bool:
    """Whether unquoted ``text`` holds a brace expansion bash would perform."""
    return expand(text) != [text]


def expand(text: str) -> list[str]:
    """The words bash makes of unquoted ``text`` by brace expansion (``[text]`` when none, or
    when it would make more than MAX_WORDS)."""
    words = _expand(text)
    return words if len(words) <= MAX_WORDS else [text]


def _expand(text: str) -> list[str]:
    start = 0
    while True:
        opening = text.find("{", start)
        if opening < 0:
            return [text]
        closing, alternatives = _group(text, opening)
        if alternatives is None:
            start = opening + 1
            continue
        head, tail = text[:opening], _expand(text[closing + 1:])
        return [head + word + rest for alternative in alternatives for word in _expand(alternative)
                for rest in tail][: MAX_WORDS + 1]


def _group(text: str, opening: int) -> tuple[int, list[str] | None]:
    """The closing brace of the group at ``opening`` and its alternatives, or None when the
    group is not an expansion (no top-level comma and no sequence, or no closing brace)."""
    depth, piece_start = 0, opening + 1
    pieces: list[str] = []
    for index in range(opening, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                body = text[opening + 1:index]
                if pieces:
                    return index, pieces + [text[piece_start:index]]
                return index, _sequence(body)
        elif char == "," and depth == 1:
            pieces.append(text[piece_start:index])
            piece_start = index + 1
    return len(text), None


def _sequence(body: str) -> list[str] | None:
    match = _SEQUENCE.fullmatch(body)
    if match is None:
        return None
    if match.group(1) is not None:
        first, last = int(match.group(1)), int(match.group(2))
        step = abs(int(match.group(3) or 1)) or 1
        width = max(len(match.group(1)), len(match.group(2))) \
            if re.match(r"-?0\d", match.group(1)) or re.match(r"-?0\d", match.group(2)) else 0
        numbers = range(first, last + 1, step) if first <= last else range(first, last - 1, -step)
        if len(numbers) > MAX_WORDS:
            return None
        return [f"{n:0{width}d}" if width else str(n) for n in numbers]
    first_char, last_char = ord(match.group(4)), ord(match.group(5))
    step = abs(int(match.group(6) or 1)) or 1
    codes = range(first_char, last_char + 1, step) if first_char <= last_char \
        else range(first_char, last_char - 1, -step)
    return [chr(code) for code in codes]
