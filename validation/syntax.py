"""``ansible-playbook --syntax-check`` and ``ansible-lint`` on rendered playbook text.

``SyntaxChecker.check(text)`` returns the errors as strings (empty: the playbook
passes); ``lint(text)`` returns ansible-lint's findings.
"""

# design: a cold ``ansible-playbook --syntax-check`` costs ~1.3 s, nearly all of
# it importing ansible and loading plugins. So the checker keeps one helper
# process (``python -m validation.syntax --serve``) that imports ansible once,
# runs one syntax check to warm the plugin caches, then forks a child per
# request: the child inherits the warm state and runs the real PlaybookCLI,
# which takes ~30 ms. Requests go over the helper's stdin/stdout as JSON lines,
# one at a time (a lock); the child's output goes to files, the helper enforces
# the timeout by killing the child. The fork trick needs a reset of two
# once-only globals of ansible-core 2.19 (vault context, CLI-args singleton);
# a test checks helper and plain process agree. If the helper cannot start or
# misbehaves, every check falls back to a plain ``ansible-playbook`` process,
# which is slower but the same check.

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

__all__ = ["SyntaxChecker", "SyntaxResult", "lint_playbook", "parse_errors"]

_PLAYBOOK_NAME = "playbook.yml"
_INVENTORY = "localhost,"


def _bin(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _ansible_env(tmp: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        ANSIBLE_RETRY_FILES_ENABLED="False",
        ANSIBLE_LOCAL_TEMP=tmp,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@dataclass(frozen=True)
class SyntaxResult:
    """The outcome of one syntax check."""

    ok: bool
    errors: list[str]
    elapsed_s: float
    via: str  # "helper" or "process"


_ERROR_START = re.compile(r"^\[ERROR\]:\s?", re.MULTILINE)
_ORIGIN = re.compile(r"^Origin: (?P<path>.*?):(?P<line>\d+)(?::(?P<col>\d+))?\s*$", re.MULTILINE)


def parse_errors(stderr: str, path: str) -> list[str]:
    """ansible-playbook's ``[ERROR]`` blocks as one line each, with 'line N, column M' instead of the temp path."""
    errors: list[str] = []
    starts = [m for m in _ERROR_START.finditer(stderr)]
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(stderr)
        block = stderr[match.end() : end]
        origin = _ORIGIN.search(block)
        message = block[: origin.start()] if origin else block.split("\n\n")[0]
        message = " ".join(message.replace(path, _PLAYBOOK_NAME).split())
        if origin:
            where = f"line {origin['line']}" + (f", column {origin['col']}" if origin["col"] else "")
            message = f"{message} ({where})"
        if message:
            errors.append(message)
    if not errors and stderr.strip():
        errors.append(" ".join(stderr.replace(path, _PLAYBOOK_NAME).split())[:1000])
    return errors


class SyntaxChecker:
    """Runs ``ansible-playbook --syntax-check`` fast, through a pre-warmed forking helper process."""

    def __init__(self, *, timeout_s: float = 30.0, use_helper: bool = True) -> None:
        self.timeout_s = timeout_s
        self._use_helper = use_helper
        self._lock = threading.Lock()
        self._helper: subprocess.Popen[str] | None = None
        self._tmp = tempfile.mkdtemp(prefix="syntax-check-")

    # -- lifecycle --------------------------------------------------------

    def start(self) -> None:
        """Start (and warm) the helper process now rather than on the first check."""
        with self._lock:
            self._ensure_helper_locked()

    def close(self) -> None:
        """End the helper process and remove the temp directory."""
        with self._lock:
            helper, self._helper = self._helper, None
            if helper is not None:
                _stop(helper)
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> SyntaxChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_helper_locked(self) -> subprocess.Popen[str] | None:
        if not self._use_helper:
            return None
        if self._helper is not None and self._helper.poll() is None:
            return self._helper
        cmd = [sys.executable, "-m", "validation.syntax", "--serve"]
        env = _ansible_env(self._tmp)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")]))
        try:
            helper = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
            )
            ready = _read_line(helper, timeout_s=60.0)
            if not ready or json.loads(ready).get("ready") is not True:
                raise RuntimeError(f"helper did not report ready: {ready!r}")
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("syntax-check helper unavailable, using a process per check: %s", exc)
            self._use_helper = False
            return None
        self._helper = helper
        return helper

    # -- checks -------------------------------------------------------------

    def check(self, text: str) -> SyntaxResult:
        """Syntax-check one playbook text; ``errors`` are ansible's messages, one string each."""
        started = time.monotonic()
        with self._lock:
            fd, path = tempfile.mkstemp(dir=self._tmp, suffix=".yml")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            try:
                result = self._via_helper_locked(path)
                via = "helper"
                if result is None:
                    result = self._via_process(path)
                    via = "process"
            finally:
                os.unlink(path)
        rc, stderr = result
        errors = [] if rc == 0 else (parse_errors(stderr, path) or [f"ansible-playbook --syntax-check failed ({rc})"])
        return SyntaxResult(ok=rc == 0, errors=errors, elapsed_s=time.monotonic() - started, via=via)

    def _via_helper_locked(self, path: str) -> tuple[int, str] | None:
        helper = self._ensure_helper_locked()
        if helper is None or helper.stdin is None:
            return None
        try:
            helper.stdin.write(json.dumps({"path": path, "timeout_s": self.timeout_s}) + "\n")
            helper.stdin.flush()
            line = _read_line(helper, timeout_s=self.timeout_s + 10)
            reply = json.loads(line or "null")
        except (OSError, ValueError) as exc:
            log.warning("syntax-check helper failed (%s); restarting it next time", exc)
            _stop(helper)
            self._helper = None
            return None
        if not isinstance(reply, dict) or "rc" not in reply:
            log.warning("syntax-check helper gave %r; restarting it next time", line)
            _stop(helper)
            self._helper = None
            return None
        if reply.get("broken"):
            log.warning("syntax-check helper cannot fork checks (%s); using a process per check", reply.get("stderr"))
            _stop(helper)
            self._helper = None
            self._use_helper = False
            return None
        if reply.get("timed_out"):
            return 124, f"[ERROR]: syntax check timed out after {self.timeout_s:.0f} s"
        return int(reply["rc"]), str(reply.get("stderr", ""))

    def _via_process(self, path: str) -> tuple[int, str]:
        binary = _bin("ansible-playbook")
        if binary is None:
            return 127, "[ERROR]: ansible-playbook not found; install ansible-core"
        cmd = [binary, "--syntax-check", "-i", _INVENTORY, path]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=self.timeout_s, env=_ansible_env(self._tmp), check=False
            )
        except subprocess.TimeoutExpired:
            return 124, f"[ERROR]: syntax check timed out after {self.timeout_s:.0f} s"
        return proc.returncode, proc.stderr


