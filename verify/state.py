"""The state of a root file system after a run, and the differences between two such states.

A state has seven parts, each compared on what a person would call "the same machine":

* files: every path with its type, permission bits, owner and group (as names, read from the
  tree's own /etc/passwd and /etc/group, so two runs that gave a system account a different
  number still match), and content: sha256 of a regular file, target of a symlink, major/minor
  of a device. Timestamps, link counts, inode numbers and xattrs are not compared.
* packages: /var/lib/dpkg/status as `dpkg-query -W --admindir=ROOT/var/lib/dpkg` lists it
  (name:arch -> version, plus the dpkg state when it is not "installed").
* users and groups: /etc/passwd, /etc/shadow, /etc/group parsed; a password is compared by its
  state (none, locked, disabled, hashed with which scheme), never by its hash (the salt is
  random), and the shadow "last changed" day is a date.
* enabled systemd units: the symlinks under /etc/systemd/system/*.wants and *.requires.
* crontabs (/var/spool/cron/crontabs/*, /etc/cron.d/*, /etc/crontab) and sysctl files
  (/etc/sysctl.d/*.conf, /etc/sysctl.conf) are files, but their content is compared after
  normalising (see NORMALISED below); the effective sysctl settings (every sysctl.d directory
  and /etc/sysctl.conf in `sysctl --system` order) are compared as a part of their own.

Excluded paths (EXCLUDED; the whole subtree unless it says "content"), each with its reason:

| path | reason |
|---|---|
| /proc, /sys, /dev, /run | kernel and runtime file systems, freshly mounted for each run |
| /tmp (except /tmp/corpus-root), /var/tmp | scratch space; the harness puts the script and ansible's remote temp dir there. /tmp/corpus-root is where the corpus's file-only scripts write, their whole effect |
| /var/cache | caches (apt's downloaded .debs, man-db, debconf templates cache ...) |
| /var/log | logs carry timestamps and differ in wording between apt-get and ansible's apt |
| /var/lib/apt | package lists and apt's auto-installed marks: the package set is compared as packages |
| /var/lib/dpkg/{status*,available*,info,triggers,updates,lock*,*-old,…} | dpkg's database: compared as packages (diversions, statoverride and alternatives stay files) |
| /etc/passwd, /etc/shadow, /etc/group, /etc/gshadow and their "-" backups, /etc/.pwd.lock | compared as users and groups |
| /etc/systemd/system/*.wants, *.requires | compared as enabled units |
| */__pycache__, *.pyc | Python bytecode, written whenever a module is first imported (ansible's modules import many) |
| /root/.ansible, /root/.ansible_async, /root/.cache | ansible's own temp files and async status; per-user caches |
| /var/lib/systemd/random-seed, /var/lib/systemd/catalog, /var/lib/systemd/timers | random data, a binary index rebuilt on package installs, timer timestamps |
| /var/lib/logrotate/status, /var/lib/ucf/cache | timestamps; ucf's copy of pristine files |
| /usr/lib/locale/locale-archive, /etc/ld.so.cache, /usr/share/info/dir | binary indexes whose bytes depend on the order packages were set up in |
| /etc/machine-id, /var/lib/dbus/machine-id (content) | random per machine |
| /etc/ssh/ssh_host_* (content) | host keys are random; their presence, mode and owner are compared |
| /etc/ssl/private/ssl-cert-snakeoil.key, /etc/ssl/certs/ssl-cert-snakeoil.pem (content) | random self-signed certificate from ssl-cert's postinst |

Content that is random by construction is compared by what it is, not by its bytes (both
runs generate their own, so the bytes always differ): PEM private keys, certificates,
requests, public keys and DH parameters (openssl req/genrsa/dhparam, ssl-cert, certbot) by
their block types; OpenSSH public key files (*.pub) by key type and comment; swap areas
(mkswap writes a random UUID) by size. Their presence, mode and owner are compared as usual.

Nothing here runs a process or needs root: `snapshot` reads a tree, `diff` compares two
snapshots, so the unit tests run on small fake trees.
"""

