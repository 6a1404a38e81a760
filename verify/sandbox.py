"""Running a script in a copy (chroot) or a playbook against it (ansible's chroot connection).

Both runs get the same surroundings, set up by SETUP (a /bin/sh script) inside fresh mount,
UTS and PID namespaces (`unshare --mount --uts --pid --fork --kill-child`):

* the host name "verify" (the root's /etc/hostname and /etc/hosts say so; sudo needs it).
* /proc (the namespace's own), /proc/sys as a tmpfs holding a copy of the host's values (so
  `sysctl -w`, `sysctl --system` and ansible's sysctl module succeed and change nothing on the
  host), /sys read-only, /dev a tmpfs with null, zero, full, random, urandom, tty, ptmx, pts,
  shm and the fd links, /run a tmpfs with /run/systemd/system (so `service` and init scripts
  hand over to systemctl, which ignores start/stop/restart in a chroot, and ansible's
  service_mgr fact is systemd; /run/sshd as sshd's unit would make it, for `sshd -t`), and the host's /etc/resolv.conf bound read-only (apt reaches
  the mirror).
* the base root's /usr/sbin/policy-rc.d forbids maintainer scripts to start daemons, and its
  /usr/local/sbin/systemctl drops `--now` (see verify.rootfs.SYSTEMCTL_SHIM).
* the command runs with Docker's default capability set plus sys_ptrace (setpriv's bounding
  set): no sys_admin, sys_module, sys_time, net_admin, sys_boot ..., so a script cannot mount,
  swapon, load kernel modules, set the clock or change the host's firewall; it fails instead.
  sys_ptrace lets systemctl and ansible read /proc/1/root, which is how both notice the chroot.
* a clean environment: PATH, HOME=/root, LANG=C.UTF-8, DEBIAN_FRONTEND=noninteractive (as
  ansible's apt module sets it), stdin from /dev/null.

# design: PID 1 of the namespace is SETUP's shell on the host root and it does not exec the
# command, for three reasons: systemctl and ansible detect the chroot by comparing their root
# with /proc/1/root; ansible's service_mgr fact ignores a PID 1 whose name ends in "sh" and
# then finds /run/systemd/system; and when PID 1 exits the kernel kills everything left in
# the namespace (daemons a script started with nohup, gpg-agent ...), and the mount namespace,
# with every mount SETUP made, goes with it: no mount of a run can outlive it. The harness
# puts the whole tree in its own session and SIGKILLs that on timeout or Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CAPABILITIES", "ENV", "RunResult", "kill_all", "run_playbook", "run_script"]

log = logging.getLogger(__name__)

#: Docker's default capability set, plus sys_ptrace (see the module docstring)
CAPABILITIES = ("chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid",
                "setpcap", "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write",
                "setfcap", "sys_ptrace")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENV = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
       "TERM": "dumb", "USER": "root", "LOGNAME": "root", "SHELL": "/bin/bash"}
#: inside the chroot: where the script is put (under /tmp, excluded from the comparison)
SCRIPT_DIR = "/tmp/.verify"

SETUP = r"""
set -eu
R=$1; shift
hostname verify
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t tmpfs -o mode=755,size=64m sysctl "$R/proc/sys"
cp -r /proc/sys/. "$R/proc/sys/" 2>/dev/null || true
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t tmpfs -o mode=755,nosuid,size=16m dev "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
mkdir -m 755 "$R/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mkdir -m 1777 "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=755,nosuid,nodev,size=64m run "$R/run"
mkdir -p "$R/run/systemd/system" "$R/run/lock" "$R/run/sshd"
chmod 1777 "$R/run/lock"
if [ -e /etc/resolv.conf ] && [ -f "$R/etc/resolv.conf" ] && [ ! -L "$R/etc/resolv.conf" ]; then
    mount --bind -o ro "$(readlink -f /etc/resolv.conf)" "$R/etc/resolv.conf"
fi
# not exec: this shell stays PID 1 (see verify/sandbox.py)
setpriv --bounding-set "$CAPS" -- "$@"
"""


@dataclass(frozen=True)
class RunResult:
    """How a run ended: `exit_code` None when it was killed at `timeout_s`; `output` is the
    tail of its combined stdout and stderr, `log` the whole of it."""

    exit_code: int | None
    seconds: float
    output: str
    log: Path
    timeout_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def kill_all() -> None:
    """SIGKILL every run in progress (Ctrl-C): each one's namespace and mounts go with it."""
    _STOPPING.set()
    with _LIVE_LOCK:
        for proc in _LIVE:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: pgid == pid
            except ProcessLookupError:
                pass


def _caps() -> str:
    return "-all," + ",".join(f"+{cap}" for cap in CAPABILITIES)


def _tail(path: Path, size: int = 6000) -> str:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace")


