"""``GET /queue-status`` latency of our balancer under two loads: a full waiting queue, and dead backends.

    python -m bench.status_latency [--waiting 1000] [--calls 500] [--gap 0.01] [--backends 50] [--good 3]

1. **Waiting clients.** Three one-slot fake workers whose jobs never end (``bench.fake_worker
   --slots 1 --delay 800``) behind our balancer (``slots: 1``, MAX_QUEUE=2000, QUEUE_TIMEOUT=900):
   3 jobs hold the slots and ``--waiting`` more clients each send a whole ``POST /generate`` and
   wait in the balancer's queue. The balancer's CPU use with no traffic is read over 5 s, with
   the queue empty and full. ``--calls`` sequential ``/queue-status`` calls on one kept-alive
   connection, ``--gap`` seconds apart, first with the queue empty, then full. Finally every
   client closes and the time until the balancer has dropped all their jobs is measured.
2. **Dead and silent backends.** ``--backends`` backends: ``--good`` instant fake workers, and of
   the rest half refuse connections (free ports nobody listens on) and half are silent (one
   process accepts on their ports and never answers). Defaults of HEALTH_INTERVAL (2 s) and
   HEALTH_TIMEOUT (1 s). Once the balancer reports only the good ones online, the same
   ``/queue-status`` calls run (the gap spreads them over several health rounds).

Prints a table and writes ``bench/results/status_latency.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bench.farm import (
    Client,
    Farm,
    balancer_worker_pid,
    cpu_seconds,
    busy_balancer,
    drain_queue,
    fill_queue,
    free_port,
    latency_summary,
    ms,
    raise_open_files,
    report,
    status,
    table,
    timed_calls,
    wait_until,
    write_report,
)


CPU_WINDOW_S = 5.0


def cpu_share(pid: int, window_s: float) -> float:
    """Percent of one CPU that ``pid`` uses over ``window_s`` seconds (no traffic meanwhile)."""
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(window_s)
    return round(100 * (cpu_seconds(pid) - before) / (time.monotonic() - start), 1)


def waiting_case(waiting: int, calls: int, gap_s: float) -> tuple[dict[str, Any], list[str]]:
    with Farm("status-wait") as farm:
        balancer = busy_balancer(farm)
        pid = balancer_worker_pid(balancer)
        client = Client(balancer.port)
        idle = latency_summary(timed_calls(client, "/queue-status", calls, gap_s=gap_s))
        idle_cpu = cpu_share(pid, CPU_WINDOW_S)
        socks, fill_s = fill_queue(balancer.port, waiting, in_flight=3)
        try:
            time.sleep(1)
            waiting_cpu = cpu_share(pid, CPU_WINDOW_S)
            loaded = latency_summary(timed_calls(client, "/queue-status", calls, gap_s=gap_s, max_s=180))
            seen = status(balancer.port)
        finally:
            client.close()
            drain_s = drain_queue(balancer.port, socks)
        return {"waiting": waiting, "fill_s": round(fill_s, 2), "idle": idle, "loaded": loaded,
                "status_waiting": seen["waiting"], "status_in_flight": seen["in_flight"],
                "balancer_cpu_pct_idle": idle_cpu, "balancer_cpu_pct_waiting": waiting_cpu,
                "drop_all_after_close_s": round(drain_s, 2)}, farm.commands()


def dead_backends_case(backends: int, good: int, calls: int, gap_s: float) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    dead = backends - good
    refused = dead // 2
    silent = dead - refused
    with Farm("status-dead") as farm:
        fakes = [farm.fake() for _ in range(good)]
        _, silent_ports = farm.silent(silent)
        refused_ports = [free_port() for _ in range(refused)]
        specs: list[tuple[int, int | None]] = [(f.port, None) for f in fakes]
        specs += [(p, None) for p in refused_ports] + [(p, None) for p in silent_ports]
        balancer = farm.balancer(specs)
        started = time.monotonic()
        settle_s = wait_until(lambda: status(balancer.port)["online_backends"] == good, 90,
                              f"only the {good} good backends online", every_s=0.5)
        client = Client(balancer.port)
        try:
            loaded = latency_summary(timed_calls(client, "/queue-status", calls, gap_s=gap_s, max_s=180))
        finally:
            client.close()
        seen = status(balancer.port)
        states: dict[str, int] = {}
        for b in seen["backends"]:
            states[b["status"]] = states.get(b["status"], 0) + 1
        return {"backends": backends, "good": good, "refused": refused, "silent": silent,
                "settled_after_s": round(settle_s, 1), "measured_over_s": round(time.monotonic() - started - settle_s, 1),
                "states": states, "loaded": loaded}, farm.commands(), farm.files


def run(*, waiting: int = 1000, calls: int = 500, gap_s: float = 0.01, backends: int = 50, good: int = 3,
        argv: list[str] | None = None) -> dict[str, Any]:
    raise_open_files()
    wait_result, commands = waiting_case(waiting, calls, gap_s)
    dead_result, dead_commands, files = dead_backends_case(backends, good, calls, gap_s)
    rows = []
    for label, summary in (
        ("3 busy workers, queue empty", wait_result["idle"]),
        (f"3 busy workers, {waiting} clients waiting in the balancer's queue", wait_result["loaded"]),
        (f"{backends} backends: {good} good, {dead_result['refused']} refusing, {dead_result['silent']} silent", dead_result["loaded"]),
    ):
        rows.append([label, f"{summary['calls'] - summary['failed']}/{summary['calls']}", ms(summary["p50_ms"]),
                     ms(summary["p99_ms"]), ms(summary["max_ms"])])
    md = (f"/queue-status latency: {calls} sequential calls, {1000 * gap_s:g} ms apart, one kept-alive connection\n\n"
          + table(["load", "answered", "p50", "p99", "max"], rows)
          + f"\n\nThe balancer's own CPU use with no traffic at all ({CPU_WINDOW_S:g} s windows): "
          f"{wait_result['balancer_cpu_pct_idle']}% of one CPU with the queue empty, "
          f"{wait_result['balancer_cpu_pct_waiting']}% with the {waiting} clients waiting."
          + f" After the {waiting} waiting clients closed their connections, the balancer had dropped all their jobs "
          f"within {wait_result['drop_all_after_close_s']} s. The dead backends were offline after "
          f"{dead_result['settled_after_s']} s; the calls then ran over {dead_result['measured_over_s']} s of health rounds.")
    results = {"calls": calls, "gap_s": gap_s, "waiting_clients": wait_result, "dead_backends": dead_result}
    return report("status_latency", argv or [], results, commands=commands + dead_commands, files=files, table_md=md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--gap", type=float, default=0.01)
    parser.add_argument("--backends", type=int, default=50)
    parser.add_argument("--good", type=int, default=3)
    args = parser.parse_args()
    out = run(waiting=args.waiting, calls=args.calls, gap_s=args.gap, backends=args.backends, good=args.good,
              argv=sys.argv[1:])
    path = write_report("status_latency", out)
    print(out["table"])
    print(f"results in {path}")


if __name__ == "__main__":
    main()
