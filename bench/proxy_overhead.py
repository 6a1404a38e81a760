"""Proxy overhead and throughput: wrk straight to a fake worker, through our balancer, through HAProxy.

    python -m bench.proxy_overhead [--duration 10] [--rounds 2] [--clients 1,16,64] [--processes 2]
    python -m bench.proxy_overhead --clients 64 --targets ours,ours-1 --duration 6 --rounds 3   (a quick A/B)

Starts three instant fake workers (``bench.fake_worker``, one send per reply, 16 slots each),
our balancer in front of them (backends.json with ``slots: 16``) and HAProxy 2.6 in front of
the same three (``balance leastconn``, ``maxconn 16`` per server, http mode, keep-alive), all on
free 127.0.0.1 ports. wrk (one thread, keep-alive connections) sends ``POST /generate`` with a
small JSON body for ``--duration`` seconds per point: straight to one fake worker ("direct"),
through ours and through HAProxy, at each client count. At the lowest and highest count, wrk
also sends ``GET /healthz`` to our balancer, which answers it itself: the floor of our serving
stack (gunicorn, gevent, Flask, the access log) without any call to a worker. The targets take turns within a round,
so load from other processes on the machine hits all three alike; with ``--rounds`` > 1 each
figure is the median over the rounds (every run is kept in the JSON). "added p50" is the
path's p50 minus the direct p50 at the same client count.

"ours" runs with ``BALANCER_PROCESSES=--processes`` (default 2: two serving processes sharing
one pool in shared memory, as the README describes); with more than one, a second balancer with
the default single process ("ours, one process") is measured beside it in the same rounds. Its
CPU per request sums every serving process of the balancer.

``--targets`` measures only some of the paths (``direct``, ``ours``, ``ours-1``, ``haproxy``), e.g.
our balancer alone for a quick A/B of two builds; without ``direct`` there is no "added p50", and
without ``haproxy`` no ratio to it. Prints a table and writes ``bench/results/proxy_overhead.json``
(a partial run writes ``proxy_overhead_partial.json`` instead, so the suite's figures stay).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from bench.farm import (Farm, balancer_worker_pids, log_summary, ms, report, require_tools, run_wrk, signed_ms, table,
                        write_report, wrk_script)

TARGETS = ("direct", "ours", "ours-1", "haproxy")
FLOOR = "ours-healthz"
LABELS = {"direct": "direct to one worker", "ours": "through our balancer", "ours-1": "through our balancer, one process",
          "haproxy": "through HAProxy", FLOOR: "our balancer's own GET /healthz (no worker call: the serving stack alone)"}
PROCESSES = 2  # BALANCER_PROCESSES of "ours"


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds."""
    keys = ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "cpu_ms_per_request")
    out: dict[str, Any] = {k: round(statistics.median(r[k] for r in runs), 3) if runs[0][k] is not None else None
                           for k in keys}
    out["requests"] = sum(r["requests"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    out["rounds"] = len(runs)
    return out


def run(*, duration_s: float = 10.0, rounds: int = 2, clients: tuple[int, ...] = (1, 16, 64),
        warmup_s: float = 2.0, processes: int = PROCESSES, only: tuple[str, ...] = TARGETS,
        argv: list[str] | None = None) -> dict[str, Any]:
    require_tools()
    started = time.monotonic()
    targets = tuple(t for t in TARGETS if t in only and (processes > 1 or t != "ours-1"))
    with Farm("proxy") as farm:
        fakes = [farm.fake(write="one") for _ in range(3)]
        ours = farm.balancer([(f.port, 16) for f in fakes], {"BALANCER_PROCESSES": str(processes)})
        single = farm.balancer([(f.port, 16) for f in fakes]) if "ours-1" in targets else ours
        haproxy = farm.haproxy([f.port for f in fakes], balance="leastconn", maxconn=16) if "haproxy" in targets else None
        ports = {"direct": fakes[0].port, "ours": ours.port, "ours-1": single.port,
                 "haproxy": haproxy.port if haproxy else 0}
        cpu_pids = {"direct": [fakes[0].pid], "ours": balancer_worker_pids(ours), "ours-1": balancer_worker_pids(single),
                    "haproxy": [haproxy.pid] if haproxy else []}
        script = wrk_script(farm.dir)
        get_script = wrk_script(farm.dir, None)
        for target in targets:  # warm up connection pools and code paths
            run_wrk(ports[target], clients=16, duration_s=warmup_s, script=script)
        floor_counts = sorted({min(clients), max(clients)}) if "ours" in targets else []
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {t: {c: [] for c in clients} for t in (*targets, FLOOR)}
        for _ in range(rounds):
            for count in clients:
                for target in targets:
                    runs[target][count].append(run_wrk(ports[target], clients=count, duration_s=duration_s, script=script,
                                                       cpu_pids=cpu_pids[target]))
                if count in floor_counts:
                    runs[FLOOR][count].append(run_wrk(ours.port, clients=count, duration_s=duration_s, script=get_script,
                                                      path="/healthz", cpu_pids=cpu_pids["ours"]))
        commands = farm.commands()
        files = {**farm.files, "post.lua": script.read_text(), "get.lua": get_script.read_text()}
        balancer_log = log_summary(ours)
        single_log = log_summary(single) if single is not ours else None
    results: dict[str, Any] = {"duration_s": duration_s, "rounds": rounds, "balancer_processes": processes, "points": []}
    for count in clients:
        direct = median_run(runs["direct"][count]) if "direct" in runs else None
        for target in (*targets, FLOOR):
            if not runs[target][count]:
                continue
            point = median_run(runs[target][count])
            point.update(target=target, clients=count, runs=runs[target][count])
            point["added_p50_ms"] = (None if target in ("direct", FLOOR) or direct is None
                                     else round(point["p50_ms"] - direct["p50_ms"], 3))
            results["points"].append(point)
    by = {(p["target"], p["clients"]): p for p in results["points"]}
    top = max(clients)
    ratio = (round(by[("ours", top)]["rps"] / by[("haproxy", top)]["rps"], 3)
             if ("ours", top) in by and ("haproxy", top) in by and by[("haproxy", top)]["rps"] else None)
    summary = {
        "added_p50_1_client_ms": {t: by[(t, 1)]["added_p50_ms"] for t in ("ours", "haproxy") if (t, 1) in by}
        if 1 in clients else None,
        f"rps_{top}_clients": {t: by[(t, top)]["rps"] for t in targets},
        f"ours_over_haproxy_rps_{top}_clients": ratio,
        f"p50_{top}_clients_ms": {t: by[(t, top)]["p50_ms"] for t in targets},
    }
    results["summary"] = summary
    results["balancer_log"] = balancer_log
    results["balancer_log_one_process"] = single_log
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    rows = []
    for p in results["points"]:
        label = LABELS[p["target"]] + (f" (BALANCER_PROCESSES={processes})" if p["target"] in ("ours", FLOOR) else "")
        rows.append([p["clients"], label, f"{p['rps']:,.0f}", ms(p["p50_ms"]), ms(p["p99_ms"]),
                     signed_ms(p["added_p50_ms"]), ms(p["cpu_ms_per_request"], 3), p["errors"]])
    md = (f"Proxy overhead: wrk POST /generate, {duration_s:g} s per point, median of {rounds} round(s); "
          "3 instant fake workers (16 slots each) behind each proxy\n\n"
          + table(["clients", "path", "requests/s", "p50", "p99", "added p50", "CPU per request", "errors"], rows)
          + f"\n\nours / HAProxy requests/s at {top} clients: {summary[f'ours_over_haproxy_rps_{top}_clients']}. "
          f"Our balancer's log: access log {balancer_log.get('replies')} (499: wrk closing connections at the end of "
          f"a run); {balancer_log.get('server_500')} requests answered 500 by the server's error handler; "
          f"{balancer_log.get('warnings_and_errors')} WARNING/ERROR records (the first ones whole in the JSON).")
    return report("proxy_overhead", argv or [], results, commands=commands, files=files, table_md=md,
                  notes=["CPU per request: user + system CPU time of the processes that serve the path (the fake worker, "
                         "our balancer's gunicorn workers, HAProxy) over the run, divided by the requests wrk counted.",
                         "HAProxy runs with its default thread count (one per CPU); our balancer runs BALANCER_PROCESSES "
                         "gevent processes sharing one pool (\"ours\") or the default one (\"ours, one process\").",
                         "wrk runs one thread on the same machine; all processes share its CPUs."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--processes", type=int, default=PROCESSES, help="BALANCER_PROCESSES of our balancer")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"a subset of {','.join(TARGETS)}")
    args = parser.parse_args()
    only = tuple(t for t in args.targets.split(",") if t)
    unknown = set(only) - set(TARGETS)
    if unknown or not only:
        raise SystemExit(f"unknown target(s): {', '.join(sorted(unknown))}; known: {', '.join(TARGETS)}")
    out = run(duration_s=args.duration, rounds=args.rounds, clients=tuple(int(c) for c in args.clients.split(",")),
              processes=args.processes, only=only, argv=sys.argv[1:])
    path = write_report("proxy_overhead" if set(only) >= set(TARGETS) else "proxy_overhead_partial", out)
    print(out["table"])
    print(f"results in {path}")


if __name__ == "__main__":
    main()
