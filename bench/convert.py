"""The rules engine on the corpus: syntax-check, lint, module share, idempotency, validation latency.

    python -m bench.convert [--no-lint] [--runs N]

Writes bench/results/convert.md and prints the same tables. Issue 4's targets: 100% pass
syntax-check, >= 90% lint-clean (ansible-lint --offline --profile production), >= 85% of
tasks real modules. Idempotency is checked where it can be without root: the file-only
scripts (tests/data/corpus/NN-files-*.sh) write under /tmp/corpus-root, which is rewritten
into a fresh temp dir; their playbook runs twice on localhost (-c local) and the second run
must report changed=0.
"""

# design: one ansible-lint process lints every playbook (lint's start-up is most of its cost),
# the warm syntax-check helper checks them one by one (~40 ms each), and the idempotency runs
# are plain ansible-playbook processes in parallel threads. Nothing here is timed in tests.

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from playbook.convert import Conversion
from tests.playbook.corpus import FILE_ROOT, CorpusCase, cases, convert_case
from validation.argspecs import load_argspecs
from validation.syntax import SyntaxChecker
from validation.validator import PlaybookValidator

log = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent / "results" / "convert.md"
TARGETS = {"syntax": 1.0, "lint": 0.90, "modules": 0.85}
_RECAP = re.compile(r"changed=(\d+)")


@dataclass
class Row:
    """One corpus script's numbers."""

    name: str
    tasks: int
    module_tasks: int
    syntax_ok: bool = False
    syntax_errors: list[str] = field(default_factory=list)
    lint: list[str] | None = None
    second_run_changed: int | None = None  # None: not checkable without root
    idempotency_error: str | None = None


def _bin(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def _env(home: str) -> dict[str, str]:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_HOME=home, ANSIBLE_LOCAL_TEMP=home,
               ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_LOCALHOST_WARNING="False")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def convert_all() -> list[tuple[CorpusCase, Conversion, str]]:
    """Every corpus script through the rules engine."""
    return [(case, *convert_case(case)) for case in cases()]


def syntax_check(rows: dict[str, Row], texts: dict[str, str]) -> None:
    with SyntaxChecker() as checker:
        for name, text in texts.items():
            result = checker.check(text)
            rows[name].syntax_ok, rows[name].syntax_errors = result.ok, result.errors


def lint_all(rows: dict[str, Row], texts: dict[str, str]) -> float:
    """One `ansible-lint --offline --profile production` over every playbook; seconds taken."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-lint-") as tmp:
        for name, text in texts.items():
            Path(tmp, f"{name}.yml").write_text(text, encoding="utf-8")
        cmd = [_bin("ansible-lint"), "--offline", "--profile", "production", "--nocolor",
               "-f", "codeclimate", "-q", *[f"{name}.yml" for name in texts]]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False,
                              env=_env(str(Path(tmp, ".ansible"))), timeout=900)
    findings = json.loads(proc.stdout or "[]")
    for row in rows.values():
        row.lint = []
    for item in findings:
        name = Path(item["location"]["path"]).stem
        begin = item["location"].get("positions", {}).get("begin", {}).get("line") \
            or item["location"].get("lines", {}).get("begin")
        rows[name].lint.append(f"{item['check_name']} (line {begin})")  # type: ignore[union-attr]
    return time.monotonic() - started


def idempotency(case: CorpusCase, text: str) -> tuple[int | None, str | None]:
    """Run the file-only playbook twice under a temp root; the second run's changed count."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{case.name}-") as tmp:
        root = Path(tmp, "root")
        path = Path(tmp, "play.yml")
        path.write_text(text.replace(FILE_ROOT, str(root)), encoding="utf-8")
        cmd = [_bin("ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", f"ansible_python_interpreter={sys.executable}", str(path)]
        env = _env(str(Path(tmp, ".ansible")))
        changed: int | None = None
        for _ in range(2):
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False,
                                  timeout=300)
            if proc.returncode != 0:
                return None, f"ansible-playbook failed ({proc.returncode}): {proc.stdout[-300:]}"
            found = _RECAP.findall(proc.stdout)
            changed = int(found[-1]) if found else None
        return changed, None


def check_idempotency(rows: dict[str, Row], converted: list[tuple[CorpusCase, Conversion, str]]) -> None:
    file_only = [(case, text) for case, _, text in converted if case.file_only]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda pair: idempotency(*pair), file_only)
        for (case, _), (changed, error) in zip(file_only, results):
            rows[case.name].second_run_changed, rows[case.name].idempotency_error = changed, error


