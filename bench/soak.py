"""Soak: minutes of mixed load on a real farm while workers are killed, drained, restarted and ejected.

    python -m bench.soak [--duration 240] [--seed 7]        (make soak)

Starts, on free 127.0.0.1 ports: the Ollama emulator (``--delay-s 0.3``, so LLM jobs take real
time), three real workers (``python3 app.py``; two default to the ``llm`` engine, one to
``hybrid``) and the balancer in front of them (HEALTH_INTERVAL=0.5, HEADER_TIMEOUT=3,
MAX_QUEUE=500, QUEUE_TIMEOUT=60, TIMEOUT=30). After a warm-up that exercises every kind of
traffic once, for ``--duration`` seconds, all at once and seeded:

- clients sending single ``/generate`` jobs (engine ``rules``, ``hybrid``, ``llm`` or the worker's
  default; 1-6 lines) and ``/explain`` jobs, one after another;
- clients sending split jobs (20-40 unique lines, ``"split": true``);
- waves of slow clients (``bench.slow_clients.Trickler``: request heads trickled a byte every
  0.5 s, never finished), which must each get a 408 JSON reply;
- clients that leave mid-job: they send a whole job, then close the socket after a random
  short time;
- a chaos thread that, every 5-15 s, does ONE of: SIGKILL a worker (its gunicorn child first,
  then the master, then anything left of its process tree) and restart it on the same port;
  SIGTERM a worker (graceful drain), wait for it to exit and restart it; admin-drain then
  undrain a worker; add a fake worker (``tests.faults.fake_worker`` in mode ``500`` or
  ``html-200``, as a subprocess) with ``POST /admin/backends``, wait until the balancer ejects
  it, then ``DELETE`` it. Events run one at a time, each waits for its worker to be back, so
  at least two real workers are up at any moment.

Every client job is classified: ``succeeded`` (200 with the endpoint's field; a playbook must
be ONE YAML document with one task per script line, named after the line for the ``llm``
engine; a split reply's chunks must cover the script), ``failed correctly`` (JSON
``{"error": str}`` with 502, 504, or 503 with Retry-After), ``left`` (the clients that leave on
purpose) or LOST: anything else (no reply, a reset, a non-JSON body, a 500, a 499, a 4xx, a
200 of the wrong shape, no answer within the client's own 120 s). A slow client without a
408 JSON reply is LOST too. The balancer's RSS (gunicorn master + its worker child, VmRSS)
is sampled after the warm-up, every 10 s, and at the end once the queue is empty.

Prints a Markdown table, writes ``bench/results/soak.json``; the services' logs go to a
temporary directory named in the output. Exit status 1 when a job was lost or the balancer's
memory grew more than 10%. Every process it starts is stopped by pid (SIGTERM, then SIGKILL
after a bound), on Ctrl-C and errors too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from bench.slow_clients import Trickler

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable  # the venv's python3: what `make` puts first on PATH

EMULATOR_DELAY_S = 0.3
HEADER_TIMEOUT_S = 3
CLIENT_TIMEOUT_S = 120.0  # a client's own bound on one job
MEMORY_EVERY_S = 10.0
MEMORY_LIMIT_PCT = 10.0
WORKERS = 3
MODEL = "codellama:13b"

BALANCER_ENV = {
    "HEALTH_INTERVAL": "0.5",
    "HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
    "MAX_QUEUE": "500",
    "QUEUE_TIMEOUT": "60",
    "TIMEOUT": "30",
}
WORKER_ENV = {
    "HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
    "MODELS_REFRESH": "2",
    "LLM_TIMEOUT": "20",  # also the worker's drain bound
}
# worker i's DEFAULT_ENGINE (a job that names no engine gets it)
WORKER_ENGINES = ("llm", "hybrid", "llm")

START_BOUND_S = 60.0  # a service must answer within this after its start
TERM_BOUND_S = 90.0  # a SIGTERMed worker must have drained and exited within this
STOP_BOUND_S = 30.0  # teardown: SIGTERM, then SIGKILL after this
EJECT_BOUND_S = 45.0  # a failing fake must be ejected within this
CHAOS_GAP_S = (5.0, 15.0)
SLOW_WAVE_GAP_S = (20.0, 40.0)
MAX_JOBS_PER_CLIENT = 100_000  # every loop is bounded in count as well as in time


# --- time and HTTP ---------------------------------------------------------------------------------

T0 = time.monotonic()
TEARDOWN = threading.Event()  # set when the farm is being stopped: clients still running stop recording
PROCS_LOCK = threading.Lock()  # no process starts once TEARDOWN is set (chaos restarts workers)


def now_s() -> float:
    """Seconds since the soak started."""
    return round(time.monotonic() - T0, 3)


def wall() -> str:
    """Wall-clock time with milliseconds, to find an event in the services' logs."""
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, *, timeout: float | tuple[float, float], **kwargs: Any) -> requests.Response:
    """One request on a connection of its own (no keep-alive reuse races), never through a proxy."""
    with requests.Session() as session:
        session.trust_env = False
        headers = {"Connection": "close", **kwargs.pop("headers", {})}
        return session.request(method, url, timeout=timeout, headers=headers, **kwargs)


def wait_for(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.2) -> Any:
    """Poll ``predicate`` until truthy (returned) or ``timeout_s`` passes (returns the last value)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = predicate()
        except (requests.RequestException, ValueError, KeyError):
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval_s)


# --- processes -----------------------------------------------------------------------------------

def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (to never signal a reused pid), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every process below ``pid``, children first."""
    found: list[tuple[int, str]] = []
    level = children(pid)
    for _ in range(10):  # bounded depth
        if not level:
            break
        following: list[int] = []
        for child in level:
            started = _start_time(child)
            if started is not None:
                found.append((child, started))
                following.extend(children(child))
        level = following
    return found


