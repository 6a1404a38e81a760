"""Hostile input on every route of both apps, in-process through their factories with fakes.

The standard: every bad input gets a clear JSON error with an honest status code, and nothing
is lost: no 500 and no HTML page for anything a client sent. Each case checks one reply:

- the status is below 600 and never 500;
- the reply is JSON (except the UI page, GET / 200) and parses;
- a 4xx/5xx carries a non-empty string ``error``;
- a 2xx carries the fields openapi.yaml requires for that route.

Cases are hand-written edge cases (bodies, types per field, scripts, multipart shapes) plus a
bounded number drawn from a seeded ``random.Random`` (no hypothesis), so every run is the same.
A known failure is marked ``xfail(strict=True)`` with the reason (none is left): fixing it turns
the suite red until the marker goes.
"""

from __future__ import annotations

import io
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from balancer.web import create_app as create_balancer
from tests.balancer.conftest import FakeFarm, FakeWorker, fake_settings
from validation.validator import PlaybookValidator
from worker.llm import FakeLLM, Message
from worker.settings import WorkerSettings
from worker.web import create_app as create_worker

SEED = 0x5EED_2024
APPS = ("worker", "balancer")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
ROUTES = ("/", "/healthz", "/queue-status", "/generate", "/upload", "/explain", "/generate-code", "/explain-code")
UNKNOWN_PATHS = ("/nope", "/generate/", "/Generate", "/%00", "/..%2f..%2fetc%2fpasswd",
                 "/static/app.js", "/index.html", "/queue-status/extra", "/" + "a" * 8000)
JSON_ROUTES = {"/generate": "commands", "/explain": "playbook", "/generate-code": "description", "/explain-code": "code"}
GET_ROUTES = {"/", "/healthz", "/queue-status"}

DEEP = 10_000

# -- what a 2xx must carry (openapi.yaml) -----------------------------------------------------

TOKENS = {"prompt_tokens", "response_tokens", "total_tokens", "elapsed"}
PLAYBOOK_REPLY = TOKENS | {"playbook", "engine", "warnings"}
SPLIT_REPLY = TOKENS | {"playbook", "chunks_processed", "chunks", "warnings"}
REQUIRED_2XX: dict[str, set[str]] = {
    "/healthz": {"status"},
    "/explain": TOKENS | {"explanation"},
    "/explain-code": TOKENS | {"explanation"},
    "/generate-code": TOKENS | {"code"},
}
WORKER_STATUS = {"queue_size", "active", "slots", "models"}
BALANCER_STATUS = {"queue_size", "active", "active_backends", "total_backends", "waiting", "backends"}
BACKEND_STATUS = {"url", "status", "in_flight", "slots", "queue_size", "active", "models", "last_error"}
CHUNK_FIELDS = {"index", "backend", "elapsed", "first_line", "last_line"}


def check_reply(app: str, method: str, path: str, response: TestResponse) -> Any:
    """Assert the contract on one reply; return the parsed body (None for the UI page)."""
    status = response.status_code
    where = f"{app} {method} {path[:60]} -> {status} {response.content_type}: {response.data[:300]!r}"
    assert status < 600 and status != 500, where
    if method == "GET" and path == "/" and status == 200:
        return None
    if method == "HEAD":
        return None
    assert response.mimetype == "application/json", where
    body = json.loads(response.data)
    if status >= 400:
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"].strip(), where
        if status in (503,):
            assert response.headers.get("Retry-After", "").isdigit(), where
        return body
    assert 200 <= status < 300, where
    assert isinstance(body, dict), where
    missing = required_fields(app, path, body) - body.keys()
    assert not missing, f"{where}: missing {sorted(missing)}"
    if path in ("/generate", "/upload"):
        assert isinstance(body["playbook"], str) and body["playbook"].startswith("---"), where
        assert isinstance(body["warnings"], list) and all(isinstance(w, str) for w in body["warnings"]), where
        plays = list(yaml.safe_load_all(body["playbook"]))
        assert len(plays) == 1 and isinstance(plays[0], list), f"{where}: not ONE YAML document of plays"
        if "chunks" in body:
            for chunk in body["chunks"]:
                assert CHUNK_FIELDS <= chunk.keys(), where
    if path == "/queue-status" and app == "balancer":
        for backend in body["backends"]:
            assert BACKEND_STATUS <= backend.keys(), where
    return body


