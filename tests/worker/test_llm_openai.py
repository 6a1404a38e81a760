"""``OpenAICompatLLM`` against the emulator's ``/v1`` API: answers, usage, failures mapped once."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from common.errors import ClientGone, LLMError, LLMTimeout, LLMUnavailable, ModelNotFound
from tests.emulator.fixtures import EmulatorProcess
from tests.emulator.ollama_emulator import default_answer
from tests.procs import wait_until
from worker.llm_openai import OpenAICompatLLM

REQUEST = "What does this playbook do?\n- hosts: all\n  tasks: []"
MESSAGES = [{"role": "system", "content": "You explain Ansible."}, {"role": "user", "content": REQUEST}]


@pytest.fixture
def llm(ollama_emulator: EmulatorProcess) -> OpenAICompatLLM:
    return OpenAICompatLLM(ollama_emulator.url, timeout_s=30)


def test_answer_and_usage_tokens(llm: OpenAICompatLLM, ollama_emulator: EmulatorProcess) -> None:
    completion = llm.chat("codellama:13b", MESSAGES)
    assert completion.text == default_answer(REQUEST, as_json=False)
    assert completion.model == "codellama:13b"
    assert completion.prompt_tokens == 3 + len(REQUEST.split())
    assert completion.response_tokens == len(completion.text.split())
    (sent,) = ollama_emulator.requests()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == MESSAGES


def test_base_url_may_end_with_v1_and_options_are_sent(ollama_emulator: EmulatorProcess) -> None:
    llm = OpenAICompatLLM(ollama_emulator.url + "/v1/", timeout_s=30, api_key="k", max_tokens=64, temperature=0.0)
    assert llm.chat("codellama:13b", MESSAGES).text
    sent = ollama_emulator.requests()[-1]
    assert sent["max_tokens"] == 64 and sent["temperature"] == 0.0


def test_json_schema_is_sent_as_response_format(llm: OpenAICompatLLM, ollama_emulator: EmulatorProcess) -> None:
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    completion = llm.chat("codellama:13b", MESSAGES, json_schema=schema)
    assert json.loads(completion.text)["text"].startswith("Explanation:")
    assert ollama_emulator.requests()[-1]["response_format"]["json_schema"]["schema"] == schema


class _SSE:
    """Just enough of a ``requests.Response`` for ``_read_stream``: SSE lines."""

    def __init__(self, *events: str) -> None:
        self.events = events

    def iter_lines(self, decode_unicode: bool = False) -> list[str]:
        return [f"data: {event}" for event in self.events]


def test_without_usage_the_counts_are_zero_not_guessed(llm: OpenAICompatLLM) -> None:
    # a server that ignores stream_options.include_usage sends no usage event at all
    stream = _SSE('{"choices":[{"delta":{"content":"hi"},"finish_reason":"stop"}]}', "[DONE]")
    completion = llm._read_stream(stream, "m", None)  # type: ignore[arg-type]
    assert (completion.text, completion.prompt_tokens, completion.response_tokens) == ("hi", 0, 0)


def test_an_error_event_mid_stream_is_llm_error(llm: OpenAICompatLLM) -> None:
    stream = _SSE('{"choices":[{"delta":{"content":"hi"}}]}', '{"error":{"message":"out of memory"}}')
    with pytest.raises(LLMError, match="out of memory"):
        llm._read_stream(stream, "m", None)  # type: ignore[arg-type]


def test_list_models(llm: OpenAICompatLLM) -> None:
    assert llm.list_models() == ["codellama:13b", "llama3.1:8b"]


def test_unknown_model_is_model_not_found(llm: OpenAICompatLLM) -> None:
    with pytest.raises(ModelNotFound) as raised:
        llm.chat("mistral:7b", MESSAGES)
    assert raised.value.model == "mistral:7b"


def test_emulator_killed_is_llm_unavailable(llm: OpenAICompatLLM, ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.kill()
    with pytest.raises(LLMUnavailable) as raised:
        llm.chat("codellama:13b", MESSAGES)
    assert ollama_emulator.url in raised.value.message
    with pytest.raises(LLMUnavailable):
        llm.list_models()
    ollama_emulator.restart()
    assert llm.list_models()


def test_a_hanging_reply_with_a_short_timeout_is_llm_timeout(ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"hang": True}])
    with pytest.raises(LLMTimeout):
        OpenAICompatLLM(ollama_emulator.url, timeout_s=0.5).chat("codellama:13b", MESSAGES)
    ollama_emulator.reset()


def test_a_stall_mid_stream_is_llm_timeout(ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"content": "one two", "delay_s": 60}])  # 30 s before each piece
    with pytest.raises(LLMTimeout):
        OpenAICompatLLM(ollama_emulator.url, timeout_s=0.5).chat("codellama:13b", MESSAGES)
    ollama_emulator.reset()


def test_a_scripted_500_is_llm_error_with_the_servers_message(llm: OpenAICompatLLM, ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"status": 500, "error": "llama runner process has terminated"}])
    with pytest.raises(LLMError) as raised:
        llm.chat("codellama:13b", MESSAGES)
    assert "llama runner process has terminated" in raised.value.message


def test_cancel_mid_stream_is_client_gone(llm: OpenAICompatLLM, ollama_emulator: EmulatorProcess) -> None:
    ollama_emulator.queue_replies([{"content": " ".join(["word"] * 400), "delay_s": 40}])
    cancel = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(llm.chat, "codellama:13b", MESSAGES, cancel=cancel)
        wait_until(lambda: ollama_emulator.stats()["in_flight"] == 1, what="the answer streaming")
        cancel.set()
        with pytest.raises(ClientGone):
            call.result(timeout=30)
    wait_until(lambda: ollama_emulator.stats()["cancelled"] == 1, what="the emulator seeing the stream closed")
