"""The worker as a real process (`python3 app.py`) against the Ollama emulator, over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import yaml

from tests.procs import ROOT, ServiceProcess, free_port, wait_until


@pytest.fixture
def seed_worker(ollama_emulator, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The worker started with the seed's own command line, through a shell."""
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "MODELS_REFRESH": "1"}
    command = f"PORT={port} OLLAMA_HOST={ollama_emulator.url} exec python3 app.py"
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker = ServiceProcess(["python3", "app.py"], port, proc=proc, log_path=tmp_path / "worker.log")
    wait_until(worker._ready, 30, what="worker ready")
    wait_until(lambda: requests.get(worker.url + "/queue-status", timeout=2).json()["models"], what="model list")
    yield worker
    worker.stop()


def post(worker: ServiceProcess, path: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.post(worker.url + path, timeout=60, **kwargs)


def test_every_endpoint_answers_per_the_contract(seed_worker: ServiceProcess, ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    index = requests.get(seed_worker.url + "/", timeout=5)
    assert index.status_code == 200 and "<html" in index.text
    assert requests.get(seed_worker.url + "/healthz", timeout=5).json() == {"status": "ok"}
    status = requests.get(seed_worker.url + "/queue-status", timeout=5).json()
    assert status["queue_size"] == 0 and status["active"] is False and status["slots"] == 1
    assert "codellama:13b" in status["models"]

    generated = post(seed_worker, "/generate", json={"commands": "apt-get install -y nginx\nsystemctl restart nginx", "model": "codellama:13b", "engine": "llm"})
    assert generated.status_code == 200, generated.text
    body = generated.json()
    plays = yaml.safe_load(body["playbook"])
    assert [t["name"] for t in plays[0]["tasks"]] == ["apt-get install -y nginx", "systemctl restart nginx"]
    assert body["total_tokens"] == body["prompt_tokens"] + body["response_tokens"] > 0
    assert body["model"] == "codellama:13b" and body["elapsed"] > 0

    uploaded = post(seed_worker, "/upload", files={"file": ("setup.sh", b"useradd deploy\n")}, data={"model": "codellama:13b", "engine": "llm"})
    assert uploaded.status_code == 200, uploaded.text
    assert yaml.safe_load(uploaded.json()["playbook"])[0]["tasks"][0]["name"] == "useradd deploy"

    for path, field, answer in [("/explain", "playbook", "explanation"), ("/generate-code", "description", "code"), ("/explain-code", "code", "explanation")]:
        reply = post(seed_worker, path, json={field: "print the disk usage", "model": "codellama:13b"})
        assert reply.status_code == 200, reply.text
        assert reply.json()[answer].startswith("Explanation:") and reply.json()["total_tokens"] > 0

    unknown = post(seed_worker, "/generate", json={"commands": "ls", "model": "nosuch:7b", "engine": "llm"})
    assert unknown.status_code == 404 and "nosuch:7b" in unknown.json()["error"]


def test_a_non_playbook_reply_is_retried_with_the_error(seed_worker: ServiceProcess, ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    ollama_emulator.queue_replies([{"content": "Sure, I would use Ansible for that. Good luck!"}])
    reply = post(seed_worker, "/generate", json={"commands": "mkdir -p /opt/app", "engine": "llm"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["attempts"] == 2
    second_ask = ollama_emulator.requests()[-1]["messages"]
    assert second_ask[-2]["content"].startswith("Sure, I would use Ansible")
    assert "not a valid Ansible playbook" in second_ask[-1]["content"]


def test_four_concurrent_jobs_on_one_slot_run_one_after_another(seed_worker: ServiceProcess, ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    ollama_emulator.configure(delay_s=1.5)  # long enough to see all three waiting behind the first
    replies: dict[int, requests.Response] = {}

    def job(n: int) -> None:
        replies[n] = post(seed_worker, "/generate", json={"commands": f"touch /tmp/file-{n}", "engine": "llm"})

    threads = [threading.Thread(target=job, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    busy = wait_until(
        lambda: (s := requests.get(seed_worker.url + "/queue-status", timeout=2).json())["waiting"] == 3 and s,
        what="three jobs waiting behind the running one",
    )
    assert busy["active"] is True and busy["queue_size"] == 4 and busy["active_type"] == "generate"
    for thread in threads:
        thread.join(60)
    for n, reply in replies.items():
        assert reply.status_code == 200, reply.text
        assert yaml.safe_load(reply.json()["playbook"])[0]["tasks"][0]["name"] == f"touch /tmp/file-{n}"
    assert sorted(r.json().get("queue_position", 0) for r in replies.values()) == [0, 1, 2, 3]
    assert ollama_emulator.stats()["max_in_flight"] == 1


BAD_REQUESTS: list[tuple[str, dict, str]] = [
    ("/generate", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
    ("/generate", {"json": {}}, "missing field 'commands'"),
    ("/generate", {"json": {"commands": "   "}}, "is empty"),
    ("/generate", {"json": {"commands": ["ls"]}}, "must be a string"),
    ("/generate", {"data": b'{"commands": "\xff\xfe"}', "headers": {"Content-Type": "application/json"}}, "UTF-8"),
    ("/upload", {"files": {"file": ("bad.sh", b"\xff\xfe\x00rm")}}, "not UTF-8"),
    ("/upload", {"data": {"model": "codellama:13b"}}, "missing file"),
    ("/explain", {"json": {"playbook": 3}}, "must be a string"),
    ("/generate-code", {"json": {"description": ""}}, "is empty"),
    ("/explain-code", {"json": {"model": "codellama:13b"}}, "missing field 'code'"),
]


@pytest.mark.parametrize(("path", "kwargs", "message"), BAD_REQUESTS)
def test_bad_input_gets_a_4xx_json_error_and_the_worker_keeps_serving(seed_worker: ServiceProcess, path: str, kwargs: dict, message: str) -> None:
    reply = post(seed_worker, path, **kwargs)
    assert reply.status_code == 400 and reply.headers["Content-Type"] == "application/json"
    assert message in reply.json()["error"]
    assert post(seed_worker, "/generate", json={"commands": "ls"}).status_code == 200


def test_a_body_over_10_mib_is_a_413_json_error(seed_worker: ServiceProcess) -> None:
    reply = post(seed_worker, "/generate", data=b'{"commands": "' + b"x" * (11 * 1024 * 1024) + b'"}', headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and "too large" in reply.json()["error"]
    assert post(seed_worker, "/generate", json={"commands": "ls"}).status_code == 200


def test_the_llm_going_away_mid_run_fails_that_job_and_the_next_succeeds(seed_worker: ServiceProcess, ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    ollama_emulator.configure(delay_s=30)
    outcome: list[requests.Response] = []
    thread = threading.Thread(target=lambda: outcome.append(post(seed_worker, "/generate", json={"commands": "ls", "engine": "llm"})))
    thread.start()
    wait_until(lambda: ollama_emulator.stats()["in_flight"] == 1, what="the job reached the LLM")
    ollama_emulator.kill()
    thread.join(60)
    assert outcome[0].status_code in (502, 503), outcome[0].text
    assert outcome[0].json()["error"]
    ollama_emulator.restart()
    after = post(seed_worker, "/generate", json={"commands": "ls", "engine": "llm"})
    assert after.status_code == 200, after.text


def test_a_client_that_leaves_while_waiting_does_not_leave_its_job_to_run(seed_worker: ServiceProcess, ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    ollama_emulator.configure(delay_s=1.5)
    first = threading.Thread(target=lambda: post(seed_worker, "/generate", json={"commands": "echo first", "engine": "llm"}))
    first.start()
    wait_until(lambda: ollama_emulator.stats()["in_flight"] == 1, what="first job running")
    body = b'{"commands": "echo abandoned", "engine": "llm"}'
    with socket.create_connection(("127.0.0.1", seed_worker.port)) as sock:
        sock.sendall(b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        wait_until(lambda: requests.get(seed_worker.url + "/queue-status", timeout=2).json()["waiting"] == 1, what="second job waiting")
    wait_until(lambda: requests.get(seed_worker.url + "/queue-status", timeout=2).json()["waiting"] == 0, what="abandoned job dropped")
    first.join(30)
    assert post(seed_worker, "/generate", json={"commands": "echo third", "engine": "llm"}).status_code == 200
    asked = [r["messages"][-1]["content"] for r in ollama_emulator.requests()]
    assert not any("echo abandoned" in content for content in asked)


def test_the_openai_compatible_api_serves_the_same_contract(start_worker: Callable[..., ServiceProcess], ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker(ollama_emulator.url, LLM_API="openai")
    reply = post(worker, "/generate", json={"commands": "apt-get install -y git", "engine": "llm"})
    assert reply.status_code == 200, reply.text
    assert yaml.safe_load(reply.json()["playbook"])[0]["tasks"][0]["name"] == "apt-get install -y git"
    assert reply.json()["total_tokens"] > 0
    asked = ollama_emulator.requests()[-1]
    assert asked["stream_options"] == {"include_usage": True}, "not the OpenAI-compatible chat API"
    assert requests.get(worker.url + "/queue-status", timeout=5).json()["llm"]["api"] == "openai"


HYBRID_SCRIPT = """sudo apt-get install -y nginx
./configure --prefix=/opt/app
sudo systemctl enable --now nginx
"""


def test_hybrid_is_the_default_rules_for_covered_lines_one_llm_call_for_the_rest(seed_worker: ServiceProcess, ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    reply = post(seed_worker, "/generate", json={"commands": HYBRID_SCRIPT})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["engine"] == "hybrid" and body["llm_lines"] == ["line 2"]
    tasks = yaml.safe_load(body["playbook"])[0]["tasks"]
    assert "ansible.builtin.apt" in tasks[0]
    assert tasks[1] == {"name": "./configure --prefix=/opt/app", "ansible.builtin.shell": "./configure --prefix=/opt/app"}
    assert any(m in tasks[2] for m in ("ansible.builtin.service", "ansible.builtin.systemd_service", "ansible.builtin.systemd"))
    asked = ollama_emulator.requests()
    assert len(asked) == 1 and "apt-get" not in asked[0]["messages"][-1]["content"]
    assert body["validation"]["ok"] is True


def test_hybrid_with_the_llm_unreachable_answers_the_rules_result(seed_worker: ServiceProcess, ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    ollama_emulator.kill()
    reply = post(seed_worker, "/generate", json={"commands": HYBRID_SCRIPT})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["engine"] == "rules" and any("could not be used" in w for w in body["warnings"])
    assert "ansible.builtin.command" in yaml.safe_load(body["playbook"])[0]["tasks"][1]


def test_a_hallucinated_module_from_the_model_is_sent_back_with_the_error(seed_worker: ServiceProcess, ollama_emulator) -> None:  # type: ignore[no-untyped-def]
    ollama_emulator.queue_replies([{"content": "```yaml\n- hosts: all\n  tasks:\n    - name: Install\n      ansible.builtin.apt_get:\n        name: nginx\n```"}])
    reply = post(seed_worker, "/generate", json={"commands": "apt-get install -y nginx", "engine": "llm"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["attempts"] == 2
    assert "unknown module 'ansible.builtin.apt_get'" in ollama_emulator.requests()[-1]["messages"][-1]["content"]
