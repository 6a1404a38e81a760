"""Shared plumbing of the performance benches: processes on free loopback ports, wrk, tables, results.

``Farm`` is a context manager that starts fake workers (``bench.fake_worker``), our balancer
(``python3 app_distributed.py`` with a generated backends.json) and HAProxy (a generated config)
in a temporary directory, records the exact command of each, and stops every process it
started, by pid (SIGTERM, then SIGKILL after a bound), whatever happens. Nothing here listens
anywhere but 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
MODEL = "codellama:13b"
JOB_BODY = {"commands": "echo hi", "model": MODEL}  # the small /generate body of the proxy benches


# --- small helpers ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (q in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))]


def raise_open_files() -> None:
    """Let this process hold thousands of client sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f} ms"


def signed_ms(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:+.{digits}f} ms"


def first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        commit, dirty = "unknown", False
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "haproxy": first_line(["haproxy", "-v"]),
        "wrk": first_line(["wrk", "-v"]),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def require_tools() -> None:
    missing = [tool for tool in ("haproxy", "wrk") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install -y haproxy wrk (make bench does it)")


def write_report(name: str, report: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size of ``pid`` in KiB: shared pages count once across the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used (all its threads; 0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out += [int(x) for x in text]
    except OSError:
        pass
    return out


# --- HTTP client helpers ----------------------------------------------------------------------

class Client:
    """One kept-alive HTTP/1.1 connection to 127.0.0.1:port (reconnects when the server closed it)."""

    def __init__(self, port: int, timeout_s: float = 30.0) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # a kept-alive connection the server closed: once more on a new one
                if attempt == 2:
                    raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, data = self.request(method, path, body)
        return status, json.loads(data) if data else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.1) -> float:
    """Seconds it took ``check`` to become true; RuntimeError after ``timeout_s``."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (OSError, http.client.HTTPException, ValueError):
            pass
        if time.monotonic() - start > timeout_s:
            raise RuntimeError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(every_s)


def timed_calls(client: Client, path: str, count: int, *, gap_s: float = 0.0, max_s: float = 120.0) -> list[float]:
    """Latencies in ms of up to ``count`` sequential GETs (bounded by ``max_s``); a failure is +inf."""
    latencies: list[float] = []
    deadline = time.monotonic() + max_s
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        start = time.perf_counter()
        try:
            ok = client.request("GET", path)[0] == 200
        except (OSError, http.client.HTTPException):
            ok = False
            client.close()
        latencies.append((time.perf_counter() - start) * 1000 if ok else float("inf"))
        if gap_s:
            time.sleep(gap_s)
    return latencies


def latency_summary(latencies: Sequence[float]) -> dict[str, Any]:
    finite = [x for x in latencies if x != float("inf")]
    return {
        "calls": len(latencies),
        "failed": len(latencies) - len(finite),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
        "mean_ms": round(statistics.fmean(finite), 2) if finite else None,
    }


def raw_request(method: str, path: str, body: bytes, port: int) -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def open_waiting(port: int, count: int, body: Mapping[str, Any]) -> list[socket.socket]:
    """``count`` connections that each send a whole POST /generate and then wait (never read)."""
    raise_open_files()
    data = raw_request("POST", "/generate", json.dumps(body).encode("utf-8"), port)
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(data)
        socks.append(sock)
    return socks


def close_all(socks: Iterable[socket.socket]) -> None:
    for sock in socks:
        try:
            sock.close()
        except OSError:
            pass


# --- processes ----------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def command(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + shlex.join(self.argv)

    def stop(self, grace_s: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.kill(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            for pid in children(self.popen.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.kill(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(5)


RECORD_START = re.compile(r"^(\d{4}-\d\d-\d\d |\[\d{4}-\d\d-\d\d )")
ACCESS_LINE = re.compile(r'"(?:GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]" (\d{3}) ')


def log_summary(proc: Proc, examples: int = 3) -> dict[str, Any]:
    """What a balancer's log says: replies by path and status (gunicorn's access log), the 500s the
    server's own error handler sent (not in the access log), how many WARNING/ERROR records it
    has, and the first few of them whole (tracebacks included)."""
    try:
        lines = proc.log.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    statuses: dict[str, int] = {}
    problems: list[str] = []
    count = 0
    server_500 = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        match = ACCESS_LINE.search(line)
        if match:
            key = f"{match.group(1)} {match.group(2)}"
            statuses[key] = statuses.get(key, 0) + 1
        elif "failed 500 from" in line:
            server_500 += 1
        elif " WARNING " in line or " ERROR " in line or "[ERROR]" in line:
            count += 1
            block = [line]
            while i + 1 < len(lines) and not RECORD_START.match(lines[i + 1]) and not ACCESS_LINE.search(lines[i + 1]):
                i += 1
                block.append(lines[i])
            if len(problems) < examples:
                problems.append("\n".join(block)[-4000:])
        i += 1
    return {"replies": statuses, "server_500": server_500, "warnings_and_errors": count, "first_problems": problems}


def haproxy_config(port: int, backends: Sequence[int], *, balance: str, maxconn: int | None) -> str:
    limit = f" maxconn {maxconn}" if maxconn else ""
    servers = "\n".join(f"    server w{i} 127.0.0.1:{p}{limit}" for i, p in enumerate(backends))
    return f"""global
    maxconn 8000

defaults
    mode http
    timeout connect 3s
    timeout client 900s
    timeout server 900s
    timeout queue 900s
    timeout http-keep-alive 5s

frontend bench
    bind 127.0.0.1:{port}
    default_backend workers

backend workers
    balance {balance}
{servers}
"""


class Farm:
    """Processes for one measurement; ``with Farm() as farm:`` stops them all on the way out."""

    def __init__(self, label: str = "farm") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
        self.procs: list[Proc] = []
        self.files: dict[str, str] = {}  # generated config files: name -> text

    def __enter__(self) -> Farm:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop_all()
        if exc_type is None:
            shutil.rmtree(self.dir, ignore_errors=True)  # logs stay only when something failed
        else:
            print(f"bench: logs kept in {self.dir}", file=sys.stderr)

    def stop_all(self) -> None:
        while self.procs:
            self.procs.pop().stop()

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def commands(self) -> list[str]:
        return [p.command() for p in self.procs]

    def _spawn(self, name: str, argv: list[str], port: int, env: Mapping[str, str] | None = None) -> Proc:
        log = self.dir / f"{name}-{port}.log"
        extra = dict(env or {})
        proc = Proc(name, argv, subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **extra}, stdout=open(log, "wb"),
                                                 stderr=subprocess.STDOUT, start_new_session=True), log, port, extra)
        self.procs.append(proc)
        return proc

    def _wait_listening(self, proc: Proc, timeout_s: float = 60.0) -> None:
        def up() -> bool:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log}:\n"
                                   + proc.log.read_text(errors="replace")[-2000:])
            with socket.create_connection(("127.0.0.1", proc.port), timeout=1):
                return True

        wait_until(up, timeout_s, f"{proc.name} on port {proc.port}", every_s=0.05)

    def fake(self, *, write: str = "one", slots: int = 0, delay: float = 0.0, max_life_s: float = 900) -> Proc:
        port = free_port()
        argv = [PY, "-m", "bench.fake_worker", "--port", str(port), "--write", write, "--slots", str(slots),
                "--delay", str(delay), "--max-life", str(max_life_s)]
        proc = self._spawn("fake", argv, port)
        self._wait_listening(proc)
        return proc

    def silent(self, count: int, max_life_s: float = 900) -> tuple[Proc, list[int]]:
        """One process listening on ``count`` ports that accepts connections and never answers."""
        ports = [free_port() for _ in range(count)]
        argv = [PY, "-m", "bench.fake_worker", "--silent", "--max-life", str(max_life_s)]
        for port in ports:
            argv += ["--port", str(port)]
        proc = self._spawn("silent", argv, ports[0])
        for port in ports:
            proc.port = port
            self._wait_listening(proc)
        return proc, ports

    def balancer(self, backends: Sequence[tuple[int, int | None]], env: Mapping[str, str] | None = None,
                 *, chunk_size: int = 10) -> Proc:
        """Our balancer in front of ``backends`` ((port, slots or None) each), from a backends.json."""
        port = free_port()
        spec = {"backends": [{"url": f"http://127.0.0.1:{p}", **({"slots": s} if s else {})} for p, s in backends]}
        path = self.dir / f"backends-{port}.json"
        path.write_text(json.dumps(spec, indent=1) + "\n")
        self.files[path.name] = path.read_text()
        full_env = {"PORT": str(port), "BACKENDS_FILE": str(path), "CHUNK_SIZE": str(chunk_size), **(env or {})}
        proc = self._spawn("balancer", [PY, "app_distributed.py"], port, full_env)
        client = Client(port, timeout_s=2)
        wait_until(lambda: proc.popen.poll() is None and client.request("GET", "/healthz")[0] == 200, 60,
                   f"the balancer on port {port}", every_s=0.1)
        client.close()
        processes = int(full_env.get("BALANCER_PROCESSES", "1"))
        wait_until(lambda: len(children(proc.pid)) >= processes, 60, f"{processes} serving processes on port {port}",
                   every_s=0.1)
        return proc

    def haproxy(self, backends: Sequence[int], *, balance: str = "leastconn", maxconn: int | None = 16) -> Proc:
        port = free_port()
        text = haproxy_config(port, backends, balance=balance, maxconn=maxconn)
        path = self.dir / f"haproxy-{port}.cfg"
        path.write_text(text)
        self.files[path.name] = text
        proc = self._spawn("haproxy", ["haproxy", "-db", "-f", str(path)], port)
        self._wait_listening(proc)
        return proc


def balancer_rss(proc: Proc) -> dict[str, Any]:
    """RSS and PSS in KiB of the balancer's gunicorn master and its worker child. RSS counts the
    pages the two share (the worker is forked from the master) in both; PSS counts them once."""
    kids = children(proc.pid)
    child = sum(rss_kb(pid) for pid in kids)
    master = rss_kb(proc.pid)
    child_pss = sum(pss_kb(pid) for pid in kids)
    master_pss = pss_kb(proc.pid)
    return {"master_kb": master, "worker_kb": child, "total_kb": master + child,
            "master_pss_kb": master_pss, "worker_pss_kb": child_pss, "total_pss_kb": master_pss + child_pss,
            "worker_pids": kids}


def balancer_worker_pids(proc: Proc) -> list[int]:
    """The balancer's serving processes (gunicorn's workers: BALANCER_PROCESSES of them)."""
    kids = children(proc.pid)
    if not kids:
        raise RuntimeError(f"no gunicorn worker under pid {proc.pid}")
    return kids


def balancer_worker_pid(proc: Proc) -> int:
    kids = children(proc.pid)
    if len(kids) != 1:
        raise RuntimeError(f"expected one gunicorn worker under pid {proc.pid}, found {kids}")
    return kids[0]


# --- wrk ------------------------------------------------------------------------------------------

WRK_POST = """-- POST with a small JSON body
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""