# design: a snapshot is plain data (frozen dataclasses over dicts) so a diff is a pure function.
# Overlay copies make most of a tree identical by construction: a file in neither run's upper
# directory is the same lower file on both sides, so `snapshot(..., hash_only=...)` stats every
# path (presence, type, mode and owner are always compared) but hashes only the paths some run
# wrote, giving the rest the placeholder digest UNCHANGED. A cp copy hashes everything.

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "EXCLUDED", "NORMALISED", "Difference", "Exclusion", "FileEntry", "GroupEntry", "State",
    "UserEntry", "UNCHANGED", "content_hint", "diff", "excluded", "snapshot",
]

log = logging.getLogger(__name__)

#: digest given to a file that neither run wrote (see the design note)
UNCHANGED = "unchanged"
#: the corpus's file-only scripts write here (tests.playbook.corpus.FILE_ROOT): compared
CORPUS_FILE_ROOT = "/tmp/corpus-root"
#: numeric ids below this are system accounts, numbered by install order: not compared
UID_MIN = 1000
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Exclusion:
    """A path rule: `pattern` is an fnmatch pattern on the absolute path ("*" spans "/") and
    covers what is beneath a matching directory too; `content_only` keeps the path's presence,
    type, mode and owner in the comparison."""

    pattern: str
    reason: str
    content_only: bool = False

    def matches(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.pattern) or fnmatch.fnmatchcase(path, self.pattern + "/*")


EXCLUDED: tuple[Exclusion, ...] = (
    Exclusion("/proc", "kernel file system, mounted for the run"),
    Exclusion("/sys", "kernel file system, mounted for the run"),
    Exclusion("/dev", "device nodes, a fresh tmpfs for the run"),
    Exclusion("/run", "runtime state, a fresh tmpfs for the run"),
    Exclusion("/tmp/*", "scratch space (the script and ansible's remote temp dir live there)"),
    Exclusion("/var/tmp/*", "scratch space"),
    Exclusion("/var/cache/*", "caches: downloaded packages, debconf and man-db caches"),
    Exclusion("/var/log/*", "logs: timestamps, and apt-get and ansible log differently"),
    Exclusion("/var/lib/apt/*", "package lists and auto-installed marks; packages compared as such"),
    Exclusion("/var/lib/dpkg/status*", "dpkg database: compared as packages"),
    Exclusion("/var/lib/dpkg/available*", "dpkg database: compared as packages"),
    Exclusion("/var/lib/dpkg/info", "dpkg database: compared as packages"),
    Exclusion("/var/lib/dpkg/triggers", "dpkg trigger state"),
    Exclusion("/var/lib/dpkg/updates", "dpkg journal"),
    Exclusion("/var/lib/dpkg/lock*", "dpkg locks"),
    Exclusion("/var/lib/dpkg/*-old", "dpkg backups"),
    Exclusion("/etc/passwd", "compared as users"),
    Exclusion("/etc/passwd-", "backup written by the shadow tools"),
    Exclusion("/etc/shadow", "compared as users (password state, not hashes)"),
    Exclusion("/etc/shadow-", "backup written by the shadow tools"),
    Exclusion("/etc/group", "compared as groups"),
    Exclusion("/etc/group-", "backup written by the shadow tools"),
    Exclusion("/etc/gshadow", "compared as groups"),
    Exclusion("/etc/gshadow-", "backup written by the shadow tools"),
    Exclusion("/etc/.pwd.lock", "lock file of the shadow tools"),
    Exclusion("/etc/systemd/system/*.wants", "compared as enabled units"),
    Exclusion("/etc/systemd/system/*.requires", "compared as enabled units"),
    Exclusion("*/__pycache__", "Python bytecode"),
    Exclusion("*.pyc", "Python bytecode"),
    Exclusion("/root/.ansible", "ansible's own temp files"),
    Exclusion("/root/.ansible_async", "ansible's async job status"),
    Exclusion("/root/.cache", "per-user cache"),
    Exclusion("/var/lib/systemd/random-seed", "random data"),
    Exclusion("/var/lib/systemd/catalog", "binary index rebuilt on package installs"),
    Exclusion("/var/lib/systemd/timers", "timer timestamps"),
    Exclusion("/var/lib/logrotate/status", "timestamps"),
    Exclusion("/var/lib/ucf/cache", "ucf's copy of pristine config files"),
    Exclusion("/usr/lib/locale/locale-archive", "binary index, bytes depend on set-up order"),
    Exclusion("/etc/ld.so.cache", "binary index, bytes depend on set-up order"),
    Exclusion("/usr/share/info/dir", "index, entry order depends on set-up order"),
    Exclusion("/etc/machine-id", "random per machine", content_only=True),
    Exclusion("/var/lib/dbus/machine-id", "random per machine", content_only=True),
    Exclusion("/etc/ssh/ssh_host_*", "host keys are random", content_only=True),
    Exclusion("/etc/ssl/private/ssl-cert-snakeoil.key", "random self-signed key", content_only=True),
    Exclusion("/etc/ssl/certs/ssl-cert-snakeoil.pem", "random self-signed certificate",
              content_only=True),
)

