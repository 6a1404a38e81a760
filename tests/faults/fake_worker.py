"""A scriptable fake worker: a real process on raw sockets whose job endpoints fail in one exact way.

    python -m tests.faults.fake_worker --port N --mode MODE [--delay S] [--flap-period S] [--max-life S]

It speaks just enough of the worker contract (README, openapi.yaml) for the balancer:

    GET  /healthz        {"status": "ok"}
    GET  /queue-status   {"queue_size": 0, "active": false, "slots": 1, "models": ["codellama:13b"], "status": "ok"}
    POST /generate, /upload          {"playbook": ..., "elapsed", "prompt_tokens", "response_tokens",
                                      "total_tokens", "model", "engine": "rules", "warnings": []}
    POST /explain, /explain-code     {"explanation": ..., "elapsed", token fields, "model"}
    POST /generate-code              {"code": ..., "elapsed", token fields, "model"}

It is written on ``socketserver.ThreadingTCPServer``, not Flask, so that every fault is byte-exact:
nothing buffers, retries or "helpfully" completes a reply. Every reply carries ``Connection: close``
(one request per connection), so each job the balancer sends arrives on a connection of its own.

Modes (what the job endpoints do; ``/healthz`` and ``/queue-status`` stay healthy unless said):

    good           200 with the contract's JSON for the endpoint.
    hang           reads the request and never answers, for jobs AND /healthz, /queue-status; the
                   connection is held until the client closes it (or --max-hang passes).
    accept-close   reads the request, then closes the connection (FIN) without sending a byte (jobs only).
    die-mid-reply  sends "HTTP/1.1 200 OK", complete headers announcing the full Content-Length and
                   half of the JSON body, then resets the connection (RST, SO_LINGER 0).
    500            500 application/json {"error": "boom"}.
    html-200       200 text/html, an HTML page.
    slow           the good reply, after --delay seconds.
    wrong-json     200 application/json of the wrong shape: {"result": 1} and a JSON list, alternately.
    flapping       good for --flap-period seconds, then --flap-period seconds in which EVERY request
                   (jobs, /healthz, /queue-status) is read and answered with a connection reset (RST,
                   no byte), and so on; phases count from the start (or the last POST /fake/mode).
    refuse         the process binds NOTHING: connections to --port are refused by the kernel. The
                   process only prints its READY line and waits for SIGTERM, so a test can start it
                   like the others; not starting anything on a free port is equivalent.

Control plane, answered in every listening mode and never faulted (tests read it, the balancer never does):

    GET  /fake/stats   {"mode", "phase", "pid", "port", "connections", "jobs", "jobs_by_path",
                        "jobs_by_mode", "jobs_answered", "jobs_faulted", "status_requests",
                        "healthz_requests", "jobs_in_flight", "max_jobs_in_flight", "journal"}.
                        ``journal``: the last 500 jobs, {marker (the first 80 characters of
                        ``commands``), start, end (epoch s)}. ``jobs`` counts every job request received (read in
                        full), whatever happened to it; ``jobs_by_mode`` keys them by the behaviour
                        applied (``flapping-up`` / ``flapping-down`` for flapping); ``jobs_answered``
                        counts correct 200 replies sent in full.
    POST /fake/mode    {"mode": M, "delay"?: S, "flap_period"?: S}: switch the behaviour now (not to
                       ``refuse``). Lets a test have the balancer see a backend healthy, then break it.
    POST /fake/reset   zero the counters.

Readiness: once it listens, the process prints ``READY port=N mode=M pid=P`` on stdout (``refuse``:
once started, since it never listens). ``/healthz`` answers from then on in every mode but hang,
refuse and flapping's down phase; ``/fake/stats`` answers in every mode but refuse. So tests wait for
``/fake/stats`` (any listening mode, hang included) and for the READY line (refuse).

Every wait is bounded: the whole process exits by itself after --max-life seconds (default 600),
a hung connection is let go after --max-hang seconds, a client that stalls mid-request after 10 s.
SIGTERM or SIGINT stop it at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

JOB_PATHS = ("/generate", "/upload", "/explain", "/generate-code", "/explain-code")
MODES = ("good", "hang", "accept-close", "die-mid-reply", "500", "html-200", "slow", "refuse", "wrong-json", "flapping")
DEFAULT_MODEL = "codellama:13b"
PLAYBOOK = "- hosts: all\n  tasks: []\n"

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_CHUNKS = 10_000  # chunked request bodies: most chunks read
IO_TIMEOUT_S = 10.0  # a client that stalls in the middle of its request
POLL_S = 0.1  # how often hangs and sleeps look at the stop flag
DIE_PAUSE_S = 0.05  # die-mid-reply: let the client read the partial reply before the reset

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


class BadRequest(Exception):
    """The bytes on the connection are not an HTTP/1.x request we can read."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    @property
    def model(self) -> str:
        """The ``model`` field of a JSON body or a multipart form; the default otherwise."""
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            return str(body["model"])
        found = re.search(rb'name="model"\r\n(?:[^\r\n]*\r\n)*?\r\n([^\r\n]*)\r\n', self.body)
        return found.group(1).decode("utf-8", "replace") if found else DEFAULT_MODEL

    @property
    def filename(self) -> str:
        found = re.search(rb'name="file"; filename="([^"]*)"', self.body)
        return found.group(1).decode("utf-8", "replace") if found else "script.sh"


