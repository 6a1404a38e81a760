"""Metrics, JSON logs and request ids across real processes: the Ollama emulator, one
``python3 app.py`` worker and one ``python3 app_distributed.py`` balancer, both with
``LOG_FORMAT=json``, on free loopback ports, stopped by pid."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.emulator.fixtures import EmulatorProcess
from tests.farms import HTTP, NO_PROXIES
from tests.procs import ROOT, ServiceProcess, free_port, python_service, wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SCRIPT = "apt-get update\napt-get install -y nginx\nsystemctl enable --now nginx\nfrobnicate --all\n"


@dataclass
class JsonFarm:
    emulator: EmulatorProcess
    worker: ServiceProcess
    balancer: ServiceProcess
    log_dir: Path

    def lines(self, name: str) -> list[dict[str, Any]]:
        """Every line of a service's log, each parsed as JSON (a line that is not JSON fails the test)."""
        text = (self.log_dir / f"{name}.log").read_text(encoding="utf-8")
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pytest.fail(f"{name} wrote a line that is not JSON: {line!r}")
        return out

    def access(self, name: str, request_id: str) -> list[dict[str, Any]]:
        return [line for line in self.lines(name) if line.get("request_id") == request_id]


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsonFarm]:
    log_dir = tmp_path_factory.mktemp("json-farm")
    emulator = EmulatorProcess(log_path=log_dir / "emulator.log")
    started: list[ServiceProcess] = []
    try:
        emulator.start()
        worker = python_service(["app.py"], free_port(), {"OLLAMA_HOST": emulator.url, "MODELS_REFRESH": "1",
                                                           "LOG_FORMAT": "json", **NO_PROXIES}, log_path=log_dir / "worker.log")
        started.append(worker)
        worker.start(60)
        balancer = python_service(["app_distributed.py"], free_port(), {
            "BACKENDS": worker.url, "HEALTH_INTERVAL": "0.2", "CHUNK_SIZE": "2", "LOG_FORMAT": "json", **NO_PROXIES,
        }, log_path=log_dir / "balancer.log")
        started.append(balancer)
        balancer.start(30)
        wait_until(lambda: HTTP.get(balancer.url + "/queue-status", timeout=5).json()["backends"][0]["models"],
                   30, 0.1, what="the worker's models known")
        yield JsonFarm(emulator, worker, balancer, log_dir)
    finally:
        for service in reversed(started):
            service.stop()
        emulator.stop()


def scrape(url: str) -> Samples:
    reply = HTTP.get(url + "/metrics", timeout=5)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_of_both_services_parse_and_move_when_jobs_run(farm: JsonFarm) -> None:
    balancer_before, worker_before = scrape(farm.balancer.url), scrape(farm.worker.url)
    single = HTTP.post(farm.balancer.url + "/generate", json={"commands": SCRIPT, "engine": "llm"}, timeout=60)
    assert single.status_code == 200, single.text
    split = HTTP.post(farm.balancer.url + "/generate", json={"commands": SCRIPT, "split": True}, timeout=60)
    assert split.status_code == 200, split.text
    chunks = split.json()["chunks_processed"]
    assert chunks == 2
    balancer, worker = scrape(farm.balancer.url), scrape(farm.worker.url)

    assert moved(balancer_before, balancer, "ansible_farm_http_requests_total", endpoint="/generate", method="POST", status="200") == 2
    assert moved(balancer_before, balancer, "ansible_farm_balancer_job_duration_seconds_count", endpoint="/generate", split="false") == 1
    assert moved(balancer_before, balancer, "ansible_farm_balancer_job_duration_seconds_count", endpoint="/generate", split="true") == 1
    assert moved(balancer_before, balancer, "ansible_farm_balancer_chunk_duration_seconds_count") == chunks
    assert moved(balancer_before, balancer, "ansible_farm_balancer_queue_wait_seconds_count") == 1 + chunks
    assert moved(balancer_before, balancer, "ansible_farm_balancer_jobs_completed_total") == 1 + chunks
    assert value(balancer, "ansible_farm_backend_status", backend=farm.worker.url, status="online") == 1
    assert value(balancer, "ansible_farm_backend_slots", backend=farm.worker.url) == 1
    assert value(balancer, "ansible_farm_balancer_jobs_waiting") == 0
    assert value(balancer, "process_resident_memory_bytes") > 0

    # the worker ran the whole script through the LLM once, and the split's chunk with frobnicate (hybrid)
    assert moved(worker_before, worker, "ansible_farm_http_requests_total", endpoint="/generate", method="POST", status="200") == 1 + chunks
    assert moved(worker_before, worker, "ansible_farm_worker_llm_calls_total", model="codellama:13b", outcome="ok") == 2
    assert moved(worker_before, worker, "ansible_farm_worker_llm_tokens_total", model="codellama:13b", kind="prompt") > 0
    assert moved(worker_before, worker, "ansible_farm_worker_llm_tokens_total", model="codellama:13b", kind="response") > 0
    assert moved(worker_before, worker, "ansible_farm_worker_validations_total", result="valid") == 1 + chunks
    assert moved(worker_before, worker, "ansible_farm_worker_syntax_check_duration_seconds_count") >= 1
    assert moved(worker_before, worker, "ansible_farm_worker_job_duration_seconds_count", kind="generate", engine="llm") == 1
    assert value(worker, "ansible_farm_worker_jobs_running") == 0 and value(worker, "ansible_farm_worker_slots") == 1
    assert value(worker, "ansible_farm_build_info", service="worker") == 1


