"""The stall case: a worker that writes its reply head and body in two sends, behind ours and HAProxy.

    python -m bench.stall [--duration 5] [--rounds 2]

Starts two instant fake workers (``bench.fake_worker``): one sends each reply in ONE send, the
other sends the head, then the body, in TWO sends as Python's ``http.server`` does (both with
Nagle's algorithm on, as ``http.server``). Each gets its own balancer of ours (backends.json,
``slots: 16``) and its own HAProxy (``balance leastconn``, ``maxconn 16``). wrk sends
``POST /generate`` from ONE client for ``--duration`` seconds to each of the six paths; the
paths take turns within a round, and with ``--rounds`` > 1 each figure is the median over the
rounds.

Two "added" columns: minus the direct p50 of the SAME worker, and minus the direct p50 of the
one-send worker (what a client would see with a worker that does not stall at all). A
client talking straight to the two-send worker stalls too (its delayed ACK meets the worker's
Nagle), so the second column is the one that says whether a proxy removes or adds a stall.

The cause, measured too: Python's http.client straight to each worker, plain and with
TCP_QUICKACK set after each request. The two-send worker's Nagle holds the body until the head
is acknowledged; a receiver that delays its ACK (Linux: up to 40 ms on a kept-alive,
request-reply connection) stalls each reply by that long. An immediate ACK removes the stall.

Prints a table and writes ``bench/results/stall.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import time
from typing import Any

from bench.farm import JOB_BODY, Farm, ms, report, require_tools, run_wrk, signed_ms, table, write_report, wrk_script

PATHS = ("direct", "ours", "haproxy")
WRITES = ("one", "two")
LABELS = {"direct": "direct", "ours": "through our balancer", "haproxy": "through HAProxy"}


def python_client_p50(port: int, *, quickack: bool, requests: int = 200) -> float:
    """p50 in ms of ``requests`` sequential POST /generate from Python's http.client on one kept-alive
    connection; ``quickack``: TCP_QUICKACK set again after each request is sent (Linux clears it),
    so the head of the reply is acknowledged at once instead of after the delayed-ACK timer."""
    body = json.dumps(JOB_BODY).encode("utf-8")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies = []
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(requests + 10):
            start = time.perf_counter()
            conn.request("POST", "/generate", body=body, headers={"Content-Type": "application/json"})
            if quickack:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            response = conn.getresponse()
            response.read()
            if i >= 10:  # the first exchanges of a connection are acknowledged at once anyway
                latencies.append((time.perf_counter() - start) * 1000)
    finally:
        conn.close()
    return round(statistics.median(latencies), 3)


def run(*, duration_s: float = 5.0, rounds: int = 2, argv: list[str] | None = None) -> dict[str, Any]:
    require_tools()
    started = time.monotonic()
    with Farm("stall") as farm:
        ports: dict[tuple[str, str], int] = {}
        for write in WRITES:
            fake = farm.fake(write=write)
            ports[("direct", write)] = fake.port
            ports[("ours", write)] = farm.balancer([(fake.port, 16)]).port
            ports[("haproxy", write)] = farm.haproxy([fake.port], balance="leastconn", maxconn=16).port
        script = wrk_script(farm.dir)
        for port in ports.values():  # warm-up
            run_wrk(port, clients=1, duration_s=1, script=script)
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in ports}
        for _ in range(rounds):
            for key, port in ports.items():
                runs[key].append(run_wrk(port, clients=1, duration_s=duration_s, script=script))
        diagnosis = {f"{write}-send worker, {'TCP_QUICKACK' if quickack else 'plain'}":
                     python_client_p50(ports[("direct", write)], quickack=quickack)
                     for write in WRITES for quickack in (False, True)}
        commands = farm.commands()
        files = {**farm.files, "post.lua": script.read_text()}
    points = []
    p50 = {key: statistics.median(r["p50_ms"] for r in rs) for key, rs in runs.items()}
    for path in PATHS:
        for write in WRITES:
            rs = runs[(path, write)]
            points.append({
                "path": path, "worker_writes": write, "clients": 1,
                "p50_ms": round(p50[(path, write)], 3),
                "p99_ms": round(statistics.median(r["p99_ms"] for r in rs), 3),
                "rps": round(statistics.median(r["rps"] for r in rs), 1),
                "errors": sum(r["errors"] for r in rs),
                "added_p50_vs_same_worker_ms": None if path == "direct" else round(p50[(path, write)] - p50[("direct", write)], 3),
                "added_p50_vs_one_send_worker_ms": None if path == "direct" else round(p50[(path, write)] - p50[("direct", "one")], 3),
                "runs": rs,
            })
    rows = [[LABELS[p["path"]], "head + body in one send" if p["worker_writes"] == "one" else "head, then body (two sends)",
             ms(p["p50_ms"]), ms(p["p99_ms"]), f"{p['rps']:,.0f}", signed_ms(p["added_p50_vs_same_worker_ms"]),
             signed_ms(p["added_p50_vs_one_send_worker_ms"]), p["errors"]] for p in points]
    md = (f"Stall case: wrk POST /generate from 1 client, {duration_s:g} s per path, median of {rounds} round(s)\n\n"
          + table(["path", "worker writes", "p50", "p99", "requests/s", "added p50 (vs direct, same worker)",
                   "added p50 (vs direct, one-send worker)", "errors"], rows))
    md += ("\n\nThe cause, shown with Python's http.client straight to each worker (p50 of 200 sequential requests on "
           "one kept-alive connection): plain, and with TCP_QUICKACK set on the client socket after each request "
           "is sent, so the reply head is acknowledged at once:\n\n"
           + table(["client", "p50"], [[k, ms(v, 3)] for k, v in diagnosis.items()]))
    results = {"duration_s": duration_s, "rounds": rounds, "points": points, "python_client_p50_ms": diagnosis,
               "elapsed_s": round(time.monotonic() - started, 1)}
    return report("stall", argv or [], results, commands=commands, files=files, table_md=md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    out = run(duration_s=args.duration, rounds=args.rounds, argv=sys.argv[1:])
    path = write_report("stall", out)
    print(out["table"])
    print(f"results in {path}")


if __name__ == "__main__":
    main()
