"""Files and directories: mkdir, touch, rm, ln, chmod, chown, chgrp, cp, mv, install."""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from typing import Any

from playbook.rules import rule
from playbook.rules.base import (
    Invocation,
    Task,
    human_list,
    no_op,
    octal_mode,
    one_or_loop,
    parse_options,
)

FILE = "ansible.builtin.file"
COPY = "ansible.builtin.copy"
# design: shell commands create files and directories with the umask's defaults (0644/0755
# under the usual 022; 0600/0700 after a script's `umask 077`, which the walker follows into
# Invocation.umask); Ansible wants the mode said explicitly (lint: risky-file-permissions), so
# new paths get the umask's mode unless the script sets one, and convert folds a later
# chmod/chown of the same path into the task that created it.
INSTALL_MODE = "0755"  # what `install` gives without -m, whatever the umask
_STICKY_DIRS = frozenset({"/tmp", "/var/tmp", "/dev/shm"})  # mode 1777 on every system


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


# directories every Debian/RHEL host has: a directory made right under one makes no parents
SYSTEM_DIRECTORIES = frozenset({
    "/", "/etc", "/opt", "/srv", "/var", "/var/lib", "/var/log", "/var/cache", "/var/tmp", "/usr",
    "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/local/share", "/usr/share", "/usr/lib",
    "/home", "/root", "/tmp", "/run", "/mnt", "/media", "/etc/systemd/system", "/etc/default",
})


@rule("mkdir")
def mkdir(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="m", long_value=("--mode",))
    paths = _paths(inv, opts.positionals)
    if paths is None:
        return None
    mode = opts.get("-m", "--mode")
    if opts.has("-p", "--parents") and not mode and all(p in _STICKY_DIRS for p in paths):
        # `mkdir -p /tmp`: there on every system, and a task with mode 0755 would take its sticky bit
        return [no_op(f"mkdir -p {' '.join(paths)}: there on every system")]
    paths = [p for p in paths if p not in _STICKY_DIRS] if opts.has("-p", "--parents") and not mode else paths
    mode = octal_mode(mode) if mode else inv.new_directory_mode
    if mode is None:
        return None
    if opts.has("-p", "--parents") and mode != inv.new_directory_mode \
            and any(posixpath.dirname(p.rstrip("/")) not in SYSTEM_DIRECTORIES for p in paths):
        # `mkdir -p -m 700 a/b`: the mode is b's; the module would give it to the parents it makes
        # too, where mkdir gives them the usual one: make them so, then set b's
        made = _file_tasks("Create the directory", paths, {"state": "directory", "mode": inv.new_directory_mode},
                           "Create the directories")
        return made + _file_tasks(f"Set mode {mode} on", paths, {"mode": mode}, f"Set mode {mode} on")
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
    args = {"state": "touch", "mode": inv.new_file_mode, "modification_time": "preserve",
            "access_time": "preserve"}
    return _file_tasks("Create the empty file", paths, args, "Create the empty files")