# --- reading and writing HTTP/1.1 by hand ------------------------------------------------------

class _Reader:
    """Buffered, bounded reads from one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def until(self, marker: bytes, limit: int) -> bytes | None:
        """Bytes up to ``marker`` (consumed, not returned); None when the peer closed before any byte."""
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise BadRequest("request head too large")
            if not self._fill():
                if self.buf:
                    raise BadRequest("connection closed in the middle of the request")
                return None
        data, _, self.buf = self.buf.partition(marker)
        return data

    def exactly(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not self._fill():
                raise BadRequest("connection closed in the middle of the body")
        data, self.buf = self.buf[:size], self.buf[size:]
        return data


def read_request(sock: socket.socket) -> Request | None:
    """One request from ``sock``; None when the client closed without sending one."""
    reader = _Reader(sock)
    head = reader.until(b"\r\n\r\n", MAX_HEAD_BYTES)
    if head is None:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0][:80]!r}")
    method, target, _version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        for _ in range(MAX_CHUNKS):
            size_line = reader.until(b"\r\n", 1024)
            if size_line is None:
                raise BadRequest("connection closed in a chunked body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                reader.until(b"\r\n", MAX_HEAD_BYTES)  # (no trailers expected) the final CRLF
                break
            if len(body) + size > MAX_BODY_BYTES:
                raise BadRequest("body too large")
            body += reader.exactly(size)
            reader.exactly(2)
        else:
            raise BadRequest("too many chunks")
    else:
        try:
            length = int(headers.get("content-length", "0") or "0")
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            raise BadRequest("bad Content-Length")
        body = reader.exactly(length)
    return Request(method.upper(), target.split("?", 1)[0], headers, body)


def http_head(status: int, content_type: str, length: int) -> bytes:
    return (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")


def http_reply(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    return http_head(status, content_type, len(body)) + body


def json_reply(status: int, value: Any) -> bytes:
    return http_reply(status, json.dumps(value).encode("utf-8"))


def reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: the peer sees 'connection reset by peer'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


# --- the contract's answers ---------------------------------------------------------------------

def good_body(path: str, request: Request) -> dict[str, Any]:
    """The worker contract's 200 body for a job on ``path``."""
    tokens = {"elapsed": 0.01, "prompt_tokens": 0, "response_tokens": 0, "total_tokens": 0, "model": request.model}
    if path in ("/generate", "/upload"):
        body: dict[str, Any] = {"playbook": PLAYBOOK, **tokens, "engine": "rules", "warnings": []}
        if path == "/upload":
            body["filename"] = request.filename
        return body
    if path == "/generate-code":
        return {"code": "print('hello from the fake worker')\n", **tokens}
    return {"explanation": "The fake worker explains: it does nothing.", **tokens}


QUEUE_STATUS = {"queue_size": 0, "active": False, "slots": 1, "models": [DEFAULT_MODEL], "status": "ok"}
HTML_PAGE = b"<!doctype html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\n"
WRONG_SHAPES: tuple[Any, ...] = ({"result": 1}, ["playbook", PLAYBOOK])


# --- the fake ------------------------------------------------------------------------------------

