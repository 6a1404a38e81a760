"""Jinja literals and regexes with no backslash (playbook.jinja_literals), checked against
bash and the real ansible-playbook: a backslash in a template's string literal reads differently
on ansible-core 2.19 than in a `when` or on earlier versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

from playbook.convert import convert_script
from playbook.convert.conditions import _pattern_regex, host_match
from playbook.jinja_literals import literal, regex_char
from playbook.convert.values import jinja_operation

NASTY = ["", "plain", "it's", 'say "hi"', "both ' and \"", "back\\slash", "\\", "a\\'b\"c", "{{ x }}", "tab\there"]
VALUES = ["6.1.0-18-amd64", "5.14.0-362.el9.x86_64", "noseparators", "a.b.c", "-lead", "trail.", ""]
OPERATIONS = [("%%", ".*"), ("%", ".*"), ("#", "*-"), ("##", "*-"), ("%", "-*"), ("%%", "-*"), ("#", "*."),
              ("##", "*."), ("%", "[0-9]*"), ("#", "?"), ("%", "?"), ("%%", "*"), ("#", "[!0-9]*")]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


@pytest.mark.parametrize("text", NASTY)
def test_a_literal_holds_no_backslash_and_reads_back_as_the_text(text: str) -> None:
    expression = literal(text)
    assert "\\" not in expression
    assert jinja2.Environment().from_string("{{ " + expression + " }}").render() == text


def test_no_regex_char_is_a_backslash_and_each_matches_only_itself() -> None:
    import re
    for char in ".*+?${}()|]-_:/@%,=~ aZ9":
        said = regex_char(char)
        assert said is not None and "\\" not in said
        assert re.fullmatch(said, char) and not re.fullmatch(said, "x" if char != "x" else "y")
    assert regex_char("^") is None and regex_char("\\") is None and regex_char("[") is None


def test_a_parameter_operation_is_no_group_reference() -> None:
    conversion = convert_script("V=$(uname -r)\nMAJOR=${V%%.*}\nmkdir -p /opt/$MAJOR\n")
    fact = conversion.tasks[0]["ansible.builtin.set_fact"]["shell_major"]
    assert "\\" not in fact and "regex_findall" in fact


def _run(tmp_path: Path, tasks: list[dict[str, object]], variables: dict[str, object]) -> object:
    out = tmp_path / "out.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "vars": variables, "tasks": tasks}]))
    env = {**os.environ, "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook), "-e", f"out={out}"],
                         capture_output=True, text=True, env=env, timeout=110)
    assert run.returncode == 0, run.stdout[-3000:]
    return json.loads(out.read_text())


def test_operations_literals_and_patterns_answer_on_ansible_as_in_bash(tmp_path: Path) -> None:
    """Each `${V op pattern}` as a set_fact (a template), each literal, and each case pattern as a
    `when` and in a template, run by the real ansible-playbook and compared with bash's answers."""
    cases = [(v, op, pattern) for v in VALUES for op, pattern in OPERATIONS]
    expressions = []
    for n, (_, op, pattern) in enumerate(cases):
        expression = jinja_operation(f"values[{n}]", op, pattern)
        assert expression is not None and "\\" not in expression, (op, pattern)
        expressions.append(expression)
    patterns = [("6.1.0-18-amd64", "6.*"), ("6.1.0-18-amd64", "6?1*"), ("6x1", "6.1*"), ("debian-11", "debian-1?"),
                ("a+b", "a+b"), ("aab", "a+b")]
    matches = [host_match("{{ shell_p%d }}" % n, pattern) for n, (_, pattern) in enumerate(patterns)]
    tested = [("web7", "web[0-9]"), ("web77", "web[0-9]"), ("xyz", "[!a]*"), ("abc", "[!a]*"), ("a.b$c", "a.b$*")]
    for n, (_, pattern) in enumerate(tested, start=len(patterns)):  # `[[ $V == PATTERN ]]`
        regex = _pattern_regex(pattern)
        matches.append(None if regex is None else f"shell_p{n} is match({literal(regex)})")
    patterns += tested
    assert all(m is not None and "\\" not in m for m in matches)
    tasks: list[dict[str, object]] = [
        {"ansible.builtin.set_fact": {"operated": "{{ [" + ", ".join(expressions) + "] }}",
                                      "literals": "{{ [" + ", ".join(literal(t) for t in NASTY) + "] }}",
                                      "templated": "{{ [" + ", ".join(f"({m})" for m in matches) + "] }}"}},
        *[{"ansible.builtin.set_fact": {f"when_{n}": True}, "when": m} for n, m in enumerate(matches)],
        {"ansible.builtin.copy": {"dest": "{{ out }}", "mode": "0644", "content": "{{ {'operated': operated, "
                                  "'literals': literals, 'templated': templated, 'whens': ["
                                  + ", ".join(f"when_{n} is defined" for n in range(len(matches))) + "]} | to_json }}"}},
    ]
    answers = _run(tmp_path, tasks, {"values": [v for v, _, _ in cases], **{f"shell_p{n}": s for n, (s, _) in enumerate(patterns)}})
    script = "".join(f"V={json.dumps(v)}; printf '%s\\0' \"${{V{op}{pattern}}}\"\n" for v, op, pattern in cases)
    bash = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split("\0")[:-1]
    assert isinstance(answers, dict)
    assert dict(zip(cases, answers["operated"], strict=True)) == dict(zip(cases, bash, strict=True))
    assert answers["literals"] == NASTY
    matched = [subprocess.run(["bash", "-c", f'[[ {json.dumps(s)} == {p} ]]']).returncode == 0 for s, p in patterns]
    assert answers["templated"] == matched and answers["whens"] == matched
