"""The harness for real: the cached Debian root (built on first use, about two minutes), one
tiny script run as root in a chroot copy and its playbook through ansible's chroot connection.

Needs root and debootstrap; CI runs as root, so a missing debootstrap fails here (it is not
skipped): `make install` installs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from verify.corpus import Script
from verify.rootfs import BaseRoot, ensure_base, mounts_under
from verify.run import DIFFERS, EQUIVALENT, Options, convert, verify_script

# `make verify` runs these (a fresh root takes about two minutes to build); `make test` leaves them out
pytestmark = [pytest.mark.slow, pytest.mark.chroot, pytest.mark.timeout(1800)]

TINY = """#!/bin/bash
# An app account and its private config
set -e
useradd -m -s /bin/bash appuser
mkdir -p /etc/app
printf 'token=1\\n' > /etc/app/app.conf
chmod 0640 /etc/app/app.conf
chown root:appuser /etc/app/app.conf
"""


@pytest.fixture(scope="module")
def base() -> BaseRoot:
    if os.geteuid() != 0:
        pytest.skip("runs scripts as root in a chroot: needs root (CI runs as root)")
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is not installed: `make install` installs it "
                    "(apt-get install -y debootstrap)")
    return ensure_base()


@pytest.fixture
def tiny(tmp_path: Path) -> Script:
    path = tmp_path / "tiny.sh"
    path.write_text(TINY, encoding="utf-8")
    return Script("tiny", path, "debian", False, False)


def test_tiny_script_and_its_playbook_are_equivalent(base: BaseRoot, tiny: Script, tmp_path: Path) -> None:
    work = tmp_path / "work"
    result = verify_script(tiny, base, Options(workdir=work, timeout_s=300))
    assert result.status == EQUIVALENT, result
    assert result.script_exit == 0 and result.playbook_exit == 0
    assert not mounts_under(tmp_path) and not any(work.iterdir())  # copies gone


def test_a_wrong_pairing_differs_with_the_right_difference(base: BaseRoot, tiny: Script,
                                                           tmp_path: Path) -> None:
    wrong = convert(tiny).replace('mode: "0640"', 'mode: "0644"')
    assert 'mode: "0644"' in wrong
    result = verify_script(tiny, base, Options(workdir=tmp_path / "work", timeout_s=300),
                           playbook=wrong)
    assert result.status == DIFFERS, result
    assert [(d.category, d.subject, d.reason) for d in result.differences] == [
        ("file", "/etc/app/app.conf", "mode 0640 vs 0644")]
    assert not mounts_under(tmp_path)
