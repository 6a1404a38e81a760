"""Pure helpers for the tasks no rule covers: what a command evidently creates, whether it
only reads, how its task is named; the walker (``playbook.convert.tasks``) builds the
guarded ``command``/``shell`` tasks with them."""

from __future__ import annotations

import re
from typing import Any

from playbook.rules import command_key

READ_ONLY = frozenset({
    "ls", "cat", "grep", "egrep", "which", "id", "whoami", "uname", "df", "free", "getent",
    "test", "[", "stat", "head", "tail", "wc", "date", "hostname", "env", "printenv", "pwd",
    "ps", "ss", "netstat", "lsblk", "blkid", "ip", "nproc", "command", "type", "find",
    "curl", "ping", "dig", "nslookup", "node", "npm", "java", "python3", "python", "go",
    "docker", "psql", "mysql", "nginx", "apachectl", "apache2ctl", "sshd", "visudo",
})
READ_ONLY_FLAGS = {
    "nginx": ("-t", "-T", "-v", "-V"), "apachectl": ("configtest", "-t", "-v"),
    "apache2ctl": ("configtest", "-t", "-v"), "sshd": ("-t", "-T"), "visudo": ("-c",),
    "node": ("-v", "--version"), "npm": ("-v", "--version"), "java": ("-version", "--version"),
    "python3": ("--version", "-V"), "python": ("--version", "-V"), "go": ("version",),
    "docker": ("--version", "version", "info", "ps"), "curl": ("--version",),
    "psql": ("--version",), "mysql": ("--version",),
}


OUTPUT_FLAGS = {"-o", "--output", "-out", "-O", "--output-document", "-keyout"}


def creates_of(argv: list[str], redirects: list[Any]) -> str | None:
    """The file a command evidently makes (a key, a download, a virtualenv), so it can be
    skipped when the file exists.

    design: never a `> FILE` redirect. `cmd > FILE` overwrites a file that is there (a config a
    package installed, a file an earlier line wrote), so `creates: FILE` would skip the write
    exactly where it matters; such a task runs every time, as the line did. Commands that make
    a file by name (`-o`, `ssh-keygen -f`, `python3 -m venv`) keep the guard: most of them
    refuse or prompt when the file is there. ``redirects`` is accepted for the callers' sake.
    """
    del redirects
    if not argv:
        return None
    name = command_key(argv[0])
    for i, arg in enumerate(argv[1:-1], 1):
        if arg in OUTPUT_FLAGS and argv[i + 1].startswith("/"):
            return argv[i + 1]
    if name == "ssh-keygen" and "-f" in argv[:-1]:
        return argv[argv.index("-f") + 1]
    if name == "dd":
        for arg in argv:
            if arg.startswith("of=/"):
                return arg[3:]
    if name in ("python3", "python") and argv[1:3] == ["-m", "venv"] and len(argv) >= 4 \
            and argv[-1].startswith("/"):
        return argv[-1] + "/bin/python"
    if name in ("virtualenv",) and argv[-1].startswith("/"):
        return argv[-1] + "/bin/python"
    if name == "fallocate" and argv[-1].startswith("/"):
        return argv[-1]
    if name in ("tar",) and any(a.startswith("-c") or a == "czf" for a in argv[1:2]) \
            and "-f" in "".join(argv[1:2]):
        return None
    if name == "certbot" and "-d" in argv[:-1]:
        return "/etc/letsencrypt/live/" + argv[argv.index("-d") + 1]
    return None


def read_only(argv: list[str]) -> bool:
    if not argv:
        return False
    name = command_key(argv[0])
    if name == "systemctl" and len(argv) > 1 and argv[1] in ("status", "is-active", "is-enabled"):
        return True
    if name == "find" and any(a in ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint",
                                     "-fprintf", "-fls") for a in argv):
        return False
    if name in READ_ONLY_FLAGS:
        return any(flag in argv[1:] for flag in READ_ONLY_FLAGS[name])
    return name in READ_ONLY and name not in ("curl", "docker", "psql", "mysql", "npm", "node",
                                               "python3", "python", "java", "go")


def strip_leading_sudo(text: str) -> str:
    return re.sub(r"^(\s*)sudo\s+(?:-[A-Za-z]+\s+(?:(?<=-u\s)\S+\s+)?)*", r"\1", text)


def short(text: str, limit: int = 60) -> str:
    text = " ".join(text.replace("set -o pipefail\n", "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fallback_name(cmd: str) -> str:
    lines = [line for line in cmd.splitlines() if line.strip() and line != "set -o pipefail"
             and not re.match(r"^[A-Za-z_]\w*=", line)]
    text = short(lines[0] if lines else cmd, 50).replace("{", "(").replace("}", ")")
    return "Run " + text




def download_to_stdout(argv: list[str]) -> str | None:
    """The URL of `curl [-fsSL] URL` or `wget -qO- URL` when it writes the download to stdout."""
    if not argv:
        return None
    name = command_key(argv[0])
    urls = [a for a in argv[1:] if a.startswith(("http://", "https://"))]
    if name == "curl" and not urls:
        # `curl -sSL get.docker.com`: curl takes a host without a scheme as http:// (ftp.* aside)
        bare = [a for a in argv[1:] if re.fullmatch(r"(?!ftp\.)[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/\S*)?", a)]
        if len(bare) == 1:
            argv = [("http://" + a if a == bare[0] else a) for a in argv]
            urls = ["http://" + bare[0]]
    if len(urls) != 1:
        return None
    flags = [a for a in argv[1:] if a != urls[0]]
    if name == "curl" and all(re.fullmatch(r"-[fsSLk]+|--(?:fail|silent|show-error|location|insecure)", f) for f in flags):
        return urls[0]
    if name == "wget" and any(f in ("-O-", "-qO-", "-qO", "-O") for f in flags) \
            and all(re.fullmatch(r"-q?O-?|-q|--quiet|-", f) for f in flags):
        return urls[0]
    return None
