"""``ansiblectl``: convert scripts, explain playbooks, read the farm's status and manage backends.

Every command is one HTTP call to the balancer (``--url``); while a job runs, a second
connection polls ``GET /jobs/<request id>`` for its place in the queue (``--progress``). What a
script needs is on stdout (the playbook, the explanation, ``--json``: the whole reply); what a
person needs is on stderr (progress, warnings, errors). Exit codes are listed in ``--help``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cli.http import Api, NoReply, Reply, TransportError
from common.apikeys import ROLES, KeyFileError, add_key

log = logging.getLogger(__name__)

DEFAULT_URL = "http://localhost:5000"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_REFUSED = 4
EXIT_RETRY = 5
EXIT_INVALID = 6

EXIT_CODES = f"""\
exit status:
  {EXIT_OK}  success
  {EXIT_FAILED}  the job failed: the model or a worker failed (HTTP 502), or the reply was not the service's JSON
  {EXIT_USAGE}  usage error, or an input that cannot be read as UTF-8 text
  {EXIT_UNREACHABLE}  the service cannot be reached at --url (nothing listens there, no such host)
  {EXIT_REFUSED}  the request was refused (HTTP 4xx): bad input, unknown model, body too large, unknown backend,
     missing or wrong admin token
  {EXIT_RETRY}  try again later: the farm is busy, full or draining (HTTP 503), or gave no reply in time
     (HTTP 504, or --timeout)
  {EXIT_INVALID}  --strict only: a playbook came back but did not pass validation

