"""render_playbook: one idiomatic YAML document that loads back to the same data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from playbook.errors import PlaybookError
from playbook.render import render_playbook

LONG_CMD = (
    "set -o pipefail && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - "
    "&& echo 'nodesource repository configured for this host' >> /var/log/provision.log"
)

REPRESENTATIVE: list[dict[str, Any]] = [
    {
        "tasks": [
            {
                "notify": "Restart nginx",
                "become": True,
                "ansible.builtin.copy": {
                    "dest": "/etc/nginx/conf.d/app.conf",
                    "content": "server {\n    listen 80;\n    server_name example.com;\n}\n",
                    "mode": "0644",
                    "owner": "root",
                    "group": "root",
                },
                "name": "Write the site configuration",
            },
            {
                "name": "Install packages",
                "ansible.builtin.apt": {"name": ["nginx", "git"], "state": "present", "update_cache": True},
            },
            {
                "changed_when": False,
                "ansible.builtin.shell": {"cmd": LONG_CMD, "executable": "/bin/bash"},
                "name": "Configure the NodeSource repository",
                "register": "nodesource",
            },
            {
                "name": "Create users",
                "loop": ["alice", "bob"],
                "ansible.builtin.user": {"name": "{{ item }}", "shell": "/bin/bash", "create_home": True},
            },
            {
                "block": [{"name": "Reload sysctl", "ansible.builtin.command": {"cmd": "sysctl --system"}, "changed_when": False}],
                "name": "Kernel settings",
                "when": "ansible_facts['os_family'] == 'Debian'",
            },
        ],
        "handlers": [
            {"name": "Restart nginx", "ansible.builtin.service": {"name": "nginx", "state": "restarted"}}
        ],
        "become": True,
        "hosts": "all",
        "vars": {"app_port": 8080, "enabled": "yes", "empty": None},
        "name": "Web server",
        "gather_facts": True,
    }
]


def test_document_starts_with_marker_and_round_trips() -> None:
    text = render_playbook(REPRESENTATIVE)
    assert text.startswith("---\n") and text.endswith("\n")
    assert list(yaml.safe_load_all(text)) == [REPRESENTATIVE]


def test_key_order_play_and_task() -> None:
    data = yaml.safe_load(render_playbook(REPRESENTATIVE))
    assert list(data[0]) == ["name", "hosts", "become", "gather_facts", "vars", "tasks", "handlers"]
    assert list(data[0]["tasks"][0]) == ["name", "ansible.builtin.copy", "become", "notify"]
    assert list(data[0]["tasks"][2]) == ["name", "ansible.builtin.shell", "register", "changed_when"]
    assert list(data[0]["tasks"][4]) == ["name", "when", "block"]
    # module arguments keep the author's order
    assert list(data[0]["tasks"][0]["ansible.builtin.copy"])[:2] == ["dest", "content"]


def test_style_details() -> None:
    text = render_playbook(REPRESENTATIVE)
    assert "become: true" in text and "update_cache: true" in text and "changed_when: false" in text
    assert "\n  tasks:\n    - name: Write the site configuration\n" in text  # indented sequences
    assert "      content: |\n          server {\n" in text.replace("        content", "      content")
    assert 'mode: "0644"' in text and 'enabled: "yes"' in text  # quoted only when YAML needs it, double quotes
    assert 'name: "{{ item }}"' in text
    assert "name: Install packages" in text  # plain when possible
    assert "cmd: >-\n" in text  # long single line folded
    assert "&" not in text.replace("&&", "") and "*" not in text  # no anchors/aliases
    assert max(len(line) for line in text.splitlines()) <= 160


def test_no_aliases_for_shared_objects() -> None:
    shared = {"name": "x"}
    plays = [{"name": "P", "hosts": "all", "tasks": [{"ansible.builtin.user": shared}, {"ansible.builtin.group": shared}]}]
    text = render_playbook(plays)
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == plays


@pytest.mark.parametrize(
    "value",
    [
        "line1\nline2",
        "trailing spaces  \nx\n",
        "  leading spaces on the first line\nsecond\n",
        "x" * 300,
        "word " * 60,
        "two  spaces  " * 20 + "end",
        "ends with newlines\n\n\n",
        "tab\tseparated and a long line that goes on " * 5,
        ": starts with colon",
        "- starts like a list",
        "#not a comment",
        "null",
        "1.5",
        "0o755",
        "on",
        "",
        "ünïcödé ✓",
        "{{ a }} and {{ b }}",
        "'single' and \"double\" quotes",
        "back\\slash\r\n",
    ],
)
def test_strings_round_trip(value: str) -> None:
    plays = [{"name": "P", "hosts": "all", "tasks": [{"name": "T", "ansible.builtin.debug": {"msg": value}}]}]
    assert yaml.safe_load(render_playbook(plays)) == plays


@pytest.mark.parametrize(
    "value",
    [
        "KEY='ssh-rsa " + "A1b2+/" * 70 + "== vagrant key'\necho \"$KEY\" >>~/.ssh/authorized_keys\n",
        "LIST=\"" + "package-name " * 30 + "\"\nfor p in $LIST; do\n    apt-get install -y --no-install-recommends "
        "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confnew \"$p\"\n  done",
        "https://example.com/" + "x" * 200,
        "one long word " + "y" * 170 + " \t then\ttabs, \\ and \"quotes\" and   spaces   " * 3,
        "\n    leading spaces after a newline " + "z" * 200,
        "ünïcödé ✓ " * 40 + "\ufeff\x85\u2028" + "é" * 170,
    ],
)
def test_no_line_is_longer_than_lint_allows(value: str) -> None:
    plays = [{"name": "P", "hosts": "all", "tasks": [{"name": "T", "ansible.builtin.shell": {"cmd": value},
                                                      "vars": {"nested": [{"deeper": value}]}}]}]
    text = render_playbook(plays)
    assert max(len(line) for line in text.splitlines()) <= 160
    assert yaml.safe_load(text) == plays


def test_tuples_become_lists_and_bad_values_raise() -> None:
    plays = [{"name": "P", "hosts": ("a", "b"), "tasks": [{"ansible.builtin.ping": None}]}]
    assert yaml.safe_load(render_playbook(plays))[0]["hosts"] == ["a", "b"]
    with pytest.raises(PlaybookError, match="cannot render a value of type object"):
        render_playbook([{"name": "P", "hosts": "all", "tasks": [{"ansible.builtin.debug": {"msg": object()}}]}])
    with pytest.raises(PlaybookError, match="a playbook is a list of plays"):
        render_playbook({"hosts": "all"})  # type: ignore[arg-type]


def test_input_not_mutated() -> None:
    before = yaml.safe_load(yaml.safe_dump(REPRESENTATIVE))
    render_playbook(REPRESENTATIVE)
    assert REPRESENTATIVE == before


def test_representative_render_is_lint_clean(tmp_path: Path) -> None:
    lint = Path(sys.executable).parent / "ansible-lint"
    if not lint.exists() and shutil.which("ansible-lint") is None:
        pytest.skip("ansible-lint not installed")
    playbook = tmp_path / "site.yml"
    playbook.write_text(render_playbook(REPRESENTATIVE))
    proc = subprocess.run(
        [str(lint if lint.exists() else "ansible-lint"), "--offline", "--profile", "production", "--nocolor", "-q", str(playbook)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_HOME": str(tmp_path / ".ansible")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

