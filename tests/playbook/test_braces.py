"""Brace expansion, checked against the real bash: `f{,.bak}`, `/srv/{logs,data}`, `{1..3}`."""

from __future__ import annotations

import subprocess

import pytest

from playbook.braces import MAX_WORDS, expand
from playbook.convert import COMMAND, convert_script

WORDS = ["f{,.bak}", "/srv/app/{logs,data}", "x{1..3}", "{01..10..3}", "{a..e}", "{e..a..2}",
         "a{b,c{d,e}f}g", "{}", "{x}", "a{b", "a}b{c,d}", "{a,b}{1,2}", "php{7.4,-fpm}", "{5..1}",
         "{-2..2}", "x{a..c}y{1,2}", "{{a,b}}", "{a,b}}", "{1..2..0}", "v{1.2,1.3}.tgz", "a,b", "{a..}"]


@pytest.mark.parametrize("word", WORDS)
def test_expansion_is_what_bash_makes(word: str) -> None:
    made = subprocess.run(["bash", "-c", f"printf '%s\\n' {word}"], capture_output=True, text=True, check=True)
    assert expand(word) == made.stdout.splitlines()


def test_a_huge_sequence_is_left_alone() -> None:
    assert expand(f"{{1..{MAX_WORDS * 10}}}") == [f"{{1..{MAX_WORDS * 10}}}"]


def _module_args(script: str) -> list[tuple[str, dict]]:
    return [(module, args) for task in convert_script(script).tasks
            for module, args in task.items() if module.startswith("ansible.")]


def test_a_backup_by_braces_is_a_copy_of_the_file() -> None:
    # `cp f{,.bak}` had been a command with the quoted word 'f{,.bak}': it failed on every host
    [(module, args)] = _module_args("cp /etc/ssh/sshd_config{,.bak}\n")
    assert module == "ansible.builtin.copy"
    assert (args["src"], args["dest"]) == ("/etc/ssh/sshd_config", "/etc/ssh/sshd_config.bak")


def test_braces_make_several_directories_and_packages() -> None:
    # `mkdir -p /srv/app/{logs,data}` had made one directory named `{logs,data}`
    (_, directories), (_, packages) = _module_args('mkdir -p "/srv/app"/{logs,data}\napt-get install -y php{7.4,-fpm}\n')
    assert directories["path"] == "{{ item }}"
    assert packages["name"] == ["php7.4", "php-fpm"]
    looped = convert_script('mkdir -p "/srv/app"/{logs,data}\n').tasks[0]["loop"]
    assert looped == ["/srv/app/logs", "/srv/app/data"]


def test_quoted_braces_assignments_and_find_placeholders_stay_literal() -> None:
    [(_, packages)] = _module_args("apt-get install -y 'q{r,s}'\n")
    assert packages["name"] == "q{r,s}"
    [(_, written)] = _module_args('X={a,b}\necho "$X" > /srv/x\n')
    assert written["content"] == "{a,b}\n"
    [(module, args)] = _module_args("find /srv -name x -exec chmod 600 {} \\;\n")
    assert module == COMMAND and "'{}'" in args["cmd"]


def test_a_loop_over_a_sequence_runs_once_per_number() -> None:
    lines = [args["line"] for _, args in _module_args("for i in {1..3}; do echo $i >> /srv/n; done\n")]
    assert lines == ["1", "2", "3"]


def test_braces_around_a_quoted_piece_are_left_to_the_shell() -> None:
    [(module, args)] = _module_args('mkdir -p /srv/{"a b",c}\n')
    assert module == "ansible.builtin.shell" and args["cmd"] == 'mkdir -p /srv/{"a b",c}'
