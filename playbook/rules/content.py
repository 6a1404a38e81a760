"""Writing file content: `echo`/`printf`/`cat <<EOF` redirected to a file, `tee` (`sed -i`: sed.py).

# design: every way a script writes text into a file ends in `write_content(dest, text,
# append)`. The destination decides the module: a cron.d file becomes cron entries, sysctl
# files sysctl settings, /etc/fstab mounts, authorized_keys keys, /etc/hostname the
# hostname; anything else is `copy` (overwrite) or `lineinfile`/`blockinfile` (append), which
# Ansible can check and repeat without duplicating lines, unlike `>>`.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from playbook.rules import rule
from playbook.rules.base import RUNTIME_VALUE, Invocation, Task, no_op, parse_options

_C_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r",
              "v": "\v", "e": "\x1b"}


def literal(text: str) -> str:
    """Text Ansible must not template: wrap anything that looks like Jinja in raw tags, except
    the converter's own `{{ shell_NAME }}` and `{{ ansible_facts.NAME }}` (values the host knows)."""
    pieces = re.split(r"(\{\{ (?:shell_\w+|ansible_facts\.\w+|ansible_env\.\w+ \| default) \}\})", text)
    return "".join(piece if index % 2 else _raw(piece) for index, piece in enumerate(pieces))


def _raw(text: str) -> str:
    if "{{" in text or "{%" in text or "{#" in text:
        return "{% raw %}" + text + "{% endraw %}"
    return text


def _escapes(text: str) -> str:
    return re.sub(r"\\(0[0-7]{0,3}|.)", lambda m: _C_ESCAPES.get(m.group(1), None)
                  or (chr(int(m.group(1), 8)) if m.group(1).startswith("0") else "\\" + m.group(1)),
                  text)


def echo_text(args: tuple[str, ...]) -> str:
    """What `echo ARGS` prints (bash builtin: -n, -e, -E flags only at the start)."""
    newline, escapes = True, False
    items = list(args)
    while items and re.fullmatch(r"-[neE]+", items[0]):
        flags = items.pop(0)
        newline = newline and "n" not in flags
        escapes = ("e" in flags) or (escapes and "E" not in flags)
    text = " ".join(items)
    if escapes:
        text = _escapes(text)
    return text + ("\n" if newline else "")


def printf_text(args: tuple[str, ...]) -> str | None:
    """What `printf FORMAT ARGS` prints, for formats using only %s and %%; else None."""
    if not args or args[0].startswith("-"):
        return None
    fmt, values = args[0], list(args[1:])
    if re.search(r"%(?![s%])", fmt):
        return None
    count = fmt.count("%s")
    if count == 0:
        if values:
            return None
        return _escapes(fmt).replace("%%", "%")
    out = []
    while True:
        chunk, values = values[:count], values[count:]
        chunk += [""] * (count - len(chunk))
        pieces = iter(chunk)
        out.append(re.sub(r"%[s%]", lambda m: next(pieces) if m.group(0) == "%s" else "%",
                          _escapes(fmt)))
        if not values:
            break
    return "".join(out)


def write_content(inv: Invocation, dest: str, content: str, append: bool) -> list[Task] | None:
    """Tasks that leave `content` in `dest` (appended or as the whole file)."""
    path = inv.path(dest)
    if path is None:
        return None
    for special in (_cron_d, _sysctl, _fstab, _authorized_keys, _hostname, _apt_source, _yum_repo):
        # `sudo -u U ... tee -a ~/.ssh/authorized_keys`: U's file
        owned = f"~{inv.user}{path[1:]}" if special is _authorized_keys and inv.user and path.startswith("~/") else path
        tasks = special(owned, content, append)
        if tasks is not None:
            return tasks
    lines = content.splitlines()
    check = {"validate": VISUDO} if _is_sudoers(path) else {}
    mode = SUDOERS_MODE if check else inv.new_file_mode
    if append:
        if len(lines) == 1:
            return [Task(f"Ensure a line is in {path}", "ansible.builtin.lineinfile",
                         {"path": path, "line": literal(lines[0]), "create": True,
                          "mode": mode, **check}, role="config", path=path)]
        return [Task(f"Add a block of lines to {path}", "ansible.builtin.blockinfile",
                     {"path": path, "block": literal(content.rstrip("\n")), "create": True,
                      "mode": mode, **check}, role="config", path=path)]
    return [Task(f"Write {path}", "ansible.builtin.copy",
                 {"dest": path, "content": literal(content), "mode": mode, **check},
                 role="config", path=path)]


