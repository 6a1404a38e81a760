"""The rules engine on the real-world corpus: syntax-check, lint, module share, expected-module recall.

    python -m bench.realworld [--no-lint]

Each script in tests/data/realworld (copied from public repositories; sources and licences in
its MANIFEST.yaml) is converted as a new user's `POST /generate` would be with no LLM
reachable: the rules engine. For each: `ansible-playbook --syntax-check`, one
`ansible-lint --offline --profile production` over all playbooks, the share of tasks that are
real modules (not command/shell), and the recall of the modules a careful engineer would use
(the manifest's `expected_modules`) among the modules the playbook uses. Modules that do the
same job count for each other (`EQUIVALENT`). Writes bench/results/realworld.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.convert import Row, lint_all, syntax_check
from playbook.convert import convert_script
from playbook.passes import module_of
from playbook.render import render_playbook

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "realworld"
RESULTS = ROOT / "bench" / "results"
TARGETS = {"syntax": 1.0, "recall": 0.90, "modules": 0.85, "lint": 0.90}

# modules that do the same job: using one where the manifest names another counts
EQUIVALENT = [
    {"ansible.builtin.service", "ansible.builtin.systemd", "ansible.builtin.systemd_service"},
    {"ansible.builtin.dnf", "ansible.builtin.yum", "ansible.builtin.package"},
    {"ansible.builtin.copy", "ansible.builtin.template"},
    # a `sed -i` edit: issue 8 takes replace or lineinfile, whichever says the edit faithfully
    {"ansible.builtin.lineinfile", "ansible.builtin.replace"},
    {"ansible.builtin.command", "ansible.builtin.shell"},
]


def canonical(module: str) -> str:
    name = module if "." in module else f"ansible.builtin.{module}"
    for group in EQUIVALENT:
        if name in group:
            return sorted(group)[0]
    return name


@dataclass
class Script:
    name: str
    tasks: int
    module_tasks: int
    expected: list[str]
    found: list[str]
    warnings: int
    syntax_ok: bool = False
    syntax_errors: list[str] = field(default_factory=list)
    lint: list[str] | None = None

    @property
    def recalled(self) -> list[str]:
        have = {canonical(m) for m in self.found}
        return [m for m in self.expected if canonical(m) in have]


def manifest() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((CORPUS / "MANIFEST.yaml").read_text(encoding="utf-8"))
    entries = data["scripts"] if isinstance(data, dict) and "scripts" in data else data
    return {Path(entry["file"]).stem: entry for entry in entries}


def convert_corpus() -> tuple[list[Script], dict[str, str]]:
    entries = manifest()
    scripts, texts = [], {}
    for path in sorted(CORPUS.glob("*.sh")):
        # what the script sources first (its repository's helper library), as a user sends it
        context = "".join((CORPUS / name).read_text(encoding="utf-8")
                          for name in entries.get(path.stem, {}).get("context") or [])
        conversion = convert_script(path.read_text(encoding="utf-8"), context)
        text = render_playbook([conversion.play(hosts="all", name=f"Converted {path.stem}")])
        modules = sorted({module_of(t) for t in conversion.tasks + conversion.handlers})
        expected = list(entries.get(path.stem, {}).get("expected_modules") or [])
        scripts.append(Script(path.stem, len(conversion.tasks), round(conversion.module_share * len(conversion.tasks)),
                              expected, modules, len(conversion.warnings)))
        texts[path.stem] = text
    return scripts, texts


def report(scripts: list[Script], lint_ran: bool) -> tuple[str, dict[str, Any]]:
    n = len(scripts)
    syntax = sum(s.syntax_ok for s in scripts)
    expected = sum(len(s.expected) for s in scripts)
    recalled = sum(len(s.recalled) for s in scripts)
    tasks = sum(s.tasks for s in scripts)
    modules = sum(s.module_tasks for s in scripts)
    clean = sum(1 for s in scripts if s.lint == [])
    totals = {
        "scripts": n, "syntax_pass": syntax, "expected_modules": expected, "recalled_modules": recalled,
        "recall": recalled / expected if expected else None, "tasks": tasks, "module_tasks": modules,
        "module_share": modules / tasks if tasks else None, "lint_clean": clean if lint_ran else None,
    }
    pct = lambda a, b: f"{100 * a / b:.1f}%" if b else "n/a"  # noqa: E731
    lines = ["# Rules engine on the real-world corpus", "",
             f"{n} scripts from public repositories (tests/data/realworld, sources in MANIFEST.yaml), "
             "`engine: rules`, no LLM. Regenerate with `python -m bench.realworld`.", "",
             "| measure | result | target |", "|---|---|---|",
             f"| syntax-check pass | {syntax}/{n} = {pct(syntax, n)} | 100% |",
             f"| expected-module recall | {recalled}/{expected} = {pct(recalled, expected)} | >= 90% |",
             f"| tasks that are real modules | {modules}/{tasks} = {pct(modules, tasks)} | >= 85% |",
             f"| production-lint clean | {f'{clean}/{n} = {pct(clean, n)}' if lint_ran else 'not run'} | >= 90% |",
             "", "| script | tasks | real modules | recall | missing modules | syntax | lint |", "|---|---:|---:|---:|---|---|---|"]
    for s in scripts:
        missing = [m for m in s.expected if m not in s.recalled]
        lint = "n/a" if s.lint is None else ("clean" if not s.lint else ", ".join(s.lint))
        lines.append(f"| {s.name} | {s.tasks} | {pct(s.module_tasks, s.tasks)} | {len(s.recalled)}/{len(s.expected)} | "
                     f"{', '.join(missing) or '-'} | {'pass' if s.syntax_ok else 'FAIL'} | {lint} |")
    return "\n".join(lines) + "\n", totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-lint", action="store_true", help="skip ansible-lint (about a minute)")
    args = parser.parse_args(argv)
    scripts, texts = convert_corpus()
    rows = {s.name: Row(s.name, s.tasks, s.module_tasks) for s in scripts}
    syntax_check(rows, texts)
    if not args.no_lint:
        lint_all(rows, texts)
    for s in scripts:
        s.syntax_ok, s.syntax_errors, s.lint = rows[s.name].syntax_ok, rows[s.name].syntax_errors, rows[s.name].lint
    text, totals = report(scripts, not args.no_lint)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "realworld.md").write_text(text, encoding="utf-8")
    (RESULTS / "realworld.json").write_text(json.dumps({
        "bench": "realworld", "command": "python -m bench.realworld " + " ".join(argv or sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "totals": totals, "scripts": [{**asdict(s), "recalled": s.recalled} for s in scripts],
    }, indent=2) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
