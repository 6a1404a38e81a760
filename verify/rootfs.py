"""The cached Debian root and the throwaway copies each run works in.

The base root is `debootstrap --variant=minbase RELEASE DIR MIRROR` with BASE_PACKAGES, the
mirror being the one this machine's apt already uses (read from /etc/apt/sources.list and
/etc/apt/sources.list.d/*). It is built once into
~/.cache/distributed-ansible/verify/roots/RELEASE-KEY/rootfs, KEY being a hash of the release,
the mirror, the package list and ROOT_RECIPE (bump it when the set-up below changes), and
never written to again: runs work in copies. On top of debootstrap the build:

* writes /etc/apt/sources.list from this machine's Debian sources (with -updates, -security),
  runs `apt-get update` and `apt-get dist-upgrade` (a fresh server image is up to date), and
  `apt-get clean`;
* installs /usr/sbin/policy-rc.d (exit 101: no maintainer script starts a daemon) and the
  systemctl shim /usr/local/sbin/systemctl (SYSTEMCTL_SHIM);
* names the machine "verify" in /etc/hostname and /etc/hosts (sudo warns, and the warning
  looks like a failed download, when the host name does not resolve).

A copy is an overlayfs (the base as its read-only lower layer, an empty upper directory that
receives every write) or, with `method="cp"`, `cp -a --reflink=auto` of the base. Overlay is
the default: mounting is instant where cp copies the whole root (see `measure_copies`), and
the upper directory lists exactly the paths a run wrote, which the comparison uses.
"""

# design: every copy lives in WORK/<pid>-<time>/, one directory per harness process. Copies
# are removed in `finally` blocks (error, timeout, Ctrl-C); a harness killed with SIGKILL
# leaves its directory behind, so each start sweeps the directories whose process is gone:
# first unmounting whatever is still mounted under them, then `rm -rf --one-file-system`.
# Nothing is deleted while a mount point under it is still listed in /proc/self/mountinfo.

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.processes import pid_alive

__all__ = [
    "BASE_PACKAGES", "CACHE", "BaseRoot", "Copy", "RootError", "debian_sources", "ensure_base",
    "keep", "kept_path", "measure_copies", "mounts_under", "new_workdir", "remove_tree", "sweep_stale",
    "unmount_under",
]

