"""Latency of PlaybookValidator.validate(), with and without syntax-check.

    python bench/validation_latency.py [--runs 30]

Each run validates a fresh playbook (a unique task name defeats the per-text
cache), so the numbers are for a new LLM reply; a cached repeat is shown too.
The argspec table comes from the cache (built first if missing: ~30 s once).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from validation.argspecs import load_argspecs  # noqa: E402
from validation.syntax import SyntaxChecker  # noqa: E402
from validation.validator import PlaybookValidator  # noqa: E402


def sample(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "Web server",
            "hosts": "all",
            "become": True,
            "tasks": [
                {"name": f"Install packages {n}", "ansible.builtin.apt": {"name": ["nginx", "git"], "update_cache": True}},
                {"name": "Site config", "ansible.builtin.copy": {"dest": "/etc/nginx/conf.d/a.conf", "content": "x\n", "mode": "0644"}, "notify": "Restart nginx"},
                {"name": "Firewall", "community.general.ufw": {"rule": "allow", "port": "80", "proto": "tcp"}},
                {"name": "Sysctl", "ansible.posix.sysctl": {"name": "vm.swappiness", "value": "10"}},
                {"name": "Start nginx", "ansible.builtin.service": {"name": "nginx", "state": "started", "enabled": True}},
            ],
            "handlers": [{"name": "Restart nginx", "ansible.builtin.service": {"name": "nginx", "state": "restarted"}}],
        }
    ]


def measure(validator: PlaybookValidator, runs: int, offset: int) -> list[float]:
    times = []
    for i in range(runs):
        report = validator.validate(sample(offset + i))
        assert report.ok, report
        times.append(report.elapsed_s)
    return times


def show(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"{label:<38} median {statistics.median(times) * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   (n={len(times)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    started = time.monotonic()
    specs = load_argspecs()
    print(f"argspecs: {len(specs)} modules known, loaded in {time.monotonic() - started:.2f} s")

    show("structure + modules (no syntax-check)", measure(PlaybookValidator(specs, syntax_check=False), args.runs, 0))
    with SyntaxChecker() as checker:
        started = time.monotonic()
        checker.start()
        print(f"syntax-check helper warm-up: {time.monotonic() - started:.2f} s")
        validator = PlaybookValidator(specs, syntax=checker)
        show("+ syntax-check (warm helper)", measure(validator, args.runs, 1000))
        show("cached repeat", [validator.validate(sample(1000)).elapsed_s for _ in range(args.runs)])
    with SyntaxChecker(use_helper=False) as plain:
        show("+ syntax-check (process per check)", measure(PlaybookValidator(specs, syntax=plain), max(5, args.runs // 6), 2000))


if __name__ == "__main__":
    main()
