"""Golden tests of extract_playbook: realistic model replies in tests/data/replies.

Each ``NAME.txt`` is paired with ``NAME.expected.yml`` (the playbook it must yield)
or ``NAME.error.txt`` (a substring of the PlaybookError message it must raise).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from playbook.errors import PlaybookError
from playbook.extract import extract_playbook

REPLIES = Path(__file__).resolve().parent.parent / "data" / "replies"
GOOD = sorted(p for p in REPLIES.glob("*.txt") if (REPLIES / f"{p.stem}.expected.yml").exists())
BAD = sorted(p for p in REPLIES.glob("*.txt") if (REPLIES / f"{p.stem}.error.txt").exists())


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # keep CRLF files as they are


def test_golden_files_present() -> None:
    assert len(GOOD) >= 12 and len(BAD) >= 4
    orphans = [
        p.name
        for p in REPLIES.glob("*.txt")
        if not p.name.endswith(".error.txt") and p not in GOOD and p not in BAD
    ]
    assert orphans == []


@pytest.mark.parametrize("reply", GOOD, ids=lambda p: p.stem)
def test_extracts_expected_playbook(reply: Path) -> None:
    expected = yaml.safe_load((REPLIES / f"{reply.stem}.expected.yml").read_text())
    assert extract_playbook(_read(reply)) == expected


@pytest.mark.parametrize("reply", BAD, ids=lambda p: p.stem)
def test_garbage_raises_with_reason(reply: Path) -> None:
    expected = (REPLIES / f"{reply.stem}.error.txt").read_text().strip()
    with pytest.raises(PlaybookError) as info:
        extract_playbook(_read(reply))
    assert expected.lower() in str(info.value).lower()
    assert "```yaml" in str(info.value)  # tells the model what a good answer looks like


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        extract_playbook("nothing here")


def test_not_text_raises() -> None:
    with pytest.raises(PlaybookError, match="expected the reply as text"):
        extract_playbook(None)  # type: ignore[arg-type]


def test_tasks_block_after_play_header_fill_the_play() -> None:
    reply = (
        "```yaml\n- name: Base\n  hosts: all\n  become: true\n  tasks:\n```\n"
        "Then the tasks:\n```yaml\n- name: Ping\n  ansible.builtin.ping:\n```\n"
    )
    assert extract_playbook(reply) == [
        {"name": "Base", "hosts": "all", "become": True, "tasks": [{"name": "Ping", "ansible.builtin.ping": None}]}
    ]


def test_snippet_before_full_playbook_is_not_duplicated() -> None:
    reply = (
        "The key task is:\n```yaml\n- name: Ping\n  ansible.builtin.ping:\n```\n"
        "Full playbook:\n```yaml\n- hosts: all\n  tasks:\n    - name: Ping\n      ansible.builtin.ping:\n```\n"
    )
    assert extract_playbook(reply) == [{"hosts": "all", "tasks": [{"name": "Ping", "ansible.builtin.ping": None}]}]


def test_yaml_error_names_line() -> None:
    with pytest.raises(PlaybookError, match=r"line 3, column \d+: mapping values are not allowed"):
        extract_playbook("Here:\n```yaml\n- hosts: all\n  tasks:\n    - name: a: b\n```")


def test_bare_tasks_in_json_list() -> None:
    assert extract_playbook('[{"name": "Ping", "ansible.builtin.ping": {}}]') == [
        {"name": "Apply tasks", "hosts": "all", "tasks": [{"name": "Ping", "ansible.builtin.ping": {}}]}
    ]


def test_json_playbook_wrapping_garbage_raises() -> None:
    with pytest.raises(PlaybookError, match="'playbook' field"):
        extract_playbook('{"playbook": "sorry, no"}')
