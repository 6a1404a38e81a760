"""bench/results/verify.json and verify.md: a row per script, totals, machine and command."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verify.rootfs import BaseRoot, CopyTiming
from verify.run import DIFFERS, EQUIVALENT, NOT_RUNNABLE, ScriptResult

__all__ = ["Report", "RESULTS", "machine", "markdown", "write"]

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


@dataclass(frozen=True)
class Report:
    results: tuple[ScriptResult, ...]
    base: BaseRoot
    corpus: str
    command: str
    jobs: int
    copy_method: str
    timeout_s: float
    copy_timing: CopyTiming | None
    wall_s: float
    machine: dict[str, Any]

    def totals(self) -> dict[str, Any]:
        runnable = [r for r in self.results if r.status != NOT_RUNNABLE]
        equivalent = sum(r.status == EQUIVALENT for r in runnable)
        return {
            "scripts": len(self.results),
            "runnable": len(runnable),
            "equivalent": equivalent,
            "differs": sum(r.status == DIFFERS for r in runnable),
            "not_runnable": len(self.results) - len(runnable),
            "equivalent_pct_of_runnable": round(100 * equivalent / len(runnable), 1) if runnable else None,
        }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    os_name = "unknown"
    try:
        os_name = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines()
                       if "=" in line).get("PRETTY_NAME", "unknown").strip('"')
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kb / 1048576, 1),
            "os": os_name, "kernel": platform.release(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def command_line() -> str:
    return " ".join(["python -m verify", *(shlex.quote(a) for a in sys.argv[1:])])


def _cell(text: str, limit: int = 220) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown(report: Report) -> str:
    t = report.totals()
    lines = ["# Execution-checked equivalence (`make verify`)", "",
             f"Each script in `{report.corpus}` ran as root in a throwaway copy of a Debian "
             f"{report.base.release} root, and the playbook the rules engine makes of it ran "
             "in another copy through ansible's chroot connection; the two resulting states "
             "were compared (files, packages, users and groups, enabled units, crontabs, "
             "sysctl). See `verify/__init__.py`.", "",
             "| script | status | script s | playbook s | first difference / why not runnable |",
             "|---|---|---:|---:|---|"]
    for r in report.results:
        detail = str(r.differences[0]) if r.differences else r.reason
        if r.difference_count > 1:
            detail = f"{r.difference_count} differences; first: {detail}"
        ran = r.timings.script_s or r.timings.playbook_s
        lines.append(f"| {r.name} | {r.status} | {r.timings.script_s if ran else '-'} | "
                     f"{r.timings.playbook_s if ran else '-'} | {_cell(detail)} |")
    pct = "n/a" if t["equivalent_pct_of_runnable"] is None else f"{t['equivalent_pct_of_runnable']}%"
    lines += ["", "## Totals", "",
              "| scripts | runnable | equivalent | differs | not runnable | equivalent of runnable |",
              "|---:|---:|---:|---:|---:|---:|",
              f"| {t['scripts']} | {t['runnable']} | {t['equivalent']} | {t['differs']} | "
              f"{t['not_runnable']} | {pct} |", ""]
    differing = [r for r in report.results if r.status == DIFFERS]
    if differing:
        lines += ["## First differences", ""]
        for r in differing:
            lines.append(f"### {r.name} ({r.difference_count})")
            lines.append("")
            lines += [f"- {_cell(str(d), 400)}" for d in r.differences]
            lines.append("")
    m = report.machine
    base = report.base
    lines += ["## Run", "",
              f"- command: `{report.command}` (`--jobs {report.jobs}`, copies: "
              f"{report.copy_method}, time bound {report.timeout_s:.0f} s per run)",
              f"- machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, {m['os']}, "
              f"kernel {m['kernel']}, Python {m['python']}, {m['date']}",
              f"- base root: debootstrap minbase {base.release} from {base.mirror} + "
              f"{', '.join(base.packages)}; built in {base.build_seconds:.0f} s "
              f"({'this run' if base.built_now else 'cached'}, key {base.key})",
              f"- wall time: {report.wall_s:.0f} s",
              "- each script's last logs and playbook: `~/.cache/distributed-ansible/verify/logs/NAME/` "
              "(`logs` in verify.json)"]
    if report.copy_timing:
        c = report.copy_timing
        lines.append(f"- one copy of the root: overlayfs mount + unmount {c.overlay_s:.3f} s; "
                     f"`cp -a --reflink=auto` {c.cp_s:.1f} s (+ {c.cp_remove_s:.1f} s to delete)")
    lines.append("")
    return "\n".join(lines)


def to_json(report: Report) -> dict[str, Any]:
    return {
        "command": report.command,
        "corpus": report.corpus,
        "machine": report.machine,
        "jobs": report.jobs,
        "copy_method": report.copy_method,
        "timeout_s": report.timeout_s,
        "wall_s": report.wall_s,
        "base_root": {"release": report.base.release, "mirror": report.base.mirror,
                      "packages": list(report.base.packages), "key": report.base.key,
                      "build_seconds": report.base.build_seconds,
                      "built_this_run": report.base.built_now, "path": str(report.base.path)},
        "copy_timing": dataclasses.asdict(report.copy_timing) if report.copy_timing else None,
        "totals": report.totals(),
        "scripts": [dataclasses.asdict(r) for r in report.results],
    }


def write(report: Report, results: Path = RESULTS) -> tuple[Path, Path]:
    results.mkdir(parents=True, exist_ok=True)
    json_path, md_path = results / "verify.json", results / "verify.md"
    json_path.write_text(json.dumps(to_json(report), indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path
