"""Refuse a playbook that would make the machine validating it read its own files or run commands.

Pure: the verdict depends on the playbook's data alone, never on the disk, so the error for
``import_playbook: /etc/passwd`` is the same whether that file exists, what it holds, or not.

design: the worker validates every model reply with ``ansible-playbook --syntax-check``, and
the model's text is untrusted (a prompt injection in a user's script can steer it). What
syntax-check reads or runs on the worker, measured with strace on ansible-core 2.19:

- ``import_playbook``, ``import_tasks``, ``import_role`` and ``roles`` are loaded from disk
  (the error then quotes the file: an oracle for any file the worker can read); ``vars_files``
  is read too;
- every play keyword (``hosts``, ``name``, ``environment``, ...) is templated, so a Jinja
  expression there runs on the worker: ``name: "{{ lookup('pipe', 'touch x') }}"`` ran the
  command, and ``hosts: "{{ ... if '/etc/hostname' is exists ... }}"`` stat'ed the file;
- task arguments, ``include_*`` and ``with_*`` loops are left for run time.

The rule is therefore stricter than what syntax-check reads today, so a later ansible that
reads more does not open the hole again: nothing that loads another file (imports, includes,
roles, ``vars_files``, ``include_vars``), no ``lookup()``/``query()`` anywhere, no loop over a
lookup that reads the controller (``with_file``, ``with_pipe``, ...), and no Jinja in play
keywords (put it in a task instead). ``copy``/``template`` ``src`` stay allowed: nothing reads
them before the playbook runs on the user's own controller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["local_read_errors"]

# actions that make ansible load another file (short, ansible.builtin. and ansible.legacy. names)
_LOADING_ACTIONS = frozenset({
    "import_playbook", "import_tasks", "include_tasks", "include", "import_role", "include_role", "include_vars",
})
# lookups that read the controller's files, environment or command output
_READING_LOOKUPS = frozenset({
    "file", "fileglob", "filetree", "first_found", "lines", "pipe", "template", "env", "ini", "csvfile",
    "password", "url", "config", "unvault",
})
_LOOKUP_CALL = re.compile(r"\b(?:lookup|query|q)\s*\(")
_JINJA = re.compile(r"\{\{|\{%")
_JINJA_BLOCK = re.compile(r"\{\{.*?(?:\}\}|$)|\{%.*?(?:%\}|$)", re.DOTALL)
# keys whose whole value is a Jinja expression without braces
_BARE_EXPRESSION_KEYS = frozenset({"when", "changed_when", "failed_when", "until", "that"})
_TASK_SECTIONS = ("pre_tasks", "tasks", "post_tasks", "handlers")
_BLOCK_SECTIONS = ("block", "rescue", "always")
# play keywords syntax-check does not template: the task lists (walked below) and play vars (lazy)
_UNTEMPLATED_PLAY_KEYS = frozenset({*_TASK_SECTIONS, "vars"})

_ADVICE = "generated playbooks must be self-contained; write the tasks out instead"


def local_read_errors(plays: object) -> list[str]:
    """Why this playbook would read files or run commands where it is validated; empty when it would not."""
    if not isinstance(plays, list):
        return []
    errors: list[str] = []
    for index, play in enumerate(plays, start=1):
        if isinstance(play, Mapping):
            errors.extend(_play_errors(play, f"play {index}"))
    return errors


def _play_errors(play: Mapping[Any, Any], where: str) -> list[str]:
    errors: list[str] = []
    for key, value in play.items():
        name = _action_name(key)
        if name == "import_playbook":
            errors.append(f"{where} imports another playbook ({_short(value)}); {_ADVICE}")
        elif key == "vars_files":
            errors.append(f"{where} reads 'vars_files' ({_short(value)}); put the variables under 'vars'")
        elif key == "roles" and value:
            errors.append(f"{where} uses roles ({_short(value)}), which are loaded from disk; {_ADVICE}")
        elif key not in _UNTEMPLATED_PLAY_KEYS and _has(value, _JINJA):
            errors.append(f"{where}: the play keyword '{key}' holds a Jinja expression, which is evaluated while the "
                          "playbook is checked; use a plain value there and put templates in tasks")
    for section in _TASK_SECTIONS:
        tasks = play.get(section)
        if isinstance(tasks, list):
            for t_index, task in enumerate(tasks, start=1):
                errors.extend(_task_errors(task, f"{where}, {section.rstrip('s').replace('_', '-')} {t_index}"))
    errors.extend(f"{where}{where_in}: {message}" for where_in, message in _lookups(play, ""))
    return errors


def _task_errors(task: object, where: str) -> Iterator[str]:
    if not isinstance(task, Mapping):
        return
    for section in _BLOCK_SECTIONS:
        inner = task.get(section)
        if isinstance(inner, list):
            for i, sub in enumerate(inner, start=1):
                yield from _task_errors(sub, f"{where}, {section} task {i}")
    for key, value in task.items():
        name = _action_name(key)
        if key in ("action", "local_action"):
            name = _action_name(value.get("module") if isinstance(value, Mapping) else str(value).split(" ")[0])
        if name in _LOADING_ACTIONS:
            yield f"{where} uses '{key}' ({_short(value)}), which loads another file; {_ADVICE}"
        elif isinstance(key, str) and key.startswith("with_") and _action_name(key[5:]) in _READING_LOOKUPS:
            yield f"{where} loops with '{key}', a lookup that reads the controller's files or commands; {_ADVICE}"


def _lookups(value: object, where: str) -> Iterator[tuple[str, str]]:
    """Every string under ``value`` that calls lookup()/query(): (where, message)."""
    for path, key, text in _strings(value, where):
        expressions = [text] if key in _BARE_EXPRESSION_KEYS else _JINJA_BLOCK.findall(text)
        if any(_LOOKUP_CALL.search(expression) for expression in expressions):
            yield path, ("calls lookup()/query(), which reads files or runs commands where the playbook is "
                         f"checked or run; {_ADVICE}")


def _strings(value: object, where: str, key: object = None) -> Iterator[tuple[str, object, str]]:
    """(where, the key it sits under, text) of every string under ``value``, keys included."""
    if isinstance(value, str):
        yield where, key, value
    elif isinstance(value, Mapping):
        for inner_key, inner in value.items():
            if isinstance(inner_key, str):
                yield where, None, inner_key
            yield from _strings(inner, f"{where} > {inner_key}" if where else f" ('{inner_key}')", inner_key)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            yield from _strings(inner, where, key)


def _has(value: object, pattern: re.Pattern[str]) -> bool:
    return any(pattern.search(text) for _, _, text in _strings(value, ""))


def _action_name(key: object) -> str:
    """``ansible.builtin.import_tasks`` / ``ansible.legacy.import_tasks`` -> ``import_tasks``."""
    if not isinstance(key, str):
        return ""
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _short(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
