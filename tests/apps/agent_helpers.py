"""Helpers of the agent tests (a module name no other test folder uses): the tinypkg fixture
project with one function broken, and the task that says how to fix it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codewm.trace.sandbox import probe_bwrap

from codewm.apps.agent.explorer import RepairTask

TINYPKG = Path(__file__).resolve().parents[1] / "data" / "repo" / "tinypkg"
BWRAP_USABLE, BWRAP_WHY = probe_bwrap()
needs_bwrap = pytest.mark.skipif(not BWRAP_USABLE, reason=f"needs bubblewrap: {BWRAP_WHY}")

PERIMETER = '''def perimeter(kind, *sides):
    if kind == "square":
        return 4 * sides[0]
    if kind == "rect":
        return 2 * (sides[0] + sides[1])
    raise ValueError(f"unknown shape {kind!r}")
'''
FAILING = ("tests/test_shapes.py::test_perimeter[square-sides0-8]",)


def broken_tinypkg(tmp_path: Path) -> Path:
    """A copy of tinypkg whose `perimeter` of a square is 3 sides, not 4 (one test fails)."""
    root = tmp_path / "tinypkg"
    shutil.copytree(TINYPKG, root)
    shapes = root / "tinypkg" / "shapes.py"
    text = shapes.read_text()
    assert PERIMETER in text
    shapes.write_text(text.replace("return 4 * sides[0]", "return 3 * sides[0]"))
    return root


def perimeter_task() -> RepairTask:
    return RepairTask(FAILING, "perimeter", path="tinypkg/shapes.py", fixed_text=PERIMETER)
