"""API keys: the file of their digests, the lookup of a presented key, and the making of a new one.

``API_KEYS_FILE`` holds ``{"keys": [{"name": ..., "sha256": "<hex digest of the key>", "role":
"user" | "admin", "rate_per_minute": N, "max_concurrent": N}]}``. Only digests are stored; a
presented key is hashed and compared with every stored digest in constant time
(``hmac.compare_digest``, no early exit), so neither the file nor the timing gives a key away.
Standard library only: the CLI (``ansiblectl keys create``) writes the same file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROLES = ("user", "admin")
KEY_PREFIX = "aft_"  # makes a leaked key easy to recognise (secret scanners, logs)


class KeyFileError(ValueError):
    """API_KEYS_FILE cannot be read or is malformed; the message says which entry and why."""


@dataclass(frozen=True)
class ApiKey:
    """One key's record: who it is (``name``, safe to log), its digest, role and limits."""

    name: str
    sha256: str
    role: str = "user"
    rate_per_minute: int = 60
    max_concurrent: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 64 or not self.name.isprintable():
            raise KeyFileError(f"a key's 'name' must be printable text of 1-64 characters, not {self.name!r}")
        if not isinstance(self.sha256, str) or len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise KeyFileError(f"key {self.name!r}: 'sha256' must be 64 lower-case hex digits")
        if self.role not in ROLES:
            raise KeyFileError(f"key {self.name!r}: 'role' must be one of {', '.join(ROLES)}, not {self.role!r}")
        for field_name in ("rate_per_minute", "max_concurrent"):
            value = getattr(self, field_name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise KeyFileError(f"key {self.name!r}: '{field_name}' must be an integer >= 1, not {value!r}")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def digest(key: str) -> str:
    """The hex SHA-256 of a key, as the file stores it."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class KeyRing:
    """The keys of one API_KEYS_FILE, read once (``load``); ``find`` names the key a client sent."""

    keys: tuple[ApiKey, ...]
    path: str = ""

    @classmethod
    def load(cls, path: str | Path) -> KeyRing:
        """The keys in ``path``, or KeyFileError naming the file and the problem."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise KeyFileError(f"API_KEYS_FILE {path}: cannot read it: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise KeyFileError(f"API_KEYS_FILE {path}: not valid JSON: {exc}") from None
        try:
            return cls(_parse(data), str(path))
        except KeyFileError as exc:
            raise KeyFileError(f"API_KEYS_FILE {path}: {exc}") from None

    def find(self, presented: str) -> ApiKey | None:
        """The key whose digest is the presented key's; every digest is compared, in constant time."""
        wanted = digest(presented).encode("ascii")
        found = None
        for key in self.keys:
            if hmac.compare_digest(wanted, key.sha256.encode("ascii")):
                found = key
        return found


def _parse(data: Any) -> tuple[ApiKey, ...]:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeyFileError('expected an object like {"keys": [{"name": ..., "sha256": ..., "role": "user"}]}')
    keys = []
    for entry in data["keys"]:
        if not isinstance(entry, dict):
            raise KeyFileError(f"entry {entry!r} must be an object")
        unknown = sorted(set(entry) - {"name", "sha256", "role", "rate_per_minute", "max_concurrent"})
        if unknown:
            raise KeyFileError(f"unknown field(s) {unknown} in the entry of {entry.get('name')!r}")
        if "name" not in entry or "sha256" not in entry:
            raise KeyFileError(f"the entry of {entry.get('name')!r} needs 'name' and 'sha256'")
        keys.append(ApiKey(**entry))
    names = [k.name for k in keys]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise KeyFileError(f"the name(s) {duplicates} appear more than once; limits are kept per name")
    return tuple(keys)


def new_key() -> str:
    """A fresh random key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def add_key(path: str | Path, name: str, *, role: str = "user", rate_per_minute: int = 60,
            max_concurrent: int = 2) -> tuple[str, ApiKey]:
    """Make a key, append its digest to the file at ``path`` (created when missing), return (key, record).

    The file is replaced atomically, so a balancer reloading it never reads half of it.
    """
    target = Path(path)
    existing: tuple[ApiKey, ...] = ()
    if target.exists():
        existing = KeyRing.load(target).keys
    if any(k.name == name for k in existing):
        raise KeyFileError(f"API_KEYS_FILE {target}: a key named {name!r} exists already")
    key = new_key()
    record = ApiKey(name, digest(key), role, rate_per_minute, max_concurrent)
    _write(target, (*existing, record))
    return key, record


def _write(target: Path, keys: Iterable[ApiKey]) -> None:
    text = json.dumps({"keys": [asdict(k) for k in keys]}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=target.parent or Path("."), prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
