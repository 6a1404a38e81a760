"""System settings: crontab, sysctl, mount, hostname, timezone, ufw, firewalld, SELinux
booleans, kernel modules, locales, Apache modules, sleep, and builtins that need no task."""

from __future__ import annotations

import re
from typing import Any

from playbook.rules import rule
from playbook.rules.base import Invocation, Task, no_op, parse_options
from playbook.rules.content import _CRON_LINE, _meaningful, cron_fields, literal


@rule("set", "true", ":", "shopt", "hash", "wait", "clear", "sync")
def shell_builtin(inv: Invocation) -> list[Task] | None:
    # `set -e`/`set -o pipefail`: Ansible already stops at the first failed task
    if inv.name == "set" and (not inv.args or "--" in inv.args
                              or not inv.args[0].startswith(("-", "+"))):
        return None  # `set -- a b` sets positional parameters
    return [no_op(f"{inv.name} needs no task")]


@rule("source", ".")
def source(inv: Invocation) -> list[Task] | None:
    """`. /etc/os-release`: only the shell's variables change; no task can hold them."""
    if len(inv.args) != 1:
        return None
    return [Task(name=f"source {inv.args[0]}", module="", args={}, role="no-op",
                 note=f"sources {inv.args[0]}: the variables it sets are known on the host only; "
                      "later lines that use unknown variables become shell tasks that source it first")]


@rule("ulimit", "umask")
def shell_limits(inv: Invocation) -> list[Task] | None:
    """`ulimit -n 4096`, `umask 077`: they change only the shell running the script and what it
    starts later (a command module cannot even run them: they are shell builtins), so no task;
    the note says what later tasks do not inherit."""
    if inv.stdin is not None or inv.redirects:
        return None
    what = "resource limits" if inv.name == "ulimit" else "file-creation mask"
    note = (f"`{' '.join(inv.argv)}` sets the {what} of the shell running the script, which its later commands "
            "inherit and no task does (each runs in a process of its own): no task; review what later tasks "
            + ("need (a service's limits belong in its unit or /etc/security/limits.d)" if inv.name == "ulimit"
               else "create: their modes assume the usual umask 022"))
    return [Task(name=note, module="", args={}, role="no-op", note=note)]


@rule("exit")
def exit_(inv: Invocation) -> list[Task] | None:
    if inv.args in ((), ("0",)):
        return [no_op("exit 0 at the top level ends the script")]
    return None


@rule("sleep")
def sleep(inv: Invocation) -> list[Task] | None:
    if len(inv.args) != 1 or not re.fullmatch(r"\d+s?", inv.args[0]):
        return None
    seconds = int(inv.args[0].rstrip("s"))
    return [Task(f"Wait {seconds} seconds", "ansible.builtin.pause", {"seconds": seconds})]


@rule("crontab")
def crontab(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="u")
    if opts.positionals != ("-",) and not (not opts.positionals and inv.stdin is not None):
        return None
    if inv.stdin is None:
        return None
    user = opts.get("-u")
    tasks: list[Task] = []
    lines = [line for line in _meaningful(inv.stdin) if not line.startswith("crontab")]
    for index, line in enumerate(lines, 1):
        match = re.match(r"^(@\w+|(?:\S+\s+){4}\S+)\s+(.+)$", line)
        if not match:
            return None
        fields = cron_fields(match.group(1))
        if fields is None:
            return None
        job = match.group(2)
        name = _job_name(job)
        args: dict[str, Any] = {"name": name, **fields, "job": literal(job)}
        if user:
            args["user"] = user
        tasks.append(Task(f"Schedule {name}", "ansible.builtin.cron", args))
    return tasks or None


def _job_name(job: str) -> str:
    """`cron job backup-db.sh` for `/usr/local/bin/backup-db.sh >> /var/log/b.log 2>&1`."""
    words: list[str] = []
    for word in job.split():
        if re.match(r"^(?:\d?>|<|&|\||;)", word):
            break  # redirections and operators say nothing about what runs
        if not word.startswith("-"):
            words.append(word)
    program = words[0].rsplit("/", 1)[-1] if words else "job"
    return f"cron job {program}" + (f" {words[1].rsplit('/', 1)[-1]}" if len(words) > 1 else "")


