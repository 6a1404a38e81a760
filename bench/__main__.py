"""The performance suite of issue 9, in one run: ``python -m bench`` (about 10 minutes).

    python -m bench [--quick] [--only proxy_overhead,stall,packing,split_speedup,status_latency,memory]

Runs, one after another on this machine, each against processes it starts on free 127.0.0.1
ports (fake workers, our balancer, HAProxy) and stops by pid:

- ``bench.proxy_overhead``: wrk at 1, 16, 64 clients: direct, through ours (BALANCER_PROCESSES=2:
  the headline's "ours" for these rows), through ours with the default single process, through HAProxy;
- ``bench.stall``: a worker that writes its reply head and body in two sends, behind both;
- ``bench.packing``: seeded jobs of varied durations on 3 one-slot workers vs the ideal bound;
- ``bench.split_speedup``: one 200-line split job on K = 1, 2, 4, 8 one-slot workers;
- ``bench.status_latency``: ``/queue-status`` with 1,000 waiting clients, and with 47 of 50
  backends dead or silent;
- ``bench.memory``: the balancer's RSS idle and with waiting clients.

Each writes ``bench/results/<name>.json``; this writes them all to ``bench/results/perf.json``
and the tables, headed by the issue's targets, to ``bench/results/perf.md``. ``--quick``
shortens every run (a smoke test; its numbers are not the ones to quote). Needs haproxy and
wrk (``make bench`` installs Debian's when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import memory, packing, proxy_overhead, split_speedup, stall, status_latency
from bench.farm import RESULTS, machine, require_tools, write_report

BENCHES: dict[str, Callable[[bool], dict[str, Any]]] = {
    "proxy_overhead": lambda quick: proxy_overhead.run(duration_s=3 if quick else 8, rounds=1 if quick else 3),
    "stall": lambda quick: stall.run(duration_s=2 if quick else 5, rounds=1 if quick else 3),
    "packing": lambda quick: packing.run(jobs=12 if quick else 40, seed=5),
    "split_speedup": lambda quick: split_speedup.run(delay_s=0.1 if quick else 0.5, repeat=1 if quick else 2),
    "status_latency": lambda quick: status_latency.run(waiting=200 if quick else 1000, calls=100 if quick else 500),
    "memory": lambda quick: memory.run(steps=(100, 200) if quick else (500, 1000)),
}


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def uptime() -> str:
    """``uptime``'s line (time, up, users, load averages), or the load averages alone."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def headline(reports: dict[str, dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The issue's "must show" targets against this run's numbers."""
    rows: list[dict[str, Any]] = []

    def add(measure: str, ours: Any, haproxy: Any, target: str, met: bool | None) -> None:
        rows.append({"measure": measure, "ours": ours, "haproxy": haproxy, "target": target, "met": met})

    proxy = reports.get("proxy_overhead", {}).get("results")
    if proxy:
        points = {(p["target"], p["clients"]): p for p in proxy["points"]}
        setting = f" (ours: BALANCER_PROCESSES={proxy.get('balancer_processes', 1)})"
        if ("ours", 1) in points:
            o, h = points[("ours", 1)]["added_p50_ms"], points[("haproxy", 1)]["added_p50_ms"]
            add("added p50 latency at 1 client" + setting, _fmt(o, " ms", 3), _fmt(h, " ms", 3), "≤ 1.0 ms", o <= 1.0)
        top = max(c for _, c in points)
        o, h = points[("ours", top)]["rps"], points[("haproxy", top)]["rps"]
        add(f"requests/s at {top} clients{setting}", f"{o:,.0f} ({o / h:.3f}× HAProxy)" if h else _fmt(o), f"{h:,.0f}",
            "≥ 0.10× HAProxy", (o / h >= 0.10) if h else None)
        o, h = points[("ours", top)]["p50_ms"], points[("haproxy", top)]["p50_ms"]
        add(f"p50 latency at {top} clients{setting}", _fmt(o, " ms"), _fmt(h, " ms"), "≤ HAProxy's + 20 ms", o <= h + 20)
        if ("ours-1", top) in points:
            one, rps = points[("ours-1", top)], points[("haproxy", top)]["rps"]
            add(f"requests/s and p50 at {top} clients, our balancer with one process (the default)",
                f"{one['rps']:,.0f} ({one['rps'] / rps:.3f}× HAProxy), p50 {_fmt(one['p50_ms'], ' ms')}" if rps else "–",
                "–", "–", None)
        o, h = points[("ours", top)]["cpu_ms_per_request"], points[("haproxy", top)]["cpu_ms_per_request"]
        add(f"proxy CPU per request at {top} clients", _fmt(o, " ms", 3), _fmt(h, " ms", 3), "–", None)
        o = sum(p["errors"] for p in proxy["points"] if p["target"] == "ours")
        h = sum(p["errors"] for p in proxy["points"] if p["target"] == "haproxy")
        log = proxy.get("balancer_log") or {}
        add("failed requests wrk saw, all proxy runs (ours: 500s from the server's error handler in its log)",
            f"{o} ({log.get('server_500', '?')} × 500 in the log)", str(h), "0", o == 0)
    st = reports.get("stall", {}).get("results")
    if st:
        points = {(p["path"], p["worker_writes"]): p for p in st["points"]}
        o, h = points[("ours", "two")], points[("haproxy", "two")]
        add("two-send worker, 1 client: added p50 vs a direct client of a one-send worker",
            _fmt(o["added_p50_vs_one_send_worker_ms"], " ms"), _fmt(h["added_p50_vs_one_send_worker_ms"], " ms"),
            "≤ 1.0 ms", o["added_p50_vs_one_send_worker_ms"] <= 1.0)
        add("two-send worker, 1 client: added p50 vs a direct client of the same worker",
            _fmt(o["added_p50_vs_same_worker_ms"], " ms"), _fmt(h["added_p50_vs_same_worker_ms"], " ms"),
            "–", None)
    status = reports.get("status_latency", {}).get("results")
    if status:
        w = status["waiting_clients"]
        add("calibration: /queue-status p99 with the queue empty (machine noise)", _fmt(w["idle"]["p99_ms"], " ms"), "–",
            "–", None)
        add(f"balancer CPU with {w['waiting']} clients waiting and no traffic", f"{w.get('balancer_cpu_pct_waiting')}% of a CPU "
            f"(queue empty: {w.get('balancer_cpu_pct_idle')}%)", "–", "–", None)
        add(f"/queue-status p99 with {w['waiting']} clients waiting", _fmt(w["loaded"]["p99_ms"], " ms"), "–",
            "< 5 ms", w["loaded"]["p99_ms"] < 5)
        d = status["dead_backends"]
        add(f"/queue-status p99 with {d['backends'] - d['good']} of {d['backends']} backends dead or silent",
            _fmt(d["loaded"]["p99_ms"], " ms"), "–", "< 5 ms", d["loaded"]["p99_ms"] < 5)
    mem = reports.get("memory", {}).get("results")
    if mem:
        loaded = [s for s in mem["samples"] if s["waiting"]]
        if loaded:
            last = loaded[-1]
            mb = last["total_kb"] / 1024
            add(f"balancer memory (RSS master + worker) with {last['waiting']} clients waiting",
                f"{mb:.1f} MB (PSS {last['total_pss_kb'] / 1024:.1f} MB; {last['per_waiting_client_bytes']:,} B per client)",
                "–", "< 150 MB", mb < 150)
    pack = reports.get("packing", {}).get("results")
    if pack:
        setups = {s["setup"]: s for s in pack["setups"]}
        o, h = setups["ours"], setups["haproxy-leastconn"]
        add(f"packing: {pack['jobs']} jobs of varied durations on {pack['workers']} workers, bound / makespan",
            _fmt(o["efficiency_pct"], "%", 1), _fmt(h["efficiency_pct"], "%", 1) + " (leastconn)",
            "≥ 97% and ≥ HAProxy leastconn",
            o["efficiency_pct"] >= 97 and o["makespan_s"] <= h["makespan_s"])
    split = reports.get("split_speedup", {}).get("results")
    if split:
        for p in split["points"]:
            if p["workers"] > 1 and "pct_of_bound" in p:
                add(f"split speed-up at K = {p['workers']} (bound {p['bound']})", f"{p['speedup']} ({p['pct_of_bound']}% of bound)",
                    "–", "≥ 90% of bound", p["pct_of_bound"] >= 90)
    lines = ["| measure | ours | HAProxy | target | met |", "|---|---|---|---|---|"]
    for r in rows:
        met = "–" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['measure']} | {r['ours']} | {r['haproxy']} | {r['target']} | {met} |")
    return "\n".join(lines), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test of the suite")
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset, in this order")
    args = parser.parse_args()
    require_tools()
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(BENCHES)
    if unknown:
        raise SystemExit(f"unknown bench(es): {', '.join(sorted(unknown))}; known: {', '.join(BENCHES)}")
    started = time.time()
    load_before, ticks_before = uptime(), cpu_ticks()
    reports: dict[str, dict[str, Any]] = {}
    for name in names:
        before = [round(x, 2) for x in os.getloadavg()]
        t0 = time.monotonic()
        print(f"== {name} (load average {before[0]})", flush=True)
        out = BENCHES[name](args.quick)
        out["command"] = "python -m bench " + " ".join(sys.argv[1:]) + f"  (bench.{name})"
        out["loadavg_before"] = before
        out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        out["elapsed_s"] = round(time.monotonic() - t0, 1)
        write_report(name, out)
        reports[name] = out
        print(out["table"] + "\n", flush=True)
    head_md, head_rows = headline(reports)
    info = machine()
    busy, total = (after - before for after, before in zip(cpu_ticks(), ticks_before))
    load = {"uptime_before": load_before, "uptime_after": uptime(),
            "cpus_busy_pct": round(100 * busy / total, 1) if total else None}
    command = "python -m bench " + " ".join(sys.argv[1:])
    perf = {"command": command.strip(), "machine": info, "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)) + " UTC",
            "elapsed_s": round(time.time() - started, 1), "quick": args.quick, "load": load, "headline": head_rows,
            "benches": reports}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "perf.json").write_text(json.dumps(perf, indent=2) + "\n")
    md = [f"# Performance suite (`{command.strip()}`)", "",
          f"Run {perf['started']}, {perf['elapsed_s']:.0f} s; {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, "
          f"{info['haproxy']}, {info['wrk']}; commit {info['commit']}."
          + (" **--quick: smoke-test durations, not the numbers to quote.**" if args.quick else ""), "",
          f"Machine load (other agents and tests share this machine): `uptime` before: `{load['uptime_before']}`; after: "
          f"`{load['uptime_after']}`; all {info['cpus']} CPUs were {load['cpus_busy_pct']}% busy on average over the run "
          "(this suite's own processes included).", "",
          "## Against the targets of issue 9", "", head_md, ""]
    for name, out in reports.items():
        md += [f"## {name}", "", f"`{out['command']}`, {out['elapsed_s']} s, load average before/after "
               f"{out['loadavg_before'][0]}/{out['loadavg_after'][0]}", "", out["table"], ""]
    (RESULTS / "perf.md").write_text("\n".join(md))
    print("## Against the targets of issue 9\n\n" + head_md)
    print(f"\nresults in {RESULTS / 'perf.json'} and {RESULTS / 'perf.md'}")


if __name__ == "__main__":
    main()
