"""fold_moves: `mv SRC DEST` right after the task that made SRC makes it at DEST instead; pure.

design: Ansible has no module that moves a file, so `mv` stays a command unless the task that
made SRC can make it where it ends up. Two shapes fold, each only where the result is the
script's, and each reading nothing but the tasks themselves (so a split's merged play folds
as a whole one does, see ``playbook.passes``):

- a download (get_url dest: SRC), then `mv SRC DEST`: the download goes to DEST, at the mv's
  place. get_url into an existing directory names the file after the URL, as `curl -O` named
  SRC, so SRC's name must be the URL's; mv into a directory keeps that name too.
- an extraction into DIR (unarchive dest: DIR), then `mv DIR/TOP DEST` where TOP is the
  archive's name without its extension (the script assumes the archive holds TOP) and DEST is
  known absent (the mv runs under `not R.stat.exists`, R a stat of DEST): the archive's TOP is
  extracted straight into DEST (`include: [TOP]`, `--strip-components=1`, after creating
  DEST), so an archive without TOP fails the task as the script's mv failed.

Between the maker and the mv no task may name SRC or DEST, and none may be a command or
shell (which could read SRC in ways the text does not show); the mv must be the plain form:
two absolute paths, no glob, no template, nothing else on the task that changes what it does.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playbook.passes import Step

_COMMAND = "ansible.builtin.command"
_SHELL = "ansible.builtin.shell"
_GET_URL = "ansible.builtin.get_url"
_UNARCHIVE = "ansible.builtin.unarchive"
_STAT = "ansible.builtin.stat"
_FILE = "ansible.builtin.file"
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._+@%,=/-]*")  # no glob, no quote, no template, no variable
_ARCHIVE = re.compile(r"\.(?:tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tar)$")
# what may sit on the mv task: what it runs as, where, under which condition
# how far back a maker or a stat is looked for: a bound, so a script of thousands of moves costs
# a constant per move, not the length of the play
_REACH = 64
_MV_KEYS = frozenset({"name", _COMMAND, "become", "become_user", "environment", "when", "changed_when", "failed_when"})


def fold_moves(steps: list[Step]) -> list[Step]:
    """Each plain `mv SRC DEST` folded into the download or extraction that made SRC."""
    out: list[Step] = []
    for step in steps:
        move = _move_of(step)
        if move is None or not _fold(out, step, *move):
            out.append(step)
    return out


def _move_of(step: Step) -> tuple[str, str] | None:
    """(SRC, DEST) of a plain `mv SRC DEST` command task, else None."""
    args = step.args
    if step.module != _COMMAND or not isinstance(args, dict) or set(args) - {"cmd", "removes", "chdir"} \
            or set(step.task) - _MV_KEYS or step.task.get("failed_when") not in (None, False) \
            or not isinstance(args.get("cmd"), str) or len(args["cmd"]) > 4096:
        return None
    try:
        argv = shlex.split(args["cmd"])
    except ValueError:
        return None
    if len(argv) != 3 or argv[0] != "mv" or not all(_PLAIN_PATH.fullmatch(p) for p in argv[1:]):
        return None
    src, dest = (posixpath.normpath(p) for p in argv[1:])
    if args.get("removes") not in (None, argv[1], src) or "/" in (src, dest) or src == dest:
        return None
    return src, dest


def _fold(out: list[Step], move: Step, src: str, dest: str) -> bool:
    """Fold ``move`` into the task in ``out`` that made ``src``; False (nothing changed) if none may."""
    for index in range(len(out) - 1, max(-1, len(out) - 1 - _REACH), -1):
        maker = out[index]
        if maker.module in (_COMMAND, _SHELL) or maker.looped:
            return False
        if maker.become != move.become or maker.task.get("when") != move.task.get("when") \
                or maker.task.get("become_user") != move.task.get("become_user"):
            if _names(maker, src) or _names(maker, dest):
                return False
            continue
        if maker.module == _GET_URL and _downloaded_to(maker, src):
            del out[index]
            maker.args["dest"] = dest
            maker.task["name"] = f"Download {posixpath.basename(src)} to {dest}"
            _take_outcome(maker, move)
            out.append(maker)
            return True
        if maker.module == _UNARCHIVE and _extracted_to(maker, src) and _known_absent(out[:index], move, dest):
            top = posixpath.basename(src)
            maker.args.update(dest=dest, include=[top], extra_opts=["--strip-components=1"])
            maker.task["name"] = f"Unpack {posixpath.basename(maker.args['src'])} into {dest}"
            _take_outcome(maker, move)
            directory = {key: value for key, value in maker.task.items() if key in ("become", "become_user", "when")}
            made = type(maker)({"name": f"Create the directory {dest}",
                                _FILE: {"path": dest, "state": "directory", "mode": "0755"}, **directory},
                               maker.source)
            out.insert(index, made)
            return True
        if _names(maker, src) or _names(maker, dest):
            return False
    return False


def _names(step: Step, path: str) -> bool:
    """True when the task's text mentions ``path`` (or a path under it)."""
    text = json.dumps(step.task)
    return any(text[i + len(path):i + len(path) + 1] in ('"', "/", " ", "'", "")
               for i in _find_all(text, path))


def _find_all(text: str, word: str) -> list[int]:
    found, start = [], text.find(word)
    while start != -1:
        found.append(start)
        start = text.find(word, start + 1)
    return found


def _downloaded_to(step: Step, src: str) -> bool:
    args = step.args
    url = args.get("url") if isinstance(args, dict) else None
    return isinstance(url, str) and args.get("dest") == src and set(args) <= {"url", "dest", "mode"} \
        and posixpath.basename(url.split("?")[0].split("#")[0]) == posixpath.basename(src) \
        and set(step.task) <= {"name", _GET_URL, "become", "become_user", "when", "failed_when"}


def _extracted_to(step: Step, src: str) -> bool:
    args = step.args
    archive = args.get("src") if isinstance(args, dict) else None
    return isinstance(archive, str) and args.get("remote_src") is True and set(args) == {"src", "dest", "remote_src"} \
        and args.get("dest") == posixpath.dirname(src) \
        and _ARCHIVE.sub("", posixpath.basename(archive)) == posixpath.basename(src) \
        and set(step.task) <= {"name", _UNARCHIVE, "become", "become_user", "when"}


def _known_absent(before: list[Step], move: Step, dest: str) -> bool:
    """True when the mv runs only if a stat of ``dest`` found nothing, and nothing since named it."""
    when = move.task.get("when")
    if not isinstance(when, str):
        return False
    for index in range(len(before) - 1, max(-1, len(before) - 1 - _REACH), -1):
        step = before[index]
        if step.module == _STAT and isinstance(step.args, dict) and step.args.get("path") == dest \
                and isinstance(register := step.task.get("register"), str) and "when" not in step.task:
            return f"not {register}.stat.exists" in [c.strip() for c in when.split(" and ")]
        if _names(step, dest) or step.module in (_COMMAND, _SHELL):
            return False
    return False


def _take_outcome(maker: Step, move: Step) -> None:
    """The folded task fails as the mv did (`mv ... || true` never failed) and covers its lines."""
    if move.task.get("failed_when") is False:
        maker.task["failed_when"] = False
    else:
        maker.task.pop("failed_when", None)
    maker.source = maker.source.through(move.source) if maker.source else move.source
