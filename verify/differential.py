"""Differential runs: generated scripts, the real bash against the real ansible-playbook.

    python -m verify.differential [--count N] [--seed S] [--steps K] [--jobs J]

Each case is a random script from a grammar of what setup scripts do to files: directories,
`>`/`>>` writes, heredocs (quoted or not), `tee -a`, `sed -i`, cp/mv/ln/rm, chmod, touch,
variables and exports, `cd` and relative paths, `||`/`&&` guards, `if [ -f ]`, for loops,
functions, `( … )` subshells (with `umask`), `{ …; }` groups, `install -D` and text that looks
like Jinja. Every path is under the case's own directory (`R=...` on the script's first line),
so no root or chroot is needed and it runs in `make test`.

The script runs under `bash -e` in one directory; the rules engine's playbook of the same
script (with the other directory as R) runs under `ansible-playbook -c local` in another. The
two trees must then match: every path's type, mode, content and link target, with each run's
directory replaced by `$R`. One difference is accepted and taken out before comparing: the
`# BEGIN/END ANSIBLE MANAGED BLOCK` comment lines blockinfile writes around an appended block
(how a second run finds the block instead of appending it again). The grammar never appends a line a file already holds: there lineinfile (the line present
once, which is what a re-run needs) and `>>` (a second copy) differ by design. A case whose
script fails under bash is a generator error
(reported, never counted as equivalent); a playbook that fails where bash succeeded, or trees
that differ, is a finding.

`make verify` compares real-world scripts in chroots; this compares many small generated
scripts exactly, so a class of wrong playbook shows up as soon as the grammar can say it.
"""

# design: the generator keeps its own model of what exists (files, directories, links, the
# current directory) so each step it writes is valid for bash under -e; the comparison knows
# nothing of the generator and only reads the two trees. Randomness is one seeded
# random.Random per case, so a finding is reproduced from its seed alone.

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from playbook.convert import convert_script
from playbook.render import render_playbook

__all__ = ["Case", "Outcome", "generate", "run_case", "main"]

log = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"
_WORDS = ("alpha", "beta", "gamma", "delta", "listen", "server", "port", "enabled", "max_conn", "path")
_VALUES = ("on", "off", "8080", "/srv/data", "yes", "no", "42", "a b c")
_JINJA_LOOKING = ("{{ not_a_variable }}", "{% raw %}", "{# note #}", "${HOME}/x", "$((1 + 2))", "100%")


@dataclass(frozen=True)
class Case:
    """One generated script; ``text`` has `R=__ROOT__` where the run's directory goes."""

    seed: int
    text: str

    def for_root(self, root: Path) -> str:
        return self.text.replace("__ROOT__", shlex.quote(str(root)))


@dataclass
class Outcome:
    seed: int
    status: str  # equivalent | differs | playbook failed | generator error
    differences: list[str] = field(default_factory=list)
    detail: str = ""
    script: str = ""
    playbook: str = ""


@dataclass
class _Model:
    """What exists under R, as the generator believes: relative paths."""

    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=lambda: {""})
    links: set[str] = field(default_factory=set)
    variables: dict[str, str] = field(default_factory=dict)
    cwd: str = ""  # relative to R; "" is R itself
    functions: set[str] = field(default_factory=set)
    counter: int = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def remove_tree(self, path: str) -> None:
        prefix = path + "/"
        self.files = {f for f in self.files if f != path and not f.startswith(prefix)}
        self.links = {f for f in self.links if f != path and not f.startswith(prefix)}
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(prefix)}