@rule("rm", "rmdir")
def rm(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if inv.name == "rm" and any(inv.is_glob(i) for i in range(1, len(inv.argv))):
        return _rm_globs(inv, recursive=opts.has("-r", "-R", "--recursive"))
    paths = _paths(inv, opts.positionals)
    if paths is None or any(p in ("/", "~") for p in paths):
        return None
    return _file_tasks("Remove", paths, {"state": "absent"}, "Remove")


FIND = "ansible.builtin.find"


def register_name(directory: str, pattern: str) -> str:
    """A variable name for what `find` registers: `found_` and the path's words."""
    words = re.sub(r"[^a-z0-9]+", "_", f"{directory}/{pattern}".lower()).strip("_")
    return f"found_{words or 'root'}"[:60].rstrip("_")


def find_and_remove(directory: str, find_args: dict[str, Any], title: str, recursive: bool) -> list[Task]:
    """A find task that registers its matches and a file task that removes each of them;
    without `recursive`, directories among the matches stay (rm without -r refuses them)."""
    register = register_name(directory, str(find_args.get("patterns", "")))
    matches = f"{register}.files" if recursive else f"{register}.files | rejectattr('isdir')"
    return [Task(f"Find {title}", FIND, {"paths": directory, **find_args}, extra={"register": register}),
            Task(f"Remove {title}", FILE, {"path": "{{ item }}", "state": "absent"},
                 extra={"loop": "{{ " + matches + " | map(attribute='path') | list }}"})]


def _rm_globs(inv: Invocation, recursive: bool) -> list[Task] | None:
    """`rm -rf /tmp/* /var/tmp/*`: each pattern's matches (names in one directory, as the
    shell's glob finds them: no dot files unless the pattern starts with a dot) removed."""
    tasks: list[Task] = []
    ended = False
    for index, word in enumerate(inv.argv[1:], 1):
        if word == "--" and not ended:
            ended = True
            continue
        if word.startswith("-") and not ended:
            if word not in ("-r", "-R", "-f", "-rf", "-fr", "-Rf", "-fR", "--recursive", "--force", "-v"):
                return None  # -i asks, -d removes empty directories only, --one-file-system ...
            continue
        path = inv.path(word)
        if path is None:
            return None
        directory, pattern = posixpath.split(path)
        if not inv.is_glob(index):
            tasks.extend(_file_tasks("Remove", [path], {"state": "absent"}, "Remove"))
            continue
        if GLOB_CHARS.search(directory) or not pattern or pattern.startswith(".") or directory in ("", "/"):
            return None  # a pattern in a directory name, dot files, the root's entries
        tasks.extend(find_and_remove(directory, {"patterns": pattern, "file_type": "any"},
                                     f"the entries of {directory} matching {pattern}", recursive))
    return tasks or None


GLOB_CHARS = re.compile(r"[*?\[]")


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
        if opts.has("-L", "-H", "--dereference"):
            return None  # the tree through its links: not what the module's recurse does
        args = {"state": "directory", "recurse": True, "follow": False, **args}  # -R leaves links alone
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
        if opts.has("-L", "-H", "--dereference"):
            return None  # the tree through its links: not what the module's recurse does
        args = {"state": "directory", "recurse": True, "follow": False, **args}  # -R leaves links alone
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
        if opts.has("-L", "-H", "--dereference"):
            return None  # the tree through its links: not what the module's recurse does
        args = {"state": "directory", "recurse": True, "follow": False, **args}  # -R leaves links alone
    title = f"Set group {opts.positionals[0]} on"
    return _file_tasks(title, paths, args, title)


@rule("cp")
def cp(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="t", long_value=("--target-directory",))
    if len(opts.positionals) != 2 or opts.has("-t", "--target-directory", "-s", "-l", "-u", "-b", "--backup"):
        return None  # (-b keeps `dest~`; the module's `backup: true` names it `dest.PID.DATE~`)
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
    # design: no module moves a remote file; the command runs while the source is there (once
    # moved, a later run has nothing to do), and with `dir/` unless dir/NAME is there. A
    # destination without the slash may be a directory already (`mv x.jar /opt/app/libs`, a
    # directory an earlier line made): `creates` on it would skip the move the script makes
    args: dict[str, Any] = {"cmd": shlex.join(["mv", src_path, dest_path])}
    if dest.endswith("/"):
        args["creates"] = final
    args["removes"] = src_path
    return [Task(f"Move {src_path} to {final}", "ansible.builtin.command", args, path=final)]


# install's switches the copy/file modules can say (-C, -p and -v change nothing the play keeps)
_INSTALL_FLAGS = frozenset({"-m", "--mode", "-o", "--owner", "-g", "--group", "-d", "--directory", "-D", "-t",
                            "-C", "--compare", "-p", "--preserve-timestamps", "-v", "--verbose", "-c"})


@rule("install")
def install(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="mogtS", long_value=("--mode", "--owner",
                                                                    "--group"))
    mode_value = opts.get("-m", "--mode")
    mode = octal_mode(mode_value) if mode_value else None
    if mode_value and mode is None:
        return None
    if any(flag not in _INSTALL_FLAGS for flag, _ in opts.flags):
        return None  # -s strips, -b backs up, -S, -Z, --preserve-context...: not what copy does
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
                           {"state": "directory", **attrs, "mode": mode or INSTALL_MODE},
                           "Create the directories")
    if len(opts.positionals) != 2 or opts.has("-t"):
        return None
    src_path, dest_path = inv.path(opts.positionals[0]), inv.path(opts.positionals[1])
    if src_path is None or dest_path is None:
        return None
    if opts.positionals[1].endswith("/"):
        dest_path = dest_path.rstrip("/") + "/" + posixpath.basename(src_path)
    args = {"src": src_path, "dest": dest_path, "remote_src": True, **attrs,
            "mode": mode or INSTALL_MODE}
    tasks = [Task(f"Install {src_path} as {dest_path}", COPY, args, role="config", path=dest_path)]
    parent = posixpath.dirname(dest_path)
    if opts.has("-D") and parent not in ("", "/", "~"):
        # -D makes the destination's missing directories, 0755 whatever the umask (as install does)
        tasks.insert(0, Task(f"Create the directory {parent}", FILE,
                             {"path": parent, "state": "directory", "mode": INSTALL_MODE}, role="other", path=parent))
    return tasks