def required_fields(app: str, path: str, body: dict[str, Any]) -> set[str]:
    if path == "/queue-status":
        return WORKER_STATUS if app == "worker" else BALANCER_STATUS
    if path in ("/generate", "/upload"):
        fields = SPLIT_REPLY if "chunks_processed" in body else PLAYBOOK_REPLY
        return fields | ({"filename"} if path == "/upload" else set())
    return REQUIRED_2XX.get(path, set())


# -- the apps ---------------------------------------------------------------------------------

_TAG_ASK = re.compile(r"\[L(\d+)\] for ")
LLM_PLAYBOOK = """Here you go:

```yaml
- name: Converted
  hosts: all
  tasks:
{tasks}
```
"""


def fake_model(model: str, messages: Sequence[Message]) -> str:
    """A well-behaved model: tagged tasks for the hybrid ask, a small playbook otherwise."""
    asks = [m["content"] for m in messages if m["role"] == "user"]
    tags = _TAG_ASK.findall(asks[-1]) if asks else []
    if not tags and asks and "Convert these shell commands into Ansible tasks" in asks[0]:
        tags = _TAG_ASK.findall(asks[0])
    if tags:
        tasks = "".join(
            f"    - name: \"[L{n}] Run step {n}\"\n      ansible.builtin.command: /bin/true\n      changed_when: false\n"
            for n in tags
        )
    else:
        tasks = "    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello\n"
    return LLM_PLAYBOOK.format(tasks=tasks)


class ContractFarm(FakeFarm):
    """FakeFarm whose workers answer with every field a real worker sends (``engine``, ``filename``)."""

    def answer(self, worker: FakeWorker, path: str, body: Any, form: Any, files: Any):  # type: ignore[no-untyped-def]
        reply = super().answer(worker, path, body, form, files)
        data = json.loads(reply.body)
        if path in {"/generate", "/upload"}:
            data["engine"] = (body or form).get("engine") or "hybrid"
        if path == "/upload":
            data["filename"] = files["file"][0]
        return type(reply)(reply.status, json.dumps(data).encode(), reply.content_type)


@pytest.fixture(scope="module")
def clients(validator: PlaybookValidator) -> Iterator[dict[str, FlaskClient]]:
    worker = create_worker(WorkerSettings(), llm=FakeLLM(fake_model), validator=validator)
    farm = ContractFarm(3)
    balancer = create_balancer(fake_settings(farm.urls), client=farm.client)
    yield {"worker": worker.test_client(), "balancer": balancer.test_client()}
    farm.release_all()


@pytest.fixture(scope="module")
def small_clients(validator: PlaybookValidator) -> Iterator[dict[str, FlaskClient]]:
    """Both apps with a 4 KiB body limit, for the 413 cases."""
    worker = create_worker(WorkerSettings(max_content_length=4096), llm=FakeLLM(fake_model), validator=validator)
    farm = ContractFarm(1)
    balancer = create_balancer(fake_settings(farm.urls, max_content_length=4096), client=farm.client)
    yield {"worker": worker.test_client(), "balancer": balancer.test_client()}


# -- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request: ``kwargs`` go to ``FlaskClient.open``."""

    id: str
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    xfail: str | None = None
    only: str | None = None  # run on this app only

    def param(self, app: str) -> Any:
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(app, self, id=f"{app}-{self.id}", marks=marks)


def raw(path: str, data: bytes | str, content_type: str | None = "application/json", **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"data": data, **extra}
    if content_type is not None:
        kwargs["content_type"] = content_type
    return kwargs


def as_json(value: Any) -> str:
    """JSON text; NaN/Infinity and lone surrogates are written as Python's json does (\\ud800)."""
    return json.dumps(value)


def method_cases() -> Iterator[Case]:
    for path in (*ROUTES, *UNKNOWN_PATHS):
        for method in METHODS:
            yield Case(f"{method}{path[:40]}-nobody", method, path)
            if method != "GET":
                yield Case(f"{method}{path[:40]}-junk", method, path, raw(path, b"\x00\xff junk", "text/plain"))


