"""What a rule sees (Invocation), what it returns (Task), and option parsing shared by rules."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from playbook.shell import Redirect

TaskRole = Literal["other", "config", "restart", "apt-update", "no-op", "mount-all"]


# design: a script's relative paths are relative to the directory it was started in, which the
# converter cannot know; the playbook's tasks run in a directory of the same kind (the one Ansible
# logs in to, where its command tasks run too), so a relative path before any `cd` is that
# directory's: START_DIRECTORY names it. After a `cd` the converter cannot follow (`cd -`, a
# relative cd from there, arms that move to different places) the directory is UNKNOWN_DIRECTORY
# (empty, so false like "no chdir"), and a rule declines relative paths.
START_DIRECTORY = "{{ ansible_env.PWD }}"
UNKNOWN_DIRECTORY = ""
DEFAULT_UMASK = 0o022  # what nearly every system gives a script that sets none


@dataclass(frozen=True)
class Invocation:
    """One simple command, resolved: argv with quotes removed and known variables substituted.

    `stdin` is text the command reads: its heredoc body, or what an `echo`/`printf`/`cat <<EOF`
    stage pipes into it. `cwd` is the directory a preceding `cd` moved to: None while the script
    is still where it started, UNKNOWN_DIRECTORY once it moved somewhere the converter cannot tell.
    """

    argv: tuple[str, ...]
    stdin: str | None = None
    redirects: tuple[Redirect, ...] = ()
    cwd: str | None = None
    line: int = 0
    # indexes into argv of words the shell would expand as globs (unquoted *, ?, [) that the
    # walker passed through as written; a rule that cannot use a pattern must decline them
    globbed: frozenset[int] = frozenset()
    # the user named to run it (`sudo -u U`, `su U -c`), whose `~` the command's paths mean;
    # None: the connecting user or root, which the rule cannot tell apart
    user: str | None = None
    # the shell's file-creation mask when it runs (`umask 077` earlier in the script or its
    # subshell); what the files and directories it creates get, unless it names a mode
    umask: int = DEFAULT_UMASK

    @property
    def name(self) -> str:
        return posixpath.basename(self.argv[0]) if self.argv else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.argv[1:]

    @property
    def directory(self) -> str | None:
        """The working directory as the playbook can name it; None when unknown."""
        if self.cwd is None:
            return START_DIRECTORY
        return self.cwd or None

    def path(self, value: str) -> str | None:
        """An absolute (or ~) path for `value`, using the working directory for relative ones;
        None if unknowable."""
        if value.startswith(("/", "~")):
            return posixpath.normpath(value) if value.startswith("/") else value
        if value.startswith(("{{ shell_", "{{ ansible_env.")):  # a value the host holds: its absolute path
            return value
        directory = self.directory
        if directory is None:
            return None
        return posixpath.normpath(posixpath.join(directory, value))

    @property
    def new_file_mode(self) -> str:
        """The mode of a file the command creates (`>`, touch, a download): 0666 less the umask."""
        return f"{0o666 & ~self.umask:04o}"

    @property
    def new_directory_mode(self) -> str:
        """The mode of a directory the command creates (mkdir, unpacking): 0777 less the umask."""
        return f"{0o777 & ~self.umask:04o}"

    def is_glob(self, index: int) -> bool:
        """True when argv[index] is a pattern the shell would expand, not a literal name."""
        return index in self.globbed

    @property
    def stdout_file(self) -> Redirect | None:
        """The `>`/`>>` redirection of stdout to a real file, if any."""
        for r in self.redirects:
            if r.op in (">", ">>", ">|", "&>", "&>>") and r.fd in (None, 1) \
                    and r.target not in ("/dev/null", "/dev/stdout", "/dev/stderr"):
                return r
        return None


@dataclass(frozen=True)
class Task:
    """A rule's output: one Ansible task before `become`/`environment`/`notify` are added.

    `role` drives post-processing in convert: "config" tasks write a file (they can notify a
    handler), "restart" tasks restart `service` (they can become that handler), "apt-update"
    may fold into the next apt install, "no-op" covers a line without producing a task,
    "mount-all" (`mount -a`) folds into the fstab entries before it.
    """

    name: str
    module: str
    args: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)
    role: TaskRole = "other"
    service: str | None = None
    path: str | None = None  # the file or directory the task manages, if any
    note: str | None = None  # a warning for the person reviewing the task (convert adds the line)

    def as_dict(self) -> dict[str, Any]:
        task: dict[str, Any] = {"name": self.name, self.module: dict(self.args)}
        task.update(self.extra)
        return task


# A value the walker knows only on the host reaches the rules as a Jinja expression it wrote
# itself (`{{ shell_name }}` for what a shell task registered, `{{ ansible_env.X }}`,
# `{{ ansible_facts.x }}`): Ansible must evaluate those, unlike `{{` text from the script.
RUNTIME_VALUE = re.compile(r"\{\{ (?:shell_\w+|ansible_env\.\w+|ansible_facts\.\w+)(?:\.stdout| \| default)? \}\}")


def has_runtime_value(text: str) -> bool:
    """True when `text` holds a value the walker left for Ansible to fill in on the host."""
    return RUNTIME_VALUE.search(text) is not None


def no_op(reason: str) -> Task:
    """A line that is covered but needs no task (set -e, echo to the terminal, cd, ...)."""
    return Task(name=reason, module="", args={}, role="no-op")


RuleFn = Callable[[Invocation], "list[Task] | None"]


@dataclass(frozen=True)
class Options:
    """Parsed command-line options: flags in order with their values, and positionals."""

    flags: tuple[tuple[str, str | None], ...]
    positionals: tuple[str, ...]

    def has(self, *names: str) -> bool:
        return any(flag in names for flag, _ in self.flags)

    def get(self, *names: str) -> str | None:
        found = [value for flag, value in self.flags if flag in names]
        return found[-1] if found else None

    def all(self, *names: str) -> list[str]:
        return [value for flag, value in self.flags if flag in names and value is not None]


def parse_options(args: Iterable[str], takes_value: str = "",
                  long_value: Iterable[str] = (), single_dash_long: Iterable[str] = ()) -> Options:
    """getopt-like: `takes_value` lists short letters with an argument (`-o FILE`, `-oFILE`,
    `-fsSLo FILE`); `long_value` long options with one (`--out F`, `--out=F`);
    `single_dash_long` words like `-out` (openssl) taken whole with the next argument."""
    flags: list[tuple[str, str | None]] = []
    positionals: list[str] = []
    items = list(args)
    long_set = set(long_value)
    single_set = set(single_dash_long)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--":
            positionals.extend(items[i + 1:])
            break
        if arg in single_set:
            flags.append((arg, items[i + 1] if i + 1 < len(items) else None))
            i += 2
            continue
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg.partition("=")
            if eq:
                flags.append((name, value))
            elif name in long_set and i + 1 < len(items):
                flags.append((name, items[i + 1]))
                i += 1
            else:
                flags.append((name, None))
        elif arg.startswith("-") and len(arg) > 1 and not arg[1].isdigit():
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter in takes_value:
                    rest = arg[j + 1:]
                    if rest:
                        flags.append(("-" + letter, rest))
                    elif i + 1 < len(items):
                        flags.append(("-" + letter, items[i + 1]))
                        i += 1
                    else:
                        flags.append(("-" + letter, None))
                    break
                flags.append(("-" + letter, None))
                j += 1
        else:
            positionals.append(arg)
        i += 1
    return Options(tuple(flags), tuple(positionals))


def octal_mode(mode: str) -> str | None:
    """chmod-style mode as Ansible wants it: '755' -> '0755', 'u+x' kept; None if invalid."""
    if mode.isdigit() and all(c in "01234567" for c in mode) and len(mode) <= 4:
        return mode.zfill(4)
    if all(c in "ugoa+-=rwxXst," for c in mode) and any(c in "+-=" for c in mode):
        return mode
    return None


def human_list(items: Iterable[str], limit: int = 4) -> str:
    """'a', 'a and b', 'a, b and c', 'a, b, c, d and 2 more'."""
    values = list(items)
    if len(values) > limit:
        return ", ".join(values[:limit]) + f" and {len(values) - limit} more"
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " and " + values[-1]


def one_or_loop(values: list[str], key: str, args: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                                dict[str, Any]]:
    """Module args with `key` set to the single value, or to `{{ item }}` plus a loop."""
    if len(values) == 1:
        return {key: values[0], **args}, {}
    return {key: "{{ item }}", **args}, {"loop": list(values)}