_KEEP_UNDER_TMP = (CORPUS_FILE_ROOT,)


def excluded(path: str) -> Exclusion | None:
    """The rule that leaves `path` (absolute, "/" for the root) out, if any."""
    if any(path == keep or path.startswith(keep + "/") or keep.startswith(path + "/")
           for keep in _KEEP_UNDER_TMP):
        return None
    for rule in EXCLUDED:
        if rule.matches(path):
            return rule
    return None


# --- content normalisation ------------------------------------------------------------------

_CRON_ENV = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def _crontab_lines(data: bytes) -> bytes:
    """Effective crontab lines: comments (crontab(1)'s dated header, ansible's `#Ansible:`
    markers) and blank lines dropped, runs of blanks collapsed, and an environment setting's
    value unquoted (cron reads `SHELL="/bin/bash"` as `SHELL=/bin/bash`; ansible's cron
    module writes the quotes)."""
    lines = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = " ".join(raw.split())
        if not line or line.startswith("#"):
            continue
        env = _CRON_ENV.match(line)
        if env:
            value = env.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            line = f"{env.group(1)}={value}"
        lines.append(line)
    return "\n".join(lines).encode()


def _sysctl_lines(data: bytes) -> bytes:
    """`key = value` and `key=value` are the same setting; comments and blank lines dropped."""
    return "\n".join(f"{k}={v}" for k, v in _parse_sysctl(data.decode("utf-8", "replace"))).encode()


@dataclass(frozen=True)
class Normaliser:
    """Paths whose content is compared after `normalise`; `category` names them in reports."""

    patterns: tuple[str, ...]
    category: str
    normalise: Callable[[bytes], bytes]

    def matches(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in self.patterns)


NORMALISED: tuple[Normaliser, ...] = (
    Normaliser(("/var/spool/cron/crontabs/*", "/etc/cron.d/*", "/etc/crontab"), "crontab",
               _crontab_lines),
    Normaliser(("/etc/sysctl.d/*", "/etc/sysctl.conf"), "sysctl", _sysctl_lines),
)


def _normaliser(path: str) -> Normaliser | None:
    return next((n for n in NORMALISED if n.matches(path)), None)


# --- the state --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileEntry:
    """One path: kind (file, dir, link, char, block, fifo, socket), permission bits, owner and
    group names, and the content digest (sha256, link target, device numbers, or UNCHANGED)."""

    kind: str
    mode: int
    owner: str
    group: str
    digest: str | None = None


@dataclass(frozen=True)
class UserEntry:
    uid: int
    group: str
    gecos: str
    home: str
    shell: str
    password: str  # state only: "none", "locked", "disabled", "hash:$6$", "locked hash:$y$"


@dataclass(frozen=True)
class GroupEntry:
    gid: int
    members: frozenset[str]


