"""convert_script: shell state (cd, export, variables), post-processing, fallbacks, spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from playbook.convert import COMMAND, SHELL, Conversion, TaskSource, convert_script

DATA = Path(__file__).resolve().parent.parent / "data" / "shell"


def modules(conversion: Conversion) -> list[str]:
    return [next(k for k in t if "." in k) for t in conversion.tasks]


def test_every_task_has_a_name_and_one_fqcn_module() -> None:
    conversion = convert_script((DATA / "mixed.sh").read_text())
    for task in conversion.tasks + conversion.handlers:
        assert task["name"] and task["name"][0].isupper()
        assert len([k for k in task if "." in k]) == 1
        assert all(k.startswith(("ansible.", "community.")) for k in task if "." in k)


def test_mixed_script() -> None:
    conversion = convert_script((DATA / "mixed.sh").read_text())
    assert modules(conversion) == [
        "ansible.builtin.apt", "ansible.builtin.copy",
        "ansible.builtin.stat", "ansible.builtin.git", COMMAND,  # if/else: each arm under its `when`
        "ansible.builtin.systemd_service", "ansible.builtin.systemd_service",
        # case on $(uname -m): the gathered facts say which arm; `*)` exits 1, so every path that
        # goes on sets ARCH: a fact
        "ansible.builtin.set_fact", "ansible.builtin.set_fact", "ansible.builtin.fail",
        "ansible.builtin.copy", "ansible.builtin.meta",
    ]
    assert conversion.tasks[9]["when"] == \
        "ansible_facts.architecture != 'x86_64' and ansible_facts.architecture != 'aarch64'"
    assert conversion.tasks[7]["ansible.builtin.set_fact"] == {"shell_arch": "amd64"}
    assert conversion.tasks[3]["when"] == "not (srv_app_git_check.stat.exists and srv_app_git_check.stat.isdir)"
    assert conversion.tasks[4]["when"] == "srv_app_git_check.stat.exists and srv_app_git_check.stat.isdir"
    # the restart inside the deploy function follows the nginx config change: a handler, flushed
    # where the restart was (even at the end, so that a split playbook has the same tasks)
    assert conversion.handlers == [{"name": "Restart nginx", "ansible.builtin.systemd_service":
                                    {"name": "nginx", "state": "restarted"}, "become": True}]
    assert conversion.tasks[1]["notify"] == ["Restart nginx"]
    # the for loop over fixed words is unrolled into real modules
    assert conversion.tasks[5]["ansible.builtin.systemd_service"]["name"] == "nginx"
    assert conversion.tasks[6]["ansible.builtin.systemd_service"]["name"] == "cron"
    assert [(s.first_line, s.last_line) for s in conversion.sources] == [
        (5, 9), (13, 18), (20, 24), (20, 24), (20, 24), (26, 28), (26, 28), (30, 34), (30, 34), (30, 34), (36, 37),
        (42, 42)]
    assert [(s.first_line, s.last_line) for s in conversion.uncovered] == [(20, 24)]
    assert all(w.startswith("line 20-24:") for w in conversion.warnings)


def test_apt_update_folds_into_next_install() -> None:
    conversion = convert_script("sudo apt-get update\nsudo apt-get install -y nginx\n")
    assert conversion.tasks == [{"name": "Install nginx", "ansible.builtin.apt": {
        "name": "nginx", "state": "present", "update_cache": True}, "become": True}]
    assert conversion.sources == [TaskSource(1, 2, "apt")]


def test_cd_gives_chdir_and_resolves_relative_paths() -> None:
    conversion = convert_script("cd /opt/app\nmkdir -p logs\n./configure --prefix=/usr\n"
                                "cd build && make\n")
    assert conversion.tasks[0]["ansible.builtin.file"]["path"] == "/opt/app/logs"
    assert conversion.tasks[1][COMMAND] == {"cmd": "./configure --prefix=/usr",
                                            "chdir": "/opt/app"}
    assert conversion.tasks[2]["community.general.make"] == {"chdir": "/opt/app/build"}


def test_variables_are_substituted_and_export_becomes_environment() -> None:
    conversion = convert_script(
        'VERSION=1.2.3\nexport http_proxy=http://proxy:3128\nexport PATH="$PATH:/opt/bin"\n'
        'wget -O /tmp/app.tgz "https://example.com/app-${VERSION}.tgz"\nmake install\n')
    download, make = conversion.tasks
    assert download["ansible.builtin.get_url"]["url"] == "https://example.com/app-1.2.3.tgz"
    assert download["environment"] == {"http_proxy": "http://proxy:3128"}
    assert make["environment"] == {"http_proxy": "http://proxy:3128",
                                   "PATH": "{{ ansible_env.PATH }}:/opt/bin"}


def test_sudo_becomes_become_with_user() -> None:
    task = convert_script("sudo -u app pip install --user requests\n").tasks[0]
    assert task["become"] is True and task["become_user"] == "app"


def test_unknown_command_is_a_guarded_command_with_a_warning() -> None:
    conversion = convert_script("echo start\nsudo ssh-keygen -t ed25519 -f /root/.ssh/id -N ''\n"
                                "frobnicate --all\n")
    keygen, frob = conversion.tasks
    assert keygen[COMMAND]["creates"] == "/root/.ssh/id" and "changed_when" not in keygen
    assert frob == {"name": "Run frobnicate --all", COMMAND: {"cmd": "frobnicate --all"},
                    "changed_when": True}
    assert conversion.warnings[1] == ("line 3: no rule for `frobnicate --all`; kept as "
                                      "command, review it")
    assert [s.first_line for s in conversion.uncovered] == [2, 3]
    assert conversion.module_share == 0.0


def test_pipeline_needs_shell_with_pipefail() -> None:
    task = convert_script("curl -fsSL https://get.docker.com | sudo tee /tmp/get.sh\n").tasks[0]
    assert task[SHELL]["cmd"] == "set -o pipefail\ncurl -fsSL https://get.docker.com | sudo tee /tmp/get.sh"
    assert task[SHELL]["executable"] == "/bin/bash"
    assert task["changed_when"] is True


def test_shell_fallback_keeps_the_script_variables_it_uses() -> None:
    task = convert_script("DIR=/srv/x\nfor f in $(ls $DIR); do echo $f; done\n").tasks[0]
    assert task[SHELL]["cmd"].startswith("DIR=/srv/x\nfor f in")


def test_test_guard_and_if_guard_give_creates() -> None:
    conversion = convert_script(
        "[ -f /etc/ssl/app.pem ] || openssl req -x509 -nodes -subj /CN=x -keyout /k -out /etc/ssl/app.pem\n"
        "if [ ! -d /opt/venv ]; then\n  python3 -m venv /opt/venv\nfi\n")
    first, second = conversion.tasks
    assert first[COMMAND]["creates"] == "/etc/ssl/app.pem"
    assert second[COMMAND] == {"cmd": "python3 -m venv /opt/venv", "creates": "/opt/venv"}
    assert "changed_when" not in second and "when" not in second


def test_a_guarded_block_becomes_its_tasks_under_a_stat_guard() -> None:
    conversion = convert_script(
        "ls /swapfile || (\n  fallocate -l 1G /swapfile\n  chmod 600 /swapfile\n  mkswap /swapfile\n"
        "  echo '/swapfile none swap sw 0 0' >> /etc/fstab\n)\n")
    stat, *body = conversion.tasks
    assert stat == {"name": "Check whether /swapfile exists", "ansible.builtin.stat": {"path": "/swapfile"},
                    "register": "swapfile_stat"}
    assert [next(k for k in t if "." in k) for t in body] == ["community.general.filesize", "ansible.builtin.file",
                                                              "community.general.filesystem", "ansible.posix.mount"]
    assert all(t["when"] == "not swapfile_stat.stat.exists" for t in body)
    assert conversion.sources[0] == TaskSource(1, 6, "guard")


def test_a_positive_guard_and_a_group_run_when_the_path_exists() -> None:
    conversion = convert_script("[ -f /etc/nginx/nginx.conf ] && { cp /etc/nginx/nginx.conf /root/nginx.bak; chmod 600 /root/nginx.bak; }\n")
    assert [t.get("when") for t in conversion.tasks[1:]] == ["etc_nginx_nginx_conf_stat.stat.exists"]
    assert conversion.tasks[1]["ansible.builtin.copy"]["mode"] == "0600"  # the chmod folded into the copy


def test_a_subshell_guard_keeps_its_cd_inside() -> None:
    conversion = convert_script("ls /opt/app || (cd /opt && mkdir app)\ntouch notes.txt\n")
    assert conversion.tasks[1]["ansible.builtin.file"]["path"] == "/opt/app"
    # back where the script started after the subshell, not in /opt
    assert conversion.tasks[-1]["ansible.builtin.file"]["path"] == "{{ ansible_env.PWD }}/notes.txt"


def test_relative_paths_before_any_cd_are_the_start_directorys_and_a_relative_cd_follows_them() -> None:
    # the script's relative paths are relative to where it was started; the playbook's, to where
    # Ansible runs commands (which its command tasks share): before this, `cd build` from there
    # was ignored and `make` ran one directory too high with no warning
    conversion = convert_script("wget https://example.org/a.tgz\nmkdir build && cd build\n"
                                "tar -xzf ../a.tgz\nmake\nrm -f ../a.tgz\n")
    assert [(t["name"], t[list(t)[1]].get("path") or t[list(t)[1]].get("dest") or t[list(t)[1]].get("chdir"))
            for t in conversion.tasks] == [
        ("Download a.tgz to $PWD/a.tgz", "{{ ansible_env.PWD }}/a.tgz"),
        ("Create the directory $PWD/build", "{{ ansible_env.PWD }}/build"),
        ("Unpack a.tgz into $PWD/build", "{{ ansible_env.PWD }}/build"),
        ("Run make the default target in $PWD/build", "{{ ansible_env.PWD }}/build"),
        ("Remove $PWD/a.tgz", "{{ ansible_env.PWD }}/a.tgz"),
    ]
    assert conversion.warnings == []


@pytest.mark.parametrize("script", [
    "cd -\napt install -y ./pkg.deb\n",
    'cd "$(mktemp -d)"\ntar -xzf app.tar.gz\n',
    "if [ -d /a ]; then cd /a; else cd /b; fi\ntar -xzf app.tar.gz\n",
    "su - deploy -c 'tar -xzf app.tar.gz'\n",  # a login shell starts in the user's home
])
def test_relative_paths_after_a_cd_the_converter_cannot_follow_stay_commands_with_a_warning(script: str) -> None:
    conversion = convert_script(script)
    last = conversion.tasks[-1]
    assert COMMAND in last or SHELL in last
    assert "chdir" not in last.get(COMMAND, last.get(SHELL, {}))
    assert "ansible_env.PWD" not in str(conversion.tasks)


def test_a_function_called_inside_an_if_is_converted_at_the_call_under_the_guard() -> None:
    conversion = convert_script(
        "install_postgres() {\n  apt-get install -y postgresql\n  psql -c 'VACUUM FULL'\n}\n"
        "if [ ! -f /etc/app/installed ]; then\n  install_postgres\nfi\n")
    stat, install, vacuum = conversion.tasks
    assert stat["ansible.builtin.stat"]["path"] == "/etc/app/installed"
    assert install["ansible.builtin.apt"]["name"] == "postgresql"
    assert install["when"] == vacuum["when"] == f"not {stat['register']}.stat.exists"


def test_a_function_called_with_arguments_it_cannot_know_carries_its_definition() -> None:
    conversion = convert_script(
        "install_postgres() {\n  apt-get install -y postgresql-$1\n}\n"
        "if [ ! -f /etc/app/installed ]; then\n  install_postgres \"$@\"\nfi\n")
    task = conversion.tasks[-1]
    assert task[SHELL]["creates"] == "/etc/app/installed"
    script = task[SHELL]["cmd"]
    assert script.startswith("install_postgres() {") and script.endswith('\ninstall_postgres "$@"')


def test_the_scripts_own_arguments_are_play_variables_empty_unless_given() -> None:
    # they were the empty $1 of each task's own shell: `sed "/^.*$2.*/d"` deleted every line
    # whatever the caller gave, and a function called with "$1" could not be converted
    conversion = convert_script(
        "install_postgres() {\n  apt-get install -y postgresql-$1\n}\n"
        "if [ ! -f /etc/app/installed ]; then\n  install_postgres \"$1\"\nfi\n"
        "HOST=$2\nsed -e \"/^.*$2.*/d\" -i /etc/hosts\necho $HOST | awk '{print $2}' > /tmp/h\n"
        "cat > /tmp/n <<'EOF'\n$3 stays\nEOF\n")
    first, second = conversion.tasks[0], conversion.tasks[3]
    assert first["ansible.builtin.set_fact"] == {"shell_1": "{{ shell_1 | default('') }}"}
    assert second["ansible.builtin.set_fact"] == {"shell_2": "{{ shell_2 | default('') }}"}
    install = next(t for t in conversion.tasks if "ansible.builtin.apt" in t)
    assert install["ansible.builtin.apt"]["name"] == "postgresql-{{ shell_1 }}"
    assert "when" in install
    sed = next(t for t in conversion.tasks if "ansible.builtin.lineinfile" in t)
    assert sed["ansible.builtin.lineinfile"]["regexp"].startswith("^.*{{ shell_2 | replace(")
    awk = next(t for t in conversion.tasks if SHELL in t)
    assert "set --" not in awk[SHELL]["cmd"] and awk["environment"] == {"HOST": "{{ shell_2 }}"}
    assert "shell_3" not in str(conversion.tasks)  # a quoted heredoc's $3 is text
    assert any("-e shell_2=" in w for w in conversion.warnings)


def test_a_shell_task_that_reads_the_scripts_arguments_is_given_them() -> None:
    [keep, task] = convert_script('for f in "$1"/*.conf; do cp "$f" /etc/app/; done\n').tasks
    assert task[SHELL]["cmd"].startswith('set -- "$SCRIPT_ARG_1"\n')
    assert task["environment"] == {"SCRIPT_ARG_1": "{{ shell_1 }}"}


def test_after_shift_the_scripts_arguments_are_the_shells_again() -> None:
    conversion = convert_script('shift\nmkdir -p "/srv/$1"\n')
    assert "shell_1" not in str(conversion.tasks)


@pytest.mark.parametrize(("script", "read"), [
    ('shift\necho "$1" | tee /tmp/f\n', "$1"),
    ('f() {\n  apt-get install -y "pg-$1" || true\n}\nf "$@"\n', "$@"),
    ('for a in "$@"; do echo "$a" >> /tmp/l; done\n', "$@"),
    ('echo "$#" > /tmp/n\n', "$#"),
])
def test_a_shell_task_reading_arguments_no_task_has_says_so(script: str, read: str) -> None:
    warnings = convert_script(script).warnings
    assert any(w.startswith("line ") and f"reads {read}, positional parameters" in w for w in warnings), warnings


def test_single_quoted_dollar_words_are_not_arguments() -> None:
    warnings = convert_script("awk '{print $1, $#}' /etc/x | sort > /tmp/y\n").warnings
    assert not any("positional" in w or "argument" in w for w in warnings)


def test_a_wrapper_function_runs_its_arguments_as_the_command() -> None:
    conversion = convert_script('quiet() {\n  "$@"\n}\nquiet apt-get install -y nginx\n')
    assert conversion.tasks == [{"name": "Install nginx", "ansible.builtin.apt": {"name": "nginx", "state": "present"}}]


def test_a_function_never_called_is_tagged_never_so_the_play_runs_it_only_by_its_tag() -> None:
    conversion = convert_script("setup_web() {\n  apt-get install -y nginx\n  systemctl enable nginx\n}\n"
                                "helper() {\n  mkdir -p /srv\n}\nuses_helper() {\n  helper\n}\n")
    assert [t["tags"] for t in conversion.tasks] == [["never", "setup_web"]] * 2 + [["never", "uses_helper"]]
    assert conversion.tasks[2]["ansible.builtin.file"]["path"] == "/srv"


def test_a_shell_task_inside_a_function_gets_the_call_arguments() -> None:
    conversion = convert_script('greet() {\n  wall "$1 and $2" | tee /tmp/x\n}\ngreet "a b" c\n')
    assert conversion.tasks[0][SHELL]["cmd"].splitlines()[-2:] == ["set -- 'a b' c", 'wall "$1 and $2" | tee /tmp/x']


def test_a_function_with_a_return_inside_a_loop_stays_one_task() -> None:
    conversion = convert_script('setup() {\n  for f in /etc/a /etc/b; do\n    if [ -f "$f" ]; then return; fi\n  done\n'
                                '  apt-get install -y nginx\n}\nsetup\n')
    assert modules(conversion) == [SHELL]


def test_pushd_popd_and_cd_or_exit_move_the_directory() -> None:
    conversion = convert_script("cd /opt || exit 1\npushd /tmp\n./build.sh\npopd\n./run.sh\n")
    assert [t[COMMAND]["chdir"] for t in conversion.tasks] == ["/tmp", "/opt"]


def test_functions_calling_functions_are_carried_in_order() -> None:
    conversion = convert_script("a() { psql -c 'select 1'; }\nb() { a; mysql -e 'select 2'; }\nb | tee /tmp/out\n")
    script = conversion.tasks[-1][SHELL]["cmd"]
    assert script.index("a() {") < script.index("b() {") < script.index("b | tee /tmp/out")


def test_a_variable_set_in_one_shell_task_and_used_in_another_is_a_warning() -> None:
    conversion = convert_script('case "$(uname -m)" in x86_64) ARCH=amd64 ;; esac\ncurl -fsSL "https://x/$ARCH.tgz" | tar xz\n')
    assert any(w.startswith("line 2: uses $ARCH, set by an earlier shell task") for w in conversion.warnings)


def test_or_true_means_failures_are_ignored() -> None:
    task = convert_script("sudo systemctl stop apache2 || true\n").tasks[0]
    assert task["ansible.builtin.systemd_service"]["state"] == "stopped"
    assert task["failed_when"] is False


def test_chmod_and_chown_fold_into_the_task_that_made_the_file() -> None:
    conversion = convert_script(
        "sudo tee /etc/sudoers.d/deploy <<'EOF'\ndeploy ALL=(ALL) NOPASSWD:ALL\nEOF\n"
        "sudo chmod 440 /etc/sudoers.d/deploy\nsudo chown root:root /etc/sudoers.d/deploy\n"
        "sudo curl -o /usr/local/bin/tool https://x/tool\nsudo chmod +x /usr/local/bin/tool\n")
    copy, download = conversion.tasks
    assert copy["ansible.builtin.copy"]["mode"] == "0440"
    assert copy["ansible.builtin.copy"]["owner"] == "root"
    assert download["ansible.builtin.get_url"]["mode"] == "0755"
    assert conversion.sources[0] == TaskSource(1, 5, "tee")


def test_restart_without_config_change_stays_a_task() -> None:
    conversion = convert_script("sudo apt-get install -y nginx\nsudo systemctl restart nginx\n")
    assert conversion.handlers == []
    assert conversion.tasks[1]["ansible.builtin.systemd_service"]["state"] == "restarted"


def test_restart_before_more_work_flushes_handlers() -> None:
    conversion = convert_script(
        "echo 'listen 8080;' | sudo tee /etc/nginx/conf.d/port.conf\n"
        "sudo systemctl restart nginx\ncurl -f http://localhost:8080/\n")
    assert conversion.tasks[0]["notify"] == ["Restart nginx"]
    assert conversion.tasks[1]["ansible.builtin.meta"] == "flush_handlers"
    assert conversion.tasks[2]["ansible.builtin.uri"]["url"] == "http://localhost:8080/"


def test_function_called_later_is_inlined() -> None:
    conversion = convert_script("setup() {\n  sudo mkdir -p /srv/a\n}\nsetup\n")
    assert conversion.tasks == [{"name": "Create the directory /srv/a", "ansible.builtin.file": {
        "path": "/srv/a", "state": "directory", "mode": "0755"}, "become": True}]


def test_heredoc_with_unknown_variable_falls_back_to_shell() -> None:
    conversion = convert_script("cat > /etc/app.conf <<EOF\nhome=$HOME\nEOF\n")
    assert SHELL in conversion.tasks[0]
    # `>` overwrites a file that is there (a package's own config): never skipped because it exists
    assert "creates" not in conversion.tasks[0][SHELL]
    assert conversion.tasks[0]["changed_when"] is True


def test_a_shell_write_to_a_file_an_earlier_line_made_still_runs() -> None:
    # found by verify.differential (seed 7009): `printf FMT ARGS > F` after F was written had
    # `creates: F`, so the play skipped the last write and left the earlier content
    conversion = convert_script("echo a > /r/m.conf\nprintf 'port=%d\\n' 8 > /r/m.conf\n")
    shell = [t for t in conversion.tasks if SHELL in t]
    assert shell and all("creates" not in t[SHELL] for t in shell)
    keygen = convert_script("ssh-keygen -t ed25519 -N '' -f /root/.ssh/id_ed25519\n").tasks[0]
    assert keygen[COMMAND]["creates"] == "/root/.ssh/id_ed25519"  # it would prompt: the guard stays


def test_broken_script_reports_lines_and_does_not_raise() -> None:
    conversion = convert_script((DATA / "broken.sh").read_text())
    assert conversion.warnings
    assert all(w.startswith("line ") for w in conversion.warnings)


@pytest.mark.parametrize("script", ["", "\n\n", "# only a comment\n"])
def test_empty_input_gives_no_tasks(script: str) -> None:
    conversion = convert_script(script)
    assert conversion.tasks == [] and conversion.handlers == [] and conversion.warnings == []


def test_play_shape() -> None:
    conversion = convert_script("echo x > /etc/a.conf\nsudo systemctl reload a\n")
    play = conversion.play(hosts="web")
    assert play["hosts"] == "web" and play["name"]
    assert play["handlers"][0]["name"] == "Reload a"


def test_owner_does_not_move_before_the_user_is_made() -> None:
    conversion = convert_script("mkdir -p /srv/rails\nuseradd --system rails\n"
                                "chown rails:rails /srv/rails\nchmod 750 /srv/rails\n")
    made, user, owner = conversion.tasks
    assert "owner" not in made["ansible.builtin.file"] and "ansible.builtin.user" in user
    assert owner["ansible.builtin.file"] == {"path": "/srv/rails", "owner": "rails",
                                             "group": "rails", "mode": "0750"}


def test_attributes_do_not_move_back_over_a_command() -> None:
    conversion = convert_script("cat > /opt/run.sh <<'EOF'\necho hi\nEOF\n/opt/run.sh\n"
                                "chmod 700 /opt/run.sh\n")
    assert conversion.tasks[0]["ansible.builtin.copy"]["mode"] == "0644"
    assert conversion.tasks[2]["ansible.builtin.file"]["mode"] == "0700"


def test_edits_after_a_written_file_fold_into_its_content() -> None:
    conversion = convert_script(
        "cat > /etc/app.ini <<'EOF'\n[server]\nworkers = 4\nEOF\n"
        "sed -i 's/^workers = 4/workers = 8/' /etc/app.ini\n"
        "echo 'debug = false' >> /etc/app.ini\necho 'debug = false' >> /etc/app.ini\n"
        "chmod 640 /etc/app.ini\n")
    assert conversion.tasks == [{"name": "Write /etc/app.ini", "ansible.builtin.copy": {
        "dest": "/etc/app.ini", "content": "[server]\nworkers = 8\ndebug = false\n",
        "mode": "0640"}}]
    assert conversion.sources == [TaskSource(1, 8, "cat")]


def test_edits_do_not_fold_over_a_command_or_into_a_copied_file() -> None:
    over_command = convert_script("echo a=1 > /etc/x.conf\n/usr/bin/reload-x\n"
                                  "sed -i 's/a=1/a=2/' /etc/x.conf\n")
    assert "ansible.builtin.replace" in over_command.tasks[2]
    copied = convert_script("cp /etc/x.conf /etc/y.conf\nsed -i 's/a=1/a=2/' /etc/y.conf\n")
    assert "ansible.builtin.replace" in copied.tasks[1]


def test_mount_all_mounts_the_fstab_lines_written_before_it() -> None:
    conversion = convert_script(
        "echo 'nas:/data /mnt/data nfs defaults 0 0' >> /etc/fstab\n"
        "echo '/swapfile none swap sw 0 0' >> /etc/fstab\nmount -a\n")
    nfs, swap = conversion.tasks
    assert nfs["name"] == "Mount /mnt/data and add it to /etc/fstab"
    assert nfs["ansible.posix.mount"]["state"] == "mounted"
    assert swap["ansible.posix.mount"]["state"] == "present"  # mount -a does not swapon


def test_find_with_exec_or_delete_changes_things() -> None:
    conversion = convert_script("find /var/www -type d -exec chmod 750 {} \\;\n"
                                "find /tmp -name '*.tmp' -delete\nfind /etc -name '*.conf'\n")
    assert [t["changed_when"] for t in conversion.tasks] == [True, True, False]


def test_restart_of_a_dashed_service_follows_its_config_directory() -> None:
    conversion = convert_script("sudo sed -i 's/^supervised no/supervised systemd/' "
                                "/etc/redis/redis.conf\nsudo systemctl restart redis-server\n")
    assert conversion.tasks[0]["notify"] == ["Restart redis-server"]
    assert conversion.handlers[0]["name"] == "Restart redis-server"


def test_context_sets_the_state_and_yields_no_task() -> None:
    conversion = convert_script("make install\nmkdir -p $DIR/logs\n", context="cd /opt/app\nexport DIR=/srv/app\n")
    assert len(conversion.tasks) == 2
    assert conversion.tasks[0]["community.general.make"] == {"chdir": "/opt/app", "target": "install"}
    assert conversion.tasks[0]["environment"] == {"DIR": "/srv/app"}  # a Makefile reads what was exported
    assert conversion.tasks[1]["ansible.builtin.file"]["path"] == "/srv/app/logs"
    assert all(s.first_line >= 1 and s.last_line <= 2 for s in conversion.sources)


def test_jinja_looking_text_in_a_command_is_never_templated_by_ansible() -> None:
    task = convert_script('sed -i "s/{{RUBY_VERSION}}/$*/g" /opt/app/Dockerfile\n').tasks[0]
    assert task[SHELL]["cmd"] == '{% raw %}sed -i "s/{{RUBY_VERSION}}/$*/g" /opt/app/Dockerfile{% endraw %}'


@pytest.mark.parametrize("line", [
    "wget --quiet -O - https://www.postgresql.org/media/keys/ACCC4CF8.asc | sudo apt-key add -",
    "curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc | sudo apt-key add -",
])
def test_a_downloaded_key_piped_to_apt_key_becomes_apt_key(line: str) -> None:
    conversion = convert_script(line + "\n")
    assert conversion.tasks == [{"name": "Add the apt signing key from https://www.postgresql.org/media/keys/ACCC4CF8.asc",
                                 "ansible.builtin.apt_key": {"url": "https://www.postgresql.org/media/keys/ACCC4CF8.asc",
                                                             "state": "present"}, "become": True}]
    assert "apt-key is deprecated" in conversion.warnings[0]


def test_a_sourced_file_makes_no_task_and_later_shell_tasks_source_it_first() -> None:
    conversion = convert_script(". /etc/default/app\necho \"$ID\" > /etc/distro\nmkdir -p /opt/a\n")
    shell, directory = conversion.tasks
    assert shell[SHELL]["cmd"] == '. /etc/default/app\necho "$ID" >/etc/distro'
    assert directory["ansible.builtin.file"]["path"] == "/opt/a"
    assert conversion.warnings[0].startswith("line 1: sources /etc/default/app")


def test_os_release_is_read_once_and_its_tests_are_whens_on_its_variables() -> None:
    conversion = convert_script('if [ -r /etc/os-release ]; then\n  . /etc/os-release\nfi\n'
                                'case "$ID-$VERSION_ID" in\n  debian-1*|ubuntu-22.04) apt-get install -y a ;;\nesac\n'
                                'if [ "$ID" != "ubuntu" ]; then\n  echo "$VERSION_CODENAME" > /etc/codename\nfi\n')
    assert modules(conversion) == ["ansible.builtin.stat", "ansible.builtin.slurp", "ansible.builtin.set_fact",
                                   "ansible.builtin.apt", "ansible.builtin.copy"]  # no shell check
    read, facts = conversion.tasks[1:3]
    assert read["when"] == "etc_os_release_check.stat.exists and etc_os_release_check.stat.readable"
    assert "when" not in facts  # set either way: empty when the file was not read, as the shell leaves them
    assert "regex_findall('^ID=[\\x22\\x27]?(.*?)[\\x22\\x27]?$', multiline=True)" in facts["ansible.builtin.set_fact"]["shell_id"]
    assert conversion.tasks[3]["when"] == ("((shell_id ~ '-' ~ shell_version_id) is match('(?s)^debian-1.*(?!.)')) or "
                                           "((shell_id ~ '-' ~ shell_version_id) == 'ubuntu-22.04')")
    assert conversion.tasks[4]["when"] == "shell_id != 'ubuntu'"
    assert conversion.tasks[4]["ansible.builtin.copy"]["content"] == "{{ shell_version_codename }}\n"


@pytest.mark.parametrize("script,cmd", [
    ("foo-tool $X 2>/dev/null >> /tmp/out\n", "foo-tool $X 2>/dev/null >>/tmp/out"),
    ("cat <<EOF | foo $X\nhi\nEOF\n", "set -o pipefail\ncat <<EOF | foo $X\nhi\nEOF"),
    ("foo $X <<'EOF'\nbody $1\nEOF\n", "foo $X <<'EOF'\nbody $1\nEOF"),
    ('foo <<< "$X" > /tmp/q\n', 'foo <<< "$X" >/tmp/q'),
])
def test_a_shell_task_keeps_the_redirections_and_heredocs_of_its_line(script: str, cmd: str) -> None:
    assert convert_script(script).tasks[0][SHELL]["cmd"] == cmd


# --- if / elif / else -------------------------------------------------------------------------

def test_if_elif_else_checks_each_condition_on_the_host_and_guards_each_arm() -> None:
    conversion = convert_script(
        'isApt=`command -v apt-get`\n'
        'if [ -n "$isApt" ]; then\n  apt-get install -y default-jdk\n  exit 0\n'
        'elif command -v yum; then\n  yum install -y java-1.8.0-openjdk\n'
        'else\n  echo "no package manager"\n  exit 1\nfi\n')
    tasks = conversion.tasks
    assert modules(conversion) == ["ansible.builtin.stat", "ansible.builtin.set_fact", "ansible.builtin.apt",
                                   "ansible.builtin.meta", "ansible.builtin.stat", "ansible.builtin.dnf", "ansible.builtin.fail"]
    # the variable is worked out once, where the script set it (apt-get's path on the host's PATH,
    # empty where it is not there); a test on it is a when on the fact
    assert tasks[0]["ansible.builtin.stat"] == {"path": "{{ item }}/apt-get", "follow": True}
    assert tasks[1]["ansible.builtin.set_fact"]["shell_isapt"].endswith("| map('regex_replace', '$', '/apt-get') | join }}")
    assert tasks[2]["when"] == tasks[3]["when"] == "shell_isapt | length > 0"
    assert tasks[3]["ansible.builtin.meta"] == "end_host"
    # `command -v yum` is checked on the host by a module: yum on the host's PATH
    check = tasks[4]
    assert check["ansible.builtin.stat"] == {"path": "{{ item }}/yum", "follow": True}
    assert check["when"] == "not (shell_isapt | length > 0)"
    found = (f"{check['register']}.results | selectattr('stat.executable', 'defined') | selectattr('stat.executable') "
             "| selectattr('stat.isreg') | list | length > 0")
    assert tasks[5]["when"] == f"not (shell_isapt | length > 0) and {found}"
    assert tasks[6]["when"] == f"not (shell_isapt | length > 0) and not ({found})"


def test_a_condition_on_known_values_is_decided_at_conversion() -> None:
    conversion = convert_script('MODE=auto\nif [ "$MODE" != "manual" ]; then\n  apt-get install -y nginx\n'
                                'else\n  apt-get install -y apache2\nfi\n')
    assert conversion.tasks == [{"name": "Install nginx", "ansible.builtin.apt": {"name": "nginx", "state": "present"}}]


def test_an_argument_default_applies_unless_the_play_is_given_the_argument() -> None:
    conversion = convert_script('JAVA=${1:-"open"}\nif [ "$JAVA" = "oracle" ]; then\n  apt-get install -y oracle-java\n'
                                'else\n  apt-get install -y openjdk-17-jdk\nfi\n')
    assert conversion.tasks[0]["ansible.builtin.set_fact"] == {"shell_java": "{{ shell_1 | default('open', true) }}"}
    assert [(t["ansible.builtin.apt"]["name"], t["when"]) for t in conversion.tasks[1:]] == [
        ("oracle-java", "shell_java == 'oracle'"), ("openjdk-17-jdk", "shell_java != 'oracle'")]
    assert conversion.warnings == ["line 1: reads the script's argument $1 (default 'open'): pass it with -e shell_1=VALUE"]


def test_a_default_is_not_taken_for_what_the_login_environment_sets() -> None:
    conversion = convert_script('H="${HOME:-/root}"\necho hi > "$H/x"\n')
    assert modules(conversion) == [SHELL]


def test_a_file_test_becomes_stat_with_the_tests_meaning() -> None:
    conversion = convert_script('if [ -x /usr/bin/node ]; then\n  apt-get remove -y nodejs\nfi\n')
    stat, remove = conversion.tasks
    assert stat["ansible.builtin.stat"] == {"path": "/usr/bin/node", "follow": True}
    assert remove["when"] == f"{stat['register']}.stat.exists and {stat['register']}.stat.executable"


def test_nested_ifs_join_their_conditions_outer_first() -> None:
    conversion = convert_script('if pgrep -x bob; then\n  if [ ! -d /home/bob/.ssh ]; then\n    mkdir -p /home/bob/.ssh\n'
                                '  fi\nfi\n')
    outer, inner, mkdir = conversion.tasks
    assert inner["when"] == f"{outer['register']}.rc == 0"
    assert mkdir["when"].startswith(f"{outer['register']}.rc == 0 and ")


def test_what_every_arm_sets_becomes_a_fact_later_tasks_read() -> None:
    conversion = convert_script('if pgrep -x x; then\n  DIR=/opt/a\nelse\n  DIR=/opt/b\nfi\n'
                                'mkdir -p "$DIR"\ngrep "$DIR" /etc/fstab | wc -l > /tmp/n\n')
    check, set_a, set_b, mkdir, count = conversion.tasks
    assert (set_a["ansible.builtin.set_fact"], set_a["when"]) == ({"shell_dir": "/opt/a"}, f"{check['register']}.rc == 0")
    assert (set_b["ansible.builtin.set_fact"], set_b["when"]) == ({"shell_dir": "/opt/b"}, f"{check['register']}.rc != 0")
    assert mkdir["ansible.builtin.file"]["path"] == "{{ shell_dir }}"
    # a shell task reads the fact through its environment: its script holds no Jinja
    assert count[SHELL]["cmd"] == 'set -o pipefail\ngrep "$DIR" /etc/fstab | wc -l >/tmp/n'
    assert count["environment"] == {"DIR": "{{ shell_dir }}"}


def test_an_arm_that_may_be_skipped_keeps_the_value_from_before_as_a_fact() -> None:
    conversion = convert_script('DIR=/opt/a\nif pgrep -x x; then\n  DIR=$(cat /etc/dir)\nfi\nmkdir -p "$DIR"\n')
    default, check, read, fact, mkdir = conversion.tasks
    assert default["ansible.builtin.set_fact"] == {"shell_dir": "/opt/a"}
    assert read["ansible.builtin.slurp"] == {"src": "/etc/dir"} and read["when"] == f"{check['register']}.rc == 0"
    assert fact["ansible.builtin.set_fact"] == {"shell_dir": "{{ shell_dir_file.content | b64decode | regex_replace('\\n+$', '') }}"}
    assert mkdir["ansible.builtin.file"]["path"] == "{{ shell_dir }}"


def test_what_an_arm_sets_without_a_value_on_every_path_is_unknown_and_a_later_use_is_flagged() -> None:
    conversion = convert_script('if pgrep -x x; then\n  DIR=/opt/a\nfi\nmkdir -p "$DIR"\n')
    assert modules(conversion) == [SHELL, SHELL]
    assert any("$DIR" in w for w in conversion.warnings)


def test_a_fact_is_never_decided_at_conversion() -> None:
    conversion = convert_script('if pgrep -x x; then\n  M=a\nelse\n  M=b\nfi\n'
                                'if [ "$M" = "a" ]; then\n  apt-get install -y nginx\nfi\n'
                                'if [ "$M" = "a" ] && grep -q y /etc/f; then\n  apt-get install -y git\nfi\n')
    assert conversion.tasks[3]["when"] == "shell_m == 'a'"
    check = conversion.tasks[4]  # a test the facts cannot say: checked by the shell, the fact in its environment
    assert check["environment"] == {"M": "{{ shell_m }}"} and conversion.tasks[5]["when"] == f"{check['register']}.rc == 0"


def test_jinja_in_written_content_stays_literal_next_to_a_fact() -> None:
    conversion = convert_script('if pgrep -x x; then\n  U=a\nelse\n  U=b\nfi\n'
                                'cat > /etc/app.conf <<EOF\nuser=$U\ntemplate={{ name }}\nEOF\n')
    assert conversion.tasks[-1]["ansible.builtin.copy"]["content"] == \
        "user={{ shell_u }}{% raw %}\ntemplate={{ name }}\n{% endraw %}"


def test_a_variable_the_shell_computes_is_worked_out_once_where_the_script_set_it() -> None:
    conversion = convert_script('SECRET=$(pwgen -s 32 1)\necho "K=$SECRET" > /etc/app.env\n'
                                'echo "$SECRET" | sha256sum > /root/secret.sum\nCODENAME=$(lsb_release -cs)\n'
                                'cat /tmp/list.txt | grep "$CODENAME"\n')
    work_out, fact, env_file, digest, grep = conversion.tasks
    assert work_out[SHELL]["cmd"] == 'SECRET=$(pwgen -s 32 1)\nprintf "%s" "$SECRET"'
    assert fact["ansible.builtin.set_fact"] == {"shell_secret": "{{ shell_secret_output.stdout }}"}
    # every later task sees the one value (run again in each task, a random value would differ)
    assert env_file["ansible.builtin.copy"]["content"] == "K={{ shell_secret }}\n"
    assert digest["environment"] == {"SECRET": "{{ shell_secret }}"}
    assert grep["environment"] == {"CODENAME": "{{ ansible_facts.distribution_release }}"}


def test_an_unconditional_exit_ends_the_conversion_with_a_warning() -> None:
    conversion = convert_script("apt-get install -y nginx\nexit 0\napt-get install -y apache2\n")
    assert modules(conversion) == ["ansible.builtin.apt"]
    assert any(w.startswith("line 3:") and "never runs" in w for w in conversion.warnings)
    failing = convert_script("exit 3\n")
    assert failing.tasks == [{"name": "Fail, as the script exits with status 3",
                              "ansible.builtin.fail": {"msg": "the script exits here with status 3"}}]


def test_echo_of_an_unknown_variable_to_the_terminal_makes_no_task() -> None:
    conversion = convert_script('. /etc/app.env\necho "Installing $PKG" >&2\necho "$PKG" > /etc/pkg\n')
    assert modules(conversion) == [SHELL]


def test_expansions_on_known_values_are_worked_out() -> None:
    conversion = convert_script('url=https://h/kafka_2.11-1.0.tgz\nf=`basename $url`\nd=$(basename $f .tgz)\n'
                                'V=18.0\nS=${V%%.*}\nN=WEB\nmkdir -p "/opt/$d-$S/${N,,}/$(dirname /a/b/c)"\n')
    assert conversion.tasks[0]["ansible.builtin.file"]["path"] == "/opt/kafka_2.11-1.0-18/web/a/b"


def test_a_word_the_grammar_cuts_at_a_dash_dollar_stays_one_word() -> None:
    conversion = convert_script("v=1.0\ns=2.11\nurl=https://h/kafka_$s-$v.tgz\nmkdir -p /opt/kafka_$s-$v.d\n")
    assert conversion.tasks[0]["ansible.builtin.file"]["path"] == "/opt/kafka_2.11-1.0.d"


def test_a_loop_over_known_words_keeps_the_parts_no_rule_covers_with_the_loop_variable() -> None:
    conversion = convert_script('PKGS="nginx git"\nfor p in $PKGS; do\n  apt-get install -y "$p"\n'
                                '  dpkg -L "$p" | wc -l > "/tmp/$p.count"\ndone\n')
    assert modules(conversion) == ["ansible.builtin.apt", SHELL, "ansible.builtin.apt", SHELL]
    assert conversion.tasks[3][SHELL]["cmd"].startswith("set -o pipefail\np=git\n")


def test_a_loop_no_rule_takes_any_pass_of_stays_one_shell_loop() -> None:
    conversion = convert_script('REMOVE="apport* git rsync"\nfor p in $REMOVE; do\n  $APT purge "$p"\ndone\n')
    assert modules(conversion) == [SHELL]  # not three copies of the same shell, one per word
    assert "for p in $REMOVE; do" in conversion.tasks[0][SHELL]["cmd"]
    assert conversion.tasks[0][SHELL]["cmd"].startswith("REMOVE='apport* git rsync'\n")


def test_a_subshell_is_converted_and_its_directory_and_exit_end_with_it() -> None:
    conversion = convert_script("cd /opt\n( cd /tmp && ./build.sh; exit 0; rm -rf /tmp/x )\n./run.sh\n")
    assert [t[COMMAND]["chdir"] for t in conversion.tasks] == ["/tmp", "/opt"]


def test_an_error_handler_after_or_is_the_play_stopping_at_the_failed_task() -> None:
    conversion = convert_script('die() {\n  echo "$1" >&2\n  exit 1\n}\napt-get install -y nginx || die "no nginx"\n'
                                'mkdir /srv/x || { echo failed; exit 2; }\ntouch /srv/y || echo "could not"\n')
    assert modules(conversion) == ["ansible.builtin.apt", "ansible.builtin.file", "ansible.builtin.file"]
    assert "failed_when" not in conversion.tasks[1] and conversion.tasks[2]["failed_when"] is False


def test_a_negated_file_test_is_a_stat_with_the_negation() -> None:
    conversion = convert_script('if ! [ -f /etc/debian_version ]; then\n  echo "not debian"\n  exit 1\nfi\n')
    stat, fail = conversion.tasks
    assert fail["when"] == f"not ({stat['register']}.stat.exists and {stat['register']}.stat.isreg)"


def test_a_test_on_what_the_host_reports_is_a_when_on_gathered_facts() -> None:
    conversion = convert_script('ARCH=$(uname -m)\nif [[ "$ARCH" == "aarch64" ]]; then\n  apt-get install -y a\n'
                                'elif [ "$(lsb_release -cs)" = "bookworm" ]; then\n  apt-get install -y b\nfi\n'
                                'apt-get install -y "linux-headers-$(uname -r)"\n')
    a, b, headers = conversion.tasks  # no check task: the facts say it
    assert a["when"] == "ansible_facts.architecture == 'aarch64'"
    assert b["when"] == "ansible_facts.architecture != 'aarch64' and ansible_facts.distribution_release == 'bookworm'"
    assert headers["ansible.builtin.apt"]["name"] == "linux-headers-{{ ansible_facts.kernel }}"


def test_a_case_on_a_fact_is_a_when_per_arm() -> None:
    conversion = convert_script('case "$(uname -m)" in\n  x86_64|amd64) apt-get install -y a ;;\n'
                                '  *) apt-get install -y b ;;\nesac\n')
    a, b = conversion.tasks
    assert a["when"] == "(ansible_facts.architecture == 'x86_64') or (ansible_facts.architecture == 'amd64')"
    assert b["when"] == "not ((ansible_facts.architecture == 'x86_64') or (ansible_facts.architecture == 'amd64'))"


def test_a_test_on_a_fact_the_converter_set_needs_no_task() -> None:
    conversion = convert_script('if pgrep -x x; then\n  N=3\nelse\n  N=9\nfi\n'
                                'if [ "$N" -lt 5 ]; then\n  apt-get install -y small\nfi\n')
    assert conversion.tasks[-1]["when"] == "shell_n | int < '5' | int"


def test_a_library_function_takes_its_arguments_as_variables_and_may_call_one_defined_later() -> None:
    conversion = convert_script('add_user() {\n  local name=${1}\n  adduser --disabled-password --gecos "" "$name"\n'
                                '  as_user "$name" "mkdir -p /home/$name/bin"\n}\n'
                                'as_user() {\n  sudo -u "$1" bash -c "$2"\n}\n')
    user, mkdir = conversion.tasks
    assert user["ansible.builtin.user"]["name"] == "{{ shell_add_user_1 }}"
    assert user["name"] == "Create the user $1" and user["tags"] == ["never", "add_user"]
    assert mkdir["ansible.builtin.file"]["path"] == "/home/{{ shell_add_user_1 }}/bin"
    assert mkdir["become_user"] == "{{ shell_add_user_1 }}"
    assert any("-e shell_add_user_1=" in w for w in conversion.warnings)


def test_an_early_return_in_a_function_is_an_else_for_the_rest() -> None:
    conversion = convert_script('setup() {\n  if [ ! -f /etc/ufw/ufw.conf ]; then\n    echo "no ufw"\n    return\n  fi\n'
                                '  ufw allow OpenSSH\n}\nsetup\n')
    stat, allow = conversion.tasks
    assert allow["community.general.ufw"] == {"rule": "allow", "name": "OpenSSH"}
    assert allow["when"] == f"{stat['register']}.stat.exists and {stat['register']}.stat.isreg"


def test_rm_of_a_glob_reaches_its_rule_as_a_pattern_and_other_commands_keep_the_shell() -> None:
    conversion = convert_script("rm -rf /var/lib/mysql/*\nchmod 644 /etc/x/*\n")
    assert conversion.tasks[0]["ansible.builtin.find"]["patterns"] == "*"
    assert conversion.tasks[-1][SHELL]["cmd"] == "chmod 644 /etc/x/*"


def test_dollar_question_at_the_start_of_an_arm_is_the_conditions_status() -> None:
    conversion = convert_script('if ! curl -fsSL https://x/k | gpg --dearmor -o /usr/share/keyrings/n.gpg; then\n'
                                '  echo "$?" > /tmp/status\nfi\n')
    check, status = conversion.tasks
    # `! cmd` held, so $? is 0 there
    assert status["ansible.builtin.copy"]["content"] == "0\n" and status["when"] == f"{check['register']}.rc == 0"
    # the test writes a key file: it changes the host, so it is neither `changed: false` nor skipped in check mode
    assert check["changed_when"] is True and "check_mode" not in check


def test_a_test_that_only_reads_is_never_a_change_and_runs_in_check_mode() -> None:
    conversion = convert_script('if dpkg -l | grep -q nginx; then\n  systemctl restart nginx\nfi\n')
    check = conversion.tasks[0]
    assert (check["changed_when"], check["check_mode"]) == (False, False)


def test_a_case_arm_that_falls_through_runs_the_next_arms_body_too() -> None:
    conversion = convert_script('OS=centos-8\ncase $OS in\n  centos-8*) mkdir -p /etc/a ;&\n'
                                '  rocky-8*) mkdir -p /etc/b ;;\n  *) mkdir -p /etc/c ;;\nesac\n')
    assert [t["ansible.builtin.file"]["path"] for t in conversion.tasks] == ["/etc/a", "/etc/b"]


def test_a_file_sourced_in_an_arm_is_read_by_later_shell_tasks_when_it_is_there() -> None:
    conversion = convert_script('if [ -f /etc/default/app ]; then\n  . /etc/default/app\nfi\n'
                                'case ${MODE}-${LEVEL} in\n  debian-12) apt-get install -y a ;;\nesac\n')
    check = conversion.tasks[-2]
    assert check[SHELL]["cmd"].startswith("[ -r /etc/default/app ] && . /etc/default/app\n")


def test_a_function_that_hides_the_output_of_its_arguments_is_the_command_it_runs() -> None:
    library = ('function hide_output {\n  OUTPUT=$(mktemp)\n  set +e\n  "$@" &> "$OUTPUT"\n  E=$?\n  set -e\n'
               '  if [ $E != 0 ]; then\n    echo "FAILED: $*"\n    cat "$OUTPUT"\n    exit $E\n  fi\n  rm -f "$OUTPUT"\n}\n'
               'function apt_install {\n  DEBIAN_FRONTEND=noninteractive hide_output apt-get -y install "$@"\n}\n')
    conversion = convert_script("apt_install munin munin-node\n", context=library)
    assert conversion.tasks == [{"name": "Install munin and munin-node",
                                 "ansible.builtin.apt": {"name": ["munin", "munin-node"], "state": "present"}}]


def test_a_heredoc_delimiter_followed_by_a_semicolon_ends_where_bash_ends_it() -> None:
    conversion = convert_script("cat > /etc/app.conf <<EOF;\nkey=1\nEOF\nmkdir -p /srv/app\n")
    assert modules(conversion) == ["ansible.builtin.copy", "ansible.builtin.file"]


def test_if_not_cmd_then_fail_is_the_command_as_a_task() -> None:
    conversion = convert_script('handle_error() {\n  echo "$2"\n  exit $1\n}\n'
                                'if ! apt-get install -y curl; then\n  handle_error "$?" "no curl"\nfi\n'
                                'if ! mkdir -p /srv/x; then\n  echo "failed"\n  exit 1\nfi\n'
                                'if ! pgrep -x x; then\n  echo "no x"\nfi\n')
    assert modules(conversion)[:2] == ["ansible.builtin.apt", "ansible.builtin.file"]
    assert "when" not in conversion.tasks[0] and "when" not in conversion.tasks[1]
    assert conversion.tasks[2][SHELL]["cmd"] == "! pgrep -x x"  # no failure after it: still a check


def test_a_key_piped_into_gpg_dearmor_is_downloaded_then_dearmored_once() -> None:
    conversion = convert_script("curl -fsSL https://couchdb.apache.org/repo/keys.asc | sudo gpg --dearmor "
                                "-o /etc/apt/keyrings/couchdb.gpg\ncurl -fsSL https://x/gpg | gpg --dearmor > /etc/k.gpg\n")
    download, dearmor, _, dearmor_redirected = conversion.tasks
    assert download["ansible.builtin.get_url"] == {"url": "https://couchdb.apache.org/repo/keys.asc",
                                                   "dest": "/tmp/keys.asc", "mode": "0644"}
    assert dearmor[COMMAND] == {"cmd": "gpg --batch --yes --dearmor -o /etc/apt/keyrings/couchdb.gpg /tmp/keys.asc",
                                "creates": "/etc/apt/keyrings/couchdb.gpg"}
    assert dearmor["become"] is True
    assert dearmor_redirected[COMMAND]["creates"] == "/etc/k.gpg"


def test_an_installer_piped_into_a_shell_is_downloaded_then_run_with_a_warning() -> None:
    conversion = convert_script("curl -sSL https://get.docker.com | sh\n")
    download, run = conversion.tasks
    assert download["ansible.builtin.get_url"]["dest"] == "/tmp/get.docker.com"
    assert run[COMMAND] == {"cmd": "sh /tmp/get.docker.com"}
    assert any("installer script https://get.docker.com" in w for w in conversion.warnings)


def test_a_function_that_only_prints_makes_no_task() -> None:
    library = ('fmt() {\n  local MSG\n  MSG="${1}</>"\n  echo -e "${MSG}"\n}\n'
               'out() {\n  local MSG\n  MSG=$(fmt "${1}")\n  echo -e "${MSG}"\n'
               '  if [[ ! -z "${LOG}" ]]; then\n    test -e /proc/$$/fd/6 && >&6 echo -e "${MSG}"\n  fi\n}\n'
               'info() {\n  out "<info>${1}</info>"\n}\n')
    library += ('log() {\n  local timestamp=$(date)\n  case "$2" in\n    error) color=red ;;\n    *) color=blue ;;\n'
                '  esac\n  echo -e "${color}${timestamp} $1"\n}\n')
    conversion = convert_script('info "installing"\napt-get install -y nginx\ninfo "done" >&2\nlog "x" error\n',
                                context=library)
    assert modules(conversion) == ["ansible.builtin.apt"]


def test_a_function_that_only_sets_shell_variables_makes_no_task() -> None:
    library = ('warn() {\n  echo "$1" >&2\n}\n'
               'add_hook() {\n  local hook_var="HOOKS_${1}"\n  if [[ "${1}" =~ [^a-zA-Z_] ]]; then\n    warn "bad hook"\n    return 1\n  fi\n'
               '  eval "if [ -z \\"\\${${hook_var}}\\" ]; then ${hook_var}=(); fi"\n  eval "${hook_var}+=(\\"${2}\\")"\n}\n'
               'run_code() {\n  eval "${1}"\n}\n')
    conversion = convert_script("add_hook before_packages setup_db\nrun_code 'rm -rf /srv/x'\n", context=library)
    # eval of its argument may do anything: it stays, in a shell (eval is a builtin, which a
    # command task cannot run: "No such file or directory: eval")
    assert modules(conversion) == [SHELL]
    assert conversion.tasks[0][SHELL]["cmd"].endswith("set -- 'rm -rf /srv/x'\neval \"${1}\"")
    assert any("add_hook only sets shell variables" in w for w in conversion.warnings)


def test_statements_nested_deeper_than_the_limit_are_one_shell_task() -> None:
    conversion = convert_script("if grep -q x /f; then " * 200 + "touch /tmp/y; " + "fi; " * 200 + "\n"
                                + "{ " * 300 + "touch /tmp/z;" + " };" * 300 + "\n")
    assert modules(conversion)[-2:] == [SHELL, SHELL]
    assert conversion.tasks[-1][SHELL]["cmd"].startswith("{ { {")


def test_a_download_piped_into_tar_is_an_unarchive_of_the_url() -> None:
    conversion = convert_script("curl -fsSL https://nodejs.org/dist/v22/node.tar.xz | tar xJf - -C /opt/nodejs "
                                "--strip-components=1\n")
    [unpack] = conversion.tasks
    assert unpack["ansible.builtin.unarchive"]["src"] == "https://nodejs.org/dist/v22/node.tar.xz"
    assert unpack["ansible.builtin.unarchive"]["remote_src"] is True


def test_an_env_prefixed_command_keeps_its_variables_as_the_tasks_environment() -> None:
    conversion = convert_script("LC_ALL=C.UTF-8 add-apt-repository -y ppa:ondrej/php\nFOO=1 make -C /opt/app\n")
    ppa, make = conversion.tasks
    assert ppa["ansible.builtin.apt_repository"]["repo"] == "ppa:ondrej/php" and ppa["environment"] == {"LC_ALL": "C.UTF-8"}
    assert make["environment"] == {"FOO": "1"}


def test_start_a_service_unless_it_runs_is_the_service_started() -> None:
    conversion = convert_script("service mariadb status > /dev/null || service mariadb start\n")
    [task] = conversion.tasks
    assert task["ansible.builtin.service"] == {"name": "mariadb", "state": "started"}


def test_a_pipe_anywhere_in_a_shell_tasks_script_sets_pipefail() -> None:
    conversion = convert_script('PASS="$(head -c 99 /dev/urandom | sha256sum | head -c 13)"\necho "$PASS" > /tmp/p\n'
                                'wc -l /etc/passwd|awk "{print \\$1}" > /tmp/n\n')
    assert conversion.tasks[0][SHELL]["cmd"].startswith("set -o pipefail\n")  # the pipe is inside quotes
    assert conversion.tasks[-1][SHELL]["cmd"].startswith("set -o pipefail\n")  # no spaces around it


def test_a_clone_pinned_by_a_later_checkout_drops_the_pin_warning() -> None:
    conversion = convert_script("git clone https://github.com/x/y.git /opt/y\ncd /opt/y\ngit checkout v1.2\n")
    assert [t["ansible.builtin.git"]["version"] for t in conversion.tasks] == ["v1.2"]
    assert not any("version: HEAD" in w or "git checkout" in w for w in conversion.warnings)


def test_unset_forgets_a_variable() -> None:
    conversion = convert_script('X=/a\nunset X\nmkdir -p "$X/b"\n')
    assert modules(conversion) == [SHELL]


def test_pip_after_activate_installs_into_that_virtual_environment_until_deactivate() -> None:
    conversion = convert_script("cd /opt/app\npython3 -m venv venv\nsource venv/bin/activate\npip install flask\n"
                                "python manage.py migrate\ndeactivate\npip install requests\n")
    _, flask, migrate, requests = conversion.tasks
    assert flask["ansible.builtin.pip"] == {"name": "flask", "virtualenv": "/opt/app/venv"}
    assert migrate["environment"] == {"VIRTUAL_ENV": "/opt/app/venv", "PATH": "/opt/app/venv/bin:{{ ansible_env.PATH }}"}
    assert requests["ansible.builtin.pip"] == {"name": "requests"} and "environment" not in requests


def test_bash_c_runs_in_a_child_shell_whose_state_ends_with_it() -> None:
    conversion = convert_script('bash -c "source /opt/env/bin/activate; cd /tmp"\npip install flask\n./run.sh\n')
    pip, run = conversion.tasks
    assert pip["ansible.builtin.pip"] == {"name": "flask"} and "chdir" not in run[COMMAND]


@pytest.mark.parametrize(("script", "fact"), [
    ('CODENAME="$(lsb_release -s -c)"\necho "deb http://x/ $CODENAME main" > /etc/apt/sources.list.d/x.list\n',
     "{{ ansible_facts.distribution_release }}"),
    ('ME=$(whoami)\nsudo usermod -aG docker "$ME"\n', "{{ ansible_facts.user_id }}"),
])
def test_a_command_that_prints_a_gathered_fact_is_that_fact_with_no_task(script: str, fact: str) -> None:
    conversion = convert_script(script)
    assert len(conversion.tasks) == 1 and fact in str(conversion.tasks[0])
    assert not any("ansible.builtin.shell" in t for t in conversion.tasks)


def test_a_variable_the_script_never_sets_is_read_from_the_host_environment() -> None:
    conversion = convert_script('sed -i "s/{{RUBY_VERSION}}/${ruby_version}/g" /opt/app/Dockerfile\n'
                                'if [ "$MODE" = "dev" ]; then\n  apt-get install -y gdb\nfi\n')
    assert conversion.tasks[0]["ansible.builtin.replace"] == {
        "path": "/opt/app/Dockerfile", "regexp": "\\{\\{RUBY_VERSION\\}\\}",
        "replace": "{{ ansible_env.ruby_version | default | replace(('%c' | format(92)), (('%c' | format(92)) ~ ('%c' | format(92)))) }}"}
    assert conversion.tasks[1]["when"] == "ansible_env.MODE | default == 'dev'"
    assert any("reads `$ruby_version`, which the script never sets" in w for w in conversion.warnings)


@pytest.mark.parametrize("script", [
    'echo "$X" > /etc/x\nX=1\n',  # set later: the script's own variable
    'read -r X\necho "$X" > /etc/x\n',
    'for X in a b; do :; done\necho "$X" > /etc/x\n',
    '. /etc/app.conf\necho "$X" > /etc/x\n',  # the file may set it
    'set -u\necho "$X" > /etc/x\n',  # unset, the script stops
    'echo "$HOME" > /etc/x\n',  # the login's, not an input
])
def test_a_variable_set_anywhere_or_perhaps_by_a_file_is_not_taken_from_the_environment(script: str) -> None:
    assert "ansible_env" not in str(convert_script(script).tasks)


def test_an_unquoted_variable_from_the_environment_stays_with_the_shell_that_splits_it() -> None:
    conversion = convert_script('$APT purge x\nmkdir /opt/$MODE\n')
    assert modules(conversion) == [SHELL, SHELL]
    assert "ansible_env" not in str(conversion.tasks)


def test_arithmetic_on_a_shell_variable_makes_no_task_and_the_variable_unknown() -> None:
    conversion = convert_script('N=1\n((N++))\necho "$N" > /etc/n\n')
    assert modules(conversion) == [SHELL]
    assert conversion.warnings[0].startswith("line 2: ((N++)) only counts in a shell variable")


def test_a_task_name_never_holds_the_scripts_own_template_braces() -> None:
    conversion = convert_script('sed -i "s/{{RUBY_VERSION}}/3.3/g" /opt/app/Dockerfile\n')
    assert conversion.tasks[0]["name"] == "Replace ((RUBY_VERSION)) in /opt/app/Dockerfile"


def test_a_path_from_the_environment_is_a_module_path() -> None:
    conversion = convert_script("sed -i 's/^A=.*/A=1/' \"$CONF\"\n")
    assert conversion.tasks[0]["ansible.builtin.replace"]["path"] == "{{ ansible_env.CONF | default }}"


@pytest.mark.parametrize("check", ["service mariadb status > /dev/null", "systemctl is-active --quiet mariadb"])
def test_restart_if_running_else_start_is_a_start_then_a_restart(check: str) -> None:
    conversion = convert_script(
        f"if {check}; then\n  echo restarting\n  if ! service mariadb restart; then\n    service mariadb status\n"
        "    exit 1\n  fi\nelse\n  service mariadb start\n  if ! service mariadb start; then\n    exit 1\n  fi\nfi\n")
    assert [(t["name"], t["ansible.builtin.service"]["state"]) for t in conversion.tasks] == [
        ("Start mariadb", "started"), ("Restart mariadb", "restarted")]


def test_an_if_on_a_service_status_that_does_more_than_start_it_is_checked_on_the_host() -> None:
    conversion = convert_script("if service nginx status; then\n  service nginx restart\nelse\n"
                                "  apt-get install -y nginx\nfi\n")
    assert [next(iter(t.keys() - {"name", "when", "register", "changed_when", "failed_when", "check_mode"}))
            for t in conversion.tasks] == [SHELL, "ansible.builtin.service", "ansible.builtin.apt"]


def test_a_default_that_names_a_known_variable_is_worked_out() -> None:
    conversion = convert_script('U=${SSH_USERNAME:-vagrant}\nH=${SSH_USER_HOME:-/home/${U}}\nmkdir -p "$H/.ssh"\n')
    assert conversion.tasks[0]["ansible.builtin.file"]["path"] == "/home/vagrant/.ssh"


def test_curl_of_a_host_without_a_scheme_piped_to_sh_is_a_download_over_http() -> None:
    conversion = convert_script("curl -sSL get.docker.com | sh\n")
    assert conversion.tasks[0]["ansible.builtin.get_url"]["url"] == "http://get.docker.com"
    assert conversion.tasks[1]["ansible.builtin.command"]["cmd"] == "sh /tmp/get.docker.com"


def test_runuser_runs_its_command_as_that_user() -> None:
    conversion = convert_script("runuser -u odoo -- mkdir -p /opt/odoo/addons\n")
    assert conversion.tasks[0]["become_user"] == "odoo" and conversion.tasks[0]["become"] is True


def test_a_host_value_in_single_quotes_of_an_inner_script_is_still_the_value() -> None:
    # the outer shell expanded ${V} inside the double quotes before the inner bash read '...'
    conversion = convert_script('V=$(cat /etc/v)\nrunuser -u odoo -- bash -lc "\n'
                                "git clone https://github.com/odoo/odoo.git --depth 1 --branch '${V}' /opt/src\n\"\n")
    assert conversion.tasks[-1]["ansible.builtin.git"]["version"] == "{{ shell_v }}"


def test_a_value_fetched_with_curl_is_the_uri_module_and_a_fact() -> None:
    conversion = convert_script("tag=$(curl -s https://api.github.com/repos/o/r/releases/latest | jq -r '.tag_name')\n"
                                'echo "$tag" > /etc/tag\n')
    fetch, keep, write = conversion.tasks
    assert fetch["ansible.builtin.uri"]["url"] == "https://api.github.com/repos/o/r/releases/latest"
    assert fetch["ansible.builtin.uri"]["follow_redirects"] == "none" and fetch["register"] == "shell_tag_response"
    assert keep["ansible.builtin.set_fact"] == {"shell_tag": "{{ shell_tag_response.json.tag_name | default('null') }}"}
    assert write["ansible.builtin.copy"]["content"] == "{{ shell_tag }}\n"


@pytest.mark.parametrize("line", [
    "tag=$(curl -s https://h/x | jq '.tag_name')\n",  # without -r jq prints JSON
    "tag=$(curl -s -X POST https://h/x)\n",
    "tag=$(curl -s https://h/x | grep -o 'v[0-9.]*')\n",
])
def test_other_fetches_are_worked_out_by_the_shell(line: str) -> None:
    assert "ansible.builtin.uri" not in str(convert_script(line).tasks)


def test_an_interactive_read_asks_the_person_running_the_play() -> None:
    conversion = convert_script('read -rp "Enter the username: " username\nsudo useradd -m "$username"\n')
    ask, keep, create = conversion.tasks
    assert ask == {"name": "Ask for username", "ansible.builtin.pause": {"prompt": "Enter the username:"},
                   "register": "shell_username_answer"}
    assert keep["ansible.builtin.set_fact"] == {"shell_username": "{{ shell_username_answer.user_input | default('') }}"}
    assert create["ansible.builtin.user"]["name"] == "{{ shell_username }}"


@pytest.mark.parametrize("line", ["read a b\n", "read -t 5 answer\n", "read -n1 key\n", "read -r line < /etc/x\n"])
def test_reads_that_split_time_out_or_read_a_file_stay_with_the_shell(line: str) -> None:
    assert "ansible.builtin.pause" not in str(convert_script(line).tasks)


def test_a_variable_set_on_every_path_that_goes_on_is_known_after_the_if() -> None:
    conversion = convert_script('if [ "$(uname -m)" = x86_64 ]; then\n  A=amd64\nelif [ "$(uname -m)" = aarch64 ]; then\n'
                                '  A=arm64\nelse\n  echo unsupported\n  exit 1\nfi\nmkdir -p "/opt/$A"\n')
    assert conversion.tasks[-1]["ansible.builtin.file"]["path"] == "/opt/{{ shell_a }}"


def test_an_operation_on_a_host_value_is_a_fact_worked_out_by_jinja() -> None:
    conversion = convert_script('V=$(cat /etc/v)\nS="${V%%.*}"\ncat > /etc/x <<EOF\nseries=${S} name=${NAME:-odoo}\nEOF\n')
    assert conversion.tasks[2]["ansible.builtin.set_fact"] == {
        "shell_s": "{{ ((shell_v | regex_findall('(?s)^(.*?)[.].*(?!.)')) or [shell_v]) | first }}"}
    assert conversion.tasks[3]["ansible.builtin.copy"]["content"] == "series={{ shell_s }} name=odoo\n"


@pytest.mark.parametrize("operator", ["%", "%%", "#", "##"])
@pytest.mark.parametrize("pattern", [".*", "*.", "*/", "/*", "*.tar.gz", "a?", "[ab]*", "*"])
def test_jinja_operations_say_what_bash_does(operator: str, pattern: str) -> None:
    import re

    import jinja2

    from playbook.convert.values import jinja_operation, parameter_operation

    environment = jinja2.Environment()
    environment.filters["regex_findall"] = lambda value, regex: re.findall(regex, value)
    for value in ("18.0.1", "a/b/c.tar.gz", "noext", "..x.", "abc", ""):
        expression = jinja_operation("v", operator, pattern)
        assert expression is not None
        got = environment.from_string("{{ " + expression + " }}").render(v=value)
        assert got == parameter_operation(value, operator, pattern), (value, expression)


def test_a_query_inside_a_line_is_worked_out_first_when_that_lets_a_rule_take_the_line() -> None:
    conversion = convert_script('echo "deb [arch=$(dpkg --print-architecture)] https://download.docker.com/linux/ubuntu '
                                '$(. /etc/os-release && echo "$VERSION_CODENAME") stable" | sudo tee /etc/apt/sources.list.d/docker.list\n')
    assert [list(t)[1] for t in conversion.tasks] == [SHELL, "ansible.builtin.set_fact", "ansible.builtin.slurp",
                                                       "ansible.builtin.set_fact", "ansible.builtin.apt_repository"]
    assert conversion.tasks[0][SHELL]["cmd"] == 'printf "%s" "$(dpkg --print-architecture)"'
    assert conversion.tasks[2]["ansible.builtin.slurp"] == {"src": "/etc/os-release"}  # its variables, read once
    assert conversion.tasks[4]["ansible.builtin.apt_repository"]["repo"] == (
        "deb [arch={{ shell_dpkg_print_architecture }}] https://download.docker.com/linux/ubuntu "
        "{{ shell_version_codename }} stable")


def test_a_query_a_module_answers_is_read_by_that_module() -> None:
    conversion = convert_script('echo "provisioned $(cat /etc/stamp) uid $(id -u mysql)" > /etc/motd\n')
    assert [list(t)[1] for t in conversion.tasks] == ["ansible.builtin.slurp", "ansible.builtin.set_fact",
                                                       "ansible.builtin.getent", "ansible.builtin.set_fact",
                                                       "ansible.builtin.copy"]
    assert conversion.tasks[3]["ansible.builtin.set_fact"] == {
        "shell_id_u_mysql": "{{ ((shell_id_u_mysql_user.ansible_facts.getent_passwd.get('mysql')) or ['', ''])[1] }}"}
    assert conversion.tasks[4]["ansible.builtin.copy"]["content"] == "provisioned {{ shell_cat_etc_stamp }} uid {{ shell_id_u_mysql }}\n"


@pytest.mark.parametrize("line", [
    'echo "x=$(date +%s)" > /etc/x\n',  # not a query the converter knows
    'echo "$(rm -rf /tmp/x; echo y)" > /etc/x\n',  # changes the host
    'some-tool --arch "$(dpkg --print-architecture)"\n',  # the line stays a shell task anyway
])
def test_other_substitutions_stay_in_the_shell_task(line: str) -> None:
    conversion = convert_script(line)
    assert not any("Work out $(" in t["name"] for t in conversion.tasks)


def test_a_file_in_the_scripts_home_read_into_a_variable_is_slurped() -> None:
    conversion = convert_script('U="$(cat ~/.features/user)"\nmkdir -p "/home/$U/x"\n')
    assert conversion.tasks[0]["ansible.builtin.slurp"] == {"src": "~/.features/user"}
    assert "become" not in conversion.tasks[0]


@pytest.mark.parametrize("line", ["echo " + "a" * (1 << 20), "x=" + "a" * (1 << 20)])
def test_a_one_megabyte_line_is_converted_in_linear_time(line: str) -> None:
    import time

    from playbook.convert import environment_inputs

    started = time.monotonic()
    environment_inputs(line)
    assert time.monotonic() - started < 5  # the first version backtracked quadratically: minutes


def test_a_function_that_only_echoes_words_is_worked_out_where_its_output_is_used() -> None:
    conversion = convert_script('path_to_cache() {\n  v=$1\n  echo "/srv/cache/jdk-${v}.tar.gz"\n}\n'
                                'p=$(path_to_cache 8u202)\nmkdir -p $(dirname $p)\n'
                                'tar x --strip-components=1 -zf $(path_to_cache 8u202) -C /opt/jdk\n')
    directory, unpack = conversion.tasks  # no shell works the path out
    assert directory["ansible.builtin.file"]["path"] == "/srv/cache"
    assert unpack["ansible.builtin.unarchive"]["src"] == "/srv/cache/jdk-8u202.tar.gz"


def test_mkdir_p_of_a_sticky_system_directory_makes_no_task_that_would_take_its_mode() -> None:
    conversion = convert_script("mkdir -p /tmp /srv/app\nmkdir -p /var/tmp\n")
    assert [t["ansible.builtin.file"]["path"] for t in conversion.tasks] == ["/srv/app"]


def test_set_and_shift_only_move_the_positional_parameters_and_make_no_task() -> None:
    conversion = convert_script('set -- a b c\nshift\necho "$1" > /tmp/one\nwc -c "$@" > /tmp/n\n'
                                'set -- "$UNKNOWN_ARG_9"\nshift $((OPTIND-1))\n')
    write, count = conversion.tasks
    assert write["ansible.builtin.copy"]["content"] == "b\n"
    assert count[SHELL]["cmd"].startswith("set -- b c\n")  # what the shell task reads, as the script left it


def test_the_first_match_scraped_from_a_download_is_the_uri_module_and_a_regex() -> None:
    conversion = convert_script("V=$(curl https://go.dev/dl/?mode=json | grep -o 'go.*.linux-amd64.tar.gz' | head -n 1 "
                                "| tr -d '\\r\\n')\necho \"$V\" > /etc/go-version\n")
    fetch, keep, write = conversion.tasks
    assert fetch["ansible.builtin.uri"]["url"] == "https://go.dev/dl/?mode=json"  # the `?` matched no file
    assert keep["ansible.builtin.set_fact"]["shell_v"] == (
        "{{ ((shell_v_response.content | default('') | regex_findall('go.*.linux-amd64.tar.gz')) + [''])[0] }}")
    # a pattern grep and Python read differently (`+` is literal to grep) stays the shell's
    assert SHELL in convert_script("V=$(curl https://h/x | grep -o 'a+b' | head -n 1)\n").tasks[0]


def test_if_not_cmd_then_fail_else_only_a_log_is_the_command_as_a_task() -> None:
    conversion = convert_script('log() {\n  echo "$1"\n}\nif ! apt-get update -y; then\n  echo "failed"\n  exit 1\n'
                                'else\n  log "updated"\nfi\n')
    assert modules(conversion) == ["ansible.builtin.apt"] and "when" not in conversion.tasks[0]


def test_a_template_placeholder_is_named_as_such_and_makes_no_task() -> None:
    conversion = convert_script("#!/bin/bash\nmode=<%MODE%>\nfallocate -l 1G /swapfile\n")
    assert conversion.tasks == []  # bash stops at line 2 with a syntax error: nothing after it runs
    assert conversion.warnings[0].startswith("line 2: <%MODE%> is a template placeholder, not shell")


def test_nothing_after_a_template_placeholder_becomes_a_task() -> None:
    conversion = convert_script("mkdir /a\nmode=<%MODE%>\nmkdir /x\nif true; then\n  mkdir /y\nfi\n")
    assert [t["ansible.builtin.file"]["path"] for t in conversion.tasks] == ["/a"]  # bash runs only line 1
    assert "line 4-6: is at or after the syntax error at line 2, where bash stops; no task was made for it" \
        in conversion.warnings
