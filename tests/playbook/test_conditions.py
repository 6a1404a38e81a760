"""Conditions decided at conversion time, file tests, and the `when` expressions they make."""

from __future__ import annotations

import pytest

from playbook.convert import convert_script
from playbook.convert.conditions import decide, file_test, host_match, join_when, negate
from playbook.convert.walker import parameter_operation


@pytest.mark.parametrize(("text", "verdict"), [
    ('[ "open" != "oracle" ]', True),
    ('[ "a" = "a" ]', True),
    ("[[ a == b ]]", False),
    ("[ -n '' ]", False),
    ("[ -z '' ]", True),
    ("test 3 -gt 2", True),
    ("[ 3 -le 2 ]", False),
    ("[ ! x = y ]", True),
    ("[ x ]", True),
    ("true", True),
    ("false", False),
    ("[[ abc == a* ]]", None),   # a pattern
    ("[ -f /etc/passwd ]", None),  # the host must say
    ("[ a = b -o c = c ]", None),
    ("[ x -eq y ]", None),
    ("grep -q x /etc/f", None),
    ("[ 'unclosed ]", None),
])
def test_decide(text: str, verdict: bool | None) -> None:
    assert decide(text) is verdict


def test_file_test_needs_an_absolute_literal_path() -> None:
    assert file_test('[ ! -d "/srv/app" ]') is not None
    assert file_test("[ -f relative ]") is None
    assert file_test('[ -f "$X" ]') is None
    tested = file_test("test -L /usr/bin/python")
    assert tested is not None and not tested.follow and tested.when("r") == "r.stat.exists and r.stat.islnk"


def test_when_expressions_join_outer_first_and_negate_simply() -> None:
    assert join_when(None, "a.rc == 0") == "a.rc == 0"
    assert join_when("a.rc != 0", "b.stat.exists or c") == "a.rc != 0 and (b.stat.exists or c)"
    assert negate("a.rc == 0") == "a.rc != 0"
    assert negate("not (x and y)") == "x and y"
    assert negate("not (a) and (b)") == "not (not (a) and (b))"


@pytest.mark.parametrize(("value", "operator", "pattern", "result"), [
    ("a.tar.gz", "%", ".*", "a.tar"), ("a.tar.gz", "%%", ".*", "a"), ("/x/y/z", "#", "*/", "x/y/z"),
    ("/x/y/z", "##", "*/", "z"), ("Web", ",,", "", "web"), ("web", "^^", "", "WEB"),
    ("a-b-c", "/", "-/_", "a_b-c"), ("a-b-c", "//", "-/_", "a_b_c"), ("abc", "%", "x", "abc"),
    ("abc", "/", "*/x", None),
])
def test_parameter_operations(value: str, operator: str, pattern: str, result: str | None) -> None:
    assert parameter_operation(value, operator, pattern) == result


def test_a_list_of_tests_on_known_values_is_decided_as_bash_runs_it() -> None:
    conversion = convert_script('V=24.x\nif [[ "$V" == "20.x" ]] || [[ "$V" == "24.x" ]]; then\n  apt-get install -y a\n'
                                'else\n  apt-get install -y b\nfi\n')
    assert conversion.tasks == [{"name": "Install a", "ansible.builtin.apt": {"name": "a", "state": "present"}}]


def test_a_list_of_tests_on_host_values_is_one_when_expression() -> None:
    conversion = convert_script('V=24.x\nif [ "$MODE" = "x" ] || [ "$MODE" = "1" ] && [ "$V" = 24.x ]; then\n'
                                '  apt-get install -y c\nfi\n')
    assert conversion.tasks[0]["when"] == \
        "(((ansible_env.MODE | default == 'x') or (ansible_env.MODE | default == '1')) and (true))"


def test_a_value_the_shell_set_before_an_if_that_may_not_change_it_is_worked_out_as_the_default() -> None:
    # `DOMAIN=$1; if [ -z "$1" ]; then read -r DOMAIN; fi`: DOMAIN is $1 unless asked; it was lost
    # (each later shell task saw it empty, the `[ -z "$DOMAIN" ]` check always held)
    conversion = convert_script('DOMAIN=$1\nif [ -z "$1" ]; then\n  read -r DOMAIN\nfi\n'
                                'if [ -z "$DOMAIN" ]; then\n  exit 1\nfi\n')
    names = [t["name"] for t in conversion.tasks]
    # $1 is the play variable shell_1 (empty unless given), so DOMAIN's default needs no shell
    assert names[:2] == ["Set the script's $1 (empty unless given with -e)", "Set DOMAIN as the script had them"]
    assert conversion.tasks[1]["ansible.builtin.set_fact"] == {"shell_domain": "{{ shell_1 }}"}
    assert conversion.tasks[-1]["when"] == "shell_domain | length == 0"


@pytest.mark.parametrize(("test", "when"), [
    ("[[ $(hostname) = kubearmor-dev* ]]", "ansible_facts.nodename is match('(?s)kubearmor-dev.*(?!.)')"),
    ("[[ $(hostname) != web[0-9] ]]", "not (ansible_facts.nodename is match('(?s)web[0-9](?!.)'))"),
])
def test_a_pattern_match_on_a_host_value_is_a_match_test(test: str, when: str) -> None:
    conversion = convert_script(f"if {test}; then\n  apt-get install -y a\nfi\n")
    assert conversion.tasks == [{"name": "Install a", "ansible.builtin.apt": {"name": "a", "state": "present"}, "when": when}]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("debian-11*", "(shell_id ~ '-11') is match('(?s)^debian-11.*(?!.)')"),
    ('"18."*', "(shell_id ~ '-11') is match('(?s)^18[.].*(?!.)')"),  # the quoted dot is a dot
    ("rhel-?", "(shell_id ~ '-11') is match('(?s)^rhel-.(?!.)')"),
    ("a[bc]*", None), ("$X*", None), ("a\\b*", None),  # a bracket, an expansion, an escape: the shell's
])
def test_a_case_glob_on_host_values_is_a_match_with_no_backslash(pattern: str, expected: str | None) -> None:
    assert host_match("{{ shell_id }}-11", pattern) == expected
