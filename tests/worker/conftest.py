"""Worker test fixtures: apps built through the factory on a FakeLLM and the shared validator."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from validation.validator import PlaybookValidator
from worker.llm import FakeLLM
from worker.settings import WorkerSettings
from worker.web import create_app

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(validator: PlaybookValidator) -> AppFactory:
    """Build a worker app on a FakeLLM; the LLM engine is the default so these tests exercise the model path."""

    def build(llm: FakeLLM, **settings: object) -> Flask:
        settings.setdefault("default_engine", "llm")
        app = create_app(WorkerSettings(**settings), llm=llm, validator=validator)  # type: ignore[arg-type]
        app.testing = True
        return app

    return build


@pytest.fixture
def make_client(make_app: AppFactory) -> Callable[..., FlaskClient]:
    return lambda llm, **settings: make_app(llm, **settings).test_client()


