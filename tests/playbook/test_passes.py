"""Whole-playbook passes (playbook.passes): each folds what it should and leaves the rest."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from playbook.convert import convert_script
from playbook.passes import COMMAND, GIT, SHELL, Step, settled_warnings, tidy


def _clone(**extra: Any) -> dict[str, Any]:
    return {"name": "Clone https://example.com/tool.git into /opt/tool",
            GIT: {"repo": "https://example.com/tool.git", "dest": "/opt/tool", "version": "HEAD",
                  "update": False, "recursive": False, **extra}}


def _command(cmd: str, chdir: str = "/opt/tool", **extra: Any) -> dict[str, Any]:
    return {"name": f"Run {cmd}", COMMAND: {"cmd": cmd, "chdir": chdir}, "changed_when": True, **extra}


def _tidy(*tasks: dict[str, Any]) -> list[dict[str, Any]]:
    return tidy([Step(task) for task in tasks]).tasks


@pytest.mark.parametrize(("cmd", "ref"), [
    ("git reset --hard 8841dd392e6fbf02986e2fb1f1ebf04df344b65a", "8841dd392e6fbf02986e2fb1f1ebf04df344b65a"),
    ("git checkout v1.2.3", "v1.2.3"),
    ("git checkout -q tags/v1.2.3", "tags/v1.2.3"),
    ("git checkout 'tags/{{ shell_tag_version }}'", "tags/{{ shell_tag_version }}"),
])
def test_a_checkout_in_a_fresh_clone_is_its_version(cmd: str, ref: str) -> None:
    tasks = _tidy(_clone(), _command(cmd, environment={"APP_VERSION": "1"}))
    assert tasks == [{"name": f"Clone https://example.com/tool.git into /opt/tool at {ref}",
                      GIT: {"repo": "https://example.com/tool.git", "dest": "/opt/tool", "version": ref,
                            "update": False, "recursive": False}}]


def test_a_fetch_between_the_clone_and_the_checkout_goes_with_it() -> None:
    tasks = _tidy(_clone(), _command("git fetch --tags"), _command("git checkout v2"))
    assert [t[GIT]["version"] for t in tasks] == ["v2"]


@pytest.mark.parametrize(("tasks", "why"), [
    ([_clone(), _command("git checkout v2", chdir="/opt/other")], "another directory"),
    ([_clone(depth=1, single_branch=True), _command("git checkout v2")], "a shallow clone has one branch"),
    ([_clone(), {"name": "Build", COMMAND: {"cmd": "make", "chdir": "/opt/tool"}}, _command("git checkout v2")],
     "a build ran on the default branch first"),
    ([_clone(), _command("git checkout -b local v2")], "a new local branch"),
    ([_clone(), _command("git checkout -- README")], "a path"),
    ([_clone(), _command("git reset --hard HEAD~1")], "relative to the clone"),
    ([_clone(), _command("git checkout '{{ lookup(\"env\", \"X\") }}'")], "Jinja the walker did not write"),
    ([_clone(), _command("git checkout v2", when="x")], "a condition"),
    ([_clone(), _command("git checkout v2", environment={"GIT_DIR": "/srv/x"})], "git environment"),
    ([_clone(), {**_command("git checkout v2"), "become": True}], "another user"),
    ([_clone(), _command("git fetch --tags")], "a fetch with no checkout after it"),
])
def test_other_commands_after_a_clone_stay(tasks: list[dict[str, Any]], why: str) -> None:
    before = copy.deepcopy(tasks)
    assert _tidy(*tasks) == before, why


def test_a_pinned_clone_converts_to_one_task_and_passes_again_unchanged() -> None:
    conversion = convert_script("cd /opt\ngit clone https://example.com/tool.git\ncd tool\n"
                                "git reset --hard 0123abc\n")
    assert conversion.tasks == [{"name": "Clone https://example.com/tool.git into /opt/tool at 0123abc",
                                 GIT: {"repo": "https://example.com/tool.git", "dest": "/opt/tool",
                                       "version": "0123abc", "update": False, "recursive": False}}]
    assert _tidy(*conversion.tasks) == conversion.tasks


def test_the_pin_note_goes_once_a_checkout_pinned_the_clone() -> None:
    pinned = convert_script("git clone https://example.com/a.git /opt/a\ncd /opt/a\ngit checkout v1\n")
    unpinned = convert_script("git clone https://example.com/b.git /opt/b\n")
    # convert_script settles its own warnings; a merged split settles the chunks' (fanout)
    assert not [w for w in pinned.warnings if "pin version" in w or "git checkout" in w]
    raw = ["line 1: `git clone` of https://example.com/a.git follows its default branch (version: HEAD); pin version "
           "to a tag or commit", "line 3: no rule for `git checkout v1`; kept as command, review it", *unpinned.warnings]
    assert settled_warnings(raw, pinned.tasks + unpinned.tasks) == unpinned.warnings


def _shell(cmd: str) -> dict[str, Any]:
    return {"name": "Run it", SHELL: {"cmd": cmd, "executable": "/bin/bash"}, "changed_when": True}


@pytest.mark.parametrize(("cmd", "expected"), [
    ("tools/editconf.py /etc/php.ini -c ';' \\\n\texpose_php=Off",
     "tools/editconf.py /etc/php.ini -c ';' \\\n    expose_php=Off"),
    ("for f in *; do\n\tif [ -L \"$f\" ]; then\n\t\trm \"$f\"\n\tfi\ndone",
     "for f in *; do\n    if [ -L \"$f\" ]; then\n        rm \"$f\"\n    fi\ndone"),
    ("# it's a comment\n\techo \"a\tb\" 'c\td'", "# it's a comment\n    echo \"a\tb\" 'c\td'"),
    ("x=$(\n\techo \"$(echo \")\")\"\n\t)", "x=$(\n    echo \"$(echo \")\")\"\n    )"),
])
def test_tabs_that_indent_a_shell_script_become_spaces(cmd: str, expected: str) -> None:
    assert _tidy(_shell(cmd)) == [_shell(expected)]


@pytest.mark.parametrize("cmd", [
    "cat >/etc/cron.d/x <<EOF\n\t0 1 * * *\troot\tjob\nEOF",  # a here document's body is data
    "cat <<-EOF >/f\n\tstripped by <<-\nEOF",
    "echo 'one\n\ttwo'",  # inside quotes
    "echo \"one\n\ttwo\"",
    "x=${y:-\n\tz}",
    "echo $'a\\'\n\tb'",
    "echo \"unclosed\n\tx",
])
def test_tabs_that_are_part_of_a_value_stay(cmd: str) -> None:
    assert _tidy(_shell(cmd)) == [_shell(cmd)]


def test_a_zoneinfo_link_and_the_tzdata_reconfigure_are_the_time_zone() -> None:
    conversion = convert_script('echo "Europe/Paris" | sudo tee /etc/timezone\n'
                                'sudo ln -fs "/usr/share/zoneinfo/Europe/Paris" /etc/localtime\n'
                                'sudo dpkg-reconfigure -f noninteractive tzdata\n')
    assert conversion.tasks == [{"name": "Set the time zone to Europe/Paris",
                                 "community.general.timezone": {"name": "Europe/Paris"}, "become": True}]
    assert conversion.warnings == []


def test_a_zoneinfo_link_alone_stays_a_link() -> None:
    conversion = convert_script('ln -fs /usr/share/zoneinfo/UTC /etc/localtime\n')
    assert list(conversion.tasks[0])[1] == "ansible.builtin.file"
