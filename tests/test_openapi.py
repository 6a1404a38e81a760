"""openapi.yaml tells the truth: every route of both services is documented, and only those;
replies carry the fields the spec calls required. tests/test_spec_fuzz.py fuzzes the real services
against it; the admin API, which the fuzzer only ever sees refuse it, is checked here in-process."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from flask import Flask
from werkzeug.test import TestResponse

from balancer.settings import Settings
from balancer.web import create_app as create_balancer
from common.errors import BadRequest
from common.http import engine_field, optional_bool, optional_text
from tests.balancer.conftest import FakeFarm
from validation.validator import PlaybookValidator
from worker.llm import FakeLLM
from worker.settings import WorkerSettings
from worker.web import create_app as create_worker

SPEC = yaml.safe_load((Path(__file__).resolve().parent.parent / "openapi.yaml").read_text())
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SERVICES = ("worker", "balancer")  # a path without x-service is served by both


def routes(app: Flask) -> set[tuple[str, str]]:
    """(method, path) of every route, with Flask's ``<name>`` variables written as OpenAPI's ``{name}``."""
    return {
        (method.lower(), re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"} and rule.endpoint != "static"
    }


def documented(service: str) -> set[tuple[str, str]]:
    """The (method, path) pairs openapi.yaml documents on ``service`` (x-service names the others)."""
    return {
        (method, path)
        for path, ops in SPEC["paths"].items()
        if service in ops.get("x-service", SERVICES)
        for method in ops
        if method in HTTP_METHODS
    }


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
    assert routes(worker_app) == documented("worker")
    assert routes(balancer_app) == documented("balancer")
    assert documented("worker") < documented("balancer")  # the balancer serves every worker endpoint, and /admin


def test_x_service_names_only_known_services() -> None:
    for path, ops in SPEC["paths"].items():
        assert set(ops.get("x-service", SERVICES)) <= set(SERVICES), path


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
    assert_documented("POST", path, reply)


def test_status_replies_carry_the_required_fields(worker_app: Flask, balancer_app: Flask) -> None:
    assert required_fields({"$ref": "WorkerStatus"}) <= set(worker_app.test_client().get("/queue-status").json)
    balancer_status = balancer_app.test_client().get("/queue-status").json
    assert required_fields({"$ref": "BalancerStatus"}) <= set(balancer_status)
    backend_schema = resolve({"$ref": "BalancerStatus"})["properties"]["backends"]["items"]
    assert required_fields(backend_schema) <= set(balancer_status["backends"][0])
    for app in (worker_app, balancer_app):
        assert_documented("GET", "/queue-status", app.test_client().get("/queue-status"))


def test_errors_are_documented_as_json_with_an_error_field() -> None:
    for name, response in SPEC["components"]["responses"].items():
        assert required_fields(response["content"]["application/json"]["schema"]) == {"error"}, name


def test_every_operation_documents_its_errors_as_json() -> None:
    for path, ops in SPEC["paths"].items():
        for method, operation in ops.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = _response(response)["content"]["application/json"]["schema"]
                    assert required_fields(schema) == {"error"}, (method, path, status)
            assert "408" in operation["responses"], (method, path)  # the server's deadlines apply everywhere
            assert "503" in operation["responses"], (method, path)  # so does its connection cap


# -- replies against the documented schemas, status by status ----------------------------------


def _response(response: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def assert_documented(method: str, path: str, reply: TestResponse) -> Any:
    """``reply``'s status is documented for the operation and its JSON body fits that status's schema."""
    responses = SPEC["paths"][path][method.lower()]["responses"]
    assert str(reply.status_code) in responses, f"{method} {path}: {reply.status_code} is not documented: {reply.data[:300]!r}"
    schema = _response(responses[str(reply.status_code)])["content"]["application/json"]["schema"]
    jsonschema.validate(reply.json, {**schema, "components": SPEC["components"]})
    return reply.json


ADMIN_TOKEN = "s3cret-admin-token"


@pytest.fixture
def admin_farm() -> tuple[Flask, list[str]]:
    farm = FakeFarm(2)
    backends = Settings.from_env({"BACKENDS": farm.urls[:1]}, env={}).backends
    app = create_balancer(Settings(backends=backends, health_interval_s=0, admin_token=ADMIN_TOKEN), client=farm.client)
    return app, farm.urls


def test_the_admin_api_answers_as_documented(admin_farm: tuple[Flask, list[str]]) -> None:
    app, (first, second) = admin_farm
    client = app.test_client()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    for method, path, body in [("GET", "/admin/backends", None), ("POST", "/admin/backends", {"url": second}),
                               ("DELETE", "/admin/backends", {"url": first}), ("POST", "/admin/backends/drain", {"url": first}),
                               ("POST", "/admin/backends/undrain", {"url": first}), ("POST", "/admin/reload", None)]:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": ADMIN_TOKEN}):
            refused = client.open(path, method=method, json=body, headers=headers)
            assert refused.status_code == 401, (method, path, headers)
            assert_documented(method, path, refused)
    assert [b["url"] for b in client.get("/queue-status").json["backends"]] == [first]

    listed = assert_documented("GET", "/admin/backends", client.get("/admin/backends", headers=auth))
    assert [b["url"] for b in listed["backends"]] == [first]
    added = assert_documented("POST", "/admin/backends", client.post("/admin/backends", json={"url": second + "/", "slots": 2}, headers=auth))
    assert added["backend"]["url"] == second and added["backend"]["slots"] == 2
    assert assert_documented("POST", "/admin/backends", client.post("/admin/backends", json={"url": second}, headers=auth))  # 409
    for bad in ({}, {"url": "ftp://x"}, {"url": second, "weight": 0}, {"url": second, "extra": 1}):
        reply = client.post("/admin/backends", json=bad, headers=auth)
        assert reply.status_code == 400, bad
        assert_documented("POST", "/admin/backends", reply)

    drained = assert_documented("POST", "/admin/backends/drain", client.post("/admin/backends/drain", json={"url": second}, headers=auth))
    assert drained["backend"]["status"] == "draining"
    undrained = assert_documented("POST", "/admin/backends/undrain", client.post("/admin/backends/undrain", json={"url": second}, headers=auth))
    assert undrained["backend"]["status"] != "draining"
    for path in ("/admin/backends/drain", "/admin/backends/undrain"):
        unknown = client.post(path, json={"url": "http://nowhere.test:1"}, headers=auth)
        assert unknown.status_code == 404
        assert_documented("POST", path, unknown)

    removed = assert_documented("DELETE", "/admin/backends", client.delete("/admin/backends", json={"url": second}, headers=auth))
    assert removed == {"removed": second, "in_flight": 0}
    gone = client.delete("/admin/backends", json={"url": second}, headers=auth)
    assert gone.status_code == 404
    assert_documented("DELETE", "/admin/backends", gone)

    no_file = client.post("/admin/reload", headers=auth)
    assert no_file.status_code == 409  # no BACKENDS_FILE
    assert_documented("POST", "/admin/reload", no_file)
    assert assert_documented("GET", "/queue-status", client.get("/queue-status"))


# -- the optional fields: what the spec allows is exactly what the helpers accept ---------------


def test_component_schemas_are_valid_json_schema() -> None:
    for name, schema in SPEC["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)


ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, 1.5, [], {}, "", "  ", "\t\n", "true", " TRUE ", "Yes", "on", "off", "0", "1", "no", "false",
    "maybe", "y", "rules", " LLM ", "Hybrid\n", "magic", "codellama:13b", "x" * 300, "\x00", "ls -la",
]


@pytest.mark.parametrize(
    ("schema", "helper"),
    [
        ("Flag", lambda value: optional_bool(value, "lint")),
        ("FormFlag", lambda value: optional_bool(value, "lint")),
        ("EngineField", lambda value: engine_field(value, None)),
        ("EngineForm", lambda value: engine_field(value, None)),
        ("ModelField", lambda value: optional_text({"model": value}, "model", "codellama:13b")),
    ],
)
def test_a_field_schema_allows_exactly_what_its_helper_accepts(schema: str, helper: Any) -> None:
    validator = jsonschema.Draft202012Validator(SPEC["components"]["schemas"][schema])
    for value in ODD_VALUES:
        if "Form" in schema and not isinstance(value, str):
            continue  # a form field is always a string
        try:
            helper(value)
            accepted = True
        except BadRequest:
            accepted = False
        assert validator.is_valid(value) == accepted, (schema, value)