def body_cases() -> Iterator[Case]:
    """Whole bodies that are not a usable JSON object, on every JSON route."""
    bodies: list[tuple[str, bytes | str, str | None, str | None]] = [
        ("empty", b"", "application/json", None),
        ("not-json", "commands=ls", "application/json", None),
        ("text-plain", '{"x": 1}', "text/plain", None),
        ("no-content-type", '{"x": 1}', None, None),
        ("form-urlencoded", "commands=ls&model=x", "application/x-www-form-urlencoded", None),
        ("multipart-no-boundary", "--x\r\n\r\n", "multipart/form-data", None),
        ("invalid-utf8", b'{"commands": "\xff\xfe ls"}', "application/json", None),
        ("utf8-encoded-surrogate", b'{"commands": "\xed\xa0\x80"}', "application/json", None),
        ("utf16", '{"commands": "ls"}'.encode("utf-16"), "application/json", None),
        ("bom", b'\xef\xbb\xbf{"commands": "ls"}', "application/json", None),
        ("crlf", '{\r\n"commands":\r\n"ls"\r\n}\r\n', "application/json", None),
        ("trailing-garbage", '{"commands": "ls"} {}', "application/json", None),
        ("unterminated", '{"commands": "ls', "application/json", None),
        ("single-quotes", "{'commands': 'ls'}", "application/json", None),
        ("null", "null", "application/json", None),
        ("true", "true", "application/json", None),
        ("zero", "0", "application/json", None),
        ("float", "1.5e308", "application/json", None),
        ("inf", "1e999", "application/json", None),
        ("NaN", "NaN", "application/json", None),
        ("minus-Infinity", "-Infinity", "application/json", None),
        ("string", '"ls"', "application/json", None),
        ("list", '["ls"]', "application/json", None),
        ("empty-object", "{}", "application/json", None),
        ("huge-int", "9" * 5000, "application/json", None),
        ("huge-int-field", '{"commands": ' + "9" * 5000 + "}", "application/json", None),
        ("nul-byte-raw", b'{"commands": "l\x00s"}', "application/json", None),
        ("deep-list", "[" * DEEP + "]" * DEEP, "application/json", None),
        ("deep-object", '{"a":' * DEEP + "1" + "}" * DEEP, "application/json", None),
        ("deep-in-field", '{"commands": ' + "[" * DEEP + "]" * DEEP + "}", "application/json", None),
        ("deep-in-model", '{"commands": "ls", "model": ' + "[" * DEEP + "]" * DEEP + "}", "application/json", None),
        ("deep-1000", "[" * 1000 + "]" * 1000, "application/json", None),
        ("deep-300", "[" * 300 + "]" * 300, "application/json", None),
    ]
    for path in JSON_ROUTES:
        for name, data, content_type, xfail in bodies:
            yield Case(f"{path}-{name}", "POST", path, raw(path, data, content_type), xfail=xfail)


ODD_VALUES: list[tuple[str, str]] = [  # (id, JSON text of the value)
    ("null", "null"), ("zero", "0"), ("neg", "-1"), ("huge-int", str(10**40)), ("float", "1.5"),
    ("nan", "NaN"), ("inf", "Infinity"), ("true", "true"), ("false", "false"), ("empty", '""'),
    ("blank", '"  \\t\\r\\n "'), ("obj", '{"a": {"b": [1, null]}}'), ("empty-obj", "{}"), ("list", '["ls", 1]'),
    ("empty-list", "[]"), ("nul", '"ls\\u0000x"'), ("surrogate", '"\\ud800"'), ("surrogate-pair-split", '"a\\udc00b\\ud83d"'),
    ("bom", '"\\ufeffls"'), ("crlf", '"ls\\r\\nls"'), ("ctrl", '"' + "".join(f"\\u{c:04x}" for c in range(1, 32)) + '"'),
    ("long", '"' + "x" * 20000 + '"'), ("true-str", '"TRUE"'), ("yes-str", '" yes "'), ("bad-engine", '"magic"'),
    ("upper-engine", '" RULES "'), ("model-odd", '"../../etc/passwd:latest"'), ("model-unknown", '"nope:1b"'),
]
LINT_TRUTHY = {"true", "true-str", "yes-str"}
VALID_BODY = {
    "/generate": {"commands": "apt-get install -y nginx\nfrobnicate --now"},
    "/explain": {"playbook": "- hosts: all\n  tasks: []\n"},
    "/generate-code": {"description": "a script that prints hello"},
    "/explain-code": {"code": "print('hello')"},
}
FIELDS = {
    "/generate": ("commands", "model", "engine", "lint", "context", "split"),
    "/explain": ("playbook", "model"),
    "/generate-code": ("description", "model"),
    "/explain-code": ("code", "model"),
}