#: a sudoers file that does not parse locks everyone out of sudo: have visudo check it first
VISUDO = "/usr/sbin/visudo -cf %s"
SUDOERS_MODE = "0440"  # what visudo makes; sudo refuses files others can write


def _is_sudoers(path: str) -> bool:
    return path == "/etc/sudoers" or posixpath.dirname(path) == "/etc/sudoers.d"


def _meaningful(content: str) -> list[str]:
    return [line.strip() for line in content.splitlines()
            if line.strip() and not line.strip().startswith("#")]


_CRON_LINE = re.compile(r"^(@\w+|(?:\S+\s+){4}\S+)\s+(\S+)\s+(.+)$")
_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def cron_fields(schedule: str) -> dict[str, Any] | None:
    if schedule.startswith("@"):
        special = schedule[1:]
        if special == "midnight":
            special = "daily"
        if special not in ("reboot", "yearly", "annually", "monthly", "weekly", "daily",
                           "hourly"):
            return None
        return {"special_time": special}
    minute, hour, day, month, weekday = schedule.split()
    fields = {"minute": minute, "hour": hour, "day": day, "month": month, "weekday": weekday}
    return {k: v for k, v in fields.items() if v != "*"}


def _cron_d(path: str, content: str, append: bool) -> list[Task] | None:
    if posixpath.dirname(path) != "/etc/cron.d":
        return None
    cron_file = posixpath.basename(path)
    tasks: list[Task] = []
    jobs = [line for line in _meaningful(content) if _CRON_LINE.match(line)]
    comment: str | None = None
    names: set[str] = set()
    for raw in content.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            comment = line.lstrip("#").strip() or None
            continue
        if not line:
            comment = None
            continue
        env = _ENV_LINE.match(line)
        if env and not _CRON_LINE.match(line):
            tasks.append(Task(f"Set {env.group(1)} in the {cron_file} cron file",
                              "ansible.builtin.cron",
                              {"name": env.group(1), "env": True, "job": env.group(2),
                               "cron_file": cron_file, "user": "root"}, role="config", path=path))
            continue
        match = _CRON_LINE.match(line)
        if not match:
            return None
        fields = cron_fields(match.group(1))
        if fields is None:
            return None
        name = _cron_job_name(comment, cron_file, match.group(3), len(jobs), names)
        comment = None
        tasks.append(Task(f"Schedule the {name} cron job", "ansible.builtin.cron",
                          {"name": name, **fields, "user": match.group(2),
                           "job": literal(match.group(3)), "cron_file": cron_file},
                          role="config", path=path))
    return tasks or None


def _cron_job_name(comment: str | None, cron_file: str, job: str, jobs: int,
                   taken: set[str]) -> str:
    """The job's marker name: the comment above it, the file's name for a lone job, else the
    file and the program; unique within the file (the cron module finds jobs by name)."""
    program = job.split()[0].rsplit("/", 1)[-1] if job.split() else "job"
    name = comment or (cron_file if jobs == 1 else f"{cron_file} {program}")
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name} {n}", n + 1
    taken.add(unique)
    return unique


_SYSCTL_LINE = re.compile(r"^([A-Za-z0-9_.\-/]+)\s*=\s*(.*?)\s*$")


def _sysctl(path: str, content: str, append: bool) -> list[Task] | None:
    if path != "/etc/sysctl.conf" and not (posixpath.dirname(path) == "/etc/sysctl.d"
                                           and path.endswith(".conf")):
        return None
    tasks = []
    for line in _meaningful(content):
        match = _SYSCTL_LINE.match(line)
        if not match:
            return None
        args: dict[str, Any] = {"name": match.group(1), "value": match.group(2),
                                "state": "present"}
        if path != "/etc/sysctl.conf":
            args["sysctl_file"] = path
        tasks.append(Task(f"Set the kernel parameter {match.group(1)}", "ansible.posix.sysctl",
                          args, role="config", path=path))
    return tasks or None


