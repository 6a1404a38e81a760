"""Generated scripts, the real bash against the real ansible-playbook (verify.differential).

A fixed set of seeds, so a failure is reproduced with `python -m verify.differential --count 1
--seed N`. The wider run (60 seeds) is `python -m verify.differential`, results in
bench/results/differential.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verify.differential import differences, generate, run_case, run_many, tree

SEEDS = list(range(1, 11))


@pytest.mark.timeout(600)  # ten ansible-playbook runs: about 45 s alone, far more beside other test files
def test_generated_scripts_and_their_playbooks_leave_the_same_files() -> None:
    outcomes = run_many(SEEDS, steps=14, jobs=2)
    failed = [(o.seed, o.status, o.differences[:3], o.detail[:300]) for o in outcomes if o.status != "equivalent"]
    assert failed == []


def test_the_generator_is_reproducible_and_varied() -> None:
    assert generate(7).text == generate(7).text
    texts = {generate(seed).text for seed in range(40)}
    assert len(texts) == 40
    joined = "\n".join(texts)
    for construct in ("umask 077", "<<'EOF'", "| tee", "sed -i", "ln -s", "install -m", "for item in", "cd ", "||",
                      '"/{', "sed -i.bak", "chmod -R", "cp -r", "rm -f", "echo -e", "tar -xzf", "case "):
        assert construct in joined, construct


def test_the_comparison_sees_a_mode_a_content_and_a_missing_file(tmp_path: Path) -> None:
    # the comparison must be able to fail: three ways two trees differ
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same").write_text("x\n")
    (tmp_path / "a" / "mode").write_text("m\n")
    (tmp_path / "b" / "mode").write_text("m\n")
    (tmp_path / "b" / "mode").chmod(0o600)
    (tmp_path / "a" / "text").write_text("one\n")
    (tmp_path / "b" / "text").write_text("two\n")
    (tmp_path / "a" / "only").write_text("\n")
    found = differences(tree(tmp_path / "a"), tree(tmp_path / "b"))
    assert [line.split(":")[0] for line in found] == ["mode", "only", "text"]


def test_a_wrong_playbook_is_reported_as_differing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # break the converter on purpose (every written file's mode is lost): the run must say so
    import verify.differential as differential
    from playbook.convert import convert_script

    def broken(script: str, context: str = ""):
        conversion = convert_script(script, context)
        for task in conversion.tasks:
            for args in task.values():
                if isinstance(args, dict) and args.get("mode") == "0600":
                    args["mode"] = "0644"
        return conversion

    monkeypatch.setattr(differential, "convert_script", broken)
    case = differential.Case(1, "R=__ROOT__\n(umask 077; echo s > \"$R/key\")\necho x >> \"$R/key\"\n")
    outcome = run_case(case, tmp_path)
    assert outcome.status == "differs" and outcome.differences[0].startswith("key: bash file 0o600")
