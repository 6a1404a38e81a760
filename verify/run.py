"""One script end to end: convert it, run script and playbook in two copies, compare.

Statuses: "equivalent" (no difference), "differs" (the first MAX_DIFFERENCES differences are
kept, each with its category and reason; a playbook that failed or timed out while the script
succeeded is a difference of category "playbook", listed first, and a conversion that raised is
one of category "conversion"), "not runnable" (rhel-only, or the reference run failed: network,
host-level operation, timeout, other; see verify.corpus).
"""

# design: the two runs of a script go in parallel (each is mostly waiting on apt and dpkg), and
# `--jobs` scripts go at once. Every copy is removed in a `finally`, except with --keep when
# the script was not equivalent (its directory is named in the result). The comparison reads
# both copies on the host after both runs ended, so their namespaces (and mounts) are gone.

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.playbook.corpus import CorpusCase, convert_case
from verify.corpus import Script, blocked, failure_reason, network_sign
from verify.rootfs import CACHE, BaseRoot, Copy, keep as keep_copies, kept_path, remove_tree
from playbook.convert import convert_script
from playbook.render import render_playbook
from verify.sandbox import RunResult, ignored_failures, run_playbook, run_script
from verify.state import Difference, content_hint, diff, paths_under, snapshot

__all__ = ["EQUIVALENT", "DIFFERS", "NOT_RUNNABLE", "Options", "ScriptResult", "Timings",
           "convert", "verify_script"]

log = logging.getLogger(__name__)

EQUIVALENT, DIFFERS, NOT_RUNNABLE = "equivalent", "differs", "not runnable"
MAX_DIFFERENCES = 10
#: the last run's logs and playbook of each script
LOGS = CACHE / "logs"


@dataclass(frozen=True)
class Options:
    workdir: Path
    timeout_s: float = 300.0
    copy_method: str = "overlay"
    keep: bool = False


@dataclass(frozen=True)
class Timings:
    convert_s: float = 0.0
    copies_s: float = 0.0
    script_s: float = 0.0
    playbook_s: float = 0.0
    compare_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True)
class ScriptResult:
    name: str
    file: str
    status: str
    reason: str = ""
    differences: tuple[Difference, ...] = ()
    difference_count: int = 0
    script_exit: int | None = None
    playbook_exit: int | None = None
    timings: Timings = field(default_factory=Timings)
    kept: str | None = None
    logs: str | None = None
    network: bool = False
    distro: str = "any"


def convert(script: Script) -> str:
    """The rules engine's playbook for the script (with its MANIFEST context), as the corpus
    tests and the bench make it."""
    if script.context:
        conversion = convert_script(script.text, script.context)
        return render_playbook([conversion.play(hosts="all", name=f"Converted {script.name}")])
    _, text = convert_case(CorpusCase(script.name, script.path))
    return text


_TASK = re.compile(r"^TASK \[(.*)\]", re.M)
_ERROR = re.compile(r"^\[ERROR\]: (.*)$|^ERROR! (.*)$", re.M)
_FATAL = re.compile(r"^fatal: \[[^]]*\]: FAILED! => (\{.*\})\s*$", re.M)


def failure_text(run: RunResult) -> str:
    """The raw report of the task that failed (ansible's JSON with stderr), or the log's tail."""
    text = run.log.read_text(encoding="utf-8", errors="replace")
    fatal = _FATAL.findall(text)
    return fatal[-1] if fatal else run.output


def playbook_failure(run: RunResult) -> Difference:
    """The failed run as a difference: which task, and ansible's message."""
    text = run.log.read_text(encoding="utf-8", errors="replace")
    if run.timed_out:
        tasks = _TASK.findall(text)
        return Difference("playbook", f"task {tasks[-1]!r}" if tasks else "playbook",
                          f"playbook ran over {run.timeout_s:.0f} s (script did not)")
    fatal = _FATAL.findall(text)
    message = ""
    if fatal:
        try:
            message = str(json.loads(fatal[-1]).get("msg", ""))
        except json.JSONDecodeError:
            message = fatal[-1]
    if not message:
        errors = _ERROR.findall(text)
        message = next((a or b for a, b in reversed(errors)), "") if errors else run.output[-300:]
    before = text[: text.rfind("FAILED!")] if "FAILED!" in text else text
    tasks = _TASK.findall(before)
    subject = f"task {tasks[-1]!r}" if tasks else "playbook"
    return Difference("playbook", subject,
                      f"playbook failed (exit {run.exit_code}): {' '.join(message.split())[:300]}")


_COMMON_WORDS = frozenset({"apt-get", "install", "sudo", "exit", "yum", "dnf", "apt", "update", "true",
                           "false", "echo", "bash", "then", "else"})


def same_failure(ignored: list[str], failure: Difference) -> list[str]:
    """The script's own failed commands that name what the playbook failed at (a package, a
    program, a path): the script met the same failure there and went on."""
    told = f"{failure.subject} {failure.reason}"
    return [line for line in ignored
            if any(word in told for word in re.findall(r"[A-Za-z0-9][\w.+/-]{2,}", line.rsplit(" (", 1)[0])
                   if word.lower() not in _COMMON_WORDS)]


def _compare(a: Copy, b: Copy) -> list[Difference]:
    if a.upper is not None and b.upper is not None:
        written = set(paths_under(a.upper)) | set(paths_under(b.upper))
        state_a = snapshot(a.root, hash_only=written.__contains__)
        state_b = snapshot(b.root, hash_only=written.__contains__)
    else:
        state_a, state_b = snapshot(a.root), snapshot(b.root)
    return diff(state_a, state_b)