def test_a_request_id_comes_back_and_is_in_both_services_json_lines(farm: JsonFarm) -> None:
    reply = HTTP.post(farm.balancer.url + "/generate", json={"commands": "apt-get install -y nginx"},
                      headers={"X-Request-Id": "obs-trace-42", "X-Forwarded-For": "203.0.113.7"}, timeout=60)
    assert reply.status_code == 200 and reply.headers["X-Request-Id"] == "obs-trace-42"

    wait_until(lambda: farm.access("balancer", "obs-trace-42") and farm.access("worker", "obs-trace-42"), 10,
               what="both access lines written")
    [front] = farm.access("balancer", "obs-trace-42")
    assert front["method"] == "POST" and front["path"] == "/generate" and front["status"] == 200
    assert front["backend"] == farm.worker.url and front["attempts"] == 1
    assert isinstance(front["duration"], float) and front["duration"] > 0
    assert isinstance(front["queue_wait"], float) and front["queue_wait"] >= 0
    assert front["time"].endswith("Z") and front["logger"] == "gunicorn.access"
    [back] = farm.access("worker", "obs-trace-42")
    assert back["path"] == "/generate" and back["status"] == 200
    assert back["forwarded_for"] == "203.0.113.7, 127.0.0.1"

    for bad in ("not ok", "x" * 129, "<script>"):
        made = HTTP.get(farm.balancer.url + "/queue-status", headers={"X-Request-Id": bad}, timeout=5)
        assert made.status_code == 200 and made.headers["X-Request-Id"] != bad and len(made.headers["X-Request-Id"]) == 32

    # every line of every process is JSON, gunicorn's own start-up lines included
    for name in ("balancer", "worker"):
        lines = farm.lines(name)
        assert any(line["logger"] == "gunicorn.error" and "Listening at" in line["message"] for line in lines)


def test_many_scrapes_while_jobs_run_never_fail(farm: JsonFarm) -> None:
    errors: list[str] = []

    def scraper() -> None:
        for _ in range(20):
            reply = HTTP.get(farm.balancer.url + "/metrics", timeout=5)
            if reply.status_code != 200:
                errors.append(reply.text)

    threads = [threading.Thread(target=scraper) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        assert HTTP.post(farm.balancer.url + "/generate", json={"commands": "apt-get install -y git"}, timeout=60).ok
    for thread in threads:
        thread.join(30)
    assert errors == []


@pytest.mark.parametrize("script", ["app.py", "app_distributed.py"])
def test_a_bad_log_format_stops_the_start_with_status_2(script: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "LOG_FORMAT": "xml", "BACKENDS": "http://127.0.0.1:9", "PORT": str(free_port())}
    done = subprocess.run([sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "LOG_FORMAT" in done.stderr, done.stderr


def test_metrics_answers_head_and_refuses_post(farm: JsonFarm) -> None:
    """/metrics answers HEAD and refuses POST with 405 JSON, like every path."""
    assert requests.head(farm.worker.url + "/metrics", timeout=5).status_code == 200
    refused = HTTP.post(farm.worker.url + "/metrics", timeout=5)
    assert refused.status_code == 405 and refused.json()["error"]
