"""openapi.yaml against the real services: schemathesis fuzzes both as real processes.

The farm is the one the integration tests use: the Ollama emulator, one ``python3 app.py``
worker on it, and one ``python3 app_distributed.py`` balancer whose only backend is that
worker. The schemathesis CLI (``--checks all``: documented statuses, content types, headers and
reply schemas, schema-invalid input refused, schema-valid input accepted, 405 with ``Allow`` for
undocumented methods, auth enforced, and no 5xx at all: with a healthy emulator nothing may fail
upstream) runs against each service, both at once, with ``--generation-deterministic``, so every
run sends the same cases; a failure names the case and ``st replay`` reproduces it.

Budget: the coverage phase's fixed cases plus ``MAX_EXAMPLES`` generated cases per job operation
(``ADMIN_MAX_EXAMPLES`` per admin one, which all answer 401) make about 2,130 cases, 45-60 s
on 2 cores. The test counts what schemathesis says it generated and fails below the plan, so a
run that silently tests less (an operation skipped, a phase cut short) does not pass.

Nothing here can make the balancer connect anywhere but the worker: its only backend comes from
env BACKENDS (no BACKENDS_FILE to reload), the admin API needs an ADMIN_TOKEN the fuzzer never
sees (checked before fuzzing, and every admin call it made must have been refused), proxies are
off for every process, and while the fuzzer runs the balancer's outbound TCP connections are
sampled from /proc: each must go to the worker. Afterwards the backend set is unchanged and both
services still answer GET /queue-status.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from tests.procs import ROOT, ServiceProcess, free_port, python_service, wait_until

SPEC_PATH = ROOT / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text())
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SERVICES = ["worker", "balancer"]  # a path without x-service is served by both

MAX_EXAMPLES = 150  # generated cases per job operation (fuzzing phase)
ADMIN_MAX_EXAMPLES = 15  # per admin operation: each is refused with 401, a few prove it
MIN_TOTAL_CASES = 2000
# both schemathesis runs: about 45 s on a quiet 2-core machine; the bound leaves room for a loaded one
RUN_TIMEOUT_S = 240

# every *_proxy variable off: requests and httpx skip empty values, and NO_PROXY=* covers the rest
NO_PROXIES = {name: "" for base in ("http", "https", "all") for name in (f"{base}_proxy", f"{base.upper()}_PROXY")}
NO_PROXIES |= {"NO_PROXY": "*", "no_proxy": "*"}
HTTP = requests.Session()  # this test's own calls: straight to 127.0.0.1, whatever the environment says
HTTP.trust_env = False

# ``lint: true`` runs ansible-lint, about 5 s a call: the fuzzer's truthy lint values go out as
# false instead (every other value, the invalid ones included, goes out as generated). The
# lint=true path is covered by tests/test_hostile_input.py and the worker's own tests.
HOOKS = '''
import schemathesis

TRUTHY = {"true", "1", "yes", "on"}


@schemathesis.hook
def before_call(context, case, kwargs):
    body = case.body
    if isinstance(body, dict) and "lint" in body:
        value = body["lint"]
        if value is True:
            body["lint"] = False
        elif isinstance(value, str) and value.strip().lower() in TRUTHY:
            body["lint"] = "false"
'''

CONFIG = f"""
[[operations]]
include-tag = "admin"
generation.max-examples = {ADMIN_MAX_EXAMPLES}
"""


def operations(service: str) -> dict[str, dict[str, Any]]:
    """``"METHOD /path"`` -> operation, for the operations openapi.yaml documents on ``service``."""
    found = {}
    for path, item in SPEC["paths"].items():
        if service not in item.get("x-service", SERVICES):
            continue
        for method, operation in item.items():
            if method in HTTP_METHODS:
                found[f"{method.upper()} {path}"] = operation
    return found


def is_admin(operation: dict[str, Any]) -> bool:
    return "admin" in operation.get("tags", [])


def planned_cases(service: str) -> int:
    """The generated cases the fuzzing phase must reach on ``service`` (the coverage phase adds more).

    Operations without any input (GET /, /healthz, /queue-status) give one case each; every
    other gets its ``--max-examples``.
    """
    total = 0
    for operation in operations(service).values():
        has_input = "requestBody" in operation or operation.get("parameters") or operation.get("security")
        total += (ADMIN_MAX_EXAMPLES if is_admin(operation) else MAX_EXAMPLES) if has_input else 1
    return total


# -- the balancer's outbound connections, from /proc -------------------------------------------------


def _family(pid: int) -> list[int]:
    """``pid`` and all its descendants (gunicorn's master and its worker)."""
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*"):
            try:
                pids += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                pass
        index += 1
    return pids


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    if len(host) == 8:  # IPv4, little-endian
        return ".".join(str(int(host[i : i + 2], 16)) for i in (6, 4, 2, 0)), int(port, 16)
    return f"[{host}]", int(port, 16)  # IPv6: left raw; the balancer only ever uses 127.0.0.1


def tcp_connections(pid: int) -> set[tuple[tuple[str, int], tuple[str, int]]]:
    """(local, remote) of every non-listening TCP socket held by ``pid`` or its children."""
    inodes = set()
    for member in _family(pid):
        for fd in Path(f"/proc/{member}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    connections = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes and fields[3] != "0A":  # 0A: LISTEN
                connections.add((_address(fields[1]), _address(fields[2])))
    return connections


@dataclass
class OutboundWatch:
    """Samples a process's outbound TCP connections (local port not its own) in a thread."""

    pid: int
    own_port: int
    interval_s: float = 0.25  # a connection that is being refused or timed out lasts CONNECT_TIMEOUT (3 s)
    seen: Counter[tuple[str, int]] = field(default_factory=Counter)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "OutboundWatch":
        self._thread = threading.Thread(target=self._run, name="outbound-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                connections = tcp_connections(self.pid)
            except OSError:
                continue
            self.samples += 1
            for local, remote in connections:
                if local[1] != self.own_port:
                    self.seen[remote] += 1


# -- the farm -----------------------------------------------------------------------------------------


@dataclass
class Farm:
    worker: ServiceProcess
    balancer: ServiceProcess
    admin_token: str


@pytest.fixture
def farm(ollama_emulator, start_worker: Callable[..., ServiceProcess], tmp_path: Path) -> Iterator[Farm]:  # type: ignore[no-untyped-def]
    worker = start_worker(ollama_emulator.url, **NO_PROXIES)
    wait_until(lambda: HTTP.get(worker.url + "/queue-status", timeout=2).json()["models"], what="the worker's model list")
    token = secrets.token_urlsafe(32)
    port = free_port()
    balancer = python_service(
        ["app_distributed.py"],
        port,
        {"BACKENDS": worker.url, "BACKENDS_FILE": "", "ADMIN_TOKEN": token, "HEALTH_INTERVAL": "0.5", **NO_PROXIES},
        log_path=tmp_path / "balancer.log",
    )
    try:
        balancer.start()
        wait_until(lambda: _backends(balancer.url)[0]["status"] == "online", what="the balancer to see its worker online")
        yield Farm(worker, balancer, token)
    finally:
        balancer.stop()


def _backends(url: str) -> list[dict[str, Any]]:
    backends: list[dict[str, Any]] = HTTP.get(url + "/queue-status", timeout=5).json()["backends"]
    return backends


def _schema(fragment: dict[str, Any]) -> dict[str, Any]:
    """A spec schema fragment as a JSON Schema whose ``#/components/...`` references resolve."""
    return {**fragment, "components": SPEC["components"]}


# -- schemathesis -------------------------------------------------------------------------------------


@dataclass
class FuzzRun:
    service: str
    url: str
    returncode: int = -1
    output: str = ""
    elapsed_s: float = 0.0
    generated: int = -1
    cases: Counter[str] = field(default_factory=Counter)  # operation -> cases
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    def tail(self, chars: int = 6000) -> str:
        return f"schemathesis on the {self.service} ({self.url}), exit {self.returncode}:\n{self.output[-chars:]}"


def start_fuzzing(run: FuzzRun, work: Path) -> subprocess.Popen[str]:
    work.mkdir()
    (work / "spec_fuzz_hooks.py").write_text(HOOKS)
    (work / "schemathesis.toml").write_text(CONFIG)
    excluded = sorted(path for path, item in SPEC["paths"].items() if run.service not in item.get("x-service", SERVICES))
    argv = [
        str(SCHEMATHESIS), "--config-file", str(work / "schemathesis.toml"),
        "run", str(SPEC_PATH), "--url", run.url,
        "--checks", "all",
        "--generation-deterministic",
        "--max-examples", str(MAX_EXAMPLES),
        "--continue-on-failure",
        "--suppress-health-check", "too_slow",  # generation speed depends on the machine's load, not on the API
        "--request-timeout", "30",
        "--max-redirects", "0",
        "--no-color",
        "--report", "ndjson", "--report-dir", str(work / "report"),
        *(arg for path in excluded for arg in ("--exclude-path", path)),
    ]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env |= {"NO_PROXY": "*", "no_proxy": "*", "PYTHONPATH": str(work), "SCHEMATHESIS_HOOKS": "spec_fuzz_hooks"}
    return subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish_fuzzing(run: FuzzRun, proc: subprocess.Popen[str], work: Path, started: float) -> None:
    try:
        run.output, _ = proc.communicate(timeout=max(1.0, RUN_TIMEOUT_S - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        run.output, _ = proc.communicate()
        run.output += f"\n[killed after {RUN_TIMEOUT_S} s]"
    run.elapsed_s = time.monotonic() - started
    run.returncode = proc.returncode
    counted = re.findall(r"^\s*(\d+) generated\b", run.output, re.MULTILINE)
    run.generated = int(counted[-1]) if counted else -1
    for report in (work / "report").glob("ndjson-*.ndjson"):
        for line in report.read_text().splitlines():
            event = json.loads(line)
            recorder = event.get("ScenarioFinished", {}).get("recorder", {})
            label = recorder.get("label")
            run.cases[label] += len(recorder.get("cases", {}))
            for interaction in recorder.get("interactions", {}).values():
                if interaction.get("response"):
                    run.statuses[label][interaction["response"]["status_code"]] += 1


# -- the test -----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_both_services_keep_the_contract_under_spec_driven_fuzzing(farm: Farm, tmp_path: Path) -> None:
    worker, balancer = farm.worker, farm.balancer
    admin = balancer.url + "/admin/backends"
    good = {"Authorization": f"Bearer {farm.admin_token}"}

    # before the fuzzer may touch /admin: no token or a wrong one changes nothing
    assert HTTP.get(admin, timeout=5).status_code == 401
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": farm.admin_token}):
        refused = HTTP.post(admin, json={"url": "http://127.0.0.1:9"}, headers=headers, timeout=5)
        assert refused.status_code == 401 and refused.json()["error"], refused.text
    listed = HTTP.get(admin, headers=good, timeout=5)
    assert listed.status_code == 200, listed.text
    jsonschema.validate(listed.json(), _schema(SPEC["paths"]["/admin/backends"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]))
    assert [b["url"] for b in listed.json()["backends"]] == [worker.url]

    runs = [FuzzRun("worker", worker.url), FuzzRun("balancer", balancer.url)]
    started = time.monotonic()
    procs: list[subprocess.Popen[str]] = []
    try:
        with OutboundWatch(balancer.proc.pid, balancer.port) as watch:  # type: ignore[union-attr]
            procs = [start_fuzzing(run, tmp_path / run.service) for run in runs]
            for run, proc in zip(runs, procs):
                finish_fuzzing(run, proc, tmp_path / run.service, started)
    finally:
        for proc in procs:  # ended by pid, also when pytest's timeout interrupts the wait
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    elapsed_s = time.monotonic() - started

    summary = ", ".join(f"{run.service}: {run.generated} cases in {run.elapsed_s:.0f} s" for run in runs)
    print(f"\nspec fuzzing: {summary}; {elapsed_s:.0f} s in all; outbound from the balancer: {dict(watch.seen)} ({watch.samples} samples)")

    for run in runs:
        assert run.returncode == 0, run.tail()
        assert run.generated >= planned_cases(run.service), f"{run.service}: planned {planned_cases(run.service)}\n{run.tail()}"
        untested = sorted(set(operations(run.service)) - {label for label, count in run.cases.items() if count})
        assert not untested, f"{run.service}: no case reached {untested}"
    assert sum(run.generated for run in runs) >= MIN_TOTAL_CASES, summary

    # the admin API refused every call the fuzzer made (405: a method the path does not serve)
    balancer_run = runs[1]
    for label, operation in operations("balancer").items():
        if is_admin(operation):
            statuses = balancer_run.statuses[label]
            assert statuses[401] and set(statuses) <= {401, 405}, f"{label}: {dict(statuses)}"

    # the balancer connected to its worker and nowhere else
    assert watch.samples, "could not read the balancer's connections from /proc"
    assert set(watch.seen) <= {("127.0.0.1", worker.port)}, dict(watch.seen)

    # both still serve, and the backend set is what it was
    worker_status = HTTP.get(worker.url + "/queue-status", timeout=5)
    assert worker_status.status_code == 200 and worker_status.json()["status"] == "ok", worker_status.text
    backends = _backends(balancer.url)
    assert [b["url"] for b in backends] == [worker.url], backends
    assert backends[0]["status"] != "draining" and not backends[0]["removing"], backends
