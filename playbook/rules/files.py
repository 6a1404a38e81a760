"""Files and directories: mkdir, touch, rm, ln, chmod, chown, chgrp, cp, mv, install."""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

from playbook.rules import rule
from playbook.rules.base import (
    Invocation,
    Task,
    human_list,
    octal_mode,
    one_or_loop,
    parse_options,
)

FILE = "ansible.builtin.file"
COPY = "ansible.builtin.copy"
# design: shell commands create files and directories with the umask's defaults (022 almost
# everywhere); Ansible wants that said explicitly (lint: risky-file-permissions), so new
# paths get 0644/0755 unless the script sets a mode, and convert folds a later chmod/chown
# of the same path into the task that created it.
DIR_MODE = "0755"
FILE_MODE = "0644"


def _paths(inv: Invocation, values: tuple[str, ...] | list[str]) -> list[str] | None:
    paths = [inv.path(v) for v in values]
    if not paths or any(p is None for p in paths):
        return None
    return [p for p in paths if p is not None]


def _file_tasks(title: str, paths: list[str], args: dict[str, Any], plural: str) -> list[Task]:
    """One file task for one path, a loop for several; `plural` titles the loop."""
    module_args, extra = one_or_loop(paths, "path", args)
    name = f"{title} {paths[0]}" if len(paths) == 1 else f"{plural} {human_list(paths, 3)}"
    return [Task(name, FILE, module_args, extra, role="other",
                 path=paths[0] if len(paths) == 1 else None)]


@rule("mkdir")
def mkdir(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="m", long_value=("--mode",))
    paths = _paths(inv, opts.positionals)
    if paths is None:
        return None
    mode = opts.get("-m", "--mode")
    mode = octal_mode(mode) if mode else DIR_MODE
    if mode is None:
        return None
    return _file_tasks("Create the directory", paths, {"state": "directory", "mode": mode},
                       "Create the directories")


@rule("touch")
def touch(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="dtr")
    if len(opts.flags) > 0 and not opts.has("-c"):
        return None
    paths = _paths(inv, opts.positionals)
    if paths is None or opts.has("-c"):
        return None
    args = {"state": "touch", "mode": FILE_MODE, "modification_time": "preserve",
            "access_time": "preserve"}
    return _file_tasks("Create the empty file", paths, args, "Create the empty files")


