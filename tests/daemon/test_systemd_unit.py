"""systemd/threadline.service is a unit systemd accepts, hardened, run by the sysusers account."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import THREADLINE

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD_DIR / "threadline.service"
SYSUSERS = SYSTEMD_DIR / "threadline.sysusers.conf"
EXPOSURE_THRESHOLD = 20
"""``systemd-analyze security`` scale of 0-100 (shown as 0.0-10.0); 20 is well inside "OK"."""


def tool(name: str) -> str:
    """The tool's path; its absence skips the test locally but fails it in CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not installed (apt-get install systemd)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def installed_unit(tmp_path: Path) -> Path:
    """The shipped unit with ExecStart on this checkout's threadline: ``verify`` insists the
    binary exists, and /usr/bin/threadline is where a package puts it, not where tests do."""
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/bin/threadline", str(THREADLINE)))
    return unit


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_unit_passes_systemd_analyze_verify(installed_unit: Path) -> None:
    result = run(tool("systemd-analyze"), "verify", str(installed_unit))
    # verify exits 0 on unknown keys and bad values too; it only warns, so silence is the pass.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_unit_hardening_keeps_exposure_low(installed_unit: Path) -> None:
    result = run(
        tool("systemd-analyze"),
        "security",
        "--offline=yes",
        f"--threshold={EXPOSURE_THRESHOLD}",
        str(installed_unit),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_unit_runs_as_the_account_sysusers_creates(tmp_path: Path) -> None:
    result = run(tool("systemd-sysusers"), "--dry-run", f"--root={tmp_path}", str(SYSUSERS))
    assert result.returncode == 0, result.stderr
    created = re.search(r"^u (\S+) ", SYSUSERS.read_text(), re.MULTILINE)
    assert created is not None
    assert f"User={created.group(1)}\n" in UNIT.read_text()
    assert f"Creating user '{created.group(1)}'" in result.stdout + result.stderr
