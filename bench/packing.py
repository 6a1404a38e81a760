"""Packing: jobs of varied durations sent all at once to K one-slot workers; makespan against the bound.

    python -m bench.packing [--jobs 40] [--workers 3] [--min 0.1] [--max 1.5] [--seed 5]

Starts K sleeping fake workers (``bench.fake_worker --slots 1``: one job at a time, later ones
wait in the worker's own FIFO queue; a job sleeps the ``sleep_s`` its request carries). The
seeded durations are sent as ``POST /generate`` jobs, in the same order and 2 ms apart (so
every proxy sees the same arrival order), one connection each, through:

- our balancer (backends.json with ``slots: 1``; the jobs wait in the balancer's queue);
- HAProxy ``balance leastconn`` with ``maxconn 1`` per server (the jobs wait in HAProxy's queue);
- HAProxy ``balance roundrobin`` with ``maxconn 1`` per server (the same queue; a freed server
  takes the oldest waiting job, so the order of picking matters little);
- HAProxy ``balance roundrobin`` without maxconn: job i goes to worker i mod K at once and waits
  in THAT worker's queue (naive round-robin, no queue at the proxy).

Makespan: from the first send to the last reply. The handoff gap is measured by the workers
themselves: the idle time between one job's end and the next one's start on a worker. The ideal bound is max(total / K, longest);
"greedy" is the makespan of a perfect dispatcher that gives each job, in arrival order, to the
first worker to become free, with no overhead (list scheduling: what a FIFO queue at the proxy
can at best achieve in this order). Efficiency = bound / makespan. The default seed is one where
greedy reaches 98.3% of the bound; with some seeds (9: 96.6%) no FIFO dispatcher can reach 97%.

Prints a table and writes ``bench/results/packing.json``.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import random
import sys
import threading
import time
from typing import Any

from bench.farm import MODEL, Client, Farm, percentile, report, require_tools, table, write_report

SEND_GAP_S = 0.002


def durations(jobs: int, low: float, high: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.uniform(low, high), 3) for _ in range(jobs)]


def greedy_makespan(jobs: list[float], workers: int) -> float:
    free = [0.0] * workers
    for d in jobs:
        start = heapq.heappop(free)
        heapq.heappush(free, start + d)
    return max(free)


def send_all(port: int, jobs: list[float], timeout_s: float) -> dict[str, Any]:
    """Send every job (one connection each, in order, SEND_GAP_S apart); the makespan and replies."""
    replies: list[dict[str, Any] | None] = [None] * len(jobs)

    def one(i: int, d: float) -> None:
        body = json.dumps({"commands": f"echo job {i}", "model": MODEL, "sleep_s": d})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        try:
            conn.request("POST", "/generate", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            replies[i] = {"status": response.status, "done": time.monotonic(),
                          "backend": response.getheader("X-Backend")}
        except (OSError, http.client.HTTPException) as exc:
            replies[i] = {"status": None, "done": time.monotonic(), "error": repr(exc)}
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i, d), daemon=True) for i, d in enumerate(jobs)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
        time.sleep(SEND_GAP_S)
    for thread in threads:
        thread.join(timeout_s)
    done = [r for r in replies if r is not None]
    ok = sum(1 for r in done if r["status"] == 200)
    return {"makespan_s": round(max(r["done"] for r in done) - start, 3) if done else None,
            "ok": ok, "jobs": len(jobs), "errors": [r.get("error") or r["status"] for r in done if r["status"] != 200][:5]}


def handoff_gaps(ports: list[int]) -> dict[str, Any]:
    """From the workers' own timelines: idle time between one job's end and the next one's start on a
    worker (all jobs are queued by then, so every gap is dispatch overhead), and the most jobs a
    worker ran at once."""
    gaps: list[float] = []
    max_running = 0
    for port in ports:
        client = Client(port)
        stats = client.json("GET", "/fake/stats")[1]
        client.close()
        max_running = max(max_running, stats["max_running"])
        timeline = sorted(stats["timeline"], key=lambda t: t[1])
        gaps += [(later[1] - earlier[2]) * 1000 for earlier, later in zip(timeline, timeline[1:])]
    return {"handoffs": len(gaps), "gap_mean_ms": round(sum(gaps) / len(gaps), 2) if gaps else None,
            "gap_p50_ms": round(percentile(gaps, 50), 2) if gaps else None,
            "gap_max_ms": round(max(gaps), 2) if gaps else None, "max_running_on_a_worker": max_running}


def run(*, jobs: int = 40, workers: int = 3, low: float = 0.1, high: float = 1.5, seed: int = 5,
        argv: list[str] | None = None) -> dict[str, Any]:
    require_tools()
    work = durations(jobs, low, high, seed)
    total, longest = sum(work), max(work)
    bound = max(total / workers, longest)
    greedy = greedy_makespan(work, workers)
    timeout_s = total + 60
    setups = (
        ("ours", "our balancer (slots 1, queue at the balancer)"),
        ("haproxy-leastconn", "HAProxy leastconn, maxconn 1 (queue at HAProxy)"),
        ("haproxy-roundrobin", "HAProxy roundrobin, maxconn 1 (queue at HAProxy)"),
        ("roundrobin-worker-queues", "round-robin, no proxy queue (HAProxy roundrobin, no maxconn; jobs wait at the workers)"),
    )
    results: dict[str, Any] = {"jobs": jobs, "workers": workers, "seed": seed, "durations_s": work,
                               "total_s": round(total, 3), "longest_s": longest, "bound_s": round(bound, 3),
                               "greedy_s": round(greedy, 3), "setups": []}
    commands: list[str] = []
    files: dict[str, str] = {}
    for key, label in setups:
        with Farm("packing") as farm:
            fakes = [farm.fake(slots=1) for _ in range(workers)]
            ports = [f.port for f in fakes]
            if key == "ours":
                port = farm.balancer([(p, 1) for p in ports], {"MAX_QUEUE": str(jobs + 10), "QUEUE_TIMEOUT": str(int(timeout_s))}).port
            elif key == "haproxy-leastconn":
                port = farm.haproxy(ports, balance="leastconn", maxconn=1).port
            elif key == "haproxy-roundrobin":
                port = farm.haproxy(ports, balance="roundrobin", maxconn=1).port
            else:
                port = farm.haproxy(ports, balance="roundrobin", maxconn=None).port
            outcome = send_all(port, work, timeout_s)
            outcome.update(handoff_gaps(ports))
            commands += farm.commands()
            files.update(farm.files)
        makespan = outcome["makespan_s"]
        results["setups"].append({
            "setup": key, "label": label, **outcome,
            "efficiency_pct": round(100 * bound / makespan, 1) if makespan else None,
            "vs_greedy_pct": round(100 * greedy / makespan, 1) if makespan else None,
        })
    rows = [[s["label"], f"{s['ok']}/{s['jobs']}", f"{s['makespan_s']:.2f} s", f"{s['efficiency_pct']}%", f"{s['vs_greedy_pct']}%",
             f"{s['gap_mean_ms']} ms", f"{s['gap_max_ms']} ms", s["max_running_on_a_worker"]]
            for s in results["setups"]]
    md = (f"Packing: {jobs} jobs of {low:g}–{high:g} s (seed {seed}, total {total:.2f} s, longest {longest:.2f} s) on "
          f"K={workers} one-slot workers, sent 2 ms apart; ideal bound max(total/K, longest) = {bound:.2f} s, "
          f"greedy FIFO dispatch in this order = {greedy:.2f} s\n\n"
          + table(["setup", "jobs ok", "makespan", "bound / makespan", "greedy / makespan", "handoff gap mean",
                   "handoff gap max", "most jobs at once on a worker"], rows)
          + "\n\nhandoff gap: on each worker, the idle time between a job's end and the next job's start (from the "
          "workers' own clocks; every job is queued by then, so it is all dispatch overhead).")
    return report("packing", argv or [], results, commands=commands, files=files, table_md=md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--min", type=float, default=0.1)
    parser.add_argument("--max", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    out = run(jobs=args.jobs, workers=args.workers, low=args.min, high=args.max, seed=args.seed, argv=sys.argv[1:])
    path = write_report("packing", out)
    print(out["table"])
    print(f"results in {path}")


if __name__ == "__main__":
    main()