_FIND_TYPES = {"f": "file", "d": "directory", "l": "link"}


@rule("find")
def find(inv: Invocation) -> list[Task] | None:
    """`find DIR [-maxdepth N] [-type f|d|l] [-name PAT] -delete` or `-exec rm -f {} \\;`:
    the find module (recursing, dot files included, as find does) and a removal per match."""
    args = list(inv.args)
    directories: list[str] = []
    while args and not args[0].startswith("-") and args[0] not in ("(", "!"):
        directories.append(args.pop(0))
    if len(directories) != 1:
        return None
    directory = inv.path(directories[0])
    if directory is None or directory in ("/", "~"):
        return None
    find_args: dict[str, Any] = {"recurse": True, "hidden": True}
    remove: str | None = None  # "delete", "rm", "rm -r"
    pattern: str | None = None
    i = 0
    while i < len(args):
        test, value = args[i], args[i + 1] if i + 1 < len(args) else None
        if test == "-delete" and remove is None:
            remove, i = "delete", i + 1
            continue
        if test == "-exec" and remove is None:
            end = next((j for j in range(i + 1, len(args)) if args[j] in (";", "+")), None)
            command = args[i + 1:end] if end is not None else []
            if end is None or command[-1:] != ["{}"] or command[:1] != ["rm"]:
                return None
            flags = set(command[1:-1])
            if not flags <= {"-f", "-r", "-rf", "-fr", "-R", "-Rf"}:
                return None
            remove = "rm -r" if any("r" in f.lower() for f in flags) else "rm"
            i = end + 1
            continue
        if value is None:
            return None
        if test == "-type" and value in _FIND_TYPES:
            find_args["file_type"] = _FIND_TYPES[value]
        elif test in ("-name", "-iname") and pattern is None:
            pattern = value
            if test == "-iname":
                return None  # the module's patterns are case-sensitive
        elif test == "-maxdepth" and value.isdigit() and int(value) > 0:
            find_args["depth"] = int(value)
        else:
            return None  # -mtime, -o, -path, ... are not modelled
        i += 2
    if remove is None:
        return None
    file_type = find_args.setdefault("file_type", "any")
    if remove == "delete" and file_type != "file":
        return None  # -delete removes only empty directories
    if pattern is not None:
        if "/" in pattern or fnmatch.fnmatchcase(posixpath.basename(directory), pattern):
            return None  # find tests the starting directory too
        find_args["patterns"] = pattern
    what = f"the {'files' if file_type == 'file' else 'entries'} under {directory}" + \
        (f" named {pattern}" if pattern else "")
    return find_and_remove(directory, find_args, what, recursive=remove in ("delete", "rm -r") or file_type == "file")
