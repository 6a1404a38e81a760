"""Services: systemctl, service, update-rc.d, chkconfig."""

from __future__ import annotations

import posixpath
from typing import Any

from playbook.rules import rule
from playbook.rules.base import Invocation, Task, human_list, no_op, parse_options

SYSTEMD = "ansible.builtin.systemd_service"
SERVICE = "ansible.builtin.service"

# systemctl verb -> (module args, task name verb)
_SYSTEMCTL_VERBS: dict[str, tuple[dict[str, Any], str]] = {
    "start": ({"state": "started"}, "Start"),
    "stop": ({"state": "stopped"}, "Stop"),
    "restart": ({"state": "restarted"}, "Restart"),
    "try-restart": ({"state": "restarted"}, "Restart"),
    "reload": ({"state": "reloaded"}, "Reload"),
    "reload-or-restart": ({"state": "reloaded"}, "Reload"),
    "enable": ({"enabled": True}, "Enable"),
    "disable": ({"enabled": False}, "Disable"),
    "mask": ({"masked": True}, "Mask"),
    "unmask": ({"masked": False}, "Unmask"),
}
_NOW = {"enable": ({"state": "started"}, "Enable and start"),
        "disable": ({"state": "stopped"}, "Disable and stop")}
_READ_ONLY = frozenset({"status", "is-active", "is-enabled", "is-failed", "list-units",
                        "list-unit-files", "show", "cat"})


def _unit(name: str) -> str:
    return name[: -len(".service")] if name.endswith(".service") else name


def _role(verb: str) -> str:
    return "restart" if verb in ("restart", "try-restart", "reload", "reload-or-restart") else "other"


@rule("systemctl")
def systemctl(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if not opts.positionals:
        return None
    verb, units = opts.positionals[0], [_unit(u) for u in opts.positionals[1:]]
    if opts.has("--user"):
        return None
    if verb == "daemon-reload" and not units:
        return [Task("Reload the systemd configuration", SYSTEMD, {"daemon_reload": True})]
    if verb == "link" and units:
        return _link(opts.positionals[1:], force=opts.has("-f", "--force"))
    if verb in _READ_ONLY:
        return [no_op(f"systemctl {verb} only reports")]
    if verb not in _SYSTEMCTL_VERBS or not units:
        return None
    args, title = _SYSTEMCTL_VERBS[verb]
    args = dict(args)
    if opts.has("--now") and verb in _NOW:
        now_args, title = _NOW[verb]
        args.update(now_args)
    tasks = []
    for unit in units:
        role = _role(verb)
        tasks.append(Task(f"{title} {unit}", SYSTEMD, {"name": unit, **args},
                          role=role,  # type: ignore[arg-type]
                          service=unit if role == "restart" else None))
    return tasks


def _link(paths: tuple[str, ...], force: bool) -> list[Task] | None:
    """`systemctl link [-f] /path/x.service`: a symlink to the file in /etc/systemd/system
    (systemd 252 makes it even for a file already in its search path), then the reload that
    systemctl does after changing unit files."""
    if any(not p.startswith("/") or "{{" in p or not posixpath.basename(p) for p in paths):
        return None
    tasks = []
    for path in paths:
        dest = "/etc/systemd/system/" + posixpath.basename(path)
        args: dict[str, Any] = {"src": path, "dest": dest, "state": "link"}
        if force:
            args["force"] = True
        tasks.append(Task(f"Link the unit {posixpath.basename(path)} into /etc/systemd/system",
                          "ansible.builtin.file", args, path=dest))
    tasks.append(Task("Reload the systemd configuration", SYSTEMD, {"daemon_reload": True}))
    return tasks


_SERVICE_VERBS = {"start": "started", "stop": "stopped", "restart": "restarted",
                  "reload": "reloaded", "force-reload": "reloaded"}


@rule("service")
def service(inv: Invocation) -> list[Task] | None:
    if len(inv.args) != 2:
        if inv.args in (("--status-all",),):
            return [no_op("service --status-all only reports")]
        return None
    name, verb = _unit(inv.args[0]), inv.args[1]
    if verb == "status":
        return [no_op("service status only reports")]
    if verb not in _SERVICE_VERBS:
        return None
    state = _SERVICE_VERBS[verb]
    role = _role(verb if verb != "force-reload" else "reload")
    return [Task(f"{verb.replace('-', ' ').capitalize()} {name}", SERVICE,
                 {"name": name, "state": state}, role=role,  # type: ignore[arg-type]
                 service=name if role == "restart" else None)]


@rule("update-rc.d")
def update_rc_d(inv: Invocation) -> list[Task] | None:
    if len(inv.args) >= 2 and inv.args[1] in ("defaults", "enable"):
        return [Task(f"Enable {inv.args[0]} at boot", SERVICE,
                     {"name": inv.args[0], "enabled": True})]
    if len(inv.args) == 2 and inv.args[1] == "disable":
        return [Task(f"Disable {inv.args[0]} at boot", SERVICE,
                     {"name": inv.args[0], "enabled": False})]
    return None


@rule("chkconfig")
def chkconfig(inv: Invocation) -> list[Task] | None:
    if len(inv.args) == 2 and inv.args[1] in ("on", "off"):
        enabled = inv.args[1] == "on"
        title = "Enable" if enabled else "Disable"
        return [Task(f"{title} {inv.args[0]} at boot", SERVICE,
                     {"name": inv.args[0], "enabled": enabled})]
    return None


def describe_units(units: list[str]) -> str:
    return human_list(units)
