"""`codewm repo trace` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codewm.cli import app
from codewm.trace.sandbox import probe_bwrap

runner = CliRunner(env={"COLUMNS": "160"})
BWRAP_USABLE, BWRAP_WHY = probe_bwrap()
needs_bwrap = pytest.mark.skipif(not BWRAP_USABLE, reason=f"needs bubblewrap: {BWRAP_WHY}")


def tiny_project(root: Path, conftest: str = "") -> Path:
    """One function called by one test with 1, 2 and 3 (and 1 again: a duplicate)."""
    (root / "tests").mkdir(parents=True)
    (root / "twice.py").write_text("def twice(x):\n    return 2 * x\n")
    (root / "tests" / "test_twice.py").write_text(
        "from twice import twice\n\ndef test_twice():\n    assert [twice(n) for n in (1, 2, 3, 1)] == [2, 4, 6, 2]\n\n"
        "def test_fails():\n    assert twice(0) == 1\n")
    (root / "tests" / "conftest.py").write_text(conftest)
    return root


@needs_bwrap
def test_repo_trace_prints_the_report_and_writes_the_episodes(tmp_path):
    project = tiny_project(tmp_path / "tiny")
    out = tmp_path / "out"
    result = runner.invoke(app, ["repo", "trace", str(project), "-o", str(out), "--max-per-function", "2", "-w", "1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "tiny: 2 tests run (1 passed, 1 failed, 0 errors, 0 skipped), sandboxed"
    # twice(1), twice(2) kept; twice(3) and twice(0) find the function at its cap of 2; the second
    # twice(1) is a duplicate of a kept call (calls file v2 credits it to its test)
    assert lines[1] == "functions: 1 seen, 1 covered; calls recorded 2; episodes kept 2"
    assert lines[2].startswith("seconds: suite ") and " episodes/s end to end, " in lines[2]
    assert f"episodes: {out / 'episodes.jsonl'}" in lines[3]
    assert '[[sources]]\nkind = "repo"' in result.stdout and f'path = "{out / "calls.jsonl"}"' in result.stdout
    episodes = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert [row["call"] for row in episodes] == ["twice(1)", "twice(2)"]
    report = json.loads((out / "report.json").read_text())
    assert report["recorded_dropped"] == {"cap": 2, "duplicate": 1} and report["episodes_kept"] == 2
    # --json: the same report on stdout, nothing else
    result = runner.invoke(app, ["repo", "trace", str(project), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["episodes_kept"] == 4 and document["tests"]["run"] == 2 and document["recorded_dropped"] == {"duplicate": 1}


@needs_bwrap
def test_repo_trace_refuses_a_calls_file_the_project_forged(tmp_path):
    forge = ("import atexit, os\n\n@atexit.register\ndef forge():\n"
             "    open(os.environ['CODEWM_CALLS_OUT'], 'w').write('{\"kind\": \"header\"}\\n')\n")
    project = tiny_project(tmp_path / "forger", conftest=forge)
    result = runner.invoke(app, ["repo", "trace", str(project), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "the calls file the suite left is refused" in result.output and "calls.unchecked.jsonl:1: not a calls file" in result.output
    assert not (tmp_path / "out" / "episodes.jsonl").exists()


@needs_bwrap
def test_repo_trace_exits_1_when_the_suite_runs_out_of_time(tmp_path):
    project = tiny_project(tmp_path / "slow")
    (project / "tests" / "test_slow.py").write_text("import time\n\ndef test_sleeps():\n    time.sleep(600)\n")
    result = runner.invoke(app, ["repo", "trace", str(project), "--out", str(tmp_path / "out"), "--timeout", "8"])
    assert result.exit_code == 1 and "stopped at its time limit (8 s)" in result.output


def test_repo_trace_reports_bad_input(tmp_path):
    project = tiny_project(tmp_path / "tiny")
    (tmp_path / "file").write_text("")
    cases = [
        (["parse>=1", "--out", str(tmp_path / "o")], "neither an existing folder nor a pinned package"),
        ([str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")], "neither an existing folder"),
        ([str(project), "--out", str(tmp_path / "o"), "--timeout", "0"], "--timeout must be positive"),
        ([str(project), "--out", str(tmp_path / "o"), "--workers", "0"], "--workers must be at least 1"),
        ([str(project), "--out", str(tmp_path / "o"), "--max-per-function", "0"], "--max-per-function must be at least 1"),
        ([str(project), "--out", str(tmp_path / "file")], "is a file, not a folder"),
        ([str(project), "--out", str(tmp_path / "file" / "below")], "cannot make the folder"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["repo", "trace", *args])
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert not (tmp_path / "o").exists()
    result = runner.invoke(app, ["repo", "trace", str(project)])
    assert result.exit_code == 2 and "--out" in result.output
