"""merge_playbooks: chunk playbooks in script order become one playbook."""

from __future__ import annotations

import copy
from typing import Any

from playbook.merge import MergeResult, merge_playbooks


def task(n: int) -> dict[str, Any]:
    return {"name": f"Task {n}", "ansible.builtin.command": f"echo {n}"}


def play(*tasks: dict[str, Any], name: str = "Setup", **extra: Any) -> dict[str, Any]:
    return {"name": name, "hosts": "all", "become": True, "tasks": list(tasks), **extra}


def handler(name: str, state: str = "restarted") -> dict[str, Any]:
    return {"name": name, "ansible.builtin.service": {"name": "nginx", "state": state}}


def test_same_play_settings_merge_in_order() -> None:
    result = merge_playbooks([[play(task(1), task(2))], [play(task(3), name="Chunk 2")], [play(task(4))]])
    assert result == MergeResult(plays=[play(task(1), task(2), task(3), task(4))], warnings=[])


def test_hosts_spellings_and_become_default_are_equal() -> None:
    a = {"name": "A", "hosts": "web, db", "tasks": [task(1)]}
    b = {"name": "B", "hosts": ["web", "db"], "become": False, "tasks": [task(2)]}
    result = merge_playbooks([[a], [b]])
    assert len(result.plays) == 1 and result.plays[0]["tasks"] == [task(1), task(2)]
    assert result.warnings == []


def test_different_become_stays_separate_with_warning() -> None:
    result = merge_playbooks([[play(task(1))], [play(task(2), name="As user", become=False)], [play(task(3))]])
    assert [p["tasks"] for p in result.plays] == [[task(1)], [task(2)], [task(3)]]  # order kept, no reordering
    assert len(result.warnings) == 2
    assert result.warnings[0] == (
        "chunk 2, play 1 ('As user') kept as a separate play after chunk 1, play 1: its become (false) differs from true"
    )


def test_become_user_and_other_keywords_block_merging() -> None:
    result = merge_playbooks([[play(task(1))], [play(task(2), become_user="postgres")], [play(task(3), become_user="postgres", environment={"A": "1"})]])
    assert len(result.plays) == 3
    assert "become_user ('postgres') differs from unset" in result.warnings[0]
    assert "its environment" in result.warnings[1]


def test_vars_union_and_conflict() -> None:
    merged = merge_playbooks([[play(task(1), vars={"a": 1})], [play(task(2), vars={"b": 2, "a": 1})]])
    assert merged.plays == [play(task(1), task(2), vars={"a": 1, "b": 2})]
    clash = merge_playbooks([[play(task(1), vars={"a": 1})], [play(task(2), vars={"a": 2})]])
    assert len(clash.plays) == 2 and "vars give a other values" in clash.warnings[0]


def test_handlers_deduplicated_by_name() -> None:
    result = merge_playbooks(
        [
            [play(task(1), handlers=[handler("Restart nginx")])],
            [play(task(2), handlers=[handler("Restart nginx"), handler("Reload nginx", "reloaded")])],
            [play(task(3), handlers=[handler("Restart nginx", "reloaded")])],
        ]
    )
    (merged,) = result.plays
    assert merged["handlers"] == [handler("Restart nginx"), handler("Reload nginx", "reloaded")]
    assert result.warnings == [
        "play 'Setup': handler 'Restart nginx' is defined twice with different bodies; kept the first"
    ]


def test_gather_facts_merged_to_true_when_either_gathers() -> None:
    both_off = merge_playbooks([[play(task(1), gather_facts=False)], [play(task(2), gather_facts=False)]])
    assert both_off.plays[0]["gather_facts"] is False
    one_default = merge_playbooks([[play(task(1), gather_facts=False)], [play(task(2))]])
    assert one_default.plays[0]["gather_facts"] is True
    neither = merge_playbooks([[play(task(1))], [play(task(2))]])
    assert "gather_facts" not in neither.plays[0]


def test_ordering_constraints_keep_plays_apart() -> None:
    with_post = merge_playbooks([[play(task(1), post_tasks=[task(9)])], [play(task(2))]])
    assert len(with_post.plays) == 2 and "post_tasks" in with_post.warnings[0]
    with_pre = merge_playbooks([[play(task(1))], [play(task(2), pre_tasks=[task(0)])]])
    assert len(with_pre.plays) == 2 and "pre_tasks" in with_pre.warnings[0]
    post_last = merge_playbooks([[play(task(1))], [play(task(2), post_tasks=[task(9)])]])
    assert post_last.plays == [play(task(1), task(2), post_tasks=[task(9)])]


def test_import_playbook_never_merges_and_no_warning() -> None:
    result = merge_playbooks([[play(task(1)), {"import_playbook": "db.yml"}, play(task(2))]])
    assert len(result.plays) == 3 and result.warnings == []


def test_names_normalised_and_first_kept() -> None:
    result = merge_playbooks([[{"hosts": "all", "tasks": [task(1)]}], [play(task(2), name="  Install   web  ", become=None)]])
    assert result.plays[0]["name"] == "Install web"


def test_inputs_not_mutated_and_empty() -> None:
    inputs = [[play(task(1), vars={"a": 1}, handlers=[handler("h")])], [play(task(2), vars={"b": 1})]]
    snapshot = copy.deepcopy(inputs)
    merge_playbooks(inputs)
    assert inputs == snapshot
    assert merge_playbooks([]) == MergeResult(plays=[], warnings=[])
    assert merge_playbooks([[], [play(task(1))]]).plays == [play(task(1))]


def test_single_playbook_warning_names_play_only() -> None:
    result = merge_playbooks([[play(task(1)), play(task(2), hosts="db")]])
    assert result.warnings[0].startswith("play 2 ('Setup') kept as a separate play after play 1: its hosts")
