"""Split mode over fake workers: chunks run concurrently, merge into ONE playbook, fail loudly."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from flask import Flask

from tests.balancer.conftest import FakeFarm
from tests.procs import wait_until

DATA = Path(__file__).resolve().parent.parent / "data" / "balancer"
SCRIPT_35 = "".join(f"echo step {n:02d}\n" for n in range(1, 36))


def tasks_of(playbook: str) -> list[str]:
    docs = list(yaml.safe_load_all(playbook))
    assert len(docs) == 1, "the reply must be ONE YAML document"
    return [task["name"] for play in docs[0] for task in play["tasks"]]


def test_split_reply_shape_order_and_summed_tokens(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    gate = threading.Event()
    for worker in farm.workers.values():
        worker.gate = gate
    app = make_app()
    result: dict[str, object] = {}

    def run() -> None:
        response = app.test_client().post("/generate", json={"commands": SCRIPT_35, "model": "codellama:13b", "split": True})
        result.update(status=response.status_code, body=response.json, backend=response.headers.get("X-Backend"))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: all(w.running == 1 for w in farm.workers.values()), 10, 0.005, what="three chunks at once")
    gate.set()
    thread.join(10)
    assert result["status"] == 200
    body = result["body"]
    assert isinstance(body, dict)
    assert tasks_of(body["playbook"]) == [f"echo step {n:02d}" for n in range(1, 36)]
    assert body["chunks_processed"] == 4
    assert [(c["index"], c["first_line"], c["last_line"]) for c in body["chunks"]] == [
        (0, 1, 10), (1, 11, 20), (2, 21, 30), (3, 31, 35)]
    assert {c["backend"] for c in body["chunks"]} == set(farm.urls)
    assert all(c["elapsed"] >= 0 and c["finished"] >= c["started"] for c in body["chunks"])
    words = [len(c.split()) for c in ("".join(SCRIPT_35.splitlines(True)[i:i + 10]) for i in range(0, 35, 10))]
    assert body["prompt_tokens"] == sum(words)
    assert body["response_tokens"] == 2 * sum(words) and body["total_tokens"] == 3 * sum(words)
    assert body["warnings"] == [] and body["elapsed"] >= 0 and body["model"] == "codellama:13b"
    assert set(str(result["backend"]).split(", ")) == set(farm.urls)


def test_each_chunk_is_a_job_through_the_queue(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    response = make_app().test_client().post("/generate", json={"commands": SCRIPT_35, "split": True})
    assert response.status_code == 200
    jobs = [job for worker in farm.workers.values() for job in worker.jobs]
    assert sorted(job["json"]["commands"] for job in jobs) == sorted(
        "".join(SCRIPT_35.splitlines(True)[i:i + 10]) for i in range(0, 35, 10))
    assert all(job["path"] == "/generate" and job["json"]["model"] == "codellama:13b" for job in jobs)
    assert max(w.max_running for w in farm.workers.values()) == 1


def test_a_chunk_with_an_unusable_reply_is_retried_elsewhere(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    farm[0].playbook = "Sorry, I cannot help with that."
    response = make_app(chunk_size=100).test_client().post("/generate", json={"commands": SCRIPT_35, "split": True})
    assert response.status_code == 200
    chunk = response.json["chunks"][0]
    assert chunk["backend"] == farm.urls[1] and chunk["attempts"] == 2
    assert len(tasks_of(response.json["playbook"])) == 35


def test_a_chunk_that_fails_for_good_fails_the_request_naming_it(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    for worker in farm.workers.values():
        worker.fail_on = "step 15"
    response = make_app().test_client().post("/generate", json={"commands": SCRIPT_35, "split": True})
    assert response.status_code == 502
    body = response.json
    assert "playbook" not in body
    assert "chunk 1 (lines 11-20)" in body["error"] and "the LLM failed on this input" in body["error"]
    assert body["chunk"] == {"index": 1, "first_line": 11, "last_line": 20}
    tried = [w.url for w in farm.workers.values() for job in w.jobs if "step 15" in job["json"]["commands"]]
    assert sorted(tried) == farm.urls  # the failing chunk went once to every worker before giving up


def test_split_upload_uses_the_form_field(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    response = make_app().test_client().post("/upload", data={
        "file": (io.BytesIO(SCRIPT_35.encode()), "setup.sh"), "model": "codellama:13b", "split": "true"})
    assert response.status_code == 200
    assert response.json["chunks_processed"] == 4 and response.json["filename"] == "setup.sh"
    assert all(job["path"] == "/generate" for worker in farm.workers.values() for job in worker.jobs)


def test_split_for_a_model_nobody_has_is_404_with_the_llm_engine(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    app = make_app()
    app.extensions["balancer"].health.check_once()
    response = app.test_client().post("/generate", json={"commands": SCRIPT_35, "model": "nope:1b", "split": True, "engine": "llm"})
    assert response.status_code == 404 and "nope:1b" in response.json["error"]
    assert farm.job_calls() == []


def test_split_for_a_model_nobody_has_still_runs_hybrid_chunks(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    """The workers decide: a chunk the rules cover needs no model (the balancer routes it to any backend)."""
    app = make_app()
    app.extensions["balancer"].health.check_once()
    response = app.test_client().post("/generate", json={"commands": SCRIPT_35, "model": "nope:1b", "split": True})
    assert response.status_code == 200, response.json
    assert response.json["chunks_processed"] == 4


def test_split_of_only_comments_is_400(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    response = make_app().test_client().post("/generate", json={"commands": "# nothing\n\n# here\n", "split": True})
    assert response.status_code == 400 and "cannot split" in response.json["error"]


def test_a_failed_chunk_drops_the_chunks_still_waiting(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    for worker in farm.workers.values():
        worker.fail_on = "step 01"
    app = make_app(chunk_size=1, retries=0)
    response = app.test_client().post("/generate", json={"commands": SCRIPT_35, "split": True})
    assert response.status_code == 502 and "chunk 0 (lines 1-1)" in response.json["error"]
    pool = app.extensions["balancer"].pool
    wait_until(lambda: pool.snapshot().waiting == 0 and all(b.in_flight == 0 for b in pool.snapshot().backends),
               10, 0.005, what="the split's slots given back")
    assert len(farm.job_calls()) < 35 // 2  # the remaining chunks were never sent


CONSTRUCTS = (DATA / "constructs.sh").read_text()
PROTECTED = {"continuation": (4, 6), "heredoc": (9, 13), "if block": (19, 24), "second continuation": (26, 28)}


@pytest.mark.parametrize("chunk_size", range(1, 13))
def test_split_never_cuts_continuations_heredocs_or_if_blocks(
    make_app: Callable[..., Flask], farm: FakeFarm, chunk_size: int
) -> None:
    response = make_app(chunk_size=chunk_size).test_client().post("/generate", json={"commands": CONSTRUCTS, "split": True})
    assert response.status_code == 200
    chunks = response.json["chunks"]
    for what, (first, last) in PROTECTED.items():
        assert any(c["first_line"] <= first and last <= c["last_line"] for c in chunks), f"{what} cut: {chunks}"
    sent = [job["json"]["commands"] for worker in farm.workers.values() for job in worker.jobs]
    lines = CONSTRUCTS.splitlines(True)
    for first, last in PROTECTED.values():
        assert sum("".join(lines[first - 1:last]) in text for text in sent) == 1


def test_each_chunk_is_sent_with_the_shell_state_set_before_it(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    script = "cd /opt/app\nexport STAGE=prod\n" + "".join(f"touch file-{n}\n" for n in range(12))
    response = make_app().test_client().post("/generate", json={"commands": script, "split": True, "engine": "rules"})
    assert response.status_code == 200, response.json
    sent = sorted((job["json"]["commands"], job["json"].get("context")) for w in farm.workers.values() for job in w.jobs)
    first, second = sent if sent[0][0].startswith("cd") else sent[::-1]
    assert first[1] is None, "the first chunk has nothing before it"
    assert second[1] == "cd /opt/app\nexport STAGE=prod\n"
    assert all(job["json"]["engine"] == "rules" for w in farm.workers.values() for job in w.jobs)


def test_a_script_making_more_than_max_chunks_is_a_413(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    script = "".join(f"touch f{n}\n" for n in range(30))
    response = make_app(max_chunks=2).test_client().post("/generate", json={"commands": script, "split": True})
    assert response.status_code == 413 and "MAX_CHUNKS=2" in response.json["error"]
    assert farm.job_calls() == [], "nothing was sent to a worker"


def test_split_sends_the_clients_context_and_lint_with_every_chunk(make_app: Callable[..., Flask], farm: FakeFarm) -> None:
    script = "cd /srv/app\n" + "".join(f"echo step {n}\n" for n in range(1, 21))
    response = make_app().test_client().post(
        "/generate", json={"commands": script, "split": True, "lint": True, "context": "export APP=demo"})
    assert response.status_code == 200
    jobs = sorted((job["json"] for worker in farm.workers.values() for job in worker.jobs), key=lambda j: j["commands"])
    assert len(jobs) == 3 and all(job["lint"] is True for job in jobs)
    assert all(job["context"].startswith("export APP=demo") for job in jobs)
    assert sum("cd /srv/app" in job["context"] for job in jobs) == 2  # the later chunks also carry the cd
