"""SyntaxChecker (warm forking helper vs plain process) and lint_playbook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from validation.syntax import SyntaxChecker, lint_playbook, parse_errors

GOOD = "---\n- name: P\n  hosts: all\n  tasks:\n    - name: Ping\n      ansible.builtin.ping:\n"
BAD_MODULE = "---\n- name: P\n  hosts: all\n  tasks:\n    - name: Bad\n      ansible.builtin.apt_get:\n        name: x\n"
BAD_KEYWORD = "---\n- name: P\n  hosts: all\n  tasks:\n    - name: Bad\n      ansible.builtin.ping:\n      loop_contrl: {}\n"
BAD_YAML = "---\n- name: P\n  hosts: all\n  tasks: [\n"


@pytest.fixture(scope="module")
def helper() -> Iterator[SyntaxChecker]:
    with SyntaxChecker() as checker:
        checker.start()
        yield checker


@pytest.fixture(scope="module")
def process() -> Iterator[SyntaxChecker]:
    with SyntaxChecker(use_helper=False) as checker:
        yield checker


@pytest.mark.parametrize("text", [GOOD, BAD_MODULE, BAD_KEYWORD, BAD_YAML], ids=["good", "module", "keyword", "yaml"])
def test_helper_agrees_with_plain_process(helper: SyntaxChecker, process: SyntaxChecker, text: str) -> None:
    fast, slow = helper.check(text), process.check(text)
    assert (fast.via, slow.via) == ("helper", "process")
    assert fast.ok == slow.ok == (text is GOOD)
    assert fast.errors == slow.errors


def test_errors_name_the_line_not_the_temp_file(helper: SyntaxChecker) -> None:
    (error,) = helper.check(BAD_MODULE).errors
    assert "couldn't resolve module/action 'ansible.builtin.apt_get'" in error and error.endswith("(line 5, column 7)")
    assert "/tmp" not in error


def test_helper_is_fast_once_warm(helper: SyntaxChecker) -> None:
    times = sorted(helper.check(GOOD).elapsed_s for _ in range(5))
    assert times[2] < 0.5, times


def test_helper_restarts_after_it_dies(helper: SyntaxChecker) -> None:
    assert helper._helper is not None
    helper._helper.kill()
    helper._helper.wait()
    assert helper.check(GOOD).ok  # started again (or fell back), never a wrong answer
    assert not helper.check(BAD_MODULE).ok


def test_timeout_reported() -> None:
    with SyntaxChecker(timeout_s=0.001, use_helper=False) as checker:
        result = checker.check(GOOD)
    assert not result.ok and "timed out" in result.errors[0]


def test_parse_errors_without_origin() -> None:
    assert parse_errors("[WARNING]: w\n[ERROR]: first\n\n[ERROR]: second /tmp/x.yml\n", "/tmp/x.yml") == [
        "first",
        "second playbook.yml",
    ]
    assert parse_errors("Traceback: boom", "/p") == ["Traceback: boom"]


def test_lint_findings() -> None:
    findings = lint_playbook("---\n- hosts: all\n  tasks:\n    - ansible.builtin.shell: echo hi | cat\n")
    rules = {f.split(":")[0] for f in findings}
    assert {"name[play]", "name[missing]"} <= rules, findings
    assert all("(line" in f for f in findings)
    assert lint_playbook(GOOD) == []
