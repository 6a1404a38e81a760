"""Split is a speed choice, never a quality choice: a script converted in chunks on three workers
(the rules engine) and merged by the balancer gives the same tasks and handlers as the whole
script converted at once, for every script of both corpora."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from balancer.client import FakeWorkerClient, WorkerReply, WorkerRequest, json_reply
from balancer.fanout import SplitConverter
from balancer.pool import BackendPool
from balancer.proxy import Proxy
from balancer.settings import BackendSpec
from playbook.convert import convert_script
from playbook.render import render_playbook

DATA = Path(__file__).resolve().parent.parent / "data"
SCRIPTS = sorted((DATA / "corpus").glob("*.sh")) + sorted((DATA / "realworld").glob("*.sh"))
URLS = ["http://w1:5001", "http://w2:5002", "http://w3:5003"]


def rules_worker(request: WorkerRequest) -> WorkerReply:
    """What a worker's rules engine answers for one chunk (or the whole script)."""
    conversion = convert_script(request.json["commands"], request.json.get("context", ""))
    return json_reply({"playbook": render_playbook([conversion.play()]), "warnings": conversion.warnings})


def tasks_and_handlers(playbook_text: str) -> tuple[list[Any], list[Any]]:
    plays = yaml.safe_load(playbook_text)
    assert len(plays) == 1, "one play: the chunks' plays merge into one"
    return plays[0]["tasks"], plays[0].get("handlers", [])


@pytest.mark.parametrize("script", SCRIPTS, ids=[f"{p.parent.name}/{p.stem}" for p in SCRIPTS])
def test_split_over_three_workers_gives_the_whole_conversions_tasks(script: Path) -> None:
    text = script.read_text(encoding="utf-8")
    pool = BackendPool([BackendSpec(url) for url in URLS])
    proxy = Proxy(pool, FakeWorkerClient(rules_worker), timeout_s=10, retries=1)
    split = SplitConverter(proxy, chunk_size=10, retries=1).convert_split(text, model="codellama:13b", engine="rules")
    whole = rules_worker(WorkerRequest(URLS[0], "POST", "/generate", 10, json={"commands": text}))
    expected = tasks_and_handlers(json.loads(whole.body)["playbook"])
    assert split["chunks_processed"] == len(SplitConverter(proxy, 10, 1).split(text))
    assert tasks_and_handlers(split["playbook"]) == expected
