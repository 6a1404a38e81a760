"""A local farm for trying the project: the balancer on :5000 and three workers on :5001-5003.

The workers use Ollama at OLLAMA_HOST when it answers; otherwise an embedded default LLM
(SmolLM2-135M served by llama.cpp through xllamacpp, OpenAI-compatible API) is started, so
`make run` works on a machine without Ollama or a GPU. Ctrl-C ends every process it started.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("farm")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    ready_url: str


def ollama_reachable(url: str) -> bool:
    try:
        return requests.get(url.rstrip("/") + "/api/version", timeout=2).ok
    except requests.RequestException:
        return False


def start(name: str, argv: list[str], env: dict[str, str], ready_url: str, log_dir: Path) -> Child:
    log_file = open(log_dir / f"{name}.log", "ab")
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=log_file, stderr=subprocess.STDOUT)
    log.info("started %s (pid %d), log %s", name, proc.pid, log_dir / f"{name}.log")
    return Child(name, proc, ready_url)


def wait_ready(child: Child, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise SystemExit(f"{child.name} exited with status {child.proc.returncode}; see its log")
        try:
            if requests.get(child.ready_url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{child.name} did not become ready within {timeout_s:.0f}s")


def stop_all(children: list[Child]) -> None:
    for child in reversed(children):
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.proc.wait(20)
        except subprocess.TimeoutExpired:
            child.proc.kill()


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends the farm the way Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")), help="balancer port")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--ollama", default=os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434"))
    parser.add_argument("--local-llm-port", type=int, default=11435)
    parser.add_argument("--log-dir", type=Path, default=ROOT / "run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s farm: %(message)s")
    args.log_dir.mkdir(exist_ok=True)

    children: list[Child] = []
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        worker_env = {"OLLAMA_HOST": args.ollama}
        if ollama_reachable(args.ollama):
            log.info("using Ollama at %s", args.ollama)
        else:
            from worker.local_llm import MODEL_ALIAS as MODEL_NAME

            url = f"http://127.0.0.1:{args.local_llm_port}"
            log.info("no Ollama at %s; starting the embedded %s on %s", args.ollama, MODEL_NAME, url)
            llm = start("local-llm", [sys.executable, "-m", "worker.local_llm", "--port", str(args.local_llm_port)], {}, url + "/v1/models", args.log_dir)
            children.append(llm)
            wait_ready(llm, 120)
            # a 135M model rambles: cap its answers so a request ends in seconds
            worker_env = {"LLM_API": "openai", "OLLAMA_HOST": url, "DEFAULT_MODEL": MODEL_NAME, "LLM_MAX_TOKENS": "400"}
        worker_urls = []
        for n in range(1, args.workers + 1):
            port = args.port + n
            worker = start(f"worker-{port}", [sys.executable, "app.py"], {**worker_env, "PORT": str(port)}, f"http://127.0.0.1:{port}/healthz", args.log_dir)
            children.append(worker)
            worker_urls.append(f"http://127.0.0.1:{port}")
        balancer_env = {"PORT": str(args.port), "BACKENDS": ",".join(worker_urls)}
        if "DEFAULT_MODEL" in worker_env:
            balancer_env["DEFAULT_MODEL"] = worker_env["DEFAULT_MODEL"]
        balancer = start("balancer", [sys.executable, "app_distributed.py"], balancer_env, f"http://127.0.0.1:{args.port}/healthz", args.log_dir)
        children.append(balancer)
        for child in children:
            wait_ready(child, 60)
        log.info("farm is up: open http://127.0.0.1:%d/ (status: curl http://127.0.0.1:%d/queue-status); Ctrl-C stops it", args.port, args.port)
        while all(child.proc.poll() is None for child in children):
            time.sleep(0.5)
        dead = [c.name for c in children if c.proc.poll() is not None]
        log.error("%s exited; stopping the farm", ", ".join(dead))
        return 1
    except KeyboardInterrupt:
        log.info("stopping")
        return 0
    finally:
        stop_all(children)


if __name__ == "__main__":
    raise SystemExit(main())
