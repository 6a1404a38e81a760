"""Whole-playbook passes that tidy converted tasks as a person would; pure.

    fold_apt_update    `apt-get update` folds into the next apt install (update_cache)
    fold_git_pin       `git reset --hard REF`/`git checkout REF` in a fresh clone is its version
    fold_moves         `mv SRC DEST` after the download/extraction that made SRC makes it at DEST
    fold_attributes    a later chmod/chown folds into the task that created the path
    keep_known_modes   `>>` to a file the play made or chmod-ed keeps that file's mode
    distinct_blocks    several blocks appended to one file get markers of their own
    fold_edits         `sed -i`/`echo >>` on a file the playbook just wrote edit its content
    fold_mount_all     `mount -a` after fstab entries makes them `state: mounted`
    detab_shell        tabs that only indent a shell task's script become spaces
    notify_handlers    a restart after a config change becomes a handler the change notifies

design: every pass reads what it needs from the task itself (module, arguments, become),
never from how the task was made. So the same passes run on a whole conversion
(``playbook.convert``) and on the merged result of a split (``balancer.fanout``), where each
chunk was converted on its own worker: folding across chunk boundaries happens there, and a
split playbook gets the same tasks as a whole one. A pass is idempotent: running it again on
its own output changes nothing. Each task travels with an optional ``TaskSource`` (its
script lines), widened when another task folds into it.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from playbook.moves import fold_moves
from playbook.rules.files import SYSTEM_DIRECTORIES

COMMAND = "ansible.builtin.command"
SHELL = "ansible.builtin.shell"
COPY = "ansible.builtin.copy"
FILE = "ansible.builtin.file"
MOUNT = "ansible.posix.mount"
GIT = "ansible.builtin.git"
META = "ansible.builtin.meta"

# task keywords (not modules), as far as converted and model-written tasks use them
KEYWORDS = frozenset({
    "name", "become", "become_user", "become_method", "environment", "notify", "when", "loop",
    "loop_control", "with_items", "register", "changed_when", "failed_when", "ignore_errors",
    "tags", "vars", "args", "delegate_to", "run_once", "no_log", "retries", "delay", "until",
    "check_mode", "diff", "listen", "block", "rescue", "always",
})
_APT = frozenset({"ansible.builtin.apt", "apt"})
_SERVICES = frozenset({"ansible.builtin.service", "ansible.builtin.systemd_service", "ansible.builtin.systemd",
                       "service", "systemd", "systemd_service"})
_CONFIG = frozenset({"ansible.builtin.copy", "ansible.builtin.template", "ansible.builtin.lineinfile",
                     "ansible.builtin.blockinfile", "ansible.builtin.replace", "community.general.ini_file",
                     "ansible.posix.sysctl", "ansible.builtin.cron",
                     "copy", "template", "lineinfile", "blockinfile", "replace"})
_PATH_ARGS = ("path", "dest", "sysctl_file")
_CREATORS = {"ansible.builtin.copy": "dest", "ansible.builtin.get_url": "dest", "ansible.builtin.file": "path",
             "ansible.builtin.lineinfile": "path", "ansible.builtin.blockinfile": "path"}
_ATTRS = ("mode", "owner", "group")
_ACCOUNTS = frozenset({"ansible.builtin.user", "ansible.builtin.group"})
_EDITS = {"ansible.builtin.replace": {"path", "regexp", "replace"},
          "ansible.builtin.lineinfile": {"path", "line", "create", "mode"}}


@dataclass(frozen=True)
class TaskSource:
    """Where a task came from: its script lines (1-based, inclusive) and the rule, or
    "fallback" for a command/shell task no rule covered."""

    first_line: int
    last_line: int
    rule: str

    def through(self, later: TaskSource | None) -> TaskSource:
        """This source widened to the last line of ``later`` (never narrowed: a chmod folded in
        before an edit of earlier lines keeps the chmod's line)."""
        if later is None:
            return self
        return TaskSource(self.first_line, max(self.last_line, later.last_line), self.rule)


@dataclass
class Step:
    """One task on its way through the passes."""

    task: dict[str, Any]
    source: TaskSource | None = None

    @property
    def module(self) -> str:
        return module_of(self.task)

    @property
    def args(self) -> Any:
        return self.task.get(self.module)

    @property
    def become(self) -> bool:
        return bool(self.task.get("become"))

    @property
    def looped(self) -> bool:
        return "loop" in self.task or "with_items" in self.task

    @property
    def path(self) -> str | None:
        """The file the task manages, if its arguments say."""
        args = self.args
        if not isinstance(args, dict):
            return None
        value = next((args[key] for key in _PATH_ARGS if key in args), None)
        cron_file = args.get("cron_file")
        if value is None and isinstance(cron_file, str):
            value = cron_file if cron_file.startswith("/") else "/etc/cron.d/" + cron_file
        return value if isinstance(value, str) else None

    @property
    def role(self) -> str:
        """apt-update, mount-all, restart, config or other: what the passes care about."""
        args, module = self.args, self.module
        if module in _APT and isinstance(args, dict) and args.get("update_cache") \
                and set(args) <= {"update_cache", "cache_valid_time"}:
            return "apt-update"
        if module == COMMAND and isinstance(args, dict) and args.get("cmd") == "mount -a" and set(args) == {"cmd"}:
            return "mount-all"
        if module in _SERVICES and isinstance(args, dict) and args.get("state") in ("restarted", "reloaded") \
                and isinstance(args.get("name"), str) and set(args) <= {"name", "state", "daemon_reload"}:
            return "restart"
        if self.path and (module in _CONFIG or (module == FILE and args.get("state") in ("link", "absent"))):
            return "config"
        return "other"

    @property
    def service(self) -> str | None:
        return str(self.args["name"]) if self.role == "restart" else None


@dataclass
class Tidied:
    steps: list[Step]
    handlers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return [step.task for step in self.steps]


def module_of(task: dict[str, Any]) -> str:
    """The task's module: its first key that is not a task keyword ("" if none)."""
    return next((key for key in task if key not in KEYWORDS), "")


def tidy(steps: list[Step], handlers: list[dict[str, Any]] | None = None) -> Tidied:
    """Every pass, in order; ``handlers`` are the play's existing handlers (kept, deduplicated)."""
    steps = fold_apt_update(steps)
    steps = fold_git_pin(steps)
    steps = fold_moves(steps)
    steps = keep_known_modes(steps)  # first, so a `chmod go-r` folds into the mode a write kept...
    steps = fold_attributes(steps)
    steps = keep_known_modes(steps)  # ...and again, so an append keeps a mode a chmod folded back
    steps = distinct_blocks(steps)
    steps = fold_edits(steps)
    steps = fold_mount_all(steps)
    steps = fold_timezone(steps)
    steps = detab_shell(steps)
    steps = keep_newlines_after_raw(steps)
    return notify_handlers(steps, handlers or [])


def without_called_functions(play: dict[str, Any], called: set[str]) -> dict[str, Any]:
    """A merged play without the tasks a chunk made for a function it saw defined and not called
    (tagged ``never`` and the function's name) when another chunk of the script calls it."""
    tasks = play.get("tasks")
    if not isinstance(tasks, list):
        return play
    kept = [t for t in tasks if not (isinstance(t, dict) and isinstance(t.get("tags"), list) and len(t["tags"]) == 2
                                     and t["tags"][0] == "never" and t["tags"][1] in called)]
    return {**play, "tasks": kept}


def settled_warnings(warnings: list[str], tasks: list[dict[str, Any]]) -> list[str]:
    """``warnings`` without the notes a pass made untrue: once a later checkout in a clone
    became its version (fold_git_pin), the clone's "pin version" note and the "no rule"
    notes of the git commands that went; the `dpkg-reconfigure tzdata` that fold_timezone took."""
    unpinned = {str(args.get("repo")) for task in tasks if isinstance(args := task.get(GIT), dict)
                and args.get("version") == "HEAD"}
    commands = [str(args.get("cmd")) for task in tasks for module in (COMMAND, SHELL)
                if isinstance(args := task.get(module), dict)]
    kept = []
    for warning in warnings:
        clone = re.search(r"`git clone` of (\S+) follows its default branch \(version: HEAD\)", warning)
        if clone is not None and clone.group(1) not in unpinned:
            continue
        kept_git = re.search(r"no rule for `(git (?:checkout|reset|fetch)\b[^`]*?)(?:\.\.\.)?`; kept as command", warning)
        if kept_git is not None and not any(kept_git.group(1) in cmd for cmd in commands):
            continue
        kept_tz = re.search(r"no rule for `(dpkg-reconfigure [^`]*tzdata)`; kept as command", warning)
        if kept_tz is not None and not any(kept_tz.group(1) in cmd for cmd in commands):
            continue  # fold_timezone made it the time zone
        kept.append(warning)
    return kept


def tidy_play(play: dict[str, Any]) -> dict[str, Any]:
    """A play (plain dict) with its tasks tidied; other keys unchanged."""
    tasks = play.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        return play
    tidied = tidy([Step(dict(t)) for t in tasks], list(play.get("handlers") or []))
    out = {**play, "tasks": tidied.tasks}
    if tidied.handlers:
        out["handlers"] = tidied.handlers
    return out


# --- the passes ------------------------------------------------------------------------------

def fold_apt_update(steps: list[Step]) -> list[Step]:
    out: list[Step] = []
    for step in steps:
        previous = out[-1] if out else None
        args = step.args
        if previous is not None and previous.role == "apt-update" and previous.become == step.become \
                and step.module in _APT and isinstance(args, dict) and "name" in args \
                and not previous.looped and set(previous.task) <= {"name", previous.module, "become"}:
            step.task[step.module] = {**args, "update_cache": True}
            step.source = previous.source.through(step.source) if previous.source else step.source
            out[-1] = step
            continue
        out.append(step)
    return out


_GIT_QUIET = frozenset({"-q", "--quiet"})
# a branch, a tag, tags/NAME or a commit, or a value a task worked out on the host (which an
# earlier task set: only fetches run between the clone and the checkout)
_GIT_REF = re.compile(r"(?:\w|\{\{ shell_\w+ \}\})(?:[\w./+-]|\{\{ shell_\w+ \}\})*")
_GIT_FETCH = frozenset({"git fetch", "git fetch --tags", "git fetch --all", "git fetch origin",
                        "git fetch --all --tags", "git fetch origin --tags", "git fetch -q", "git fetch --quiet"})
# environment that changes what a git command does (repository, work tree, configuration)
_GIT_ENV = re.compile(r"GIT_\w*|HOME|XDG_CONFIG_HOME")


def fold_git_pin(steps: list[Step]) -> list[Step]:
    """A clone, then `git reset --hard REF` or `git checkout REF` in its directory: the clone's
    version is REF, and the command goes (a `git fetch` between them with it).

    design: the module checks the version out as it clones, so the files are those the
    script's checkout left. Only a clone of the default branch (version HEAD) that fetched
    every branch (no depth, no single branch) folds, and only when nothing but `git fetch`
    in that directory runs in between; the command must be that exact form with nothing else
    on it (no shell, no when, no loop, the clone's become, no git environment)."""
    out: list[Step] = []
    for step in steps:
        ref = _git_pin_ref(step)
        clone = None
        if ref is not None:
            chdir = step.args.get("chdir")
            for index in range(len(out) - 1, -1, -1):
                candidate = out[index]
                if candidate.module == GIT:
                    clone = candidate if _unpinned_clone(candidate, chdir, step) else None
                    break
                if not _git_fetch_in(candidate, chdir, step):
                    break
        if clone is None or ref is None:
            out.append(step)
            continue
        while out[-1] is not clone:  # the fetches before the pin: the module fetches what it needs
            out.pop()
        clone.args["version"] = ref
        clone.task["name"] = f"Clone {clone.args['repo']} into {clone.args['dest']} at {ref}"
        clone.source = clone.source.through(step.source) if clone.source else None
    return out


def _git_pin_ref(step: Step) -> str | None:
    """REF of a plain `git reset --hard REF` / `git checkout REF` command task, else None."""
    args = step.args
    if step.module != COMMAND or not isinstance(args, dict) or set(args) != {"cmd", "chdir"} \
            or set(step.task) - {"name", COMMAND, "become", "environment", "changed_when"} \
            or not isinstance(args.get("cmd"), str) or not isinstance(args.get("chdir"), str):
        return None
    environment = step.task.get("environment") or {}
    if not isinstance(environment, dict) or any(_GIT_ENV.fullmatch(str(key)) for key in environment):
        return None
    try:
        argv = shlex.split(args["cmd"])
    except ValueError:
        return None
    if argv[:3] == ["git", "reset", "--hard"]:
        words = [w for w in argv[3:] if w not in _GIT_QUIET]
    elif argv[:2] == ["git", "checkout"]:
        words = [w for w in argv[2:] if w not in _GIT_QUIET | {"-f", "--force", "--detach"}]
    else:
        return None
    if len(words) != 1 or not _GIT_REF.fullmatch(words[0]) or ".." in words[0] \
            or words[0] == "HEAD" or words[0].startswith(("HEAD~", "HEAD^", "ORIG_HEAD", "FETCH_HEAD", "@")):
        return None  # an option, a path, or a ref relative to where the clone happens to be
    return words[0]


def _unpinned_clone(clone: Step, chdir: str, pin: Step) -> bool:
    args = clone.args
    return isinstance(args, dict) and args.get("dest") == chdir and args.get("version") == "HEAD" \
        and not args.get("depth") and not args.get("single_branch") and not args.get("bare") \
        and not args.get("refspec") and clone.become == pin.become and not clone.looped \
        and set(clone.task) <= {"name", GIT, "become"}


def _git_fetch_in(step: Step, chdir: str | None, pin: Step) -> bool:
    args = step.args
    return step.module == COMMAND and isinstance(args, dict) and args.get("chdir") == chdir \
        and args.get("cmd") in _GIT_FETCH and set(args) == {"cmd", "chdir"} and step.become == pin.become \
        and set(step.task) <= {"name", COMMAND, "become", "environment", "changed_when"} \
        and not any(_GIT_ENV.fullmatch(str(key)) for key in step.task.get("environment") or {})


def fold_attributes(steps: list[Step]) -> list[Step]:
    """`chmod 600 f` / `chown u f` right after the task that made f: fold into that task."""
    out: list[Step] = []
    for step in steps:
        args = step.task.get(FILE)
        if isinstance(args, dict) and not step.looped and step.path and set(args) <= {"path", *_ATTRS} \
                and set(step.task) <= {"name", FILE, "become", "when"}:
            # the task that made the file, never an append since: keep_known_modes gives the
            # appends that mode (so a split, whose chunk may hold only the append and the chmod,
            # folds the same way as the whole script)
            target = next((s for s in reversed(out) if s.path == step.path and s.module in _CREATORS
                           and s.module not in _APPENDS and not s.looped and s.become == step.become
                           and not _recursive(s)
                           and s.task.get("when") == step.task.get("when")), None)
            if target is not None and _CREATORS[target.module] in target.args \
                    and _may_move_back(args, out[out.index(target) + 1:], step.path) \
                    and not _parents_may_take(target, args, out[:out.index(target)]):
                module_args = target.args
                mode = args.get("mode")
                if mode is not None and not str(mode).isdigit():
                    mode = _apply_symbolic(module_args.get("mode"), str(mode))
                    if mode is None:
                        out.append(step)
                        continue
                for key in _ATTRS:
                    if key in args:
                        module_args[key] = mode if key == "mode" else args[key]
                target.source = target.source.through(step.source) if target.source else None
                continue
        out.append(step)
    return out


_APPENDS = frozenset({"ansible.builtin.lineinfile", "ansible.builtin.blockinfile"})
_UMASK_FIRST = re.compile(r"(?:set -o pipefail\n)?umask ([0-7]{3,4})\n")


def keep_known_modes(steps: list[Step]) -> list[Step]:
    """A write, append, touch or `mkdir -p` of a path the play already gave a mode keeps it.

    design: `>`, `>>`, touch and `mkdir -p` leave an existing file's mode alone, while the
    modules apply theirs to a file that exists too; the rules give the mode a new file gets
    under the usual umask (0644, 0755 for a directory) because lint wants one said. So when an
    earlier task of the play set the path's mode (a copy, an `install -m`, a chmod folded or
    not, a shell task under `umask 077`) and this task only carries that default, it takes
    the earlier mode: a `chmod 600` secret does not become 0644 at its next `>` or `>>`. A
    default mode that a folded `chmod 644` put there looks the same and is taken as a default
    (a chmod back to the usual mode right after a write is rare; a secret losing its mode is
    not). Idempotent, and the same on a split's merged tasks as on the whole script's.
    """
    known: dict[str, str] = {}
    directories: set[str] = set()  # paths the play made as directories (a `cp` into one nests)
    for index, step in enumerate(steps):
        args, path = step.args, step.path
        if not isinstance(args, dict):
            continue
        if step.module in (SHELL, COMMAND):
            cmd = str(args.get("cmd", ""))
            umask = _UMASK_FIRST.match(cmd)
            moved = _moved(cmd)
            if moved is not None:  # `mv A B` keeps A's mode at B
                source, dest = moved
                if source in known:
                    known[dest] = known.pop(source)
                else:
                    known.pop(dest, None)
                continue
            copied = _copied(cmd[umask.end():] if umask else cmd)
            if copied is not None:
                _carry_copied_modes(known, directories, copied, int(umask.group(1), 8) if umask else 0o022)
                continue
            made = [args["creates"]] if isinstance(args.get("creates"), str) else []
            for target in made + _written(cmd):  # a file the shell made, under the script's umask if it set one
                known.setdefault(target, f"{0o666 & ~int(umask.group(1), 8):04o}" if umask else "0644")
            continue
        if not path or step.looped:
            continue
        if step.module == FILE and args.get("state") == "absent":
            known = {p: m for p, m in known.items() if not _under(p, path)}
            directories = {p for p in directories if not _under(p, path)}
            continue
        if step.module == FILE and args.get("state") == "directory":
            directories.add(path)
        if step.module == FILE and args.get("recurse") and "mode" in args:  # `chmod -R`: all of the tree
            given = str(args["mode"])
            if given.isdigit():
                known[path] = given
            for below in [p for p in known if _under(p, path)]:
                mode = given if given.isdigit() else _apply_symbolic(known[below], given, below in directories)
                if mode is None:
                    known.pop(below)
                else:
                    known[below] = mode
            continue
        mode = args.get("mode")
        if mode is None:
            continue  # an edit (replace, ini_file, ...) leaves the mode as it was
        default = "0755" if step.module == FILE and args.get("state") == "directory" else "0644"
        chmod = step.module == FILE and set(args) <= {"path", *_ATTRS}  # always the script's own mode
        if mode == "preserve" and isinstance(args.get("src"), str):
            mode = known.get(args["src"])
        elif chmod:  # the script's own mode; `chmod +x` of a file whose mode is known gives a known one
            mode = mode if not isinstance(mode, str) or mode.isdigit() else _apply_symbolic(known.get(path), mode)
        elif mode == default and path in known:
            mode = args["mode"] = known[path]
        elif mode == default and step.module in _APPENDS and args.get("create"):
            ahead = _chmod_ahead(path, steps[index + 1:])
            if ahead is not None:
                mode = args["mode"] = ahead
        if isinstance(mode, str) and re.fullmatch(r"0?[0-7]{3,4}", mode):
            known[path] = mode
        else:
            known.pop(path, None)
    return steps


_REDIRECT = re.compile(r"""(?:^|[\s;&|(){])1?>(?![>&|])\s*(?:"(/[^"$`]+)"|'(/[^']+)'|(/[^\s;&|()<>"'$`]+))""")


def _written(cmd: str) -> list[str]:
    """The absolute paths a shell command writes with `>` (not `>>`, not another descriptor).
    A file that was there keeps its mode; a new one gets the umask's."""
    return [next(g for g in match.groups() if g) for match in _REDIRECT.finditer(cmd)
            if not any(g == "/dev/null" for g in match.groups())]


def _moved(cmd: str) -> tuple[str, str] | None:
    """(source, destination) of a plain `mv SRC DEST` command, else None."""
    try:
        argv = shlex.split(cmd)
    except ValueError:
        return None
    argv = [a for a in argv if a not in ("-f", "--force", "-v")]
    if len(argv) == 3 and argv[0] == "mv" and not any(a.startswith("-") for a in argv[1:]):
        return argv[1], argv[2]
    return None


@dataclass(frozen=True)
class _Copy:
    """A plain `cp [-r] [-p|-a] SOURCE DEST` the play runs as a command."""
    keeps_modes: bool  # -p / -a: the copy gets the source's mode, else its mode less the umask
    source: str
    dest: str


_CP_LETTERS = frozenset("rRapfv")
_CP_LONG = frozenset({"--recursive", "--archive", "--preserve", "--force", "--verbose"})


def _copied(cmd: str) -> _Copy | None:
    """The copy a `cp` command makes, when it is the whole command and says nothing else."""
    try:
        argv = shlex.split(cmd)
    except ValueError:
        return None
    if not argv or argv[0] != "cp" or "\n" in cmd:
        return None
    switches = [a for a in argv[1:] if a.startswith("-")]
    operands = [a for a in argv[1:] if not a.startswith("-")]
    letters = {c for a in switches if not a.startswith("--") for c in a[1:]}
    if len(operands) != 2 or not letters <= _CP_LETTERS or not {a for a in switches if a.startswith("--")} <= _CP_LONG:
        return None
    keeps = bool(letters & {"a", "p"}) or bool({"--archive", "--preserve"} & set(switches))
    return _Copy(keeps, operands[0].rstrip("/") or "/", operands[1].rstrip("/") or "/")


def _carry_copied_modes(known: dict[str, str], directories: set[str], copy: _Copy, umask: int) -> None:
    """What `cp` makes of known paths: into a directory the play made it lands under the
    source's name, else at the destination; a new copy gets the source's mode less the umask
    (all of it with -p/-a), and a file that was there keeps its own mode unless -p/-a."""
    base = f"{copy.dest}/{copy.source.rsplit('/', 1)[-1]}" if copy.dest in directories else copy.dest
    for source_path, mode in list(known.items()):
        if not _under(source_path, copy.source):
            continue
        target = base + source_path[len(copy.source):]
        if target in known and not copy.keeps_modes:
            continue
        known[target] = mode if copy.keeps_modes else f"{int(mode, 8) & ~umask:04o}"
        if source_path in directories:
            directories.add(target)
    if copy.source not in known and copy.keeps_modes and base not in directories:
        known.pop(base, None)  # copied over with -p/-a from a file of unknown mode


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _chmod_ahead(path: str, later: list[Step]) -> str | None:
    """The mode a later `chmod` of ``path`` gives it, before anything could read the file in
    between (a command or shell task): an append to a file the play did not make creates it
    with that mode, so the play does not flip the mode back and forth on every run."""
    for step in later:
        if step.module in (COMMAND, SHELL):
            return None
        args = step.task.get(FILE)
        if step.path == path and isinstance(args, dict) and set(args) <= {"path", *_ATTRS} and not step.looped:
            mode = args.get("mode")
            return mode if isinstance(mode, str) and re.fullmatch(r"0?[0-7]{3,4}", mode) else None
    return None


def distinct_blocks(steps: list[Step]) -> list[Step]:
    """Two `cat >> f <<EOF` blocks of one file: blockinfile finds a block by its marker, so with
    the default marker the second replaced the first. From the second on, each gets a marker
    numbered in play order (stable across runs; the first keeps the default)."""
    seen: dict[str, int] = {}
    for step in steps:
        args = step.task.get("ansible.builtin.blockinfile")
        if not isinstance(args, dict) or not step.path:
            continue
        count = seen[step.path] = seen.get(step.path, 0) + 1
        if count > 1 and "marker" not in args:
            args["marker"] = f"# {{mark}} ANSIBLE MANAGED BLOCK {count}"
    return steps


def _may_move_back(args: dict[str, Any], between: list[Step], path: str) -> bool:
    """An attribute may move to an earlier task unless a task in between could depend on it:
    a command/shell (it may read or run the file), a task that reads the file (a copy of it
    keeps its mode), or for owner/group a user/group being made."""
    if any(s.module in (COMMAND, SHELL) or _reads(s, path) or _recursive_over(s, path) for s in between):
        return False
    return not ({"owner", "group"} & set(args) and any(s.module in _ACCOUNTS for s in between))


def _parents_may_take(target: Step, args: dict[str, Any], before: list[Step]) -> bool:
    """Whether folding ``args`` into a `state: directory` task would give them to parents it
    makes: the file module makes missing parents with the task's own mode and owner, where
    `mkdir -p` gives them the usual ones. Safe when the parent is a system directory or one an
    earlier task of the play made (a directory task makes every directory above it too)."""
    if target.module != FILE or target.args.get("state") != "directory" or not target.path:
        return False
    if set(args) & {"owner", "group"} == set() and args.get("mode") in (None, target.args.get("mode")):
        return False
    parent = posixpath.dirname(str(target.path).rstrip("/"))
    if parent in SYSTEM_DIRECTORIES:
        return False
    return not any(_under(made, parent) for made in map(_directory_made, before) if made)


def _directory_made(step: Step) -> str | None:
    """The directory a task makes (with all above it): a `state: directory` path, a user's home."""
    args = step.args
    if not isinstance(args, dict):
        return None
    if step.module == FILE and args.get("state") == "directory" and step.path:
        return str(step.path)
    if step.module == "ansible.builtin.user" and args.get("state", "present") == "present" \
            and args.get("create_home", True) and isinstance(args.get("name"), str):
        return str(args.get("home") or f"/home/{args['name']}")
    return None


def _recursive(step: Step) -> bool:
    """Whether ``step`` is a recursive `file` task (`chmod -R`, `chown -R`)."""
    return isinstance(step.args, dict) and bool(step.args.get("recurse"))


def _recursive_over(step: Step, path: str) -> bool:
    """Whether ``step`` is a recursive `file` task over ``path``."""
    return _recursive(step) and bool(step.path) and _under(path, str(step.path))


def _reads(step: Step, path: str) -> bool:
    """Whether ``step`` names ``path`` (or a path under it) other than as the file it manages:
    a copy or archive made from it, a link to it, a loop over it. Folding a later change back
    past such a task would change what it read."""
    def values(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [v for key, item in value.items() if key not in _PATH_ARGS for v in values(item)]
        if isinstance(value, list):
            return [v for item in value for v in values(item)]
        return [value] if isinstance(value, str) else []
    named = values(step.args) + values(step.task.get("loop", []))
    return any(_under(value, path) for value in named)


def fold_edits(steps: list[Step]) -> list[Step]:
    """`cat > f <<EOF` then `sed -i`/`echo >> f`: apply the edit to the written content.

    design: as separate tasks the copy rewrites the original text on every run and the edit
    changes it again, so the playbook never converges; the content as edited says the same
    thing once. Only plain edits fold, and only when nothing in between runs anything (a
    command could read the intermediate file)."""
    out: list[Step] = []
    for step in steps:
        target = _content_target(step, out)
        edited = _edited_content(step, target.args["content"]) if target else None
        if target is None or edited is None:
            out.append(step)
            continue
        target.args["content"] = edited
        mode = step.args.get("mode")
        if mode is not None:
            target.args["mode"] = mode
        target.source = target.source.through(step.source) if target.source else None
    return out


def _content_target(step: Step, out: list[Step]) -> Step | None:
    """The earlier copy-with-content task of the same file this plain edit can fold into."""
    args = step.args
    if step.module not in _EDITS or not isinstance(args, dict) or not step.path \
            or not set(args) <= _EDITS[step.module] or set(step.task) - {"name", step.module, "become", "when"}:
        return None
    for index in range(len(out) - 1, -1, -1):
        candidate = out[index]
        if candidate.path == step.path:
            copy_args = candidate.task.get(COPY)
            ok = isinstance(copy_args, dict) and isinstance(copy_args.get("content"), str) \
                and not candidate.looped and candidate.become == step.become \
                and candidate.task.get("when") == step.task.get("when") \
                and not any(s.module in (COMMAND, SHELL) or _reads(s, step.path) for s in out[index + 1:])
            return candidate if ok else None
    return None


def _edited_content(step: Step, content: str) -> str | None:
    """What the replace/lineinfile task would leave in a file holding `content`."""
    args = step.args
    if step.module == "ansible.builtin.replace":
        try:  # the replace module's own semantics: re.MULTILINE, Python replacement syntax
            return re.sub(args["regexp"], args["replace"], content, flags=re.MULTILINE)
        except (re.error, IndexError):
            return None
    line = args.get("line")
    if not isinstance(line, str):
        return None
    written = _unraw(content)  # what Ansible writes: `{% raw %}…{% endraw %}` is the text inside
    if _unraw(line) in written.splitlines():
        return content
    return (content if written.endswith("\n") or not written else content + "\n") + line + "\n"


def _unraw(text: str) -> str:
    return re.sub(r"\{% raw %\}(.*?)\{% endraw %\}", r"\1", text, flags=re.DOTALL)


_TZ_RECONFIGURE = re.compile(r"dpkg-reconfigure (?:-f |--frontend[= ])noninteractive tzdata")


_ENDRAW_NEWLINES = re.compile(r"\{% endraw %\}(\n+)")


def keep_newlines_after_raw(steps: list[Step]) -> list[Step]:
    """Ansible templates with trim_blocks, which eats the newline right after `{% endraw %}`:
    `{% raw %}a {{b}}{% endraw %}\nnext` is written `a {{b}}next`. A raw line folded into a
    file's content, or one followed by more text, would lose its line break; the newlines move
    inside the raw block, where they are kept. Every string argument, since Ansible templates all.
    """
    def settle(value: Any) -> Any:
        if isinstance(value, str) and "{% endraw %}" in value:
            return _ENDRAW_NEWLINES.sub(lambda m: m.group(1) + "{% endraw %}", value)
        if isinstance(value, dict):
            return {key: settle(item) for key, item in value.items()}
        if isinstance(value, list):
            return [settle(item) for item in value]
        return value
    for step in steps:
        if isinstance(step.args, dict):
            step.task[step.module] = settle(step.args)
    return steps


def fold_timezone(steps: list[Step]) -> list[Step]:
    """`ln -fs /usr/share/zoneinfo/X /etc/localtime` then `dpkg-reconfigure -f noninteractive
    tzdata` (which writes /etc/timezone from the link; an `echo X > /etc/timezone` before them
    says the same): the time zone set to X, which community.general.timezone says."""
    out: list[Step] = []
    for step in steps:
        args = step.args
        if step.module != COMMAND or not isinstance(args, dict) or set(args) != {"cmd"} \
                or not _TZ_RECONFIGURE.fullmatch(str(args["cmd"])) or not out:
            out.append(step)
            continue
        link = out[-1]
        target = link.args if link.module == FILE and isinstance(link.args, dict) else {}
        zone = str(target.get("src", "")).removeprefix("/usr/share/zoneinfo/")
        if target.get("dest") != "/etc/localtime" or target.get("state") != "link" \
                or not str(target.get("src", "")).startswith("/usr/share/zoneinfo/") or not zone \
                or set(target) - {"src", "dest", "state", "force"} or not _same_run(link, step):
            out.append(step)
            continue
        written = out[-2] if len(out) > 1 and out[-2].module == COPY and _same_run(out[-2], step) else None
        if written is not None and written.args.get("dest") == "/etc/timezone" \
                and str(written.args.get("content", "")).rstrip("\n") == zone:
            out.pop()
        out.pop()
        task = {key: value for key, value in step.task.items() if key not in (COMMAND, "changed_when")}
        task["name"] = f"Set the time zone to {zone}"
        task = {"name": task.pop("name"), "community.general.timezone": {"name": zone}, **task}
        out.append(Step(task, link.source.through(step.source) if link.source else step.source))
    return out


def _same_run(one: Step, other: Step) -> bool:
    """True when both tasks run as the same user, under the same condition and tags."""
    return all(one.task.get(key) == other.task.get(key) for key in ("become", "become_user", "when", "tags"))


def fold_mount_all(steps: list[Step]) -> list[Step]:
    """`mount -a` after fstab lines: those entries become `state: mounted`, no command."""
    out: list[Step] = []
    for step in steps:
        if step.role != "mount-all":
            out.append(step)
            continue
        entries = []
        for previous in reversed(out):
            if previous.role == "mount-all":
                break
            args = previous.task.get(MOUNT)
            if isinstance(args, dict) and args.get("state") == "present" \
                    and args.get("fstype") != "swap" and not previous.looped:
                entries.append(previous)
        if not entries or any(e.become != step.become for e in entries):
            out.append(step)
            continue
        for entry in entries:
            entry.task[MOUNT]["state"] = "mounted"
            entry.task["name"] = f"Mount {entry.task[MOUNT]['path']} and add it to /etc/fstab"
    return out


def detab_shell(steps: list[Step]) -> list[Step]:
    """Tabs that indent lines of a shell task's script (lint: no-tabs) become four spaces.

    design: outside quotes a tab at the start of a line (or of a line continued with `\\`)
    only separates words, as a space does, so the script means the same. A tab that is part
    of a value stays: inside quotes, `${...}` or backquotes, and in any script with a here
    document (`<<-` strips leading tabs, and a here document's body is data)."""
    for step in steps:
        args = step.args
        if step.module == SHELL and isinstance(args, dict) and isinstance(args.get("cmd"), str) \
                and "\t" in args["cmd"]:
            detabbed = _detab(args["cmd"])
            if detabbed is not None:
                args["cmd"] = detabbed
    return steps


_OPENERS = {"$(": "(", "${": "{", "$'": "$'", "'": "'", '"': '"', "`": "`"}


def _detab(script: str) -> str | None:
    """``script`` with the tabs of its lines' leading blanks as spaces where they are shell
    blanks; None when it has a here document or its quoting does not close."""
    if "<<" in script:
        return None
    out: list[str] = []
    stack: list[str] = []  # open contexts: ( { ' $' " `
    i, line_start, word_start = 0, True, True
    while i < len(script):
        char = script[i]
        top = stack[-1] if stack else None
        neutral = top is None or top == "("
        if line_start and neutral and char in " \t":
            out.append("    " if char == "\t" else char)
            i += 1
            continue
        line_start = False
        if top == "'":
            if char == "'":
                stack.pop()
        elif char == "\\" and top != "'":
            out.append(script[i:i + 2])
            line_start = script[i + 1:i + 2] == "\n" and neutral  # a continued line's blanks are blanks
            i += 2
            word_start = line_start
            continue
        elif top == "$'":
            if char == "'":
                stack.pop()
        elif char == "#" and word_start and neutral:
            end = script.find("\n", i)
            end = len(script) if end < 0 else end
            out.append(script[i:end])
            i = end
            continue
        elif script[i:i + 2] in ("$(", "${", "$'") and top != '"' or script[i:i + 2] in ("$(", "${") and top == '"':
            stack.append(_OPENERS[script[i:i + 2]])
            out.append(script[i:i + 2])
            i += 2
            word_start = False
            continue
        elif char in "'\"`" and not (char == "'" and top == '"'):
            if char == top:
                stack.pop()
            else:
                stack.append(char)
        elif char == "(" and top != '"':
            stack.append("(")
        elif char == ")" and top == "(":
            stack.pop()
        elif char == "}" and top == "{":
            stack.pop()
        out.append(char)
        word_start = char in " \t\n;&|()" and top in (None, "(")
        line_start = char == "\n"
        i += 1
    return "".join(out) if not stack else None


def notify_handlers(steps: list[Step], handlers: list[dict[str, Any]]) -> Tidied:
    """A restart after a config change becomes a handler that the change notifies.

    design: a ``meta: flush_handlers`` takes the restart's place, so later lines that rely on
    the restart having happened still find it done; it stays even at the end of the play,
    where it is redundant, so that a split playbook (whose chunk may end with the restart)
    gets the same tasks as a whole one."""
    known: dict[str, dict[str, Any]] = {}
    for existing in handlers:
        if isinstance(existing, dict):
            known.setdefault(str(existing.get("name")), existing)
    out: list[Step] = []
    pending: list[Step] = []  # config tasks since the last restart
    for step in steps:
        if step.role == "config":
            pending.append(step)
        if step.task.get(META) == "flush_handlers":
            # an earlier pass (a chunk's, in a split) made a restart here already: the configs
            # before it that the restart's service reads are notified too, as in one pass
            for name in _notified_since_flush(out):
                service = _service_of(known.get(name))
                for config in [s for s in pending if service and _related(s.path, service)]:
                    config.task.setdefault("notify", [])
                    if name not in config.task["notify"]:
                        config.task["notify"].append(name)
                    pending.remove(config)
            out.append(step)
            continue
        service = step.service
        if service is None or step.looped or set(step.task) - {"name", step.module, "become"}:
            out.append(step)
            continue
        related = [s for s in pending if _related(s.path, service)]
        if not related:
            trailing: list[Step] = []
            for previous in reversed(out):
                if previous.role != "config":
                    break
                trailing.append(previous)
            related = trailing
        if not related:
            out.append(step)
            continue
        state = step.args.get("state", "restarted")
        verb = "Reload" if state == "reloaded" else "Restart"
        name = f"{verb} {service}"
        handler: dict[str, Any] = {"name": name, step.module: {"name": service, "state": state}}
        if step.become:
            handler["become"] = True
        known.setdefault(name, handler)
        for config in related:
            notify = config.task.setdefault("notify", [])
            if name not in notify:
                notify.append(name)
        pending = [s for s in pending if s not in related]
        out.append(Step({"name": f"{verb} {service} now if its configuration changed", META: "flush_handlers"},
                        step.source))
    return Tidied(out, list(known.values()))


def _notified_since_flush(out: list[Step]) -> list[str]:
    """Handler names notified by the tasks after the last flush in ``out``, in order."""
    names: list[str] = []
    for step in reversed(out):
        if step.task.get(META) == "flush_handlers":
            break
        for name in step.task.get("notify") or []:
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


def _service_of(handler: dict[str, Any] | None) -> str | None:
    args = handler.get(module_of(handler)) if isinstance(handler, dict) else None
    name = args.get("name") if isinstance(args, dict) else None
    return name if isinstance(name, str) else None


def _related(path: str | None, service: str) -> bool:
    if not path:
        return False
    names = {service, service.removesuffix("d"), service.split("@")[0]}
    if "-" in service and len(service.split("-")[0]) >= 4:
        names.add(service.split("-")[0])  # redis-server: /etc/redis, postgresql-15: /etc/postgresql
    if service in ("ssh", "sshd"):
        names |= {"ssh", "sshd"}
    if service.startswith("php") or service.startswith("apache"):
        names |= {"php", "apache", "apache2", "httpd"}
    parts = set(re.split(r"[/._-]", path))
    return any(name and (name in parts or f"/{name}" in path) for name in names)


def _apply_symbolic(base: Any, symbolic: str, directory: bool = False) -> str | None:
    """`+x` applied to "0644" -> "0755"; None when the base is not a plain octal mode.
    As chmod: no `ugoa` leaves the bits the umask (the usual 022) masks; `X` is x for a
    directory or for a file some x bit is already set on."""
    if not isinstance(base, str) or not base.isdigit():
        return None
    mode = int(base, 8)
    for clause in symbolic.split(","):
        match = re.fullmatch(r"([ugoa]*)([+=-])([rwxX]*)", clause)
        if not match:
            return None
        who = match.group(1) or "a"
        if "a" in who:
            who = "ugo"
        executable = directory or bool(mode & 0o111)
        bits = 0
        for person in who:
            shift = {"u": 6, "g": 3, "o": 0}[person]
            for perm in match.group(3).replace("X", "x" if executable else ""):
                bits |= {"r": 4, "w": 2, "x": 1}[perm] << shift
        if not match.group(1):
            bits &= ~0o022
        if match.group(2) == "+":
            mode |= bits
        elif match.group(2) == "-":
            mode &= ~bits
        else:
            for person in who:
                mode &= ~(7 << {"u": 6, "g": 3, "o": 0}[person])
            mode |= bits
    return format(mode, "04o")