def _fstab(path: str, content: str, append: bool) -> list[Task] | None:
    if path != "/etc/fstab" or not append:
        return None
    tasks = []
    for line in _meaningful(content):
        fields = line.split()
        if len(fields) < 3 or len(fields) > 6:
            return None
        src, mount_point, fstype = fields[:3]
        args: dict[str, Any] = {"src": src, "path": mount_point, "fstype": fstype}
        if len(fields) > 3:
            args["opts"] = fields[3]
        if len(fields) > 4:
            args["dump"] = fields[4]
        if len(fields) > 5:
            args["passno"] = fields[5]
        args["state"] = "present"
        shown = src if fstype == "swap" else mount_point
        tasks.append(Task(f"Add {shown} to /etc/fstab", "ansible.posix.mount", args,
                          role="config", path=path))
    return tasks or None


def key_owner(path: str) -> str | None:
    """The user whose authorized_keys file `path` is, when the path says so."""
    match = re.fullmatch(r"/home/([^/]+)/\.ssh/authorized_keys2?", path) \
        or re.fullmatch(r"~([^/]+)/\.ssh/authorized_keys2?", path)
    if match:
        return match.group(1)
    if re.fullmatch(r"/root/\.ssh/authorized_keys2?", path):
        return "root"
    return None


def _authorized_keys(path: str, content: str, append: bool) -> list[Task] | None:
    user = key_owner(path)
    if user is None:
        return None
    keys = _meaningful(content)
    if not keys or not all(re.match(r"^(ssh-|ecdsa-|sk-|no-|command=|from=|restrict)", k)
                           or (append and RUNTIME_VALUE.fullmatch(k)) for k in keys):
        return None  # a value the host holds is a key when it is a whole line added to the file
    keys = [literal(k) for k in keys]
    if append:
        return [Task(f"Authorize an SSH key for {user}", "ansible.posix.authorized_key",
                     {"user": user, "key": key, "state": "present"}, role="config", path=path)
                for key in keys]
    return [Task(f"Set the authorized SSH keys of {user}", "ansible.posix.authorized_key",
                 {"user": user, "key": "\n".join(keys), "exclusive": True, "state": "present"},
                 role="config", path=path)]


def _hostname(path: str, content: str, append: bool) -> list[Task] | None:
    lines = _meaningful(content)
    if path != "/etc/hostname" or append or len(lines) != 1:
        return None
    return [Task(f"Set the hostname to {lines[0]}", "ansible.builtin.hostname",
                 {"name": lines[0]})]


_APT_LINE = re.compile(r"^deb(-src)?\s+(\[[^\]]*\]\s+)?[a-z+]+:\S+\s+\S+(\s+\S+)*$")


def _apt_source(path: str, content: str, append: bool) -> list[Task] | None:
    """`deb ...` lines into /etc/apt/sources.list.d/NAME.list: apt_repository with that file
    name (it adds each line once; the cache is left to the script's own `apt-get update`)."""
    if posixpath.dirname(path) != "/etc/apt/sources.list.d" or not path.endswith(".list"):
        return None
    lines = _meaningful(content)
    if not lines or not all(_APT_LINE.match(line) for line in lines) or "{" in RUNTIME_VALUE.sub("", content):
        return None
    filename = posixpath.basename(path)[: -len(".list")]
    return [Task(f"Add the apt repository {_repo_words(line)}", "ansible.builtin.apt_repository",
                 {"repo": line, "filename": filename, "state": "present", "update_cache": False},
                 role="config", path=path) for line in lines]


def _repo_words(line: str) -> str:
    """`deb [opts] URL suite comp` -> `URL suite`, for a task name."""
    words = _words(re.sub(r"\[[^\]]*\]", "", line))
    return " ".join(words[1:3])


