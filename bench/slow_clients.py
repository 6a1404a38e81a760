"""Slow clients against both services: connections trickling request heads while real work goes on.

    python -m bench.slow_clients [--connections 2000] [--header-timeout 5]

Starts one worker (rules engine, no LLM needed) and a balancer in front of it, on free
loopback ports. Against each service in turn: ``--connections`` sockets each send the start
of a ``POST /generate`` head and then one more header byte every half second, never finishing
it (a slowloris). While they trickle, ``/queue-status`` is timed sequentially and a few real
jobs are sent. Then every slow connection must have received a 408 JSON answer at about
HEADER_TIMEOUT. Prints a table and writes ``bench/results/slow_clients.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

HEAD_START = b"POST /generate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@dataclass
class SlowConnection:
    sock: socket.socket
    opened_at: float
    reply: bytes = b""
    replied_at: float | None = None
    closed: bool = False


@dataclass
class Trickler:
    """``count`` connections to ``port`` that send a request head one byte at a time and never finish it."""

    port: int
    count: int
    interval_s: float = 0.5
    connections: list[SlowConnection] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Trickler:
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            sock.sendall(HEAD_START)
            sock.setblocking(False)
            self.connections.append(SlowConnection(sock, time.monotonic()))
        self._thread = threading.Thread(target=self._run, name="trickler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        for conn in self.connections:
            selector.register(conn.sock, selectors.EVENT_READ, conn)
        next_byte = time.monotonic() + self.interval_s
        while not self._stop.is_set() and any(not c.closed for c in self.connections):
            for key, _ in selector.select(timeout=max(0.0, next_byte - time.monotonic())):
                conn = key.data
                try:
                    data = conn.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    conn.reply += data
                    conn.replied_at = conn.replied_at or time.monotonic()
                else:
                    conn.closed = True
                    selector.unregister(conn.sock)
            if time.monotonic() >= next_byte:
                next_byte += self.interval_s
                for conn in self.connections:
                    if not conn.closed and conn.replied_at is None:
                        try:
                            conn.sock.send(b"x")
                        except OSError:
                            pass
        selector.close()

    def wait_all_answered(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(c.replied_at is None and not c.closed for c in self.connections):
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for conn in self.connections:
            conn.sock.close()

    def statuses(self) -> list[int | None]:
        """The HTTP status each connection got (None: no reply)."""
        out: list[int | None] = []
        for conn in self.connections:
            parts = conn.reply.split(b" ", 2)
            out.append(int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None)
        return out


def time_calls(call: Callable[[], int], count: int) -> list[float]:
    """Latencies in ms of ``count`` sequential calls; a failed call counts as +inf."""
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        try:
            ok = call() == 200
        except requests.RequestException:
            ok = False
        latencies.append((time.perf_counter() - start) * 1000 if ok else float("inf"))
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def under_slow_clients(port: int, *, connections: int, header_timeout_s: float, samples: int, jobs: int) -> dict[str, Any]:
    """Trickle ``connections`` heads at ``port``; time /queue-status and send ``jobs`` jobs meanwhile."""
    base = f"http://127.0.0.1:{port}"
    trickler = Trickler(port, connections).start()
    opened = time.monotonic()
    try:
        session = requests.Session()
        status_ms = time_calls(lambda: session.get(base + "/queue-status", timeout=5).status_code, samples)
        body = {"commands": "apt-get install -y nginx\nsystemctl enable --now nginx\n", "engine": "rules"}
        with ThreadPoolExecutor(jobs) as pool:
            job_status = list(pool.map(lambda _: requests.post(base + "/generate", json=body, timeout=30).status_code, range(jobs)))
        trickler.wait_all_answered(header_timeout_s + 10)
        answered = [c.replied_at - c.opened_at for c in trickler.connections if c.replied_at is not None]
        statuses = trickler.statuses()
        sample_body = next((c.reply.split(b"\r\n\r\n", 1)[-1] for c in trickler.connections if c.reply), b"")
        return {
            "connections": connections,
            "status_calls": samples,
            "status_p50_ms": round(percentile(status_ms, 50), 2),
            "status_p99_ms": round(percentile(status_ms, 99), 2),
            "status_max_ms": round(max(status_ms), 2),
            "jobs": jobs,
            "jobs_ok": sum(1 for s in job_status if s == 200),
            "slow_408": sum(1 for s in statuses if s == 408),
            "slow_other": sorted({s for s in statuses if s != 408}, key=str),
            "answer_after_s_min": round(min(answered), 2) if answered else None,
            "answer_after_s_max": round(max(answered), 2) if answered else None,
            "sample_408_body": sample_body.decode("utf-8", "replace"),
            "trickle_s": round(time.monotonic() - opened, 2),
        }
    finally:
        trickler.close()


def start(argv: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env, "PORT": str(port)},
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{argv} did not start; see {log}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--header-timeout", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=5)
    args = parser.parse_args()
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    limits = {"HEADER_TIMEOUT": str(args.header_timeout)}
    worker_port, balancer_port = free_port(), free_port()
    worker = start([sys.executable, "app.py"], worker_port,
                   {**limits, "OLLAMA_HOST": "http://127.0.0.1:9", "DEFAULT_ENGINE": "rules"}, logs / "slow-worker.log")
    balancer = start([sys.executable, "app_distributed.py"], balancer_port,
                     {**limits, "BACKENDS": f"http://127.0.0.1:{worker_port}"}, logs / "slow-balancer.log")
    results: dict[str, Any] = {}
    try:
        for name, port in (("worker", worker_port), ("balancer", balancer_port)):
            results[name] = under_slow_clients(port, connections=args.connections, header_timeout_s=args.header_timeout,
                                               samples=args.samples, jobs=args.jobs)
    finally:
        for proc in (balancer, worker):
            proc.terminate()
            proc.wait(30)
    report = {
        "bench": "slow_clients",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "command": "python -m bench.slow_clients " + " ".join(sys.argv[1:]),
        "header_timeout_s": args.header_timeout,
        "results": results,
    }
    (RESULTS / "slow_clients.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{args.connections} connections trickling request heads (HEADER_TIMEOUT={args.header_timeout:g}s)")
    print("| service | /queue-status p50 | p99 | max | jobs ok | slow clients answered 408 | 408 after (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['status_p50_ms']} ms | {r['status_p99_ms']} ms | {r['status_max_ms']} ms | "
              f"{r['jobs_ok']}/{r['jobs']} | {r['slow_408']}/{r['connections']} | "
              f"{r['answer_after_s_min']}–{r['answer_after_s_max']} |")
    print(f"results in {RESULTS / 'slow_clients.json'}")


if __name__ == "__main__":
    main()
