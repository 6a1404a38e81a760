"""The README's first curl, as a new user runs it: on a farm whose LLM has only another model (as
`make run` with its embedded SmolLM2), ``"model": "codellama:13b"`` must not fail a script the
rules cover, and the seed's calls keep working. Real processes: the Ollama emulator with one
model, two ``python3 app.py`` workers and ``python3 app_distributed.py``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator.fixtures import EmulatorProcess
from tests.farms import HTTP, NO_PROXIES
from tests.procs import ROOT, ServiceProcess, free_port, python_service, wait_until

EMBEDDED = "smollm2:135m"  # what the farm's LLM has: not the README's codellama:13b


def readme_first_curl_body() -> dict[str, str]:
    """The JSON body of the README's first ``curl ... /generate`` (the Set-up section)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"curl -X POST http://localhost:5000/generate \\\n(?:.*\\\n)*?\s*-d '(?P<body>[^']*)'", text)
    assert match, "the README's first curl is gone"
    body: dict[str, str] = json.loads(match["body"])
    return body


@pytest.fixture(scope="module")
def farm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_dir: Path = tmp_path_factory.mktemp("embedded-farm")
    emulator = EmulatorProcess(models=[EMBEDDED], log_path=log_dir / "emulator.log")
    started: list[ServiceProcess] = []
    try:
        emulator.start()
        workers = [python_service(["app.py"], free_port(), {"OLLAMA_HOST": emulator.url, "MODELS_REFRESH": "1",
                                                             "DEFAULT_MODEL": EMBEDDED, **NO_PROXIES},
                                  log_path=log_dir / f"worker{n}.log") for n in range(2)]
        started.extend(workers)
        for worker in workers:
            worker.start(60)
        balancer = python_service(["app_distributed.py"], free_port(), {
            "BACKENDS": ",".join(w.url for w in workers), "HEALTH_INTERVAL": "0.2", "DEFAULT_MODEL": EMBEDDED, **NO_PROXIES,
        }, log_path=log_dir / "balancer.log")
        started.append(balancer)
        balancer.start(30)
        wait_until(lambda: all(b["models"] for b in HTTP.get(balancer.url + "/queue-status", timeout=5).json()["backends"]),
                   30, 0.1, what="every worker's models known")
        yield balancer.url
    finally:
        for service in reversed(started):
            service.stop()
        emulator.stop()


def test_the_readme_first_curl_answers_with_a_playbook(farm_url: str) -> None:
    body = readme_first_curl_body()
    assert body["model"] == "codellama:13b"
    reply = HTTP.post(farm_url + "/generate", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert "ansible.builtin.apt" in result["playbook"] and result["llm_lines"] == []
    assert result["validation"]["ok"] is True


def test_the_seeds_split_call_works_too(farm_url: str) -> None:
    commands = "\n".join(f"apt-get install -y pkg{n}" for n in range(25))
    reply = HTTP.post(farm_url + "/generate", json={"commands": commands, "model": "codellama:13b", "split": True}, timeout=60)
    assert reply.status_code == 200, reply.text
    assert reply.json()["chunks_processed"] == 3


def test_a_line_the_rules_do_not_cover_gives_the_rules_result_and_names_the_missing_model(farm_url: str) -> None:
    reply = HTTP.post(farm_url + "/generate", json={"commands": "apt-get install -y nginx\nfrobnicate --all",
                                                   "model": "codellama:13b"}, timeout=60)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["engine"] == "rules"
    assert any("codellama:13b" in warning and "line 2" in warning for warning in result["warnings"]), result["warnings"]


@pytest.mark.parametrize(("path", "body"), [
    ("/generate", {"commands": "ls", "engine": "llm"}),
    ("/explain", {"playbook": "- hosts: all"}),
])
def test_a_job_that_needs_the_model_still_says_it_is_installed_nowhere(farm_url: str, path: str, body: dict[str, str]) -> None:
    reply = HTTP.post(farm_url + path, json={**body, "model": "codellama:13b"}, timeout=60)
    assert reply.status_code == 404 and "codellama:13b" in reply.json()["error"]


def test_without_a_model_the_farms_own_default_is_used(farm_url: str) -> None:
    reply = HTTP.post(farm_url + "/explain", json={"playbook": "- hosts: all"}, timeout=60)
    assert reply.status_code == 200, reply.text
