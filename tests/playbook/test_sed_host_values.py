"""A value only the host knows (here the script's own argument) inside a sed regex: the tasks
read it as sed did. Checked by running GNU sed through bash and the converted playbook through
the real ansible-playbook on the same file, for values that are plain, and for values with the
characters a basic regex reads as plain and Python's re as syntax."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from playbook.convert import COMMAND, SHELL, convert_script

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
HOSTS = "127.0.0.1 localhost\n10.0.0.11 node01\n10.0.0.12 a+b\n10.0.0.13 aab\n10.0.0.14 (x)|y\n10.0.0.15 c{2}\n" \
        "10.0.0.16 cc\nnode01=off\na+b=off\n"
SCRIPT = 'sed -e "/^.*$1 .*/d" -i {hosts}\nsed -i "s/^$1=.*/$1=on/" {conf}\n'


def _files(root: Path) -> tuple[Path, Path]:
    root.mkdir()
    hosts, conf = root / "hosts", root / "conf"
    hosts.write_text(HOSTS)
    conf.write_text(HOSTS)
    return hosts, conf


@pytest.mark.parametrize("value", ["node01", "a+b", "(x)|y", "c{2}", "10.0.0.1"])
def test_a_script_argument_in_a_sed_regex_matches_on_ansible_as_in_sed(tmp_path: Path, value: str) -> None:
    hosts, conf = _files(tmp_path / "bash")
    script = tmp_path / "script.sh"
    script.write_text(SCRIPT.format(hosts=hosts, conf=conf))
    subprocess.run(["bash", str(script), value], check=True, timeout=30)

    play_hosts, play_conf = _files(tmp_path / "ansible")
    conversion = convert_script(SCRIPT.format(hosts=play_hosts, conf=play_conf))
    assert not any(COMMAND in t or SHELL in t for t in conversion.tasks)  # modules, not sed commands
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "tasks": conversion.tasks}]))
    env = {**os.environ, "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook), "-e", f"shell_1={value}"],
                         capture_output=True, text=True, env=env, timeout=110)
    assert run.returncode == 0, run.stdout[-3000:]
    assert play_hosts.read_text() == hosts.read_text()
    assert play_conf.read_text() == conf.read_text()