log = logging.getLogger(__name__)

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "distributed-ansible" / "verify"
RELEASE = "bookworm"
#: on top of minbase: python3 + python3-apt for ansible's modules (apt needs python3-apt);
#: systemd + systemd-sysv so `systemctl enable` works offline and ansible sees systemd as the
#: service manager (/sbin/init -> systemd); and what a Debian server image has that setup
#: scripts take for granted (sudo, curl, wget, gnupg, ca-certificates, cron, procps, kmod,
#: iproute2, lsb-release, openssh-server).
BASE_PACKAGES: tuple[str, ...] = (
    "python3", "python3-apt", "systemd", "systemd-sysv", "sudo", "ca-certificates", "curl",
    "wget", "gnupg", "cron", "procps", "kmod", "iproute2", "lsb-release", "openssh-server",
)
#: bump when the set-up of the root below changes, so cached roots are rebuilt
ROOT_RECIPE = "4"
BUILD_TIMEOUT_S = 1800
#: forbids every maintainer script to start a daemon (invoke-rc.d and deb-systemd-invoke ask it)
POLICY_RC_D = "#!/bin/sh\n# verify: no daemon starts in this root\nexit 101\n"
#: systemctl as the chroot needs it, first on PATH in both runs (the same for script and
#: playbook): `systemctl enable --now` (also disable/mask --now) fails in a chroot where a
#: plain `systemctl start` is ignored ("Running in chroot"), so `--now` is dropped (enable +
#: an ignored start); and `list-unit-files NAME` with a bare name also tries NAME.service,
#: which is how ansible's systemd module finds a unit in a chroot when `systemctl show` (which
#: on a running system resolves aliases such as sshd -> ssh) is ignored.
SYSTEMCTL_SHIM = """#!/bin/bash
# verify: systemctl in a chroot (see verify/rootfs.py)
args=()
for arg in "$@"; do [[ $arg == --now ]] || args+=("$arg"); done
if [[ ${#args[@]} -eq 2 && ${args[0]} == list-unit-files && ${args[1]} != *[.*?[]* ]]; then
    /usr/bin/systemctl list-unit-files "${args[1]}" && exit 0
    exec /usr/bin/systemctl list-unit-files "${args[1]}.service"
fi
exec /usr/bin/systemctl "${args[@]}"
"""
#: the host name inside every run (its own UTS namespace), and the /etc/hosts naming it
HOSTNAME = "verify"
HOSTS = (f"127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n"
         "::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


class RootError(RuntimeError):
    """The base root cannot be built or a copy cannot be made."""


@dataclass(frozen=True)
class BaseRoot:
    """A built, cached root: `path` is the tree, never written to after the build."""

    path: Path
    key: str
    release: str
    mirror: str
    packages: tuple[str, ...]
    build_seconds: float
    built_now: bool


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


def _deb822(text: str) -> list[AptSource]:
    sources = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            for uri in fields.get("uris", "").split():
                sources.append(AptSource(uri, tuple(fields.get("suites", "").split()),
                                         tuple(fields.get("components", "").split())))
    return sources


def _one_line(text: str) -> list[AptSource]:
    sources = []
    for raw in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", raw.split("#", 1)[0]).split()  # drop [options]
        if len(words) >= 3 and words[0] == "deb":
            sources.append(AptSource(words[1], (words[2],), tuple(words[3:])))
    return sources


def debian_sources(release: str = RELEASE, etc: Path = Path("/etc/apt")) -> list[AptSource]:
    """This machine's apt sources for `release` (its -updates and -security suites included)."""
    found: list[AptSource] = []
    files = [etc / "sources.list"] + sorted((etc / "sources.list.d").glob("*"))
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name.endswith(".sources"):
            found += _deb822(text)
        elif path.name.endswith(".list"):
            found += _one_line(text)
    return [s for s in found
            if any(suite == release or suite.startswith(release + "-") for suite in s.suites)]


def _mirror(release: str) -> tuple[str, list[AptSource]]:
    sources = debian_sources(release)
    for source in sources:
        if release in source.suites and "main" in source.components:
            return source.uri, sources
    raise RootError(f"no apt source for {release} main in /etc/apt/sources.list(.d): "
                    "cannot tell which mirror to debootstrap from")


def _key(release: str, mirror: str, packages: tuple[str, ...]) -> str:
    text = json.dumps([ROOT_RECIPE, release, mirror, sorted(packages)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _run(cmd: list[str], timeout: float, log_path: Path) -> None:
    log.info("running %s", " ".join(cmd[:6]) + (" ..." if len(cmd) > 6 else ""))
    with log_path.open("ab") as out:
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise RootError(f"{cmd[0]} took over {timeout:.0f} s (log: {log_path})") from error
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-1500:]
        raise RootError(f"{' '.join(cmd[:3])} failed ({proc.returncode}), log {log_path}:\n{tail}")


def _sources_list(sources: list[AptSource]) -> str:
    lines = ["# the build machine's Debian sources (verify/rootfs.py)"]
    lines += [f"deb {source.uri} {suite} {' '.join(source.components)}"
              for source in sources for suite in source.suites]
    return "\n".join(lines) + "\n"


def _build(target: Path, release: str, mirror: str, sources: list[AptSource],
           packages: tuple[str, ...], log_path: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise RootError("debootstrap is not installed: `make install` installs it "
                        "(apt-get install -y debootstrap)")
    _run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", release,
          str(target), mirror], BUILD_TIMEOUT_S, log_path)
    (target / "etc/apt/sources.list").write_text(_sources_list(sources), encoding="utf-8")
    policy = target / "usr/sbin/policy-rc.d"
    policy.write_text(POLICY_RC_D, encoding="utf-8")
    policy.chmod(0o755)
    shim = target / "usr/local/sbin/systemctl"
    shim.write_text(SYSTEMCTL_SHIM, encoding="utf-8")
    shim.chmod(0o755)
    (target / "etc/hostname").write_text(f"{HOSTNAME}\n", encoding="utf-8")
    (target / "etc/hosts").write_text(HOSTS, encoding="utf-8")
    resolv = target / "etc/resolv.conf"
    if resolv.is_symlink() or not resolv.exists():
        resolv.unlink(missing_ok=True)
        resolv.write_text("", encoding="utf-8")  # a mount point for the host's, bound per run
    # up to date with the mirror's -updates and -security suites, as a fresh server image is
    # (else `apt-get install X` of an installed X upgrades it where ansible's `state: present`
    # does not, and every script that installs anything differs by that); package lists kept
    # as after one `apt-get update` (lists are excluded from the comparison), .debs dropped
    from verify.sandbox import run_script
    upgrade = run_script(target, "set -e\napt-get -q update\napt-get -q -y dist-upgrade\n"
                         "apt-get clean\nrm -rf /tmp/.verify\n", log_path.with_suffix(".upgrade.log"), 900)
    if not upgrade.ok:
        raise RootError(f"apt-get dist-upgrade in the new root failed ({upgrade.exit_code}):\n"
                        f"{upgrade.output[-1500:]}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_base(release: str = RELEASE, packages: tuple[str, ...] = BASE_PACKAGES,
                cache: Path = CACHE, rebuild: bool = False) -> BaseRoot:
    """The cached root for (release, mirror, packages), built first when missing (about a
    minute). Safe to call from several processes: the build holds a lock."""
    mirror, sources = _mirror(release)
    key = _key(release, mirror, packages)
    home = cache / "roots" / f"{release}-{key}"
    meta_path = home / "root.json"
    with _locked(cache / "roots" / f".{release}-{key}.lock"):
        if rebuild and home.exists():
            remove_tree(home)
        if not meta_path.exists():
            if home.exists():
                remove_tree(home)
            home.mkdir(parents=True)
            started = time.monotonic()
            log.info("building the %s root in %s from %s (once; about a minute)", release, home,
                     mirror)
            building = home / "rootfs.partial"
            _build(building, release, mirror, sources, packages, home / "build.log")
            building.rename(home / "rootfs")
            seconds = round(time.monotonic() - started, 1)
            meta_path.write_text(json.dumps({
                "release": release, "mirror": mirror, "packages": list(packages),
                "build_seconds": seconds, "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }, indent=2), encoding="utf-8")
            return BaseRoot(home / "rootfs", key, release, mirror, packages, seconds, True)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return BaseRoot(home / "rootfs", key, release, mirror, packages, meta["build_seconds"], False)


# --- mounts and removal ---------------------------------------------------------------------

def _unescape(field_: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or under `path` in this mount namespace, deepest first."""
    base = str(path.resolve())
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            point = _unescape(line.split()[4])
            if point == base or point.startswith(base + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _unmount(point: str) -> None:
    for attempt in range(10):
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.2 * (attempt + 1))  # processes of the run's namespace may still be dying
    log.warning("%s still busy: detaching it (umount -l)", point)
    subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def unmount_under(path: Path) -> None:
    """Unmount every mount point at or under `path`, deepest first."""
    for point in mounts_under(path):
        _unmount(point)


def remove_tree(path: Path) -> None:
    """Unmount whatever is mounted under `path`, then delete it (never across a mount)."""
    if not path.exists():
        return
    unmount_under(path)
    left = mounts_under(path)
    if left:
        raise RootError(f"not deleting {path}: still mounted: {', '.join(left)}")
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False, timeout=600)


# --- copies -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Copy:
    """One throwaway root: `root` is the tree a run sees; `upper` the overlay's upper dir
    (every path the run wrote), None for a cp copy."""

    home: Path
    root: Path
    upper: Path | None
    method: str

    @classmethod
    def make(cls, base: BaseRoot, home: Path, method: str = "overlay") -> Copy:
        home.mkdir(parents=True)
        if method == "overlay":
            upper, work, merged = home / "upper", home / "work", home / "root"
            for d in (upper, work, merged):
                d.mkdir()
            proc = subprocess.run(
                ["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={base.path},upperdir={upper},workdir={work}", str(merged)],
                capture_output=True, text=True, check=False, timeout=60)
            if proc.returncode != 0:
                raise RootError(f"overlay mount failed: {proc.stderr.strip()}")
            return cls(home, merged, upper, method)
        if method == "cp":
            root = home / "root"
            proc = subprocess.run(["cp", "-a", "--reflink=auto", str(base.path), str(root)],
                                  capture_output=True, text=True, check=False, timeout=600)
            if proc.returncode != 0:
                raise RootError(f"cp -a failed: {proc.stderr.strip()[-500:]}")
            return cls(home, root, None, method)
        raise ValueError(f"unknown copy method {method!r}")

    def remove(self) -> None:
        remove_tree(self.home)

    def mount_command(self, base: BaseRoot) -> str:
        """The shell command that mounts a kept overlay copy again (for debugging)."""
        if self.upper is None:
            return f"# {self.root} is a plain copy: chroot {self.root} /bin/bash"
        return (f"mount -t overlay overlay -o lowerdir={base.path},upperdir={self.upper},"
                f"workdir={self.home / 'work'} {self.root}")


def kept_path(name: str, cache: Path = CACHE) -> Path:
    """Where --keep puts a script's copies (CACHE/kept is never swept)."""
    return cache / "kept" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def keep(home: Path, copies: list[Copy], base: BaseRoot, kept: Path) -> Path:
    """Unmount a script's copies and move its directory to `kept`; a mount.sh there mounts
    the overlays again."""
    unmount_under(home)
    kept.parent.mkdir(parents=True, exist_ok=True)
    home.rename(kept)
    moved = [Copy(kept / c.home.name, kept / c.home.name / "root",
                  kept / c.home.name / "upper" if c.upper else None, c.method) for c in copies]
    (kept / "mount.sh").write_text(
        "#!/bin/sh\n# mount the kept copies again; umount them when done\n"
        + "".join(c.mount_command(base) + "\n" for c in moved), encoding="utf-8")
    return kept


def new_workdir(cache: Path = CACHE) -> Path:
    """This process's directory for copies (swept by later runs once the process is gone)."""
    path = cache / "work" / f"{os.getpid()}-{int(time.time())}"
    path.mkdir(parents=True)
    return path


def sweep_stale(cache: Path = CACHE) -> list[Path]:
    """Unmount and delete the work directories of harness processes that are gone."""
    swept = []
    for path in sorted((cache / "work").glob("*-*")):
        pid = path.name.split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            log.warning("removing %s left by a harness that died (pid %s)", path, pid)
            remove_tree(path)
            swept.append(path)
    return swept


@dataclass(frozen=True)
class CopyTiming:
    overlay_s: float
    cp_s: float
    cp_remove_s: float


def measure_copies(base: BaseRoot, workdir: Path) -> CopyTiming:
    """One overlay copy and one `cp -a --reflink=auto` copy of the base, each made and removed."""
    started = time.monotonic()
    copy = Copy.make(base, workdir / "measure-overlay", "overlay")
    copy.remove()
    overlay = time.monotonic() - started
    started = time.monotonic()
    copy = Copy.make(base, workdir / "measure-cp", "cp")
    made = time.monotonic()
    copy.remove()
    return CopyTiming(round(overlay, 3), round(made - started, 2), round(time.monotonic() - made, 2))
