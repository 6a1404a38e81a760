"""Where the balancer spends its CPU under wrk load: py-spy samples of its gunicorn worker process.

    python -m bench.profile_balancer [--clients 64] [--duration 15] [--rate 200] [--top 30]
    python -m bench.profile_balancer --healthz [--clients 64]      (GET /healthz: the serving stack alone)
    python -m bench.profile_balancer --gil [--clients 64]          (Python's own work only: see below)
    python -m bench.profile_balancer --waiting 1000 [--duration 15]
    python -m bench.profile_balancer --processes 2 [--clients 64]   (BALANCER_PROCESSES=2: every serving process)

Needs py-spy (``.venv/bin/pip install py-spy``; sampling another process needs root or ptrace
rights). Starts three instant fake workers (16 slots each) and our balancer in front of them,
as ``bench.proxy_overhead`` does, drives ``POST /generate`` with wrk at ``--clients`` for
``--duration`` seconds, and samples the balancer's worker process (on-CPU samples only: py-spy
leaves out the time the event loop sleeps in epoll). Prints the functions with the most
samples of their own ("self") and the most samples under them ("inclusive"), and a split by
package; writes ``bench/results/profile_c<clients>.json`` and the raw collapsed stacks beside it
(``profile_c<clients>.folded``, flamegraph.pl input).

On a loaded machine the plain profile overstates the sends: a send to a local socket wakes its
reader, which may take the CPU while the sender is still inside the system call, and py-spy
counts that wait as time in ``send``. ``--gil`` samples only while the process holds the GIL,
i.e. its Python work without any system call (``profile_c<clients>_gil``).

``--processes N`` runs the balancer with ``BALANCER_PROCESSES=N`` and samples all its serving
processes together (py-spy ``--subprocesses`` on the gunicorn master, whose own samples are few:
it sleeps), written as ``profile_c<clients>_p<N>``.

``--waiting N`` profiles a different load: three one-slot workers whose jobs never end, N clients
waiting in the balancer's queue, and ``/queue-status`` called every 10 ms meanwhile (as
``bench.status_latency``); it also reports the balancer's CPU use while they wait
(``profile_waiting<N>.json``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.farm import (
    JOB_BODY,
    RESULTS,
    Client,
    Farm,
    balancer_worker_pid,
    busy_balancer,
    cpu_seconds,
    drain_queue,
    fill_queue,
    latency_summary,
    raise_open_files,
    report,
    require_tools,
    run_wrk,
    table,
    timed_calls,
    write_report,
    wrk_script,
)

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")

# (label, text in a frame "function (file)"): inclusive share of the samples under it
PHASES = (
    ("the whole request (gunicorn handle)", "ServingWorker.handle (common/green_worker.py)"),
    ("WSGI app (the fast path, or Flask for the other routes)", "Flask.__call__ (flask/app.py)"),
    ("fast path: POST /generate (common/fastpath.py)", "create_app.<locals>.fast_generate (balancer/web.py)"),
    ("Flask's own dispatch (routes the fast path leaves to it)", "Flask.wsgi_app (flask/app.py)"),
    ("Flask view: POST /generate", "create_app.<locals>.generate (balancer/web.py)"),
    ("gunicorn's request parser", "Parser.__next__ (gunicorn/http/parser.py)"),
    ("Proxy.forward", "Proxy.forward (balancer/proxy.py)"),
    ("HttpWorkerClient.send (the call to the worker)", "HttpWorkerClient.send (balancer/client.py)"),
    ("socket send to the worker or client (incl. kernel loopback work)", "SocketMixin.send (gevent/_socketcommon.py)"),
    ("runtime Protocol isinstance checks (typing)", "_ProtocolMeta.__instancecheck__ (typing.py)"),
    ("pool.acquire (routing over a fresh snapshot)", "BackendPool.acquire (balancer/pool.py)"),
    ("pool release + dispatch", "BackendPool._release (balancer/pool.py)"),
    ("pool snapshots (_snapshot_locked)", "BackendPool._snapshot_locked (balancer/pool.py)"),
    ("judge (verdict: parses the reply JSON)", "judge (balancer/proxy.py)"),
    ("relay (response object)", "relay (balancer/web.py)"),
    ("watch_disconnect (one loop watcher per request)", "watch_disconnect"),
    ("Thread.start (threads started per request)", "Thread.start (threading.py)"),
    ("access log line", "FarmLogger.access (common/logs.py)"),
    ("health checks", "HealthMonitor"),
    ("gevent hub loop itself", "Hub.run (gevent/hub.py)"),
)


def frame_name(frame: str) -> tuple[str, str]:
    """(function, short file) of one py-spy frame "func (path/file.py:line)"."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    path = match.group("file")
    short = path
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            short = path.split(marker, 1)[1]
            break
    return match.group("func"), short


