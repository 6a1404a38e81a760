"""Browser fixtures: Debian's chromium driven by Playwright (``executable_path``: browser builds
cannot be downloaded here), a real farm on loopback ports, and a screenshot of every page a test
leaves, kept under ``run/test-artifacts/browser/`` (or ``$TEST_ARTIFACTS/browser``).

Without chromium or Playwright the tests skip, saying why, on a developer's machine; under CI
(``CI=true``) they fail instead: ``make install`` / ``make test`` install both.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.farms import Farm, running_farm
from tests.procs import ROOT

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "run" / "test-artifacts")) / "browser"


def _missing(what: str) -> None:
    message = f"{what}; `make install` installs it (apt-get install chromium; pip install -r requirements-dev.txt)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"browser tests cannot run under CI: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        _missing(f"no chromium at {path}")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    """Two one-slot workers behind a balancer, with CHUNK_SIZE=2 so small scripts split."""
    with running_farm(tmp_path_factory.mktemp("browser-farm")) as started:
        yield started


@pytest.fixture
def page(browser: Any, farm: Farm, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (clipboard allowed, downloads accepted) on an idle farm; its screenshot is kept."""
    farm.emulator.reset()
    farm.wait_idle()
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}, base_url=farm.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=farm.url)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    outside: list[str] = []
    opened.on("request", lambda req: None if req.url.startswith((farm.url, "blob:", "data:")) else outside.append(req.url))
    try:
        yield opened
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not outside, f"the page loaded something from elsewhere: {outside}"