@rule("rm", "rmdir")
def rm(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    paths = _paths(inv, opts.positionals)
    if paths is None or any(p in ("/", "~") for p in paths):
        return None
    return _file_tasks("Remove", paths, {"state": "absent"}, "Remove")


@rule("ln")
def ln(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="tS")
    if len(opts.positionals) != 2 or opts.has("-t"):
        return None
    target, link = opts.positionals
    if link.endswith("/"):
        link = link + posixpath.basename(target.rstrip("/"))
    link_path = inv.path(link)
    if link_path is None:
        return None
    symbolic = opts.has("-s", "--symbolic")
    if not symbolic:
        target_path = inv.path(target)
        if target_path is None:
            return None
        target = target_path
    args: dict[str, Any] = {"src": target, "dest": link_path,
                            "state": "link" if symbolic else "hard"}
    if opts.has("-f", "--force"):
        args["force"] = True
    kind = "symbolic link" if symbolic else "hard link"
    return [Task(f"Create the {kind} {link_path}", FILE, args, path=link_path)]


@rule("chmod")
def chmod(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if len(opts.positionals) < 2 or opts.has("--reference"):
        return None
    mode = octal_mode(opts.positionals[0])
    paths = _paths(inv, opts.positionals[1:])
    if mode is None or paths is None:
        return None
    args: dict[str, Any] = {"mode": mode}
    if opts.has("-R", "--recursive"):
        args = {"state": "directory", "recurse": True, **args}
    return _file_tasks(f"Set mode {mode} on", paths, args, f"Set mode {mode} on")


def _owner_group(spec: str) -> tuple[str | None, str | None] | None:
    if ":" in spec:
        owner, _, group = spec.partition(":")
        if not group:
            return None  # `user:` means the user's login group, which we cannot know here
        return owner or None, group
    return spec, None


@rule("chown")
def chown(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if len(opts.positionals) < 2 or opts.has("--reference"):
        return None
    spec = _owner_group(opts.positionals[0])
    paths = _paths(inv, opts.positionals[1:])
    if spec is None or paths is None:
        return None
    owner, group = spec
    args: dict[str, Any] = {}
    if owner:
        args["owner"] = owner
    if group:
        args["group"] = group
    if opts.has("-R", "--recursive"):
        args = {"state": "directory", "recurse": True, **args}
    who = ":".join(x for x in (owner, group) if x)
    return _file_tasks(f"Set owner {who} on", paths, args, f"Set owner {who} on")


@rule("chgrp")
def chgrp(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if len(opts.positionals) < 2:
        return None
    paths = _paths(inv, opts.positionals[1:])
    if paths is None:
        return None
    args: dict[str, Any] = {"group": opts.positionals[0]}
    if opts.has("-R", "--recursive"):
        args = {"state": "directory", "recurse": True, **args}
    title = f"Set group {opts.positionals[0]} on"
    return _file_tasks(title, paths, args, title)


@rule("cp")
def cp(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="t", long_value=("--target-directory",))
    if len(opts.positionals) != 2 or opts.has("-t", "--target-directory", "-s", "-l", "-u"):
        return None
    src, dest = opts.positionals
    recursive = opts.has("-r", "-R", "--recursive", "-a", "--archive")
    if recursive and not (dest.endswith("/") or src.endswith("/") or src.endswith("/.")):
        return None  # `cp -r a b` depends on whether b exists; keep it as a command
    src_path, dest_path = inv.path(src), inv.path(dest)
    if src_path is None or dest_path is None:
        return None
    if src.endswith("/") or src.endswith("/."):
        src_path = src_path.rstrip("/.") + "/" if src_path not in ("/",) else src_path
    if dest.endswith("/") and not recursive:
        # a file copied into a directory: name the file, so later chmod/chown find it
        dest_path = posixpath.join(dest_path, posixpath.basename(src_path))
    elif dest.endswith("/"):
        dest_path = dest_path.rstrip("/") + "/"
    args: dict[str, Any] = {"src": src_path, "dest": dest_path, "remote_src": True,
                            "mode": "preserve"}
    if opts.has("-n", "--no-clobber"):
        args["force"] = False
    if opts.has("-b", "--backup"):
        args["backup"] = True
    return [Task(f"Copy {src_path} to {dest_path}", COPY, args, role="config",
                 path=None if dest_path.endswith("/") else dest_path)]


@rule("mv")
def mv(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="tS")
    if len(opts.positionals) != 2 or opts.has("-t", "--target-directory"):
        return None
    src, dest = opts.positionals
    src_path, dest_path = inv.path(src), inv.path(dest)
    if src_path is None or dest_path is None:
        return None
    final = dest_path + "/" + posixpath.basename(src_path) if dest.endswith("/") else dest_path
    # design: no module moves a remote file; a command guarded on both ends is idempotent
    args = {"cmd": shlex.join(["mv", src_path, dest_path]), "creates": final,
            "removes": src_path}
    return [Task(f"Move {src_path} to {final}", "ansible.builtin.command", args, path=final)]


@rule("install")
def install(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="mogtS", long_value=("--mode", "--owner",
                                                                    "--group"))
    mode_value = opts.get("-m", "--mode")
    mode = octal_mode(mode_value) if mode_value else None
    if mode_value and mode is None:
        return None
    attrs: dict[str, Any] = {}
    if opts.get("-o", "--owner"):
        attrs["owner"] = opts.get("-o", "--owner")
    if opts.get("-g", "--group"):
        attrs["group"] = opts.get("-g", "--group")
    if opts.has("-d", "--directory"):
        paths = _paths(inv, opts.positionals)
        if paths is None:
            return None
        return _file_tasks("Create the directory", paths,
                           {"state": "directory", **attrs, "mode": mode or DIR_MODE},
                           "Create the directories")
    if len(opts.positionals) != 2 or opts.has("-t"):
        return None
    src_path, dest_path = inv.path(opts.positionals[0]), inv.path(opts.positionals[1])
    if src_path is None or dest_path is None:
        return None
    if opts.positionals[1].endswith("/"):
        dest_path = dest_path.rstrip("/") + "/" + posixpath.basename(src_path)
    args = {"src": src_path, "dest": dest_path, "remote_src": True, **attrs,
            "mode": mode or DIR_MODE}
    return [Task(f"Install {src_path} as {dest_path}", COPY, args, role="config", path=dest_path)]