@dataclass(frozen=True)
class State:
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    packages: Mapping[str, str] = field(default_factory=dict)
    users: Mapping[str, UserEntry] = field(default_factory=dict)
    groups: Mapping[str, GroupEntry] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    sysctl: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    """One way the script's result (`script`) and the playbook's (`playbook`) differ."""

    category: str  # package, user, group, unit, sysctl, crontab, file
    subject: str  # a path, package, user, group, unit or sysctl key
    reason: str
    script: str | None = None
    playbook: str | None = None

    def __str__(self) -> str:
        return f"[{self.category}] {self.subject}: {self.reason}"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return ""


def _table(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _password_state(field_: str) -> str:
    if field_ == "":
        return "none"
    locked = field_.startswith("!")
    rest = field_.lstrip("!")
    if rest in ("", "*"):
        return "locked" if locked else "disabled"
    scheme = re.match(r"\$[^$]+\$", rest)
    kind = f"hash:{scheme.group(0)}" if scheme else "hash:des"
    return f"locked {kind}" if locked else kind


def _users(root: Path, groups_by_gid: Mapping[int, str]) -> dict[str, UserEntry]:
    shadow = {row[0]: row for row in _table(_read(root / "etc/shadow")) if len(row) >= 2}
    users = {}
    for row in _table(_read(root / "etc/passwd")):
        if len(row) < 7:
            continue
        name, _, uid, gid = row[0], row[1], int(row[2]), int(row[3])
        pw = _password_state(shadow[name][1]) if name in shadow else f"passwd:{_password_state(row[1])}"
        users[name] = UserEntry(uid, groups_by_gid.get(gid, str(gid)), row[4], row[5], row[6], pw)
    return users


def _groups(root: Path) -> dict[str, GroupEntry]:
    groups = {}
    for row in _table(_read(root / "etc/group")):
        if len(row) >= 4:
            groups[row[0]] = GroupEntry(int(row[2]), frozenset(m for m in row[3].split(",") if m))
    return groups


def _packages(root: Path) -> dict[str, str]:
    packages = {}
    for para in _read(root / "var/lib/dpkg/status").split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", para, re.M))
        if "Package" not in fields:
            continue
        state = fields.get("Status", "").split()[-1:] or ["unknown"]
        if state[0] == "not-installed":
            continue
        name = f"{fields['Package']}:{fields.get('Architecture', '?')}"
        version = fields.get("Version", "")
        packages[name] = version if state[0] == "installed" else f"{version} ({state[0]})"
    return packages


def _units(root: Path) -> dict[str, str]:
    units = {}
    base = root / "etc/systemd/system"
    for wants in sorted(base.glob("*.wants")) + sorted(base.glob("*.requires")):
        if wants.is_dir() and not wants.is_symlink():
            for link in sorted(wants.iterdir()):
                target = os.readlink(link) if link.is_symlink() else "(not a symlink)"
                units[f"{wants.name}/{link.name}"] = target
    return units


def _parse_sysctl(text: str) -> list[tuple[str, str]]:
    pairs = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        pairs.append((key.strip().lstrip("-").replace("/", "."), " ".join(value.split())))
    return pairs


_SYSCTL_DIRS = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d",
                "lib/sysctl.d")


def _sysctl(root: Path) -> dict[str, str]:
    """Effective settings in `sysctl --system` order: sysctl.d files by name (the first
    directory holding a name wins), then /etc/sysctl.conf."""
    chosen: dict[str, Path] = {}
    for directory in _SYSCTL_DIRS:
        for conf in sorted((root / directory).glob("*.conf")):
            chosen.setdefault(conf.name, conf)
    settings: dict[str, str] = {}
    for name in sorted(chosen):
        settings.update(_parse_sysctl(_read(chosen[name])))
    settings.update(_parse_sysctl(_read(root / "etc/sysctl.conf")))
    return settings


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
#: PEM blocks that key and certificate generation make afresh on every run
_GENERATED_PEM = frozenset({
    "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
    "OPENSSH PRIVATE KEY", "CERTIFICATE", "CERTIFICATE REQUEST", "DH PARAMETERS",
    "X9.42 DH PARAMETERS", "PUBLIC KEY", "RSA PUBLIC KEY",
})
_SSH_PUB = re.compile(rb"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( .*)?\n?$")


