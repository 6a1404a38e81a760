"""structure_errors and module_errors on playbooks given as data."""

from __future__ import annotations

from typing import Any

import pytest

from playbook.validate import (
    BLOCK_KEYS,
    PLAY_KEYWORDS,
    TASK_KEYWORDS,
    is_module_key,
    module_errors,
    resolve_module,
    structure_errors,
    task_module,
)

SPECS: dict[str, set[str]] = {
    "ansible.builtin.apt": {"name", "pkg", "package", "state", "update_cache", "update-cache", "cache_valid_time"},
    "ansible.builtin.apt_key": {"url", "id", "state"},
    "ansible.builtin.command": {"_raw_params", "cmd", "argv", "chdir", "creates", "removes", "free_form"},
    "ansible.builtin.shell": {"_raw_params", "cmd", "chdir", "creates", "removes", "executable", "free_form"},
    "ansible.builtin.service": {"name", "state", "enabled"},
    "ansible.builtin.set_fact": {"key_value", "cacheable"},
    "ansible.builtin.copy": {"src", "dest", "content", "mode", "owner", "group"},
    "community.general.ufw": {"rule", "port", "proto", "state"},
    "ansible.posix.sysctl": {"name", "value", "state", "reload", "sysctl_set"},
}
REDIRECTS = {"ansible.builtin.ufw": "community.general.ufw", "ansible.builtin.sysctl": "ansible.posix.sysctl"}


def play(*tasks: Any, **extra: Any) -> dict[str, Any]:
    return {"name": "P", "hosts": "all", "tasks": list(tasks), **extra}


# --- structure -------------------------------------------------------------


def test_valid_playbook_has_no_errors() -> None:
    plays = [
        play(
            {"name": "Install", "ansible.builtin.apt": {"name": "nginx"}, "become": True, "notify": "restart"},
            {"name": "Loop", "ansible.builtin.command": "echo {{ item }}", "loop": [1, 2], "changed_when": False},
            {"name": "Blk", "block": [{"ansible.builtin.command": "a"}], "rescue": [{"ansible.builtin.command": "b"}]},
            {"name": "Old loop", "apt": "name={{ item }}", "with_items": ["a"], "when": "x", "register": "r"},
            handlers=[{"name": "restart", "ansible.builtin.service": {"name": "nginx"}, "listen": "web"}],
            become=True,
            gather_facts=False,
        ),
        {"import_playbook": "other.yml"},
        {"hosts": "db", "roles": ["postgres"]},
    ]
    assert structure_errors(plays) == []


@pytest.mark.parametrize(
    ("plays", "fragment"),
    [
        (None, "empty"),
        ([], "empty list"),
        ({"hosts": "all", "tasks": []}, "top level is a mapping, expected a list of plays"),
        ("just text", "top level is a str"),
        (["x"], "play 1 is a str"),
        ([{"tasks": [{"ansible.builtin.ping": None}]}], "play 1 has no 'hosts'"),
        ([{"hosts": "", "tasks": [{"ansible.builtin.ping": None}]}], "'hosts' must be a non-empty string"),
        ([{"hosts": "all"}], "has no tasks"),
        ([{"hosts": "all", "tasks": {"a": 1}}], "'tasks' must be a list"),
        ([play("apt-get install nginx")], "play 1 ('P'), task 1 is a str"),
        ([play({"name": "Nothing", "become": True})], "task 1 ('Nothing') has no module"),
        (
            [play({"name": "Two", "ansible.builtin.apt": {}, "ansible.builtin.service": {}})],
            "several module keys 'ansible.builtin.apt', 'ansible.builtin.service'",
        ),
        ([play({"ansible.builtin.apt": {}, "notfiy": "x"})], "fix the misspelt keyword(s) 'notfiy' -> 'notify'"),
        ([play({"name": "B", "block": [{"name": "inner"}]})], "play 1 ('P'), task 1 ('B'), block task 1 ('inner') has no module"),
        ([play({"name": "B", "block": [], "ansible.builtin.command": "x"})], "mixes 'block' with module"),
        ([play({"rescue": []})], "'rescue'/'always' without 'block'"),
        ([play({"ansible.builtin.ping": None}, handlers=[{"name": "h"}])], "play 1 ('P'), handler 1 ('h') has no module"),
        ([play({"ansible.builtin.ping": None}, pre_tasks=[{"name": "h"}])], "pre-task 1 ('h') has no module"),
        ([play({"ansible.builtin.ping": None}, become_usr="root")], "unknown keyword 'become_usr' (did you mean 'become_user'?)"),
        ([play({"ansible.builtin.ping": None}, apt={"name": "x"})], "move it into the play's 'tasks' list"),
        ([play({"name": 5, "ansible.builtin.ping": None})], "'name' must be a string"),
    ],
)
def test_structure_problems_are_named(plays: object, fragment: str) -> None:
    errors = structure_errors(plays)
    assert errors, plays
    assert any(fragment in e for e in errors), errors