@rule("sysctl")
def sysctl(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if opts.has("-p", "--load", "--system"):
        return [no_op("sysctl settings are applied by the sysctl tasks")]
    # procps sysctl writes any NAME=VALUE argument, with or without -w
    if not opts.positionals or any(f not in ("-w", "--write", "-q", "--quiet") for f, _ in opts.flags):
        return None
    if not opts.has("-w", "--write") and not all("=" in p for p in opts.positionals):
        return None
    tasks = []
    for setting in opts.positionals:
        name, eq, value = setting.partition("=")
        if not eq:
            return None
        tasks.append(Task(f"Set the kernel parameter {name.strip()}", "ansible.posix.sysctl",
                          {"name": name.strip(), "value": value.strip(), "sysctl_set": True,
                           "state": "present"}))
    return tasks


@rule("mount")
def mount(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="to", long_value=("--types", "--options"))
    if opts.has("-a", "--all") and not opts.positionals and len(opts.flags) == 1:
        # convert folds this into the fstab entries written before it (state: mounted)
        return [Task("Mount every file system in /etc/fstab", "ansible.builtin.command",
                     {"cmd": "mount -a"}, {"changed_when": True}, role="mount-all")]
    if len(opts.positionals) != 2 or opts.has("-a", "--all"):
        return None
    src, path = opts.positionals
    if not path.startswith("/"):
        return None
    fstype = opts.get("-t", "--types")
    args: dict[str, Any] = {"src": src, "path": path}
    if fstype:
        args["fstype"] = fstype
    if opts.get("-o", "--options"):
        args["opts"] = opts.get("-o", "--options")
    # `mount` alone does not touch /etc/fstab: ephemeral is the faithful state
    args["state"] = "ephemeral"
    return [Task(f"Mount {src} on {path}", "ansible.posix.mount", args)]


@rule("umount")
def umount(inv: Invocation) -> list[Task] | None:
    """`umount /mnt/x`: unmounted, /etc/fstab untouched (the mount module's state unmounted)."""
    if len(inv.args) != 1 or not inv.args[0].startswith("/") or inv.args[0] == "/":
        return None
    path = inv.args[0].rstrip("/")
    return [Task(f"Unmount {path}", "ansible.posix.mount", {"path": path, "state": "unmounted"})]


@rule("hostnamectl")
def hostnamectl(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if len(opts.positionals) == 2 and opts.positionals[0] == "set-hostname":
        name = opts.positionals[1]
        return [Task(f"Set the hostname to {name}", "ansible.builtin.hostname", {"name": name})]
    return None


@rule("hostname")
def hostname(inv: Invocation) -> list[Task] | None:
    if len(inv.args) == 1 and not inv.args[0].startswith("-"):
        return [Task(f"Set the hostname to {inv.args[0]}", "ansible.builtin.hostname",
                     {"name": inv.args[0], "use": "systemd"})]
    return None


@rule("timedatectl")
def timedatectl(inv: Invocation) -> list[Task] | None:
    if len(inv.args) == 2 and inv.args[0] == "set-timezone":
        return [Task(f"Set the time zone to {inv.args[1]}", "community.general.timezone",
                     {"name": inv.args[1]})]
    return None


_PORT_SPEC = re.compile(r"^(\d+(?::\d+)?)(?:/(tcp|udp))?$")


@rule("ufw")
def ufw(inv: Invocation) -> list[Task] | None:
    module = "community.general.ufw"
    args = [a for a in inv.args if a not in ("--force", "-f")]
    if not args:
        return None
    verb, rest = args[0], args[1:]
    if verb in ("status", "show", "version"):
        return [no_op(f"ufw {verb} only reports")]
    if verb in ("enable", "disable") and not rest:
        state = "enabled" if verb == "enable" else "disabled"
        return [Task(f"{verb.capitalize()} the ufw firewall", module, {"state": state})]
    if verb == "reload" and not rest:
        return [Task("Reload the ufw firewall", module, {"state": "reloaded"})]
    if verb == "default" and len(rest) in (1, 2) and rest[0] in ("allow", "deny", "reject"):
        direction = rest[1] if len(rest) == 2 else "incoming"
        return [Task(f"Set the ufw default policy for {direction} traffic to {rest[0]}", module,
                     {"default": rest[0], "direction": direction})]
    if verb == "logging" and len(rest) == 1:
        return [Task(f"Set ufw logging to {rest[0]}", module, {"logging": rest[0]})]
    delete = False
    if verb == "delete" and rest:
        delete, verb, rest = True, rest[0], rest[1:]
    if verb not in ("allow", "deny", "reject", "limit"):
        return None
    task_args: dict[str, Any] = {"rule": verb}
    if rest and rest[0] in ("in", "out"):
        task_args["direction"] = rest[0]
        rest = rest[1:]
        if len(rest) >= 2 and rest[0] == "on":
            task_args["interface"] = rest[1]
            rest = rest[2:]
    if rest and rest[0] == "log":
        task_args["log"] = True
        rest = rest[1:]
    if not rest and "interface" not in task_args:
        return None  # only `ufw allow in on lo` means all traffic (on that interface)
    if len(rest) == 1:
        spec = _PORT_SPEC.match(rest[0])
        if spec:
            task_args["port"] = spec.group(1)
            if spec.group(2):
                task_args["proto"] = spec.group(2)
        else:
            task_args["name"] = rest[0]
    else:
        i = 0
        while i < len(rest):
            key = rest[i]
            value = rest[i + 1] if i + 1 < len(rest) else None
            if value is None:
                return None
            if key == "from":
                if value != "any":
                    task_args["from_ip"] = value
            elif key == "to":
                if value != "any":
                    task_args["to_ip"] = value
            elif key == "port":
                task_args["to_port"] = value
            elif key == "proto":
                task_args["proto"] = value
            elif key == "app":
                task_args["name"] = value
            elif key == "comment":
                task_args["comment"] = value
            else:
                return None
            i += 2
    if delete:
        task_args["delete"] = True
    what = task_args.get("port") or task_args.get("to_port") or task_args.get("name") or "traffic"
    if "interface" in task_args:
        what = f"{what} {task_args['direction']} on {task_args['interface']}"
    if "proto" in task_args and what != "traffic":
        what = f"{what}/{task_args['proto']}"
    source = f" from {task_args['from_ip']}" if "from_ip" in task_args else ""
    title = f"Remove the ufw {verb} rule for" if delete else verb.capitalize()
    return [Task(f"{title} {what}{source} in ufw", module, task_args)]


@rule("firewall-cmd")
def firewall_cmd(inv: Invocation) -> list[Task] | None:
    module = "ansible.posix.firewalld"
    opts = parse_options(inv.args, long_value=("--zone", "--add-service", "--remove-service",
                                               "--add-port", "--remove-port", "--add-source",
                                               "--add-rich-rule"))
    if opts.positionals:
        return None
    if opts.has("--reload") and len(opts.flags) == 1:
        return [no_op("firewalld tasks apply their rules immediately")]
    if opts.has("--state"):
        return [no_op("firewall-cmd --state only reports")]
    permanent = opts.has("--permanent")
    zone = opts.get("--zone")
    tasks: list[Task] = []
    actions = [("--add-service", "service", "enabled"), ("--remove-service", "service", "disabled"),
               ("--add-port", "port", "enabled"), ("--remove-port", "port", "disabled"),
               ("--add-source", "source", "enabled"), ("--add-rich-rule", "rich_rule", "enabled")]
    for flag, key, state in actions:
        for value in opts.all(flag):
            args: dict[str, Any] = {key: value}
            if zone:
                args["zone"] = zone
            # design: `--permanent` + `--reload` = permanent and immediate in one task
            args.update({"permanent": permanent, "immediate": True, "state": state})
            verb = "Allow" if state == "enabled" else "Disallow"
            tasks.append(Task(f"{verb} {value} in firewalld", module, args))
    if opts.has("--add-masquerade"):
        args = {"masquerade": True, "permanent": permanent, "immediate": True, "state": "enabled"}
        if zone:
            args["zone"] = zone
        tasks.append(Task("Enable masquerading in firewalld", module, args))
    if opts.get("--set-default-zone"):
        return None
    known = {"--permanent", "--zone", "--add-service", "--remove-service", "--add-port",
             "--remove-port", "--add-source", "--add-rich-rule", "--add-masquerade"}
    if any(flag not in known for flag, _ in opts.flags):
        return None
    return tasks or None


@rule("setsebool")
def setsebool(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    values = list(opts.positionals)
    pairs: list[tuple[str, str]] = []
    if len(values) == 2 and "=" not in values[0]:
        pairs = [(values[0], values[1])]
    elif values and all("=" in v for v in values):
        pairs = [tuple(v.split("=", 1)) for v in values]  # type: ignore[misc]
    else:
        return None
    tasks = []
    for name, value in pairs:
        state = value.lower() in ("1", "on", "true")
        if value.lower() not in ("0", "1", "on", "off", "true", "false"):
            return None
        tasks.append(Task(f"Set the SELinux boolean {name} to {'on' if state else 'off'}",
                          "ansible.posix.seboolean",
                          {"name": name, "state": state, "persistent": opts.has("-P")}))
    return tasks


@rule("modprobe")
def modprobe(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if len(opts.positionals) != 1 or any(f not in ("-r",) for f, _ in opts.flags):
        return None
    name = opts.positionals[0]
    state = "absent" if opts.has("-r") else "present"
    verb = "Unload" if state == "absent" else "Load"
    return [Task(f"{verb} the {name} kernel module", "community.general.modprobe",
                 {"name": name, "state": state})]


@rule("locale-gen")
def locale_gen(inv: Invocation) -> list[Task] | None:
    if not inv.args or any(a.startswith("-") for a in inv.args):
        return None
    return [Task(f"Generate the {name} locale", "community.general.locale_gen",
                 {"name": name, "state": "present"}) for name in inv.args]


@rule("a2enmod", "a2dismod")
def a2enmod(inv: Invocation) -> list[Task] | None:
    names = [a for a in inv.args if not a.startswith("-")]
    if not names:
        return None
    state = "present" if inv.name == "a2enmod" else "absent"
    verb = "Enable" if state == "present" else "Disable"
    return [Task(f"{verb} the Apache module {name}", "community.general.apache2_module",
                 {"name": name, "state": state}) for name in names]


_APACHE_KINDS = {"site": "sites", "conf": "conf"}


@rule("a2ensite", "a2dissite", "a2enconf", "a2disconf")
def a2ensite(inv: Invocation) -> list[Task] | None:
    """What the Debian helpers do: a link in sites-enabled (conf-enabled) to the available file."""
    names = list(inv.args)
    if not names or any(n.startswith("-") or "/" in n for n in names):
        return None
    kind = "site" if inv.name.endswith("site") else "conf"
    folder = _APACHE_KINDS[kind]
    enable = inv.name.startswith("a2en")
    tasks = []
    for name in names:
        conf = name if name.endswith(".conf") else name + ".conf"
        link = f"/etc/apache2/{folder}-enabled/{conf}"
        args: dict[str, Any] = ({"src": f"../{folder}-available/{conf}", "dest": link,
                                 "state": "link"} if enable else {"path": link, "state": "absent"})
        verb = "Enable" if enable else "Disable"
        tasks.append(Task(f"{verb} the Apache {kind} {name.removesuffix('.conf')}",
                          "ansible.builtin.file", args, role="config", path=link))
    return tasks


def cron_line(text: str) -> bool:
    return bool(_CRON_LINE.match(text))


ALTERNATIVES = "community.general.alternatives"


@rule("update-alternatives")
def update_alternatives(inv: Invocation) -> list[Task] | None:
    """`--install LINK NAME PATH PRIORITY`, `--set NAME PATH`, `--remove NAME PATH`."""
    args = [a for a in inv.args if a not in ("--quiet",)]
    if not args:
        return None
    action, rest = args[0], args[1:]
    if action == "--install" and len(rest) == 4 and rest[3].lstrip("-").isdigit():
        link, name, path, priority = rest
        return [Task(f"Install {path} as an alternative for {name}", ALTERNATIVES,
                     {"name": name, "link": link, "path": path, "priority": int(priority), "state": "present"})]
    if action == "--set" and len(rest) == 2:
        name, path = rest
        return [Task(f"Select {path} for {name}", ALTERNATIVES, {"name": name, "path": path, "state": "selected"})]
    if action == "--remove" and len(rest) == 2:
        name, path = rest
        return [Task(f"Remove {path} from the alternatives for {name}", ALTERNATIVES,
                     {"name": name, "path": path, "state": "absent"})]
    return None  # slaves, --auto (the module needs a path), --config (interactive)


_SUPERVISOR_STATES = {"start": ("started", "Start"), "stop": ("stopped", "Stop")}


@rule("supervisorctl")
def supervisorctl(inv: Invocation) -> list[Task] | None:
    """`supervisorctl start|stop NAME...`; `status` only reports. (`restart` is not the
    module's restarted, which runs `update` first; `reread`/`update` name no program.)"""
    args = list(inv.args)
    if args[:1] == ["status"]:
        return [no_op("supervisorctl status only reports")]
    if len(args) < 2 or args[0] not in _SUPERVISOR_STATES or any(a.startswith("-") for a in args):
        return None
    state, title = _SUPERVISOR_STATES[args[0]]
    return [Task(f"{title} the {name} supervisor program", "community.general.supervisorctl",
                 {"name": name, "state": state}) for name in args[1:]]


@rule("shutdown", "reboot")
def reboot(inv: Invocation) -> list[Task] | None:
    """`shutdown -r now` / `reboot`: the reboot module (it waits for the host to come back, so
    later tasks run on the rebooted host, as a provisioner that reruns after a reboot would)."""
    args = list(inv.args)
    if inv.name == "reboot" and args in ([], ["now"]):
        return [Task("Reboot the host", "ansible.builtin.reboot", {})]
    if inv.name == "shutdown" and args in (["-r", "now"], ["-r", "+0"], ["--reboot", "now"], ["-r"]):
        return [Task("Reboot the host", "ansible.builtin.reboot", {})]
    return None  # a delay, a message, halt or power-off


# fallocate/truncate sizes: a number with the units both the tool and community.general.filesize
# read alike (K, M, G, T are powers of 1024; KB, MB, GB, TB of 1000; KiB... as K...), or a
# value the host worked out followed by one
_SIZE = re.compile(r"(?:\d+|\{\{ shell_\w+ \}\})(?:[KMGT](?:iB|B)?)?")
FILESIZE = "community.general.filesize"


@rule("fallocate")
def fallocate(inv: Invocation) -> list[Task] | None:
    """`fallocate -l 2G /swapfile`: a file of that size (filesize writes its blocks, as fallocate
    allocates them; both read as zeros)."""
    opts = parse_options(inv.args, takes_value="l", long_value=("--length",))
    size = opts.get("-l", "--length")
    if len(opts.positionals) != 1 or len(opts.flags) != 1 or size is None or not _SIZE.fullmatch(size):
        return None
    path = inv.path(opts.positionals[0])
    if path is None:
        return None
    return [Task(f"Make {path} {size} long", FILESIZE, {"path": path, "size": size, "sparse": False}, path=path)]


@rule("truncate")
def truncate(inv: Invocation) -> list[Task] | None:
    """`truncate -s 0 FILE`: the file cut (or grown with zeros) to that size, made if missing."""
    opts = parse_options(inv.args, takes_value="s", long_value=("--size",))
    size = opts.get("-s", "--size")
    if not opts.positionals or len(opts.flags) != 1 or size is None or not _SIZE.fullmatch(size):
        return None
    paths = [inv.path(p) for p in opts.positionals]
    if any(p is None or inv.is_glob(i) for i, p in enumerate(paths)):
        return None
    return [Task(f"Empty {p}" if size == "0" else f"Make {p} {size} long", FILESIZE, {"path": p, "size": size}, path=p)
            for p in paths if p]


@rule("mkswap")
def mkswap(inv: Invocation) -> list[Task] | None:
    """`mkswap [-L LABEL] FILE`: a swap area on it (community.general.filesystem, which leaves one
    already there, where mkswap would make it again with a new UUID)."""
    opts = parse_options(inv.args, takes_value="LU", long_value=("--label", "--uuid"))
    if len(opts.positionals) != 1 or any(f not in ("-L", "--label", "-U", "--uuid") for f, _ in opts.flags):
        return None
    device = inv.path(opts.positionals[0])
    if device is None:
        return None
    args: dict[str, Any] = {"fstype": "swap", "dev": device}
    extra = [f"{'-L' if f in ('-L', '--label') else '-U'} {v}" for f, v in opts.flags if v is not None]
    if any(re.search(r"[\s'\"\\$`;|&]", v or "") and not re.fullmatch(r"\{\{ shell_\w+ \}\}", v or "")
           for _, v in opts.flags):
        return None
    if extra:
        args["opts"] = " ".join(extra)
    return [Task(f"Make a swap area on {device}", "community.general.filesystem", args)]