def field_cases() -> Iterator[Case]:
    """Every field of every JSON route set to every odd value, the rest valid."""
    for path, fields in FIELDS.items():
        for name in fields:
            for value_id, value_json in ODD_VALUES:
                if name == "lint" and value_id in LINT_TRUTHY:
                    continue  # a real ansible-lint run takes seconds; one truthy lint case is below
                others = {k: v for k, v in VALID_BODY[path].items() if k != name}
                if path == "/generate" and name != "engine":
                    others["engine"] = "rules"  # the cheap engine; engines are fuzzed below
                text = as_json(others)[:-1] + (", " if others else "") + f'"{name}": {value_json}}}'
                yield Case(f"{path}-{name}-{value_id}", "POST", path, raw(path, text))
        yield Case(f"{path}-extra-fields", "POST", path,
                   raw(path, as_json({**VALID_BODY[path], "x": [1, {"y": None}], "": "", "error": 1})))
        yield Case(f"{path}-duplicate-keys", "POST", path,
                   raw(path, as_json(VALID_BODY[path])[:-1] + ', "model": 1, "model": "codellama:13b"}'))


SCRIPTS: list[tuple[str, str]] = [
    ("only-comments", "# setup\n# nothing to do\n   # indented\n"),
    ("only-backslash", "\\"),
    ("backslash-lines", "\\\n\\\n\\"),
    ("unterminated-dquote", 'echo "abc\napt-get install -y nginx'),
    ("unterminated-squote", "echo 'abc\nsystemctl restart nginx"),
    ("unterminated-heredoc", "cat > /etc/x.conf <<EOF\nkey=value\n"),
    ("heredoc-no-word", "cat <<\n"),
    ("heredoc-dash", "cat <<-'EOF'\n\tx\n\tEOF\nls"),
    ("open-subst", "echo $("),
    ("open-backtick", "echo `ls"),
    ("open-arith", "echo $(( 1 +"),
    ("open-brace", "f() {\n  ls"),
    ("open-if", "if true; then\n  ls"),
    ("open-case", "case $x in\n a) ls;;"),
    ("bad-fi", "fi\ndone\nesac\n}"),
    ("operators", ";;;; && || | & ;& ;;& |& >& <& <<< >| <>"),
    ("redirect-only", "> /tmp/x\n< /etc/passwd\n2>&1"),
    ("nul", "apt-get install -y ngi\x00nx\nls\x00"),
    ("ctrl", "".join(chr(c) for c in range(1, 32) if c != 10) + "\nls -la\x7f\x1b[31m"),
    ("crlf", "apt-get update\r\napt-get install -y nginx\r\nsystemctl enable nginx\r\n"),
    ("cr-only", "apt-get update\rapt-get install -y nginx\r"),
    ("bom", "\ufeffapt-get install -y nginx"),
    ("surrogate", "mkdir /tmp/\ud800\nls \udfff"),
    ("unicode", "mkdir /tmp/ünïcödé\necho 🚀\nuseradd -m 名前"),
    ("tabs", "\t\tapt-get\tinstall\t-y\tnginx"),
    ("long-word", "ls " + "a" * 50000),
    ("many-args", "apt-get install -y " + " ".join(f"p{i}" for i in range(3000))),
    ("pipes", " | ".join(["cat /etc/passwd"] * 500)),
    ("nested-subst", "echo " + "$(" * 200 + "ls" + ")" * 200),
    ("nested-braces", "{ " * 300 + "ls;" + " }" * 300),
    ("nested-if", "if true; then " * 200 + "ls; " + "fi; " * 200),
    ("sudo-chain", "sudo sudo sudo -u root env -i sudo apt-get install -y nginx"),
    ("weird-assign", "A=1 B=$'\\x00' C=\"$(rm -rf /)\" export D\nexport =x\nreadonly"),
    ("shebang-only", "#!/bin/bash\n"),
    ("set-e", "set -euo pipefail\ncd /opt || exit 1\ntrap 'rm -f x' EXIT"),
    ("lines-5000-echo", "\n".join(f"echo step {i}" for i in range(5000))),
]


