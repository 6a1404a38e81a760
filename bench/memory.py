"""The balancer's memory: idle, and with clients waiting in its queue; bytes per waiting client.

    python -m bench.memory [--steps 500,1000]

Three one-slot fake workers whose jobs never end (``bench.fake_worker --slots 1 --delay 800``)
behind our balancer (``slots: 1``, MAX_QUEUE=2000): 3 jobs hold the slots, and clients are added
that each send a whole ``POST /generate`` and wait in the balancer's queue, up to each step.
RSS (VmRSS) and PSS (smaps_rollup) of the gunicorn master and of its worker process are read when idle
(after start-up, 50 ``/queue-status`` calls and 3 s of rest), at each step (2 s after the
balancer reports the clients waiting), and again after every client has left and the queue is
empty. Bytes per waiting client = (RSS at the step - idle RSS) / clients waiting.

Prints a table and writes ``bench/results/memory.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bench.farm import (
    Client,
    Farm,
    balancer_rss,
    busy_balancer,
    drain_queue,
    fill_queue,
    raise_open_files,
    report,
    status,
    table,
    timed_calls,
    write_report,
)

SETTLE_S = 2.0


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MB"


def run(*, steps: tuple[int, ...] = (500, 1000), argv: list[str] | None = None) -> dict[str, Any]:
    raise_open_files()
    samples: list[dict[str, Any]] = []
    with Farm("memory") as farm:
        balancer = busy_balancer(farm, max_queue=max(steps) + 100)
        client = Client(balancer.port)
        timed_calls(client, "/queue-status", 50)
        client.close()
        time.sleep(3)
        idle = balancer_rss(balancer)
        samples.append({"state": "idle", "waiting": 0, **idle})
        socks: list[Any] = []
        try:
            for step in steps:
                new, _ = fill_queue(balancer.port, step, in_flight=3, socks=socks)
                socks += new
                time.sleep(SETTLE_S)
                samples.append({"state": f"{step} waiting", "waiting": status(balancer.port)["waiting"],
                                **balancer_rss(balancer)})
        finally:
            drain_s = drain_queue(balancer.port, socks)
        time.sleep(SETTLE_S)
        samples.append({"state": "after every client left", "waiting": status(balancer.port)["waiting"], **balancer_rss(balancer)})
        commands = farm.commands()
    for s in samples:
        s["per_waiting_client_bytes"] = round((s["worker_kb"] - idle["worker_kb"]) * 1024 / s["waiting"]) if s["waiting"] else None
    rows = [[s["state"], s["waiting"], mb(s["master_kb"]), mb(s["worker_kb"]), mb(s["total_kb"]), mb(s["total_pss_kb"]),
             f"{s['per_waiting_client_bytes']:,} B" if s["per_waiting_client_bytes"] is not None else "–"] for s in samples]
    md = ("Balancer memory: gunicorn master + its worker process\n\n"
          + table(["state", "clients waiting", "master RSS", "worker RSS", "RSS total", "PSS total",
                   "per waiting client (worker RSS growth / waiting)"], rows)
          + "\n\nRSS total counts the pages the worker shares with the master (it is forked from it) twice; "
          "PSS counts them once.")
    results = {"samples": samples, "drop_all_after_close_s": round(drain_s, 2)}
    return report("memory", argv or [], results, commands=commands, table_md=md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="500,1000")
    args = parser.parse_args()
    out = run(steps=tuple(int(s) for s in args.steps.split(",")), argv=sys.argv[1:])
    path = write_report("memory", out)
    print(out["table"])
    print(f"results in {path}")


if __name__ == "__main__":
    main()
