"""The README's settings tables say what the code declares (issue 10, item 8): every declared
setting is a row with its default, and no row names a setting nothing declares.

Three tables: the worker's (``worker.settings`` + ``LOG_FORMAT``), the balancer's
(``balancer.settings`` + ``LOG_FORMAT``) and the server settings both services share
(``common.serving.SERVER_SETTINGS`` and ``common.tls.ServerTls``). A row may hold several settings (``A`` / ``B`` with
defaults ``1 / 2``) and an alias (``LLM_TIMEOUT`` (or ``TIMEOUT``))."""

from __future__ import annotations

import re

import pytest

from balancer.settings import Settings
from common.config import declared, show, shown_default
from common.logs import LOG_SETTINGS
from common.serving import SERVER_SETTINGS
from common.tls import ServerTls
from tests.procs import ROOT
from worker.settings import WorkerSettings

Table = dict[str, tuple[str, str | None]]  # env name -> (default as written, alias)


def readme_text() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def readme_table(text: str, section: str) -> Table:
    """The settings table under the heading ``section``: {env name: (default cell, alias)}."""
    start = text.index(f"\n{section}\n")
    following = re.search(r"\n#{1,3} ", text[start + 1:])
    body = text[start: start + 1 + following.start()] if following else text[start:]
    lines = body.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| setting (env"))
    table: Table = {}
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        name_cell, default_cell = [cell.strip() for cell in line.strip("|").split("|")][:2]
        alias_match = re.search(r"\(or `([A-Z_]+)`\)", name_cell)
        names = re.findall(r"`([A-Z_]+)`", re.sub(r"\(or `[A-Z_]+`\)", "", name_cell))
        defaults = default_cell.split(" / ") if len(names) > 1 else [default_cell]
        assert names and len(defaults) == len(names), f"README row {line!r}: one default per setting"
        for name, default in zip(names, defaults, strict=True):
            assert name not in table, f"README lists {name} twice under {section}"
            table[name] = (default.strip(), alias_match[1] if alias_match else None)
    return table


def declared_table(cls: type) -> Table:
    return {f.metadata["env"]: (shown_default(cls, f.metadata["env"]), f.metadata.get("alias")) for f in declared(cls)}


LOGS: Table = {name: (show(default), None) for name, default, _doc in LOG_SETTINGS}


def server_table() -> Table:
    table: Table = {}
    for name, _attr, default, doc in SERVER_SETTINGS:
        if default is None:  # read from the service's TIMEOUT, as the doc says
            assert "TIMEOUT" in doc
            table[name] = ("`TIMEOUT`", None)
        else:
            table[name] = (show(default), None)
    return table


def disagreements(written: Table, declared_settings: Table) -> list[str]:
    """What the README says that the declarations do not, one line each."""
    problems = [f"{name}: declared, not in the README" for name in sorted(set(declared_settings) - set(written))]
    problems += [f"{name}: in the README, declared nowhere" for name in sorted(set(written) - set(declared_settings))]
    problems += [f"{name}: README says (default, alias) {written[name]}, the code {declared_settings[name]}"
                 for name in sorted(set(written) & set(declared_settings)) if written[name] != declared_settings[name]]
    return problems


TABLES = {
    "## The worker (`app.py`)": lambda: declared_table(WorkerSettings) | LOGS,
    "## The balancer (`app_distributed.py`)": lambda: declared_table(Settings) | LOGS,
    "### The serving model": lambda: server_table() | declared_table(ServerTls),
}


@pytest.mark.parametrize("section", list(TABLES), ids=["worker", "balancer", "server"])
def test_the_readme_settings_table_is_what_the_code_declares(section: str) -> None:
    assert disagreements(readme_table(readme_text(), section), TABLES[section]()) == []


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("| `WORKER_SLOTS` | 1 |", "| `WORKER_SLOTS` | 2 |", "WORKER_SLOTS: README says"),
    ("| `WORKER_SLOTS` | 1 | LLM jobs run at once |\n", "", "WORKER_SLOTS: declared, not in the README"),
    ("| `WORKER_SLOTS` | 1 |", "| `NO_SUCH` | 1 | x |\n| `WORKER_SLOTS` | 1 |", "NO_SUCH: in the README, declared nowhere"),
    ("`LLM_TIMEOUT` (or `TIMEOUT`)", "`LLM_TIMEOUT`", "LLM_TIMEOUT: README says"),
])
def test_a_disagreement_is_caught(old: str, new: str, expected: str) -> None:
    text = readme_text()
    assert old in text
    section = "## The worker (`app.py`)"
    problems = disagreements(readme_table(text.replace(old, new, 1), section), TABLES[section]())
    assert any(problem.startswith(expected) for problem in problems), problems
