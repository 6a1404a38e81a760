"""Every ``curl`` in the README, run with the real ``curl`` against a farm like the one ``make
run`` starts (the balancer, three ``python3 app.py`` workers and an LLM that has only the
farm's own small model, not the README's ``codellama:13b``), answers 2xx with the fields the
README documents for it (issue 10, must-show 6).

Only addresses change: ``localhost:5000`` / ``127.0.0.1:5000`` become the balancer's,
``:5001``-``:5003`` the workers', ``:5004`` (a worker the README adds) a free port nothing
listens on. The commands run in README order, one after another (a trailing ``&`` runs to
completion before the next line). A curl whose endpoint this test does not know fails it,
so a new README example needs its documented fields here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.emulator.fixtures import EmulatorProcess
from tests.farms import HTTP, NO_PROXIES
from tests.procs import ROOT, free_port, python_service, start_processes, stop_processes, wait_until

EMBEDDED = "smollm2:135m"  # the farm's model, as `make run` without Ollama; the README asks for codellama:13b

# (method, path) -> fields the README documents for the reply
DOCUMENTED: dict[tuple[str, str], set[str]] = {
    ("POST", "/generate"): {"playbook", "warnings", "validation", "engine", "model"},
    ("GET", "/queue-status"): {"queue_size", "active", "active_backends", "total_backends", "online_backends",
                               "waiting", "backends"},
    ("POST", "/explain"): {"explanation", "elapsed"},
    ("GET", "/jobs/my-job-1"): {"state"},
    ("GET", "/admin/backends"): {"backends"},
    ("POST", "/admin/backends"): {"backend"},
    ("POST", "/admin/backends/drain"): {"backend"},
    ("POST", "/admin/backends/undrain"): {"backend"},
    ("DELETE", "/admin/backends"): {"removed", "in_flight"},
}


def readme_curls() -> list[str]:
    """Every curl command in the README's bash blocks, continuations joined, comments and a
    trailing ``&`` dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "curl":
                if words[-1] == "&":
                    words.pop()
                commands.append(shlex.join(words))
    return commands


def method_and_url(argv: list[str]) -> tuple[str, str]:
    method = argv[argv.index("-X") + 1] if "-X" in argv else ("POST" if "-d" in argv or "-F" in argv else "GET")
    url = next(word for word in argv[1:] if re.match(r"(https?://)?(localhost|127\.0\.0\.1):\d+", word))
    return method, url


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, str]]:
    """The farm; yields the README's port -> the address (host:port) standing in for it."""
    log_dir: Path = tmp_path_factory.mktemp("readme-curl-farm")
    emulator = EmulatorProcess(models=[EMBEDDED], log_path=log_dir / "emulator.log")
    workers = [python_service(["app.py"], free_port(), {"OLLAMA_HOST": emulator.url, "MODELS_REFRESH": "1",
                                                         "DEFAULT_MODEL": EMBEDDED, **NO_PROXIES},
                              log_path=log_dir / f"worker{n}.log") for n in range(3)]
    balancer = python_service(["app_distributed.py"], free_port(), {
        "BACKENDS": ",".join(w.url for w in workers), "HEALTH_INTERVAL": "0.2", "DEFAULT_MODEL": EMBEDDED, **NO_PROXIES,
    }, log_path=log_dir / "balancer.log")
    started = [emulator.process, *workers, balancer]
    try:
        start_processes(*started, timeout_s=60)
        wait_until(lambda: all(b["status"] == "online" and b["models"]
                               for b in HTTP.get(balancer.url + "/queue-status", timeout=5).json()["backends"]),
                   30, 0.1, what="every worker online with its models")
        addresses = {5000: balancer.url, **{5001 + n: w.url for n, w in enumerate(workers)}, 5004: f"http://127.0.0.1:{free_port()}"}
        yield {port: urlsplit(url).netloc for port, url in addresses.items()}
    finally:
        stop_processes(*started)


def with_farm_addresses(command: str, addresses: dict[int, str]) -> str:
    def swap(match: re.Match[str]) -> str:
        port = int(match["port"])
        assert port in addresses, f"the README's {match[0]} is no address of `make run`'s farm"
        return addresses[port]

    return re.sub(r"(?:localhost|127\.0\.0\.1):(?P<port>\d+)", swap, command)


def test_the_readme_has_curls_this_test_knows() -> None:
    commands = readme_curls()
    assert len(commands) >= 9
    for command in commands:
        method, url = method_and_url(shlex.split(command))
        path = urlsplit(url if "://" in url else "http://" + url).path
        assert (method, path) in DOCUMENTED, f"no documented fields for {method} {path} ({command})"


def test_every_readme_curl_answers_2xx_with_its_documented_fields(farm: dict[int, str], tmp_path: Path) -> None:
    env = {**NO_PROXIES, "PATH": "/usr/bin:/bin"}
    failures = []
    for n, command in enumerate(readme_curls()):
        argv = shlex.split(with_farm_addresses(command, farm))
        method, url = method_and_url(argv)
        path = urlsplit(url if "://" in url else "http://" + url).path
        body_file = tmp_path / f"reply{n}.json"
        done = subprocess.run([*argv, "-sS", "-o", str(body_file), "-w", "%{http_code}"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        status = done.stdout.strip()
        body = body_file.read_text(encoding="utf-8") if body_file.exists() else ""
        if done.returncode != 0 or not status.startswith("2"):
            failures.append(f"{command}\n  -> curl exit {done.returncode}, HTTP {status}: {body[:300]} {done.stderr[:200]}")
            continue
        reply = json.loads(body)
        missing = DOCUMENTED[(method, path)] - set(reply)
        if missing:
            failures.append(f"{command}\n  -> HTTP {status} without {sorted(missing)}: {body[:300]}")
    assert not failures, "\n".join(failures)
