"""The corpus of realistic setup scripts: golden playbooks, valid modules and parameters,
and a real `ansible-playbook --syntax-check` of every output (issue 4's targets are in
`python -m bench.convert`; regenerate goldens with `python -m tests.playbook.regen_corpus`)."""

from __future__ import annotations

import pytest
import yaml

from playbook.validate import module_errors, structure_errors
from tests.playbook.corpus import CorpusCase, cases, convert_case
from validation.argspecs import ArgSpecs, load_argspecs
from validation.syntax import SyntaxChecker

CASES = cases()
IDS = [c.name for c in CASES]


@pytest.fixture(scope="module")
def specs() -> ArgSpecs:
    return load_argspecs()  # every collection the converter uses; cached after the first build


def test_corpus_is_big_enough_and_complete() -> None:
    assert len(CASES) >= 32
    assert all(c.expected.exists() for c in CASES), "run python -m tests.playbook.regen_corpus"
    assert sum(c.file_only for c in CASES) >= 3


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rules_engine_output_matches_golden(case: CorpusCase) -> None:
    _, text = convert_case(case)
    assert text == case.expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_output_structure_modules_and_parameters_are_valid(case: CorpusCase, specs: ArgSpecs) -> None:
    conversion, text = convert_case(case)
    plays = yaml.safe_load(text)
    assert structure_errors(plays) == []
    assert module_errors(plays, specs, redirects=specs.redirects) == []
    assert all(task.get("name") for task in conversion.tasks + conversion.handlers)


def test_every_output_passes_the_real_syntax_check() -> None:
    texts = {case.name: convert_case(case)[1] for case in CASES}
    with SyntaxChecker() as checker:
        failures = {name: result.errors for name, text in texts.items()
                    if not (result := checker.check(text)).ok}
    assert failures == {}
