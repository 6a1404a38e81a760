"""``ansiblectl keys create``: a new key printed once, only its digest kept (issue 12, item 1)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from cli.main import EXIT_OK, EXIT_USAGE, main
from common.apikeys import KeyRing, digest


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_keys_create_prints_the_key_once_and_appends_its_digest(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    code, out, err = run("keys", "create", "alice", "--file", str(path))
    assert code == EXIT_OK and "only time" in err
    key = out.strip()
    assert key.startswith("aft_") and len(key) > 40
    code, out2, _ = run("keys", "create", "ops", "--file", str(path), "--role", "admin", "--rate-per-minute", "5",
                        "--max-concurrent", "1")
    assert code == EXIT_OK
    text = path.read_text()
    assert key not in text and out2.strip() not in text
    entries = json.loads(text)["keys"]
    assert [e["name"] for e in entries] == ["alice", "ops"] and entries[0]["sha256"] == digest(key)
    assert entries[1] == {"name": "ops", "sha256": digest(out2.strip()), "role": "admin", "rate_per_minute": 5,
                          "max_concurrent": 1}
    assert KeyRing.load(path).find(key).name == "alice"  # type: ignore[union-attr]
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_keys_create_refuses_a_duplicate_name_a_bad_limit_and_no_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys.json"
    assert run("keys", "create", "alice", "--file", str(path))[0] == EXIT_OK
    before = path.read_text()
    code, out, err = run("keys", "create", "alice", "--file", str(path))
    assert code == EXIT_USAGE and "exists already" in err and out == ""
    code, out, err = run("keys", "create", "bob", "--file", str(path), "--max-concurrent", "0")
    assert code == EXIT_USAGE and "max_concurrent" in err and out == ""
    assert path.read_text() == before
    monkeypatch.delenv("API_KEYS_FILE", raising=False)
    code, _, err = run("keys", "create", "carol")
    assert code == EXIT_USAGE and "--file" in err
