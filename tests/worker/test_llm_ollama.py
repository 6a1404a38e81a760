"""``OllamaLLM`` against the emulator process: answers, counts, and every failure mapped once."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.errors import ClientGone, LLMError, LLMTimeout, LLMUnavailable, ModelNotFound
from tests.emulator.fixtures import EmulatorProcess
from tests.emulator.ollama_emulator import default_answer
from tests.procs import wait_until
from worker.llm_ollama import OllamaLLM

REQUEST = "Convert this:\n```bash\napt-get update\napt-get install -y nginx\n```"
MESSAGES = [{"role": "system", "content": "You write Ansible playbooks."}, {"role": "user", "content": REQUEST}]


@pytest.fixture
def llm(ollama_emulator: EmulatorProcess) -> OllamaLLM:
    return OllamaLLM(ollama_emulator.url, timeout_s=30)


def test_answer_and_token_counts(llm: OllamaLLM, ollama_emulator: EmulatorProcess) -> None:
    completion = llm.chat("codellama:13b", MESSAGES)
    assert completion.text == default_answer(REQUEST, as_json=False)
    assert completion.model == "codellama:13b"
    assert completion.prompt_tokens == 4 + len(REQUEST.split())
    assert completion.response_tokens == len(completion.text.split())
    (sent,) = ollama_emulator.requests()
    assert sent["stream"] is True and sent["messages"] == MESSAGES and "format" not in sent


def test_json_schema_is_sent_as_format(llm: OllamaLLM, ollama_emulator: EmulatorProcess) -> None:
    schema = {"type": "object", "properties": {"playbook": {"type": "array"}}, "required": ["playbook"]}
    completion = llm.chat("codellama:13b", MESSAGES, json_schema=schema)
    assert json.loads(completion.text)["playbook"][0]["tasks"][1]["name"] == "apt-get install -y nginx"
    assert ollama_emulator.requests()[-1]["format"] == schema


def test_list_models(llm: OllamaLLM) -> None:
    assert llm.list_models() == ["codellama:13b", "llama3.1:8b"]


def test_unknown_model_is_model_not_found(llm: OllamaLLM) -> None:
    with pytest.raises(ModelNotFound) as raised:
        llm.chat("mistral:7b", MESSAGES)
    assert raised.value.model == "mistral:7b" and raised.value.status == 404


def test_emulator_killed_is_llm_unavailable(llm: OllamaLLM, ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.kill()
    with pytest.raises(LLMUnavailable) as raised:
        llm.chat("codellama:13b", MESSAGES)
    assert ollama_emulator.url.split("//")[1] in raised.value.message and "OLLAMA_HOST" in raised.value.message
    with pytest.raises(LLMUnavailable):
        llm.list_models()
    ollama_emulator.restart()
    assert llm.chat("codellama:13b", MESSAGES).text


def test_emulator_dying_mid_answer_is_llm_unavailable(llm: OllamaLLM, ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"content": " ".join(["word"] * 400), "delay_s": 40}])
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(llm.chat, "codellama:13b", MESSAGES)
        wait_until(lambda: ollama_emulator.stats()["in_flight"] == 1, what="the answer streaming")
        ollama_emulator.kill()
        with pytest.raises(LLMUnavailable):
            call.result(timeout=30)


def test_a_hanging_reply_with_a_short_timeout_is_llm_timeout(ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"hang": True}])
    with pytest.raises(LLMTimeout) as raised:
        OllamaLLM(ollama_emulator.url, timeout_s=0.5).chat("codellama:13b", MESSAGES)
    assert raised.value.status == 504
    ollama_emulator.reset()


def test_a_scripted_500_is_llm_error_with_ollamas_message(llm: OllamaLLM, ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"status": 500, "error": "llama runner process has terminated"}])
    with pytest.raises(LLMError) as raised:
        llm.chat("codellama:13b", MESSAGES)
    assert "llama runner process has terminated" in raised.value.message and raised.value.status == 502


def test_a_busy_ollama_is_llm_unavailable(llm: OllamaLLM, ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"status": 503, "error": "server busy, please try again.  maximum pending requests exceeded"}])
    with pytest.raises(LLMUnavailable) as raised:
        llm.chat("codellama:13b", MESSAGES)
    assert "server busy" in raised.value.message


def test_cancel_mid_stream_is_client_gone_and_stops_the_generation(
    llm: OllamaLLM, ollama_emulator: EmulatorProcess
) -> None:
    ollama_emulator.queue_replies([{"content": " ".join(["word"] * 400), "delay_s": 40}])
    cancel = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(llm.chat, "codellama:13b", MESSAGES, cancel=cancel)
        wait_until(lambda: ollama_emulator.stats()["in_flight"] == 1, what="the answer streaming")
        cancel.set()
        with pytest.raises(ClientGone):
            call.result(timeout=30)
    wait_until(lambda: ollama_emulator.stats()["cancelled"] == 1, what="the emulator seeing the stream closed")


def test_cancel_before_the_call_sends_nothing(llm: OllamaLLM, ollama_emulator: EmulatorProcess) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ClientGone):
        llm.chat("codellama:13b", MESSAGES, cancel=cancel)
    assert ollama_emulator.requests() == []
