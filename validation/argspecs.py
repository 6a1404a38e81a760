"""Parameter names (incl. aliases) of the installed Ansible modules, from ``ansible-doc``.

``load_argspecs()`` returns an ``ArgSpecs`` mapping ``{fqcn: frozenset(param names)}``
that ``playbook.validate.module_errors`` checks tasks against.
"""

# design: ``ansible-doc`` is slow (about 5 s for ansible.builtin, 18 s for
# community.general, minutes for all ~9 400 modules of the ``ansible``
# package), so the table is built once and cached as JSON under
# $XDG_CACHE_HOME/distributed-ansible (or ~/.cache/...), keyed by the
# ansible-core and ansible versions. Eagerly dumped (``--metadata-dump``, one
# process per collection, in parallel): the collections setup scripts use
# (DEFAULT_COLLECTIONS). Every other installed module is known by NAME from a
# scan of the collection directories (milliseconds), so a legitimate
# ``community.mysql.mysql_db`` is never "unknown"; its parameters are fetched
# with ``ansible-doc -j`` the first time a task uses it, and cached too.
# Short names and redirects come from ansible-core's
# ``ansible_builtin_runtime.yml`` and each collection's ``meta/runtime.yml``.

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

__all__ = [
    "ArgSpecs",
    "DEFAULT_COLLECTIONS",
    "ArgSpecsError",
    "cache_dir",
    "load_argspecs",
    "installed_modules",
    "module_redirects",
]

#: Collections whose argument specs are dumped eagerly (the rest load on first use).
DEFAULT_COLLECTIONS: tuple[str, ...] = ("ansible.builtin", "ansible.posix", "community.general")
_CACHE_FORMAT = 1
_DOC_TIMEOUT_S = 300.0


class ArgSpecsError(RuntimeError):
    """ansible-doc is missing or failed; module parameters cannot be checked."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/distributed-ansible`` or ``~/.cache/distributed-ansible``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "distributed-ansible"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def _ansible_doc() -> str:
    beside = Path(sys.executable).parent / "ansible-doc"
    found = str(beside) if beside.exists() else shutil.which("ansible-doc")
    if not found:
        raise ArgSpecsError("ansible-doc not found; install ansible-core to check module parameters")
    return found


def _doc_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEVEL_WARNING="False",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


# ---------------------------------------------------------------------------
# names and redirects from the file system


def _collection_roots() -> list[Path]:
    """Directories that hold an ``ansible_collections`` tree, in Ansible's search order (approximately)."""
    roots: list[Path] = []
    configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.environ.get("ANSIBLE_COLLECTIONS_PATHS")
    candidates = [Path(p) for p in configured.split(os.pathsep)] if configured else []
    candidates += [Path.home() / ".ansible" / "collections", Path("/usr/share/ansible/collections")]
    spec = importlib.util.find_spec("ansible_collections")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p).parent for p in spec.submodule_search_locations]
    for root in candidates:
        if (root / "ansible_collections").is_dir() and root not in roots:
            roots.append(root)
    return roots


def _core_dir() -> Path | None:
    spec = importlib.util.find_spec("ansible")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_modules() -> set[str]:
    """FQCNs of every installed module (ansible.builtin and all collections), by scanning directories."""
    names: set[str] = set()
    core = _core_dir()
    if core is not None:
        for path in (core / "modules").glob("*.py"):
            if not path.name.startswith("_"):
                names.add(f"ansible.builtin.{path.stem}")
    for root in _collection_roots():
        for coll in (root / "ansible_collections").glob("*/*"):
            modules = coll / "plugins" / "modules"
            if not modules.is_dir():
                continue
            prefix = f"{coll.parent.name}.{coll.name}."
            for path in modules.rglob("*"):
                if path.suffix in (".py", ".ps1") and not path.name.startswith("_"):
                    names.add(prefix + path.stem)
    return names


def module_redirects() -> dict[str, str]:
    """``{fqcn: target fqcn}`` from ansible-core's builtin routing and each collection's meta/runtime.yml."""
    redirects: dict[str, str] = {}
    core = _core_dir()
    sources: list[tuple[str, Path]] = []
    if core is not None:
        sources.append(("ansible.builtin", core / "config" / "ansible_builtin_runtime.yml"))
    for root in _collection_roots():
        for runtime in (root / "ansible_collections").glob("*/*/meta/runtime.yml"):
            coll = runtime.parent.parent
            sources.append((f"{coll.parent.name}.{coll.name}", runtime))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for prefix, path in sources:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
        except (OSError, yaml.YAMLError) as exc:
            log.warning("cannot read module routing %s: %s", path, exc)
            continue
        modules = (data.get("plugin_routing") or {}).get("modules") or {}
        for name, route in modules.items():
            if isinstance(route, dict) and isinstance(route.get("redirect"), str):
                redirects.setdefault(f"{prefix}.{name}", route["redirect"])
    return redirects


# ---------------------------------------------------------------------------
# parameters from ansible-doc


def _params(doc: Mapping[str, Any]) -> list[str]:
    options = doc.get("options") or {}
    names: set[str] = set()
    for name, option in options.items():
        names.add(str(name))
        if isinstance(option, Mapping):
            names.update(str(a) for a in option.get("aliases") or ())
    return sorted(names)


