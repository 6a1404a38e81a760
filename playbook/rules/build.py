"""Building and containers: make, docker pull, composer install."""

from __future__ import annotations

import re
from typing import Any

from playbook.rules import rule
from playbook.rules.base import Invocation, Task, parse_options

MAKE = "community.general.make"
DOCKER_IMAGE = "community.docker.docker_image"
COMPOSER = "community.general.composer"

_MAKE_VARIABLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


@rule("make", "gmake")
def make(inv: Invocation) -> list[Task] | None:
    """`make [-C DIR] [-f FILE] [-j N] [VAR=value...] [TARGET...]` in a known directory."""
    opts = parse_options(inv.args, takes_value="Cfj", long_value=("--directory", "--file", "--makefile", "--jobs"))
    if any(f not in ("-C", "--directory", "-f", "--file", "--makefile", "-j", "--jobs", "-s", "--silent", "--quiet")
           for f, _ in opts.flags):
        return None  # -k, -n, -B, -i ... change what make does in ways the module cannot say
    directory = opts.get("-C", "--directory")
    chdir = inv.path(directory) if directory is not None else inv.directory
    if chdir is None:
        return None
    params: dict[str, str] = {}
    targets: list[str] = []
    for word in opts.positionals:
        variable = _MAKE_VARIABLE.match(word)
        if variable:
            params[variable.group(1)] = variable.group(2)
        else:
            targets.append(word)
    args: dict[str, Any] = {"chdir": chdir}
    if len(targets) == 1:
        args["target"] = targets[0]
    elif targets:
        args["targets"] = targets
    if params:
        args["params"] = params
    makefile = opts.get("-f", "--file", "--makefile")
    if makefile is not None:
        path = inv.path(makefile) if makefile.startswith("/") else makefile
        args["file"] = path
    jobs = opts.get("-j", "--jobs")
    if opts.has("-j", "--jobs"):
        if jobs is None or not jobs.isdigit():
            return None  # `make -j` alone: unlimited jobs, which the module cannot say
        args["jobs"] = int(jobs)
    what = " ".join(targets) if targets else "the default target"
    return [Task(f"Run make {what} in {chdir}", MAKE, args, path=chdir)]


_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$")


@rule("docker")
def docker_pull(inv: Invocation) -> list[Task] | None:
    """`docker pull IMAGE[:TAG]`: pulled on every run (force_source), changed only when the
    image the tag names is new, as `docker pull` does."""
    if len(inv.args) != 2 or inv.args[0] != "pull" or not _IMAGE.match(inv.args[1]):
        return None
    image = inv.args[1]
    return [Task(f"Pull the {image} image", DOCKER_IMAGE, {"name": image, "source": "pull", "force_source": True})]


_COMPOSER_FLAGS = {"--no-dev": "no_dev", "--no-scripts": "no_scripts", "--no-plugins": "no_plugins",
                   "--optimize-autoloader": "optimize_autoloader", "-o": "optimize_autoloader",
                   "--prefer-dist": "prefer_dist", "--prefer-source": "prefer_source",
                   "--classmap-authoritative": "classmap_authoritative", "-a": "classmap_authoritative",
                   "--apcu-autoloader": "apcu_autoloader", "--ignore-platform-reqs": "ignore_platform_reqs"}
_COMPOSER_QUIET = frozenset({"--no-interaction", "-n", "--quiet", "-q", "--no-progress", "--no-ansi"})


def _composer(inv: Invocation, args: tuple[str, ...], executable: str | None) -> list[Task] | None:
    opts = parse_options(args, long_value=("--working-dir",), takes_value="d")
    if opts.positionals[:1] not in (("install",), ("update",)) or len(opts.positionals) != 1:
        return None
    directory = opts.get("-d", "--working-dir")
    working_dir = inv.path(directory) if directory is not None else inv.directory
    if working_dir is None:
        return None
    # the module defaults to --no-dev and --optimize-autoloader; composer itself to neither
    module: dict[str, Any] = {"command": opts.positionals[0], "working_dir": working_dir,
                              "no_dev": False, "optimize_autoloader": False}
    for flag, _ in opts.flags:
        if flag in _COMPOSER_FLAGS:
            module[_COMPOSER_FLAGS[flag]] = True
        elif flag not in _COMPOSER_QUIET and flag not in ("-d", "--working-dir"):
            return None
    # design: the module always adds --no-interaction (and --no-ansi, --no-progress), which
    # a provisioning script run unattended needs anyway
    if executable is not None:
        module["composer_executable"] = executable
    verb = "Install" if opts.positionals[0] == "install" else "Update"
    return [Task(f"{verb} the PHP dependencies of {working_dir} with composer", COMPOSER, module,
                 path=working_dir)]


@rule("composer", "composer.phar")
def composer(inv: Invocation) -> list[Task] | None:
    program = inv.argv[0]
    return _composer(inv, inv.args, program if program.startswith("/") else None)


@rule("php")
def php_composer(inv: Invocation) -> list[Task] | None:
    """`php /usr/local/bin/composer install ...`: composer run by php."""
    if not inv.args or not re.search(r"(^|/)composer(\.phar)?$", inv.args[0]):
        return None
    script = inv.path(inv.args[0])
    if script is None:
        return None
    return _composer(inv, inv.args[1:], script)


# `php -r "copy('URL', 'FILE');"`: PHP's copy() of a URL is a download (composer's documented
# installer step); only that one call, URL and FILE plain single-quoted or double-quoted strings
_PHP_COPY = re.compile(r"""\s*copy\(\s*(['"])(https?://[^'"\s\\$]+)\1\s*,\s*(['"])([^'"\s\\$]+)\3\s*\)\s*;?\s*""")


@rule("php")
def php_download(inv: Invocation) -> list[Task] | None:
    """`php -r "copy('https://getcomposer.org/installer', 'composer-setup.php');"`: get_url, which
    follows redirects as PHP's http wrapper does, and replaces the file as copy() does."""
    if len(inv.args) != 2 or inv.args[0] != "-r":
        return None
    call = _PHP_COPY.fullmatch(inv.args[1])
    if call is None or call.group(4).startswith("php://"):
        return None
    dest = inv.path(call.group(4))
    if dest is None:
        return None
    return [Task(f"Download {call.group(2)} to {dest}", "ansible.builtin.get_url",
                 {"url": call.group(2), "dest": dest, "mode": inv.new_file_mode, "force": True}, path=dest)]
