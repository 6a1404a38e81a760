"""Shell state that later commands inherit: the umask, traps, and builtins no program runs.

Each case here was a playbook that did not do what the script did: `(umask 077; openssl rand >
secret)` wrote a world-readable secret (mail-in-a-box's management setup, realworld script 20),
`trap cleanup EXIT` became a command task that cannot run (`trap` is no program) and that, as a
shell task, would have run `cleanup` there and then, and `eval ...` became a command task that
fails on every host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from playbook.chunking import split_script
from playbook.convert import COMMAND, SHELL, convert_script
from playbook.convert.shapes import SHELL_BUILTINS
from playbook.render import render_playbook

FILE = "ansible.builtin.file"
COPY = "ansible.builtin.copy"


def _task(conversion, module: str, path: str) -> dict:
    for task in conversion.tasks:
        args = task.get(module)
        if isinstance(args, dict) and path in (args.get("path"), args.get("dest")) or \
                isinstance(args, dict) and path in str(args.get("cmd", "")):
            return task
    raise AssertionError(f"no {module} task for {path} in {conversion.tasks}")


def test_a_subshells_umask_gives_its_files_their_modes_and_ends_with_it() -> None:
    conversion = convert_script(
        "(umask 077; echo secret > /srv/key.txt; mkdir /srv/private; openssl rand -base64 32 > /srv/token)\n"
        "echo public > /srv/readme.txt\nmkdir /srv/public\n")
    assert _task(conversion, COPY, "/srv/key.txt")[COPY]["mode"] == "0600"
    assert _task(conversion, FILE, "/srv/private")[FILE]["mode"] == "0700"
    shell = _task(conversion, SHELL, "/srv/token")[SHELL]
    assert shell["cmd"].splitlines()[0] == "umask 077"
    # after the subshell: the usual 022
    assert _task(conversion, COPY, "/srv/readme.txt")[COPY]["mode"] == "0644"
    assert _task(conversion, FILE, "/srv/public")[FILE]["mode"] == "0755"


def test_a_top_level_umask_holds_for_the_rest_of_the_script_and_an_explicit_mode_wins() -> None:
    conversion = convert_script("umask 027\ntouch /srv/log\nmkdir -m 0711 /srv/drop\n"
                                "curl -fsSL -o /srv/tool https://example.com/tool\nopenssl genrsa -out /srv/k.pem\n")
    assert _task(conversion, FILE, "/srv/log")[FILE]["mode"] == "0640"
    assert _task(conversion, FILE, "/srv/drop")[FILE]["mode"] == "0711"  # mkdir -m is not masked
    assert _task(conversion, "ansible.builtin.get_url", "/srv/tool")["ansible.builtin.get_url"]["mode"] == "0640"
    # a command no rule knows runs in a shell that sets the umask first (a command task cannot)
    assert _task(conversion, SHELL, "genrsa")[SHELL]["cmd"].startswith("umask 027\n")
    assert not any(COMMAND in task for task in conversion.tasks)


def test_a_symbolic_umask_is_not_followed_and_says_so() -> None:
    conversion = convert_script("umask u=rwx,g=,o=\necho x > /srv/a\n")
    assert _task(conversion, COPY, "/srv/a")[COPY]["mode"] == "0644"
    assert any("umask u=rwx,g=,o=" in w and "usual umask 022" in w for w in conversion.warnings)


def test_split_chunks_carry_the_umask() -> None:
    # the chunker hands each chunk the state commands before it; a chunk after `umask 077` must
    # see it, or a split conversion makes world-readable files the whole one does not
    script = "umask 077\n" + "".join(f"echo {n} > /srv/f{n}\n" for n in range(25))
    chunks = split_script(script, 10)
    assert len(chunks) >= 3
    last = convert_script(chunks[-1].text, chunks[-1].context)
    assert {task[COPY]["mode"] for task in last.tasks if COPY in task} == {"0600"}


def test_trap_makes_no_task_and_names_what_no_longer_runs() -> None:
    conversion = convert_script("cleanup() { rm -f /tmp/lock; }\ntrap cleanup EXIT INT TERM\ntrap '' HUP\n"
                                "trap - EXIT\ntouch /tmp/lock\n")
    assert not any("trap" in str(task) for task in conversion.tasks)
    warnings = [w for w in conversion.warnings if "trap" in w]
    assert len(warnings) == 1 and warnings[0].startswith("line 2: `trap cleanup EXIT INT TERM`")
    assert "`cleanup` does not run" in warnings[0]


@pytest.mark.parametrize("line", ["eval \"$(ssh-agent -s)\"", "let \"n += 1\"", "getopts ab opt", "builtin pwd", "disown"])
def test_builtins_no_program_runs_become_shell_tasks(line: str) -> None:
    conversion = convert_script(line + "\n")
    assert [next(iter(k for k in t if k.startswith("ansible."))) for t in conversion.tasks] == [SHELL]


@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="needs bash")
def test_the_builtin_list_holds_only_names_with_no_program_on_this_machine() -> None:
    # the list is why a command task cannot run them; a name with a program of its own would
    # be fine as a command (e.g. echo, test, kill, printf are in /usr/bin)
    with_program = sorted(name for name in SHELL_BUILTINS if name != "." and shutil.which(name))
    assert with_program == []
    # and each is a builtin bash knows
    out = subprocess.run(["bash", "-c", "compgen -b"], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(set(SHELL_BUILTINS) - set(out)) == []


UMASK_SCRIPT = ("mkdir -p {root}\n"
                "(umask 077; echo secret > {root}/key.txt; mkdir {root}/private; date > {root}/stamp)\n"
                "echo public > {root}/readme.txt\nmkdir {root}/public\n"
                "umask 027\ntouch {root}/log\nhostname > {root}/host\n")


def _modes(root: Path) -> dict[str, str]:
    return {path.name: oct(path.stat().st_mode & 0o7777) for path in sorted(root.iterdir())}


def test_files_made_under_a_umask_get_the_same_modes_from_bash_and_from_ansible(tmp_path: Path) -> None:
    """The real bash and the real ansible-playbook on the same script: every file and
    directory ends with the same mode (what a secret written under `umask 077` must keep)."""
    script = tmp_path / "script.sh"
    script.write_text(UMASK_SCRIPT.format(root=tmp_path / "bash"))
    subprocess.run(["bash", str(script)], check=True, timeout=30)

    conversion = convert_script(UMASK_SCRIPT.format(root=tmp_path / "ansible"))
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "tasks": conversion.tasks}]))
    env = {**os.environ, "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", str(playbook)],
                         capture_output=True, text=True, env=env, timeout=110)
    assert run.returncode == 0, run.stdout[-3000:]
    modes = _modes(tmp_path / "bash")
    assert modes["key.txt"] == "0o600" and modes["private"] == "0o700" and modes["log"] == "0o640"
    assert _modes(tmp_path / "ansible") == modes


# --- modes a later write keeps (`>`, `>>`, touch and mkdir -p leave an existing file's mode) ---

def _modes_of(conversion) -> list[tuple[str, str, str]]:
    out = []
    for task in conversion.tasks:
        module = next(k for k in task if k.startswith("ansible."))
        args = task[module]
        if isinstance(args, dict) and "mode" in args:
            out.append((module.rsplit(".", 1)[1], args.get("path") or args.get("dest"), args["mode"]))
    return out


def test_an_append_keeps_the_mode_a_chmod_gave() -> None:
    conversion = convert_script("touch /etc/app.secret\nchmod 600 /etc/app.secret\necho 'k=v' >> /etc/app.secret\n")
    assert _modes_of(conversion) == [("file", "/etc/app.secret", "0600"), ("lineinfile", "/etc/app.secret", "0600")]


def test_an_append_before_a_chmod_of_a_file_the_play_did_not_make_takes_the_chmods_mode() -> None:
    # else the play flips the mode 0644 -> 0600 on every run
    conversion = convert_script("echo 'k=v' >> /etc/app.secret\nchmod 600 /etc/app.secret\n")
    assert _modes_of(conversion) == [("lineinfile", "/etc/app.secret", "0600"), ("file", "/etc/app.secret", "0600")]


def test_an_overwrite_keeps_the_mode_of_a_file_installed_with_one() -> None:
    conversion = convert_script("install -m 600 -D /tmp/k /srv/app/key\necho new > /srv/app/key\n")
    assert ("copy", "/srv/app/key", "0600") in _modes_of(conversion)
    assert ("copy", "/srv/app/key", "0644") not in _modes_of(conversion)


def test_a_secret_made_under_umask_077_keeps_0600_through_later_writes_unless_chmod_says_otherwise() -> None:
    conversion = convert_script("(umask 077; date > /srv/s.key)\necho more >> /srv/s.key\nprintf 'x\\n' > /srv/s.key\n")
    assert [m for _, _, m in _modes_of(conversion)] == ["0600", "0600"]
    conversion = convert_script("(umask 077; date > /srv/s.key)\nchmod 644 /srv/s.key\n")
    assert _modes_of(conversion) == [("file", "/srv/s.key", "0644")]  # an explicit chmod is never overridden


def test_mkdir_p_of_a_directory_the_play_made_private_keeps_it_private() -> None:
    conversion = convert_script("install -d -m 700 /srv/private\nmkdir -p /srv/private\n")
    assert {m for _, _, m in _modes_of(conversion)} == {"0700"}


def test_two_blocks_appended_to_one_file_get_markers_of_their_own() -> None:
    conversion = convert_script("cat >> /etc/a.conf <<EOF\nx=1\ny=2\nEOF\ncat >> /etc/a.conf <<EOF\nz=1\nw=2\nEOF\n")
    blocks = [t["ansible.builtin.blockinfile"] for t in conversion.tasks]
    assert len(blocks) == 2 and "marker" not in blocks[0]
    assert blocks[1]["marker"] == "# {mark} ANSIBLE MANAGED BLOCK 2"


def test_install_d_makes_the_destination_directory_and_unknown_switches_decline() -> None:
    conversion = convert_script("install -m 640 -D /tmp/a /srv/x/y.conf\n")
    assert _modes_of(conversion) == [("file", "/srv/x", "0755"), ("copy", "/srv/x/y.conf", "0640")]
    conversion = convert_script("install -s /tmp/a /usr/local/bin/a\n")  # strip: not what copy does
    assert [next(k for k in t if k.startswith("ansible.")) for t in conversion.tasks] == [COMMAND]


def test_an_append_does_not_fold_back_past_a_copy_that_read_the_file() -> None:
    # `install SRC DEST` then `echo >> SRC`: folding the append into SRC's content would have
    # put the appended line into DEST too (found by verify.differential, seed 1033)
    conversion = convert_script("echo secret > /srv/a.key\ninstall -m 755 -D /srv/a.key /srv/inst/b.key\n"
                                "echo more >> /srv/a.key\n")
    written = next(t["ansible.builtin.copy"] for t in conversion.tasks
                   if t.get("ansible.builtin.copy", {}).get("dest") == "/srv/a.key")
    assert written["content"] == "secret\n"
    assert any("ansible.builtin.lineinfile" in t for t in conversion.tasks)


def test_a_chmod_does_not_fold_back_past_a_copy_that_kept_the_files_mode() -> None:
    conversion = convert_script("echo x > /srv/f\ncp /srv/f /srv/g\nchmod 600 /srv/f\n")
    assert ("copy", "/srv/f", "0644") in _modes_of(conversion)
    assert ("file", "/srv/f", "0600") in _modes_of(conversion)


def test_mv_carries_a_known_mode_and_chmod_plus_x_of_a_known_mode_is_known() -> None:
    conversion = convert_script("echo x > /srv/run.sh\nchmod +x /srv/run.sh\necho z > /srv/other\n"
                                "mv /srv/run.sh /srv/bin.sh\necho y > /srv/bin.sh\n")
    assert _modes_of(conversion)[-1] == ("copy", "/srv/bin.sh", "0755")


def test_cp_r_carries_known_modes_into_the_copy() -> None:
    # `install -m 640` then `cp -r` of its directory: a later append to the copy must not make
    # it 0644 (found by verify.differential, seeds 3042 and 3064)
    conversion = convert_script("install -m 640 -D /r/a/f.conf /r/inst/i.conf\ncp -r /r/inst /r/tree\n"
                                "mkdir -p /r/t2\ncp -r /r/inst /r/t2\necho x | tee -a /r/tree/i.conf\n"
                                "echo y > /r/t2/inst/i.conf\n")
    assert ("lineinfile", "/r/tree/i.conf", "0640") in _modes_of(conversion)
    assert ("copy", "/r/t2/inst/i.conf", "0640") in _modes_of(conversion)


def test_a_plain_cp_masks_the_mode_and_leaves_an_existing_files_mode() -> None:
    conversion = convert_script("echo a > /r/x\nchmod 777 /r/x\ncp -r /r/x /r/y\necho b >> /r/y\n"
                                "echo c > /r/z\nchmod 600 /r/z\ncp -r /r/x /r/z\necho d >> /r/z\n")
    assert ("lineinfile", "/r/y", "0755") in _modes_of(conversion)
    assert ("lineinfile", "/r/z", "0600") in _modes_of(conversion)


def test_sed_with_a_suffix_keeps_the_original_under_that_name() -> None:
    # found by verify.differential (seed 7016): `sed -i.bak` was the module's `backup: true`,
    # which names the copy `FILE.PID.DATE~`; a later `cp FILE.bak ...` then failed
    conversion = convert_script("echo a=1 > /r/f\nsed -i.bak 's/a=/b=/' /r/f\ncp /r/f.bak /r/g\n")
    kept = next(t["ansible.builtin.copy"] for t in conversion.tasks
                if t.get("ansible.builtin.copy", {}).get("dest") == "/r/f.bak")
    assert kept == {"src": "/r/f", "dest": "/r/f.bak", "remote_src": True, "mode": "preserve"}
    assert all("backup" not in args for task in conversion.tasks for args in task.values() if isinstance(args, dict))
    assert [next(k for k in t if k.startswith("ansible.")) for t in convert_script("cp -b /r/f /r/g\n").tasks] \
        == [COMMAND]  # cp's `g~` is not the module's backup either


def test_chmod_r_gives_its_mode_to_the_tree_and_nothing_folds_past_it() -> None:
    # found by verify.differential (seed 2): after `chmod -R 755 d`, `echo > d/f` made d/f 0644
    conversion = convert_script("mkdir -p /r/d\necho x > /r/d/f\nchmod -R 755 /r/d\necho y > /r/d/f\n"
                                "chmod -R u+rwX,go-w /r/d\nchmod 750 /r/d\nchmod +w /r/d/f\necho q > /r/d/f\n")
    assert _modes_of(conversion) == [("file", "/r/d", "0755"), ("copy", "/r/d/f", "0644"), ("file", "/r/d", "0755"),
                                     ("copy", "/r/d/f", "0755"), ("file", "/r/d", "u+rwX,go-w"),
                                     ("file", "/r/d", "0750"), ("file", "/r/d/f", "+w"), ("copy", "/r/d/f", "0755")]


def test_chmod_r_and_chown_r_leave_what_links_point_to_alone() -> None:
    # found by verify.differential (seed 9004): the file module follows links by default, so a
    # link inside the tree to a file outside it had that file's mode changed; `chmod -R` does not
    for script in ("chmod -R 750 /r/d\n", "chown -R www-data /r/d\n", "chgrp -R adm /r/d\n"):
        [task] = convert_script(script).tasks
        assert task["ansible.builtin.file"]["follow"] is False
    assert "ansible.builtin.file" not in convert_script("chown -R -L www-data /r/d\n").tasks[0]


def test_a_symbolic_chmod_after_a_touch_applies_to_the_mode_the_file_kept() -> None:
    # found by verify.differential (seed 9099): `install -m 755`, `touch`, `chmod go-r` gave 0600
    # (go-r folded into the touch's usual 0644) where bash leaves 0711
    conversion = convert_script("echo x > /r/s\ninstall -m 755 -D /r/s /r/i/f.conf\ntouch /r/i/f.conf\n"
                                "chmod go-r /r/i/f.conf\n")
    assert _modes_of(conversion)[-1] == ("file", "/r/i/f.conf", "0711")


def test_a_line_that_looks_like_jinja_keeps_its_line_break_in_folded_content(tmp_path: Path) -> None:
    # found by verify.differential (seed 42): `{% raw %}…{% endraw %}` then a newline, in content
    # an append was folded into; Ansible's trim_blocks ate the newline ("n4case=other")
    script = "echo 'gamma=off' > {d}/f\necho 'max {{% raw %}} n4' >> {d}/f\necho 'case=x' >> {d}/f\n\necho end >> {d}/f\n"
    conversion = convert_script(script.format(d=tmp_path / "play"))
    (tmp_path / "play").mkdir()
    playbook = tmp_path / "p.yml"
    playbook.write_text(render_playbook([conversion.play(hosts="localhost", name="raw newlines")]))
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-c", "local", "-i", "localhost,",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "play" / "f").read_text() == "gamma=off\nmax {% raw %} n4\ncase=x\nend\n"


def test_appends_folded_after_raw_content_add_no_blank_line() -> None:
    # found by verify.differential (seed 11002): content ending in `…\n{% endraw %}` was taken
    # as not ending in a newline, so the folded append added a blank line
    conversion = convert_script("cat > /r/f <<'EOF'\nalpha {# note #}\nEOF\necho more >> /r/f\n")
    [task] = conversion.tasks
    assert task["ansible.builtin.copy"]["content"] == "{% raw %}alpha {# note #}\n{% endraw %}more\n"


def test_mkdir_p_gives_the_parents_it_makes_the_usual_mode_not_the_chmods() -> None:
    # found by verify.differential (seed 11055): the file module makes missing parents with the
    # task's own mode, so `mkdir -p d1/d2; chmod 750 d1/d2` folded into one task made d1 0750
    conversion = convert_script("mkdir -p /r/d1/d2\nchmod 750 /r/d1/d2\nmkdir -p -m 700 /r/a/b\n"
                                "mkdir -p /opt/app\nchmod 750 /opt/app\n")
    assert _modes_of(conversion) == [("file", "/r/d1/d2", "0755"), ("file", "/r/d1/d2", "0750"),
                                     ("file", "/r/a/b", "0755"), ("file", "/r/a/b", "0700"),
                                     ("file", "/opt/app", "0750")]  # /opt is on every host: folded
