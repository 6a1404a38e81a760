"""Merge the playbooks of consecutive script chunks into one playbook.

Pure: data in, data out; never mutates its input.
"""

# design: chunks come in script order and their tasks must stay in that order,
# so a play only ever merges into the play right before it (merging into an
# earlier one would run its tasks before those of the plays in between).
# Two plays merge when they run the same way: same hosts, become and
# become_user, vars that do not contradict each other (the union is taken —
# chunk replies often declare only the vars their own tasks use), and equal
# values for every other play keyword except name, gather_facts and the task
# sections. Ordering constraints forbid a merge too: the earlier play's
# post_tasks, or the later play's roles/pre_tasks, would run out of script
# order. gather_facts merges to true when either play gathers (the default).
# Handlers are deduplicated by name within a merged play; a same-named handler
# with a different body keeps the first and warns, since notify resolves by name.

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["MergeResult", "merge_playbooks"]

_TASK_SECTIONS = ("pre_tasks", "tasks", "post_tasks", "handlers")
_FREE_KEYS = frozenset({"name", "gather_facts", "vars", *_TASK_SECTIONS})
_SAME_KEYS = ("hosts", "become", "become_user")


@dataclass(frozen=True)
class MergeResult:
    """The merged playbook and what the merge could not do cleanly."""

    plays: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def merge_playbooks(playbooks: Sequence[list[dict[str, Any]]]) -> MergeResult:
    """Merge chunk playbooks (in script order) into one: compatible consecutive plays become one play."""
    merged: list[dict[str, Any]] = []
    warnings: list[str] = []
    origin: list[str] = []  # for messages: where each merged play came from
    for c_index, playbook in enumerate(playbooks, start=1):
        for p_index, play in enumerate(playbook, start=1):
            here = f"chunk {c_index}, play {p_index}" if len(playbooks) > 1 else f"play {p_index}"
            play = _copy_play(play)
            if not merged:
                merged.append(play)
                origin.append(here)
                continue
            reason = _why_not_mergeable(merged[-1], play)
            if reason is None:
                merged[-1] = _merge_two(merged[-1], play, here)
                continue
            if reason:  # an empty reason: unmergeable by nature (import_playbook), nothing to warn about
                warnings.append(f"{here} ({_name(play)}) kept as a separate play after {origin[-1]}: {reason}")
            merged.append(play)
            origin.append(here)
    for play in merged:
        if "handlers" in play:
            play["handlers"] = _dedupe_handlers(play["handlers"], _name(play), warnings)
    return MergeResult(plays=merged, warnings=warnings)


def _copy_play(play: dict[str, Any]) -> dict[str, Any]:
    out = dict(play)
    if isinstance(out.get("name"), str):
        out["name"] = " ".join(out["name"].split())
    for section in _TASK_SECTIONS:
        if section in out and out[section] is not None:
            out[section] = list(out[section])
    if isinstance(out.get("vars"), dict):
        out["vars"] = dict(out["vars"])
    return out


def _name(play: dict[str, Any]) -> str:
    name = play.get("name")
    return f"'{name}'" if isinstance(name, str) and name else "unnamed"


def _norm_hosts(hosts: Any) -> Any:
    if isinstance(hosts, str):
        return tuple(h.strip() for h in hosts.split(",") if h.strip())
    if isinstance(hosts, list):
        return tuple(str(h).strip() for h in hosts)
    return hosts


def _norm(key: str, value: Any) -> Any:
    if key == "hosts":
        return _norm_hosts(value)
    if key == "become":
        return bool(value) if isinstance(value, bool) or value is None else value
    return value


def _why_not_mergeable(first: dict[str, Any], second: dict[str, Any]) -> str | None:
    """None when ``second`` can be appended to ``first``; else the reason ('' for never-mergeable plays)."""
    if "import_playbook" in first or "import_playbook" in second:
        return ""
    if "ansible.builtin.import_playbook" in first or "ansible.builtin.import_playbook" in second:
        return ""
    for key in _SAME_KEYS:
        a, b = _norm(key, first.get(key)), _norm(key, second.get(key))
        if a != b:
            return f"its {key} ({_show(second.get(key))}) differs from {_show(first.get(key))}"
    vars_a, vars_b = first.get("vars") or {}, second.get("vars") or {}
    if not isinstance(vars_a, dict) or not isinstance(vars_b, dict):
        if vars_a != vars_b:
            return "its vars differ"
    else:
        clash = sorted((k for k in vars_a.keys() & vars_b.keys() if vars_a[k] != vars_b[k]), key=str)
        if clash:
            return f"its vars give {', '.join(clash)} other values"
    for key in sorted((first.keys() | second.keys()) - _FREE_KEYS - set(_SAME_KEYS), key=str):
        if first.get(key) != second.get(key):
            return f"its {key} ({_show(second.get(key))}) differs from {_show(first.get(key))}"
    if first.get("post_tasks"):
        return "the play before it has post_tasks, which must run after all its tasks, so it runs later"
    if second.get("pre_tasks") or second.get("roles"):
        return "it has pre_tasks/roles, which would run before the earlier tasks, so it runs later"
    return None


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _merge_two(first: dict[str, Any], second: dict[str, Any], here: str) -> dict[str, Any]:
    out = dict(first)
    if not out.get("name") and second.get("name"):
        out["name"] = second["name"]
    vars_a, vars_b = first.get("vars") or {}, second.get("vars") or {}
    if vars_b and isinstance(vars_a, dict) and isinstance(vars_b, dict):
        out["vars"] = {**vars_a, **vars_b}
    gf_a, gf_b = first.get("gather_facts"), second.get("gather_facts")
    if gf_a is not None or gf_b is not None:
        gathers = gf_a is None or gf_b is None or bool(gf_a) or bool(gf_b)
        out["gather_facts"] = gathers
    for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
        a, b = first.get(section) or [], second.get(section) or []
        if a or b or section in first or section in second:
            out[section] = [*a, *b]
    if "post_tasks" in second and not second.get("post_tasks") and not out.get("post_tasks"):
        out.pop("post_tasks", None)
    log.debug("merged %s into the previous play", here)
    return out


def _dedupe_handlers(handlers: list[Any], play_name: str, warnings: list[str]) -> list[Any]:
    kept: list[Any] = []
    by_name: dict[str, Any] = {}
    for handler in handlers:
        name = handler.get("name") if isinstance(handler, dict) else None
        if not isinstance(name, str):
            if handler not in kept:
                kept.append(handler)
            continue
        if name not in by_name:
            by_name[name] = handler
            kept.append(handler)
        elif by_name[name] != handler:
            warnings.append(
                f"play {play_name}: handler '{name}' is defined twice with different bodies; kept the first"
            )
    return kept
