"""Settings: the seed's list in app_distributed.py, env and backends.json overrides, clear errors."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from balancer.settings import BackendSpec, ConfigError, Settings
from tests.procs import ROOT



def top_assignments(path: Path) -> dict[str, object]:
    """The literal NAME = value assignments of a module, read without importing (and starting) it."""
    tree = ast.parse(path.read_text())
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, (ast.List, ast.Constant))}


SEED_DEFAULTS = top_assignments(ROOT / "app_distributed.py")


def write_file(tmp_path: Path, data: object) -> str:
    path = tmp_path / "backends.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_app_distributed_top_holds_the_seed_configuration() -> None:
    assert list(SEED_DEFAULTS)[:3] == ["BACKENDS", "chunk_size", "timeout"], "the seed's names, as users edit them"
    backends = SEED_DEFAULTS["BACKENDS"]
    assert isinstance(backends, list) and backends
    assert SEED_DEFAULTS["chunk_size"] == 10 and SEED_DEFAULTS["timeout"] == 600
    defaults = {"BACKENDS": backends, "CHUNK_SIZE": SEED_DEFAULTS["chunk_size"], "TIMEOUT": SEED_DEFAULTS["timeout"]}
    settings = Settings.from_env(defaults, env={})
    assert settings.backend_urls == tuple(url.rstrip("/") for url in backends)
    assert (settings.chunk_size, settings.timeout_s, settings.port) == (10, 600.0, 5000)


def test_app_hyphen_distributed_is_the_same_file() -> None:
    """The seed runs `python3 app-distributed.py`: a git symlink to app_distributed.py."""
    link = ROOT / "app-distributed.py"
    assert link.is_symlink() and link.resolve() == (ROOT / "app_distributed.py").resolve()


def test_env_backends_win_over_file_and_list(tmp_path: Path) -> None:
    path = write_file(tmp_path, {"backends": ["http://file:5001"]})
    env = {"BACKENDS": " http://e1:5001/ , http://e2:5002,", "BACKENDS_FILE": path}
    assert Settings.from_env(SEED_DEFAULTS, env).backend_urls == ("http://e1:5001", "http://e2:5002")


def test_file_wins_over_the_list_and_takes_slots_and_weight(tmp_path: Path) -> None:
    path = write_file(tmp_path, {"backends": ["http://f1:5001", {"url": "http://f2:5001", "slots": 2, "weight": 3}]})
    settings = Settings.from_env(SEED_DEFAULTS, {"BACKENDS_FILE": path})
    assert settings.backends == (BackendSpec("http://f1:5001"), BackendSpec("http://f2:5001", 2, 3))


def test_env_numbers_override_the_file_defaults() -> None:
    env = {"CHUNK_SIZE": "5", "TIMEOUT": "30.5", "PORT": "5100", "MAX_QUEUE": "0", "QUEUE_TIMEOUT": "2",
           "HEALTH_INTERVAL": "0.5", "HEALTH_TIMEOUT": "0.2", "RETRIES": "1", "DEFAULT_MODEL": "llama3:8b"}
    s = Settings.from_env(SEED_DEFAULTS, env)
    assert (s.chunk_size, s.timeout_s, s.port, s.max_queue, s.queue_timeout_s) == (5, 30.5, 5100, 0, 2.0)
    assert (s.health_interval_s, s.health_timeout_s, s.retries, s.default_model) == (0.5, 0.2, 1, "llama3:8b")


@pytest.mark.parametrize(
    ("env", "defaults", "message"),
    [
        ({"BACKENDS": "server1.local:5001"}, {}, "must look like http://host:port"),
        ({"BACKENDS": "http://a:5001,http://a:5001"}, {}, "more than once"),
        ({"BACKENDS": " , "}, {}, "no backends configured"),
        ({}, {"BACKENDS": []}, "no backends configured"),
        ({}, {"BACKENDS": "http://a:5001"}, "must be a list"),
        ({"BACKENDS": "http://a:5001", "CHUNK_SIZE": "ten"}, {}, "CHUNK_SIZE must be an integer"),
        ({"BACKENDS": "http://a:5001", "CHUNK_SIZE": "0"}, {}, "CHUNK_SIZE must be >= 1"),
        ({"BACKENDS": "http://a:5001", "TIMEOUT": "soon"}, {}, "TIMEOUT must be a number"),
        ({"BACKENDS": "http://a:5001", "PORT": "70000"}, {}, "PORT must be between"),
        ({"BACKENDS": "http://a:5001", "MAX_QUEUE": "-1"}, {}, "MAX_QUEUE must be >= 0"),
        ({"BACKENDS": "http://a:5001:x"}, {}, "invalid port"),
    ],
)
def test_malformed_settings_are_clear_errors(env: dict[str, str], defaults: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(defaults, env)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (["http://a:5001"], "expected an object"),
        ({"backends": [{"host": "a"}]}, "unknown key"),
        ({"backends": [{"url": "http://a:5001", "slots": 0}]}, "'slots' must be an integer >= 1"),
        ({"backends": [{"url": "http://a:5001", "weight": "x"}]}, "'weight' must be an integer"),
        ({"backends": [42]}, "must be a URL string"),
    ],
)
def test_malformed_backends_file_names_the_file(tmp_path: Path, content: object, message: str) -> None:
    path = write_file(tmp_path, content)
    with pytest.raises(ConfigError, match=message) as caught:
        Settings.from_env({}, {"BACKENDS_FILE": path})
    assert path in str(caught.value)


def test_missing_backends_file_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.from_env(SEED_DEFAULTS, {"BACKENDS_FILE": str(tmp_path / "nope.json")})


def test_entry_point_exits_nonzero_with_the_message_on_bad_config() -> None:
    result = subprocess.run(
        [sys.executable, "app_distributed.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "BACKENDS": "http://ok:5001", "CHUNK_SIZE": "many"},
    )
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "CHUNK_SIZE must be an integer" in result.stderr


def test_outlier_and_health_settings_have_envoy_and_haproxy_defaults() -> None:
    settings = Settings.from_env({"BACKENDS": ["http://a:1"]}, env={})
    assert (settings.outlier_failures, settings.ejection_time_s, settings.max_ejection_time_s) == (3, 30.0, 600.0)
    assert (settings.max_ejection_percent, settings.health_rise, settings.health_fall, settings.retries) == (50, 2, 3, 3)
    assert settings.admin_token == "" and "admin_token" not in repr(settings)
    changed = Settings.from_env({"BACKENDS": ["http://a:1"]}, env={"MAX_EJECTION_PERCENT": "75", "HEALTH_RISE": "1"})
    assert (changed.max_ejection_percent, changed.health_rise) == (75, 1)


@pytest.mark.parametrize("env,message", [
    ({"MAX_EJECTION_PERCENT": "101"}, "MAX_EJECTION_PERCENT must be between 0 and 100"),
    ({"OUTLIER_FAILURES": "0"}, "OUTLIER_FAILURES must be >= 1"),
    ({"EJECTION_TIME": "60", "MAX_EJECTION_TIME": "30"}, "MAX_EJECTION_TIME must be >= 60"),
])
def test_bad_outlier_settings_are_config_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"BACKENDS": ["http://a:1"]}, env=env)


def test_reload_reads_backends_file_anew_and_refuses_other_sources(tmp_path: Path) -> None:
    path = tmp_path / "backends.json"
    path.write_text('{"backends": ["http://a:1"]}')
    settings = Settings.from_env({}, env={"BACKENDS_FILE": str(path)})
    path.write_text('{"backends": ["http://a:1", {"url": "http://b:2", "slots": 2}]}')
    assert [b.url for b in settings.reload_backends(env={"BACKENDS_FILE": str(path)})] == ["http://a:1", "http://b:2"]
    with pytest.raises(ConfigError, match="env BACKENDS"):
        settings.reload_backends(env={"BACKENDS": "http://a:1"})
    with pytest.raises(ConfigError, match="no BACKENDS_FILE"):
        Settings.from_env({"BACKENDS": ["http://a:1"]}, env={}).reload_backends(env={})
