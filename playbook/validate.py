"""Structural and module/parameter checks of a playbook given as plain data.

Pure: no I/O. ``structure_errors`` needs nothing but the data; ``module_errors``
takes the installed modules' parameter names from outside (see
``validation.argspecs``), so tests can hand in a small table.

Every message names where the problem is ("play 1, task 3 ('Install nginx')")
and what to do about it, because it is sent back to the model verbatim.
"""

# design: a task is a mapping whose keys are either task keywords (the
# attributes of ansible-core's Task/Block/Handler, kept here as data and checked
# against ansible-core by a test) or exactly one module/action key. Anything
# else is "the module": two unknown keys mean two modules or a misspelt keyword,
# zero means no action. Blocks and handlers walk the same path.

from __future__ import annotations

import difflib
import logging
import shlex
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: Keywords valid on a task (ansible-core ``Task.fattributes`` minus internal names, plus handler/block keys).
TASK_KEYWORDS: frozenset[str] = frozenset(
    {
        "action", "any_errors_fatal", "args", "async", "become", "become_exe", "become_flags",
        "become_method", "become_user", "changed_when", "check_mode", "collections", "connection",
        "debugger", "delay", "delegate_facts", "delegate_to", "diff", "environment", "failed_when",
        "ignore_errors", "ignore_unreachable", "local_action", "loop", "loop_control",
        "module_defaults", "name", "no_log", "notify", "poll", "port", "register", "remote_user",
        "retries", "run_once", "tags", "throttle", "timeout", "until", "vars", "when",
        # handlers
        "listen",
    }
)  # fmt: skip

#: Keys that make a task a block.
BLOCK_KEYS: frozenset[str] = frozenset({"block", "rescue", "always"})

#: Keywords valid on a play (ansible-core ``Play.fattributes``).
PLAY_KEYWORDS: frozenset[str] = frozenset(
    {
        "any_errors_fatal", "become", "become_exe", "become_flags", "become_method", "become_user",
        "check_mode", "collections", "connection", "debugger", "diff", "environment", "fact_path",
        "force_handlers", "gather_facts", "gather_subset", "gather_timeout", "handlers", "hosts",
        "ignore_errors", "ignore_unreachable", "max_fail_percentage", "module_defaults", "name",
        "no_log", "order", "port", "post_tasks", "pre_tasks", "remote_user", "roles", "run_once",
        "serial", "strategy", "tags", "tasks", "throttle", "timeout", "vars", "vars_files",
        "vars_prompt",
    }
)  # fmt: skip

IMPORT_PLAYBOOK_KEYS: frozenset[str] = frozenset({"import_playbook", "ansible.builtin.import_playbook"})

#: Modules whose arguments may be a free-form string (``command: ls -l``).
FREE_FORM_MODULES: frozenset[str] = frozenset(
    {
        "ansible.builtin.command", "ansible.builtin.shell", "ansible.builtin.raw",
        "ansible.builtin.script", "ansible.builtin.include_tasks", "ansible.builtin.import_tasks",
        "ansible.builtin.include_vars", "ansible.builtin.meta", "ansible.builtin.set_fact",
        "ansible.builtin.import_role", "ansible.builtin.include_role",
        "ansible.windows.win_command", "ansible.windows.win_shell",
    }
)  # fmt: skip

#: Modules that accept arbitrary keys (facts, host variables): their parameter names are not checked.
ANY_KEY_MODULES: frozenset[str] = frozenset(
    {"ansible.builtin.set_fact", "ansible.builtin.add_host", "ansible.builtin.set_stats"}
)

#: Short names that are valid task actions without being modules in any argspec table.
_SPECIAL_ACTIONS: frozenset[str] = frozenset({"ansible.builtin.meta"})


def is_module_key(key: object) -> bool:
    """True when ``key`` of a task mapping is not a keyword, i.e. names the module/action."""
    return (
        isinstance(key, str)
        and key not in TASK_KEYWORDS
        and key not in BLOCK_KEYS
        and not key.startswith("with_")
    )


