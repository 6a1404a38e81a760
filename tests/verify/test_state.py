"""The pure parts of verify: state snapshots and diffs on small fake trees, exclusion rules,
the corpus manifest, failure classes, apt sources and ansible failure parsing. No root needed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from verify.corpus import Script, blocked, failure_reason, load_corpus
from verify.rootfs import debian_sources
from verify.state import UNCHANGED, Difference, State, content_hint, diff, excluded, snapshot

UID, GID = os.getuid(), os.getgid()


def make_tree(root: Path, files: Mapping[str, str | None], *, owner: str = "root",
              users: str = "", shadow: str = "", groups: str = "") -> Path:
    """A fake root: `files` maps paths to content (None: a directory). The current uid/gid
    are named `owner` in the tree's own /etc/passwd and /etc/group."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text(f"{owner}:x:{UID}:{GID}::/root:/bin/bash\n{users}")
    (root / "etc/group").write_text(f"{owner}:x:{GID}:\n{groups}")
    (root / "etc/shadow").write_text(shadow)
    for rel, content in files.items():
        path = root / rel.lstrip("/")
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    return root


def differences(tmp_path: Path, a: Mapping[str, str | None], b: Mapping[str, str | None],
                **kw: str) -> list[Difference]:
    return diff(snapshot(make_tree(tmp_path / "a", a)), snapshot(make_tree(tmp_path / "b", b, **kw)))


def test_identical_trees_have_no_difference(tmp_path: Path) -> None:
    files: dict[str, str | None] = {"/etc/app/app.conf": "x=1\n", "/srv": None}
    assert differences(tmp_path, files, files) == []


def test_content_mode_owner_and_presence(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a", {"/etc/app.conf": "port=80\nuser=www\n", "/etc/only-a": "1",
                                   "/opt/app/lib/x.py": "", "/opt/app/bin/run": ""})
    b = make_tree(tmp_path / "b", {"/etc/app.conf": "port=8080\nuser=www\n", "/etc/mode": "m"},
                  owner="alice")
    (a / "etc/mode").write_text("m")
    (a / "etc/mode").chmod(0o640)
    (b / "etc/mode").chmod(0o644)
    found = {d.subject: d for d in diff(snapshot(a), snapshot(b))}
    assert found["/etc/app.conf"].reason == "owner root:root vs alice:alice, content differs"
    assert "mode 0640 vs 0644" in found["/etc/mode"].reason
    assert "owner root:root vs alice:alice" in found["/etc/mode"].reason
    assert found["/etc/only-a"].reason == "file only after the script"
    # a directory only one side has is one difference, its subtree counted
    assert found["/opt"].reason == "dir only after the script (with 5 entries beneath)"
    assert not any(s.startswith("/opt/") for s in found)
    assert content_hint(a, b, "/etc/app.conf") == "line 1: 'port=80' vs 'port=8080'"