def _words(text: str) -> list[str]:
    """``text`` split at whitespace, a value the host holds (`{{ x }}`) kept inside its word."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(match.group(0))
        return f"\x00{len(held) - 1}\x00"

    return [re.sub(r"\x00(\d+)\x00", lambda m: held[int(m.group(1))], word)
            for word in RUNTIME_VALUE.sub(hold, text).split()]


# .repo keys -> yum_repository parameters (booleans as yum writes them: 1/0)
_YUM_KEYS = {"name": "description", "baseurl": "baseurl", "mirrorlist": "mirrorlist", "metalink": "metalink",
             "enabled": "enabled", "gpgcheck": "gpgcheck", "repo_gpgcheck": "repo_gpgcheck", "gpgkey": "gpgkey",
             "priority": "priority", "cost": "cost", "exclude": "exclude", "includepkgs": "includepkgs",
             "metadata_expire": "metadata_expire", "skip_if_unavailable": "skip_if_unavailable",
             "sslverify": "sslverify", "module_hotfixes": "module_hotfixes", "failovermethod": "failovermethod",
             "enabled_metadata": None}
_YUM_BOOLEANS = frozenset({"enabled", "gpgcheck", "repo_gpgcheck", "skip_if_unavailable", "sslverify",
                           "module_hotfixes"})
_YUM_LISTS = frozenset({"baseurl", "gpgkey", "exclude", "includepkgs"})


def _yum_repo(path: str, content: str, append: bool) -> list[Task] | None:
    """A whole .repo file in /etc/yum.repos.d: a yum_repository task per section, in that file."""
    if append or posixpath.dirname(path) != "/etc/yum.repos.d" or not path.endswith(".repo") \
            or "{" in RUNTIME_VALUE.sub("", content):  # a value the host holds is templated; other braces are text
        return None
    sections: list[tuple[str, dict[str, Any]]] = []
    last_key: str | None = None
    for raw in content.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[([A-Za-z0-9_.:-]+)\]", line)
        if header:
            sections.append((header.group(1), {}))
            last_key = None
            continue
        if not sections:
            return None
        if raw[:1] in (" ", "\t") and last_key in _YUM_LISTS:  # a continuation line of a list
            sections[-1][1][last_key].append(line)
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in _YUM_KEYS or _YUM_KEYS[key] is None:
            return None
        param = _YUM_KEYS[key]
        assert param is not None
        if key in _YUM_BOOLEANS:
            if value.lower() not in ("0", "1", "true", "false", "yes", "no"):
                return None
            sections[-1][1][param] = value.lower() in ("1", "true", "yes")
        elif key in _YUM_LISTS:
            sections[-1][1][param] = _words(value)
        else:
            sections[-1][1][param] = value
        last_key = key
    if not sections or any("description" not in args for _, args in sections):
        return None
    file = posixpath.basename(path)[: -len(".repo")]
    tasks = []
    for name, args in sections:
        for key in _YUM_LISTS:
            param = _YUM_KEYS[key]
            if param in args and len(args[param]) == 1:
                args[param] = args[param][0]
        tasks.append(Task(f"Add the {name} yum repository", "ansible.builtin.yum_repository",
                          {"name": name, **args, "file": file, "state": "present"}, role="config", path=path))
    return tasks


# --- the commands -------------------------------------------------------------------------

@rule("echo")
def echo(inv: Invocation) -> list[Task] | None:
    target = inv.stdout_file
    if target is None:
        return [no_op("echo only prints a message")]
    return write_content(inv, target.target, echo_text(inv.args), target.op.endswith(">>"))


@rule("printf")
def printf(inv: Invocation) -> list[Task] | None:
    target = inv.stdout_file
    text = printf_text(inv.args)
    if text is None:
        return None
    if target is None:
        return [no_op("printf only prints a message")]
    return write_content(inv, target.target, text, target.op.endswith(">>"))


@rule("cat")
def cat(inv: Invocation) -> list[Task] | None:
    target = inv.stdout_file
    if target is None:
        return None
    append = target.op.endswith(">>")
    if not inv.args and inv.stdin is not None:
        return write_content(inv, target.target, inv.stdin, append)
    if len(inv.args) == 1 and not append and not inv.args[0].startswith("-"):
        src, dest = inv.path(inv.args[0]), inv.path(target.target)
        if src is None or dest is None:
            return None
        return [Task(f"Copy {src} to {dest}", "ansible.builtin.copy",
                     {"src": src, "dest": dest, "remote_src": True, "mode": inv.new_file_mode},
                     role="config", path=dest)]
    return None


@rule("tee")
def tee(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if inv.stdin is None or not opts.positionals or any(
            f not in ("-a", "--append") for f, _ in opts.flags):
        return None
    append = opts.has("-a", "--append")
    tasks: list[Task] = []
    for dest in opts.positionals:
        written = write_content(inv, dest, inv.stdin, append)
        if written is None:
            return None
        tasks.extend(written)
    return tasks
