"""Package managers: apt/apt-get, dnf/yum, apk, snap, pip, npm, add-apt-repository, rpm --import."""

from __future__ import annotations

import re
from typing import Any

from playbook.rules import rule
from playbook.rules.base import Invocation, Options, Task, human_list, no_op, parse_options

APT = "ansible.builtin.apt"
DNF = "ansible.builtin.dnf"


def _install_name(packages: list[str]) -> str:
    return human_list(packages)


_APT_ALLOW = {"--allow-downgrades": "allow_downgrade", "--allow-change-held-packages": "allow_change_held_packages",
              "--allow-unauthenticated": "allow_unauthenticated"}


@rule("apt-get", "apt", "aptitude")
def apt(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="oqtc", long_value=("--option", "--target-release"))
    if not opts.positionals:
        return None
    verb, packages = opts.positionals[0], list(opts.positionals[1:])
    extra: dict[str, Any] = {}
    if opts.has("--no-install-recommends"):
        extra["install_recommends"] = False
    if opts.has("--force-yes"):
        return None  # deprecated: it also lets unauthenticated packages in, which no switch here says alone
    # switches the module has none for, which only change what apt does where it would otherwise
    # stop with an error: without them the task fails there, loudly, where the script went on
    loud = [flag for flag in ("--allow-remove-essential", "--fix-missing", "-m") if opts.has(flag)]
    for flag, key in _APT_ALLOW.items():
        if opts.has(flag):
            extra[key] = True
    # `-o Dpkg::Options::=--force-confnew`: what dpkg does with a changed configuration file
    # (the module's own default is force-confdef,force-confold, so the script's must be said)
    forced = [re.sub(r"^Dpkg::Options::=", "", value) for value in opts.all("-o", "--option")
              if value.startswith("Dpkg::Options::=")]
    if forced:
        if not all(re.fullmatch(r"--force-[a-z-]+", value) for value in forced):
            return None
        extra["dpkg_options"] = ",".join(value.removeprefix("--") for value in forced)
    if opts.get("-t", "--target-release"):
        extra["default_release"] = opts.get("-t", "--target-release")
    if verb == "update" and not packages:
        return [Task("Update the apt package cache", APT,
                     {"update_cache": True, "cache_valid_time": 3600}, role="apt-update")]
    if loud and verb not in ("install", "reinstall"):
        return None
    if verb in ("install", "reinstall") and packages:
        note = None if not loud else (
            f"apt-get {' '.join(loud)} has no switch in the apt module: where apt needs it "
            f"(an essential package to remove, a package that cannot be fetched) the task fails where the script went on")
        debs = [p for p in packages if p.endswith(".deb")]
        if debs:
            if len(debs) != len(packages) or len(debs) > 1 or loud or opts.has("-f", "--fix-broken"):
                return None
            deb = inv.path(debs[0]) if not debs[0].startswith(("http://", "https://")) else debs[0]
            if deb is None:
                return None
            return [Task(f"Install the package file {deb}", APT, {"deb": deb, **extra})]
        # `-f`: `apt-get install -f PKG` mends broken dependencies as it installs: state fixed
        state = "latest" if opts.has("--only-upgrade") else "fixed" if opts.has("-f", "--fix-broken") else "present"
        if state == "fixed" and verb == "reinstall":
            return None
        args: dict[str, Any] = {"name": packages if len(packages) > 1 else packages[0],
                                "state": state, **extra}
        if opts.has("--only-upgrade"):
            args["only_upgrade"] = True
        return [Task(f"Install {_install_name(packages)}", APT, args, note=note)]
    if verb in ("remove", "purge") and packages:
        args = {"name": packages if len(packages) > 1 else packages[0], "state": "absent"}
        if verb == "purge" or opts.has("--purge"):
            args["purge"] = True
        return [Task(f"Remove {_install_name(packages)}", APT, args)]
    if verb in ("upgrade", "dist-upgrade", "full-upgrade") and not packages:
        mode = {"upgrade": "safe", "dist-upgrade": "dist", "full-upgrade": "full"}[verb]
        if inv.name == "apt" and verb == "upgrade":
            mode = "full"  # `apt upgrade` may install new dependencies, like full-upgrade
        return [Task("Upgrade all packages", APT, {"upgrade": mode})]
    if verb == "autoremove" and not packages:
        return [Task("Remove packages that are no longer needed", APT,
                     {"autoremove": True, **({"purge": True} if opts.has("--purge") else {})})]
    if verb in ("clean", "autoclean") and not packages:
        key = "clean" if verb == "clean" else "autoclean"
        return [Task("Clean the apt package cache", APT, {key: True})]
    return None