def _content_class(path: Path, rel: str, size: int) -> str | None:
    """A digest for content that is random by construction, by what it is rather than its
    bytes: PEM keys, certificates, requests and DH parameters (openssl req/genrsa/dhparam,
    ssl-cert, certbot) by their block types; an OpenSSH public key file (*.pub, ssh-keygen) by
    key type and comment; a swap area (mkswap writes a random UUID) by its size; a Java trust
    store (ca-certificates-java builds /etc/ssl/certs/java/cacerts with the time in it) by kind."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if size <= 1 << 16 and head.lstrip()[:11] == b"-----BEGIN ":
        with path.open("rb") as handle:
            kinds = [k.decode() for k in _PEM_BLOCK.findall(handle.read())]
        if kinds and set(kinds) <= _GENERATED_PEM:
            return "pem:" + ",".join(kinds)
    if rel.endswith(".pub") and size <= 16384:
        match = _SSH_PUB.match(path.read_bytes())
        if match:
            return f"ssh-public-key:{match.group(1).decode()}:{(match.group(2) or b'').decode().strip()}"
    if size >= 40960 and len(head) == 4096 and head[-10:] == b"SWAPSPACE2":
        return f"swap-area:{size}"
    if head[:4] == b"\xfe\xed\xfe\xed":
        return "java-keystore"
    if rel.endswith("/java/cacerts") and head[:2] == b"\x30\x82":
        return "pkcs12-keystore"
    return None


# design: blockinfile keeps its block between two comment lines so that a second run finds it;
# those markers are ansible's bookkeeping, not something the script's file lacks, so a file is
# compared without them (the report says so). Nothing else in a file is ever ignored.
_BLOCK_MARKER = re.compile(rb"^# (?:BEGIN|END) ANSIBLE MANAGED BLOCK\r?\n?", re.MULTILINE)
_MARKED_LIMIT = 1 << 20


def without_block_markers(content: bytes) -> bytes:
    """``content`` without the `# BEGIN/END ANSIBLE MANAGED BLOCK` lines blockinfile writes."""
    return _BLOCK_MARKER.sub(b"", content)


def _digest(path: Path, rel: str, size: int) -> str:
    generated = _content_class(path, rel, size)
    if generated is not None:
        return generated
    normaliser = _normaliser(rel)
    if normaliser is not None:
        return "sha256:" + hashlib.sha256(normaliser.normalise(path.read_bytes())).hexdigest()
    if size <= _MARKED_LIMIT:
        content = path.read_bytes()
        if _BLOCK_MARKER.search(content):
            return "sha256:" + hashlib.sha256(without_block_markers(content)).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


_KINDS = ((stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "link"),
          (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"), (stat.S_ISFIFO, "fifo"),
          (stat.S_ISSOCK, "socket"))


def _entry(path: Path, rel: str, st: os.stat_result, users: Mapping[int, str],
           groups: Mapping[int, str], hash_it: bool) -> FileEntry:
    kind = next(name for test, name in _KINDS if test(st.st_mode))
    digest: str | None = None
    rule = excluded(rel)
    if rule is None or not rule.content_only:
        if kind == "link":
            digest = os.readlink(path)
        elif kind in ("char", "block"):
            digest = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        elif kind == "file":
            digest = _digest(path, rel, st.st_size) if hash_it else UNCHANGED
    return FileEntry(kind, stat.S_IMODE(st.st_mode), users.get(st.st_uid, str(st.st_uid)),
                     groups.get(st.st_gid, str(st.st_gid)), digest)


def _walk(root: Path, users: Mapping[int, str], groups: Mapping[int, str],
          hash_only: Callable[[str], bool] | None) -> dict[str, FileEntry]:
    files: dict[str, FileEntry] = {}
    pending = [""]
    while pending:
        rel_dir = pending.pop()
        try:
            entries = list(os.scandir(root / rel_dir.lstrip("/") if rel_dir else root))
        except (FileNotFoundError, NotADirectoryError, PermissionError) as error:
            log.warning("cannot list %s: %s", rel_dir or "/", error)
            continue
        for item in entries:
            rel = f"{rel_dir}/{item.name}"
            rule = excluded(rel)
            if rule is not None and not rule.content_only:
                continue
            st = item.stat(follow_symlinks=False)
            hash_it = hash_only is None or hash_only(rel)
            files[rel] = _entry(Path(item.path), rel, st, users, groups, hash_it)
            if stat.S_ISDIR(st.st_mode):
                pending.append(rel)
    return files


def snapshot(root: Path, *, hash_only: Callable[[str], bool] | None = None) -> State:
    """Read the state of the tree at `root`. `hash_only(path)` false: the file's content is
    known to be the base's (see the design note) and is not read."""
    root = Path(root)
    groups = _groups(root)
    gid_names = {entry.gid: name for name, entry in sorted(groups.items(), reverse=True)}
    users = _users(root, gid_names)
    uid_names = {entry.uid: name for name, entry in sorted(users.items(), reverse=True)}
    return State(
        files=_walk(root, uid_names, gid_names, hash_only),
        packages=_packages(root),
        users=users,
        groups=groups,
        units=_units(root),
        sysctl=_sysctl(root),
    )


