"""systemd/threadline.service, and its template for several instances, are units systemd accepts,
hardened, run by the sysusers account."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.support.daemon import THREADLINE
from threadline.core.config_types import ListenAddress
from threadline.daemon.config import load_settings
from threadline.daemon.settings import Settings, default_settings

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD_DIR / "threadline.service"
TEMPLATE = SYSTEMD_DIR / "threadline@.service"
INSTANCE = "threadline@1.service"
"""How systemd-analyze is given the template: as one of its instances, which it reads from the
template beside it with ``%i`` filled in, as systemd does."""
PER_INSTANCE = {"Description", "EnvironmentFile"}
"""The only settings where the template may differ from the plain unit."""
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


@pytest.fixture(params=[UNIT.name, INSTANCE])
def installed_unit(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The shipped unit, or an instance of the template, with ExecStart on this checkout's
    threadline: ``verify`` insists the binary exists, and /usr/bin/threadline is where a package
    puts it, not where tests do."""
    for shipped in (UNIT, TEMPLATE):
        text = shipped.read_text().replace("/usr/bin/threadline", str(THREADLINE))
        (tmp_path / shipped.name).write_text(text)
    return tmp_path / request.param


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
    assert f"User={created.group(1)}\n" in TEMPLATE.read_text()
    assert f"Creating user '{created.group(1)}'" in result.stdout + result.stderr


def test_template_sets_all_the_unit_sets_but_what_is_per_instance() -> None:
    """Hardening, watchdog, credentials: a line added to one unit and forgotten in the other
    fails here."""
    differing = directives(UNIT) ^ directives(TEMPLATE)
    assert {key for _section, key, _value in differing} == PER_INSTANCE


def test_template_example_moves_every_listening_address_off_the_default() -> None:
    """The instance file the template shows gives the instance a port of its own for every
    listener threadline has, so two instances never contend for one."""
    example = dict(re.findall(r"^#\s+(THREADLINE_\w+)=(\S+)$", TEMPLATE.read_text(), re.M))
    defaults = listening(default_settings())
    instance = listening(load_settings(None, example))
    assert defaults
    assert {key for key, address in instance.items() if address != defaults[key]} == set(defaults)


def directives(unit: Path) -> set[tuple[str, str, str]]:
    """Every setting of the unit as (section, key, value); comments left out."""
    found, section = set(), ""
    for line in unit.read_text().splitlines():
        if line.startswith("["):
            section = line
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.add((section, key, value))
    return found


def listening(settings: Settings) -> dict[str, ListenAddress]:
    """Every address a run binds, by its ``section.key``."""
    found = {}
    for name in type(settings).model_fields:
        section = getattr(settings, name)
        if isinstance(section, BaseModel):
            for key in type(section).model_fields:
                value = getattr(section, key)
                if isinstance(value, ListenAddress):
                    found[f"{name}.{key}"] = value
    return found
