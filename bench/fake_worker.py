"""A fast fake worker for the performance benches: asyncio on raw sockets, keep-alive, no framework.

    python -m bench.fake_worker --port N [--write one|two] [--slots S] [--delay S] [--max-life S]
    python -m bench.fake_worker --silent --port N [--port M ...]

It answers the part of the worker contract the balancer uses:

    GET  /healthz        {"status": "ok"}
    GET  /queue-status   {"queue_size": waiting + running, "active", "slots", "models": ["codellama:13b"],
                          "status": "ok", "running", "waiting"}
    POST /generate (and /upload, /explain, /generate-code, /explain-code)
                         200 {"playbook": ..., "elapsed", token fields, "model", "engine": "rules",
                              "warnings": [], ...}
    GET  /fake/stats     {"jobs", "max_running", "connections", "pid", "timeline"} (for the bench, never the
                         balancer); ``timeline``: [arrived, started, ended] of each sleeping job, in
                         ``time.monotonic()`` seconds (one clock for every process on the machine)

The playbook has ONE ``ansible.builtin.shell`` task per non-blank line of ``commands``, so the
balancer's split mode can merge the chunks into a valid playbook. A job runs ``sleep_s`` seconds
(a number in the JSON body) or ``--delay``; with ``--slots S`` at most S jobs run at once and the
rest wait in FIFO order (as a real worker's queue does). With no delay and no slot limit a job is
answered at once, from a small reply cache, so the fake costs as little CPU as it can in Python.

``--write one`` (the default) sends each reply's head and body in ONE send; ``--write two`` sends
the head, then the body, in two sends, as Python's ``http.server`` does. Both variants turn
TCP_NODELAY off on their sockets (asyncio turns it on), so Nagle's algorithm applies exactly as
it does to ``http.server``: only the write pattern differs between the two.

``--silent``: listen on every ``--port``, accept connections, read what comes and never answer
(a hung worker; many ports in one process).

A client that closes its connection while its job sleeps or waits frees its slot at once.
Readiness: ``READY ports=... pid=P`` on stdout once listening. Every process exits by itself
after ``--max-life`` seconds (default 900); SIGTERM or SIGINT stop it at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections import OrderedDict
from typing import Any

MODEL = "codellama:13b"
JOB_PATHS = frozenset({"/generate", "/upload", "/explain", "/generate-code", "/explain-code"})
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
CACHE_SIZE = 256


def playbook_for(commands: str) -> str:
    """One play with one shell task per non-blank line; JSON strings are valid YAML scalars."""
    lines = [line.strip() for line in commands.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not lines:
        return "- name: Fake\n  hosts: all\n  tasks: []\n"
    tasks = "".join(
        f"    - name: {json.dumps(f'Run {line}'[:200])}\n      ansible.builtin.shell: {json.dumps(line)}\n"
        for line in lines
    )
    return "- name: Fake\n  hosts: all\n  tasks:\n" + tasks


def job_body(path: str, request: Any, elapsed: float) -> dict[str, Any]:
    body = request if isinstance(request, dict) else {}
    model = body.get("model") if isinstance(body.get("model"), str) else MODEL
    tokens = {"prompt_tokens": 0, "response_tokens": 0, "total_tokens": 0}
    if path in ("/explain", "/explain-code"):
        return {"explanation": "fake", "elapsed": elapsed, **tokens, "model": model}
    if path == "/generate-code":
        return {"code": "true\n", "elapsed": elapsed, **tokens, "model": model}
    commands = body.get("commands")
    if not isinstance(commands, str):
        commands = "true"
    return {"playbook": playbook_for(commands), "elapsed": elapsed, **tokens, "model": model,
            "engine": "rules", "warnings": [], "validation": {"ok": True}}


def http_reply(status: int, body: dict[str, Any], *, close: bool) -> tuple[bytes, bytes]:
    payload = json.dumps(body).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    ).encode("latin-1")
    return head, payload


class Worker:
    """Shared state of one fake worker process."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.two_writes = args.write == "two"
        self.slots = args.slots
        self.delay = args.delay
        self.silent = args.silent
        self.semaphore = asyncio.Semaphore(args.slots) if args.slots > 0 else None
        self.running = 0
        self.waiting = 0
        self.max_running = 0
        self.jobs = 0
        self.connections = 0
        self.timeline: list[tuple[float, float, float]] = []  # (arrived, started, ended) of sleeping jobs
        self.cache: OrderedDict[tuple[str, bytes], tuple[bytes, bytes]] = OrderedDict()

    def status(self) -> dict[str, Any]:
        return {"queue_size": self.running + self.waiting, "active": self.running > 0,
                "slots": self.slots if self.slots > 0 else 16, "models": [MODEL], "status": "ok",
                "running": self.running, "waiting": self.waiting}