class FakeWorker:
    """The scripted behaviour and its counters, shared by all connection threads."""

    def __init__(self, mode: str, *, port: int, delay_s: float, flap_period_s: float, max_hang_s: float) -> None:
        self.port = port
        self.max_hang_s = max_hang_s
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._by_path: Counter[str] = Counter()
        self._by_mode: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._journal: list[dict[str, Any]] = []
        self._set_mode(mode, delay_s, flap_period_s)

    def _set_mode(self, mode: str, delay_s: float, flap_period_s: float) -> None:
        self.mode = mode
        self.delay_s = delay_s
        self.flap_period_s = flap_period_s
        self.mode_since = time.monotonic()

    def behaviour(self) -> str:
        """What to do right now: the mode, with flapping resolved to flapping-up or flapping-down."""
        with self._lock:
            if self.mode != "flapping":
                return self.mode
            phase = int((time.monotonic() - self.mode_since) / self.flap_period_s)
            return "flapping-up" if phase % 2 == 0 else "flapping-down"

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def record_job(self, path: str, behaviour: str) -> int:
        """Count one job received; returns its 0-based index (wrong-json alternates on it)."""
        with self._lock:
            index = self._counts["jobs"]
            self._counts["jobs"] += 1
            self._by_path[path] += 1
            self._by_mode[behaviour] += 1
            return index

    def job_started(self, request: Request) -> dict[str, Any]:
        """Note a job running now (for overbooking checks); returns its journal entry."""
        try:
            body = request.json()
        except ValueError:
            body = None
        marker = body.get("commands") if isinstance(body, dict) and isinstance(body.get("commands"), str) else ""
        entry = {"marker": marker[:80], "start": time.time(), "end": None}
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._journal.append(entry)
        return entry

    def job_ended(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._in_flight -= 1
            entry["end"] = time.time()

    def stats(self) -> dict[str, Any]:
        behaviour = self.behaviour()
        with self._lock:
            return {
                "mode": self.mode,
                "phase": behaviour.removeprefix("flapping-") if self.mode == "flapping" else None,
                "delay": self.delay_s,
                "flap_period": self.flap_period_s,
                "pid": os.getpid(),
                "port": self.port,
                "connections": self._counts["connections"],
                "jobs": self._counts["jobs"],
                "jobs_by_path": dict(self._by_path),
                "jobs_by_mode": dict(self._by_mode),
                "jobs_answered": self._counts["jobs_answered"],
                "jobs_faulted": self._counts["jobs"] - self._counts["jobs_answered"],
                "status_requests": self._counts["status_requests"],
                "healthz_requests": self._counts["healthz_requests"],
                "bad_requests": self._counts["bad_requests"],
                "jobs_in_flight": self._in_flight,
                "max_jobs_in_flight": self._max_in_flight,
                "journal": [dict(entry) for entry in self._journal[-500:]],
            }

    def control(self, request: Request) -> bytes:
        """The /fake/* endpoints."""
        if request.path == "/fake/stats" and request.method == "GET":
            return json_reply(200, self.stats())
        if request.path == "/fake/reset" and request.method == "POST":
            with self._lock:
                self._counts.clear()
                self._by_path.clear()
                self._by_mode.clear()
                self._max_in_flight = self._in_flight
                self._journal.clear()
            return json_reply(200, self.stats())
        if request.path == "/fake/mode" and request.method == "POST":
            body = request.json()
            mode = body.get("mode") if isinstance(body, dict) else None
            if mode not in MODES or mode == "refuse":
                return json_reply(400, {"error": f"mode must be one of {[m for m in MODES if m != 'refuse']}"})
            with self._lock:
                self._set_mode(mode, float(body.get("delay", self.delay_s)), float(body.get("flap_period", self.flap_period_s)))
            return json_reply(200, self.stats())
        return json_reply(404, {"error": f"no {request.method} {request.path}"})

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, in steps, ending early when the process stops."""
        self.stopping.wait(seconds)


class Handler(socketserver.BaseRequestHandler):
    """One connection: read one request, apply the behaviour, close."""

    server: Server
    request: socket.socket

    def handle(self) -> None:
        fake = self.server.fake
        sock = self.request
        sock.settimeout(IO_TIMEOUT_S)
        fake.count("connections")
        try:
            request = read_request(sock)
        except (OSError, BadRequest, ValueError):
            fake.count("bad_requests")
            return
        if request is None:
            return
        if request.path.startswith("/fake/"):
            self.send(fake.control(request))
            return
        behaviour = fake.behaviour()
        if request.path in JOB_PATHS:
            if request.method != "POST":
                self.send(json_reply(405, {"error": f"{request.method} not allowed on {request.path}"}))
                return
            entry = fake.job_started(request)
            try:
                self.job(behaviour, request, fake.record_job(request.path, behaviour))
            finally:
                fake.job_ended(entry)
        elif request.path in ("/healthz", "/queue-status"):
            fake.count("healthz_requests" if request.path == "/healthz" else "status_requests")
            if request.method != "GET":
                self.send(json_reply(405, {"error": f"{request.method} not allowed on {request.path}"}))
            elif behaviour == "hang":
                self.hang()
            elif behaviour == "flapping-down":
                reset(sock)
            elif request.path == "/healthz":
                self.send(json_reply(200, {"status": "ok"}))
            else:
                self.send(json_reply(200, QUEUE_STATUS))
        else:
            self.send(json_reply(404, {"error": f"no {request.path} here"}))

    def job(self, behaviour: str, request: Request, index: int) -> None:
        fake = self.server.fake
        sock = self.request
        if behaviour in ("good", "flapping-up"):
            self.answer_good(request)
        elif behaviour == "slow":
            fake.sleep(fake.delay_s)
            if not fake.stopping.is_set():
                self.answer_good(request)
        elif behaviour == "hang":
            self.hang()
        elif behaviour == "accept-close":
            pass  # not a byte: socketserver's shutdown_request sends the FIN
        elif behaviour == "flapping-down":
            reset(sock)
        elif behaviour == "die-mid-reply":
            body = json.dumps(good_body(request.path, request)).encode("utf-8")
            if self.send(http_head(200, "application/json", len(body)) + body[: len(body) // 2]):
                fake.sleep(DIE_PAUSE_S)
            reset(sock)
        elif behaviour == "500":
            self.send(json_reply(500, {"error": "boom"}))
        elif behaviour == "html-200":
            self.send(http_reply(200, HTML_PAGE, "text/html; charset=utf-8"))
        elif behaviour == "wrong-json":
            self.send(json_reply(200, WRONG_SHAPES[index % len(WRONG_SHAPES)]))
        else:  # pragma: no cover - argparse and /fake/mode only let known modes in
            self.send(json_reply(500, {"error": f"unknown mode {behaviour}"}))

    def answer_good(self, request: Request) -> None:
        if self.send(json_reply(200, good_body(request.path, request))):
            self.server.fake.count("jobs_answered")

    def send(self, data: bytes) -> bool:
        try:
            self.request.sendall(data)
            return True
        except OSError:  # the client left (e.g. the balancer's timeout); nothing to tell
            return False

    def hang(self) -> None:
        """Hold the connection without a byte until the client closes it, the process stops or max_hang."""
        fake = self.server.fake
        deadline = time.monotonic() + fake.max_hang_s
        while not fake.stopping.is_set() and time.monotonic() < deadline:
            try:
                readable, _, _ = select.select([self.request], [], [], POLL_S)
                if readable and not self.request.recv(65536):
                    return  # the client gave up
            except OSError:
                return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, port: int, fake: FakeWorker) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.fake = fake
        fake.port = self.server_address[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.fake_worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--mode", choices=MODES, default="good")
    parser.add_argument("--delay", type=float, default=5.0, help="slow: seconds before the good reply")
    parser.add_argument("--flap-period", type=float, default=1.0, help="flapping: seconds of each phase")
    parser.add_argument("--max-hang", type=float, default=300.0, help="hang: longest a connection is held")
    parser.add_argument("--max-life", type=float, default=600.0, help="the process exits by itself after this")
    args = parser.parse_args(argv)
    if args.delay < 0 or args.flap_period <= 0 or args.max_life <= 0 or args.max_hang <= 0:
        parser.error("--delay must be >= 0; --flap-period, --max-hang and --max-life > 0")

    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.monotonic() + args.max_life

    if args.mode == "refuse":  # binds nothing: the kernel refuses every connection to --port
        print(f"READY port={args.port} mode=refuse pid={os.getpid()} (listening on nothing)", flush=True)
        while not stopping.wait(min(1.0, max(0.0, deadline - time.monotonic()))) and time.monotonic() < deadline:
            pass
        return 0

    fake = FakeWorker(args.mode, port=args.port, delay_s=args.delay, flap_period_s=args.flap_period,
                      max_hang_s=args.max_hang)
    fake.stopping = stopping
    server = Server(args.port, fake)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_S}, name="serve", daemon=True)
    thread.start()
    print(f"READY port={fake.port} mode={args.mode} pid={os.getpid()}", flush=True)
    while not stopping.wait(min(1.0, max(0.0, deadline - time.monotonic()))) and time.monotonic() < deadline:
        pass
    stopping.set()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
