"""Split speed-up: one 200-line script with ``"split": true`` over K = 1, 2, 4, 8 one-slot workers.

    python -m bench.split_speedup [--lines 200] [--chunk-size 10] [--delay 0.5] [--workers 1,2,4,8] [--repeat 2]

Starts max(K) sleeping fake workers (``bench.fake_worker --slots 1 --delay D``: every chunk takes
D seconds; the reply is a playbook with one shell task per line of the chunk), and for each K
our balancer in front of the first K (backends.json ``slots: 1``, ``CHUNK_SIZE``). One client
sends ``POST /generate`` with the script (200 distinct ``echo`` lines: 20 chunks of 10) and
``split: true``; the reply must hold one merged playbook with one task per line. Wall time is
client-side; the best of ``--repeat`` runs counts (this measures the balancer, not the machine's
other load; every run is in the JSON).

speed-up = T(K=1) / T(K); the achievable bound is chunks / ceil(chunks / K) (whole chunks of
equal length on K workers); "% of bound" = speed-up / bound. "overhead" = T(K) minus the ideal
time ceil(chunks / K) x D. From the reply's own chunk timings: the time before the first chunk
is sent (splitting), each chunk's send-to-parsed-result time beyond D, and the time after the
last chunk (merge and render).

Prints a table and writes ``bench/results/split_speedup.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import yaml

from bench.farm import MODEL, Client, Farm, report, table, write_report


def script(lines: int) -> str:
    return "".join(f"echo line {i}\n" for i in range(1, lines + 1))


def one_split(port: int, text: str, timeout_s: float) -> dict[str, Any]:
    client = Client(port, timeout_s=timeout_s)
    start = time.monotonic()
    status, body = client.json("POST", "/generate", {"commands": text, "model": MODEL, "split": True})
    wall = time.monotonic() - start
    client.close()
    if status != 200:
        raise RuntimeError(f"split request answered {status}: {body}")
    plays = yaml.safe_load(body["playbook"])
    tasks = sum(len(play.get("tasks") or []) for play in plays)
    chunks = body.get("chunks") or []
    starts = [c["started"] for c in chunks if isinstance(c.get("started"), (int, float))]
    ends = [c["finished"] for c in chunks if isinstance(c.get("finished"), (int, float))]
    spans = [c["finished"] - c["started"] for c in chunks if isinstance(c.get("started"), (int, float))]
    return {"wall_s": round(wall, 3), "balancer_elapsed_s": body.get("elapsed"), "chunks": body.get("chunks_processed"),
            "tasks": tasks, "backends_used": len(body.get("backends") or []),
            "before_first_chunk_s": round(min(starts), 3) if starts else None,
            "after_last_chunk_s": round(wall - max(ends), 3) if ends else None,
            "chunk_span_mean_s": round(sum(spans) / len(spans), 3) if spans else None,
            "chunk_starts_s": starts, "chunk_ends_s": ends}


def run(*, lines: int = 200, chunk_size: int = 10, delay_s: float = 0.5, workers: tuple[int, ...] = (1, 2, 4, 8),
        repeat: int = 2, argv: list[str] | None = None) -> dict[str, Any]:
    text = script(lines)
    points: list[dict[str, Any]] = []
    commands: list[str] = []
    files: dict[str, str] = {}
    with Farm("split") as farm:
        fakes = [farm.fake(slots=1, delay=delay_s) for _ in range(max(workers))]
        for k in workers:
            balancer = farm.balancer([(f.port, 1) for f in fakes[:k]], chunk_size=chunk_size)
            runs = [one_split(balancer.port, text, timeout_s=lines * delay_s + 60) for _ in range(repeat)]
            commands.append(balancer.command())
            files.update(farm.files)
            farm.stop(balancer)
            best = min(runs, key=lambda r: r["wall_s"])
            points.append({"workers": k, "wall_s": best["wall_s"], "chunks": best["chunks"], "tasks": best["tasks"],
                           "backends_used": best["backends_used"], "before_first_chunk_s": best["before_first_chunk_s"],
                           "after_last_chunk_s": best["after_last_chunk_s"], "chunk_span_mean_s": best["chunk_span_mean_s"],
                           "runs": runs})
        commands = [f.command() for f in fakes] + commands
    base = next((p["wall_s"] for p in points if p["workers"] == 1), None)
    for p in points:
        chunks = p["chunks"]
        bound = chunks / math.ceil(chunks / p["workers"])
        p["ideal_s"] = math.ceil(chunks / p["workers"]) * delay_s
        p["overhead_s"] = round(p["wall_s"] - p["ideal_s"], 3)
        p["bound"] = round(bound, 3)
        if base:
            p["speedup"] = round(base / p["wall_s"], 3)
            p["pct_of_bound"] = round(100 * p["speedup"] / bound, 1)
    rows = [[p["workers"], p["chunks"], f"{p['tasks']}/{lines}", f"{p['wall_s']:.2f} s", f"{p['ideal_s']:.2f} s",
             f"{p['overhead_s']:+.2f} s", p.get("speedup", "–"), p["bound"], f"{p.get('pct_of_bound', '–')}%",
             f"{1000 * p['before_first_chunk_s']:.0f} ms", f"{1000 * (p['chunk_span_mean_s'] - delay_s):+.0f} ms",
             f"{1000 * p['after_last_chunk_s']:.0f} ms"]
            for p in points]
    md = (f"Split speed-up: {lines} lines, CHUNK_SIZE {chunk_size}, {delay_s:g} s per chunk, one-slot workers, best of {repeat}\n\n"
          + table(["K", "chunks", "tasks in the merged playbook", "wall time", "ideal time", "overhead", "speed-up vs K=1",
                   "bound chunks/ceil(chunks/K)", "% of bound", "before the first chunk is sent",
                   "chunk send-to-result beyond D (mean)", "after the last chunk"], rows)
          + "\n\nThe last three columns come from the balancer's own chunk timings (``chunks[].started/finished`` of "
          "the reply): splitting the script, each chunk's time from send to parsed result beyond the worker's "
          "D, and merging + rendering after the last chunk.")
    results = {"lines": lines, "chunk_size": chunk_size, "delay_s": delay_s, "repeat": repeat, "points": points}
    return report("split_speedup", argv or [], results, commands=commands, files=files, table_md=md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--chunk-size", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    out = run(lines=args.lines, chunk_size=args.chunk_size, delay_s=args.delay,
              workers=tuple(int(k) for k in args.workers.split(",")), repeat=args.repeat, argv=sys.argv[1:])
    path = write_report("split_speedup", out)
    print(out["table"])
    print(f"results in {path}")


if __name__ == "__main__":
    main()
