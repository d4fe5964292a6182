"""The distribution installs one top-level import name, ``threadline``: ``core`` and ``daemon``
are far too common (``daemon`` is python-daemon's) to claim in a user's site-packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("core", "channels", "daemon")


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """The mapped packages are listed by hand (setuptools finds none under a mapped name)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        "threadline." + ".".join(init.parent.relative_to(ROOT).parts)
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == on_disk
    assert setuptools["package-dir"] == {f"threadline.{name}": name for name in FOLDERS}


def test_wheel_holds_one_top_level_package_and_runs_from_it(tmp_path: Path) -> None:
    # Built from a copy: a build leaves build/ and *.egg-info beside its sources.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp_path, source],
        check=True,
    )
    (wheel,) = tmp_path.glob("threadline-*.whl")
    name, version = wheel.name.split("-")[:2]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(f"{name}-{version}.dist-info/entry_points.txt").decode()
    assert {name.split("/")[0] for name in names} == {"threadline", f"{name}-{version}.dist-info"}
    assert "threadline = threadline.daemon.cli.main:main" in entry_points
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-t", target, wheel],
        check=True,
    )
    # Away from the repository, whose folders must not stand in for the installed package.
    run_cli = (
        f"import sys; sys.path.insert(0, {str(target)!r}); "
        "from threadline.daemon.cli import main; print(main.__file__); "
        "sys.argv = ['threadline', 'db', '--help']; main.main()"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", run_cli],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(target))
    assert "upgrade" in result.stdout