def kill_exact(pid: int, started: str, sig: int = signal.SIGKILL) -> bool:
    """Signal ``pid`` only if it is still the process that started at ``started``."""
    if _start_time(pid) != started:
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def reap_leftovers(tree: list[tuple[int, str]], grace_s: float = 3.0) -> list[int]:
    """After a master exited: give what is left of its tree (the syntax-check helper leaves on stdin's
    EOF) ``grace_s`` to end by itself, then SIGKILL it; returns the pids that had to be killed."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_start_time(pid) == when for pid, when in tree):
        time.sleep(0.1)
    return [pid for pid, when in tree if kill_exact(pid, when)]


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class Service:
    """One process this soak started and restarts: stopped and killed by pid only."""

    name: str
    argv: list[str]
    port: int
    env: dict[str, str]
    ready_path: str
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> Service:
        self.starts += 1
        with PROCS_LOCK, open(self.log_path, "ab") as log:
            if TEARDOWN.is_set():
                raise RuntimeError(f"not starting {self.name}: the soak is stopping")
            log.write(f"=== soak: start #{self.starts} of {self.name} at {wall()} (t={now_s()}s) ===\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_BOUND_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start; see {self.log_path}")
            try:
                if http("GET", self.url + self.ready_path, timeout=1).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.crash()
        raise RuntimeError(f"{self.name} did not answer within {START_BOUND_S:g}s; see {self.log_path}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def crash(self) -> list[int]:
        """SIGKILL, as a machine crash would: the gunicorn child(ren), then the master, then the rest
        of the tree (the syntax-check helper); returns the pids killed."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        tree = descendants(self.proc.pid)
        direct = set(children(self.proc.pid))
        killed = [pid for pid, started in tree if pid in direct and kill_exact(pid, started)]
        self.proc.kill()
        killed.append(self.proc.pid)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        killed += [pid for pid, started in tree if pid not in direct and kill_exact(pid, started)]
        return killed

    def terminate(self, bound_s: float) -> tuple[int | None, float, bool]:
        """SIGTERM, wait up to ``bound_s``, then SIGKILL the tree: (exit code, seconds, forced)."""
        if self.proc is None or self.proc.poll() is not None:
            return (None if self.proc is None else self.proc.returncode), 0.0, False
        tree = descendants(self.proc.pid)
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(bound_s)
            forced = False
        except subprocess.TimeoutExpired:
            self.crash()
            code, forced = self.proc.returncode, True
        reap_leftovers(tree)
        return code, round(time.monotonic() - started, 2), forced


def worker_service(index: int, port: int, emulator_url: str, log_dir: Path) -> Service:
    env = {**WORKER_ENV, "PORT": str(port), "OLLAMA_HOST": emulator_url, "DEFAULT_ENGINE": WORKER_ENGINES[index]}
    return Service(f"worker-{index}", [PY, "app.py"], port, env, "/healthz", log_dir)


@dataclass
class Farm:
    """The emulator, the workers and the balancer; ``stop_all`` ends every one of them by pid."""

    log_dir: Path
    emulator: Service | None = None
    workers: list[Service] = field(default_factory=list)
    balancer: Service | None = None
    fakes: list[Service] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        port = free_port()
        argv = [PY, "-m", "tests.emulator.ollama_emulator", "--port", str(port), "--delay-s", str(EMULATOR_DELAY_S)]
        self.emulator = Service("emulator", argv, port, {}, "/api/version", self.log_dir)
        self.emulator.start()
        for index in range(WORKERS):
            self.workers.append(worker_service(index, free_port(), self.emulator.url, self.log_dir))
            self.workers[-1].start()
        port = free_port()
        env = {**BALANCER_ENV, "PORT": str(port), "BACKENDS": ",".join(w.url for w in self.workers)}
        self.balancer = Service("balancer", [PY, "app_distributed.py"], port, env, "/healthz", self.log_dir)
        self.balancer.start()

    @property
    def url(self) -> str:
        assert self.balancer is not None
        return self.balancer.url

    def balancer_rss_kb(self) -> tuple[int, int]:
        """(master, gunicorn worker children) VmRSS of the balancer, in kB."""
        assert self.balancer is not None and self.balancer.proc is not None
        pid = self.balancer.proc.pid
        return rss_kb(pid), sum(rss_kb(child) for child in children(pid))

    def status(self) -> dict[str, Any]:
        reply = http("GET", self.url + "/queue-status", timeout=5)
        body: dict[str, Any] = reply.json()
        return body

    def backend(self, url: str) -> dict[str, Any] | None:
        return next((b for b in self.status()["backends"] if b["url"] == url), None)

    def stop_all(self) -> list[str]:
        """Stop everything (balancer first); returns what needed a SIGKILL."""
        forced = []
        with self.lock:
            services = [s for s in [self.balancer, *self.fakes, *self.workers, self.emulator] if s is not None]
        for service in services:
            _code, _secs, was_forced = service.terminate(STOP_BOUND_S)
            if was_forced:
                forced.append(service.name)
        return forced


# --- jobs ----------------------------------------------------------------------------------------

