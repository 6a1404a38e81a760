"""Users and groups: useradd, adduser, usermod, userdel, groupadd, groupdel."""

from __future__ import annotations

from typing import Any

from playbook.rules import rule
from playbook.rules.base import Invocation, Task, parse_options

USER = "ansible.builtin.user"
GROUP = "ansible.builtin.group"


def _groups(value: str) -> list[str]:
    return [g for g in value.split(",") if g]


@rule("useradd")
def useradd(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="sdgGcupekKbZ", long_value=(
        "--shell", "--home-dir", "--home", "--gid", "--groups", "--comment", "--uid", "--password",
        "--expiredate"))
    if len(opts.positionals) != 1:
        return None
    name = opts.positionals[0]
    args: dict[str, Any] = {"name": name}
    if opts.has("-m", "--create-home"):
        args["create_home"] = True
    if opts.has("-M", "--no-create-home"):
        args["create_home"] = False
    if opts.has("-r", "--system"):
        args["system"] = True
    for flags, key in ((("-s", "--shell"), "shell"), (("-d", "--home-dir", "--home"), "home"),
                       (("-g", "--gid"), "group"), (("-c", "--comment"), "comment"),
                       (("-u", "--uid"), "uid"), (("-p", "--password"), "password")):
        value = opts.get(*flags)
        if value is not None:
            args[key] = int(value) if key == "uid" and value.isdigit() else value
    groups = opts.get("-G", "--groups")
    if groups:
        args["groups"] = _groups(groups)
        args["append"] = True
    if opts.has("-U", "--user-group"):
        pass  # the user module's default on most systems
    args["state"] = "present"
    return [Task(f"Create the user {name}", USER, args)]


@rule("adduser")
def adduser(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, long_value=("--shell", "--home", "--gecos", "--uid",
                                               "--ingroup", "--gid", "--group"))
    positionals = list(opts.positionals)
    if len(positionals) == 2:  # adduser USER GROUP: add an existing user to a group
        return [Task(f"Add {positionals[0]} to the {positionals[1]} group", USER,
                     {"name": positionals[0], "groups": [positionals[1]], "append": True})]
    if len(positionals) != 1:
        return None
    name = positionals[0]
    if opts.has("--group") and not opts.has("--system"):
        return [Task(f"Create the group {name}", GROUP, {"name": name, "state": "present"})]
    args: dict[str, Any] = {"name": name}
    if opts.has("--system"):
        args["system"] = True
    if opts.has("--no-create-home"):
        args["create_home"] = False
    for flag, key in (("--shell", "shell"), ("--home", "home"), ("--gecos", "comment"),
                      ("--uid", "uid"), ("--ingroup", "group")):
        value = opts.get(flag)
        if value:
            args[key] = int(value) if key == "uid" and value.isdigit() else value
    if opts.has("--disabled-password") and not opts.has("--system"):
        args["password"] = "!"
        args["update_password"] = "on_create"
    args["state"] = "present"
    return [Task(f"Create the user {name}", USER, args)]


@rule("usermod")
def usermod(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="sdgGcule", long_value=(
        "--shell", "--home", "--gid", "--groups", "--comment", "--uid", "--login"))
    if len(opts.positionals) != 1 or opts.has("-l", "--login", "-m", "--move-home"):
        return None
    name = opts.positionals[0]
    args: dict[str, Any] = {"name": name}
    what: list[str] = []
    groups = opts.get("-G", "--groups")
    if groups:
        args["groups"] = _groups(groups)
        args["append"] = opts.has("-a", "--append")
        what.append(f"to the {', '.join(_groups(groups))} group" if opts.has("-a", "--append")
                    else "groups")
    for flags, key in ((("-s", "--shell"), "shell"), (("-d", "--home"), "home"),
                       (("-g", "--gid"), "group"), (("-c", "--comment"), "comment"),
                       (("-u", "--uid"), "uid")):
        value = opts.get(*flags)
        if value is not None:
            args[key] = int(value) if key == "uid" and value.isdigit() else value
            what.append(key)
    if opts.has("-L", "--lock"):
        args["password_lock"] = True
        what.append("lock")
    if opts.has("-U", "--unlock"):
        args["password_lock"] = False
        what.append("unlock")
    if len(args) == 1:
        return None
    if groups and opts.has("-a", "--append") and len(what) == 1:
        return [Task(f"Add {name} {what[0]}", USER, args)]
    return [Task(f"Update the user {name}", USER, args)]


@rule("passwd")
def passwd(inv: Invocation) -> list[Task] | None:
    """`passwd -l|-u|-d NAME`: lock, unlock or empty the password; nothing interactive."""
    opts = parse_options(inv.args)
    if len(opts.positionals) != 1 or len(opts.flags) != 1:
        return None
    name = opts.positionals[0]
    if opts.has("-l", "--lock"):
        return [Task(f"Lock the password of {name}", USER, {"name": name, "password_lock": True})]
    if opts.has("-u", "--unlock"):
        return [Task(f"Unlock the password of {name}", USER,
                     {"name": name, "password_lock": False})]
    if opts.has("-d", "--delete"):
        # an empty password field: the user logs in without one, as after `passwd -d`
        return [Task(f"Remove the password of {name}", USER, {"name": name, "password": ""})]
    return None


@rule("userdel")
def userdel(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if len(opts.positionals) != 1:
        return None
    args: dict[str, Any] = {"name": opts.positionals[0], "state": "absent"}
    if opts.has("-r", "--remove"):
        args["remove"] = True
    return [Task(f"Remove the user {opts.positionals[0]}", USER, args)]


@rule("groupadd", "addgroup")
def groupadd(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="g", long_value=("--gid",))
    if len(opts.positionals) != 1:
        return None
    name = opts.positionals[0]
    args: dict[str, Any] = {"name": name, "state": "present"}
    if opts.has("-r", "--system"):
        args["system"] = True
    gid = opts.get("-g", "--gid")
    if gid:
        args["gid"] = int(gid) if gid.isdigit() else gid
    return [Task(f"Create the group {name}", GROUP, args)]


@rule("groupdel")
def groupdel(inv: Invocation) -> list[Task] | None:
    if len(inv.args) != 1:
        return None
    return [Task(f"Remove the group {inv.args[0]}", GROUP, {"name": inv.args[0], "state": "absent"})]


@rule("gpasswd")
def gpasswd(inv: Invocation) -> list[Task] | None:
    """`gpasswd -a USER GROUP`: the user joins the group, keeping the others. (`-d` would
    need the user's other groups, which only the host knows.)"""
    if len(inv.args) != 3 or inv.args[0] not in ("-a", "--add"):
        return None
    user, group = inv.args[1], inv.args[2]
    return [Task(f"Add {user} to the {group} group", USER, {"name": user, "groups": [group], "append": True})]
