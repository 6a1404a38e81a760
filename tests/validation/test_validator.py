"""PlaybookValidator: structure, module/parameter names, syntax-check, lint, caching."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from validation.argspecs import ArgSpecs, load_argspecs
from validation.syntax import SyntaxChecker
from validation.validator import PlaybookValidator, ValidationReport

SPECS = {
    "ansible.builtin.apt": {"name", "pkg", "package", "state", "update_cache"},
    "ansible.builtin.service": {"name", "state", "enabled"},
    "ansible.builtin.command": {"_raw_params", "cmd", "chdir", "creates", "removes"},
}


def playbook(*tasks: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "Web", "hosts": "all", "become": True, "tasks": list(tasks)}]


GOOD = playbook(
    {"name": "Install nginx", "ansible.builtin.apt": {"name": "nginx", "state": "present"}},
    {"name": "Start nginx", "ansible.builtin.service": {"name": "nginx", "state": "started", "enabled": True}},
)
HALLUCINATED_MODULE = playbook({"name": "Install nginx", "ansible.builtin.apt_get": {"name": "nginx"}})
HALLUCINATED_PARAM = playbook({"name": "Install nginx", "ansible.builtin.apt": {"name": "nginx", "autostart": True}})


@pytest.fixture
def pure() -> PlaybookValidator:
    return PlaybookValidator(SPECS, syntax_check=False)


def test_good_playbook_ok(pure: PlaybookValidator) -> None:
    report = pure.validate(GOOD)
    assert report.ok and report.errors == [] and report.lint is None and report.elapsed_s >= 0
    assert report.notes == ["ansible-playbook --syntax-check not run (disabled)"]


def test_hallucinated_module_caught_with_suggestion(pure: PlaybookValidator) -> None:
    report = pure.validate(HALLUCINATED_MODULE)
    assert not report.ok
    assert report.errors == [
        "play 1 ('Web'), task 1 ('Install nginx'): unknown module 'ansible.builtin.apt_get' "
        "(did you mean ansible.builtin.apt?)"
    ]


def test_hallucinated_parameter_caught_with_valid_list(pure: PlaybookValidator) -> None:
    (error,) = pure.validate(HALLUCINATED_PARAM).errors
    assert error == (
        "play 1 ('Web'), task 1 ('Install nginx'): module ansible.builtin.apt has no parameter 'autostart'; "
        "valid: name, package, pkg, state, update_cache"
    )


def test_structure_errors_short_circuit(pure: PlaybookValidator) -> None:
    report = pure.validate({"hosts": "all"})
    assert not report.ok and "top level is a mapping" in report.errors[0]
    assert not pure.validate([{"hosts": "all", "tasks": [{"name": "x"}]}]).ok


def test_unrenderable_value_is_an_error_not_an_exception(pure: PlaybookValidator) -> None:
    report = pure.validate(playbook({"ansible.builtin.command": {"cmd": object()}}))
    assert not report.ok and "cannot render" in report.errors[0]


def test_reports_cached_per_text(pure: PlaybookValidator) -> None:
    first = pure.validate(HALLUCINATED_PARAM)
    again = pure.validate([dict(p) for p in HALLUCINATED_PARAM])
    assert again.errors == first.errors and again.ok == first.ok


def test_specs_load_in_background_and_validate_waits() -> None:
    gate = threading.Event()

    def slow_loader() -> dict[str, set[str]]:
        gate.wait(5)
        return SPECS

    validator = PlaybookValidator(specs_loader=slow_loader, syntax_check=False)
    assert not validator.specs_ready  # construction did not wait
    threading.Timer(0.05, gate.set).start()
    assert not validator.validate(HALLUCINATED_MODULE).ok
    assert validator.specs_ready


def test_failing_loader_skips_module_check_with_note() -> None:
    def broken() -> dict[str, set[str]]:
        raise RuntimeError("ansible-doc not found")

    validator = PlaybookValidator(specs_loader=broken, syntax_check=False)
    report = validator.validate(HALLUCINATED_PARAM)
    assert report.ok
    assert any("not checked: ansible-doc not found" in n for n in report.notes)


def test_report_to_json() -> None:
    report = ValidationReport(False, ["e"], None, 0.5)
    assert report.to_json() == {"ok": False, "errors": ["e"], "lint": None, "elapsed_s": 0.5, "notes": []}


# --- with the real ansible tools -------------------------------------------------


@pytest.fixture(scope="module")
def builtin_specs(tmp_path_factory: pytest.TempPathFactory) -> ArgSpecs:
    return load_argspecs(tmp_path_factory.mktemp("cache"), collections=("ansible.builtin",))


@pytest.fixture(scope="module")
def real(builtin_specs: ArgSpecs) -> Any:
    with SyntaxChecker() as checker:
        yield PlaybookValidator(builtin_specs, syntax=checker)


def test_real_argspecs(builtin_specs: ArgSpecs) -> None:
    assert {"name", "pkg", "package", "update_cache", "update-cache"} <= builtin_specs["ansible.builtin.apt"]
    assert "community.general.ufw" in builtin_specs  # known by name, parameters fetched on first use
    assert builtin_specs.redirects["ansible.builtin.ufw"] == "community.general.ufw"
    assert {"rule", "port"} <= builtin_specs["community.general.ufw"]


def test_real_cache_is_reused(builtin_specs: ArgSpecs, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = Path(builtin_specs._cache_file)  # type: ignore[arg-type]
    assert cache.exists() and "ansible_builtin" in cache.name
    again = load_argspecs(cache.parent, collections=("ansible.builtin",))
    assert again["ansible.builtin.apt"] == builtin_specs["ansible.builtin.apt"]
    assert "community.general.ufw" in again and again["community.general.ufw"]  # lazily fetched one was saved


def test_real_validation_good_and_hallucinated(real: PlaybookValidator) -> None:
    good = real.validate(GOOD)
    assert (good.ok, good.errors, good.notes) == (True, [], [])
    (module_error,) = real.validate(HALLUCINATED_MODULE).errors
    assert "unknown module 'ansible.builtin.apt_get'" in module_error and "ansible.builtin.apt" in module_error
    (param_error,) = real.validate(HALLUCINATED_PARAM).errors
    assert "module ansible.builtin.apt has no parameter 'autostart'" in param_error
    assert "update_cache" in param_error


def test_real_syntax_check_catches_what_names_do_not(real: PlaybookValidator) -> None:
    bad_loop = playbook({"name": "Loop twice", "ansible.builtin.command": "echo {{ item }}", "loop": [1], "with_items": [2]})
    report = real.validate(bad_loop)
    assert not report.ok and report.errors, report