COVERED = (  # lines the rules engine converts to exactly one module task each
    "apt-get install -y {w}",
    "systemctl enable --now {w}",
    "useradd -m {w}",
    "mkdir -p /opt/{w}",
    "chmod 755 /opt/{w}",
    "touch /var/log/{w}.log",
    "echo {w} > /tmp/{w}.txt",
    "chown deploy /opt/{w}",
    "ln -s /opt/{w} /srv/{w}",
    "rm -rf /tmp/{w}",
    "cp /etc/hosts /tmp/{w}.bak",
    "groupadd {w}",
    "systemctl stop {w}",
)
UNCOVERED = (  # lines no rule covers: one guarded command task (rules), one LLM task (hybrid, llm)
    "./configure --prefix=/usr/local/{w}",
    "/opt/{w}/bin/migrate --all",
    "npm run build --prefix /srv/{w}",
    "/usr/local/bin/{w}-setup --init",
)
WORDS = ("alpha", "bravo", "delta", "echo", "golf", "kilo", "lima", "oscar", "sierra", "tango", "zulu")
ENGINES = ("rules", "hybrid", "llm", None)  # None: the worker's DEFAULT_ENGINE


def script_lines(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct command lines (a word plus the line number keeps them unique)."""
    lines = []
    for n in range(count):
        template = rng.choice(UNCOVERED if rng.random() < 0.25 else COVERED)
        lines.append(template.format(w=f"{rng.choice(WORDS)}{n}"))
    return lines


@dataclass
class Job:
    kind: str  # generate | explain | split
    path: str
    body: dict[str, Any]
    result_field: str
    lines: list[str] = field(default_factory=list)
    engine: str | None = None


def make_job(rng: random.Random, kind: str) -> Job:
    if kind == "explain":
        name = f"{rng.choice(WORDS)}{rng.randint(0, 999)}"
        playbook = f"- name: Configure {name}\n  hosts: all\n  tasks:\n    - name: Install {name}\n" \
                   f"      ansible.builtin.apt:\n        name: {name}\n"
        return Job("explain", "/explain", {"playbook": playbook, "model": MODEL}, "explanation")
    split = kind == "split"
    lines = script_lines(rng, rng.randint(20, 40) if split else rng.randint(1, 6))
    engine = rng.choice(ENGINES[:3] if split else ENGINES)
    body: dict[str, Any] = {"commands": "\n".join(lines) + "\n", "model": MODEL}
    if engine:
        body["engine"] = engine
    if split:
        body["split"] = True
    return Job(kind, "/generate", body, "playbook", lines, engine)


def playbook_problem(text: str, job: Job) -> str | None:
    """What is wrong with a returned playbook for ``job`` (None: nothing)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        return f"playbook is not YAML: {str(exc)[:200]}"
    if len(docs) != 1:
        return f"playbook holds {len(docs)} YAML documents, not ONE"
    plays = docs[0]
    if not isinstance(plays, list) or not all(isinstance(p, dict) for p in plays):
        return f"playbook is a {type(plays).__name__}, not a list of plays"
    tasks = [t for p in plays for t in (p.get("tasks") or [])]
    if len(tasks) != len(job.lines):
        return f"{len(tasks)} tasks for {len(job.lines)} script lines"
    if job.engine == "llm":
        names = [t.get("name") if isinstance(t, dict) else None for t in tasks]
        for index, (name, line) in enumerate(zip(names, job.lines)):
            if name != line:
                return f"task {index + 1} is named {name!r}, not after line {line!r}"
    return None


def chunks_problem(body: dict[str, Any], job: Job) -> str | None:
    """A split reply's chunks must cover the script's lines in order, once."""
    chunks = body.get("chunks")
    if not isinstance(chunks, list) or not chunks or body.get("chunks_processed") != len(chunks):
        return (f"chunks_processed {body.get('chunks_processed')!r} / chunks {str(chunks)[:100]} "
                "do not describe the chunks")
    try:
        spans = sorted((int(c["first_line"]), int(c["last_line"])) for c in chunks)
    except (KeyError, TypeError, ValueError):
        return f"malformed chunks {str(chunks)[:200]}"
    expected_first = 1
    for first, last in spans:
        if first != expected_first or last < first:
            return f"chunks {spans} do not cover lines 1-{len(job.lines)} once"
        expected_first = last + 1
    if expected_first - 1 != len(job.lines):
        return f"chunks {spans} do not cover lines 1-{len(job.lines)}"
    return None


@dataclass
class Outcome:
    outcome: str  # succeeded | failed | lost | left
    status: int | None = None
    detail: str = ""
    backend: str | None = None


def classify(job: Job, reply: requests.Response) -> Outcome:
    status = reply.status_code
    backend = reply.headers.get("X-Backend")
    try:
        body = reply.json()
    except ValueError:
        ctype = reply.headers.get("Content-Type")
        return Outcome("lost", status, f"HTTP {status} {ctype} body not JSON: {reply.text[:200]!r}", backend)
    if not isinstance(body, dict):
        return Outcome("lost", status, f"HTTP {status} JSON {type(body).__name__}, not an object", backend)
    if status == 200:
        value = body.get(job.result_field)
        if not isinstance(value, str) or not value.strip():
            detail = f"200 without a {job.result_field!r} string: {json.dumps(body)[:300]}"
            return Outcome("lost", status, detail, backend)
        problem = playbook_problem(value, job) if job.result_field == "playbook" else None
        if problem is None and job.kind == "split":
            problem = chunks_problem(body, job)
        if problem:
            return Outcome("lost", status, f"200 of the wrong shape: {problem}", backend)
        return Outcome("succeeded", status, "", backend)
    error = body.get("error")
    if not isinstance(error, str) or not error:
        return Outcome("lost", status, f"HTTP {status} without an error string: {json.dumps(body)[:300]}", backend)
    if status in (502, 504) or (status == 503 and reply.headers.get("Retry-After")):
        return Outcome("failed", status, error[:300], backend)
    return Outcome("lost", status, f"HTTP {status}: {error[:300]}", backend)


@dataclass
class Record:
    id: int
    kind: str
    engine: str | None
    lines: int
    sent_t: float
    sent_wall: str
    done_t: float
    done_wall: str
    outcome: str
    status: int | None
    detail: str
    backend: str | None


class Tally:
    """Every client job's outcome, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: list[Record] = []
        self._ids = iter(range(1, 10_000_000))
        self.left_answered = 0  # leavers that had a reply before they left
        self.slow: list[dict[str, Any]] = []  # one entry per slow client
        self.slow_waves: list[dict[str, Any]] = []

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)

    def summary(self) -> dict[str, Any]:
        with self.lock:
            records = list(self.records)
            slow = list(self.slow)
        outcomes = Counter(r.outcome for r in records)
        failed = Counter(str(r.status) for r in records if r.outcome == "failed")
        lost = [asdict(r) for r in records if r.outcome == "lost"]
        by_kind: dict[str, Counter[str]] = {}
        for r in records:
            by_kind.setdefault(r.kind, Counter())[r.outcome] += 1
        latency: dict[str, dict[str, float]] = {}
        for kind in sorted({r.kind for r in records if r.outcome == "succeeded"}):
            times = sorted(r.done_t - r.sent_t for r in records if r.kind == kind and r.outcome == "succeeded")
            latency[kind] = {"p50_s": round(statistics.median(times), 2),
                             "p95_s": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
                             "max_s": round(times[-1], 2)}
        slow_408 = sum(1 for s in slow if s["ok"])
        slow_lost = [s for s in slow if not s["ok"]]
        answered = [s["after_s"] for s in slow if s["ok"]]
        return {
            "sent": len(records),
            "sent_by_kind": dict(Counter(r.kind for r in records)),
            "by_kind": {k: dict(v) for k, v in by_kind.items()},
            "succeeded": outcomes["succeeded"],
            "failed_correctly": outcomes["failed"],
            "failed_by_status": dict(sorted(failed.items())),
            "left": outcomes["left"],
            "left_with_a_reply_first": self.left_answered,
            "lost": outcomes["lost"] + len(slow_lost),
            "lost_jobs": lost[:200],
            "latency_succeeded": latency,
            "slow_clients": {
                "sent": len(slow),
                "got_408": slow_408,
                "lost": slow_lost[:50],
                "answered_after_s_min": round(min(answered), 2) if answered else None,
                "answered_after_s_max": round(max(answered), 2) if answered else None,
                "waves": self.slow_waves,
            },
        }


def send_job(base: str, job: Job, tally: Tally) -> Record:
    """Send one job and record how it ended."""
    job_id = tally.next_id()
    sent_t, sent_wall = now_s(), wall()
    try:
        reply = http("POST", base + job.path, json=job.body, timeout=(10, CLIENT_TIMEOUT_S))
        outcome = classify(job, reply)
    except requests.Timeout as exc:
        outcome = Outcome("lost", None, f"no reply within the client's bound ({CLIENT_TIMEOUT_S:g}s): {exc}")
    except requests.RequestException as exc:
        outcome = Outcome("lost", None, f"{type(exc).__name__}: {str(exc)[:300]}")
    record = Record(job_id, job.kind, job.engine, len(job.lines), sent_t, sent_wall, now_s(), wall(),
                    outcome.outcome, outcome.status, outcome.detail, outcome.backend)
    if TEARDOWN.is_set():  # interrupted: the farm is going away under this job
        return record
    tally.add(record)
    if outcome.outcome == "lost":
        print(f"  LOST job {job_id} ({job.kind}, engine {job.engine}, sent t={sent_t}s {sent_wall}): "
              f"{outcome.detail[:300]}", flush=True)
    return record


def leave_mid_job(port: int, job: Job, wait_s: float, tally: Tally) -> None:
    """Send a whole job on a raw socket, then close it after ``wait_s`` (the client leaves)."""
    job_id = tally.next_id()
    sent_t, sent_wall = now_s(), wall()
    body = json.dumps(job.body).encode("utf-8")
    head = (f"POST {job.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1")
    outcome, status, detail = "left", None, f"left after {wait_s:.2f}s"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + body)
            sock.settimeout(wait_s)
            try:
                first = sock.recv(64, socket.MSG_PEEK)  # a reply that came before the client left
            except TimeoutError:
                first = b""
    except OSError as exc:
        outcome, detail = "lost", f"the leaving client's connection failed before it left: {exc}"
        first = b""
    if first:
        parts = first.split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        detail = f"had a reply (HTTP {status}) before it left after {wait_s:.2f}s"
        if status not in (200, 502, 503, 504):
            outcome, detail = "lost", f"a reply before it left that no job should get: {first!r}"
    if TEARDOWN.is_set():
        return
    tally.add(Record(job_id, job.kind, job.engine, len(job.lines), sent_t, sent_wall, now_s(), wall(),
                     outcome, status, detail, None))
    if first:
        with tally.lock:
            tally.left_answered += 1
    if outcome == "lost":
        print(f"  LOST leaving job {job_id} ({job.kind}, sent t={sent_t}s {sent_wall}): {detail}", flush=True)


# --- load -----------------------------------------------------------------------------------------

def single_client(base: str, rng: random.Random, stop: threading.Event, tally: Tally) -> None:
    for _ in range(MAX_JOBS_PER_CLIENT):
        if stop.is_set() or TEARDOWN.is_set():
            return
        send_job(base, make_job(rng, "generate" if rng.random() < 0.65 else "explain"), tally)
        stop.wait(rng.uniform(0.0, 0.3))


def split_client(base: str, rng: random.Random, stop: threading.Event, tally: Tally) -> None:
    for _ in range(MAX_JOBS_PER_CLIENT):
        if stop.is_set() or TEARDOWN.is_set():
            return
        send_job(base, make_job(rng, "split"), tally)
        stop.wait(rng.uniform(0.2, 1.5))


def leaving_client(port: int, rng: random.Random, stop: threading.Event, tally: Tally) -> None:
    for _ in range(MAX_JOBS_PER_CLIENT):
        if stop.is_set() or TEARDOWN.is_set():
            return
        job = make_job(rng, rng.choice(("generate", "explain", "split")))
        if job.kind == "generate":  # an LLM job, so that it can be cut mid-generation
            job.body["engine"], job.engine = "llm", "llm"
        leave_mid_job(port, job, rng.uniform(0.05, 2.0), tally)
        stop.wait(rng.uniform(0.3, 1.5))


def slow_wave(port: int, count: int, tally: Tally) -> None:
    """``count`` trickling heads; each must get a 408 JSON reply."""
    trickler = Trickler(port, count)
    opened_t = now_s()
    try:
        try:
            trickler.start()
        except OSError as exc:
            with tally.lock:
                tally.slow.append({"ok": False, "t": opened_t, "detail": f"could not connect: {exc}"})
        trickler.wait_all_answered(HEADER_TIMEOUT_S + 10)
    finally:
        trickler.close()
    got = 0
    for conn in trickler.connections:
        head, _, body = conn.reply.partition(b"\r\n\r\n")
        parts = head.split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        try:
            error = json.loads(body.decode("utf-8")).get("error")
        except (ValueError, AttributeError):
            error = None
        ok = status == 408 and isinstance(error, str)
        got += ok
        entry: dict[str, Any] = {"ok": ok, "t": opened_t,
                                 "after_s": round(conn.replied_at - conn.opened_at, 3) if conn.replied_at else None}
        if not ok:
            entry["detail"] = f"status {status}, closed {conn.closed}, reply {conn.reply[:200]!r}"
        with tally.lock:
            tally.slow.append(entry)
    with tally.lock:
        tally.slow_waves.append({"t": opened_t, "wall": wall(), "connections": len(trickler.connections),
                                 "got_408": got})
    print(f"  t={now_s():7.1f}s slow clients: {got}/{len(trickler.connections)} got 408", flush=True)


def slow_clients(port: int, rng: random.Random, stop: threading.Event, deadline: float, per_wave: int,
                 tally: Tally) -> None:
    stop.wait(rng.uniform(3.0, 8.0))
    for _ in range(1000):
        if stop.is_set() or TEARDOWN.is_set() or time.monotonic() > deadline - (HEADER_TIMEOUT_S + 2):
            return
        slow_wave(port, per_wave, tally)
        stop.wait(rng.uniform(*SLOW_WAVE_GAP_S))


# --- chaos ----------------------------------------------------------------------------------------

@dataclass
class Event:
    kind: str
    target: str
    t: float
    wall: str
    ok: bool = False
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


class Chaos:
    """One event at a time, on one worker, every 5-15 s; every worker is back before the next."""

    def __init__(self, farm: Farm, rng: random.Random, stop: threading.Event, deadline: float, fakes: int) -> None:
        self.farm = farm
        self.rng = rng
        self.stop = stop
        self.deadline = deadline
        self.fakes = fakes
        self.events: list[Event] = []

    def plan(self) -> list[str]:
        """Every kind once first (shuffled), then kills, terms and drains at random; with ``fakes`` = 2 the
        fake worker comes back as the 7th event, in the other mode."""
        first = ["kill", "term", "drain", "fake"]
        self.rng.shuffle(first)
        rest = [self.rng.choice(("kill", "term", "drain")) for _ in range(200)]
        for _ in range(self.fakes - 1):
            rest.insert(2, "fake")
        return first + rest

    def run(self) -> None:
        modes = ["500", "html-200"]
        self.rng.shuffle(modes)
        for kind in self.plan():
            if self.stop.wait(self.rng.uniform(*CHAOS_GAP_S)) or time.monotonic() > self.deadline:
                return
            target = self.rng.choice(self.farm.workers)
            event = Event(kind, target.name, now_s(), wall())
            started = time.monotonic()
            try:
                self.ensure_workers_up()
                if kind == "kill":
                    self.kill(target, event)
                elif kind == "term":
                    self.term(target, event)
                elif kind == "drain":
                    self.drain(target, event)
                else:
                    mode = modes[sum(1 for e in self.events if e.kind == "fake") % len(modes)]
                    self.fake(mode, event)
            except Exception as exc:  # an event that went wrong is reported, and the soak goes on
                event.detail["error"] = f"{type(exc).__name__}: {exc}"
                event.ok = False
            event.seconds = round(time.monotonic() - started, 2)
            self.events.append(event)
            print(f"  t={event.t:7.1f}s chaos {kind:5s} {event.target}: {'ok' if event.ok else 'FAILED'} "
                  f"in {event.seconds}s {json.dumps(event.detail)[:300]}", flush=True)
        self.ensure_workers_up()

    def ensure_workers_up(self) -> None:
        for worker in self.farm.workers:
            if not worker.alive():
                worker.start()

    def restart(self, worker: Service, event: Event) -> None:
        """Start ``worker`` again on its port: up to 3 tries (a failed one is reported), then wait for online."""
        for attempt in range(1, 4):
            try:
                worker.start()
                break
            except RuntimeError as exc:
                event.detail.setdefault("restart_failures", []).append(f"t={now_s()}s: {exc}")
                if attempt == 3 or TEARDOWN.is_set():
                    raise
                time.sleep(2.0)
        event.detail["restarted_at"] = now_s()
        online = wait_for(lambda: (self.farm.backend(worker.url) or {}).get("status") == "online", 20)
        event.detail["online_again"] = bool(online)

    def kill(self, worker: Service, event: Event) -> None:
        assert worker.proc is not None
        event.detail["busy"] = (self.farm.backend(worker.url) or {}).get("in_flight")
        event.detail["killed_pids"] = worker.crash()
        downtime = self.rng.uniform(0.5, 3.0)
        time.sleep(downtime)
        event.detail["down_s"] = round(downtime, 2)
        self.restart(worker, event)
        event.ok = "restart_failures" not in event.detail

    def term(self, worker: Service, event: Event) -> None:
        assert worker.proc is not None
        event.detail["busy"] = (self.farm.backend(worker.url) or {}).get("in_flight")
        seen: set[str] = set()
        proc = worker.proc
        tree = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() - started < TERM_BOUND_S:
            try:
                seen.add(str((self.farm.backend(worker.url) or {}).get("status")))
            except requests.RequestException:
                pass
            time.sleep(0.2)
        event.detail["balancer_saw"] = sorted(seen)
        if proc.poll() is None:
            event.detail["exit"] = f"still running after {TERM_BOUND_S:g}s: SIGKILLed"
            worker.crash()
        else:
            event.detail["exit"] = proc.returncode
            event.detail["drained_s"] = round(time.monotonic() - started, 2)
        leftovers = reap_leftovers(tree)
        if leftovers:
            event.detail["leftover_pids_killed"] = leftovers
        self.restart(worker, event)
        event.ok = event.detail["exit"] == 0 and "restart_failures" not in event.detail

    def drain(self, worker: Service, event: Event) -> None:
        admin = self.farm.url + "/admin/backends"
        reply = http("POST", admin + "/drain", json={"url": worker.url}, timeout=10)
        event.detail["drain"] = [reply.status_code, reply.json().get("backend", {}).get("status")]
        hold = self.rng.uniform(2.0, 6.0)
        time.sleep(hold)
        entry = self.farm.backend(worker.url) or {}
        event.detail["held_s"] = round(hold, 2)
        event.detail["in_flight_at_undrain"] = entry.get("in_flight")
        reply = http("POST", admin + "/undrain", json={"url": worker.url}, timeout=10)
        event.detail["undrain"] = [reply.status_code, reply.json().get("backend", {}).get("status")]
        event.ok = event.detail["drain"] == [200, "draining"] and event.detail["undrain"][0] == 200

    def fake(self, mode: str, event: Event) -> None:
        port = free_port()
        fake = Service(f"fake-{len(self.farm.fakes)}-{mode}",
                       [PY, "-m", "tests.faults.fake_worker", "--port", str(port), "--mode", mode, "--max-life", "300"],
                       port, {}, "/fake/stats", self.farm.log_dir)
        event.target = f"{fake.name} {fake.url}"
        with self.farm.lock:
            self.farm.fakes.append(fake)
        fake.start()
        try:
            admin = self.farm.url + "/admin/backends"
            reply = http("POST", admin, json={"url": fake.url}, timeout=10)
            event.detail["added"] = reply.status_code
            started = time.monotonic()
            ejected = wait_for(lambda: (self.farm.backend(fake.url) or {}).get("status") == "ejected", EJECT_BOUND_S)
            event.detail["ejected"] = bool(ejected)
            event.detail["ejected_after_s"] = round(time.monotonic() - started, 2) if ejected else None
            event.detail["fake_jobs"] = http("GET", fake.url + "/fake/stats", timeout=5).json().get("jobs")
            reply = http("DELETE", admin, json={"url": fake.url}, timeout=10)
            event.detail["removed"] = reply.status_code
            gone = wait_for(lambda: self.farm.backend(fake.url) is None, 30)
            event.detail["gone"] = gone is True
            event.ok = (event.detail["added"] == 201 and bool(ejected) and event.detail["removed"] == 200
                        and gone is True)
        finally:
            event.detail["fake_exit"] = fake.terminate(10)[0]


# --- memory ---------------------------------------------------------------------------------------

class MemorySampler:
    """The balancer's RSS (master + worker child) every MEMORY_EVERY_S seconds."""

    def __init__(self, farm: Farm, stop: threading.Event) -> None:
        self.farm = farm
        self.stop = stop
        self.samples: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def sample(self, label: str = "") -> dict[str, Any]:
        master, child = self.farm.balancer_rss_kb()
        entry: dict[str, Any] = {"t": now_s(), "master_kb": master, "child_kb": child, "total_kb": master + child}
        if label:
            entry["label"] = label
        with self.lock:
            self.samples.append(entry)
        return entry

    def run(self) -> None:
        for _ in range(100_000):
            if self.stop.wait(MEMORY_EVERY_S):
                return
            self.sample()


# --- the run --------------------------------------------------------------------------------------

def wait_idle(farm: Farm, timeout_s: float) -> bool:
    """Until the balancer has nothing in flight and nothing waiting."""
    return bool(wait_for(lambda: (lambda s: s["in_flight"] == 0 and s["waiting"] == 0)(farm.status()), timeout_s, 0.5))


def warm_up(farm: Farm, rng: random.Random, tally: Tally) -> None:
    """Every kind of traffic once, so that the memory baseline has every code path loaded."""
    base = farm.url
    jobs = [make_job(rng, "explain")]
    for engine in ("rules", "hybrid", "llm", None):
        for kind in ("generate", "split"):
            job = make_job(rng, kind)
            job.body.pop("engine", None)
            if engine:
                job.body["engine"] = engine
            job.engine = engine
            jobs.append(job)
    threads = [threading.Thread(target=send_job, args=(base, job, tally), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CLIENT_TIMEOUT_S + 10)
    leave_mid_job(farm.balancer.port if farm.balancer else 0, make_job(rng, "explain"), 0.1, tally)
    slow_wave(farm.balancer.port if farm.balancer else 0, 20, tally)


def log_findings(log_dir: Path) -> dict[str, Any]:
    """Tracebacks, unhandled errors and 5xx access-log lines in every service log."""
    access = re.compile(r'"(GET|POST|DELETE|PUT|HEAD) (\S+) HTTP/1\.\d" (\d{3}) ')
    findings: dict[str, Any] = {}
    for path in sorted(log_dir.glob("*.log")):
        text = path.read_text(errors="replace")
        statuses: Counter[str] = Counter()
        for match in access.finditer(text):
            statuses[f"{match.group(1)} {match.group(2)} {match.group(3)}"] += 1
        lines = text.splitlines()
        tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
        errors = [line for line in lines if " ERROR " in line or "unhandled error" in line]
        findings[path.stem] = {
            "responses": dict(sorted(statuses.items())),
            "responses_500": sum(n for k, n in statuses.items() if k.endswith(" 500")),
            "tracebacks": len(tracebacks),
            "first_traceback": "\n".join(lines[tracebacks[0]: tracebacks[0] + 25]) if tracebacks else None,
            "error_lines": errors[:20],
        }
    return findings


def code_version() -> dict[str, Any]:
    """The commit and the uncommitted files of the tree the services run from (read without taking git's locks)."""
    def git(*argv: str) -> str:
        try:
            done = subprocess.run(["git", "--no-optional-locks", *argv], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"? ({exc})"
        return done.stdout.strip() if done.returncode == 0 else f"? ({done.stderr.strip()[:200]})"

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": [line for line in git("status", "--porcelain").splitlines() if line]}


def run(args: argparse.Namespace, farm: Farm, log_dir: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    tally = Tally()
    stop = threading.Event()
    code_at_start = code_version()
    print(f"starting the farm (logs in {log_dir}) from {code_at_start['commit']}", flush=True)
    farm.start()
    assert farm.balancer is not None
    print(f"  t={now_s():7.1f}s balancer {farm.url}, workers {[w.url for w in farm.workers]}", flush=True)
    warm_up(farm, rng, tally)
    wait_idle(farm, 60)
    memory = MemorySampler(farm, stop)
    start_sample = memory.sample("start")
    load_started = now_s()
    deadline = time.monotonic() + args.duration
    print(f"  t={now_s():7.1f}s warm-up done ({len(tally.records)} jobs); load for {args.duration:g}s", flush=True)

    threads: list[threading.Thread] = []

    def spawn(name: str, target: Callable[..., None], *targs: Any) -> None:
        thread = threading.Thread(target=target, args=targs, name=name, daemon=True)
        threads.append(thread)
        thread.start()

    seeds = random.Random(args.seed + 1)
    for n in range(args.clients):
        spawn(f"single-{n}", single_client, farm.url, random.Random(seeds.random()), stop, tally)
    for n in range(args.split_clients):
        spawn(f"split-{n}", split_client, farm.url, random.Random(seeds.random()), stop, tally)
    for n in range(args.leavers):
        spawn(f"leaver-{n}", leaving_client, farm.balancer.port, random.Random(seeds.random()), stop, tally)
    spawn("slow", slow_clients, farm.balancer.port, random.Random(seeds.random()), stop, deadline, args.slow_per_wave,
          tally)
    chaos = Chaos(farm, random.Random(seeds.random()), stop, deadline, fakes=2 if args.duration >= 120 else 1)
    chaos_thread = threading.Thread(target=chaos.run, name="chaos", daemon=True)
    chaos_thread.start()
    memory_thread = threading.Thread(target=memory.run, name="memory", daemon=True)
    memory_thread.start()

    for _ in range(int(args.duration) + 10):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(1.0, remaining))
    # chaos finishes its event in progress (its worker is back) before the load stops
    chaos_thread.join(TERM_BOUND_S + START_BOUND_S + EJECT_BOUND_S + 60)
    stop.set()
    load_stopped = now_s()
    print(f"  t={now_s():7.1f}s load stops; waiting for the clients", flush=True)
    for thread in threads:
        thread.join(max(0.0, CLIENT_TIMEOUT_S + 15 - (now_s() - load_stopped)))
    stuck = [t.name for t in threads if t.is_alive()]
    idle = wait_idle(farm, 120)
    time.sleep(2.0)
    end_sample = memory.sample("end")
    memory_thread.join(MEMORY_EVERY_S + 2)

    emulator_stats: dict[str, Any] = {}
    if farm.emulator is not None:
        try:
            emulator_stats = http("GET", farm.emulator.url + "/_emulator/stats", timeout=5).json()
        except (requests.RequestException, ValueError) as exc:
            emulator_stats = {"error": str(exc)}
    try:
        final_backends = [{k: b.get(k) for k in ("url", "status", "in_flight", "ejections", "last_error")}
                          for b in farm.status()["backends"]]
    except (requests.RequestException, ValueError, KeyError) as exc:
        final_backends = [{"error": str(exc)}]
    jobs = tally.summary()
    totals = [s["total_kb"] for s in memory.samples]
    growth = (end_sample["total_kb"] - start_sample["total_kb"]) * 100.0 / max(1, start_sample["total_kb"])
    chaos_done = Counter(e.kind for e in chaos.events if e.ok)
    chaos_failed = Counter(e.kind for e in chaos.events if not e.ok)
    return {
        "bench": "soak",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        # services restarted by chaos load the tree as it is then: both ends say whether it changed meanwhile
        "code": {"at_start": code_at_start, "at_end": code_version()},
        "command": " ".join(["python -m bench.soak", *sys.argv[1:]]),
        "args": vars(args),
        "settings": {"emulator_delay_s": EMULATOR_DELAY_S, "balancer": BALANCER_ENV, "worker": WORKER_ENV,
                     "worker_default_engines": list(WORKER_ENGINES), "client_timeout_s": CLIENT_TIMEOUT_S},
        "load_s": {"started": load_started, "stopped": load_stopped, "idle_after": now_s()},
        "farm_idle_at_end": idle,
        "backends_at_end": final_backends,
        "client_threads_stuck": stuck,
        "jobs": jobs,
        "chaos": {
            "done": dict(chaos_done),
            "failed": dict(chaos_failed),
            "events": [asdict(e) for e in chaos.events],
        },
        "memory": {
            "start_kb": start_sample["total_kb"],
            "end_kb": end_sample["total_kb"],
            "max_kb": max(totals),
            "change_percent": round(growth, 2),
            "limit_percent": MEMORY_LIMIT_PCT,
            "samples": memory.samples,
        },
        "emulator_stats": emulator_stats,
        "logs_dir": str(log_dir),
        "log_findings": log_findings(log_dir),
    }


def markdown(report: dict[str, Any]) -> str:
    jobs = report["jobs"]
    slow = jobs["slow_clients"]
    mem = report["memory"]
    chaos = report["chaos"]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(jobs["sent_by_kind"].items()))
    failed = ", ".join(f"{s}: {n}" for s, n in jobs["failed_by_status"].items()) or "none"
    done = ", ".join(f"{k} {n}" for k, n in sorted(chaos["done"].items())) or "none"
    not_done = ", ".join(f"{k} {n}" for k, n in sorted(chaos["failed"].items()))
    ejected = [e for e in chaos["events"] if e["kind"] == "fake"]
    ejected_ok = sum(1 for e in ejected if e["detail"].get("ejected"))
    lat = "; ".join(f"{k} p50 {v['p50_s']}s p95 {v['p95_s']}s max {v['max_s']}s"
                    for k, v in jobs["latency_succeeded"].items())
    rows = [
        ("duration, seed", f"{report['args']['duration']:g} s of load, seed {report['args']['seed']}"),
        ("jobs sent", f"{jobs['sent']} ({kinds})"),
        ("succeeded", f"{jobs['succeeded']}"),
        ("failed with a correct error", f"{jobs['failed_correctly']} ({failed})"),
        ("left mid-job on purpose", f"{jobs['left']} ({jobs['left_with_a_reply_first']} had a reply first)"),
        ("**lost**", f"**{jobs['lost']}**"),
        ("slow clients (trickled heads)", f"{slow['sent']}, {slow['got_408']} got 408 JSON "
                                          f"after {slow['answered_after_s_min']}–{slow['answered_after_s_max']} s"),
        ("chaos events done", done + (f" (not as expected: {not_done})" if not_done else "")),
        ("fake workers ejected", f"{ejected_ok}/{len(ejected)}"),
        ("balancer RSS start / end / max", f"{mem['start_kb'] / 1024:.1f} / {mem['end_kb'] / 1024:.1f} / "
                                           f"{mem['max_kb'] / 1024:.1f} MB"),
        ("balancer RSS change", f"{mem['change_percent']:+.2f}% (limit +{mem['limit_percent']:g}%)"),
        ("latency of successes", lat),
        ("backends at the end", ", ".join(f"{b.get('url', '?').rsplit(':', 1)[-1]} {b.get('status')}"
                                          for b in report["backends_at_end"])),
        ("emulator (LLM calls)", ", ".join(f"{k} {v}" for k, v in report["emulator_stats"].items())),
    ]
    code = report["code"]
    changed = code["at_start"] != code["at_end"]
    tested = f"{code['at_start']['commit']} + {len(code['at_start']['uncommitted'])} uncommitted path(s)"
    rows.insert(0, ("code under test", tested + (" (the tree CHANGED during the run)" if changed else "")))
    out = ["| measure | result |", "|---|---|"]
    out += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=240.0, help="seconds of load (default 240)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clients", type=int, default=8, help="clients sending single /generate and /explain jobs")
    parser.add_argument("--split-clients", type=int, default=2)
    parser.add_argument("--leavers", type=int, default=1, help="clients that leave mid-job")
    parser.add_argument("--slow-per-wave", type=int, default=60, help="slow clients per wave (a wave every 20-40 s)")
    args = parser.parse_args()
    if not 0 < args.duration <= 3600:
        parser.error("--duration must be in (0, 3600]")

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    log_dir = Path(tempfile.mkdtemp(prefix="soak-logs-"))
    farm = Farm(log_dir)
    report: dict[str, Any] | None = None
    try:
        report = run(args, farm, log_dir)
    except KeyboardInterrupt:
        print("interrupted: stopping every process started", flush=True)
        return 130
    finally:
        with PROCS_LOCK:
            TEARDOWN.set()
        forced = farm.stop_all()
        if forced:
            print(f"needed SIGKILL at teardown: {forced}", flush=True)
            if report is not None:
                report["teardown_sigkill"] = forced
    lost = report["jobs"]["lost"]
    grew = report["memory"]["change_percent"] > MEMORY_LIMIT_PCT
    report["passed"] = lost == 0 and not grew
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(markdown(report))
    print()
    print(f"results in {RESULTS / 'soak.json'}; service logs in {log_dir}")
    if lost:
        print(f"FAIL: {lost} job(s) lost; see jobs.lost_jobs in soak.json", flush=True)
    if grew:
        print(f"FAIL: the balancer's memory grew {report['memory']['change_percent']:+.2f}%", flush=True)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