def task_module(task: Mapping[str, Any]) -> str | None:
    """The module key of a task (``action``/``local_action`` resolved), or None for blocks/invalid tasks."""
    keys = [k for k in task if is_module_key(k)]
    if len(keys) == 1:
        return str(keys[0])
    for keyword in ("action", "local_action"):
        if keyword in task:
            value = task[keyword]
            if isinstance(value, Mapping):
                mod = value.get("module")
                return str(mod) if mod else None
            if isinstance(value, str) and value.split():
                return value.split()[0]
    return None


# ---------------------------------------------------------------------------
# structure


def _label(name: object) -> str:
    return f" ({name!r})" if isinstance(name, str) and name.strip() else ""


def structure_errors(plays: object) -> list[str]:
    """Every structural problem of a playbook (list of plays), as messages that say what to fix."""
    if plays is None:
        return ["the playbook is empty; expected a YAML list of plays, each with 'hosts' and 'tasks'"]
    if isinstance(plays, Mapping):
        return [
            "top level is a mapping, expected a list of plays: put '- ' before the play "
            "so the document reads '- name: ...\\n  hosts: all\\n  tasks: [...]'"
        ]
    if not isinstance(plays, list):
        return [f"top level is a {type(plays).__name__}, expected a list of plays, each with 'hosts' and 'tasks'"]
    if not plays:
        return ["the playbook is an empty list; add at least one play with 'hosts' and 'tasks'"]
    errors: list[str] = []
    for index, play in enumerate(plays, start=1):
        errors.extend(_play_errors(play, index))
    return errors


def _play_errors(play: object, index: int) -> list[str]:
    where = f"play {index}"
    if not isinstance(play, Mapping):
        return [f"{where} is a {type(play).__name__}, expected a mapping with 'hosts' and 'tasks'"]
    where += _label(play.get("name"))
    if IMPORT_PLAYBOOK_KEYS & play.keys():
        return []
    errors: list[str] = []
    unknown = [k for k in play if k not in PLAY_KEYWORDS]
    for key in unknown:
        hint = _close(str(key), PLAY_KEYWORDS)
        if isinstance(key, str) and is_module_key(key) and not hint:
            errors.append(
                f"{where} has unknown keyword '{key}'; it looks like a task: move it into the play's 'tasks' list"
            )
        else:
            errors.append(f"{where} has unknown keyword '{key}'{_did_you_mean(hint)}")
    hosts = play.get("hosts")
    if "hosts" not in play:
        errors.append(f"{where} has no 'hosts'; add e.g. 'hosts: all'")
    elif not _valid_hosts(hosts):
        errors.append(f"{where}: 'hosts' must be a non-empty string or list of strings, got {hosts!r}")
    has_work = False
    for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
        if section not in play or play[section] is None:
            continue
        tasks = play[section]
        if not isinstance(tasks, list):
            errors.append(f"{where}: '{section}' must be a list of tasks, got a {type(tasks).__name__}")
            continue
        if section != "handlers" and tasks:
            has_work = True
        noun = "handler" if section == "handlers" else section.rstrip("s").replace("_", "-")
        for t_index, task in enumerate(tasks, start=1):
            errors.extend(_task_errors(task, f"{where}, {noun} {t_index}"))
    if play.get("roles"):
        has_work = True
        if not isinstance(play["roles"], list):
            errors.append(f"{where}: 'roles' must be a list")
    if not has_work and "hosts" in play:
        errors.append(f"{where} has no tasks; add a 'tasks' list with at least one task")
    return errors


def _valid_hosts(hosts: object) -> bool:
    if isinstance(hosts, str):
        return bool(hosts.strip())
    if isinstance(hosts, list):
        return bool(hosts) and all(isinstance(h, str) and h.strip() for h in hosts)
    return False


