"""Chunking: golden scripts with expected spans, and the invariants every split must keep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playbook.chunking import Chunk, split_script

DATA = Path(__file__).resolve().parent.parent / "data" / "shell"
GOLDEN = sorted(DATA.glob("*.sh"))


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def code_lines(script: str) -> set[int]:
    """1-based numbers of lines that are neither blank nor a whole-line comment."""
    return {i for i, line in enumerate(script.split("\n"), 1)
            if line.strip() and not line.lstrip().startswith("#")}


def test_golden_files_exist() -> None:
    assert len(GOLDEN) >= 7
    for path in GOLDEN:
        assert path.with_suffix(".chunks.json").exists(), path.name


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_spans(path: Path) -> None:
    expected = json.loads(path.with_suffix(".chunks.json").read_text())["spans"]
    assert "10" in expected
    for size, spans in expected.items():
        chunks = split_script(read(path), int(size))
        assert [[c.first_line, c.last_line] for c in chunks] == spans, f"chunk_size {size}"


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
@pytest.mark.parametrize("size", [1, 2, 3, 10, 50])
def test_invariants(path: Path, size: int) -> None:
    script = read(path)
    chunks = split_script(script, size)
    lines = script.split("\n")
    assert [c.index for c in chunks] == list(range(len(chunks)))
    covered: list[int] = []
    for chunk in chunks:
        assert 1 <= chunk.first_line <= chunk.last_line <= len(lines)
        span = range(chunk.first_line, chunk.last_line + 1)
        covered.extend(span)
        # the text is exactly the source lines, terminators included
        assert chunk.text.split("\n")[:len(span)] == lines[chunk.first_line - 1:chunk.last_line]
        assert code_lines(chunk.text), "a chunk made only of blank lines or comments"
    assert covered == sorted(covered) and len(covered) == len(set(covered))
    assert code_lines(script) <= set(covered)


def test_plain_35_lines_make_four_chunks() -> None:
    chunks = split_script(read(DATA / "plain35.sh"))
    assert len(chunks) == 4
    assert [c.last_line - c.first_line + 1 for c in chunks] == [10, 10, 10, 5]
    assert chunks[3].text == "".join(f"mkdir -p /srv/app/dir{i}\n" for i in range(31, 36))


def test_never_cuts_continuation_heredoc_or_block() -> None:
    chunks = split_script(read(DATA / "mixed.sh"), 1)
    spans = {(c.first_line, c.last_line) for c in chunks}
    assert (6, 9) in spans  # backslash continuation
    assert (13, 18) in spans  # heredoc
    assert (20, 24) in spans  # if block
    assert (26, 28) in spans  # for loop
    assert (30, 34) in spans  # case
    assert (36, 37) in spans  # quoted string over two lines
    assert (39, 41) in spans  # function


def test_long_statement_is_its_own_chunk() -> None:
    chunks = split_script(read(DATA / "long_statement.sh"), 10)
    assert (chunks[1].first_line, chunks[1].last_line) == (2, 13)
    assert chunks[1].text.startswith("cat > /etc/app.conf <<EOF\n")
    assert chunks[1].text.endswith("EOF\n")


def test_crlf_text_is_exact() -> None:
    script = read(DATA / "crlf.sh")
    assert "\r\n" in script
    chunks = split_script(script, 4)
    assert chunks[0].text == "echo one\r\necho two \\\r\n  three\r\n"
    assert "".join(c.text for c in chunks) == script.replace("\r\n\r\n", "\r\n")


def test_no_trailing_newline() -> None:
    script = read(DATA / "no_trailing_newline.sh")
    assert not script.endswith("\n")
    chunks = split_script(script, 2)
    assert chunks[-1] == Chunk(index=2, text="echo done", first_line=6, last_line=6)


def test_leading_comments_attach_to_next_chunk() -> None:
    chunks = split_script(read(DATA / "comments.sh"), 1)
    assert [(c.first_line, c.last_line) for c in chunks] == [(1, 5), (6, 6), (8, 11)]
    assert chunks[2].text.startswith("# section two\n")
    assert chunks[2].text.endswith("# trailing comment\n")


def test_statements_on_one_line_stay_together() -> None:
    chunks = split_script("echo a; echo b && echo c\necho d\n", 1)
    assert [(c.first_line, c.last_line) for c in chunks] == [(1, 1), (2, 2)]


def test_broken_script_does_not_crash() -> None:
    chunks = split_script(read(DATA / "broken.sh"), 10)
    assert chunks[0].first_line == 1 and chunks[-1].last_line == 6


@pytest.mark.parametrize("script", ["", "   \n\n", "\r\n"])
def test_empty_script_is_an_error(script: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        split_script(script)


def test_comment_only_script_is_an_error() -> None:
    with pytest.raises(ValueError, match="only comments"):
        split_script("#!/bin/sh\n# nothing here\n")


def test_bad_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        split_script("echo hi\n", 0)


def test_chunk_is_frozen() -> None:
    chunk = split_script("echo hi\n")[0]
    with pytest.raises(AttributeError):
        chunk.index = 3  # type: ignore[misc]


def test_each_chunk_carries_the_shell_state_set_before_it() -> None:
    script = "cd /opt/app\nexport PATH=/opt/bin:$PATH\nVERSION=1.2\nmkdir -p build\nbuild() { make; }\ntouch done\n"
    chunks = split_script(script, 2)
    assert [c.context for c in chunks] == [
        "build() { make; }\n",  # every function: a body may call one defined further down
        "cd /opt/app\nexport PATH=/opt/bin:$PATH\nbuild() { make; }\n",
        "cd /opt/app\nexport PATH=/opt/bin:$PATH\nVERSION=1.2\n",
    ]
    assert "mkdir" not in chunks[2].context, "a command that changes the system is not context"


def test_read_and_arithmetic_set_shell_state_for_later_chunks() -> None:
    from playbook.chunking import sets_shell_state
    from playbook.shell import parse_script

    assert all(sets_shell_state(s) for s in parse_script("read -r NAME\n((N++))\n").statements)