def test_symlinks_compare_targets(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a", {"/etc/x": "1"})
    b = make_tree(tmp_path / "b", {"/etc/x": "1"})
    (a / "etc/link").symlink_to("/etc/x")
    (b / "etc/link").symlink_to("/etc/y")
    [found] = diff(snapshot(a), snapshot(b))
    assert found.subject == "/etc/link" and found.reason == "link target /etc/x vs /etc/y"


@pytest.mark.parametrize("path", [
    "/var/log/apt/history.log", "/var/cache/apt/archives/x.deb", "/var/lib/apt/lists/foo",
    "/tmp/.ansible/tmp/x", "/run/lock", "/proc/1", "/usr/lib/python3/dist-packages/a/__pycache__",
    "/usr/lib/x.pyc", "/root/.ansible", "/var/lib/dpkg/status", "/etc/shadow", "/etc/passwd-",
    "/etc/systemd/system/multi-user.target.wants",
])
def test_noise_is_excluded(path: str) -> None:
    rule = excluded(path)
    assert rule is not None and rule.reason and not rule.content_only


@pytest.mark.parametrize("path", [
    "/etc/nginx/nginx.conf", "/tmp/corpus-root/motd/etc/motd", "/tmp/corpus-root", "/tmp",
    "/var/lib/dpkg/statoverride", "/var/lib/dpkg/alternatives/editor", "/etc/sysctl.d/1.conf",
    "/var/spool/cron/crontabs/root", "/home/alice/.ssh/authorized_keys",
])
def test_state_is_not_excluded(path: str) -> None:
    assert excluded(path) is None


def test_excluded_paths_are_not_walked_and_random_content_is_not_compared(tmp_path: Path) -> None:
    a = {"/var/log/syslog": "a", "/tmp/x": "a", "/etc/ssh/ssh_host_rsa_key": "key-a",
         "/usr/lib/m/__pycache__/m.pyc": "a", "/tmp/corpus-root/f": "same"}
    b = {"/var/log/syslog": "b", "/etc/ssh/ssh_host_rsa_key": "key-b", "/tmp/corpus-root/f": "same",
         "/usr/lib/m": None}
    assert differences(tmp_path, a, b) == []
    state = snapshot(tmp_path / "a")
    assert "/var/log/syslog" not in state.files and "/tmp/corpus-root/f" in state.files
    assert state.files["/etc/ssh/ssh_host_rsa_key"].digest is None  # present, content ignored


def test_users_compare_password_state_not_salt(tmp_path: Path) -> None:
    users = "alice:x:1000:1000:Alice:/home/alice:/bin/bash\nsvc:x:105:105::/nonexistent:/usr/sbin/nologin\n"
    groups = "alice:x:1000:\nsvc:x:105:\ndevelopers:x:1001:alice\n"
    a = make_tree(tmp_path / "a", {}, users=users, groups=groups,
                  shadow="alice:$y$j9T$saltA$hashA:19000:0:99999:7:::\n")
    b = make_tree(tmp_path / "b", {}, users=users.replace(":105:105:", ":106:106:"),
                  groups=groups.replace(":105:", ":106:"),
                  shadow="alice:$y$j9T$saltB$hashB:20000:0:99999:7:::\n")
    assert diff(snapshot(a), snapshot(b)) == []  # salts, change day, system ids: not compared
    (b / "etc/shadow").write_text("alice:!$y$j9T$saltB$hashB:20000:0:99999:7:::\n")
    (b / "etc/group").write_text(f"root:x:{GID}:\nalice:x:1000:\nsvc:x:106:\ndevelopers:x:1001:\n")
    found = {(d.category, d.subject): d for d in diff(snapshot(a), snapshot(b))}
    assert found[("user", "alice")].reason == "password hash:$y$ vs locked hash:$y$"
    assert found[("group", "developers")].reason == "members alice vs -"


def test_human_uid_numbers_are_compared(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a", {}, users="bob:x:1001:1001::/home/bob:/bin/sh\n")
    b = make_tree(tmp_path / "b", {}, users="bob:x:1002:1001::/home/bob:/bin/bash\n")
    [found] = diff(snapshot(a), snapshot(b))
    assert found.category == "user" and found.reason == "uid 1001 vs 1002, shell /bin/sh vs /bin/bash"


def test_packages_units_sysctl_and_crontabs(tmp_path: Path) -> None:
    status = ("Package: nginx\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.22\n\n"
              "Package: gone\nStatus: deinstall ok config-files\nArchitecture: all\nVersion: 2\n")
    a = make_tree(tmp_path / "a", {
        "/var/lib/dpkg/status": status,
        "/etc/sysctl.d/60-x.conf": "# tuned\nvm.swappiness = 10\nnet.ipv4.ip_forward=1\n",
        "/var/spool/cron/crontabs/root": "# DO NOT EDIT THIS FILE\n# (- installed on Mon)\n0 3 * * * /bin/true\n",
        "/etc/systemd/system/multi-user.target.wants": None})
    b = make_tree(tmp_path / "b", {
        "/var/lib/dpkg/status": status.split("\n\n")[0] + "\n",
        "/etc/sysctl.d/60-x.conf": "vm.swappiness=10\nnet.ipv4.ip_forward = 0\n",
        "/var/spool/cron/crontabs/root": "# (/tmp/crontabX installed on Tue)\n#Ansible: true\n0  3 * * * /bin/true\n",
        "/etc/systemd/system/multi-user.target.wants": None})
    (a / "etc/systemd/system/multi-user.target.wants/nginx.service").symlink_to("/lib/systemd/system/nginx.service")
    state = snapshot(a)
    assert state.packages == {"nginx:amd64": "1.22", "gone:all": "2 (config-files)"}
    assert state.sysctl == {"vm.swappiness": "10", "net.ipv4.ip_forward": "1"}
    found = [str(d) for d in diff(state, snapshot(b))]
    assert found == [
        "[package] gone:all: only after the script",
        "[unit] multi-user.target.wants/nginx.service: only after the script",
        "[sysctl] net.ipv4.ip_forward: value 1 vs 0",
        "[sysctl] /etc/sysctl.d/60-x.conf: content differs",  # the crontab's lines are the same
    ]


def test_hash_only_leaves_unwritten_files_unread(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "a", {"/etc/written": "1", "/etc/base": "2"})
    state = snapshot(tree, hash_only={"/etc/written"}.__contains__)
    assert state.files["/etc/base"].digest == UNCHANGED
    assert state.files["/etc/written"].digest.startswith("sha256:")  # type: ignore[union-attr]


def test_diff_orders_categories() -> None:
    from verify.state import FileEntry, UserEntry
    a = State(files={"/etc/a": FileEntry("file", 0o644, "root", "root", "sha256:1")},
              users={"u": UserEntry(1000, "u", "", "/home/u", "/bin/sh", "none")})
    b = State(packages={"p:all": "1"})
    assert [d.category for d in diff(a, b)] == ["package", "user", "file"]


# --- corpus, manifest, failure classes --------------------------------------------------------

def test_manifest_shapes_and_guesses(tmp_path: Path) -> None:
    (tmp_path / "a.sh").write_text("apt-get install -y nginx\n")
    (tmp_path / "b.sh").write_text("dnf install -y httpd\n")
    (tmp_path / "c.sh").write_text("curl -fsSL https://get.example.com | sh\napt-get install -y x\n")
    guessed = {s.name: s for s in load_corpus(tmp_path)}
    assert (guessed["a"].distro, guessed["a"].network) == ("debian", False)
    assert guessed["b"].distro == "rhel" and "rhel-only" in (blocked(guessed["b"]) or "")
    assert guessed["c"].network and blocked(guessed["c"]) is None
    for manifest in (
        "scripts:\n  - {file: a.sh, distro: rhel, network: false}\n  - {file: c.sh, distro: any, network: mirror}\n",
        "- file: a.sh\n  distro: rhel\n  network: none\n- file: c.sh\n  distro: debian\n  network: false\n",
        "a.sh: {distro: rhel, network: false}\nc.sh: {distro: any}\n",
    ):
        (tmp_path / "MANIFEST.yaml").write_text(manifest)
        listed = {s.name: s for s in load_corpus(tmp_path)}
        assert listed["a"].distro == "rhel" and listed["a"].from_manifest
        assert not listed["c"].network and listed["c"].from_manifest
        assert not listed["b"].from_manifest  # not listed: guessed
    assert [s.name for s in load_corpus(tmp_path, only="c")] == ["c"]
    (tmp_path / "MANIFEST.yaml").write_text(
        "scripts:\n- {file: a.sh, distro: debian, network: 'none (the ISO is already there)'}\n"
        "- {file: c.sh, distro: debian, network: 'apt.postgresql.org (PGDG repository)'}\n")
    listed = {s.name: s for s in load_corpus(tmp_path)}
    assert not listed["a"].network and listed["c"].network


def test_failure_reasons() -> None:
    plain = Script("s", Path("s.sh"), "debian", False, False)
    net = Script("n", Path("n.sh"), "debian", True, True)
    assert failure_reason("curl: (6) Could not resolve host: get.docker.com\n", 6, 300, plain).startswith(
        "network: needs the network beyond the Debian mirror: download failed")
    assert failure_reason("E: boom\n", 100, 300, net).startswith("network:")
    assert failure_reason("modprobe: FATAL: Module br_netfilter not found\n", 1, 300, plain).startswith("host:")
    assert failure_reason("x\n", None, 300, plain).startswith("timeout: the script ran over 300 s")
    assert failure_reason("sed: can't read /etc/x: No such file\n", 2, 300, plain).startswith(
        "script failed: exit 2 (last output: sed: can't read")


def test_debian_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://mirror.example/debian bookworm main contrib\n"
                                           "deb http://other.example/x focal main\n")
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb-src\nURIs: http://src.example\nSuites: bookworm\nComponents: main\n")
    (tmp_path / "sources.list.d/node.sources.disabled").write_text("Types: deb\nURIs: http://n\nSuites: bookworm\n")
    found = debian_sources("bookworm", tmp_path)
    assert [(s.uri, s.suites) for s in found] == [
        ("http://mirror.example/debian", ("bookworm",)),
        ("http://deb.example/debian", ("bookworm", "bookworm-updates"))]


def test_playbook_failure_names_the_task(tmp_path: Path) -> None:
    from verify.run import playbook_failure
    from verify.sandbox import RunResult
    log = tmp_path / "playbook.log"
    log.write_text('TASK [Install nginx] ****\nok: [h]\nTASK [Start it] ****\n'
                   'fatal: [/x]: FAILED! => {"changed": false, "msg": "Could not find the requested service foo: host"}\n'
                   'PLAY RECAP ****\n')
    found = playbook_failure(RunResult(2, 1.0, log.read_text(), log, 300))
    assert found.subject == "task 'Start it'"
    assert found.reason == "playbook failed (exit 2): Could not find the requested service foo: host"


def test_generated_keys_certificates_and_swap_compare_by_kind(tmp_path: Path) -> None:
    def pem(kind: str, body: str) -> str:
        return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"

    swap_a = bytearray(40960)
    swap_a[4086:4096] = b"SWAPSPACE2"
    swap_b = bytearray(swap_a)
    swap_b[1036:1052] = b"another-uuid-xyz"
    a = make_tree(tmp_path / "a", {"/etc/ssl/app.key": pem("PRIVATE KEY", "AAAA"),
                                   "/etc/ssl/app.crt": pem("CERTIFICATE", "BBBB"),
                                   "/root/.ssh/id_ed25519.pub": "ssh-ed25519 AAAAC3Nza1 root@verify\n",
                                   "/etc/ssl/ca.crt": pem("CERTIFICATE", "CA") + pem("CERTIFICATE", "X")})
    b = make_tree(tmp_path / "b", {"/etc/ssl/app.key": pem("PRIVATE KEY", "CCCC"),
                                   "/etc/ssl/app.crt": pem("CERTIFICATE", "DDDD"),
                                   "/root/.ssh/id_ed25519.pub": "ssh-ed25519 AAAAC3Nza2 root@verify\n",
                                   "/etc/ssl/ca.crt": pem("CERTIFICATE", "CA")})
    (a / "swapfile").write_bytes(bytes(swap_a))
    (b / "swapfile").write_bytes(bytes(swap_b))
    found = [str(d) for d in diff(snapshot(a), snapshot(b))]
    assert found == ["[file] /etc/ssl/ca.crt: content differs"]  # one certificate vs two


def test_cron_environment_quotes_and_ansible_markers_are_the_same(tmp_path: Path) -> None:
    script = "# remove old uploads\nSHELL=/bin/bash\n15 4 * * * www-data find /tmp -delete\n"
    playbook = '#Ansible: SHELL\nSHELL="/bin/bash"\n#Ansible: remove old uploads\n15 4 * * *  www-data find /tmp -delete\n'
    assert differences(tmp_path, {"/etc/cron.d/cleanup": script}, {"/etc/cron.d/cleanup": playbook}) == []


def test_blockinfile_markers_are_not_a_difference(tmp_path: Path) -> None:
    script = {"/etc/security/limits.conf": "# defaults\n* soft nofile 65535\n"}
    playbook = {"/etc/security/limits.conf":
                "# defaults\n# BEGIN ANSIBLE MANAGED BLOCK\n* soft nofile 65535\n# END ANSIBLE MANAGED BLOCK\n"}
    assert differences(tmp_path, script, playbook) == []


def test_other_comment_only_differences_are_named(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a", {"/etc/security/limits.conf": "# defaults\n* soft nofile 65535\n"})
    b = make_tree(tmp_path / "b", {"/etc/security/limits.conf": "# managed by ansible\n* soft nofile 65535\n"})
    [found] = diff(snapshot(a), snapshot(b))
    assert content_hint(a, b, found.subject) == (
        "only comment or blank lines differ")


def test_a_playbook_download_failure_is_a_network_sign(tmp_path: Path) -> None:
    from verify.corpus import network_sign
    from verify.run import playbook_failure
    from verify.sandbox import RunResult
    log = tmp_path / "playbook.log"
    log.write_text('TASK [Add the apt signing key] ****\nfatal: [/x]: FAILED! => {"msg": "Failed to download key at '
                   'https://apt.example.org/k.asc: Request failed: <urlopen error [Errno -2] Name or service not known>"}\n')
    failure = playbook_failure(RunResult(2, 1.0, log.read_text(), log, 300))
    assert network_sign(failure.reason) == "Name or service not known"
    assert network_sign("non-zero return code") is None


def test_missing_commands_are_named() -> None:
    plain = Script("s", Path("s.sh"), "debian", False, False)
    reason = failure_reason("script.sh: line 75: restart_service: command not found\n", 127, 300, plain)
    assert reason.startswith("missing: needs restart_service")


def test_a_playbook_failure_the_script_met_and_went_past_is_matched() -> None:
    from verify.run import same_failure
    failure = Difference("playbook", "task 'Install mysql-server'",
                         "playbook failed (exit 2): No package matching 'mysql-server' is available")
    ignored = ["apt-get install -y mysql-server (exit 100)", "grep -q x /etc/f (exit 1)"]
    assert same_failure(ignored, failure) == ["apt-get install -y mysql-server (exit 100)"]
    other = Difference("playbook", "task 'Create the directory /srv/app'", "playbook failed (exit 2): denied")
    assert same_failure(ignored, other) == []


def test_shell_errors_in_the_log_are_failures_the_script_went_past(tmp_path: Path) -> None:
    from verify.run import same_failure
    from verify.sandbox import ignored_failures
    log = ("/tmp/.verify/script.sh: 4: ufw: not found\n/tmp/.verify/script.sh: line 37: docker: command not found\n"
           "Latest version is 1.2\nE: Package 'mysql-server' has no installation candidate\n"
           "E: Unable to locate package php5-fpm\n")
    found = ignored_failures(tmp_path, log)
    assert found == ["ufw (not found)", "docker (command not found)", "mysql-server (apt: no such package)",
                     "php5-fpm (apt: no such package)"]
    failure = Difference("playbook", "task 'Allow 6379 in ufw'",
                         'playbook failed (exit 2): Failed to find required executable "ufw" in paths')
    assert same_failure(found, failure) == ["ufw (not found)"]


def test_manifest_prepare_and_context(tmp_path: Path) -> None:
    from verify.run import convert
    (tmp_path / "context").mkdir()
    (tmp_path / "context/lib.sh").write_text("quiet() {\n  \"$@\" > /dev/null\n}\n")
    (tmp_path / "a.sh").write_text("quiet apt-get install -y nginx\n")
    (tmp_path / "MANIFEST.yaml").write_text(
        "scripts:\n- {file: a.sh, distro: debian, network: none, prepare: useradd vagrant, context: [context/lib.sh]}\n")
    [script] = load_corpus(tmp_path)
    assert script.prepare == "useradd vagrant" and script.context.startswith("quiet() {")
    assert "ansible.builtin.apt:" in convert(script)  # the library the script sources is its context