def analyse(folded: str, top: int) -> dict[str, Any]:
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        names = [frame_name(f) for f in frames]
        func, file = names[-1]
        self_counts[f"{func} ({file})"] += count
        for key in {f"{fn} ({fl})" for fn, fl in names}:
            inclusive[key] += count
        packages[file.split("/", 1)[0] if "/" in file else file] += count
        keys = [f"{fn} ({fl})" for fn, fl in names]
        for label, text in PHASES:
            if any(text in key for key in keys):
                phases[label] += count

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": k, "samples": v, "percent": round(100 * v / total, 1)} for k, v in counter.most_common(top)]

    return {"samples": total, "self": rows(self_counts), "inclusive": rows(inclusive),
            "self_by_package": [{"package": k, "samples": v, "percent": round(100 * v / total, 1)}
                                for k, v in packages.most_common()],
            "phases": [{"phase": label, "samples": phases[label], "percent": round(100 * phases[label] / total, 1)}
                       for label, _ in PHASES]}


def py_spy() -> str:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return spy


def run_waiting(*, waiting: int, duration_s: float, rate: int, top: int, argv: list[str] | None = None) -> dict[str, Any]:
    spy = py_spy()
    raise_open_files()
    RESULTS.mkdir(parents=True, exist_ok=True)
    folded_path = RESULTS / f"profile_waiting{waiting}.folded"
    with Farm("profile-wait") as farm:
        balancer = busy_balancer(farm, max_queue=waiting + 100)
        pid = balancer_worker_pid(balancer)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(5)
        idle_cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        socks, _ = fill_queue(balancer.port, waiting, in_flight=3)
        try:
            time.sleep(2)
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(5)
            waiting_cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
            calls: dict[str, Any] = {}
            client = Client(balancer.port)
            thread = threading.Thread(target=lambda: calls.update(latency_summary(
                timed_calls(client, "/queue-status", 100000, gap_s=0.01, max_s=duration_s + 1))))
            thread.start()
            spy_argv = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--duration", str(int(duration_s)),
                        "--format", "raw", "--output", str(folded_path), "--nonblocking"]
            subprocess.run(spy_argv, capture_output=True, text=True, timeout=duration_s + 60)
            thread.join(duration_s + 30)
            client.close()
        finally:
            drain_queue(balancer.port, socks)
        commands = farm.commands()
    analysis = analyse(folded_path.read_text(), top)
    results = {"waiting": waiting, "duration_s": duration_s, "rate": rate, "py_spy": " ".join(spy_argv),
               "balancer_cpu_idle_pct": round(100 * idle_cpu, 1), "balancer_cpu_waiting_pct": round(100 * waiting_cpu, 1),
               "status_calls": calls, "folded": str(folded_path.relative_to(RESULTS.parent.parent)), **analysis}
    md = (f"py-spy on the balancer's worker process with {waiting} clients waiting in its queue, /queue-status every "
          f"10 ms, {duration_s:g} s at {rate} Hz: {analysis['samples']} on-CPU samples. The balancer's CPU use: "
          f"{results['balancer_cpu_idle_pct']}% of one CPU idle, {results['balancer_cpu_waiting_pct']}% with the clients "
          f"waiting and no other traffic. /queue-status meanwhile: p50 {calls.get('p50_ms')} ms, p99 {calls.get('p99_ms')} ms\n\n"
          + table(["phase", "inclusive %"], [[p["phase"], p["percent"]] for p in analysis["phases"]])
          + "\n\nTop functions by self time:\n\n"
          + table(["function", "self %"], [[r["function"], r["percent"]] for r in analysis["self"][:top]])
          + "\n\nTop functions by inclusive time:\n\n"
          + table(["function", "inclusive %"], [[r["function"], r["percent"]] for r in analysis["inclusive"][:top]]))
    return report("profile_balancer", argv or [], results, commands=commands, table_md=md)


