"""The shape of the code: imports flow ``daemon -> channels -> core`` with no cycle, core names
no channel, and no file is so long that it is probably two things."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from threadline.core.external_ids import SUPPORTED_TYPES
from threadline.daemon import channels

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "channels", "daemon")
LAYER = {"core": 0, "channels": 1, "daemon": 2}
MAX_LINES = 400


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield "threadline." + ".".join(parts), path


def imports(path: Path) -> set[str]:
    """What the module imports when it runs (not what only a type checker reads)."""
    tree = ast.parse(path.read_text())
    checking = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in checking:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("threadline.")}


def test_imports_flow_from_daemon_to_channels_to_core_without_a_cycle() -> None:
    known = dict(modules())
    graph = {
        name: {imported for imported in imports(path) if imported in known}
        for name, path in known.items()
    }
    upward = [
        f"{name} imports {imported}"
        for name, targets in graph.items()
        for imported in targets
        if LAYER[imported.split(".")[1]] > LAYER[name.split(".")[1]]
    ]
    assert upward == []
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_no_file_is_over_400_lines_migrations_aside() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {lines}"
        for _name, path in modules()
        if "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert long == []


def test_core_code_names_no_channel() -> None:
    """A channel's name may be an external-id type (``email``), which is domain data; any
    other name in core's code (not its prose) would be core knowing a channel."""
    names = set(channels.names()) - set(SUPPORTED_TYPES)
    assert names, "the listed channels include one that is no external-id type"
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for _name, path in modules()
        if path.parts[len(ROOT.parts)] == "core"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert found == []