def script_cases() -> Iterator[Case]:
    for script_id, script in SCRIPTS:
        heavy = script_id.startswith("lines-") or script_id in {"long-word", "many-args"}
        for engine in ("rules",) if heavy else ("rules", "hybrid", "llm"):
            yield Case(f"script-{script_id}-{engine}", "POST", "/generate",
                       {"json": {"commands": script, "engine": engine}}, only="worker" if heavy else None)
        yield Case(f"script-{script_id}-split", "POST", "/generate", {"json": {"commands": script, "split": True}})
        yield Case(f"script-{script_id}-as-context", "POST", "/generate",
                   {"json": {"commands": "apt-get install -y nginx", "context": script, "engine": "hybrid"}}, only="worker")
    yield Case("script-lint-true", "POST", "/generate",
               {"json": {"commands": "frobnicate --now", "engine": "rules", "lint": " yes "}}, only="balancer")
    # 1 MB single lines: the balancer's fake farm would spend seconds in PyYAML, so the
    # balancer gets them on the cheap routes (/explain*, /generate-code) and split mode only
    yield Case("script-1mb-line-rules", "POST", "/generate",
               {"json": {"commands": "frobnicate " + "a" * (1 << 20), "engine": "rules"}}, only="worker")
    yield Case("script-1mb-line-hybrid", "POST", "/generate",
               {"json": {"commands": "echo " + "a" * (1 << 20), "engine": "hybrid"}}, only="worker")
    yield Case("script-256k-line-split", "POST", "/generate",
               {"json": {"commands": "echo " + "a" * (1 << 18), "split": True}}, only="balancer")
    yield Case("script-5000-lines-split", "POST", "/generate",
               {"json": {"commands": "\n".join(f"apt-get install -y p{i}" for i in range(5000)), "split": True}},
               only="balancer")
    for path, name in JSON_ROUTES.items():
        if path != "/generate":
            yield Case(f"{path}-1mb-line", "POST", path, {"json": {name: "x" * (1 << 20)}})
            yield Case(f"{path}-ctrl-and-nul", "POST", path, {"json": {name: "\x00\x01\x1b[2J\ud800\r\n"}})


def upload_cases() -> Iterator[Case]:
    def files(*parts: tuple[str, Any], **form: str) -> dict[str, Any]:
        data: dict[str, Any] = dict(form)
        for key, value in parts:
            data.setdefault(key, [])
            data[key] = [*data[key], value] if isinstance(data[key], list) else [data[key], value]
        return {"data": data, "content_type": "multipart/form-data"}

    def script(content: bytes, name: str = "setup.sh") -> tuple[bytes, str]:
        return (content, name)  # a fresh BytesIO per request: see ``materialize``

    ok = b"apt-get install -y nginx\nfrobnicate --now\n"
    shapes: list[tuple[str, dict[str, Any]]] = [
        ("no-file", files(model="codellama:13b")),
        ("file-as-text-field", {"data": {"file": "apt-get install -y nginx"}, "content_type": "multipart/form-data"}),
        ("empty-file", files(("file", script(b"")))),
        ("blank-file", files(("file", script(b" \n\t\r\n")))),
        ("binary-file", files(("file", script(bytes(range(256)) * 4)))),
        ("invalid-utf8", files(("file", script(b"ls \xff\xfe\n")))),
        ("encoded-surrogate", files(("file", script(b"ls \xed\xa0\x80\n")))),
        ("utf16-file", files(("file", script("apt-get install -y nginx".encode("utf-16"))))),
        ("bom-file", files(("file", script(b"\xef\xbb\xbf" + ok)))),
        ("crlf-file", files(("file", script(ok.replace(b"\n", b"\r\n"))))),
        ("nul-file", files(("file", script(b"ls\x00\napt-get install -y nginx\x00")))),
        ("only-comments", files(("file", script(b"#!/bin/sh\n# nothing\n")))),
        ("only-backslash", files(("file", script(b"\\")))),
        ("unterminated-heredoc", files(("file", script(b"cat > /x <<EOF\nabc\n")))),
        ("duplicate-file", files(("file", script(ok)), ("file", script(b"\xff\xff", "b.sh")))),
        ("duplicate-file-bad-first", files(("file", script(b"\xff\xff", "b.sh")), ("file", script(ok)))),
        ("no-filename", files(("file", script(ok, "")))),
        ("traversal-filename", files(("file", script(ok, "../../etc/passwd")))),
        ("odd-filename", files(("file", script(ok, "a\x00b\r\n\u202e.sh")))),
        ("long-filename", files(("file", script(ok, "n" * 5000 + ".sh")))),
        ("wrong-field-name", files(("script", script(ok)))),
        ("model-blank", files(("file", script(ok)), model="   ")),
        ("model-unknown", files(("file", script(ok)), model="nope:1b")),
        ("model-nul", files(("file", script(ok)), model="code\x00llama")),
        ("engine-rules", files(("file", script(ok)), engine="rules")),
        ("engine-llm", files(("file", script(ok)), engine="LLM ")),
        ("engine-magic", files(("file", script(ok)), engine="magic")),
        ("engine-blank", files(("file", script(ok)), engine=" ")),
        ("lint-maybe", files(("file", script(ok)), engine="rules", lint="maybe")),
        ("lint-no", files(("file", script(ok)), engine="rules", lint="no")),
        ("split-true", files(("file", script(ok)), split="true")),
        ("split-yes-upper", files(("file", script(ok)), split=" YES ")),
        ("split-maybe", files(("file", script(ok)), split="maybe")),
        ("split-comments-only", files(("file", script(b"# a\n# b\n")), split="true")),
        ("split-backslash", files(("file", script(b"\\")), split="true")),
        ("1mb-line", files(("file", script(b"frobnicate " + b"a" * (1 << 20))), engine="rules")),
        ("json-instead", {"json": {"file": "ls"}}),
        ("multipart-truncated", raw("/upload", b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nls",
                                    "multipart/form-data; boundary=b")),
        ("multipart-wrong-boundary", raw("/upload", b"--zz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nls\r\n--zz--\r\n",
                                         "multipart/form-data; boundary=b")),
        ("multipart-garbage", raw("/upload", bytes(range(256)), "multipart/form-data; boundary=x")),
    ]
    for name, kwargs in shapes:
        only = "worker" if name == "1mb-line" else None
        yield Case(f"upload-{name}", "POST", "/upload", kwargs, only=only)