def _task_errors(task: object, where: str) -> list[str]:
    if not isinstance(task, Mapping):
        return [f"{where} is a {type(task).__name__}, expected a mapping like '- name: ...\\n  module.name: {{...}}'"]
    where += _label(task.get("name"))
    errors: list[str] = []
    if "name" in task and not isinstance(task["name"], str):
        errors.append(f"{where}: 'name' must be a string")
    modules = [k for k in task if is_module_key(k)]
    non_str = [k for k in task if not isinstance(k, str)]
    for key in non_str:
        errors.append(f"{where} has a non-string key {key!r}")
    if BLOCK_KEYS & task.keys():
        if modules:
            errors.append(
                f"{where} mixes 'block' with module key(s) {_quoted(modules)}; "
                "move the module into its own task inside the block"
            )
        if "block" not in task:
            errors.append(f"{where} has 'rescue'/'always' without 'block'")
        for section in ("block", "rescue", "always"):
            if section not in task:
                continue
            inner = task[section]
            if not isinstance(inner, list):
                errors.append(f"{where}: '{section}' must be a list of tasks")
                continue
            for i, sub in enumerate(inner, start=1):
                errors.extend(_task_errors(sub, f"{where}, {section} task {i}"))
        return errors
    has_action = "action" in task or "local_action" in task
    if len(modules) > 1:
        typos = [f"'{m}' -> '{hint[0]}'" for m in modules if (hint := _close(str(m), TASK_KEYWORDS))]
        fix = f"fix the misspelt keyword(s) {', '.join(typos)}" if typos else "split it into one task per module"
        errors.append(f"{where} has several module keys {_quoted(modules)}; a task runs exactly one module: {fix}")
    elif not modules and not has_action:
        errors.append(
            f"{where} has no module; add exactly one module key, "
            "e.g. 'ansible.builtin.command: <cmd>' or the proper module with its parameters"
        )
    elif modules and has_action:
        errors.append(f"{where} has both 'action' and module key '{modules[0]}'; keep only one")
    return errors


def _quoted(names: list[Any]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _close(word: str, candidates: Collection[str], n: int = 1) -> list[str]:
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.75)


def _did_you_mean(hints: list[str]) -> str:
    return f" (did you mean '{hints[0]}'?)" if hints else ""


# ---------------------------------------------------------------------------
# modules and parameters


@dataclass(frozen=True)
class _TaskRef:
    where: str
    task: Mapping[str, Any]


def iter_tasks(plays: object) -> Iterator[_TaskRef]:
    """Every non-block task of a structurally sound playbook, with its location (blocks flattened)."""
    if not isinstance(plays, list):
        return
    for p_index, play in enumerate(plays, start=1):
        if not isinstance(play, Mapping):
            continue
        where = f"play {p_index}{_label(play.get('name'))}"
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            tasks = play.get(section)
            if not isinstance(tasks, list):
                continue
            noun = "handler" if section == "handlers" else section.rstrip("s").replace("_", "-")
            for t_index, task in enumerate(tasks, start=1):
                yield from _walk(task, f"{where}, {noun} {t_index}")


def _walk(task: object, where: str) -> Iterator[_TaskRef]:
    if not isinstance(task, Mapping):
        return
    where += _label(task.get("name"))
    if BLOCK_KEYS & task.keys():
        for section in ("block", "rescue", "always"):
            inner = task.get(section)
            if isinstance(inner, list):
                for i, sub in enumerate(inner, start=1):
                    yield from _walk(sub, f"{where}, {section} task {i}")
        return
    yield _TaskRef(where, task)


def resolve_module(
    name: str, specs: Mapping[str, Collection[str]], redirects: Mapping[str, str] | None = None
) -> str | None:
    """The FQCN in ``specs`` that ``name`` means (short names resolve via ansible.builtin/legacy and redirects)."""
    redirects = redirects or {}
    seen: set[str] = set()
    current = name
    while current not in seen:
        seen.add(current)
        if current in specs:
            return current
        if current.startswith("ansible.legacy."):
            current = "ansible.builtin." + current.removeprefix("ansible.legacy.")
            continue
        if "." not in current and f"ansible.builtin.{current}" in specs:
            return f"ansible.builtin.{current}"
        target = redirects.get(current) or redirects.get(f"ansible.builtin.{current}")
        if target is None:
            return None
        current = target
    return None


def module_errors(
    plays: object,
    specs: Mapping[str, Collection[str]],
    *,
    redirects: Mapping[str, str] | None = None,
) -> list[str]:
    """Unknown modules and unknown parameter names, checked against ``specs`` ``{fqcn: param names incl. aliases}``."""
    errors: list[str] = []
    for ref in iter_tasks(plays):
        errors.extend(_check_task(ref, specs, redirects))
    return errors


