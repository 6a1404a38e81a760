"""Which scripts to check, what each needs, and why a reference run that failed failed.

A corpus folder holds `*.sh` scripts and, optionally, MANIFEST.yaml saying per script:
`file`, `distro` (debian | rhel | any) and `network` (what it downloads from beyond the Debian
mirror). Accepted shapes: a list of entries, a mapping with such a list under any key (e.g.
`scripts:`), or a mapping from file name to entry. `network` false, null, "none", "mirror" or
"debian" (or a sentence starting with "none", e.g. "none (the ISO is already there)") means
nothing beyond the mirror; anything else (true, a host, a list of URLs) means
the script downloads from elsewhere. Without a manifest the distro is guessed from the script
(dnf/yum/rpm and no apt: rhel) and network from curl/wget/git clone of a URL.

Scripts that need the network beyond the mirror are run all the same (this machine reaches
nothing else, so their downloads fail in both runs the same way): when the script still
succeeds (a download that was optional, guarded with `|| true`) the two states are compared as
usual; when the script fails the script is "not runnable" (network), because a shell script
that stops at its first failed command (or goes on past it, without `set -e`) and a playbook
that stops at its first failed task end at points that do not correspond, so the two partial
states would differ for reasons that say nothing about the conversion. For the same reason,
when the script went on past a failed download (a pipeline like `wget -O- URL | apt-key add -`
without pipefail) but the playbook stopped at the task that downloads (get_url, apt_key,
apt_repository ...), the script is "not runnable" (network) too, naming that task.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Script", "blocked", "failure_reason", "load_corpus", "network_sign"]

log = logging.getLogger(__name__)

_NO_NETWORK = {"", "false", "no", "none", "mirror", "debian", "debian-mirror", "0", "off"}
_RHEL = re.compile(r"^\s*(?:sudo\s+)?(?:dnf|yum|rpm|subscription-manager|firewall-cmd|"
                   r"semanage|setsebool|alternatives)\b", re.M)
_DEBIAN = re.compile(r"^\s*(?:sudo\s+)?(?:[A-Z_]+=\S+\s+)*(?:apt|apt-get|dpkg|add-apt-repository|"
                     r"debconf-set-selections)\b", re.M)
_DOWNLOAD = re.compile(r"\b(?:curl|wget|git\s+clone|pip3?\s+install|npm\s+install|gem\s+install|"
                       r"go\s+install)\b[^\n]*|\bhttps?://(?!deb\.debian\.org|security\.debian\.org)",
                       re.I)


@dataclass(frozen=True)
class Script:
    """One corpus script: `distro` debian, rhel or any; `network` true when it downloads from
    beyond the Debian mirror; `from_manifest` whether those two came from MANIFEST.yaml."""

    name: str
    path: Path
    distro: str
    network: bool
    from_manifest: bool
    prepare: str = ""  # MANIFEST `prepare`: shell run in both copies first (what the script's machine had)
    context: str = ""  # MANIFEST `context`: the files the script sources first, converted as its context

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8", errors="replace")


def _entries(data: Any) -> dict[str, dict[str, Any]]:
    """MANIFEST.yaml's entries by file name, whatever its shape."""
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if lists:
            data = [item for group in lists for item in group]
        else:
            return {str(k): dict(v or {}, file=str(k)) for k, v in data.items()
                    if isinstance(v, (dict, type(None)))}
    if not isinstance(data, list):
        return {}
    out = {}
    for item in data:
        if isinstance(item, dict) and (item.get("file") or item.get("name")):
            name = str(item.get("file") or item.get("name"))
            out[Path(name).name] = item
    return out


def _network(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (list, tuple, dict)):
        return bool(value)
    text = str(value).strip().lower()
    return text not in _NO_NETWORK and not text.startswith(("none ", "none(", "no ", "mirror ",
                                                              "debian mirror", "false "))


def _guess_distro(text: str) -> str:
    rhel, debian = bool(_RHEL.search(text)), bool(_DEBIAN.search(text))
    if rhel and not debian:
        return "rhel"
    return "debian" if debian else "any"


