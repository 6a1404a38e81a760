"""Pull one playbook (a list of plays) out of an LLM reply, whatever the wrapping.

Pure: text in, data out. Raises ``PlaybookError`` with a message the model can act on.
"""

# design: a reply is cut into candidates, most specific first:
#   1. the whole reply as JSON (structured output: ``{"playbook": ...}``);
#   2. fenced blocks (```yaml, ```yml, ```, ~~~), YAML-tagged ones first, an
#      unterminated last fence included (a truncated reply);
#   3. unfenced text: from each line that can start a YAML list (``---`` or
#      ``- ``) up to the first column-0 line that cannot belong to it (chatter).
# Each candidate is parsed (multi-document aware, tabs in indentation retried as
# spaces) and classified: plays, a bare task list, a single play mapping, a
# ``playbook`` wrapper, or nothing. The first stage that yields plays wins; its
# play blocks are concatenated in order (exact duplicates dropped — models love
# to repeat the playbook in a summary), and task-only blocks fill a preceding
# play that has no tasks yet or, when no block holds plays, become one play
# (other task snippets beside full plays are excerpts and are dropped).
# When nothing classifies, the most telling parse error is raised.

from __future__ import annotations

import json
import logging
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

import yaml

from playbook.errors import PlaybookError
from playbook.validate import IMPORT_PLAYBOOK_KEYS, PLAY_KEYWORDS, is_module_key

log = logging.getLogger(__name__)

__all__ = ["extract_playbook"]

_YAML_LANGS = frozenset({"", "yaml", "yml", "ansible", "ansible-playbook", "playbook", "json", "yaml+jinja", "jinja", "jinja2"})
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
_START_LINE = re.compile(r"^(---(\s.*)?|-(\s.*)?)$")
_DEFAULT_PLAY_NAME = "Apply tasks"


@dataclass
class _Found:
    """What one candidate text turned out to be."""

    plays: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


def extract_playbook(text: str) -> list[dict[str, Any]]:
    """Return the playbook (list of play mappings) contained in ``text``; raise ``PlaybookError`` if none."""
    if not isinstance(text, str):
        raise PlaybookError(f"expected the reply as text, got {type(text).__name__}")
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise PlaybookError("the reply is empty; answer with an Ansible playbook in one ```yaml block")
    errors: list[str] = []

    as_json = _from_json(text, errors)
    if as_json is not None:
        return as_json

    blocks = _fenced_blocks(text)
    if blocks:
        yaml_blocks = [body for info, body in blocks if _lang(info) in _YAML_LANGS]
        other_blocks = [body for info, body in blocks if _lang(info) not in _YAML_LANGS]
        for group in (yaml_blocks, other_blocks):
            plays = _combine([_parse_candidate(body, errors, f"fenced block {i}") for i, body in enumerate(group, 1)])
            if plays:
                return plays

    for start in _start_lines(text):
        body = _unfenced_from(text, start)
        plays = _combine([_parse_candidate(body, errors, f"the reply text from line {start + 1}")])
        if plays:
            return plays

    if not blocks and not _start_lines(text):  # last resort: the whole reply, e.g. a bare mapping
        plays = _combine([_parse_candidate(text, errors, "the reply")])
        if plays:
            return plays

    if errors:
        raise PlaybookError(_capitalize(errors[0]) + _HOW)
    if blocks:
        raise PlaybookError("the fenced block(s) hold no Ansible playbook (no list of plays or tasks)" + _HOW)
    raise PlaybookError("no YAML found in the reply" + _HOW)


_HOW = (
    "; answer with ONE ```yaml block holding a list of plays, e.g. "
    "'- name: Setup\\n  hosts: all\\n  become: true\\n  tasks:\\n    - name: ...'"
)


def _capitalize(message: str) -> str:
    return message[:1].upper() + message[1:]


def _lang(info: str) -> str:
    word = info.strip().split(maxsplit=1)
    return word[0].lower().lstrip(".{").rstrip("}") if word else ""


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced block, in order; an unterminated last fence runs to the end."""
    lines = text.split("\n")
    blocks: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        fence = match.group("fence")
        closing = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$")
        body: list[str] = []
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1  # skip the closing fence
        blocks.append((match.group("info").strip(), "\n".join(body)))
    return blocks


def _start_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.split("\n")) if _START_LINE.match(line)]


def _unfenced_from(text: str, start: int) -> str:
    """The lines from ``start`` up to the first column-0 line that cannot continue a YAML list."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines[start:]:
        if line and not line[0].isspace() and not _continues_list(line):
            break
        out.append(line)
    return "\n".join(out)