def _read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """One line from the helper's stdout, or '' if it does not come in time."""
    assert proc.stdout is not None
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout_s)
    if reader.is_alive():
        _stop(proc)
        raise OSError(f"no answer from the helper within {timeout_s:.0f} s")
    return result[0] if result else ""


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------
# ansible-lint


def lint_playbook(text: str, *, profile: str = "production", timeout_s: float = 120.0) -> list[str]:
    """Findings of ``ansible-lint --offline --profile <profile>`` as 'rule: message (line N)' strings."""
    binary = _bin("ansible-lint")
    if binary is None:
        return ["ansible-lint is not installed; lint skipped"]
    with tempfile.TemporaryDirectory(prefix="lint-") as tmp:
        path = Path(tmp) / _PLAYBOOK_NAME
        path.write_text(text, encoding="utf-8")
        env = _ansible_env(tmp)
        env.setdefault("ANSIBLE_HOME", str(Path(tmp) / ".ansible"))
        cmd = [binary, "--offline", "--profile", profile, "--nocolor", "-f", "codeclimate", "-q", _PLAYBOOK_NAME]
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
        except subprocess.TimeoutExpired:
            return [f"ansible-lint timed out after {timeout_s:.0f} s"]
    try:
        findings = json.loads(proc.stdout or "[]")
    except ValueError:
        return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()][:50]
    out: list[str] = []
    for item in findings:
        rule = item.get("check_name", "?")
        line = ((item.get("location") or {}).get("positions") or {}).get("begin", {}).get("line") or (
            (item.get("location") or {}).get("lines") or {}
        ).get("begin")
        out.append(f"{rule}: {item.get('description', '').strip()}" + (f" (line {line})" if line else ""))
    return out


# ---------------------------------------------------------------------------
# the helper process (python -m validation.syntax --serve)


def _serve(stdin: IO[str], stdout: IO[str]) -> None:  # pragma: no cover - runs in the helper process
    import warnings

    warnings.filterwarnings("ignore")
    from ansible.cli.playbook import PlaybookCLI
    from ansible.parsing.vault import VaultSecretsContext
    from ansible.utils.context_objects import GlobalCLIArgs

    tmp = tempfile.mkdtemp(prefix="syntax-helper-")
    warm = Path(tmp) / "warm.yml"
    warm.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n")
    devnull = os.open(os.devnull, os.O_WRONLY)
    real_out = os.dup(1)
    os.dup2(devnull, 1)  # stdout of the helper itself is our reply channel, keep ansible off it
    reply = os.fdopen(real_out, "w", buffering=1)
    _run_cli(PlaybookCLI, str(warm), devnull, devnull, in_child=False)
    reply.write(json.dumps({"ready": True}) + "\n")
    for line in stdin:
        request = json.loads(line)
        err_path = Path(tmp) / "stderr.txt"
        err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        pid = os.fork()
        if pid == 0:
            # once-only globals of ansible-core 2.19 that the warm-up run in the parent has set
            VaultSecretsContext._current = None
            GlobalCLIArgs._Singleton__instance = None
            os._exit(_run_cli(PlaybookCLI, request["path"], devnull, err_fd, in_child=True))
        os.close(err_fd)
        rc, timed_out = _wait(pid, float(request.get("timeout_s", 30)))
        stderr = err_path.read_text(errors="replace")
        broken = rc != 0 and "already initialized" in stderr
        reply.write(json.dumps({"rc": rc, "timed_out": timed_out, "stderr": stderr, "broken": broken}) + "\n")


def _run_cli(cli: Any, path: str, out_fd: int, err_fd: int, *, in_child: bool) -> int:  # pragma: no cover
    saved = (os.dup(1), os.dup(2))
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    try:
        cli.cli_executor(["ansible-playbook", "--syntax-check", "-i", _INVENTORY, path])  # always exits
        rc = 0
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent as an error
        print(f"[ERROR]: {exc}", file=sys.stderr)
        rc = 98
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        if not in_child:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
    return int(rc or 0)


def _wait(pid: int, timeout_s: float) -> tuple[int, bool]:  # pragma: no cover
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 124, True
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--serve"]:
        _serve(sys.stdin, sys.stdout)
    else:
        sys.exit("usage: python -m validation.syntax --serve  (internal helper of SyntaxChecker)")