@rule("dnf", "yum", "microdnf")
def dnf(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, takes_value="", long_value=("--enablerepo", "--disablerepo"))
    if not opts.positionals:
        return None
    verb, packages = opts.positionals[0], list(opts.positionals[1:])
    extra: dict[str, Any] = {}
    if opts.get("--enablerepo"):
        extra["enablerepo"] = opts.get("--enablerepo")
    if opts.get("--disablerepo"):
        extra["disablerepo"] = opts.get("--disablerepo")
    if opts.has("--nogpgcheck"):
        extra["disable_gpg_check"] = True
    name: Any = packages if len(packages) > 1 else (packages[0] if packages else None)
    if verb in ("install", "localinstall", "reinstall") and packages:
        return [Task(f"Install {_install_name(packages)}", DNF,
                     {"name": name, "state": "present", **extra})]
    if verb in ("groupinstall",) and packages:
        groups = ["@" + p for p in packages]
        return [Task(f"Install the {_install_name(packages)} group", DNF,
                     {"name": groups if len(groups) > 1 else groups[0], "state": "present"})]
    if verb == "group" and packages and packages[0] == "install" and len(packages) > 1:
        groups = ["@" + p for p in packages[1:]]
        return [Task(f"Install the {_install_name(packages[1:])} group", DNF,
                     {"name": groups if len(groups) > 1 else groups[0], "state": "present"})]
    if verb in ("remove", "erase") and packages:
        return [Task(f"Remove {_install_name(packages)}", DNF, {"name": name, "state": "absent"})]
    if verb in ("update", "upgrade"):
        if packages:
            return [Task(f"Upgrade {_install_name(packages)}", DNF,
                         {"name": name, "state": "latest", "update_only": True, **extra})]
        return [Task("Upgrade all packages", DNF,
                     {"name": "*", "state": "latest", "update_only": True, **extra})]
    if verb == "config-manager":
        return _add_repo(opts) or _set_enabled(opts)
    if verb == "check-update" and not packages:
        # refreshes the metadata and lists the updates (its exit code 100 says some exist)
        return [Task("Update the package cache", DNF, {"update_cache": True})]
    if verb == "makecache" and not packages:
        return [Task("Update the package cache", DNF, {"update_cache": True})]
    if verb == "autoremove" and not packages:
        return [Task("Remove packages that are no longer needed", DNF, {"autoremove": True})]
    return None


@rule("yum-config-manager")
def yum_config_manager(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, long_value=("--add-repo",))
    return _add_repo(opts, "added from: {url}") if not opts.positionals else None


# how dnf-plugins-core and yum-utils name a repository added from a plain URL (sanitize_url_to_fs)
_REPO_SCHEME = re.compile(r"^\w+:/*(?:\w+:|www\.)?")
_REPO_SLASH = re.compile(r"[?/:&#|~*\[\]()'\\]+")


def _add_repo(opts: Options, description: str = "created by dnf config-manager from {url}") -> list[Task] | None:
    """`config-manager --add-repo URL.repo` downloads the .repo file into /etc/yum.repos.d;
    `--add-repo URL` of a repository itself writes a .repo file for it, named after the URL as
    the tool names it (yum_repository)."""
    urls = opts.all("--add-repo") or [p for p in opts.positionals[1:] if opts.has("--add-repo")]
    if len(urls) == 1 and re.fullmatch(r"(?:https?|ftp|file)://[^\s\[\]{}]+", urls[0]) and not urls[0].endswith(".repo"):
        repoid = _REPO_SLASH.sub("_", _REPO_SCHEME.sub("", urls[0])).lstrip(",.").rstrip(",.")
        if not repoid or len(repoid) > 250 or "{{" in urls[0]:
            return None
        return [Task(f"Add the repository {repoid}", "ansible.builtin.yum_repository",
                     {"name": repoid, "description": description.format(url=urls[0]), "baseurl": urls[0],
                      "enabled": True})]
    if len(urls) != 1 or not re.fullmatch(r"https?://\S+/[^/]+\.repo", urls[0]):
        return None
    dest = "/etc/yum.repos.d/" + urls[0].rsplit("/", 1)[1]
    return [Task(f"Add the repository {urls[0].rsplit('/', 1)[1]}", "ansible.builtin.get_url",
                 {"url": urls[0], "dest": dest, "mode": "0644"}, path=dest)]