def _run(root: Path, command: list[str], log_path: Path, timeout_s: float,
         extra_env: dict[str, str] | None = None, cwd: Path | None = None) -> RunResult:
    if _STOPPING.is_set():
        raise KeyboardInterrupt
    env = dict(ENV, CAPS=_caps(), **(extra_env or {}))
    argv = ["unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child=SIGKILL", "--",
            "/bin/sh", "-c", SETUP, "verify-setup", str(root), "env", "-i",
            *[f"{k}={v}" for k, v in env.items() if k != "CAPS"], *command]
    started = time.monotonic()
    with log_path.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                cwd=cwd)
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            code: int | None = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s: over %.0f s, killing it", log_path.name, timeout_s)
            code = None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever of the session is left
            except ProcessLookupError:
                pass
            proc.wait()
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    if _STOPPING.is_set():
        raise KeyboardInterrupt
    seconds = round(time.monotonic() - started, 2)
    if code is None:
        with log_path.open("a", encoding="utf-8") as out:
            out.write(f"\n[verify] killed after {timeout_s:.0f} s\n")
    return RunResult(code, seconds, _tail(log_path), log_path, timeout_s)


def _interpreter(text: str) -> str:
    """`/bin/sh` for an sh/dash shebang, else bash (what the corpus scripts are written for)."""
    first = text.splitlines()[0] if text else ""
    if first.startswith("#!"):
        words = first[2:].split()
        name = os.path.basename(words[1] if words and words[0].endswith("/env") and len(words) > 1
                                else (words[0] if words else ""))
        if name in ("sh", "dash"):
            return "/bin/sh"
    return "/bin/bash"


#: bash runs the script under this ERR trap, which notes each command that failed and that the
#: script went on past (no `set -e`, not a condition): such a run is no reference for a playbook
IGNORED_FAILURES = "ignored-failures"
_TRAP = (f"trap 'printf \"%s (exit %s)\\n\" \"$BASH_COMMAND\" \"$?\" >> {SCRIPT_DIR}/{IGNORED_FAILURES}' ERR; "
         f"set -E; . {SCRIPT_DIR}/script.sh")


def run_script(root: Path, script: str, log_path: Path, timeout_s: float, context: str = "") -> RunResult:
    """Run `script` as root inside the copy at `root` (the reference run); ``context`` (the
    library its MANIFEST says runs first, the converter's context) is sourced before it."""
    inside = root / SCRIPT_DIR.lstrip("/")
    inside.mkdir(parents=True, exist_ok=True)
    (inside / "script.sh").write_text(script, encoding="utf-8")
    interpreter = _interpreter(script)
    if context:
        (inside / "context.sh").write_text(context, encoding="utf-8")
        interpreter = "/bin/bash"
    if interpreter == "/bin/bash":
        first = f". {SCRIPT_DIR}/context.sh; " if context else ""
        command = ["chroot", str(root), interpreter, "-c", first + _TRAP, f"{SCRIPT_DIR}/script.sh"]
    else:
        command = ["chroot", str(root), interpreter, f"{SCRIPT_DIR}/script.sh"]
    return _run(root, command, log_path, timeout_s)


_SHELL_ERROR = re.compile(r"^(?:/tmp/\.verify/script\.sh|bash|sh|dash): (?:line )?\d+: (?:cd: can't cd to )?(.*?):? "
                          r"\(?(not found|command not found|No such file or directory|can't cd to \S+)\)?$", re.MULTILINE)


_APT_ERROR = re.compile(r"^E: (?:Package '([^']+)' has no installation candidate|Unable to locate package (\S+))$",
                        re.MULTILINE)


def ignored_failures(root: Path, log_text: str = "") -> list[str]:
    """The commands of the last script run that failed and that the script went on past: what
    bash's ERR trap noted, and the shell's own errors in the log (dash has no ERR trap)."""
    path = root / SCRIPT_DIR.lstrip("/") / IGNORED_FAILURES
    try:
        noted = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        noted = []
    return noted + [f"{what} ({why})" for what, why in _SHELL_ERROR.findall(log_text)] \
        + [f"{a or b} (apt: no such package)" for a, b in _APT_ERROR.findall(log_text)]


def ansible_playbook() -> str:
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.exists() else "ansible-playbook"


def run_playbook(root: Path, playbook: str, log_path: Path, timeout_s: float,
                 scratch: Path) -> RunResult:
    """Run `playbook` against the copy at `root` with ansible's chroot connection."""
    scratch.mkdir(parents=True, exist_ok=True)
    play = scratch / "playbook.yml"
    play.write_text(playbook, encoding="utf-8")
    ansible_env = {
        "PATH": f"{Path(sys.executable).parent}:{PATH}",
        "ANSIBLE_HOME": str(scratch / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(scratch / "ansible-local"),
        "ANSIBLE_REMOTE_TMP": "/tmp/.ansible/tmp",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
    }
    command = [ansible_playbook(), "-c", "community.general.chroot", "-i", f"{root},", str(play)]
    return _run(root, command, log_path, timeout_s, extra_env=ansible_env, cwd=scratch)
