"""The emulator's contract, exercised through the official ``ollama`` client and raw HTTP."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ollama
import pytest
import requests
import yaml

from tests.emulator.fixtures import EmulatorProcess
from tests.emulator.ollama_emulator import PLAYBOOK_INTRO, PLAYBOOK_OUTRO, default_answer, split_pieces
from tests.procs import wait_until

SCRIPT_REQUEST = """Convert this script to a playbook.

```sh
echo not this block
```

```bash
#!/bin/bash
# install the web server
apt-get update

  apt-get install -y nginx
echo 'key: value' > /etc/demo.conf
```
Thanks!"""


def yaml_block(text: str) -> Any:
    match = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert match, text
    return yaml.safe_load(match.group(1))


@pytest.fixture
def client(ollama_emulator: EmulatorProcess) -> ollama.Client:
    return ollama.Client(host=ollama_emulator.url, timeout=30)


# --- default answers (pure) -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "one", "  lead and trail  ", "a\n\nb\tc  d\n", "```yaml\n- x: 1\n```"])
def test_pieces_concatenate_to_the_text(text: str) -> None:
    assert "".join(split_pieces(text)) == text


def test_a_shell_block_becomes_one_task_per_command_line_of_the_last_block() -> None:
    answer = default_answer(SCRIPT_REQUEST, as_json=False)
    assert answer.startswith(PLAYBOOK_INTRO + "\n\n```yaml\n")
    assert answer.endswith("```\n\n" + PLAYBOOK_OUTRO)
    (play,) = yaml_block(answer)
    assert play["name"] == "Converted playbook" and play["hosts"] == "all" and play["become"] is True
    assert play["tasks"] == [
        {"name": "apt-get update", "ansible.builtin.shell": "apt-get update"},
        {"name": "apt-get install -y nginx", "ansible.builtin.shell": "  apt-get install -y nginx"},
        {"name": "echo 'key: value' > /etc/demo.conf", "ansible.builtin.shell": "echo 'key: value' > /etc/demo.conf"},
    ]


def test_anything_else_is_explained_quoting_its_first_line() -> None:
    assert default_answer("\n  What does this do?\nmore", as_json=False).startswith(
        'Explanation: you asked about "What does this do?".'
    )
    assert json.loads(default_answer("hello", as_json=True)) == {"text": default_answer("hello", as_json=False)}
    assert json.loads(default_answer(SCRIPT_REQUEST, as_json=True))["playbook"][0]["tasks"][0]["name"] == "apt-get update"


# --- Ollama API through the official client -------------------------------------------------


def test_root_and_version(ollama_emulator: EmulatorProcess, client: ollama.Client) -> None:
    assert requests.get(ollama_emulator.url + "/", timeout=5).text == "Ollama is running"
    assert requests.head(ollama_emulator.url + "/", timeout=5).status_code == 200
    assert re.fullmatch(r"\d+\.\d+\.\d+", requests.get(ollama_emulator.url + "/api/version", timeout=5).json()["version"])


def test_streamed_chat_sends_pieces_then_a_done_line_with_counters(client: ollama.Client) -> None:
    messages = [{"role": "system", "content": "You write Ansible."}, {"role": "user", "content": SCRIPT_REQUEST}]
    chunks = list(client.chat(model="codellama:13b", messages=messages, stream=True))
    assert len(chunks) > 10 and not any(c.done for c in chunks[:-1])
    final = chunks[-1]
    text = "".join(c.message.content or "" for c in chunks)
    assert text == default_answer(SCRIPT_REQUEST, as_json=False)
    assert final.done and final.done_reason == "stop" and final.message.content == ""
    assert final.prompt_eval_count == 3 + len(SCRIPT_REQUEST.split())
    assert final.eval_count == len(text.split())
    for counter in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert getattr(final, counter) > 0


def test_raw_stream_is_ndjson(ollama_emulator: EmulatorProcess) -> None:
    body = {"model": "codellama:13b", "messages": [{"role": "user", "content": "hi"}]}
    response = requests.post(ollama_emulator.url + "/api/chat", json=body, timeout=10)
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[-1]["done"] is True and all(line["done"] is False for line in lines[:-1])
    assert lines[0]["model"] == "codellama:13b" and lines[0]["created_at"].endswith("Z")


def test_non_streamed_chat_and_generate(client: ollama.Client) -> None:
    reply = client.chat(model="codellama:13b", messages=[{"role": "user", "content": "Why YAML?"}])
    assert reply.done and reply.message.content == default_answer("Why YAML?", as_json=False)
    assert reply.prompt_eval_count == 2 and reply.eval_count == len(reply.message.content.split())
    generated = client.generate(model="codellama:13b", prompt="Why YAML?", system="Be brief.")
    assert generated.response == reply.message.content and generated.prompt_eval_count == 4
    assert generated.context
    streamed = list(client.generate(model="codellama:13b", prompt="Why YAML?", stream=True))
    assert "".join(c.response for c in streamed) == generated.response and streamed[-1].done


def test_an_empty_chat_only_loads_the_model(client: ollama.Client) -> None:
    reply = client.chat(model="codellama:13b", messages=[])
    assert reply.done and reply.done_reason == "load"


@pytest.mark.parametrize("fmt", ["json", {"type": "object", "properties": {"playbook": {"type": "array"}}}])
def test_format_answers_json(client: ollama.Client, fmt: Any) -> None:
    script = client.chat(model="codellama:13b", messages=[{"role": "user", "content": SCRIPT_REQUEST}], format=fmt)
    assert len(json.loads(script.message.content)["playbook"][0]["tasks"]) == 3
    other = client.chat(model="codellama:13b", messages=[{"role": "user", "content": "hello"}], format=fmt, stream=True)
    assert json.loads("".join(c.message.content for c in other))["text"].startswith("Explanation:")


def test_tags_show_and_ps(client: ollama.Client) -> None:
    assert [m.model for m in client.list().models] == ["codellama:13b", "llama3.1:8b"]
    shown = client.show("codellama:13b")
    assert shown.details is not None and shown.details.format == "gguf" and shown.capabilities == ["completion"]
    assert client.ps().models == []
    client.chat(model="llama3.1:8b", messages=[{"role": "user", "content": "hi"}])
    assert [m.model for m in client.ps().models] == ["llama3.1:8b"]


def test_unknown_model_is_a_404_in_ollamas_words(ollama_emulator: EmulatorProcess, client: ollama.Client) -> None:
    for path, body in [
        ("/api/chat", {"model": "nope:1b", "messages": [{"role": "user", "content": "hi"}]}),
        ("/api/generate", {"model": "nope:1b", "prompt": "hi"}),
    ]:
        response = requests.post(ollama_emulator.url + path, json=body, timeout=5)
        assert response.status_code == 404
        assert response.json() == {"error": 'model "nope:1b" not found, try pulling it first'}
    with pytest.raises(ollama.ResponseError) as raised:
        list(client.chat(model="nope:1b", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert raised.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as shown:
        client.show("nope:1b")
    assert shown.value.status_code == 404 and shown.value.error == "model 'nope:1b' not found"
    # an untagged name means :latest, as in Ollama
    with pytest.raises(ollama.ResponseError):
        client.chat(model="codellama", messages=[{"role": "user", "content": "hi"}])


def test_bad_requests_are_400_json(ollama_emulator: EmulatorProcess) -> None:
    bad_json = requests.post(ollama_emulator.url + "/api/chat", data="{nope", timeout=5)
    assert bad_json.status_code == 400 and bad_json.json()["error"]
    empty = requests.post(ollama_emulator.url + "/api/chat", data="", timeout=5)
    assert empty.status_code == 400 and empty.json() == {"error": "missing request body"}
    no_model = requests.post(ollama_emulator.url + "/api/chat", json={"messages": []}, timeout=5)
    assert no_model.status_code == 400 and no_model.json() == {"error": "model is required"}
    unknown = requests.get(ollama_emulator.url + "/api/nothing", timeout=5)
    assert unknown.status_code == 404 and unknown.text == "404 page not found"


# --- OpenAI-compatible API ------------------------------------------------------------------


def test_openai_chat_completions(ollama_emulator: EmulatorProcess) -> None:
    url = ollama_emulator.url + "/v1/chat/completions"
    messages = [{"role": "user", "content": "Why YAML?"}]
    whole = requests.post(url, json={"model": "codellama:13b", "messages": messages}, timeout=10).json()
    assert whole["object"] == "chat.completion"
    assert whole["choices"][0]["message"]["content"] == default_answer("Why YAML?", as_json=False)
    assert whole["usage"] == {"prompt_tokens": 2, "completion_tokens": 12, "total_tokens": 14}

    body = {"model": "codellama:13b", "messages": messages, "stream": True, "stream_options": {"include_usage": True}}
    response = requests.post(url, json=body, timeout=10)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = [line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks if c["choices"]) == whole["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 12

    missing = requests.post(url, json={"model": "nope:1b", "messages": messages}, timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "message": 'model "nope:1b" not found, try pulling it first',
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    listed = requests.get(ollama_emulator.url + "/v1/models", timeout=5).json()
    assert listed["object"] == "list" and [m["id"] for m in listed["data"]] == ["codellama:13b", "llama3.1:8b"]


# --- control API ------------------------------------------------------------------------------


def test_scripted_replies_are_consumed_in_order(ollama_emulator: EmulatorProcess, client: ollama.Client) -> None:
    ollama_emulator.queue_replies([{"content": "first answer"}, {"status": 500, "error": "GPU on fire"}])
    messages = [{"role": "user", "content": "hi"}]
    first = client.chat(model="codellama:13b", messages=messages)
    assert first.message.content == "first answer" and first.eval_count == 2
    with pytest.raises(ollama.ResponseError) as raised:
        list(client.chat(model="codellama:13b", messages=messages, stream=True))
    assert raised.value.status_code == 500 and raised.value.error == "GPU on fire"
    assert client.chat(model="codellama:13b", messages=messages).message.content.startswith("Explanation:")
    assert [r["messages"] for r in ollama_emulator.requests()] == [messages] * 3
    assert ollama_emulator.requests()[1]["stream"] is True
    assert ollama_emulator.stats() == {"in_flight": 0, "max_in_flight": 1, "served": 3, "cancelled": 0}


def test_a_hanging_reply_holds_until_reset(ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"hang": True}])
    body = {"model": "codellama:13b", "messages": [{"role": "user", "content": "hi"}]}
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(requests.post, ollama_emulator.url + "/api/chat", json=body, timeout=30)
        wait_until(lambda: ollama_emulator.stats()["in_flight"] == 1, what="the hanging request")
        assert not pending.done()
        ollama_emulator.reset()
        assert pending.result(timeout=10).status_code == 503
    assert ollama_emulator.stats() == {"in_flight": 0, "max_in_flight": 0, "served": 0, "cancelled": 0}
    assert ollama_emulator.requests() == []


def test_config_changes_models_and_delay(ollama_emulator: EmulatorProcess, client: ollama.Client) -> None:
    assert ollama_emulator.configure(models=["tiny:1b"]) == {"delay_s": 0.0, "models": ["tiny:1b"]}
    assert [m.model for m in client.list().models] == ["tiny:1b"]
    ollama_emulator.configure(delay_s=60)
    with ThreadPoolExecutor(2) as pool:
        messages = [{"role": "user", "content": "hi"}]
        calls = [
            pool.submit(client.chat, model="tiny:1b", messages=messages),
            pool.submit(lambda: list(client.chat(model="tiny:1b", messages=messages, stream=True))),
        ]
        wait_until(lambda: ollama_emulator.stats()["in_flight"] == 2, what="two delayed requests")
        assert not any(call.done() for call in calls)
        ollama_emulator.reset()  # releases the delays at once and restores the start-up config
        assert calls[0].result(timeout=10).message.content.startswith("Explanation:")
        assert calls[1].result(timeout=10)[-1].done
    assert [m.model for m in client.list().models] == ["codellama:13b", "llama3.1:8b"]


def test_a_client_leaving_mid_stream_is_counted_as_cancelled(ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"content": " ".join(["word"] * 400), "delay_s": 40}])
    body = {"model": "codellama:13b", "messages": [{"role": "user", "content": "hi"}]}
    with requests.post(ollama_emulator.url + "/api/chat", json=body, stream=True, timeout=10) as response:
        first = next(response.iter_lines())
        assert json.loads(first)["done"] is False
    wait_until(lambda: ollama_emulator.stats()["cancelled"] == 1, what="the emulator noticing the client left")
    assert ollama_emulator.stats()["in_flight"] == 0


def test_restart_serves_again_on_the_same_port(ollama_emulator: EmulatorProcess, client: ollama.Client) -> None:
    port = ollama_emulator.port
    ollama_emulator.kill()
    with pytest.raises(ConnectionError):
        client.list()
    ollama_emulator.restart()
    assert ollama_emulator.port == port
    assert client.list().models