def _continues_list(line: str) -> bool:
    return line.startswith(("-", "#", "...")) or line.rstrip() == "---"


def _from_json(text: str, errors: list[str]) -> list[dict[str, Any]] | None:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):
        return None  # maybe YAML flow style or chatter; the YAML stages decide
    found = _classify(data, errors, "the JSON reply")
    return _combine([found]) or None


def _parse_candidate(body: str, errors: list[str], where: str) -> _Found | None:
    body = textwrap.dedent(body).rstrip("\n") + "\n"
    if not body.strip():
        return None
    variants = [body]
    if "\t" in body:
        variants += [_untab(body, 2), _untab(body, 4)]
    first_error: yaml.YAMLError | None = None
    for variant in variants:
        try:
            docs = [d for d in yaml.safe_load_all(variant) if d is not None]
        except yaml.YAMLError as exc:
            first_error = first_error or exc
            continue
        except RecursionError:
            errors.append(f"{where} is nested too deeply to be a playbook; answer with ONE ```yaml block holding a list of plays")
            return None
        if not docs:
            return None
        found = _Found()
        for doc in docs:
            part = _classify(doc, errors, where)
            if part is not None:
                found.plays.extend(part.plays)
                found.tasks.extend(part.tasks)
        return found if (found.plays or found.tasks) else None
    assert first_error is not None
    errors.append(_yaml_error(first_error, where))
    return None


def _untab(body: str, width: int) -> str:
    """Replace tabs in leading indentation by ``width`` spaces each (YAML forbids tab indentation)."""

    def fix(match: re.Match[str]) -> str:
        return match.group(0).replace("\t", " " * width)

    return re.sub(r"^[ \t]+", fix, body, flags=re.MULTILINE)


def _yaml_error(exc: yaml.YAMLError, where: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
    context = getattr(exc, "context", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
        context += f" started at line {context_mark.line + 1}"
    detail = f"{context}, {problem}" if context else problem
    return f"invalid YAML in {where}{at}: {detail}"


def _classify(data: Any, errors: list[str], where: str) -> _Found | None:
    """Plays or tasks in one parsed YAML document, or None (recording why) if it holds neither."""
    if isinstance(data, dict):
        if "playbook" in data and len(data) <= 3:
            inner = data["playbook"]
            if isinstance(inner, str):
                try:
                    return _Found(plays=extract_playbook(inner))
                except PlaybookError as exc:
                    errors.append(f"the 'playbook' field of {where}: {exc.message}")
                    return None
            return _classify(inner, errors, where)
        if _is_play(data):
            return _Found(plays=[data])
        errors.append(
            f"top level of {where} is a mapping, expected a list of plays "
            "(start the play with '- name: ...' and give it 'hosts' and 'tasks')"
        )
        return None
    if isinstance(data, list):
        if not data:
            return None
        if not all(isinstance(item, dict) for item in data):
            errors.append(f"{where} is a list of {_kinds(data)}, expected a list of plays (mappings)")
            return None
        if any(_is_play(item) for item in data):
            return _Found(plays=list(data))
        if all(_is_task(item) for item in data):
            return _Found(tasks=list(data))
        errors.append(f"{where} is a list of mappings that are neither plays nor tasks")
        return None
    return None  # a scalar: prose or a command line, not YAML structure


def _kinds(items: list[Any]) -> str:
    return "/".join(sorted({type(i).__name__ for i in items}))


def _is_play(item: dict[str, Any]) -> bool:
    if "hosts" in item or IMPORT_PLAYBOOK_KEYS & item.keys():
        return True
    keys = set(item)
    return bool(keys & {"tasks", "roles", "pre_tasks", "post_tasks"}) and keys <= PLAY_KEYWORDS


def _is_task(item: dict[str, Any]) -> bool:
    return any(is_module_key(k) for k in item) or "block" in item or "action" in item


def _combine(found: list[_Found | None]) -> list[dict[str, Any]]:
    """Join the plays of several candidates in order; task-only candidates fill or form a play."""
    plays: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    for part in found:
        if part is None:
            continue
        for play in part.plays:
            if play not in plays:
                plays.append(play)
        if part.tasks:
            if plays and not plays[-1].get("tasks"):
                plays[-1] = {**plays[-1], "tasks": list(part.tasks)}
            elif not plays:
                loose.extend(part.tasks)
            else:
                log.debug("dropping %d loose task(s) that follow a complete play", len(part.tasks))
    if plays:
        if loose:  # task snippets shown before the full playbook are excerpts of it
            log.debug("dropping %d task(s) shown before the first play", len(loose))
        return plays
    if loose:
        return [{"name": _DEFAULT_PLAY_NAME, "hosts": "all", "tasks": loose}]
    return []
