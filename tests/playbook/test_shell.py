"""The shell parser: statement spans, words, sudo, redirections, heredocs, lists, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook.shell import Heredoc, Redirect, Statement, parse_script

DATA = Path(__file__).resolve().parent.parent / "data" / "shell"


def spans(script: str) -> list[tuple[int, int, str]]:
    return [(s.first_line, s.last_line, s.kind) for s in parse_script(script).statements]


def only(script: str) -> Statement:
    statements = parse_script(script).statements
    assert len(statements) == 1, statements
    return statements[0]


def test_mixed_script_spans() -> None:
    parsed = parse_script((DATA / "mixed.sh").read_text())
    assert [(s.first_line, s.last_line, s.kind) for s in parsed.statements] == [
        (3, 3, "command"), (5, 5, "command"), (6, 9, "command"), (10, 10, "command"),
        (11, 11, "command"), (13, 18, "command"), (20, 24, "compound"), (26, 28, "compound"),
        (30, 34, "compound"), (36, 37, "pipeline"), (39, 41, "function"), (42, 42, "command"),
    ]
    assert parsed.shebang == "#!/bin/bash"
    assert {1, 2} <= parsed.comment_lines
    assert not parsed.issues


def test_words_unquoted() -> None:
    command = only("""cmd 'a b' "c \\"d\\" \\$e" f\\ g $'h\\ti' 'x'"y"z ~/k\n""").command
    assert command is not None
    assert command.argv == ("cmd", "a b", 'c "d" $e', "f g", "h\ti", "xyz", "~/k")
    assert not command.dynamic


def test_expansions_are_kept_and_flagged() -> None:
    command = only('echo "$HOME/x" ${A:-b} $(date) *.txt plain\n').command
    assert command is not None
    assert command.argv == ("echo", "$HOME/x", "${A:-b}", "$(date)", "*.txt", "plain")
    assert [w.dynamic for w in command.words] == [False, True, True, True, True, False]
    assert command.words[4].glob


def test_single_quoted_dollar_is_literal() -> None:
    command = only("echo '$HOME'\n").command
    assert command is not None and command.argv == ("echo", "$HOME")
    assert not command.dynamic


@pytest.mark.parametrize(("line", "argv", "user"), [
    ("sudo apt-get install -y nginx", ("apt-get", "install", "-y", "nginx"), None),
    ("sudo -u postgres psql -c 'select 1'", ("psql", "-c", "select 1"), "postgres"),
    ("sudo -E -H pip install x", ("pip", "install", "x"), None),
    ("sudo -u root ls", ("ls",), None),
    ("sudo -- ls", ("ls",), None),
])
def test_sudo_is_stripped(line: str, argv: tuple[str, ...], user: str | None) -> None:
    command = only(line + "\n").command
    assert command is not None
    assert command.become and command.argv == argv and command.become_user == user


def test_env_prefix_and_assignments() -> None:
    command = only("DEBIAN_FRONTEND=noninteractive env LANG=C apt-get install -y x\n").command
    assert command is not None
    assert command.argv == ("apt-get", "install", "-y", "x")
    assert [(n, w.value) for n, w in command.assignments] == [
        ("DEBIAN_FRONTEND", "noninteractive"), ("LANG", "C")]


def test_export_and_plain_assignment() -> None:
    first, second = parse_script('export A=1 B="two words"\nC=$A/x\n').statements
    assert first.command is not None and first.command.argv[0] == "export"
    assert [(n, w.value) for n, w in first.command.assignments] == [("A", "1"), ("B", "two words")]
    assert second.command is not None and second.command.node_type == "variable_assignment"
    assert second.command.assignments[0][1].dynamic


def test_redirections() -> None:
    command = only("echo 'a b' >> /etc/x 2>&1\n").command
    assert command is not None
    assert command.argv == ("echo", "a b")
    assert command.redirects == (Redirect(op=">>", target="/etc/x"),
                                 Redirect(op=">&", target="1", fd=2))


def test_quoted_heredoc_with_redirect() -> None:
    statement = only("cat > /etc/app.conf <<'EOF'\nuser = $USER\n  indented\nEOF\n")
    assert (statement.first_line, statement.last_line) == (1, 4)
    command = statement.command
    assert command is not None and command.argv == ("cat",)
    assert command.redirects == (Redirect(op=">", target="/etc/app.conf"),)
    assert command.heredoc == Heredoc(delimiter="EOF", body="user = $USER\n  indented\n",
                                      quoted=True, strip_tabs=False)


def test_dash_heredoc_strips_tabs_and_redirect_after_delimiter() -> None:
    command = only("cat <<-END > /tmp/f\n\tone\n\t\ttwo\n\tEND\n").command
    assert command is not None
    assert command.heredoc == Heredoc(delimiter="END", body="one\ntwo\n", quoted=False,
                                      strip_tabs=True)
    assert command.redirects == (Redirect(op=">", target="/tmp/f"),)


def test_heredoc_into_sudo_tee_pipeline() -> None:
    statement = only("cat <<EOF | sudo tee /etc/motd > /dev/null\nhello\nEOF\n")
    assert statement.kind == "pipeline" and statement.last_line == 3
    cat, tee = statement.commands
    assert cat.heredoc is not None and cat.heredoc.body == "hello\n"
    assert tee.argv == ("tee", "/etc/motd") and tee.become
    assert tee.redirects == (Redirect(op=">", target="/dev/null"),)


def test_heredoc_followed_by_and_list() -> None:
    statement = only("cat <<EOF > /tmp/x && echo ok\nbody\nEOF\n")
    assert statement.kind == "list" and statement.operators == ("&&",)
    assert [c.argv for c in statement.commands] == [("cat",), ("echo", "ok")]


def test_and_or_list_and_pipelines() -> None:
    statement = only("cd /srv && curl -fsSL https://x/install.sh | sudo bash -s -- -y || true\n")
    assert statement.kind == "list"
    assert statement.operators == ("&&", "||")
    assert [len(p.commands) for p in statement.pipelines] == [1, 2, 1]
    assert statement.pipelines[1].commands[1].argv == ("bash", "-s", "--", "-y")


def test_continuation_and_multiline_string() -> None:
    assert spans('apt-get install \\\n  -y \\\n  nginx\necho "a\nb" > /f\n') == [
        (1, 3, "command"), (4, 5, "command")]
    statement = parse_script('echo "a\nb" > /f\n').statements[0]
    assert statement.command is not None and statement.command.argv == ("echo", "a\nb")


@pytest.mark.parametrize("script", [
    "if [ -f /x ]; then\n  echo y\nelse\n  echo n\nfi\n",
    "for i in 1 2 3; do\n  echo $i\ndone\n",
    "while read -r l; do\n  echo $l\ndone < /etc/hosts\n",
    "case $1 in\n  a) echo a ;;\nesac\n",
    "{\n  echo a\n  echo b\n} > /tmp/log\n",
    "(\n  cd /tmp\n  make\n)\n",
])
def test_compound_statements(script: str) -> None:
    statement = only(script)
    assert statement.kind == "compound"
    assert (statement.first_line, statement.last_line) == (1, script.count("\n"))
    assert statement.command is None


def test_function() -> None:
    statement = only("setup() {\n  echo hi\n}\n")
    assert (statement.kind, statement.first_line, statement.last_line) == ("function", 1, 3)


def test_set_e_cd_and_background() -> None:
    first, second, third = parse_script("set -euo pipefail\ncd /opt/app\nsleep 10 &\n").statements
    assert first.command is not None and first.command.argv == ("set", "-euo", "pipefail")
    assert second.command is not None and second.command.argv == ("cd", "/opt/app")
    assert third.background


def test_two_statements_on_one_line() -> None:
    assert spans("echo a; echo b\n") == [(1, 1, "command"), (1, 1, "command")]


def test_crlf_is_normalised() -> None:
    parsed = parse_script("echo one\r\necho two \\\r\n  three\r\n")
    assert [s.command.argv for s in parsed.statements if s.command] == [
        ("echo", "one"), ("echo", "two", "three")]
    assert parsed.lines == ("echo one", "echo two \\", "  three")


def test_no_trailing_newline() -> None:
    statement = only("echo done")
    assert statement.command is not None and statement.command.argv == ("echo", "done")


@pytest.mark.parametrize("script", [
    "if then\necho ok\n",
    "echo before\nif [ -f /x ]; then\n  echo inside\necho \"unterminated\nfi\n",
    "cat <<EOF\nnever closed\n",
    "echo $(\n",
    "))) ((( ;;\n",
    "",
])
def test_broken_scripts_are_reported_not_raised(script: str) -> None:
    parsed = parse_script(script)
    if script:
        assert parsed.issues or any(s.has_error for s in parsed.statements)
    for statement in parsed.statements:
        assert 1 <= statement.first_line <= statement.last_line
