"""``ansiblectl`` (``python -m cli``) as a user runs it: a real process against a real farm (a
balancer and two one-slot workers on the Ollama emulator, on loopback ports), checked by its
stdout, stderr and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cli.main import EXIT_CODES
from tests.farms import HTTP, NO_PROXIES, Farm, running_farm
from tests.procs import ROOT, free_port, wait_until

SCRIPT = "apt-get update\napt-get install -y nginx\nsystemctl enable --now nginx\n"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    with running_farm(tmp_path_factory.mktemp("cli-farm"), ADMIN_TOKEN="cli-test-token") as started:
        yield started


@pytest.fixture(autouse=True)
def _idle(farm: Farm) -> None:
    farm.emulator.reset()
    farm.wait_idle()


def ansiblectl(*args: str, url: str | None = None, stdin: str | bytes | None = None,
               env: dict[str, str] | None = None, argv0: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*(argv0 or [sys.executable, "-m", "cli"]), *args, *(["--url", url] if url else [])]
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    result = subprocess.run(command, cwd=ROOT, input=data, capture_output=True, timeout=60,
                            env={**os.environ, **NO_PROXIES, **(env or {})})
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode("utf-8"),
                                       result.stderr.decode("utf-8"))


def test_convert_prints_the_playbook_on_stdout_and_warnings_on_stderr(farm: Farm, tmp_path: Path) -> None:
    script = tmp_path / "setup.sh"
    script.write_text(SCRIPT + "./configure\n", encoding="utf-8")
    result = ansiblectl("convert", str(script), "--engine", "rules", url=farm.url)
    assert result.returncode == 0, result.stderr
    plays = yaml.safe_load(result.stdout)
    modules = [key for task in plays[0]["tasks"] for key in task if key.startswith("ansible.")]
    assert modules[:2] == ["ansible.builtin.apt", "ansible.builtin.systemd_service"]
    assert "warning:" in result.stderr and "configure" in result.stderr


def test_convert_from_stdin_split_over_workers_as_json_to_a_file(farm: Farm, tmp_path: Path) -> None:
    out = tmp_path / "reply.json"
    lines = SCRIPT + "useradd -m deploy\nmkdir -p /srv/app\nchown deploy /srv/app\n"
    result = ansiblectl("convert", "-", "--split", "--engine", "rules", "--json", "-o", str(out), url=farm.url, stdin=lines)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    reply = json.loads(out.read_text(encoding="utf-8"))
    assert reply["chunks_processed"] == 3  # CHUNK_SIZE=2
    assert {chunk["backend"] for chunk in reply["chunks"]} <= {w.url for w in farm.workers}
    assert "ansible.builtin.user" in reply["playbook"]


def test_an_unreachable_balancer_is_exit_3_with_one_line(tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_text(SCRIPT, encoding="utf-8")
    result = ansiblectl("convert", str(script), url=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("ansiblectl: error: cannot reach")


def test_errors_show_the_services_message_with_a_documented_exit_status(farm: Farm, tmp_path: Path) -> None:
    blank = ansiblectl("convert", "-", url=farm.url, stdin="   \n")
    assert blank.returncode == 4 and "HTTP 400" in blank.stderr and "commands" in blank.stderr

    as_json = ansiblectl("convert", "-", "--json", url=farm.url, stdin="   \n")
    assert as_json.returncode == 4 and "error" in json.loads(as_json.stdout)

    farm.emulator.queue_replies([{"status": 500, "error": "the GPU caught fire"}])
    failed = ansiblectl("explain", "-", url=farm.url, stdin="- hosts: all\n")
    assert failed.returncode == 1 and "HTTP 502" in failed.stderr and "GPU caught fire" in failed.stderr

    not_utf8 = ansiblectl("convert", "-", url=farm.url, stdin=b"apt-get install \xff\n")
    assert not_utf8.returncode == 2 and "not UTF-8" in not_utf8.stderr
    missing = ansiblectl("convert", "/nonexistent/script.sh", url=farm.url)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_explain_and_generate_code_print_the_answer(farm: Farm) -> None:
    farm.emulator.queue_replies([{"content": "It installs nginx."}, {"content": "echo hello"}])
    explained = ansiblectl("explain", "-", url=farm.url, stdin="- hosts: all\n  tasks: []\n")
    assert (explained.returncode, explained.stdout) == (0, "It installs nginx.\n")
    code = ansiblectl("generate", "print hello", url=farm.url)
    assert code.returncode == 0 and "echo hello" in code.stdout


def test_progress_shows_the_place_in_the_queue_while_the_job_waits(farm: Farm) -> None:
    # both workers busy (1.5 s and 3 s); the CLI's job is first in line, then runs (1.5 s)
    farm.emulator.queue_replies([{"content": "a", "delay_s": 1.5}, {"content": "b", "delay_s": 3.0},
                                 {"content": "the CLI's explanation", "delay_s": 1.5}])
    senders = [threading.Thread(target=lambda: HTTP.post(farm.url + "/explain", json={"playbook": "x: 1"}, timeout=60))
               for _ in range(2)]
    for n, sender in enumerate(senders, start=1):
        sender.start()
        wait_until(lambda: farm.emulator.stats()["in_flight"] == n, 10, 0.02, what=f"{n} jobs running")
    result = ansiblectl("explain", "-", "--progress", "always", url=farm.url, stdin="- hosts: all\n")
    for sender in senders:
        sender.join(30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "the CLI's explanation\n"
    lines = result.stderr.splitlines()
    assert any(line.startswith("waiting for a free worker: place 1 of 1 in the queue · ") for line in lines), lines
    assert any(line.startswith("running on a worker · ") for line in lines), lines


def test_status_is_a_table_of_every_backend(farm: Farm) -> None:
    result = ansiblectl("status", url=farm.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("farm: 2/2 backends online")
    header, *rows = result.stdout.split("\n\n", 1)[1].splitlines()
    assert header.split()[:3] == ["BACKEND", "STATUS", "IN"]
    assert sorted(row.split()[0] for row in rows) == sorted(w.url for w in farm.workers)
    assert all(row.split()[1] == "online" for row in rows)
    assert json.loads(ansiblectl("status", "--json", url=farm.url).stdout)["total_backends"] == 2
    worker = ansiblectl("status", url=farm.workers[0].url)
    assert worker.returncode == 0 and worker.stdout.startswith("worker: ok")


def test_backends_are_managed_through_the_admin_api(farm: Farm) -> None:
    target = farm.workers[1].url
    denied = ansiblectl("backends", "drain", target, url=farm.url, env={"ADMIN_TOKEN": "wrong"})
    assert denied.returncode == 4 and "HTTP 401" in denied.stderr
    token = {"ADMIN_TOKEN": "cli-test-token"}
    try:
        drained = ansiblectl("backends", "drain", target, url=farm.url, env=token)
        assert drained.returncode == 0 and drained.stdout.strip() == f"drained {target}: now draining"
        listed = ansiblectl("backends", url=farm.url, env=token)
        assert f"{target}  draining" in listed.stdout.replace("   ", "  ")
        unknown = ansiblectl("backends", "remove", "http://127.0.0.1:1", url=farm.url, env=token)
        assert unknown.returncode == 4 and "no backend" in unknown.stderr
        extra = f"http://127.0.0.1:{free_port()}"
        assert ansiblectl("backends", "add", extra, "--slots", "2", url=farm.url, env=token).returncode == 0
        assert extra in ansiblectl("backends", "--json", url=farm.url, env=token).stdout
        removed = ansiblectl("backends", "remove", extra, url=farm.url, env=token)
        assert removed.returncode == 0 and removed.stdout.strip() == f"removed {extra}"
    finally:
        undrained = ansiblectl("backends", "undrain", target, url=farm.url, env=token)
    assert undrained.returncode == 0 and undrained.stdout.strip() == f"undrained {target}: now online"


def test_help_lists_the_exit_codes_and_the_installed_launcher_runs(farm: Farm) -> None:
    result = ansiblectl("--help")
    assert result.returncode == 0 and EXIT_CODES.splitlines()[0] in result.stdout
    for code in range(7):
        assert f"\n  {code}  " in result.stdout
    launched = ansiblectl("status", "--json", url=farm.url, argv0=[str(ROOT / "cli" / "ansiblectl")])
    assert launched.returncode == 0 and json.loads(launched.stdout)["online_backends"] == 2
    assert ansiblectl("convert", url=farm.url).returncode == 2  # usage: FILE missing