def _set_enabled(opts: Options) -> list[Task] | None:
    """`dnf config-manager --set-enabled REPO...` (or --set-disabled, --enable, --disable)."""
    enable = opts.has("--set-enabled", "--enable")
    disable = opts.has("--set-disabled", "--disable")
    repos = list(opts.positionals[1:])
    if enable == disable or not repos or any(f not in ("--set-enabled", "--enable", "--set-disabled", "--disable", "-y")
                                             for f, _ in opts.flags):
        return None
    state = "enabled" if enable else "disabled"
    return [Task(f"{'Enable' if enable else 'Disable'} the {_install_name(repos)} repository", "community.general.dnf_config_manager",
                 {"name": repos, "state": state})]


@rule("apk")
def apk(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if not opts.positionals:
        return None
    verb, packages = opts.positionals[0], list(opts.positionals[1:])
    module = "community.general.apk"
    name: Any = packages if len(packages) > 1 else (packages[0] if packages else None)
    if verb == "add" and packages:
        args: dict[str, Any] = {"name": name, "state": "present"}
        if opts.has("--update"):
            args["update_cache"] = True
        return [Task(f"Install {_install_name(packages)}", module, args)]
    if verb == "del" and packages:
        return [Task(f"Remove {_install_name(packages)}", module, {"name": name, "state": "absent"})]
    if verb == "update" and not packages:
        return [Task("Update the apk package index", module, {"update_cache": True})]
    if verb == "upgrade" and not packages:
        return [Task("Upgrade all packages", module, {"upgrade": True})]
    return None


@rule("pkg")
def pkg(inv: Invocation) -> list[Task] | None:
    """FreeBSD's `pkg install -y NAME...` and `pkg delete -y NAME...`: community.general.pkgng
    (which refreshes the catalogue itself unless told `cached`, as `pkg install` does)."""
    opts = parse_options(inv.args)
    if len(opts.positionals) < 2 or any(f not in ("-y", "--yes") for f, _ in opts.flags):
        return None
    verb, packages = opts.positionals[0], list(opts.positionals[1:])
    if any(inv.is_glob(i) for i in range(1, len(inv.argv))):
        return None
    name: Any = packages if len(packages) > 1 else packages[0]
    if verb in ("install", "add"):
        return [Task(f"Install {_install_name(packages)}", "community.general.pkgng",
                     {"name": name, "state": "present"})]
    if verb in ("delete", "remove"):
        return [Task(f"Remove {_install_name(packages)}", "community.general.pkgng",
                     {"name": name, "state": "absent"})]
    return None


@rule("snap")
def snap(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, long_value=("--channel",))
    if len(opts.positionals) < 2 or opts.positionals[0] not in ("install", "remove"):
        return None
    packages = list(opts.positionals[1:])
    args: dict[str, Any] = {"name": packages if len(packages) > 1 else packages[0]}
    if opts.positionals[0] == "remove":
        return [Task(f"Remove the {_install_name(packages)} snap", "community.general.snap",
                     {**args, "state": "absent"})]
    if opts.has("--classic"):
        args["classic"] = True
    if opts.get("--channel"):
        args["channel"] = opts.get("--channel")
    return [Task(f"Install the {_install_name(packages)} snap", "community.general.snap", args)]


def _pip(inv: Invocation, args: tuple[str, ...], executable: str | None) -> list[Task] | None:
    opts = parse_options(args, takes_value="riec", long_value=(
        "--requirement", "--index-url", "--extra-index-url", "--target", "--constraint"))
    if not opts.positionals or opts.positionals[0] not in ("install", "uninstall"):
        return None
    verb, packages = opts.positionals[0], list(opts.positionals[1:])
    if opts.has("-e", "--editable", "-c", "--constraint", "--target"):
        return None
    module: dict[str, Any] = {}
    requirements = opts.get("-r", "--requirement")
    if requirements:
        path = inv.path(requirements)
        if path is None or packages:
            return None
        module["requirements"] = path
    elif packages:
        if any(p.startswith((".", "/")) for p in packages):
            return None
        module["name"] = packages if len(packages) > 1 else packages[0]
    else:
        return None
    if verb == "uninstall":
        module["state"] = "absent"
    elif opts.has("-U", "--upgrade"):
        module["state"] = "latest"  # faithful: --upgrade upgrades on every run
    extra_args = [f for f, _ in opts.flags if f in ("--user", "--no-cache-dir", "--pre",
                                                    "--break-system-packages", "--quiet", "-q")]
    if opts.get("-i", "--index-url"):
        extra_args.append(f"--index-url {opts.get('-i', '--index-url')}")
    if opts.get("--extra-index-url"):
        extra_args.append(f"--extra-index-url {opts.get('--extra-index-url')}")
    if extra_args:
        module["extra_args"] = " ".join(extra_args)
    if executable:
        module["executable"] = executable
    what = f"the requirements in {requirements}" if requirements else _install_name(packages)
    verb_name = "Uninstall" if verb == "uninstall" else "Install"
    note = ("`pip install --upgrade` becomes state: latest, which upgrades on every run; "
            "pin versions if runs must repeat") if module.get("state") == "latest" else None
    return [Task(f"{verb_name} {what} with pip", "ansible.builtin.pip", module, note=note)]


@rule("pip", "pip3")
def pip(inv: Invocation) -> list[Task] | None:
    program = inv.argv[0]
    executable = program if program not in ("pip",) else None
    return _pip(inv, inv.args, executable)


@rule("python", "python3")
def python_m_pip(inv: Invocation) -> list[Task] | None:
    if len(inv.args) < 2 or inv.args[0] != "-m" or inv.args[1] != "pip":
        return None
    return _pip(inv, inv.args[2:], None if inv.argv[0] == "python3" else f"{inv.argv[0]} -m pip")


@rule("npm")
def npm(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args, long_value=("--prefix",))
    if not opts.positionals or opts.positionals[0] not in ("install", "i", "ci", "uninstall"):
        return None
    verb, packages = opts.positionals[0], list(opts.positionals[1:])
    module = "community.general.npm"
    global_ = opts.has("-g", "--global")
    extra: dict[str, Any] = {}
    if opts.has("--production", "--omit=dev") or opts.get("--omit") == "dev":
        extra["production"] = True
    if verb == "ci" or (not packages and not global_):
        if inv.directory is None:
            return None
        args: dict[str, Any] = {"path": inv.directory, **extra}
        if verb == "ci":
            args["ci"] = True
        return [Task(f"Install the node packages of {inv.directory}", module, args)]
    if not packages:
        return None
    tasks = []
    for package in packages:
        name, version = package, None
        if "@" in package[1:]:
            at = package.rindex("@")
            name, version = package[:at], package[at + 1:]
        args = {"name": name}
        if version and version != "latest":
            args["version"] = version
        elif version == "latest":
            args["state"] = "latest"
        if global_:
            args["global"] = True
        elif inv.directory is not None:
            args["path"] = inv.directory
        else:
            return None
        if verb == "uninstall":
            args["state"] = "absent"
        where = "globally" if global_ else f"in {inv.directory}"
        action = "Uninstall" if verb == "uninstall" else "Install"
        tasks.append(Task(f"{action} the {name} node package {where}", module, {**args, **extra}))
    return tasks


@rule("add-apt-repository", "apt-add-repository")
def add_apt_repository(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if len(opts.positionals) != 1:
        return None
    repo = opts.positionals[0]
    state = "absent" if opts.has("-r", "--remove") else "present"
    action = "Remove" if state == "absent" else "Add"
    return [Task(f"{action} the {repo} apt repository", "ansible.builtin.apt_repository",
                 {"repo": repo, "state": state})]


@rule("rpm")
def rpm(inv: Invocation) -> list[Task] | None:
    if len(inv.args) == 2 and inv.args[0] == "--import":
        return [Task(f"Import the RPM signing key {inv.args[1]}", "ansible.builtin.rpm_key",
                     {"key": inv.args[1], "state": "present"})]
    opts = parse_options(inv.args)
    letters = {f for f, _ in opts.flags}
    if ("-i" in letters or "-U" in letters) and len(opts.positionals) == 1:
        return [Task(f"Install {opts.positionals[0]}", DNF,
                     {"name": opts.positionals[0], "state": "present"})]
    return None


@rule("dpkg")
def dpkg(inv: Invocation) -> list[Task] | None:
    opts = parse_options(inv.args)
    if opts.has("-i", "--install") and len(opts.positionals) == 1:
        path = inv.path(opts.positionals[0])
        if path is None:
            return None
        return [Task(f"Install the package file {path}", APT, {"deb": path})]
    return None


DPKG_SELECTIONS = "ansible.builtin.dpkg_selections"
APT_KEY = "ansible.builtin.apt_key"
APT_KEY_NOTE = ("apt-key is deprecated on current Debian and Ubuntu; prefer a key file in "
                "/etc/apt/keyrings and signed-by in the repository line")


def _selections(pairs: list[tuple[str, str]]) -> list[Task]:
    """dpkg_selections tasks for (package, selection) pairs: one task, or a loop."""
    verbs = {"hold": "Hold", "install": "Release the hold on", "deinstall": "Mark for removal",
             "purge": "Mark for purging"}
    selections = {selection for _, selection in pairs}
    if len(pairs) == 1 or len(selections) != 1:
        return [Task(f"{verbs[selection]} {name}", DPKG_SELECTIONS, {"name": name, "selection": selection})
                for name, selection in pairs]
    names = [name for name, _ in pairs]
    selection = pairs[0][1]
    return [Task(f"{verbs[selection]} {_install_name(names)}", DPKG_SELECTIONS,
                 {"name": "{{ item }}", "selection": selection}, extra={"loop": names})]


@rule("apt-mark")
def apt_mark(inv: Invocation) -> list[Task] | None:
    """`apt-mark hold PKG...` / `unhold`: dpkg's selection for each package."""
    opts = parse_options(inv.args)
    if opts.flags and not all(f in ("-q", "--quiet") for f, _ in opts.flags):
        return None
    if not opts.positionals:
        return None
    verb, packages = opts.positionals[0], list(opts.positionals[1:])
    if verb in ("showhold", "showauto", "showmanual") and not packages:
        return [no_op(f"apt-mark {verb} only reports")]
    if verb not in ("hold", "unhold") or not packages:
        return None  # auto/manual marks have no module
    selection = "hold" if verb == "hold" else "install"
    return _selections([(package, selection) for package in packages])


_SELECTION_LINE = re.compile(r"^(\S+)\s+(install|hold|deinstall|purge)$")


@rule("dpkg")
def dpkg_set_selections(inv: Invocation) -> list[Task] | None:
    """`echo "nginx hold" | dpkg --set-selections`: one selection per line of its input."""
    if inv.args != ("--set-selections",) or inv.stdin is None:
        return None
    pairs: list[tuple[str, str]] = []
    for line in inv.stdin.splitlines():
        if not line.strip():
            continue
        match = _SELECTION_LINE.match(line.strip())
        if match is None:
            return None
        pairs.append((match.group(1), match.group(2)))
    return _selections(pairs) if pairs else None


@rule("apt-key")
def apt_key(inv: Invocation) -> list[Task] | None:
    """`apt-key add FILE|-`, `apt-key adv --keyserver K --recv-keys ID...`, `apt-key del ID`."""
    args = list(inv.args)
    if args[:1] == ["add"] and len(args) == 2:
        if args[1] == "-":
            if inv.stdin is None or "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in inv.stdin:
                return None
            return [Task("Add an apt signing key", APT_KEY, {"data": inv.stdin, "state": "present"},
                         note=APT_KEY_NOTE)]
        path = inv.path(args[1])
        if path is None:
            return None
        return [Task(f"Add the apt signing key in {path}", APT_KEY, {"file": path, "state": "present"},
                     note=APT_KEY_NOTE)]
    if args[:1] == ["del"] and len(args) == 2:
        return [Task(f"Remove the apt signing key {args[1]}", APT_KEY, {"id": args[1], "state": "absent"})]
    if args[:1] == ["adv"]:
        opts = parse_options(args[1:], long_value=("--keyserver",))
        keyserver = opts.get("--keyserver")
        ids = list(opts.positionals)
        if keyserver is None or not opts.has("--recv-keys", "--recv") or not ids \
                or any(f not in ("--keyserver", "--recv-keys", "--recv") for f, _ in opts.flags) \
                or not all(re.fullmatch(r"(0x)?[0-9A-Fa-f]{8,40}", i) for i in ids):
            return None
        return [Task(f"Add the apt signing key {key} from {keyserver}", APT_KEY,
                     {"keyserver": keyserver, "id": key, "state": "present"}, note=APT_KEY_NOTE)
                for key in ids]
    return None


@rule("gem")
def gem(inv: Invocation) -> list[Task] | None:
    """`gem install NAME... [-v VERSION] [--no-document]`, `gem uninstall NAME`."""
    opts = parse_options(inv.args, takes_value="v", long_value=("--version",))
    if not opts.positionals or opts.positionals[0] not in ("install", "uninstall"):
        return None
    verb, names = opts.positionals[0], list(opts.positionals[1:])
    known = {"-v", "--version", "--no-document", "--no-ri", "--no-rdoc", "-N", "--user-install"}
    if not names or any(f not in known for f, _ in opts.flags):
        return None
    version = opts.get("-v", "--version")
    if version is not None and (len(names) != 1 or not re.fullmatch(r"[0-9][0-9A-Za-z.]*", version)):
        return None  # a requirement like '>= 2' is not one version
    if len(names) > 1 or version is None:
        # RubyGems' NAME:VERSION, one gem at one version (`gem install puppet:7.22.0 xmlrpc`)
        pinned = [n.partition(":") for n in names]
        if any(sep and (verb != "install" or not re.fullmatch(r"[0-9][0-9A-Za-z.]*", v)) for _, sep, v in pinned):
            return None
    else:
        pinned = [(n, "", "") for n in names]
    if any(n.endswith(".gem") or "/" in n or ":" in n for n, _, _ in pinned):
        return None
    args: dict[str, Any] = {"state": "absent" if verb == "uninstall" else "present"}
    if version:
        args["version"] = version
    if verb == "install":
        # gem installs for everyone when run as root; the module defaults to the user's gems
        args["user_install"] = opts.has("--user-install")
        if opts.has("--no-document", "--no-ri", "--no-rdoc", "-N"):
            args["include_doc"] = False
    action = "Uninstall" if verb == "uninstall" else "Install"
    return [Task(f"{action} the {name} gem", "community.general.gem",
                 {"name": name, **args, **({"version": pin} if pin else {})}) for name, _, pin in pinned]


@rule("yum", "dnf")
def yum_clean(inv: Invocation) -> list[Task] | None:
    """`yum -y clean all`: no module cleans the caches; the command, written the way lint
    knows as not a package operation (`yum clean ...`), says it is always a change."""
    opts = parse_options(inv.args)
    if opts.positionals[:1] != ("clean",) or len(opts.positionals) != 2 \
            or opts.positionals[1] not in ("all", "packages", "metadata", "expire-cache", "dbcache"):
        return None
    kept = [f if value is None else f"{f}={value}" for f, value in opts.flags if f not in ("-y", "--assumeyes", "-q")]
    cmd = " ".join([inv.name, "clean", opts.positionals[1], *kept])
    return [Task(f"Clean the {inv.name} caches", "ansible.builtin.command", {"cmd": cmd},
                 extra={"changed_when": True})]
