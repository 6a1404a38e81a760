"""The three /generate engines through the factory with a FakeLLM: rules, hybrid, llm."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import yaml
from flask.testing import FlaskClient

from common.errors import LLMUnavailable
from worker.llm import FakeLLM, Message

SCRIPT = """sudo apt-get install -y nginx
./configure --prefix=/opt/app
sudo systemctl enable --now nginx
./build.sh -j4
"""

Client = Callable[..., FlaskClient]


def tasks_of(reply_json: dict) -> list[dict]:
    plays = list(yaml.safe_load_all(reply_json["playbook"]))
    assert len(plays) == 1, "not ONE YAML document"
    return plays[0][0]["tasks"]


def llm_tasks(answer: list[dict]) -> str:
    play = [{"name": "Converted", "hosts": "all", "tasks": answer}]
    return "Here you go:\n```yaml\n" + yaml.safe_dump(play, sort_keys=False) + "```\n"


def test_rules_engine_needs_no_llm_and_validates(make_client: Client) -> None:
    llm = FakeLLM(lambda model, messages: pytest.fail("the rules engine called the LLM"))
    reply = make_client(llm).post("/generate", json={"commands": SCRIPT, "engine": "rules"})
    assert reply.status_code == 200, reply.json
    body = reply.json
    assert body["engine"] == "rules" and body["total_tokens"] == 0
    tasks = tasks_of(body)
    assert "ansible.builtin.apt" in tasks[0]
    assert body["validation"]["ok"] is True, body["validation"]
    assert any("line 2" in w for w in body["warnings"]), "uncovered line not named in a warning"


def test_hybrid_takes_rules_for_covered_lines_and_one_llm_call_for_the_rest(make_client: Client) -> None:
    def responder(model: str, messages: Sequence[Message]) -> str:
        asked = messages[-1]["content"]
        assert "./configure --prefix=/opt/app" in asked and "./build.sh -j4" in asked
        assert "apt-get" not in asked, "a covered line was sent to the LLM"
        return llm_tasks([
            {"name": "[L2] Configure the build", "ansible.builtin.command": {"cmd": "./configure --prefix=/opt/app", "creates": "Makefile"}},
            {"name": "[L4] Build", "ansible.builtin.command": {"cmd": "./build.sh -j4", "creates": "app"}},
        ])

    llm = FakeLLM(responder)
    reply = make_client(llm).post("/generate", json={"commands": SCRIPT, "engine": "hybrid"})
    assert reply.status_code == 200, reply.json
    body = reply.json
    assert len(llm.calls) == 1
    names = [t["name"] for t in tasks_of(body)]
    assert names[1] == "Configure the build" and names[-1] == "Build", names
    assert body["engine"] == "hybrid" and body["llm_lines"] == ["line 2", "line 4"]
    assert body["validation"]["ok"] is True and body["total_tokens"] > 0
    assert not any(w.startswith("line 2:") for w in body["warnings"])


def test_hybrid_with_the_llm_unreachable_answers_the_rules_result_and_a_warning(make_client: Client) -> None:
    def down(model: str, messages: Sequence[Message]) -> str:
        raise LLMUnavailable("cannot reach Ollama at http://127.0.0.1:1")

    reply = make_client(FakeLLM(down)).post("/generate", json={"commands": SCRIPT, "engine": "hybrid"})
    assert reply.status_code == 200, reply.json
    body = reply.json
    assert body["engine"] == "rules" and body["llm_lines"] == []
    assert any("could not be used" in w and "line 2" in w for w in body["warnings"])
    assert "ansible.builtin.command" in tasks_of(body)[1]


def test_hybrid_keeps_the_guarded_commands_when_the_tasks_cannot_be_matched(make_client: Client) -> None:
    three = llm_tasks([{"name": f"Step {n}", "ansible.builtin.command": {"cmd": "true"}} for n in range(3)])
    llm = FakeLLM(lambda model, messages: three)
    reply = make_client(llm).post("/generate", json={"commands": SCRIPT, "engine": "hybrid"})
    assert reply.status_code == 200, reply.json
    assert len(llm.calls) == 3, "each unmatched answer is sent back with the error"
    assert "could not be matched" in llm.calls[1][1][-1]["content"]
    assert any("no usable tasks" in w for w in reply.json["warnings"])


def test_a_hallucinated_module_is_sent_back_to_the_model_with_the_error(make_client: Client) -> None:
    answers = iter([
        llm_tasks([{"name": "Install nginx", "ansible.builtin.apt_get": {"name": "nginx"}}]),
        llm_tasks([{"name": "Install nginx", "ansible.builtin.apt": {"name": "nginx", "install_recommended": False}}]),
        llm_tasks([{"name": "Install nginx", "ansible.builtin.apt": {"name": "nginx", "state": "present"}}]),
    ])
    llm = FakeLLM(lambda model, messages: next(answers))
    reply = make_client(llm).post("/generate", json={"commands": "apt-get install -y nginx", "engine": "llm"})
    assert reply.status_code == 200, reply.json
    assert reply.json["attempts"] == 3
    first_repair = llm.calls[1][1][-1]["content"]
    assert "unknown module 'ansible.builtin.apt_get'" in first_repair and "ansible.builtin.apt" in first_repair
    second_repair = llm.calls[2][1][-1]["content"]
    assert "no parameter 'install_recommended'" in second_repair
    assert reply.json["validation"]["ok"] is True


def test_default_engine_is_hybrid(make_client: Client) -> None:
    llm = FakeLLM(lambda model, messages: pytest.fail("no LLM call expected: every line is covered"))
    reply = make_client(llm, default_engine="hybrid").post("/generate", json={"commands": "sudo apt-get install -y nginx"})
    assert reply.status_code == 200 and reply.json["engine"] == "hybrid" and reply.json["llm_lines"] == []


def test_context_gives_the_rules_their_directory_and_variables_without_tasks(make_client: Client) -> None:
    llm = FakeLLM(lambda model, messages: pytest.fail("no LLM call expected"))
    reply = make_client(llm).post(
        "/generate", json={"commands": "mkdir -p $APP/logs\n", "context": "cd /opt\nexport APP=/srv/app\n", "engine": "rules"}
    )
    assert reply.status_code == 200, reply.json
    tasks = tasks_of(reply.json)
    assert len(tasks) == 1 and tasks[0]["ansible.builtin.file"]["path"] == "/srv/app/logs"


def test_context_is_shown_to_the_model_but_not_to_convert(make_client: Client) -> None:
    llm = FakeLLM(lambda model, messages: llm_tasks([{"name": "Build", "ansible.builtin.command": {"cmd": "make", "chdir": "/opt/app"}}]))
    reply = make_client(llm).post("/generate", json={"commands": "make\n", "context": "cd /opt/app\n", "engine": "llm"})
    assert reply.status_code == 200, reply.json
    asked = llm.calls[0][1][-1]["content"]
    note, to_convert = asked.split("```sh")
    assert "cd /opt/app" in note and "do not convert them" in note
    assert "make" in to_convert and "cd /opt/app" not in to_convert


def test_hybrid_needs_no_model_when_the_rules_cover_everything(make_client: Client) -> None:
    """README's first curl on a farm without that model: every line has a rule, so the model is never asked."""
    llm = FakeLLM(lambda model, messages: pytest.fail("no LLM call expected"), models=["smollm2"])
    commands = "sudo apt-get install -y nginx\nsudo systemctl enable --now nginx"
    reply = make_client(llm).post("/generate", json={"commands": commands, "model": "codellama:13b", "engine": "hybrid"})
    assert reply.status_code == 200, reply.json
    assert reply.json["llm_lines"] == [] and "ansible.builtin.apt" in reply.json["playbook"]
    assert llm.calls == []