# --- the diff -----------------------------------------------------------------------------------

_ORDER = ("package", "user", "group", "unit", "sysctl", "crontab", "file")


def _show(value: object) -> str | None:
    return None if value is None else str(value)


def _mapping_diff(category: str, a: Mapping[str, object], b: Mapping[str, object],
                  describe: Callable[[object, object], str]) -> list[Difference]:
    out = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            out.append(Difference(category, key, "only after the script", _show(a[key]), None))
        elif key not in a:
            out.append(Difference(category, key, "only after the playbook", None, _show(b[key])))
        elif a[key] != b[key]:
            out.append(Difference(category, key, describe(a[key], b[key]), _show(a[key]),
                                  _show(b[key])))
    return out


def _fields_differ(a: object, b: object) -> str:
    """`uid 1001 vs 1002, shell /bin/sh vs /bin/bash` for two dataclass values."""
    parts = []
    for name in a.__dataclass_fields__:  # type: ignore[attr-defined]
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            if isinstance(va, frozenset):
                va, vb = ",".join(sorted(va)) or "-", ",".join(sorted(vb)) or "-"
            parts.append(f"{name} {va} vs {vb}")
    return ", ".join(parts)


def _comparable_user(entry: UserEntry) -> UserEntry:
    """System accounts' numbers follow package set-up order: compared by name only."""
    return entry if entry.uid >= UID_MIN else replace(entry, uid=-1)


def _comparable_group(entry: GroupEntry) -> GroupEntry:
    return entry if entry.gid >= UID_MIN else replace(entry, gid=-1)


def _file_reason(a: FileEntry, b: FileEntry) -> str:
    if a.kind != b.kind:
        return f"type {a.kind} vs {b.kind}"
    parts = []
    if a.mode != b.mode:
        parts.append(f"mode {a.mode:04o} vs {b.mode:04o}")
    if (a.owner, a.group) != (b.owner, b.group):
        parts.append(f"owner {a.owner}:{a.group} vs {b.owner}:{b.group}")
    if a.digest != b.digest:
        parts.append(f"link target {a.digest} vs {b.digest}" if a.kind == "link"
                     else "content differs")
    return ", ".join(parts)


def _file_category(path: str) -> str:
    normaliser = _normaliser(path)
    return normaliser.category if normaliser else "file"


def _describe(entry: FileEntry) -> str:
    return f"{entry.kind} {entry.mode:04o} {entry.owner}:{entry.group}"