class Connection(asyncio.Protocol):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a job of this connection is waiting or sleeping: later requests wait
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.worker.connections += 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)  # as http.server: Nagle on

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()  # the client left: free the slot

    def data_received(self, data: bytes) -> None:
        if self.worker.silent:
            return
        self.buf += data
        self.process()

    def process(self) -> None:
        while not self.busy and self.transport is not None and not self.transport.is_closing():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self.transport.close()
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self.transport.close()
                return
            method, target = parts[0], parts[1]
            length = 0
            close = parts[2] == "HTTP/1.0"
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip() or 0)
                elif name == "connection":
                    close = value.strip().lower() == "close"
                elif name == "transfer-encoding":
                    self.transport.close()  # not needed by the benches
                    return
            if length > MAX_BODY:
                self.transport.close()
                return
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.handle(method, target.split("?", 1)[0], body, close)

    def send(self, head: bytes, payload: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.worker.two_writes:
            transport.write(head)
            transport.write(payload)
        else:
            transport.write(head + payload)
        if close:
            transport.close()

    def handle(self, method: str, path: str, body: bytes, close: bool) -> None:
        worker = self.worker
        if method == "GET" and path == "/queue-status":
            self.send(*http_reply(200, worker.status(), close=close), close)
        elif method == "GET" and path == "/healthz":
            self.send(*http_reply(200, {"status": "ok"}, close=close), close)
        elif method == "GET" and path == "/fake/stats":
            stats = {"jobs": worker.jobs, "max_running": worker.max_running, "connections": worker.connections,
                     "pid": os.getpid(), "timeline": worker.timeline[-10000:], **worker.status()}
            self.send(*http_reply(200, stats, close=close), close)
        elif method == "POST" and path in JOB_PATHS:
            worker.jobs += 1
            try:
                request = json.loads(body) if body else {}
            except ValueError:
                request = {}
            sleep_s = request.get("sleep_s") if isinstance(request, dict) else None
            delay = float(sleep_s) if isinstance(sleep_s, (int, float)) else worker.delay
            if delay <= 0 and worker.semaphore is None:
                key = (path, body)
                reply = worker.cache.get(key)
                if reply is None:
                    reply = http_reply(200, job_body(path, request, 0.0), close=False)
                    worker.cache[key] = reply
                    if len(worker.cache) > CACHE_SIZE:
                        worker.cache.popitem(last=False)
                head, payload = reply
                if close:
                    head = head[:-2] + b"Connection: close\r\n\r\n"
                self.send(head, payload, close)
            else:
                self.busy = True
                self.task = asyncio.get_running_loop().create_task(self.job(path, request, delay, close))
        else:
            self.send(*http_reply(404, {"error": f"no route {method} {path}"}, close=close), close)

    async def job(self, path: str, request: Any, delay: float, close: bool) -> None:
        worker = self.worker
        start = time.monotonic()
        acquired = False
        try:
            if worker.semaphore is not None:
                worker.waiting += 1
                try:
                    await worker.semaphore.acquire()
                    acquired = True
                finally:
                    worker.waiting -= 1
            worker.running += 1
            worker.max_running = max(worker.max_running, worker.running)
            began = time.monotonic()
            try:
                await asyncio.sleep(delay)
            finally:
                worker.running -= 1
            worker.timeline.append((start, began, time.monotonic()))
            self.send(*http_reply(200, job_body(path, request, round(time.monotonic() - start, 3)), close=close), close)
        except asyncio.CancelledError:
            pass
        finally:
            if acquired and worker.semaphore is not None:
                worker.semaphore.release()
            self.task = None
            self.busy = False
        self.process()


async def serve(args: argparse.Namespace) -> None:
    worker = Worker(args)
    loop = asyncio.get_running_loop()
    servers = []
    for port in args.port:
        servers.append(await loop.create_server(lambda: Connection(worker), "127.0.0.1", port, backlog=4096,
                                                reuse_address=True))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY ports={','.join(map(str, args.port))} pid={os.getpid()}", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), args.max_life)
    except asyncio.TimeoutError:
        pass
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, action="append", required=True)
    parser.add_argument("--write", choices=("one", "two"), default="one")
    parser.add_argument("--slots", type=int, default=0, help="jobs at once (0: no limit, reports 16)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per job unless the body says sleep_s")
    parser.add_argument("--silent", action="store_true", help="accept connections, never answer")
    parser.add_argument("--max-life", type=float, default=900.0)
    args = parser.parse_args(argv)
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    asyncio.run(serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