def validation_latency(texts: dict[str, str], runs: int) -> dict[str, list[float]]:
    """PlaybookValidator.validate() on the corpus playbooks: fresh texts, then cached repeats."""
    specs = load_argspecs()
    plays = [yaml.safe_load(text) for text in texts.values()]
    timings: dict[str, list[float]] = {}
    pure = PlaybookValidator(specs, syntax_check=False)
    timings["structure + modules/parameters"] = [pure.validate(p).elapsed_s for p in plays]
    with SyntaxChecker() as checker:
        checker.start()
        full = PlaybookValidator(specs, syntax=checker)
        timings["+ syntax-check (warm helper)"] = [full.validate(p).elapsed_s for p in plays]
        timings["cached repeat"] = [full.validate(p).elapsed_s for p in plays[:runs]]
    return timings


# --- report --------------------------------------------------------------------------------

def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def _idem(row: Row) -> str:
    if row.idempotency_error:
        return "error"
    if row.second_run_changed is None:
        return "-"
    return "yes" if row.second_run_changed == 0 else f"no ({row.second_run_changed} changed)"


def report(rows: list[Row], latency: dict[str, list[float]], lint_s: float | None) -> str:
    lines = ["# Rules engine on the corpus", "",
             f"{len(rows)} scripts in tests/data/corpus, `engine: rules`. "
             "Regenerate with `python -m bench.convert`.", "",
             "| script | tasks | real modules | syntax-check | lint (production) | idempotent |",
             "|---|---:|---:|---|---|---|"]
    for row in rows:
        lint = "n/a" if row.lint is None else ("clean" if not row.lint else ", ".join(row.lint))
        lines.append(f"| {row.name} | {row.tasks} | {_pct(row.module_tasks, row.tasks)} | "
                     f"{'pass' if row.syntax_ok else 'FAIL'} | {lint} | {_idem(row)} |")
    tasks = sum(r.tasks for r in rows)
    modules = sum(r.module_tasks for r in rows)
    syntax = sum(r.syntax_ok for r in rows)
    linted = [r for r in rows if r.lint is not None]
    clean = sum(not r.lint for r in linted)
    checked = [r for r in rows if r.second_run_changed is not None or r.idempotency_error]
    idempotent = sum(r.second_run_changed == 0 for r in checked)
    lines += ["", "## Totals (issue 4 targets)", "",
              "| measure | result | target |", "|---|---|---|",
              f"| syntax-check pass | {syntax}/{len(rows)} = {_pct(syntax, len(rows))} | 100% |",
              f"| lint-clean, `ansible-lint --offline --profile production` | "
              f"{clean}/{len(linted)} = {_pct(clean, len(linted))} | >= 90% |",
              f"| tasks that are real modules (not command/shell) | "
              f"{modules}/{tasks} = {_pct(modules, tasks)} | >= 85% |",
              f"| idempotent (file-only scripts, 2nd run on localhost `changed=0`) | "
              f"{idempotent}/{len(checked)} | - |", ""]
    lines += ["Idempotency: the file-only scripts (`NN-files-*`) write under "
              f"`{FILE_ROOT}`, rewritten into a fresh temp dir; the playbook runs for real "
              "twice on localhost (`-c local`, no become) and the second run must report "
              "`changed=0` (stricter than a `--check` run). The other scripts need root.", ""]
    if lint_s is not None:
        lines.append(f"One ansible-lint run over all {len(linted)} playbooks took {lint_s:.0f} s.")
        lines.append("")
    lines += ["## Validation latency", "",
              "`PlaybookValidator.validate()` on each corpus playbook (first sight of the text, "
              "so not cached), argspecs loaded from the cache:", "",
              "| check | median | p95 | n |", "|---|---:|---:|---:|"]
    for label, times in latency.items():
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        lines.append(f"| {label} | {statistics.median(times) * 1000:.1f} ms | "
                     f"{p95 * 1000:.1f} ms | {len(times)} |")
    lines += ["", "The cache key is the rendered text, so a cached repeat still pays for "
              "rendering. Lint is optional in the worker's `validation` field and not part of "
              "this latency: it costs seconds per playbook.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-lint", action="store_true", help="skip ansible-lint (slow)")
    parser.add_argument("--runs", type=int, default=20, help="cached-repeat samples")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    converted = convert_all()
    rows = {case.name: Row(case.name, len(conv.tasks),
                           round(conv.module_share * len(conv.tasks)))
            for case, conv, _ in converted}
    texts = {case.name: text for case, _, text in converted}
    syntax_check(rows, texts)
    with ThreadPoolExecutor(max_workers=2) as pool:
        lint_future = None if args.no_lint else pool.submit(lint_all, rows, texts)
        idem_future = pool.submit(check_idempotency, rows, converted)
        lint_s = lint_future.result() if lint_future else None
        idem_future.result()
    latency = validation_latency(texts, args.runs)
    text = report(list(rows.values()), latency, lint_s)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