WRK_DONE = """-- done() prints one JSON line for the bench to read
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_script(directory: Path, body: Mapping[str, Any] | None = JOB_BODY) -> Path:
    """A wrk script: POST ``body`` as JSON (None: plain GET); it prints a JSON summary."""
    script = directory / ("post.lua" if body is not None else "get.lua")
    script.write_text((WRK_POST.format(body=json.dumps(body)) if body is not None else "") + WRK_DONE)
    return script


def run_wrk(port: int, *, clients: int, duration_s: float, script: Path, path: str = "/generate",
            timeout_s: float = 10.0, cpu_pids: Sequence[int] = ()) -> dict[str, Any]:
    """One wrk run (one thread, ``clients`` keep-alive connections); latencies in ms.

    ``cpu_pids``: processes whose CPU time per request is measured over the run (the proxy's).
    """
    cpu_before = sum(cpu_seconds(pid) for pid in cpu_pids)
    argv = ["wrk", "-t1", f"-c{clients}", f"-d{duration_s:g}s", "--timeout", f"{timeout_s:g}s", "-s", str(script),
            f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out.stdout}\n{out.stderr}")
    cpu = sum(cpu_seconds(pid) for pid in cpu_pids) - cpu_before
    raw = json.loads(line[len("WRKJSON "):])
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return {
        "clients": clients,
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "errors": errors,
        "cpu_ms_per_request": round(1000 * cpu / raw["requests"], 3) if cpu_pids and raw["requests"] else None,
        "error_detail": {k: raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")},
        "command": shlex.join(argv),
    }


def report(bench: str, argv: Sequence[str], results: Any, *, commands: Sequence[str] = (),
           files: Mapping[str, str] | None = None, notes: Sequence[str] = (), table_md: str = "") -> dict[str, Any]:
    """The JSON every bench writes."""
    return {
        "bench": bench,
        "command": "python -m " + " ".join([f"bench.{bench}", *argv]),
        "machine": machine(),
        "processes": list(commands),
        "files": dict(files or {}),
        "notes": list(notes),
        "results": results,
        "table": table_md,
    }


# --- a balancer whose workers are all busy ------------------------------------------------------

SLOW_JOB_S = 800.0  # longer than any bench: the jobs that hold the slots never finish by themselves


def busy_balancer(farm: Farm, *, workers: int = 3, max_queue: int = 2000) -> Proc:
    """Our balancer in front of ``workers`` one-slot fake workers whose jobs never end (every
    later job waits in the balancer's queue)."""
    fakes = [farm.fake(slots=1, delay=SLOW_JOB_S) for _ in range(workers)]
    return farm.balancer([(f.port, 1) for f in fakes], {
        "MAX_QUEUE": str(max_queue), "QUEUE_TIMEOUT": "900", "TIMEOUT": "900"})


def status(port: int) -> dict[str, Any]:
    client = Client(port, timeout_s=30)
    try:
        body: dict[str, Any] = client.json("GET", "/queue-status")[1]
        return body
    finally:
        client.close()


def fill_queue(port: int, waiting: int, *, in_flight: int, socks: list[socket.socket] | None = None,
               timeout_s: float = 120.0) -> tuple[list[socket.socket], float]:
    """Open clients that each send a job and wait, until ``in_flight + waiting`` are open (counting
    ``socks``, the ones already open); return the new ones once the balancer says ``waiting`` jobs
    wait in its queue, with the seconds that took."""
    have = len(socks or [])
    new = open_waiting(port, in_flight + waiting - have, {"commands": "echo wait", "model": MODEL})
    try:
        took = wait_until(lambda: status(port)["waiting"] >= waiting and status(port)["in_flight"] >= in_flight,
                          timeout_s, f"{waiting} jobs waiting in the balancer's queue", every_s=0.25)
    except BaseException:
        close_all(new)
        raise
    return new, took


def drain_queue(port: int, socks: list[socket.socket], timeout_s: float = 120.0) -> float:
    """Close the waiting clients; seconds until the balancer's queue is empty and no job is in flight."""
    start = time.monotonic()
    close_all(socks)
    wait_until(lambda: status(port)["waiting"] == 0 and status(port)["in_flight"] == 0, timeout_s,
               "the balancer to drop the jobs of clients that left", every_s=0.1)
    return time.monotonic() - start