def test_hybrid_with_a_model_not_installed_answers_with_the_rules_and_names_the_model(make_client: Client) -> None:
    llm = FakeLLM(lambda model, messages: pytest.fail("no LLM call expected"), models=["codellama:13b"])
    reply = make_client(llm).post("/generate", json={"commands": "apt-get install -y nginx\nfrobnicate --all", "model": "nosuch:1b", "engine": "hybrid"})
    assert reply.status_code == 200, reply.json
    assert reply.json["engine"] == "rules" and reply.json["llm_lines"] == []
    assert any("nosuch:1b" in warning and "line 2" in warning for warning in reply.json["warnings"]), reply.json["warnings"]
    assert llm.calls == []


@pytest.mark.parametrize("path", ["/generate", "/explain"])
def test_a_job_that_needs_the_model_is_a_404_naming_it(make_client: Client, path: str) -> None:
    llm = FakeLLM(lambda model, messages: pytest.fail("no LLM call expected"), models=["codellama:13b"])
    body = {"commands": "apt-get install -y nginx", "engine": "llm"} if path == "/generate" else {"playbook": "- hosts: all"}
    reply = make_client(llm).post(path, json={**body, "model": "nosuch:1b"})
    assert reply.status_code == 404 and "nosuch:1b" in reply.json["error"]
    assert llm.calls == [], "the 404 came from the model catalog, not from an LLM call"


def test_hybrid_keeps_both_commands_of_one_line(make_client: Client) -> None:
    def responder(model: str, messages: Sequence[Message]) -> str:
        return llm_tasks([
            {"name": "[L1] Frobnicate a", "ansible.builtin.command": {"cmd": "frobnicate a"}, "changed_when": True},
            {"name": "[L1] Frobnicate b", "ansible.builtin.command": {"cmd": "frobnicate b"}, "changed_when": True},
        ])

    reply = make_client(FakeLLM(responder)).post("/generate", json={"commands": "frobnicate a; frobnicate b\n", "engine": "hybrid"})
    assert reply.status_code == 200, reply.json
    assert [t["name"] for t in tasks_of(reply.json)] == ["Frobnicate a", "Frobnicate b"]
    assert reply.json["llm_lines"] == ["line 1"]


def test_hybrid_never_sends_an_unparsable_line_and_says_so(make_client: Client) -> None:
    llm = FakeLLM(lambda model, messages: pytest.fail("a broken line must not go to the model"))
    reply = make_client(llm).post("/generate", json={"commands": 'echo "rm -rf /tmp/x\n', "engine": "hybrid"})
    assert reply.status_code == 200, reply.json
    assert all("rm -rf" not in str(t) for t in tasks_of(reply.json))
    assert any("could not be parsed" in w for w in reply.json["warnings"])