def load_corpus(folder: Path, only: str | None = None) -> list[Script]:
    """The folder's scripts in name order (`only`: those whose name contains it)."""
    manifest_path = folder / "MANIFEST.yaml"
    manifest: dict[str, dict[str, Any]] = {}
    if manifest_path.exists():
        manifest = _entries(yaml.safe_load(manifest_path.read_text(encoding="utf-8")))
        log.info("%s: %d entries", manifest_path, len(manifest))
    scripts = []
    for path in sorted(folder.glob("*.sh")):
        if only and only not in path.name:
            continue
        entry = manifest.get(path.name)
        text = path.read_text(encoding="utf-8", errors="replace")
        if entry is not None:
            distro = str(entry.get("distro") or "any").lower()
            network = _network(entry.get("network"))
        else:
            if manifest:
                log.warning("%s is not in %s: guessing its distro and network", path.name,
                            manifest_path)
            distro, network = _guess_distro(text), bool(_DOWNLOAD.search(text))
        prepare = str((entry or {}).get("prepare") or "")
        context = "".join((folder / str(name)).read_text(encoding="utf-8", errors="replace")
                          for name in (entry or {}).get("context") or [])
        scripts.append(Script(path.stem, path, distro, network, entry is not None, prepare, context))
    return scripts


def blocked(script: Script) -> str | None:
    """Why the script cannot run on Debian at all, before trying."""
    if script.distro in ("rhel", "centos", "fedora", "rocky", "alma", "redhat"):
        source = "MANIFEST" if script.from_manifest else "it uses dnf/yum and no apt"
        return f"not runnable on Debian: rhel-only script ({source})"
    return None


# --- why a reference run failed ---------------------------------------------------------------

_NETWORK_SIGNS = (
    "Could not resolve host", "Could not resolve '", "Temporary failure resolving",
    "Temporary failure in name resolution", "unable to resolve host address",
    "Name or service not known", "Connection refused",
    "Network is unreachable", "No route to host", "Connection timed out",
    "fatal: unable to access", "keyserver receive failed", "Failed to fetch",
    "Could not connect to", "SSL connection", "gnutls_handshake", "curl: (",
    "ERROR: could not download", "Download failed", "getaddrinfo", "urlopen error",
    "Failed to download", "Failed to validate the SSL certificate", "Failed to update apt cache",
)
_HOST_SIGNS = (
    ("connection to server on socket", "needs a running PostgreSQL (no daemon starts in the chroot)"),
    ("Can't connect to local MySQL server", "needs a running MySQL/MariaDB (no daemon starts in the chroot)"),
    ("Can't connect to local server through socket", "needs a running MariaDB (no daemon starts in the chroot)"),
    ("Is the docker daemon running", "needs a running Docker daemon (no daemon starts in the chroot)"),
    ("Could not connect to Redis", "needs a running Redis (no daemon starts in the chroot)"),
    ("Problem running '/etc/ufw", "needs the kernel's firewall (net_admin is dropped in the chroot)"),
    ("modprobe", "needs kernel modules (no modprobe in a chroot)"),
    ("swapon", "needs swapon (not allowed in the chroot)"),
    ("mount:", "needs mount (not allowed in the chroot)"),
    ("mount.nfs", "needs mount (not allowed in the chroot)"),
    ("System has not been booted with systemd", "needs a running systemd"),
    ("Failed to connect to bus", "needs a running systemd (D-Bus)"),
    ("iptables", "needs the kernel's firewall (net_admin is dropped in the chroot)"),
)
_LAST_RESORT = ("Operation not permitted", "an operation the chroot forbids (Operation not permitted)")


def network_sign(text: str) -> str | None:
    """The first sign in `text` that a download failed, if any."""
    return next((sign for sign in _NETWORK_SIGNS if sign in text), None)


def failure_reason(output: str, exit_code: int | None, timeout_s: float, script: Script) -> str:
    """A one-line reason why the reference run failed, classed: timeout, host (something a
    chroot cannot do: daemons, kernel modules, mounts, firewall, a running systemd), network,
    missing (a command or function from elsewhere), or script failed."""
    last = " | ".join(line.strip() for line in output.strip().splitlines()[-3:])[-300:]
    if exit_code is None:
        return f"timeout: the script ran over {timeout_s:.0f} s (last output: {last})"
    for needle, why in _HOST_SIGNS:  # before network: `mount.nfs: Failed to resolve server`
        if needle in output:
            return f"host: {why}; exit {exit_code} (last output: {last})"
    sign = network_sign(output)
    if sign is not None or script.network:
        why = f"download failed ({sign})" if sign else "MANIFEST says it needs the network"
        return (f"network: needs the network beyond the Debian mirror: {why}; "
                f"exit {exit_code} (last output: {last})")
    if _LAST_RESORT[0] in output:
        return f"host: {_LAST_RESORT[1]}; exit {exit_code} (last output: {last})"
    missing = re.findall(r"([\w.-]+): command not found", output)
    if missing:
        return (f"missing: needs {missing[-1]}, which neither the script nor Debian's base "
                f"defines (a function or file from its repository?); exit {exit_code} "
                f"(last output: {last})")
    return f"script failed: exit {exit_code} (last output: {last})"