def test_every_problem_is_reported_with_its_index() -> None:
    plays = [play({"ansible.builtin.ping": None}), play({"name": "a"}, {"name": "b"})]
    assert structure_errors(plays) == [
        "play 2 ('P'), task 1 ('a') has no module; add exactly one module key, e.g. "
        "'ansible.builtin.command: <cmd>' or the proper module with its parameters",
        "play 2 ('P'), task 2 ('b') has no module; add exactly one module key, e.g. "
        "'ansible.builtin.command: <cmd>' or the proper module with its parameters",
    ]


def test_keywords_match_ansible_core() -> None:
    from ansible.playbook.block import Block
    from ansible.playbook.handler import Handler
    from ansible.playbook.play import Play

    internal = {"async_val", "loop_with"}
    task_attrs = (set(Handler.fattributes) - internal) | {"async", "local_action"}
    assert task_attrs - BLOCK_KEYS == set(TASK_KEYWORDS)
    assert set(Block.fattributes) - set(Handler.fattributes) <= BLOCK_KEYS
    assert set(Play.fattributes) == set(PLAY_KEYWORDS)


def test_module_key_helpers() -> None:
    assert is_module_key("ansible.builtin.apt") and is_module_key("apt")
    assert not is_module_key("with_items") and not is_module_key("when") and not is_module_key("block")
    assert task_module({"name": "x", "apt": {}, "when": "y"}) == "apt"
    assert task_module({"action": "apt name=x"}) == "apt"
    assert task_module({"local_action": {"module": "command", "cmd": "ls"}}) == "command"
    assert task_module({"block": []}) is None


# --- modules and parameters -------------------------------------------------


def test_known_modules_and_params_pass() -> None:
    plays = [
        play(
            {"apt": {"name": "nginx", "update-cache": True}},
            {"ansible.builtin.apt": "name=nginx state=present"},
            {"command": "echo a=b chdir=/tmp"},
            {"ansible.builtin.shell": {"cmd": "ls | wc -l"}, "args": {"chdir": "/tmp"}},
            {"set_fact": {"anything_goes": 1}},
            {"ufw": {"rule": "allow", "port": "22"}},
            {"ansible.legacy.service": {"name": "x"}},
            {"action": {"module": "copy", "dest": "/x", "content": "y"}},
            {"local_action": "command ls"},
            {"meta": "flush_handlers"},
            {"name": "B", "block": [{"sysctl": {"name": "vm.swappiness", "value": "10"}}]},
        )
    ]
    assert module_errors(plays, SPECS, redirects=REDIRECTS) == []


def test_hallucinated_module_is_named_with_suggestion() -> None:
    plays = [play({"name": "Install", "ansible.builtin.apt_get": {"name": "nginx"}})]
    (error,) = module_errors(plays, SPECS)
    assert error.startswith("play 1 ('P'), task 1 ('Install'): unknown module 'ansible.builtin.apt_get'")
    assert "did you mean ansible.builtin.apt" in error


def test_unknown_module_without_close_match_suggests_command() -> None:
    (error,) = module_errors([play({"frobnicate_everything": {}})], SPECS)
    assert "unknown module 'frobnicate_everything'" in error and "ansible.builtin.command" in error


def test_hallucinated_parameter_lists_valid_ones() -> None:
    plays = [play({"name": "Install", "ansible.builtin.apt": {"name": "nginx", "update_cahce": True}})]
    (error,) = module_errors(plays, SPECS)
    assert "module ansible.builtin.apt has no parameter 'update_cahce'" in error
    assert "did you mean 'update_cache'" in error
    assert "valid: cache_valid_time, name, package, pkg, state, update-cache, update_cache" in error


def test_parameter_in_kv_string_and_args_checked() -> None:
    plays = [play({"apt": "name=nginx bogus=1"}, {"service": {"name": "x"}, "args": {"enable": True}})]
    errors = module_errors(plays, SPECS)
    assert any("ansible.builtin.apt has no parameter 'bogus'" in e for e in errors)
    assert any("ansible.builtin.service has no parameter 'enable'" in e and "'enabled'" in e for e in errors)


def test_free_form_only_for_free_form_modules() -> None:
    (error,) = module_errors([play({"apt": "nginx"})], SPECS)
    assert "takes no free-form argument" in error and "name: ..." in error


def test_short_name_resolution() -> None:
    assert resolve_module("apt", SPECS) == "ansible.builtin.apt"
    assert resolve_module("ansible.legacy.apt", SPECS) == "ansible.builtin.apt"
    assert resolve_module("sysctl", SPECS, REDIRECTS) == "ansible.posix.sysctl"
    assert resolve_module("sysctl", SPECS) is None
    assert resolve_module("nope", SPECS, {"nope": "nope2", "nope2": "nope"}) is None  # redirect loop
    assert module_errors([play({"sysctl": {"name": "a"}})], SPECS)  # no redirect table: unknown


def test_structurally_broken_tasks_are_left_to_structure_errors() -> None:
    plays = [play({"name": "none"}, {"apt": {}, "service": {}}, "text")]
    assert module_errors(plays, SPECS) == []
    assert module_errors({"not": "a list"}, SPECS) == []
