"""Rewrite the corpus golden files from the rules engine's current output.

    python -m tests.playbook.regen_corpus [NAME ...]

Review every changed `*.expected.yml` by eye (`git diff tests/data/corpus`) before committing:
a golden file is only worth having if someone read it.
"""

from __future__ import annotations

import sys

from tests.playbook.corpus import cases, convert_case


def main(names: list[str]) -> int:
    selected = [c for c in cases() if not names or c.name in names or c.name[:2] in names]
    for case in selected:
        _, text = convert_case(case)
        old = case.expected.read_text(encoding="utf-8") if case.expected.exists() else None
        if old != text:
            case.expected.write_text(text, encoding="utf-8")
            print(f"updated {case.expected.name}")
    print(f"{len(selected)} corpus scripts converted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