def _hinted(differences: list[Difference], a: Copy, b: Copy) -> tuple[Difference, ...]:
    out = []
    for item in differences[:MAX_DIFFERENCES]:
        if "content differs" in item.reason:
            hint = content_hint(a.root, b.root, item.subject)
            if hint:
                item = Difference(item.category, item.subject, f"{item.reason} ({hint})",
                                  item.script, item.playbook)
        out.append(item)
    return tuple(out)


def _result(script: Script, status: str, **fields: Any) -> ScriptResult:
    return ScriptResult(name=script.name, file=str(script.path), status=status,
                        network=script.network, distro=script.distro, **fields)


def _save_logs(home: Path, script: Script) -> Path:
    """The run's logs and playbook, kept in LOGS/<script> (the last run's) for reading later."""
    logs = LOGS / script.name
    remove_tree(logs)
    logs.mkdir(parents=True)
    for name in ("script.log", "playbook.log", "playbook.yml"):
        if (home / name).exists():
            shutil.copyfile(home / name, logs / name)
    return logs


def verify_script(script: Script, base: BaseRoot, options: Options,
                  playbook: str | None = None) -> ScriptResult:
    """Check one script against its converted playbook (or `playbook`, for tests of the
    harness itself); never raises for a script's own failures (KeyboardInterrupt does)."""
    started = time.monotonic()
    why = blocked(script)
    if why:
        return _result(script, NOT_RUNNABLE, reason=why)
    try:
        playbook = convert(script) if playbook is None else playbook
    except Exception as error:  # noqa: BLE001 - a converter crash is this script's result
        log.exception("%s: conversion failed", script.name)
        found = Difference("conversion", "convert_script", f"raised {type(error).__name__}: {error}")
        return _result(script, DIFFERS, reason=str(found), differences=(found,), difference_count=1)
    converted = time.monotonic()
    home = options.workdir / script.name
    home.mkdir(parents=True)
    (home / "playbook.yml").write_text(playbook, encoding="utf-8")
    copies: list[Copy] = []
    keep = False
    kept = kept_path(script.name)
    try:
        for side in ("script", "playbook"):
            copies.append(Copy.make(base, home / side, options.copy_method))
        a, b = copies
        if script.prepare:  # the machine the script was written for (a vagrant user, say), on both sides
            for copy, side in ((a, "script"), (b, "playbook")):
                prepared = run_script(copy.root, script.prepare, home / f"prepare-{side}.log", options.timeout_s)
                if not prepared.ok:
                    return _result(script, NOT_RUNNABLE, reason=f"MANIFEST prepare failed: {prepared.output[-300:]}")
        made = time.monotonic()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"run-{script.name}") as pool:
            ref_job = pool.submit(run_script, a.root, script.text, home / "script.log",
                                  options.timeout_s, script.context)
            pb_job = pool.submit(run_playbook, b.root, playbook, home / "playbook.log",
                                 options.timeout_s, home / "ansible")
            ref, pb = ref_job.result(), pb_job.result()
        ran = time.monotonic()
        logs = _save_logs(home, script)
        common: dict[str, Any] = {
            "script_exit": ref.exit_code, "playbook_exit": pb.exit_code, "logs": str(logs)}
        timings = {"convert_s": round(converted - started, 2), "copies_s": round(made - converted, 2),
                   "script_s": ref.seconds, "playbook_s": pb.seconds}
        if not ref.ok:
            keep = options.keep
            reason = failure_reason(ref.output, ref.exit_code, ref.timeout_s, script)
            return _result(script, NOT_RUNNABLE, reason=reason,
                           timings=Timings(**timings, total_s=round(ran - started, 2)),
                           kept=str(kept) if keep else None, **common)
        failure = None if pb.ok else playbook_failure(pb)
        ignored = same_failure(ignored_failures(a.root, ref.log.read_text(encoding="utf-8", errors="replace")),
                               failure) if failure is not None else []
        script_log = ref.log.read_text(encoding="utf-8", errors="replace")
        if failure is not None and "Could not find the requested service" in failure.reason \
                and "Running in chroot, ignoring command" in script_log:
            return _result(script, NOT_RUNNABLE, reason=(
                f"host: needs a running systemd: the script's service commands were ignored in the chroot, "
                f"where the playbook's service module found no such unit ({failure.subject})"),
                timings=Timings(**timings, total_s=round(time.monotonic() - started, 2)), **common)
        if failure is not None and ignored:
            return _result(script, NOT_RUNNABLE, reason=(
                f"script failed: commands of its own failed and it went on (no set -e), so its run is no "
                f"reference; first: {ignored[0][:200]}; the playbook stopped at {failure.subject} "
                f"({failure.reason[:200]})"),
                timings=Timings(**timings, total_s=round(time.monotonic() - started, 2)), **common)
        if failure is not None and network_sign(f"{failure.reason}\n{failure_text(pb)}"):
            return _result(script, NOT_RUNNABLE, reason=(
                f"network: the playbook's download failed at {failure.subject} where the script "
                f"went on past its own ({failure.reason})"),
                timings=Timings(**timings, total_s=round(time.monotonic() - started, 2)), **common)
        differences = _compare(a, b)
        if failure is not None:
            differences.insert(0, failure)
        compared = time.monotonic()
        status = EQUIVALENT if not differences else DIFFERS
        keep = options.keep and status != EQUIVALENT
        first = _hinted(differences, a, b)
        reason = "" if not differences else f"{len(differences)} difference(s); first: {first[0]}"
        return _result(script, status, reason=reason, differences=first,
                       difference_count=len(differences), kept=str(kept) if keep else None,
                       timings=Timings(**timings, compare_s=round(compared - ran, 2),
                                       total_s=round(compared - started, 2)), **common)
    finally:
        if keep:
            log.warning("%s: kept in %s", script.name, keep_copies(home, copies, base, kept))
        else:
            for copy in copies:
                copy.remove()
            remove_tree(home)
