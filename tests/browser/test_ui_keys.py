"""The web UI on a balancer with API keys: without a key its calls get 401 and it says so; with
the key typed into its field (kept in the tab's sessionStorage) it converts and shows the farm."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from common.apikeys import add_key
from tests.farms import Farm, running_farm

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture says so
    expect = None  # type: ignore[assignment]

KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    """The usual browser farm, its balancer asking for API keys."""
    directory = tmp_path_factory.mktemp("browser-keys-farm")
    KEY["user"], _ = add_key(directory / "keys.json", "browser")
    with running_farm(directory, api_key=KEY["user"], API_KEYS_FILE=str(directory / "keys.json")) as started:
        yield started


def test_the_ui_sends_the_api_key_typed_into_it(page: Any, farm: Farm) -> None:
    page.goto("/")
    expect(page.locator("#status")).to_contain_text("status unavailable: this balancer needs an API key")
    page.fill("#input", "apt-get install -y nginx")
    page.select_option("#engine", "rules")
    page.click("#go")
    expect(page.locator("#error")).to_contain_text("API key")

    page.fill("#api-key", KEY["user"])
    page.dispatch_event("#api-key", "change")
    page.click("#go")
    expect(page.locator("#output")).to_contain_text("ansible.builtin.apt")
    expect(page.locator("#backends tr")).to_have_count(2)  # the status poll carries the key too
    assert page.evaluate("sessionStorage.getItem('apiKey')") == KEY["user"]