def _check_task(
    ref: _TaskRef, specs: Mapping[str, Collection[str]], redirects: Mapping[str, str] | None
) -> list[str]:
    task = ref.task
    modules = [k for k in task if is_module_key(k)]
    if len(modules) == 1:
        name = str(modules[0])
        value: Any = task[name]
    elif not modules and ("action" in task or "local_action" in task):
        raw = task.get("action", task.get("local_action"))
        if isinstance(raw, Mapping):
            name = str(raw.get("module", ""))
            value = {k: v for k, v in raw.items() if k != "module"}
        elif isinstance(raw, str) and raw.split():
            name, _, rest = raw.strip().partition(" ")
            value = rest.strip() or None
        else:
            return [f"{ref.where}: 'action' must name a module"]
    else:
        return []  # structure_errors reports it
    fqcn = resolve_module(name, specs, redirects)
    if fqcn is None:
        if f"ansible.builtin.{name}" in _SPECIAL_ACTIONS or name in _SPECIAL_ACTIONS:
            return []
        return [f"{ref.where}: unknown module '{name}'{_suggest_modules(name, specs)}"]
    return _param_errors(ref.where, name, fqcn, value, task.get("args"), specs[fqcn])


def _suggest_modules(name: str, specs: Mapping[str, Collection[str]]) -> str:
    short = name.rsplit(".", 1)[-1]
    by_short: dict[str, list[str]] = {}
    for fqcn in specs:
        by_short.setdefault(fqcn.rsplit(".", 1)[-1], []).append(fqcn)
    hints: list[str] = []
    for match in difflib.get_close_matches(short, list(by_short), n=3, cutoff=0.6):
        # prefer ansible.builtin, then the shortest namespace
        hints.extend(sorted(by_short[match], key=lambda f: (not f.startswith("ansible.builtin."), f))[:2])
    for match in difflib.get_close_matches(name, list(specs), n=2, cutoff=0.8):
        if match not in hints:
            hints.append(match)
    if not hints:
        return "; use a module that exists (e.g. ansible.builtin.command as a last resort)"
    return f" (did you mean {', '.join(hints[:4])}?)"


def _param_errors(
    where: str,
    name: str,
    fqcn: str,
    value: Any,
    args: Any,
    params: Collection[str],
) -> list[str]:
    if fqcn in ANY_KEY_MODULES:
        return []
    keys: list[str] = []
    errors: list[str] = []
    if isinstance(value, Mapping):
        keys.extend(str(k) for k in value)
    elif isinstance(value, str):
        free, kv = _split_free_form(value)
        if fqcn not in FREE_FORM_MODULES:  # there, unknown k=v stay part of the command line
            keys.extend(kv)
        if free and fqcn not in FREE_FORM_MODULES:
            errors.append(
                f"{where}: module {fqcn} takes no free-form argument ({value!r}); "
                f"give its parameters as a mapping under '{name}:', e.g. 'name: ...'"
            )
    elif value is not None and not isinstance(value, (bool, int, float)):
        errors.append(f"{where}: the arguments of {fqcn} must be a mapping, got a {type(value).__name__}")
    if isinstance(args, Mapping):
        keys.extend(str(k) for k in args)
    for key in keys:
        if key in params or key.startswith("_"):  # ``in`` on the collection: it may accept anything
            continue
        errors.append(f"{where}: module {fqcn} has no parameter '{key}'{_param_hint(key, params)}")
    return errors


def _param_hint(key: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=2, cutoff=0.6)
    listing = sorted(known)
    shown = ", ".join(listing[:40]) + (", ..." if len(listing) > 40 else "")
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return f"{hint}; valid: {shown}" if listing else f"{hint}; it takes no parameters"


def _split_free_form(text: str) -> tuple[str, list[str]]:
    """Split ``k=v`` pairs (as Ansible's parse_kv does, approximately) from the free-form rest."""
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError:
        tokens = text.split()
    free: list[str] = []
    keys: list[str] = []
    for token in tokens:
        key, sep, _ = token.partition("=")
        if sep and key.isidentifier() and "{{" not in token.split("=", 1)[0]:
            keys.append(key)
        else:
            free.append(token)
    return " ".join(free), keys
