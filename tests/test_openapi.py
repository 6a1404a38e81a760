"""openapi.yaml tells the truth: every route of both services is documented, and only those;
replies carry the fields the spec calls required."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from balancer.settings import Settings
from balancer.web import create_app as create_balancer
from tests.balancer.conftest import FakeFarm
from validation.validator import PlaybookValidator
from worker.llm import FakeLLM
from worker.settings import WorkerSettings
from worker.web import create_app as create_worker

SPEC = yaml.safe_load((Path(__file__).resolve().parent.parent / "openapi.yaml").read_text())


def routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method.lower(), rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"} and rule.endpoint != "static"
    }


def documented() -> set[tuple[str, str]]:
    return {(method, path) for path, ops in SPEC["paths"].items() for method in ops}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SPEC["components"]["schemas"][name]
    return schema


def required_fields(schema: dict[str, Any]) -> set[str]:
    schema = resolve(schema)
    fields = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        fields |= required_fields(part)
    return fields


@pytest.fixture
def worker_app(validator: PlaybookValidator) -> Flask:
    reply = "```yaml\n- hosts: all\n  tasks:\n    - name: Ping\n      ansible.builtin.ping:\n```"
    return create_worker(WorkerSettings(), llm=FakeLLM(lambda model, messages: reply), validator=validator)


@pytest.fixture
def balancer_app() -> Flask:
    farm = FakeFarm(2)
    return create_balancer(Settings(backends=Settings.from_env({"BACKENDS": farm.urls}, env={}).backends, health_interval_s=0), client=farm.client)


def test_every_worker_and_balancer_route_is_documented_and_nothing_more(worker_app: Flask, balancer_app: Flask) -> None:
    assert routes(worker_app) == documented()
    assert routes(balancer_app) == documented()


@pytest.mark.parametrize(
    ("path", "body", "schema"),
    [
        ("/generate", {"commands": "apt-get install -y nginx", "engine": "rules"}, "PlaybookReply"),
        ("/generate", {"commands": "apt-get install -y nginx", "engine": "llm"}, "PlaybookReply"),
        ("/generate", {"commands": "./configure", "engine": "hybrid"}, "PlaybookReply"),
        ("/explain", {"playbook": "- hosts: all"}, "ExplanationReply"),
        ("/generate-code", {"description": "a script"}, "CodeReply"),
        ("/explain-code", {"code": "ls"}, "ExplanationReply"),
    ],
)
def test_worker_replies_carry_the_required_fields(worker_app: Flask, path: str, body: dict, schema: str) -> None:
    reply = worker_app.test_client().post(path, json=body)
    assert reply.status_code == 200, reply.json
    assert required_fields({"$ref": schema}) <= set(reply.json)


def test_status_replies_carry_the_required_fields(worker_app: Flask, balancer_app: Flask) -> None:
    assert required_fields({"$ref": "WorkerStatus"}) <= set(worker_app.test_client().get("/queue-status").json)
    balancer_status = balancer_app.test_client().get("/queue-status").json
    assert required_fields({"$ref": "BalancerStatus"}) <= set(balancer_status)
    backend_schema = resolve({"$ref": "BalancerStatus"})["properties"]["backends"]["items"]
    assert set(backend_schema["required"]) <= set(balancer_status["backends"][0])


def test_errors_are_documented_as_json_with_an_error_field() -> None:
    for name, response in SPEC["components"]["responses"].items():
        assert required_fields(response["content"]["application/json"]["schema"]) == {"error"}, name