def _abs(path: str) -> str:
    return '"$R/' + path + '"' if path else '"$R"'


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.model = _Model()
        self.lines: list[str] = []

    # --- choices --------------------------------------------------------------------------

    def _dir(self) -> str:
        return self.rng.choice(sorted(self.model.dirs))

    def _new_path(self, stem: str = "f", ext: str = ".conf") -> str:
        parent = self._dir()
        name = self.model.fresh(stem) + ext
        return f"{parent}/{name}" if parent else name

    def _dirs_outside_cwd(self) -> list[str]:
        """Directories a step may copy or change as a whole: not R, not where the script is."""
        return sorted(d for d in self.model.dirs - {""} if not self.model.cwd.startswith(d))

    def _file(self) -> str | None:
        return self.rng.choice(sorted(self.model.files)) if self.model.files else None

    def _line(self) -> str:
        roll = self.rng.random()
        if roll < 0.5:
            return f"{self.rng.choice(_WORDS)}={self.rng.choice(_VALUES)}"
        if roll < 0.65 and self.model.variables:
            name = self.rng.choice(sorted(self.model.variables))
            return f"{self.rng.choice(_WORDS)}=${name}"
        if roll < 0.8:
            return f"{self.rng.choice(_WORDS)} {self.rng.choice(_JINJA_LOOKING)}"
        return " ".join(self.rng.sample(_WORDS, 3))

    def _target(self, must_exist: bool = False) -> str | None:
        """A file path to write: an existing one (sometimes) or a new one."""
        existing = self._file()
        if must_exist:
            return existing
        if existing is not None and self.rng.random() < 0.4:
            return existing
        path = self._new_path()
        self.model.files.add(path)
        return path

    # --- steps ----------------------------------------------------------------------------

    def mkdir(self) -> None:
        parent = self._dir()
        nested = self.model.fresh("d")
        deeper = f"{nested}/{self.model.fresh('d')}" if self.rng.random() < 0.4 else nested
        path = f"{parent}/{deeper}" if parent else deeper
        self.lines.append(f"mkdir -p {_abs(path)}")
        parts = path.split("/")
        for n in range(1, len(parts) + 1):
            self.model.dirs.add("/".join(parts[:n]))

    def write(self) -> None:
        existed = self.model.files.copy()
        path = self._target()
        assert path is not None
        op = ">>" if path in existed and self.rng.random() < 0.6 else ">"
        line = self._line() + (f" n{self.model.fresh('')}" if op == ">>" else "")
        quote = '"' if "$" in line and "{" not in line and "((" not in line else "'"
        if quote == '"':
            line = line.replace('"', '\\"')
        self.lines.append(f"echo {quote}{line}{quote} {op} {_abs(path)}")

    def printf(self) -> None:
        path = self._target()
        assert path is not None
        a, b = self.rng.sample(_WORDS, 2)
        self.lines.append(f"printf '%s\\n' '{a}={self.rng.choice(_VALUES)}' '{b} x' > {_abs(path)}")

    def heredoc(self) -> None:
        path = self._target()
        assert path is not None
        quoted = self.rng.random() < 0.4
        body = [self._line() for _ in range(self.rng.randint(1, 4))]
        if not quoted:  # an unquoted heredoc expands $...: keep only what the model knows
            body = [b.replace("${HOME}/x", "home/x").replace("$((1 + 2))", "three") for b in body]
        delimiter = "'EOF'" if quoted else "EOF"
        op = ">>" if self.rng.random() < 0.3 else ">"
        self.lines.append(f"cat {op} {_abs(path)} <<{delimiter}\n" + "\n".join(body) + "\nEOF")

    def tee(self) -> None:
        path = self._target()
        assert path is not None
        line = f"{self.rng.choice(_WORDS)}={self.rng.choice(_VALUES)}_{self.model.fresh('')}"
        flag = "-a " if self.rng.random() < 0.7 else ""
        self.lines.append(f"echo '{line}' | tee {flag}{_abs(path)} > /dev/null")

    def sed(self) -> None:
        path = self._target(must_exist=True)
        if path is None:
            return self.write()
        word = self.rng.choice(_WORDS)
        roll = self.rng.random()
        if roll < 0.4:
            expression = f"s/^{word}=.*/{word}={self.rng.choice(_VALUES).replace('/', '_')}/"
            self.lines.append(f"sed -i '{expression}' {_abs(path)}")
        elif roll < 0.6 and self.model.variables:
            name = self.rng.choice(sorted(self.model.variables))
            self.lines.append(f'sed -i "s|^{word}=.*|{word}=${name}|" {_abs(path)}')
        elif roll < 0.8:
            self.lines.append(f"sed -i '/^{word}/d' {_abs(path)}")
        else:
            self.lines.append(f"sed -i 's/{word}/{word.upper()}/g' {_abs(path)}")

    def copy(self) -> None:
        source = self._file()
        if source is None:
            return self.write()
        dest = self._new_path("c")
        self.model.files.add(dest)
        self.lines.append(f"cp {_abs(source)} {_abs(dest)}")

    def move(self) -> None:
        source = self._file()
        if source is None or source in self.model.links:
            return self.write()
        dest = self._new_path("m")
        self.model.files.discard(source)
        self.model.files.add(dest)
        self.lines.append(f"mv {_abs(source)} {_abs(dest)}")

    def link(self) -> None:
        source = self._file()
        if source is None:
            return self.mkdir()
        dest = self._new_path("l", "")
        self.model.links.add(dest)
        force = "-sf" if self.rng.random() < 0.5 else "-s"
        self.lines.append(f"ln {force} {_abs(source)} {_abs(dest)}")

    def remove(self) -> None:
        if self.rng.random() < 0.5 and len(self.model.dirs) > 1:
            path = self.rng.choice(sorted(self.model.dirs - {""}))
            if self.model.cwd == path or self.model.cwd.startswith(path + "/"):
                return self.write()
            self.model.remove_tree(path)
            self.lines.append(f"rm -rf {_abs(path)}")
            return
        file = self._file()
        if file is None:
            return self.mkdir()
        self.model.files.discard(file)
        self.lines.append(f"rm -f {_abs(file)}")

    def chmod(self) -> None:
        if self.rng.random() < 0.3 and len(self.model.dirs) > 1:
            path = self.rng.choice(sorted(self.model.dirs - {""}))
            self.lines.append(f"chmod {self.rng.choice(('750', '700', '755'))} {_abs(path)}")
            return
        file = self._file()
        if file is None or file in self.model.links:
            return self.write()
        mode = self.rng.choice(("600", "640", "644", "755", "+x", "u+x", "go-r"))
        self.lines.append(f"chmod {mode} {_abs(file)}")

    def touch(self) -> None:
        path = self._target()
        assert path is not None
        self.lines.append(f"touch {_abs(path)}")

    def variable(self) -> None:
        name = self.rng.choice(("APP", "PORT", "DATA_DIR", "MODE", "OWNER_NAME"))
        value = self.rng.choice(("web", "8081", "srv data", "fast", "x.y"))
        export = "export " if self.rng.random() < 0.4 else ""
        self.model.variables[name] = value
        self.lines.append(f"{export}{name}={shlex.quote(value)}")

    def guard(self) -> None:
        roll = self.rng.random()
        if roll >= 0.8:
            directory = self._new_path("g", "")
            self.model.dirs.add(directory)
            self.lines.append(f"[ -d {_abs(directory)} ] || mkdir {_abs(directory)}")
            return
        path = self._target()
        assert path is not None
        line = f"{self.rng.choice(_WORDS)}={self.rng.choice(_VALUES)}"
        if roll < 0.3:
            self.lines.append(f"if [ ! -f {_abs(path)} ]; then\n  echo '{line}' > {_abs(path)}\nfi")
        elif roll < 0.55:
            self.lines.append(f"grep -q '^{line}$' {_abs(path)} 2>/dev/null || echo '{line}' >> {_abs(path)}")
        else:
            self.lines.append(f"[ -f {_abs(path)} ] || touch {_abs(path)}")

    def loop(self) -> None:
        path = self._target()
        assert path is not None
        words = [f"{word}{self.model.fresh('')}" for word in self.rng.sample(_WORDS, 3)]
        self.lines.append(f"for item in {' '.join(words)}; do\n  echo \"$item\" >> {_abs(path)}\ndone")

    def function(self) -> None:
        if "ensure_dir" not in self.model.functions:
            self.model.functions.add("ensure_dir")
            self.lines.append('ensure_dir() {\n  mkdir -p "$1"\n  chmod "$2" "$1"\n}')
        path = self._new_path("fd", "")
        self.model.dirs.add(path)
        self.lines.append(f"ensure_dir {_abs(path)} {self.rng.choice(('700', '750', '755'))}")

    def change_directory(self) -> None:
        directory = self._dir()
        self.model.cwd = directory
        self.lines.append(f"cd {_abs(directory)}")
        name = self.model.fresh("rel") + ".txt"
        self.model.files.add(f"{directory}/{name}" if directory else name)
        self.lines.append(f"echo '{self._line().replace(chr(39), '')}' > {name}")

    def subshell(self) -> None:
        path = self._new_path("s", ".key")
        self.model.files.add(path)
        if self.rng.random() < 0.5:
            self.lines.append(f"(umask 077; echo 'secret' > {_abs(path)})")
        else:
            directory = self._dir()
            self.lines.append(f"(cd {_abs(directory)} && echo 'inside' > {shlex.quote(path.rsplit('/', 1)[-1])})")
            self.model.files.discard(path)
            self.model.files.add(f"{directory}/{path.rsplit('/', 1)[-1]}" if directory else path.rsplit("/", 1)[-1])

    def group(self) -> None:
        path = self._target()
        assert path is not None
        a, b = self._line().replace("'", ""), self._line().replace("'", "")
        self.lines.append(f"{{ echo '{a}'; echo '{b}'; }} > {_abs(path)}")

    def install(self) -> None:
        source = self._file()
        if source is None or source in self.model.links:
            return self.write()
        dest = f"inst{self.model.fresh('')}/{self.model.fresh('i')}.conf"
        self.model.dirs.add(dest.split("/")[0])
        self.model.files.add(dest)
        self.lines.append(f"install -m {self.rng.choice(('640', '600', '755'))} -D {_abs(source)} {_abs(dest)}")

    def concatenate(self) -> None:
        if len(self.model.files) < 2:
            return self.write()
        a, b = self.rng.sample(sorted(self.model.files), 2)
        dest = self._new_path("cat")
        self.model.files.add(dest)
        self.lines.append(f"cat {_abs(a)} {_abs(b)} > {_abs(dest)}")

    def sed_more(self) -> None:
        """sed's other edits: append/insert after a match, several files at once, `$ a`."""
        files = sorted(self.model.files - self.model.links)
        if not files:
            return self.write()
        word = self.rng.choice(_WORDS)
        roll = self.rng.random()
        if roll < 0.3:
            self.lines.append(f"sed -i '/^{word}/a added_after={word}' {_abs(self.rng.choice(files))}")
        elif roll < 0.5:
            self.lines.append(f"sed -i '/^{word}/i added_before={word}' {_abs(self.rng.choice(files))}")
        elif roll < 0.7:
            self.lines.append(f"sed -i '$ a last_line={word}' {_abs(self.rng.choice(files))}")
        else:
            chosen = self.rng.sample(files, min(2, len(files)))
            self.lines.append(f"sed -i -e 's/^{word}=/{word} = /' {' '.join(_abs(f) for f in chosen)}")

    def private_directory(self) -> None:
        path = self._new_path("p", "")
        self.model.dirs.add(path)
        self.lines.append(f"mkdir -m {self.rng.choice(('700', '750', '711'))} {_abs(path)}")

    def copy_tree(self) -> None:
        candidates = self._dirs_outside_cwd()
        if not candidates:
            return self.mkdir()
        source = self.rng.choice(candidates)
        dest = self.model.fresh("tree")
        self.lines.append(f"cp -r {_abs(source)} {_abs(dest)}")
        self.model.dirs.add(dest)
        prefix = source + "/"
        for group in (self.model.files, self.model.dirs, self.model.links):
            group.update({dest + "/" + p[len(prefix):] for p in list(group) if p.startswith(prefix)})

    def archive(self) -> None:
        """tar a directory, unpack it elsewhere (tar x is the unarchive module's)."""
        candidates = sorted(d for d in self.model.dirs - {""} if "/" not in d)
        if not candidates:
            return self.mkdir()
        source = self.rng.choice(candidates)
        tarball, dest = self.model.fresh("t") + ".tar.gz", self.model.fresh("x")
        self.lines.append(f'tar -czf "$R/{tarball}" -C "$R" {shlex.quote(source)}')
        self.lines.append(f"mkdir -p {_abs(dest)}")
        self.lines.append(f'tar -xzf "$R/{tarball}" -C {_abs(dest)}')
        self.lines.append(f'rm -f "$R/{tarball}"')  # its bytes hold timestamps: never the same twice
        # what it unpacked is left alone from here: a file the play did not give a mode (one
        # from an archive, like one already on the host) gets the usual mode when a module
        # writes it, where `>` keeps the archived one (a limitation the README states)
        self.model.dirs.add(dest)

    def branch(self) -> None:
        path = self._target(must_exist=True)
        if path is None:
            return self.write()
        word, value = self.rng.choice(_WORDS), self.rng.choice(_VALUES)
        if self.rng.random() < 0.5:
            self.lines.append(f"if grep -q '^{word}' {_abs(path)}; then\n"
                              f"  sed -i 's/^{word}.*/{word}=set/' {_abs(path)}\nelse\n"
                              f"  echo '{word}={value}' >> {_abs(path)}\nfi")
        else:
            name = self.rng.choice(sorted(self.model.variables) or ["MODE"])
            tag = self.model.fresh("_")  # the same line appended twice is lineinfile's by-design difference
            self.lines.append(f'case "${{{name}:-none}}" in\n  fast|web) echo "case=${{{name}}}{tag}" >> {_abs(path)} ;;\n'
                              f'  *) echo "case=other{tag}" >> {_abs(path)} ;;\nesac')

    def defaults(self) -> None:
        """`${NAME:-default}`: set earlier in the script or not."""
        path = self._target()
        assert path is not None
        name = self.rng.choice(("LISTEN_ADDR", "APP", "WORKERS"))
        self.lines.append(f'echo "{name.lower()}=${{{name}:-0.0.0.0}}" > {_abs(path)}')

    def piped_heredoc(self) -> None:
        path = self._target()
        assert path is not None
        body = "\n".join(self._line().replace("$", "") for _ in range(2))
        self.lines.append(f"cat <<'EOF' | tee {_abs(path)} > /dev/null\n{body}\nEOF")

    def brace_directories(self) -> None:
        """`mkdir -p DIR/{a,b,c}`: brace expansion makes three."""
        base = self._new_path("b", "")
        names = self.rng.sample(("conf", "logs", "data", "run", "cache"), 3)
        self.lines.append(f"mkdir -p {_abs(base)}/{{{','.join(names)}}}")
        self.model.dirs.update({base, *(f"{base}/{name}" for name in names)})

    def escapes(self) -> None:
        """`echo -e` and printf formats: tabs and newlines the shell makes from escapes."""
        path = self._target()
        assert path is not None
        a, b = self.rng.sample(_WORDS, 2)
        if self.rng.random() < 0.5:
            self.lines.append(f'echo -e "{a}=1\\t# tab\\n{b}={self.rng.choice(_VALUES)}" > {_abs(path)}')
        else:
            self.lines.append(f"printf '{a}=%s\\n{b}=%d\\n' '{self.rng.choice(_VALUES)}' {self.rng.randint(1, 99)}"
                              f" > {_abs(path)}")

    def remove_glob(self) -> None:
        """`rm -f DIR/*.conf`: every matching file directly in the directory."""
        directory = self._dir()
        self.lines.append(f"rm -f {_abs(directory)}/*.conf" if directory else 'rm -f "$R"/*.conf')
        gone = {f for f in self.model.files | self.model.links
                if f.endswith(".conf") and f.rpartition("/")[0] == directory}
        self.model.files -= gone
        self.model.links -= gone

    def chmod_tree(self) -> None:
        """`chmod -R MODE DIR`: the directory and everything in it (links are left alone)."""
        candidates = self._dirs_outside_cwd()
        if not candidates:
            return self.mkdir()
        mode = self.rng.choice(("750", "755", "u+rwX,go-w"))  # never one that locks bash out
        self.lines.append(f"chmod -R {mode} {_abs(self.rng.choice(candidates))}")

    def copy_keeping_mode(self) -> None:
        source = self._file()
        if source is None or source in self.model.links:
            return self.write()
        dest = self._new_path("cp")
        self.model.files.add(dest)
        self.lines.append(f"cp {self.rng.choice(('-p', '-a'))} {_abs(source)} {_abs(dest)}")

    def sed_backup(self) -> None:
        """`sed -i.bak`: the edit, and the original kept beside it."""
        path = self._target(must_exist=True)
        if path is None or path in self.model.links:
            return self.write()
        word = self.rng.choice(_WORDS)
        self.lines.append(f"sed -i.bak 's/^{word}=/#{word}=/' {_abs(path)}")
        self.model.files.add(path + ".bak")

    def steps(self) -> list[Callable[[], None]]:
        return [self.mkdir, self.write, self.write, self.printf, self.heredoc, self.tee, self.sed, self.sed,
                self.copy, self.move, self.link, self.remove, self.chmod, self.touch, self.variable,
                self.guard, self.guard, self.loop, self.function, self.change_directory, self.subshell,
                self.group, self.install, self.concatenate, self.sed_more, self.private_directory,
                self.copy_tree, self.archive, self.branch, self.defaults, self.piped_heredoc,
                self.brace_directories, self.escapes, self.remove_glob, self.chmod_tree,
                self.copy_keeping_mode, self.sed_backup]