def run(*, clients: int = 64, duration_s: float = 15.0, rate: int = 200, top: int = 30, healthz: bool = False,
        gil: bool = False, processes: int = 1, argv: list[str] | None = None) -> dict[str, Any]:
    require_tools()
    spy = py_spy()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = profile_name(clients, healthz, gil, processes)
    folded_path = RESULTS / f"{name}.folded"
    with Farm("profile") as farm:
        fakes = [farm.fake(write="one") for _ in range(3)]
        env = {"BALANCER_PROCESSES": str(processes)} if processes > 1 else None
        ours = farm.balancer([(f.port, 16) for f in fakes], env)
        script = wrk_script(farm.dir, None if healthz else JOB_BODY)
        path = "/healthz" if healthz else "/generate"
        run_wrk(ours.port, clients=clients, duration_s=2, script=script, path=path)  # warm-up
        pid = balancer_worker_pid(ours) if processes == 1 else ours.pid
        load: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: load.update(run_wrk(ours.port, clients=clients, path=path,
                                                                     duration_s=duration_s + 2, script=script)))
        thread.start()
        time.sleep(1)
        spy_argv = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--duration", str(int(duration_s)),
                    "--format", "raw", "--output", str(folded_path), "--nonblocking"] + (["--gil"] if gil else []) \
            + (["--subprocesses"] if processes > 1 else [])
        subprocess.run(spy_argv, capture_output=True, text=True, timeout=duration_s + 60)
        thread.join(duration_s + 60)
        commands = farm.commands()
    analysis = analyse(folded_path.read_text(), top)
    results = {"clients": clients, "processes": processes, "path": path, "duration_s": duration_s, "rate": rate, "wrk": load, "py_spy": " ".join(spy_argv),
               "folded": str(folded_path.relative_to(RESULTS.parent.parent)), **analysis}
    md = (f"py-spy{' --gil' if gil else ''} on the balancer's "
          f"{'worker process' if processes == 1 else f'{processes} serving processes'}, wrk {clients} clients "
          f"{'GET /healthz' if healthz else 'POST /generate'}, {duration_s:g} s at {rate} Hz: "
          f"{analysis['samples']} on-CPU samples; wrk saw {load.get('rps', 0):,.0f} requests/s, p50 {load.get('p50_ms')} ms\n\n"
          "Inclusive time of the request's phases (a sample counts for every phase on its stack):\n\n"
          + table(["phase", "inclusive %"], [[p["phase"], p["percent"]] for p in analysis["phases"]])
          + "\n\nSelf time by package (top level of the file path):\n\n"
          + table(["package", "self %"], [[p["package"], p["percent"]] for p in analysis["self_by_package"][:15]])
          + "\n\nTop functions by self time:\n\n"
          + table(["function", "self %"], [[r["function"], r["percent"]] for r in analysis["self"][:top]])
          + "\n\nTop functions by inclusive time:\n\n"
          + table(["function", "inclusive %"], [[r["function"], r["percent"]] for r in analysis["inclusive"][:top]]))
    return report("profile_balancer", argv or [], results, commands=commands, table_md=md)


def profile_name(clients: int, healthz: bool, gil: bool, processes: int = 1) -> str:
    return (f"profile_c{clients}" + ("_healthz" if healthz else "") + ("_gil" if gil else "")
            + (f"_p{processes}" if processes > 1 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--waiting", type=int, default=0, help="profile N waiting clients instead of wrk load")
    parser.add_argument("--healthz", action="store_true", help="wrk sends GET /healthz (no worker call) instead")
    parser.add_argument("--gil", action="store_true", help="sample only while the GIL is held (Python work, no syscalls)")
    parser.add_argument("--processes", type=int, default=1, help="BALANCER_PROCESSES of the balancer (all sampled)")
    args = parser.parse_args()
    if args.waiting:
        out = run_waiting(waiting=args.waiting, duration_s=args.duration, rate=args.rate, top=args.top, argv=sys.argv[1:])
        path = write_report(f"profile_waiting{args.waiting}", out)
    else:
        out = run(clients=args.clients, duration_s=args.duration, rate=args.rate, top=args.top, healthz=args.healthz,
                  gil=args.gil, processes=args.processes, argv=sys.argv[1:])
        path = write_report(profile_name(args.clients, args.healthz, args.gil, args.processes), out)
    print(out["table"])
    print(f"results in {path}")


if __name__ == "__main__":
    main()
