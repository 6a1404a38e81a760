"""Host tests a module answers (playbook.convert.host_checks), checked against bash itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from playbook.convert import SHELL, convert_script
from playbook.convert.host_checks import module_check


@pytest.mark.parametrize(("text", "module"), [
    ("command -v curl >/dev/null 2>&1", "ansible.builtin.stat"),
    ("! command -v mysql &> /dev/null", "ansible.builtin.stat"),
    ("grep -q 'mysql' /etc/group", "ansible.builtin.slurp"),
    ('grep -qi "release 6" /etc/redhat-release', "ansible.builtin.slurp"),
    ("id -u vagrant >/dev/null 2>&1", "ansible.builtin.getent"),
    ("! id odoo >/dev/null 2>&1", "ansible.builtin.getent"),
])
def test_a_plain_host_test_is_a_module_and_a_when(text: str, module: str) -> None:
    found = module_check(text, "r", set())
    assert found is not None and module in found[0]
    assert found[1].startswith("not (") == text.startswith("!")


@pytest.mark.parametrize(("text", "why"), [
    ("command -v cd", "a builtin: no file on the PATH"),
    ("command -v helper", "a function the script defines"),
    ("command -v curl > /tmp/where", "its output is kept"),
    ("grep -q 'a.*b' /etc/f", "a pattern grep and Python read differently"),
    ("grep -q x $FILE", "a word the host knows"),
    ("grep -c x /etc/f", "not quiet"),
    ("id -u $(whoami)", "a substitution"),
    ("command -v curl && echo yes", "more than one command"),
])
def test_any_other_test_stays_the_shells(text: str, why: str) -> None:
    assert module_check(text, "r", {"helper"}) is None, why


def test_a_condition_a_module_answers_makes_no_shell_task() -> None:
    conversion = convert_script('if ! id -u deploy >/dev/null 2>&1; then\n  useradd -m deploy\nfi\n'
                                'if grep -q docker /etc/group; then\n  usermod -aG docker deploy\nfi\n')
    assert not [t for t in conversion.tasks if SHELL in t]
    look, user, read, member = conversion.tasks
    assert user["when"] == f"not (({look['register']}.ansible_facts.getent_passwd | default({{}})).get('deploy') is not none)"
    assert member["when"] == f"({read['register']}.content | default('') | b64decode) is search('docker')"


ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


@pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists() or not shutil.which("bash"), reason="needs ansible-playbook and bash")
def test_each_module_check_answers_as_bash_does(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("one\nRelease 6 here\nmysql:x:1:\n")
    tests = [f"command -v {name}" for name in ("bash", "sh", "no-such-program-here")] + [
        f"grep -q {shlex_word} {data}" for shlex_word in ("mysql", "'release 6'", "zzz")] + [
        f"grep -qi 'release 6' {data}", f"grep -q x {tmp_path}/missing", "id -u root", "id no-such-user-here"]
    tasks, expressions = [], {}
    for n, text in enumerate(tests):
        found = module_check(text, f"c{n}", set())
        assert found is not None, text
        tasks.append(found[0])
        expressions[text] = found[1]
    tasks.append({"name": "Say", "ansible.builtin.copy": {
        "dest": str(tmp_path / "out.json"), "mode": "0644",
        "content": "{{ " + "{" + ", ".join(f"{json.dumps(t)}: ({e})" for t, e in expressions.items()) + "} | to_json }}"}})
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_subset": ["!all", "!min", "env"], "tasks": tasks}]))
    env = {**os.environ, "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}  # a short PATH: fewer stats
    run = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)], capture_output=True, text=True,
                         env=env, timeout=110)
    assert run.returncode == 0, run.stdout[-2000:]
    answers = json.loads((tmp_path / "out.json").read_text())
    bash = {text: subprocess.run(["bash", "-c", text + " >/dev/null 2>&1"], env=env).returncode == 0 for text in tests}
    assert answers == bash


def test_a_one_line_test_function_called_as_a_condition_is_its_test_with_the_arguments() -> None:
    conversion = convert_script('command_exists() {\n  command -v "$1" &> /dev/null\n}\n'
                                'if command_exists dnf; then\n  dnf install -y x\nelif ! command_exists yum; then\n'
                                '  exit 1\nfi\n')
    assert [next(k for k in t if "." in k) for t in conversion.tasks] == [
        "ansible.builtin.stat", "ansible.builtin.dnf", "ansible.builtin.stat", "ansible.builtin.fail"]
    assert conversion.tasks[2]["ansible.builtin.stat"]["path"] == "{{ item }}/yum"


def test_an_empty_which_is_the_program_missing_from_the_path() -> None:
    found = module_check("[ -z `which javac` ]", "r", set())
    assert found is not None and found[0]["ansible.builtin.stat"]["path"] == "{{ item }}/javac"
    assert found[1].startswith("not (r.results")
    assert module_check('[ -z "$(which $X)" ]', "r", set()) is None


def test_yes_piped_into_a_command_whose_module_never_asks_is_that_command() -> None:
    conversion = convert_script("yes y | sudo ufw enable\nyes | apt-get install nginx\n")
    assert [next(k for k in t if "." in k) for t in conversion.tasks] == ["community.general.ufw", "ansible.builtin.apt"]


def test_a_required_program_is_a_module_check_and_a_fail() -> None:
    conversion = convert_script('command -v mysql >/dev/null 2>&1 || { echo >&2 "mysql is required"; exit 1; }\n'
                                'sudo bash -c "echo \'deploy ALL=(ALL) NOPASSWD: ALL\' | (EDITOR=\'tee -a\' visudo)"\n')
    look, fail, sudoers = conversion.tasks
    assert look["ansible.builtin.stat"]["path"] == "{{ item }}/mysql"
    assert fail["when"].startswith(f"not ({look['register']}.results")
    assert sudoers["ansible.builtin.lineinfile"] == {"path": "/etc/sudoers", "line": "deploy ALL=(ALL) NOPASSWD: ALL",
                                                    "validate": "visudo -cf %s"}
