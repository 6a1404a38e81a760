"""Split mode: cut a script into chunks, convert them on several workers at once, merge ONE playbook.

design: ``convert_split`` reads as the recipe: ``split_script`` -> ``run_chunks`` ->
``merge_playbooks`` -> ``tidy_play`` (the whole-playbook passes, so handlers, file-edit
folding and apt cache merging also happen across chunk boundaries) -> ``render_playbook``. Each chunk is an ordinary job: it goes through the
same pool, waiting queue and routing as any request (so split work never jumps the queue), on a
per-request thread pool no wider than the farm's slots (a split request holds at most that
many queue places at a time). A chunk whose worker fails, or whose reply holds no usable
playbook, is retried on a backend it has not tried yet (bounded by RETRIES); when a chunk fails
for good the whole request fails with 502 naming the chunk and its lines, and the remaining
chunks are cancelled: never a partial playbook presented as whole. Results are merged in chunk
order, so tasks keep script order whatever order the workers finished in.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from balancer.proxy import Job, Proxy
from balancer.state import CancelSignal
from common.disconnect import CancelEvent, Callback, on_cancel
from common.errors import (
    ApiError,
    BadRequest,
    ChunkFailed,
    ClientGone,
    ModelNotFound,
    NoBackendAvailable,
    PayloadTooLarge,
    ServiceUnavailable,
    UpstreamTimeout,
)
from playbook.chunking import Chunk, split_script
from playbook.errors import PlaybookError
from playbook.extract import extract_playbook
from playbook.merge import merge_playbooks
from playbook.passes import settled_warnings, tidy_play, without_called_functions
from playbook.shell import called_names, parse_script
from playbook.render import render_playbook

log = logging.getLogger(__name__)

TOKEN_FIELDS = ("prompt_tokens", "response_tokens", "total_tokens")
Admit = Callable[[CancelSignal | None], AbstractContextManager[None]]  # held while one chunk is in progress


@dataclass(frozen=True)
class ChunkResult:
    """One converted chunk: its plays, where and how long it ran, what it cost."""

    chunk: Chunk
    plays: list[dict[str, Any]]
    backend: str
    elapsed_s: float
    attempts: int
    started_s: float  # when its final attempt was sent, seconds after the request began
    finished_s: float  # when its reply came back, seconds after the request began
    tokens: dict[str, int]
    warnings: tuple[str, ...]

    def describe(self) -> dict[str, Any]:
        return {
            "index": self.chunk.index,
            "backend": self.backend,
            "elapsed": round(self.elapsed_s, 3),
            "first_line": self.chunk.first_line,
            "last_line": self.chunk.last_line,
            "attempts": self.attempts,
            "started": round(self.started_s, 3),
            "finished": round(self.finished_s, 3),
        }


@dataclass
class SplitConverter:
    """Runs split-mode conversions through a Proxy."""

    proxy: Proxy
    chunk_size: int
    retries: int
    max_chunks: int = 200

    def convert_split(
        self, script: str, *, model: str, engine: str | None = None, gone: CancelSignal | None = None,
        lint: bool = False, context: str = "", admit: Admit | None = None,
    ) -> dict[str, Any]:
        """The merged reply for ``script`` converted chunk by chunk on the farm.

        ``gone`` set (the client left) drops the chunks still waiting for a backend. ``lint``
        asks every chunk's worker to lint; ``context`` (the client's) comes before every chunk's own.
        ``admit(cancel)``, when given, is held around each chunk's run (its API key's concurrency).
        """
        start = time.monotonic()
        chunks = self.split(script)
        results = self.run_chunks(chunks, model=model, engine=engine, t0=start, gone=gone, lint=lint, context=context,
                                  admit=admit)
        merged = merge_playbooks([r.plays for r in results])
        called = called_names(parse_script(script).statements)  # a function one chunk defines, another calls
        plays = [tidy_play(without_called_functions(play, called)) for play in merged.plays]  # folds across chunks too
        return {
            "playbook": render_playbook(plays),
            "elapsed": round(time.monotonic() - start, 3),
            **{name: sum(r.tokens.get(name, 0) for r in results) for name in TOKEN_FIELDS},
            "model": model,
            "chunks_processed": len(results),
            "chunks": [r.describe() for r in results],
            "backends": sorted({r.backend for r in results}),
            # the notes a whole-play pass made untrue (a clone pinned by a checkout in another chunk) go
            "warnings": settled_warnings([w for r in results for w in r.warnings] + list(merged.warnings),
                                         [t for play in plays for t in play.get("tasks") or [] if isinstance(t, dict)]),
        }

    def split(self, script: str) -> list[Chunk]:
        try:
            chunks = split_script(script, self.chunk_size)
        except ValueError as exc:
            raise BadRequest(f"cannot split the script: {exc}") from None
        if len(chunks) > self.max_chunks:
            raise PayloadTooLarge(
                f"the script makes {len(chunks)} chunks of {self.chunk_size} lines, more than MAX_CHUNKS={self.max_chunks}; "
                "send it in parts or without split"
            )
        return chunks

    def run_chunks(
        self, chunks: list[Chunk], *, model: str, engine: str | None, t0: float, gone: CancelSignal | None = None,
        lint: bool = False, context: str = "", admit: Admit | None = None,
    ) -> list[ChunkResult]:
        """Every chunk's result in chunk order, or the first chunk failure."""
        failed = CancelEvent()
        cancel = _AnySignal(failed, gone)
        width = max(1, min(len(chunks), self.proxy.pool.total_slots))
        executor = ThreadPoolExecutor(max_workers=width, thread_name_prefix="chunk")
        try:
            futures = [
                executor.submit(self.run_chunk, chunk, model=model, engine=engine, t0=t0, cancel=cancel,
                                lint=lint, context=context, admit=admit)
                for chunk in chunks
            ]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            errors = [f.exception() for f in futures if f in done and f.exception() is not None]
            if errors:  # the lowest chunk that really failed is the one reported
                raise next((e for e in errors if not isinstance(e, ClientGone)), errors[0])  # type: ignore[misc]
            return [future.result() for future in futures]
        finally:
            failed.set()  # chunks still waiting for a backend leave the queue
            executor.shutdown(wait=False, cancel_futures=True)

    def run_chunk(
        self, chunk: Chunk, *, model: str, engine: str | None, t0: float, cancel: CancelSignal | None = None,
        lint: bool = False, context: str = "", admit: Admit | None = None,
    ) -> ChunkResult:
        """Convert one chunk, retrying on other backends; ChunkFailed when it cannot be done."""
        if admit is None:
            return self._run_chunk(chunk, model=model, engine=engine, t0=t0, cancel=cancel, lint=lint, context=context)
        with admit(cancel):
            return self._run_chunk(chunk, model=model, engine=engine, t0=t0, cancel=cancel, lint=lint, context=context)

    def _run_chunk(
        self, chunk: Chunk, *, model: str, engine: str | None, t0: float, cancel: CancelSignal | None,
        lint: bool, context: str,
    ) -> ChunkResult:
        body: dict[str, Any] = {"commands": chunk.text, "model": model}
        before = "\n".join(part for part in (context, chunk.context) if part.strip())
        if before:
            body["context"] = before  # the client's context, then the cd/export/variables set before this chunk
        if lint:
            body["lint"] = True
        if engine:
            body["engine"] = engine
        tried: set[str] = set()
        problem = "not attempted"
        start = time.monotonic()
        for attempt in range(1, self.retries + 2):
            try:
                forwarded = self.proxy.forward(
                    Job("POST", "/generate", model, json=body, model_optional=engine != "llm"),
                    exclude=frozenset(tried), cancel=cancel,
                )
            except NoBackendAvailable as exc:
                if not tried and not exc.extra.get("tried"):
                    raise  # nothing could even be tried: the farm is down, say so (503)
                if not tried:  # else the last worker's own answer says more than "nobody left"
                    problem = exc.message
                break
            except (ModelNotFound, ServiceUnavailable, BadRequest, ClientGone):
                raise  # the same answer for every chunk: say it as it is (404 / 503 / 400)
            except UpstreamTimeout as exc:
                raise UpstreamTimeout(f"{_label(chunk)}: {exc.message}", extra=exc.extra) from exc
            except ApiError as exc:
                problem = exc.message
                break
            tried.update(forwarded.tried)
            status = forwarded.reply.status
            problem = f"worker {forwarded.backend} answered {_problem(status, forwarded.reply.body)}"
            if status == 404:
                raise ModelNotFound(model, f"{_label(chunk)}: {problem}")
            if status >= 500 and status != 504:
                log.warning("%s failed on %s (attempt %d): %s", _label(chunk), forwarded.backend, attempt, problem)
                continue  # one chunk failing fails the request: give another worker a go
            if status != 200:
                break  # a 4xx would be refused anywhere; a 504 would only double the wait
            try:
                reply = json.loads(forwarded.reply.body)
                plays = extract_playbook(reply["playbook"])
            except (ValueError, KeyError, TypeError, PlaybookError) as exc:
                problem = f"worker {forwarded.backend} sent no usable playbook: {exc}"
                log.warning("%s failed on %s (attempt %d): %s", _label(chunk), forwarded.backend, attempt, problem)
                continue  # another worker (another model run) may do better
            return ChunkResult(
                chunk=chunk,
                plays=plays,
                backend=forwarded.backend,
                elapsed_s=time.monotonic() - start,
                attempts=attempt,
                started_s=forwarded.sent_at - t0,
                finished_s=time.monotonic() - t0,
                tokens={name: _int(reply.get(name)) for name in TOKEN_FIELDS},
                warnings=tuple(f"{_label(chunk)}: {w}" for w in reply.get("warnings") or [] if isinstance(w, str)),
            )
        raise ChunkFailed(
            f"{_label(chunk)} failed, so no playbook is returned: {problem}",
            extra={"chunk": {"index": chunk.index, "first_line": chunk.first_line, "last_line": chunk.last_line}},
        )


@dataclass(frozen=True)
class _AnySignal:
    """Set when either signal is: a chunk failed for good, or the client left."""

    first: CancelSignal
    second: CancelSignal | None

    def is_set(self) -> bool:
        return self.first.is_set() or (self.second is not None and self.second.is_set())

    def on_set(self, callback: Callback) -> Callback | None:
        """Call back when either is set (once per signal: callbacks must not mind a second call);
        None when one is set already."""
        removers: list[Callback] = []
        for signal in (self.first, self.second):
            if signal is None:
                continue
            remove = on_cancel(signal, callback)
            if remove is None:
                for undo in removers:
                    undo()
                return None
            removers.append(remove)

        def remove_all() -> None:
            for undo in removers:
                undo()

        return remove_all


def _label(chunk: Chunk) -> str:
    return f"chunk {chunk.index} (lines {chunk.first_line}-{chunk.last_line})"


def _problem(status: int, body: bytes) -> str:
    try:
        message = json.loads(body).get("error")
    except (ValueError, AttributeError):
        message = None
    return f"HTTP {status}: {message}" if message else f"HTTP {status}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
