"""What STATE_URL costs: one balancer with its pool in memory against one with it in Redis.

    python -m bench.shared_state [--duration 5] [--rounds 2] [--clients 1,16]

Starts three instant fake workers (``bench.fake_worker``, 16 slots each), a redis-server of its
own (Debian's; no persistence) and two balancers in front of the same three workers: one with
the default in-memory pool, one with ``STATE_URL`` pointing at that Redis (every job then takes
and gives back its slot through two Lua scripts). wrk sends ``POST /generate`` straight to one
worker ("direct") and through each balancer, taking turns within a round; each figure is the
median over the rounds. "added p50" is the path's p50 minus direct's at the same client count.

Prints a table and writes ``bench/results/shared_state.json``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from typing import Any

import redis

from bench.farm import Farm, free_port, report, require_tools, run_wrk, signed_ms, table, wait_until, write_report, wrk_script

TARGETS = ("direct", "memory", "redis")
LABELS = {"direct": "direct to one worker", "memory": "our balancer, pool in memory",
          "redis": "our balancer, pool in Redis (STATE_URL)"}


def run(*, duration_s: float = 5.0, rounds: int = 2, clients: tuple[int, ...] = (1, 16),
        argv: list[str] | None = None) -> dict[str, Any]:
    require_tools()
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    started = time.monotonic()
    with Farm("shared-state") as farm:
        fakes = [farm.fake(write="one") for _ in range(3)]
        redis_port = free_port()
        store = farm._spawn("redis", [server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(farm.dir)], redis_port)
        farm._wait_listening(store)
        state_url = f"redis://127.0.0.1:{redis_port}/0"
        backends = [(f.port, 16) for f in fakes]
        memory = farm.balancer(backends)
        shared = farm.balancer(backends, {"STATE_URL": state_url})
        ports = {"direct": fakes[0].port, "memory": memory.port, "redis": shared.port}
        script = wrk_script(farm.dir)
        for target in TARGETS:  # warm up connection pools and code paths
            run_wrk(ports[target], clients=16, duration_s=1.0, script=script)
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for _ in range(rounds):
            for count in clients:
                for target in TARGETS:
                    runs.setdefault((target, count), []).append(
                        run_wrk(ports[target], clients=count, duration_s=duration_s, script=script))
        keys = redis.Redis(port=redis_port).hgetall("dat:inflight")
        wait_until(lambda: all(int(v) == 0 for v in redis.Redis(port=redis_port).hgetall("dat:inflight").values()),
                   10, "every slot given back in Redis")
        results: list[dict[str, Any]] = []
        for count in clients:
            direct_p50 = statistics.median(r["p50_ms"] for r in runs[("direct", count)])
            for target in TARGETS:
                points = runs[(target, count)]
                p50 = statistics.median(r["p50_ms"] for r in points)
                results.append({
                    "target": target, "clients": count, "rps": round(statistics.median(r["rps"] for r in points), 1),
                    "p50_ms": round(p50, 3), "added_p50_ms": None if target == "direct" else round(p50 - direct_p50, 3),
                    "p99_ms": round(statistics.median(r["p99_ms"] for r in points), 3),
                    "errors": sum(r["errors"] for r in points), "runs": points,
                })
        commands, files = farm.commands(), dict(farm.files)
    rows = [[LABELS[r["target"]], r["clients"], f"{r['rps']:,.0f}", f"{r['p50_ms']:.2f} ms",
             signed_ms(r["added_p50_ms"]), f"{r['p99_ms']:.2f} ms", r["errors"]] for r in results]
    table_md = table(["path", "clients", "requests/s", "p50", "added p50", "p99", "errors"], rows)
    print(table_md)
    by = {(r["target"], r["clients"]): r for r in results}
    notes = [f"{rounds} round(s) of {duration_s:g} s per point; {time.monotonic() - started:.0f} s in all",
             f"slots left taken in Redis after the runs: {sum(int(v) for v in keys.values())} before the last "
             "replies were counted, 0 after"]
    for count in clients:
        memory_row, redis_row = by[("memory", count)], by[("redis", count)]
        if memory_row["added_p50_ms"] is not None and redis_row["added_p50_ms"] is not None:
            notes.append(f"{count} client(s): Redis adds {redis_row['p50_ms'] - memory_row['p50_ms']:+.2f} ms at p50 "
                         f"and gives {redis_row['rps'] / memory_row['rps']:.2f}x the in-memory requests/s")
    for note in notes:
        print(note)
    data = report("shared_state", argv or [], results, commands=commands, files=files, notes=notes, table_md=table_md)
    write_report("shared_state", data)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shared_state", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", default="1,16")
    args = parser.parse_args(argv)
    run(duration_s=args.duration, rounds=args.rounds, clients=tuple(int(c) for c in args.clients.split(",")),
        argv=sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