Errors are one line on stderr: "ansiblectl: error: <the service's message>" (with --json, the
service's JSON error object is printed on stdout too).
"""


class Failure(Exception):
    """Ends the command with a message on stderr and an exit status."""

    def __init__(self, message: str, code: int, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.body = body


def exit_code_for(status: int) -> int:
    """The exit status for an HTTP error status."""
    if status in (503, 504):
        return EXIT_RETRY
    if 400 <= status < 500:
        return EXIT_REFUSED
    return EXIT_FAILED


# -- progress --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobState:
    """What ``GET /jobs/<id>`` said last."""

    state: str
    position: int | None = None
    queue_length: int = 0
    waiting_leases: int = 0
    split: bool = False

    def describe(self) -> str:
        if self.state == "waiting":
            chunks = f" ({self.waiting_leases} chunks waiting)" if self.split and self.waiting_leases > 1 else ""
            return f"waiting for a free worker: place {self.position} of {self.queue_length} in the queue{chunks}"
        if self.state == "running":
            return "running on the workers" if self.split else "running on a worker"
        if self.state == "done":
            return "done"
        return "sending"


class Progress:
    """Shows on ``stream`` where the job is and for how long, until the job's reply is in.

    ``live``: a terminal, one line rewritten in place a few times a second; otherwise one line
    each time the place or the state changes (readable in a log).
    """

    def __init__(self, api: Api, request_id: str, stream: TextIO, *, live: bool, interval_s: float = 0.5) -> None:
        self.api = api
        self.request_id = request_id
        self.stream = stream
        self.live = live
        self.interval_s = interval_s
        self.started = time.monotonic()
        self.job = JobState("sending")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._last_line: str | None = None

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _run(self) -> None:
        while not self._done.wait(self.interval_s):
            self.job = self._poll() or self.job
            if self._done.is_set():
                return
            self._show()

    def _poll(self) -> JobState | None:
        try:
            reply = self.api.call("GET", f"/jobs/{self.request_id}", timeout_s=5)
        except TransportError:
            return None
        body = reply.body
        if not reply.ok or not isinstance(body, dict):
            return None  # not known there (yet): a worker, or the job is still on its way
        return JobState(str(body.get("state")), body.get("position"), int(body.get("queue_length") or 0),
                        int(body.get("waiting_leases") or 0), bool(body.get("split")))

    def _show(self) -> None:
        elapsed = time.monotonic() - self.started
        if self.live:
            self.stream.write(f"\r\033[K{self.job.describe()} · {elapsed:.1f} s")
            self.stream.flush()
            return
        line = self.job.describe()
        if line != self._last_line:
            self._last_line = line
            self.stream.write(f"{line} · {elapsed:.1f} s\n")
            self.stream.flush()


# -- commands --------------------------------------------------------------------------------------


@dataclass
class Context:
    """What every command runs with."""

    api: Api
    args: argparse.Namespace
    out: TextIO
    err: TextIO

    def note(self, text: str) -> None:
        if not getattr(self.args, "quiet", False):
            self.err.write(text + "\n")

    def emit(self, text: str) -> None:
        """The command's result: to ``-o FILE`` when given, else stdout."""
        if not text.endswith("\n"):
            text += "\n"
        target = getattr(self.args, "output", None)
        if target and target != "-":
            try:
                Path(target).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise Failure(f"cannot write {target}: {exc.strerror or exc}", EXIT_FAILED) from exc
            self.note(f"wrote {target}")
        else:
            self.out.write(text)

    def emit_json(self, body: Any) -> None:
        self.emit(json.dumps(body, indent=2, ensure_ascii=False))

    def show_progress(self) -> bool:
        mode = getattr(self.args, "progress", "auto")
        if getattr(self.args, "quiet", False) or mode == "never":
            return False
        return mode == "always" or self.err.isatty()

    def job(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send one job, showing its progress; its JSON reply, or Failure."""
        request_id = "cli-" + uuid.uuid4().hex
        headers = {"X-Request-Id": request_id}
        try:
            if self.show_progress():
                with Progress(self.api, request_id, self.err, live=self.err.isatty()):
                    reply = self.api.call("POST", path, body, headers=headers)
            else:
                reply = self.api.call("POST", path, body, headers=headers)
        except NoReply as exc:
            raise Failure(f"{exc} (--timeout)", EXIT_RETRY) from exc
        except TransportError as exc:
            raise Failure(str(exc), EXIT_UNREACHABLE) from exc
        return self.result(reply)

    def result(self, reply: Reply) -> dict[str, Any]:
        if not reply.ok or not isinstance(reply.body, dict):
            retry = reply.headers.get("Retry-After")
            hint = f" (retry after {retry} s)" if retry and reply.status == 503 else ""
            code = exit_code_for(reply.status) if not reply.ok else EXIT_FAILED
            raise Failure(f"HTTP {reply.status}: {reply.error}{hint}", code, reply.body)
        result: dict[str, Any] = reply.body
        return result

    def get(self, path: str) -> dict[str, Any]:
        try:
            return self.result(self.api.call("GET", path))
        except NoReply as exc:
            raise Failure(str(exc), EXIT_RETRY) from exc
        except TransportError as exc:
            raise Failure(str(exc), EXIT_UNREACHABLE) from exc

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return self.result(self.api.call(method, path, body))
        except NoReply as exc:
            raise Failure(str(exc), EXIT_RETRY) from exc
        except TransportError as exc:
            raise Failure(str(exc), EXIT_UNREACHABLE) from exc


def read_input(source: str, stdin: TextIO) -> str:
    """The text of FILE, or of stdin for ``-``; Failure when it cannot be read as UTF-8."""
    try:
        if source == "-":
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8")
        else:
            data = Path(source).read_bytes()
    except OSError as exc:
        raise Failure(f"cannot read {source}: {exc.strerror or exc}", EXIT_USAGE) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Failure(f"{'stdin' if source == '-' else source} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                      EXIT_USAGE) from exc


def with_model(body: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    if args.model:
        body["model"] = args.model
    return body


def cmd_convert(ctx: Context, stdin: TextIO) -> int:
    args = ctx.args
    body = with_model({"commands": read_input(args.file, stdin)}, args)
    if args.engine:
        body["engine"] = args.engine
    if args.split:
        body["split"] = True
    if args.lint:
        body["lint"] = True
    reply = ctx.job("/generate", body)
    if args.json:
        ctx.emit_json(reply)
    else:
        ctx.emit(str(reply.get("playbook", "")))
    for warning in reply.get("warnings") or []:
        ctx.note(f"warning: {warning}")
    validation = reply.get("validation")
    valid = not isinstance(validation, dict) or validation.get("ok") is not False
    if isinstance(validation, dict):
        for problem in [*(validation.get("errors") or []), *(validation.get("lint") or [])]:
            ctx.note(f"validation: {problem}")
    if args.strict and not valid:
        ctx.note("ansiblectl: the playbook did not pass validation (--strict)")
        return EXIT_INVALID
    return EXIT_OK


def answer_command(path: str, field: str, answer: str) -> Callable[[Context, TextIO], int]:
    def run(ctx: Context, stdin: TextIO) -> int:
        source = ctx.args.file if hasattr(ctx.args, "file") else ctx.args.description
        text = read_input(source, stdin) if hasattr(ctx.args, "file") or source == "-" else source
        reply = ctx.job(path, with_model({field: text}, ctx.args))
        if ctx.args.json:
            ctx.emit_json(reply)
        else:
            ctx.emit(str(reply.get(answer, "")))
        return EXIT_OK

    return run


def backend_rows(backends: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["BACKEND", "STATUS", "IN FLIGHT", "QUEUE", "EJECTIONS", "MODELS", "LAST ERROR"]]
    for b in backends:
        status = str(b.get("status")) + (" (removing)" if b.get("removing") else "")
        models = b.get("models")
        rows.append([
            str(b.get("url")), status, f"{b.get('in_flight')}/{b.get('slots')}", str(b.get("queue_size")),
            str(b.get("ejections", 0)), ", ".join(models) if isinstance(models, list) else "unknown",
            " ".join(str(b.get("last_error") or "-").split()),
        ])
    return rows


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def cmd_status(ctx: Context, stdin: TextIO) -> int:
    status = ctx.get("/queue-status")
    if ctx.args.json:
        ctx.emit_json(status)
        return EXIT_OK
    if isinstance(status.get("backends"), list):  # a balancer
        summary = (f"farm: {status.get('online_backends')}/{status.get('total_backends')} backends online · "
                   f"{status.get('in_flight')} running · {status.get('waiting')} waiting at the balancer · "
                   f"queue {status.get('queue_size')}")
        ctx.emit(summary + "\n\n" + table(backend_rows(status["backends"])))
    else:  # a worker
        models = status.get("models")
        ctx.emit(f"worker: {status.get('status', 'ok')} · queue {status.get('queue_size')} · "
                 f"running {status.get('running')} · waiting {status.get('waiting')} · slots {status.get('slots')} · "
                 f"models {', '.join(models) if isinstance(models, list) else 'unknown'}")
    return EXIT_OK


def cmd_backends(ctx: Context, stdin: TextIO) -> int:
    args = ctx.args
    action = args.action or "list"
    if action == "list":
        reply = ctx.admin("GET", "/admin/backends")
        if args.json:
            ctx.emit_json(reply)
        else:
            ctx.emit(table(backend_rows(reply.get("backends") or [])))
        return EXIT_OK
    if action == "reload":
        reply = ctx.admin("POST", "/admin/reload")
        if args.json:
            ctx.emit_json(reply)
        else:
            ctx.emit("; ".join(f"{key}: {', '.join(reply.get(key) or []) or 'none'}" for key in ("added", "removed", "updated")))
        return EXIT_OK
    if not args.url_arg:
        raise Failure(f"backends {action} needs the backend's URL", EXIT_USAGE)
    body: dict[str, Any] = {"url": args.url_arg}
    if action == "add":
        if args.slots is not None:
            body["slots"] = args.slots
        if args.weight is not None:
            body["weight"] = args.weight
        reply = ctx.admin("POST", "/admin/backends", body)
        message = f"added {args.url_arg}"
    elif action == "remove":
        reply = ctx.admin("DELETE", "/admin/backends", body)
        in_flight = reply.get("in_flight") or 0
        message = f"removed {args.url_arg}" + (f"; its {in_flight} job(s) in flight finish first" if in_flight else "")
    else:  # drain, undrain
        reply = ctx.admin("POST", f"/admin/backends/{action}", body)
        message = f"{action}ed {args.url_arg}: now {reply.get('backend', {}).get('status')}"
    if args.json:
        ctx.emit_json(reply)
    else:
        ctx.emit(message)
    return EXIT_OK


def cmd_keys(ctx: Context, stdin: TextIO) -> int:
    """``keys create NAME``: a new API key on stdout (shown this once), its digest appended to --file."""
    args = ctx.args
    if not args.file:
        raise Failure("name the keys file: --file PATH or $API_KEYS_FILE", EXIT_USAGE)
    try:
        key, record = add_key(args.file, args.name, role=args.role, rate_per_minute=args.rate_per_minute,
                              max_concurrent=args.max_concurrent)
    except KeyFileError as exc:
        raise Failure(str(exc), EXIT_USAGE) from exc
    except OSError as exc:
        raise Failure(f"cannot write {args.file}: {exc.strerror or exc}", EXIT_FAILED) from exc
    ctx.out.write(key + "\n")
    ctx.note(f"added key {record.name!r} (role {record.role}, {record.rate_per_minute} jobs a minute, "
             f"{record.max_concurrent} at once) to {args.file}; this is the only time the key is shown. "
             "Send SIGHUP to the balancer to load it.")
    return EXIT_OK


# -- the parser ------------------------------------------------------------------------------------


def add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command takes; on subcommands they only override when given."""

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    parser.add_argument("--url", default=default(os.environ.get("ANSIBLECTL_URL", DEFAULT_URL)),
                        help=f"the balancer (or a worker); default $ANSIBLECTL_URL or {DEFAULT_URL}")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print the service's whole JSON reply (errors too) on stdout")
    parser.add_argument("--timeout", type=float, default=default(900.0), metavar="SECONDS",
                        help="longest wait for a reply (default 900)")
    parser.add_argument("--progress", choices=("auto", "always", "never"), default=default("auto"),
                        help="show the job's place in the queue and its time on stderr (auto: on a terminal)")
    parser.add_argument("-q", "--quiet", action="store_true", default=default(False),
                        help="nothing on stderr but errors (no progress, warnings or validation notes)")
    parser.add_argument("--api-key", default=default(os.environ.get("ANSIBLECTL_API_KEY")), metavar="KEY",
                        help="the balancer's API key (Authorization: Bearer); default $ANSIBLECTL_API_KEY")
    parser.add_argument("--cacert", default=default(os.environ.get("ANSIBLECTL_CACERT")), metavar="PEM",
                        help="a CA to verify an https --url with; default $ANSIBLECTL_CACERT, else the system's")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ansiblectl",
        description="Convert shell scripts into Ansible playbooks, explain them, and run the farm, "
                    "through a Distributed Ansible Tools balancer.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
        add_common(sub, top=False)
        return sub

    def model_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--model", help="the model (default: the service's DEFAULT_MODEL)")

    def output_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE instead of stdout")

    convert = command("convert", "convert a shell script (FILE, or - for stdin) into one playbook")
    convert.add_argument("file", metavar="FILE", help="the script; - reads stdin")
    convert.add_argument("--split", action="store_true", help="cut it into chunks run on several workers at once")
    convert.add_argument("--engine", choices=("rules", "hybrid", "llm"), help="default: the worker's DEFAULT_ENGINE")
    convert.add_argument("--lint", action="store_true", help="also run ansible-lint (production profile)")
    convert.add_argument("--strict", action="store_true", help=f"exit {EXIT_INVALID} when the playbook fails validation")
    model_option(convert)
    output_option(convert)
    convert.set_defaults(run=cmd_convert)

    explain = command("explain", "explain a playbook (FILE, or - for stdin)")
    explain.add_argument("file", metavar="FILE")
    model_option(explain)
    output_option(explain)
    explain.set_defaults(run=answer_command("/explain", "playbook", "explanation"))

    generate = command("generate-code", "write code from a description (text, or - for stdin)", aliases=["generate"])
    generate.add_argument("description", metavar="DESCRIPTION")
    model_option(generate)
    output_option(generate)
    generate.set_defaults(run=answer_command("/generate-code", "description", "code"))

    explain_code = command("explain-code", "explain code (FILE, or - for stdin)")
    explain_code.add_argument("file", metavar="FILE")
    model_option(explain_code)
    output_option(explain_code)
    explain_code.set_defaults(run=answer_command("/explain-code", "code", "explanation"))

    status = command("status", "the farm's queue and every backend (GET /queue-status)")
    status.set_defaults(run=cmd_status)

    backends = command(
        "backends", "list, add, remove, drain, undrain backends or reload BACKENDS_FILE (the /admin API; "
                    "token: --token or $ADMIN_TOKEN)")
    backends.add_argument("action", nargs="?", choices=("list", "add", "remove", "drain", "undrain", "reload"),
                          default="list")
    backends.add_argument("url_arg", nargs="?", metavar="URL", help="the backend's URL (add, remove, drain, undrain)")
    backends.add_argument("--slots", type=int, help="add: its slots (default: what the worker reports)")
    backends.add_argument("--weight", type=int, help="add: its routing weight (default 1)")
    backends.add_argument("--token", default=os.environ.get("ADMIN_TOKEN"), help="the balancer's ADMIN_TOKEN")
    backends.set_defaults(run=cmd_backends)

    keys = command("keys", "create an API key: printed once on stdout, its digest appended to the keys file "
                           "(no service is called)")
    keys.add_argument("action", choices=("create",))
    keys.add_argument("name", metavar="NAME", help="the key's name (logged; the key never is)")
    keys.add_argument("--file", default=os.environ.get("API_KEYS_FILE"), help="the balancer's API_KEYS_FILE "
                      "(default $API_KEYS_FILE; created when missing)")
    keys.add_argument("--role", choices=ROLES, default="user", help="user: jobs and status; admin: also /admin")
    keys.add_argument("--rate-per-minute", type=int, default=60, help="jobs a minute (default 60)")
    keys.add_argument("--max-concurrent", type=int, default=2, help="jobs in progress at once (default 2)")
    keys.set_defaults(run=cmd_keys)
    return parser


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run one command; the exit status."""
    stdin, out, err = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    args = build_parser().parse_args(argv)
    api = Api(args.url, timeout_s=args.timeout, token=getattr(args, "token", None), api_key=args.api_key,
              cafile=args.cacert)
    ctx = Context(api, args, out, err)
    try:
        code: int = args.run(ctx, stdin)
        return code
    except Failure as failure:
        if args.json and failure.body is not None:
            out.write(json.dumps(failure.body, indent=2, ensure_ascii=False) + "\n")
        err.write(f"ansiblectl: error: {failure.message}\n")
        return failure.code
    except KeyboardInterrupt:
        err.write("ansiblectl: interrupted\n")
        return 130
