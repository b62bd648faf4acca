"""`codewm repo tests` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codewm.cli import app
from codewm.trace.sandbox import probe_bwrap

runner = CliRunner(env={"COLUMNS": "160"})
TINY = Path(__file__).resolve().parents[1] / "data" / "repo" / "tinypkg"
BWRAP_USABLE, BWRAP_WHY = probe_bwrap()


@pytest.mark.skipif(not BWRAP_USABLE, reason=f"needs bubblewrap: {BWRAP_WHY}")
def test_repo_tests_prints_the_counts(tmp_path):
    out = tmp_path / "tests.json"
    result = runner.invoke(app, ["repo", "tests", str(TINY), "--keyword", "not broken", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "tinypkg: 8 tests run, 6 passed, 1 failed, 0 errors, 1 skipped in " in result.stdout
    written = json.loads(out.read_text())
    assert written["tests"] == 8 and written["outcomes"]["tests/test_shapes.py::test_rect_perimeter_wrong"] == "failed"


def test_repo_tests_reports_bad_projects_and_options(tmp_path):
    result = runner.invoke(app, ["repo", "tests", "parse>=1"])
    assert result.exit_code == 2 and "neither an existing folder nor a pinned package" in result.output
    result = runner.invoke(app, ["repo", "tests", str(tmp_path)])
    assert result.exit_code == 2 and "no tests found" in result.output
    result = runner.invoke(app, ["repo", "tests", str(TINY), "--timeout", "0"])
    assert result.exit_code == 2 and "--timeout must be positive" in result.output
