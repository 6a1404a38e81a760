"""Model replies that import, include or read files are refused before ansible runs, and nothing
outside the playbook is opened on the worker (issue 12, item 4; shown with strace).

One subprocess validates every reply through the real ``PlaybookValidator`` and a real
``ansible-playbook --syntax-check`` under ``strace -f``; the replies point at a canary directory.
Then, in the same traced process, the same texts go to ansible directly (the refusal bypassed):
the canary is read then, so the trace would have caught a read the refusal let through.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.procs import ROOT

SCRIPT = r"""
import json, os, sys
import yaml
from validation.syntax import SyntaxChecker
from validation.validator import PlaybookValidator

cases, allowed, control, marker, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]
checker = SyntaxChecker(use_helper=False)
validator = PlaybookValidator(specs_loader=None, syntax=checker)
result = {name: validator.validate(yaml.safe_load(text)).errors for name, text in {**cases, **allowed}.items()}
os.path.exists(marker)  # in the trace: what follows bypasses the refusal
result["control"] = {name: checker.check(text).errors for name, text in control.items()}
json.dump(result, open(out, "w"))
"""


def cases(canary: Path, pwned: Path) -> dict[str, str]:
    return {
        "import_playbook": f"- import_playbook: {canary}/play.yml\n",
        "import_tasks": f"- hosts: all\n  tasks:\n    - import_tasks: {canary}/tasks.yml\n",
        "include_tasks": f"- hosts: all\n  tasks:\n    - include_tasks: {canary}/tasks.yml\n",
        "include_vars": f"- hosts: all\n  tasks:\n    - include_vars: {canary}/vars.yml\n",
        "vars_files": f"- hosts: all\n  vars_files: [{canary}/vars.yml]\n  tasks:\n    - debug: {{msg: hi}}\n",
        "roles by path": f"- hosts: all\n  roles: [{canary}/role]\n",
        "import_role by path": f"- hosts: all\n  tasks:\n    - import_role: {{name: {canary}/role}}\n",
        "lookup file": f"- hosts: all\n  tasks:\n    - debug: {{msg: \"{{{{ lookup('file', '{canary}/secret') }}}}\"}}\n",
        "jinja test in hosts": f"- hosts: \"{{{{ 'all' if '{canary}/secret' is exists else 'none' }}}}\"\n  tasks:\n    - debug: {{msg: hi}}\n",
        "lookup pipe in the play name": f"- name: \"{{{{ lookup('pipe', 'touch {pwned}') }}}}\"\n  hosts: all\n  tasks:\n    - debug: {{msg: hi}}\n",
        "with_file": f"- hosts: all\n  tasks:\n    - debug: {{msg: '{{{{ item }}}}'}}\n      with_file: [{canary}/secret]\n",
    }


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (make install installs it)")
def test_replies_that_read_local_paths_are_refused_and_open_nothing(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    (canary / "role" / "tasks").mkdir(parents=True)
    for name in ("play.yml", "tasks.yml", "vars.yml", "secret", "role/tasks/main.yml"):
        (canary / name).write_text("- debug: {msg: hi}\n" if name.endswith("yml") else "s3cret\n")
    pwned = canary / "pwned"  # inside the canary: the command it would run shows in the trace too
    refused = cases(canary, pwned)
    allowed = {"copy src": f"- hosts: all\n  tasks:\n    - copy: {{src: {canary}/secret, dest: /tmp/x}}\n"}
    control = {name: refused[name] for name in ("import_playbook", "vars_files", "lookup pipe in the play name")}
    marker, out, trace = tmp_path / "--control--", tmp_path / "result.json", tmp_path / "trace.txt"
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=%file", "-o", str(trace), sys.executable, "-c", SCRIPT,
         json.dumps(refused), json.dumps(allowed), json.dumps(control), str(marker), str(out)],
        cwd=ROOT, check=True, timeout=240, capture_output=True,
    )
    result = json.loads(out.read_text())
    for name in refused:
        assert result[name], f"{name} was not refused"
        assert not any("syntax" in error for error in result[name]), result[name]
    assert result["copy src"] == [], "a self-contained playbook passed the real syntax-check"

    before, _, after = trace.read_text().partition(str(marker))
    assert after, "the marker is not in the trace"
    assert not re.search(re.escape(str(canary)), before), "a file outside the playbook was opened while validating"
    # the trace sees ansible's reads: the same texts sent to ansible directly open the canary and run the command
    assert re.search(re.escape(f"{canary}/play.yml"), after) and re.search(re.escape(f"{canary}/vars.yml"), after)
    assert pwned.exists()