def _file_diff(a: Mapping[str, FileEntry], b: Mapping[str, FileEntry]) -> list[Difference]:
    out: list[Difference] = []
    hidden_under: str | None = None  # a directory only one side has: its subtree is one line
    hidden = 0
    for path in sorted(set(a) | set(b)):
        if hidden_under and path.startswith(hidden_under + "/"):
            hidden += 1
            continue
        if hidden_under and hidden:
            out[-1] = Difference(out[-1].category, out[-1].subject,
                                 f"{out[-1].reason} (with {hidden} entries beneath)",
                                 out[-1].script, out[-1].playbook)
        hidden_under, hidden = None, 0
        ea, eb = a.get(path), b.get(path)
        if ea is not None and eb is not None:
            if ea != eb:
                out.append(Difference(_file_category(path), path, _file_reason(ea, eb),
                                      _describe(ea), _describe(eb)))
            continue
        only = ea or eb
        assert only is not None
        side = "script" if ea is not None else "playbook"
        out.append(Difference(_file_category(path), path, f"{only.kind} only after the {side}",
                              _describe(ea) if ea else None, _describe(eb) if eb else None))
        if only.kind == "dir":
            hidden_under = path
    if hidden_under and hidden:
        last = out[-1]
        out[-1] = Difference(last.category, last.subject,
                             f"{last.reason} (with {hidden} entries beneath)", last.script,
                             last.playbook)
    return out


def diff(a: State, b: State) -> list[Difference]:
    """Every difference between the script's state `a` and the playbook's `b`, most telling
    first: packages, users, groups, units, sysctl, then files (crontabs before other files)."""
    out: list[Difference] = []
    out += _mapping_diff("package", a.packages, b.packages, lambda x, y: f"version {x} vs {y}")
    out += _mapping_diff("user", {k: _comparable_user(v) for k, v in a.users.items()},
                         {k: _comparable_user(v) for k, v in b.users.items()}, _fields_differ)
    out += _mapping_diff("group", {k: _comparable_group(v) for k, v in a.groups.items()},
                         {k: _comparable_group(v) for k, v in b.groups.items()}, _fields_differ)
    out += _mapping_diff("unit", a.units, b.units, lambda x, y: f"link to {x} vs {y}")
    out += _mapping_diff("sysctl", a.sysctl, b.sysctl, lambda x, y: f"value {x} vs {y}")
    out += _file_diff(a.files, b.files)
    return sorted(out, key=lambda d: _ORDER.index(d.category))  # stable: keeps path order


def content_hint(root_a: Path, root_b: Path, path: str, limit: int = 80) -> str | None:
    """For two small text files, their first differing line: `line 3: 'x' vs 'y'`."""
    try:
        ta, tb = ((Path(r) / path.lstrip("/")).read_bytes() for r in (root_a, root_b))
    except OSError:
        return None
    if len(ta) > 1 << 20 or len(tb) > 1 << 20 or b"\0" in ta[:8192] or b"\0" in tb[:8192]:
        return None
    normaliser = _normaliser(path)
    if normaliser is not None:
        ta, tb = normaliser.normalise(ta), normaliser.normalise(tb)
    ta, tb = without_block_markers(ta), without_block_markers(tb)
    la = ta.decode("utf-8", "replace").splitlines()
    lb = tb.decode("utf-8", "replace").splitlines()
    if _meaningful(la) == _meaningful(lb):
        return "only comment or blank lines differ"
    for number, (x, y) in enumerate(zip(la, lb), 1):
        if x != y:
            return f"line {number}: {x[:limit]!r} vs {y[:limit]!r}"
    if len(la) != len(lb):
        longer, side = (la, "script's") if len(la) > len(lb) else (lb, "playbook's")
        extra = longer[min(len(la), len(lb))]
        return f"the {side} has {abs(len(la) - len(lb))} more line(s), first {extra[:limit]!r}"
    return "same lines, different bytes (line endings or final newline)"


def _meaningful(lines: list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def paths_under(root: Path) -> Iterable[str]:
    """Every path under `root` as an absolute path of the tree (for an overlay's upper dir)."""
    for directory, dirs, files in os.walk(root):
        rel = "/" + os.path.relpath(directory, root) if directory != str(root) else ""
        for name in dirs + files:
            yield f"{rel}/{name}"