def random_cases(count: int = 30) -> Iterator[Case]:
    """Seeded random scripts and bodies: shell fragments, odd characters, odd field types."""
    rng = random.Random(SEED)
    words = ["apt-get", "install", "-y", "nginx", "sudo", "systemctl", "enable", "--now", "mkdir", "-p", "/opt/x",
             "cd", "export", "A=1", "cp", "chmod", "755", "useradd", "curl", "-fsSL", "http://x", "|", "&&", "||", ";",
             "\\\n", "<<EOF", "EOF", "$(", ")", "`", "'", '"', "#", "{", "}", "if", "then", "fi", "for", "do", "done",
             "\x00", "\x1b", "\r", "\t", "\ud800", "é", "🚀", "$((", "))", "[[", "]]", ">", "2>&1", "&", "!", "*", "~"]
    odd: list[Any] = [None, 0, -1, 10**30, 1.5, float("nan"), float("inf"), True, False, "", " ", {}, [], {"a": 1}, ["x"],
                      "rules", "llm", "hybrid", "codellama:13b", "nope:1b", "\x00", "\ud800", "true", "false"]
    for n in range(count):
        script = "".join(
            rng.choice(words) + rng.choice([" ", " ", " ", "\n", "\r\n", ""]) for _ in range(rng.randint(1, 40))
        )
        if n % 3 == 0:
            yield Case(f"random-{n}-rules", "POST", "/generate", {"json": {"commands": script, "engine": "rules"}})
        elif n % 3 == 1:
            yield Case(f"random-{n}-split", "POST", "/generate", {"json": {"commands": script, "split": True}})
        else:
            path = rng.choice(list(JSON_ROUTES))
            body: dict[str, Any] = {JSON_ROUTES[path]: rng.choice([script, *odd])}
            for key in rng.sample(["model", "engine", "lint", "context", "split"], rng.randint(0, 3)):
                body[key] = rng.choice(odd)
            if path == "/generate" and body.get("engine") not in ("llm", "hybrid"):
                body["engine"] = "rules"
            yield Case(f"random-{n}-{path[1:]}", "POST", path, {"data": json.dumps(body), "content_type": "application/json"})