def _run_doc(args: list[str], timeout_s: float) -> Any:
    cmd = [_ansible_doc(), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=_doc_env(), check=False)
    except subprocess.TimeoutExpired as exc:
        raise ArgSpecsError(f"{' '.join(cmd[:4])} timed out after {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        raise ArgSpecsError(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise ArgSpecsError(f"ansible-doc printed no JSON: {proc.stdout[:200]!r}") from exc


def dump_collection(collection: str, timeout_s: float = _DOC_TIMEOUT_S) -> dict[str, list[str]]:
    """``{fqcn: params}`` of every module in one collection, from ``ansible-doc --metadata-dump``."""
    data = _run_doc(["--metadata-dump", "--no-fail-on-errors", "-t", "module", collection], timeout_s)
    modules = (data.get("all") or {}).get("module") or {}
    specs: dict[str, list[str]] = {}
    for fqcn, entry in modules.items():
        doc = (entry or {}).get("doc")
        if isinstance(doc, Mapping):
            specs[fqcn] = _params(doc)
        else:
            log.debug("no documentation for %s: %s", fqcn, (entry or {}).get("error"))
    return specs


def doc_modules(fqcns: Iterable[str], timeout_s: float = 60.0) -> dict[str, list[str]]:
    """``{fqcn: params}`` for the given modules, from ``ansible-doc -j -t module``."""
    names = sorted(set(fqcns))
    if not names:
        return {}
    data = _run_doc(["-j", "-t", "module", *names], timeout_s)
    return {fqcn: _params(entry.get("doc") or {}) for fqcn, entry in data.items() if isinstance(entry, Mapping)}


# ---------------------------------------------------------------------------
# the mapping and its cache


class ArgSpecs(Mapping[str, frozenset[str]]):
    """``{fqcn: parameter names incl. aliases}`` for every installed module; rare ones load on first access."""

    def __init__(
        self,
        specs: Mapping[str, Iterable[str]],
        names: Iterable[str] = (),
        redirects: Mapping[str, str] | None = None,
        *,
        cache_file: Path | None = None,
        fetch: Any = doc_modules,
    ) -> None:
        self._specs: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in specs.items()}
        self._names: frozenset[str] = frozenset(names) | frozenset(self._specs)
        self.redirects: dict[str, str] = dict(redirects or {})
        self._cache_file = cache_file
        self._fetch = fetch
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        return key in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, fqcn: str) -> frozenset[str]:
        found = self._specs.get(fqcn)
        if found is not None:
            return found
        if fqcn not in self._names:
            raise KeyError(fqcn)
        with self._lock:
            if fqcn not in self._specs:
                try:
                    fetched = self._fetch([fqcn])
                except ArgSpecsError as exc:
                    log.warning("cannot read parameters of %s: %s", fqcn, exc)
                    fetched = {}
                # an undocumented module: accept any parameter rather than invent errors
                self._specs[fqcn] = frozenset(fetched.get(fqcn, ())) or _ANY
                self._save_locked()
            return self._specs[fqcn]

    @property
    def loaded(self) -> int:
        """How many modules have their parameters in memory."""
        return len(self._specs)

    def _save_locked(self) -> None:
        if self._cache_file is not None:
            _write_cache(self._cache_file, self._payload())

    def _payload(self) -> dict[str, Any]:
        return {
            "format": _CACHE_FORMAT,
            "ansible_core": _version("ansible-core"),
            "ansible": _version("ansible"),
            "specs": {k: sorted(v) for k, v in self._specs.items() if v is not _ANY},
            "names": sorted(self._names),
            "redirects": self.redirects,
        }


class _AnyParams(frozenset[str]):
    """A parameter set that contains every name (for modules without documentation)."""

    def __contains__(self, item: object) -> bool:
        return True


_ANY = _AnyParams()


def _cache_path(directory: Path, collections: Iterable[str]) -> Path:
    core, pkg = _version("ansible-core"), _version("ansible")
    tag = "+".join(sorted(collections)).replace(".", "_")
    return directory / f"argspecs-core{core}-ansible{pkg}-{tag}.json"


def _write_cache(path: Path, payload: Mapping[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write the argspec cache %s: %s", path, exc)


def load_argspecs(
    directory: Path | None = None,
    collections: Iterable[str] = DEFAULT_COLLECTIONS,
    *,
    rebuild: bool = False,
) -> ArgSpecs:
    """The argspec table from the cache, building it with ansible-doc the first time (slow: ~20 s)."""
    collections = tuple(collections)
    path = _cache_path(directory or cache_dir(), collections)
    if not rebuild:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload.get("format") == _CACHE_FORMAT and payload.get("ansible_core") == _version("ansible-core"):
                log.debug("argspecs from %s", path)
                return ArgSpecs(payload["specs"], payload["names"], payload["redirects"], cache_file=path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if path.exists():
                log.warning("ignoring unreadable argspec cache %s: %s", path, exc)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, len(collections))) as pool:
        names_future = pool.submit(installed_modules)
        redirects_future = pool.submit(module_redirects)
        dumps = list(pool.map(dump_collection, collections))
    specs: dict[str, list[str]] = {}
    for dump in dumps:
        specs.update(dump)
    table = ArgSpecs(specs, names_future.result(), redirects_future.result(), cache_file=path)
    with table._lock:
        table._save_locked()
    log.info("built argspecs for %d modules (%d known) in %.1f s -> %s", len(specs), len(table), time.monotonic() - started, path)
    return table