def generate(seed: int, steps: int = 12) -> Case:
    """A script of about ``steps`` statements, the same for the same seed."""
    generator = _Generator(random.Random(seed))
    generator.lines.append("R=__ROOT__")
    generator.mkdir()
    generator.write()
    for _ in range(steps):
        generator.rng.choice(generator.steps())()
    return Case(seed, "#!/bin/bash\n" + "\n".join(generator.lines) + "\n")


# --- running and comparing --------------------------------------------------------------------

_BLOCK_MARKER = re.compile(rb"^# (?:BEGIN|END) ANSIBLE MANAGED BLOCK(?: \d+)?\n", re.MULTILINE)


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root``: type, mode and content hash (or link target), with the root's
    own path written `$R`."""
    entries: dict[str, str] = {}
    marker = str(root)
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        stat = path.lstat()
        mode = oct(stat.st_mode & 0o7777)
        if path.is_symlink():
            entries[relative] = f"link -> {os.readlink(path).replace(marker, '$R')}"
        elif path.is_dir():
            entries[relative] = f"dir {mode}"
        else:
            content = _BLOCK_MARKER.sub(b"", path.read_bytes().replace(marker.encode(), b"$R"))
            digest = hashlib.sha256(content).hexdigest()[:12]
            entries[relative] = f"file {mode} {len(content)}B {digest} {content[:60]!r}"
    return entries


def differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    found = []
    for path in sorted(set(expected) | set(actual)):
        if expected.get(path) != actual.get(path):
            found.append(f"{path}: bash {expected.get(path, 'absent')} | ansible {actual.get(path, 'absent')}")
    return found


def _ansible_playbook() -> str:
    beside = Path(sys.executable).with_name("ansible-playbook")
    return str(beside) if beside.exists() else "ansible-playbook"


def run_case(case: Case, workdir: Path, timeout_s: float = 120) -> Outcome:
    """Run ``case`` both ways under ``workdir`` and compare."""
    bash_root, ansible_root = workdir / "bash", workdir / "ansible"
    bash_root.mkdir(parents=True)
    ansible_root.mkdir()
    script = workdir / "script.sh"
    script.write_text(case.for_root(bash_root), encoding="utf-8")
    ran = subprocess.run(["bash", "-e", str(script)], cwd=workdir, capture_output=True, text=True,
                         timeout=timeout_s, check=False)
    if ran.returncode != 0:
        return Outcome(case.seed, "generator error", detail=(ran.stderr or ran.stdout)[-500:], script=case.text)
    conversion = convert_script(case.for_root(ansible_root))
    text = render_playbook([conversion.play(hosts="localhost", name=f"differential {case.seed}")])
    playbook = workdir / "playbook.yml"
    playbook.write_text(text, encoding="utf-8")
    env = {**os.environ, "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(workdir / ".ansible-tmp"), "ANSIBLE_HOME": str(workdir / ".ansible"),
           "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    played = subprocess.run([_ansible_playbook(), "-i", "localhost,", "-c", "local", str(playbook)], cwd=workdir,
                            capture_output=True, text=True, env=env, timeout=timeout_s, check=False)
    if played.returncode != 0:
        failed = [line for line in played.stdout.splitlines() if line.startswith(("fatal:", "ERROR!", "[ERROR]"))]
        return Outcome(case.seed, "playbook failed", detail=("\n".join(failed) or played.stdout[-800:])[:1500],
                       script=case.text, playbook=text)
    found = differences(tree(bash_root), tree(ansible_root))
    return Outcome(case.seed, "differs" if found else "equivalent", differences=found[:10],
                   script=case.text, playbook=text if found else "")


def run_many(seeds: list[int], steps: int, jobs: int) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="differential-") as tmp:
        def one(seed: int) -> Outcome:
            return run_case(generate(seed, steps), Path(tmp) / str(seed))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(one, seeds))


def report(outcomes: list[Outcome], seeds: str, steps: int, seconds: float) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    lines = ["# Differential runs: generated scripts, bash against ansible-playbook", "",
             "Regenerate with `python -m verify.differential` (see verify/differential.py).", "",
             f"{len(outcomes)} scripts (seeds {seeds}, about {steps} statements each), {seconds:.0f} s.", "",
             "| result | scripts |", "|---|---:|"]
    lines += [f"| {status} | {count} |" for status, count in sorted(counts.items())]
    for outcome in outcomes:
        if outcome.status == "equivalent":
            continue
        lines += ["", f"## seed {outcome.seed}: {outcome.status}", "", "```sh", outcome.script.rstrip(), "```"]
        if outcome.detail:
            lines += ["", "```", outcome.detail.rstrip(), "```"]
        lines += [f"- {d}" for d in outcome.differences]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.differential", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1, help="first seed; case N uses seed + N")
    parser.add_argument("--steps", type=int, default=14)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/results alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seeds = list(range(args.seed, args.seed + args.count))
    started = time.monotonic()
    outcomes = run_many(seeds, args.steps, args.jobs)
    text = report(outcomes, f"{seeds[0]}..{seeds[-1]}", args.steps, time.monotonic() - started)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "differential.md").write_text(text, encoding="utf-8")
        (RESULTS / "differential.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1) + "\n",
                                                   encoding="utf-8")
    return 0 if all(o.status == "equivalent" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