def materialize(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Request kwargs with every (bytes, filename) file part as a fresh stream (the client closes them)."""
    data = kwargs.get("data")
    if not isinstance(data, dict):
        return kwargs

    def part(value: Any) -> Any:
        if isinstance(value, list):
            return [part(v) for v in value]
        if isinstance(value, tuple) and isinstance(value[0], bytes):
            return (io.BytesIO(value[0]), *value[1:])
        return value

    return {**kwargs, "data": {key: part(value) for key, value in data.items()}}


def all_cases() -> list[Case]:
    return [*method_cases(), *body_cases(), *field_cases(), *script_cases(), *upload_cases(), *random_cases()]


def params() -> list[Any]:
    return [case.param(app) for case in all_cases() for app in APPS if case.only in (None, app)]


# -- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("app", "case"), params())
def test_hostile_request_gets_an_honest_json_reply(clients: dict[str, FlaskClient], app: str, case: Case) -> None:
    response = clients[app].open(case.path, method=case.method, **materialize(case.kwargs))
    check_reply(app, case.method, case.path, response)


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/generate", {"json": {"commands": "ls " + "x" * 8000}}),
        ("/explain", {"data": "x" * 8000, "content_type": "application/json"}),
        ("/upload", {"data": {"file": (b"ls\n" * 4000, "a.sh")}, "content_type": "multipart/form-data"}),
        ("/nope", {"data": "x" * 8000, "content_type": "text/plain"}),
    ],
    ids=["generate", "explain", "upload", "unknown"],
)
def test_a_body_over_the_limit_is_413_json(small_clients: dict[str, FlaskClient], app: str, path: str, kwargs: dict[str, Any]) -> None:
    response = small_clients[app].post(path, **materialize(kwargs))
    body = check_reply(app, "POST", path, response)
    assert response.status_code == (404 if path == "/nope" else 413), body


@pytest.mark.parametrize("app", APPS)
def test_an_empty_path_is_not_answered_with_an_html_redirect_page(clients: dict[str, FlaskClient], app: str) -> None:
    response = clients[app].open("/", method="GET", environ_overrides={"PATH_INFO": ""})
    assert response.status_code != 500 and response.mimetype == "application/json", response.data[:200]


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("path", ["/healthz", "/queue-status", "/generate", "/nope"])
def test_head_and_options_never_fail(clients: dict[str, FlaskClient], app: str, path: str) -> None:
    for method in ("HEAD", "OPTIONS"):
        response = clients[app].open(path, method=method)
        assert response.status_code < 500, (method, path, response.status_code)
        assert not response.data.lstrip().startswith(b"<"), (method, path, response.data[:100])


def test_a_lone_surrogate_is_refused_or_kept_not_silently_replaced(clients: dict[str, FlaskClient]) -> None:
    response = clients["worker"].post(
        "/generate", data='{"commands": "mkdir /tmp/\\ud800", "engine": "rules"}', content_type="application/json"
    )
    body = check_reply("worker", "POST", "/generate", response)
    assert response.status_code == 400 or "\ufffd" not in body["playbook"], body


def test_an_unterminated_quote_does_not_turn_its_text_into_a_command(clients: dict[str, FlaskClient]) -> None:
    response = clients["worker"].post("/generate", json={"commands": 'echo "rm -rf /tmp/important', "engine": "rules"})
    body = check_reply("worker", "POST", "/generate", response)
    plays = yaml.safe_load(body["playbook"])
    commands = [json.dumps(task) for play in plays for task in play.get("tasks") or []]
    assert not any("rm -rf /tmp/important" in c and "echo" not in c for c in commands), commands


def test_a_field_full_of_backticks_gets_a_fence_in_one_pass(clients: dict[str, FlaskClient]) -> None:
    from worker.prompts import fenced

    text = "`" * 40_000 + " x ``` y"
    block = fenced(text, "yaml")
    assert block.startswith("`" * 40_001 + "yaml\n") and block.endswith("\n" + "`" * 40_001)
    response = clients["worker"].post("/explain", json={"playbook": "`" * 40_000})
    check_reply("worker", "POST", "/explain", response)


@pytest.mark.parametrize("engine", ["llm", "hybrid"])
def test_a_deeply_nested_model_reply_is_not_a_500(validator: PlaybookValidator, engine: str) -> None:
    reply = "```yaml\n" + "[" * 3000 + "]" * 3000 + "\n```"
    app = create_worker(
        WorkerSettings(generate_attempts=1), llm=FakeLLM(lambda model, messages: reply), validator=validator
    )
    response = app.test_client().post("/generate", json={"commands": "frobnicate --now", "engine": engine})
    check_reply("worker", "POST", "/generate", response)
