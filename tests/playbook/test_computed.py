"""`X=$(...)` a set_fact computes (playbook.convert.computed): random strings, fields of host values."""

from __future__ import annotations

import pytest

from playbook.convert import SHELL, convert_script
from playbook.convert.computed import cut_value, random_value


@pytest.mark.parametrize(("stages", "stdin", "expected"), [
    ([["openssl", "rand", "-hex", "16"]], None,
     "lookup('ansible.builtin.password', '/dev/null', chars=['digits', 'abcdef'], length=32)"),
    ([["head", "/dev/urandom"], ["tr", "-dc", "A-Za-z0-9"], ["head", "-c", "13"]], None,
     "lookup('ansible.builtin.password', '/dev/null', chars=['ascii_letters', 'digits'], length=13)"),
    ([["tr", "-dc", "a-z0-9"], ["head", "-c", "8"]], "/dev/urandom",
     "lookup('ansible.builtin.password', '/dev/null', chars=['ascii_lowercase', 'digits'], length=8)"),
    ([["dd", "if=/dev/urandom", "bs=1", "count=32"], ["base64", "-w", "0"], ["rev"], ["cut", "-b", "2-"], ["rev"],
      ["tr", "-dc", "a-zA-Z0-9"]], None,
     "lookup('ansible.builtin.password', '/dev/null', chars=['ascii_letters', 'digits'], length=43)"),
])
def test_a_random_string_is_the_password_lookup_over_the_same_characters(
        stages: list[list[str]], stdin: str | None, expected: str) -> None:
    found = random_value(list(stages), stdin)
    assert found is not None and found[0] == expected


@pytest.mark.parametrize(("stages", "why"), [
    ([["openssl", "rand", "-base64", "16"]], "base64 characters and padding"),
    ([["tr", "-dc", "a-zA-Z0-9!@#$%"], ["head", "-c", "64"]], "punctuation the lookup names differently"),
    ([["head", "/etc/passwd"], ["tr", "-dc", "a-z"], ["head", "-c", "5"]], "not random"),
    ([["head", "/dev/urandom"], ["tr", "-dc", "a-z"], ["sed", "s/a/b/"]], "a stage after it"),
])
def test_anything_else_is_not_taken_for_a_random_string(stages: list[list[str]], why: str) -> None:
    assert random_value(list(stages)) is None, why


@pytest.mark.parametrize(("cut", "expected"), [
    (["cut", "-d.", "-f1,2"], "(v.split('.')[0:2] | join('.')) if '.' in v else v"),
    (["cut", "-d", ".", "-f", "2"], "(v.split('.')[1:2] | join('.')) if '.' in v else v"),
    (["cut", "-f", "1", "-d", "-"], "(v.split('-')[0:1] | join('-')) if '-' in v else v"),
    (["cut", "-d.", "-f2-"], "(v.split('.')[1:] | join('.')) if '.' in v else v"),
    (["cut", "-d.", "-f1,3"], None), (["cut", "-c1-3"], None), (["cut", "-d'", "-f1"], None),
])
def test_fields_of_a_host_value_are_a_split_and_a_line_without_the_delimiter_is_whole(
        cut: list[str], expected: str | None) -> None:
    assert cut_value("v", cut) == expected


def test_values_a_set_fact_computes_need_no_shell_task() -> None:
    conversion = convert_script('KV=$(uname -r | cut -d. -f1,2)\nMAJOR=$(echo "$KV" | cut -d. -f1)\n'
                                'PASS=$(openssl rand -hex 8)\nAPT=$(command -v apt-get)\n'
                                'echo "$MAJOR|$PASS|$APT" > /etc/facts\n')
    assert not [t for t in conversion.tasks if SHELL in t]
    facts = {k: v for t in conversion.tasks for k, v in t.get("ansible.builtin.set_fact", {}).items()}
    assert facts["shell_kv"] == ("{{ (ansible_facts.kernel.split('.')[0:2] | join('.')) if '.' in ansible_facts.kernel "
                                 "else ansible_facts.kernel }}")
    assert facts["shell_major"] == "{{ (shell_kv.split('.')[0:1] | join('.')) if '.' in shell_kv else shell_kv }}"
    assert "length=16" in facts["shell_pass"]
    assert facts["shell_apt"].startswith("{{ (shell_apt_path.results | selectattr('stat.executable', 'defined')")


def test_composers_php_one_liners_are_the_uri_and_stat_modules() -> None:
    conversion = convert_script(
        "cd /srv/app\nEXPECTED=\"$(php -r 'copy(\"https://composer.github.io/installer.sig\", \"php://stdout\");')\"\n"
        "ACTUAL=\"$(php -r \"echo hash_file('sha384', 'composer-setup.php');\")\"\n"
        'if [ "$EXPECTED" != "$ACTUAL" ]; then\n  exit 1\nfi\n')
    assert not [t for t in conversion.tasks if SHELL in t]
    fetch, expected, digest, actual, fail = conversion.tasks
    assert fetch["ansible.builtin.uri"]["url"] == "https://composer.github.io/installer.sig"
    assert digest["ansible.builtin.stat"] == {"path": "/srv/app/composer-setup.php", "get_checksum": True,
                                             "checksum_algorithm": "sha384"}
    assert actual["ansible.builtin.set_fact"] == {"shell_actual": "{{ shell_actual_stat.stat.checksum | default('') }}"}
    assert fail["when"] == "shell_expected != shell_actual"
