"""The worker's HTTP contract through the factory with a FakeLLM (no network)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence

import pytest
import yaml
from flask.testing import FlaskClient

from tests.worker.conftest import AppFactory

from common.errors import LLMTimeout, LLMUnavailable
from tests.procs import wait_until
from worker.llm import FakeLLM, Message

PLAYBOOK_REPLY = """Sure! Here is the playbook you asked for:

```yaml
- name: Install nginx
  hosts: all
  become: true
  tasks:
    - name: Install nginx
      ansible.builtin.apt:
        name: nginx
        state: present
```

Let me know if you need anything else."""


def answer_with(text: str):  # type: ignore[no-untyped-def]
    return lambda model, messages: text


@pytest.fixture
def client(make_client: Callable[..., FlaskClient]) -> FlaskClient:
    return make_client(FakeLLM(answer_with(PLAYBOOK_REPLY)))


def test_generate_returns_one_clean_playbook_from_a_chatty_fenced_reply(client: FlaskClient) -> None:
    reply = client.post("/generate", json={"commands": "apt-get install -y nginx"})
    assert reply.status_code == 200, reply.json
    body = reply.json
    assert body["model"] == "codellama:13b"
    assert "Sure" not in body["playbook"] and "```" not in body["playbook"]
    plays = list(yaml.safe_load_all(body["playbook"]))
    assert len(plays) == 1 and plays[0][0]["tasks"][0]["ansible.builtin.apt"]["name"] == "nginx"
    assert body["total_tokens"] == body["prompt_tokens"] + body["response_tokens"] > 0
    assert body["elapsed"] >= 0 and "queue_position" not in body


def test_a_non_playbook_reply_is_retried_with_the_error(make_client: Callable[..., FlaskClient]) -> None:
    replies = iter(["I cannot help with that.", PLAYBOOK_REPLY])
    llm = FakeLLM(lambda model, messages: next(replies))
    reply = make_client(llm).post("/generate", json={"commands": "apt-get install -y nginx"})
    assert reply.status_code == 200, reply.json
    assert reply.json["attempts"] == 2
    retry_messages = llm.calls[1][1]
    assert retry_messages[-2]["content"] == "I cannot help with that."
    assert "not a valid Ansible playbook" in retry_messages[-1]["content"]


def test_a_reply_that_never_becomes_a_playbook_is_a_502_with_the_last_error(make_client: Callable[..., FlaskClient]) -> None:
    llm = FakeLLM(answer_with("```yaml\nname: just a mapping\n```"))
    reply = make_client(llm).post("/generate", json={"commands": "ls"})
    assert reply.status_code == 502
    assert "3 attempts" in reply.json["error"] and "last error" in reply.json["error"]
    assert len(llm.calls) == 3


@pytest.mark.parametrize(
    ("path", "field", "answer_field"),
    [("/explain", "playbook", "explanation"), ("/generate-code", "description", "code"), ("/explain-code", "code", "explanation")],
)
def test_text_endpoints_answer_with_their_field(path: str, field: str, answer_field: str, make_client: Callable[..., FlaskClient]) -> None:
    llm = FakeLLM(answer_with("  It installs nginx.  "))
    reply = make_client(llm).post(path, json={field: "something", "model": "codellama:13b"})
    assert reply.status_code == 200, reply.json
    assert reply.json[answer_field] == "It installs nginx."
    assert reply.json["total_tokens"] > 0


def test_upload_converts_a_utf8_script(client: FlaskClient) -> None:
    data = {"file": (io.BytesIO(b"apt-get install -y nginx\n"), "setup.sh"), "model": "codellama:13b"}
    reply = client.post("/upload", data=data, content_type="multipart/form-data")
    assert reply.status_code == 200, reply.json
    assert reply.json["filename"] == "setup.sh" and "ansible.builtin.apt" in reply.json["playbook"]


BAD_JSON_REQUESTS = [
    ("/generate", b"not json", "not valid JSON"),
    ("/generate", b"[1, 2]", "JSON object"),
    ("/generate", b"{}", "missing field 'commands'"),
    ("/generate", b'{"commands": ""}', "field 'commands' is empty"),
    ("/generate", b'{"commands": 42}', "must be a string"),
    ("/generate", b'{"commands": "ls", "model": 7}', "field 'model' must be a string"),
    ("/generate", b'{"commands": "ls", "engine": "magic"}', "field 'engine' must be one of"),
    ("/generate", b"", "body is empty"),
    ("/generate", b'{"commands": "\xff"}', "not valid UTF-8"),
    ("/explain", b'{"model": "codellama:13b"}', "missing field 'playbook'"),
    ("/generate-code", b'{"description": null}', "missing field 'description'"),
    ("/explain-code", b'{"code": ["x"]}', "must be a string"),
]


@pytest.mark.parametrize(("path", "body", "message"), BAD_JSON_REQUESTS)
def test_bad_input_gets_a_400_json_error_and_the_worker_keeps_serving(
    client: FlaskClient, path: str, body: bytes, message: str
) -> None:
    reply = client.post(path, data=body, content_type="application/json")
    assert reply.status_code == 400 and reply.is_json
    assert message in reply.json["error"]
    assert client.post("/generate", json={"commands": "ls"}).status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "missing file"),
        ({"file": (io.BytesIO(b"\xff\xfeapt-get"), "s.sh")}, "not UTF-8"),
        ({"file": (io.BytesIO(b"  \n"), "s.sh")}, "is empty"),
    ],
)
def test_bad_uploads_get_a_400(client: FlaskClient, data: dict, message: str) -> None:
    reply = client.post("/upload", data=data, content_type="multipart/form-data")
    assert reply.status_code == 400 and message in reply.json["error"]


def test_a_body_over_the_limit_is_a_413_json_error(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(FakeLLM(answer_with(PLAYBOOK_REPLY)), max_content_length=2048)
    reply = client.post("/generate", json={"commands": "x" * 4096})
    assert reply.status_code == 413 and reply.is_json and "too large" in reply.json["error"]


def test_unknown_model_is_a_404_naming_it(client: FlaskClient) -> None:
    reply = client.post("/generate", json={"commands": "ls", "model": "nosuch:1b"})
    assert reply.status_code == 404 and "nosuch:1b" in reply.json["error"]


def test_unknown_paths_and_methods_are_json(client: FlaskClient) -> None:
    assert client.get("/nope").status_code == 404 and client.get("/nope").is_json
    reply = client.get("/generate")
    assert reply.status_code == 405 and reply.is_json and "POST" in reply.json["error"]


@pytest.mark.parametrize(("error", "status"), [(LLMUnavailable("Ollama is down"), 503), (LLMTimeout("too slow"), 504)])
def test_llm_failures_fail_that_job_alone(error: Exception, status: int, make_client: Callable[..., FlaskClient]) -> None:
    failures = [error]

    def responder(model: str, messages: Sequence[Message]) -> str:
        if failures:
            raise failures.pop()
        return PLAYBOOK_REPLY

    client = make_client(FakeLLM(responder))
    first = client.post("/generate", json={"commands": "ls"})
    assert first.status_code == status and first.is_json
    if status == 503:
        assert first.headers["Retry-After"]
    assert client.post("/generate", json={"commands": "ls"}).status_code == 200


def test_queue_status_shows_the_running_job_and_the_waiting_ones(make_app: AppFactory) -> None:
    release = threading.Event()

    def slow(model: str, messages: Sequence[Message]) -> str:
        release.wait(10)
        return PLAYBOOK_REPLY

    app = make_app(FakeLLM(slow))
    results: list[int] = []

    def call() -> None:
        results.append(app.test_client().post("/generate", json={"commands": "ls"}).status_code)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    status_client = app.test_client()
    status = wait_until(
        lambda: (s := status_client.get("/queue-status").json)["queue_size"] == 3 and s, what="3 jobs queued"
    )
    assert status["active"] is True and status["active_type"] == "generate"
    assert status["active_model"] == "codellama:13b"
    assert status["running"] == 1 and status["waiting"] == 2 and status["slots"] == 1
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == [200, 200, 200]
    idle = status_client.get("/queue-status").json
    assert idle["active"] is False and idle["queue_size"] == 0 and idle["models"] == ["codellama:13b"]


def test_healthz_and_index(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}


@pytest.mark.parametrize("reply_text", [
    "```yaml\n- import_playbook: /etc/passwd\n```",
    "```yaml\n- hosts: all\n  vars_files: [/etc/shadow]\n  tasks:\n    - ansible.builtin.debug: {msg: hi}\n```",
    "```yaml\n- hosts: all\n  tasks:\n    - ansible.builtin.debug:\n        msg: \"{{ lookup('file', '/etc/passwd') }}\"\n```",
], ids=["import_playbook", "vars_files", "lookup"])
def test_a_model_reply_that_reads_the_workers_files_is_refused_and_sent_back(
    reply_text: str, make_client: Callable[..., FlaskClient]
) -> None:
    replies = iter([reply_text, PLAYBOOK_REPLY])
    llm = FakeLLM(lambda model, messages: next(replies))
    reply = make_client(llm).post("/generate", json={"commands": "apt-get install -y nginx"})
    assert reply.status_code == 200 and reply.json["attempts"] == 2, reply.json
    retry = llm.calls[1][1][-1]["content"]
    assert "self-contained" in retry or "'vars'" in retry
    assert "root:" not in retry and "could not find" not in retry.lower()
