"""The converter corpus: realistic setup scripts in tests/data/corpus with golden playbooks.

Shared by the golden tests, their regeneration (`python -m tests.playbook.regen_corpus`) and
the benchmark (`python -m bench.convert`), so all three convert a script the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playbook.convert import Conversion, convert_script
from playbook.render import render_playbook

__all__ = ["CORPUS_DIR", "FILE_ROOT", "CorpusCase", "cases", "convert_case"]

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus"
#: file-only scripts write under this directory; the benchmark rewrites it into a temp dir
FILE_ROOT = "/tmp/corpus-root"


@dataclass(frozen=True)
class CorpusCase:
    """One corpus script and its golden playbook."""

    name: str
    script: Path

    @property
    def expected(self) -> Path:
        return self.script.with_suffix(".expected.yml")

    @property
    def file_only(self) -> bool:
        """Scripts that only touch files under FILE_ROOT: their playbooks can run on localhost."""
        return self.name.split("-", 1)[1].startswith("files-")


def cases() -> list[CorpusCase]:
    """Every corpus script, in name order."""
    return [CorpusCase(p.stem, p) for p in sorted(CORPUS_DIR.glob("*.sh"))]


def convert_case(case: CorpusCase) -> tuple[Conversion, str]:
    """The rules engine's conversion of the script and its rendered playbook."""
    conversion = convert_script(case.script.read_text(encoding="utf-8"))
    return conversion, render_playbook([conversion.play(hosts="all", name=_play_name(case))])


def _play_name(case: CorpusCase) -> str:
    """The script's first comment line describes it; else its file name."""
    for line in case.script.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            text = line[2:].strip()
            return text[:1].upper() + text[1:]
    return case.name
