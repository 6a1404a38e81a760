"""`python -m verify`: check every corpus script, write bench/results/verify.{json,md}.

    python -m verify [--corpus DIR] [--only NAME] [--jobs N] [--keep] [--timeout S]
                     [--copy overlay|cp] [--rebuild] [--no-write]

With --only the table is printed and bench/results/verify.* are left as they are.

Needs root, debootstrap (`make install` installs it) and the Debian mirror apt uses.
Exit status: 0 when every runnable script is equivalent, 1 when some differ, 2 on a harness
error (no root, no debootstrap, empty corpus).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from verify.corpus import Script, load_corpus
from verify.report import Report, command_line, machine, markdown, write
from verify.rootfs import RootError, ensure_base, measure_copies, new_workdir, remove_tree, sweep_stale
from verify.run import DIFFERS, Options, ScriptResult, verify_script
from verify.sandbox import kill_all

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "tests" / "data" / "realworld"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verify", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help="folder of *.sh scripts (+ MANIFEST.yaml); default tests/data/realworld")
    parser.add_argument("--only", help="only the scripts whose file name contains this")
    parser.add_argument("--jobs", type=int, default=2, help="scripts checked at once (default 2)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the copies of scripts that are not equivalent (for debugging)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds each run (script, playbook) may take (default 300)")
    parser.add_argument("--copy", choices=("overlay", "cp"), default="overlay",
                        help="how the root is copied for a run (default overlay: instant)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached root first")
    parser.add_argument("--no-write", action="store_true",
                        help="print the table, do not write bench/results/verify.* (implied by --only)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_all(scripts: list[Script], options: Options, jobs: int, base_root: object) -> list[ScriptResult]:
    results: dict[str, ScriptResult] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="verify") as pool:
        futures = {pool.submit(verify_script, s, base_root, options): s for s in scripts}  # type: ignore[arg-type]
        try:
            for future, script in futures.items():
                result = future.result()
                results[script.name] = result
                log.info("%s: %s %s", script.name, result.status, result.reason[:160])
        except KeyboardInterrupt:
            log.warning("interrupted: killing the runs, unmounting and deleting the copies")
            for future in futures:
                future.cancel()
            kill_all()
            raise
    return [results[s.name] for s in scripts]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if os.geteuid() != 0:
        print("python -m verify runs scripts as root in a chroot: run it as root", file=sys.stderr)
        return 2
    scripts = load_corpus(args.corpus, args.only)
    if not scripts:
        print(f"no *.sh scripts in {args.corpus}" + (f" matching {args.only!r}" if args.only else ""),
              file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with it ignored
    started = time.monotonic()
    sweep_stale()
    try:
        base = ensure_base(rebuild=args.rebuild)
    except RootError as error:
        print(f"cannot build the Debian root: {error}", file=sys.stderr)
        return 2
    log.info("base root %s (%s)", base.path, "built now" if base.built_now else "cached")
    workdir = new_workdir()
    try:
        copy_timing = measure_copies(base, workdir) if not args.only else None
        options = Options(workdir=workdir, timeout_s=args.timeout, copy_method=args.copy,
                          keep=args.keep)
        results = run_all(scripts, options, args.jobs, base)
    except KeyboardInterrupt:
        print("interrupted: every copy was unmounted and deleted", file=sys.stderr)
        return 130
    finally:
        remove_tree(workdir)
    report = Report(tuple(results), base, _show_path(args.corpus), command_line(), args.jobs,
                    args.copy, args.timeout, copy_timing, round(time.monotonic() - started, 1),
                    machine())
    print(markdown(report))
    if not args.no_write and not args.only:
        for path in write(report):
            print(f"wrote {path}")
    return 1 if any(r.status == DIFFERS for r in results) else 0


def _show_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
