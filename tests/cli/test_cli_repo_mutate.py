"""`codewm repo mutate` from the command line, on the tiny fixture project."""

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


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.skipif(not BWRAP_USABLE, reason=f"needs bubblewrap: {BWRAP_WHY}")
def test_repo_mutate_verifies_in_the_sandbox_prints_the_yield_and_resumes(tmp_path):
    out = tmp_path / "tiny.mutants.jsonl"
    result = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(out), "--max-mutants", "3", "--timeout", "300"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("tinypkg: 25 mutants of functions of complexity >= 3; 3 to verify in the sandbox\n")
    assert "operator              kept  tried  yield  dropped\n" in result.stdout
    header, *records = lines_of(out)
    assert header["runner"] == "sandbox" and header["options"] == {"seed": 0, "per_function": 40, "per_operator": 8, "min_complexity": 3}
    assert len(header["baseline_passed"]) == 6  # tinypkg: one test fails and one errs on purpose
    assert len(records) == 3 and {r["runner"] for r in records} == {"sandbox"}
    kept = [r for r in records if r["status"] == "kept"]
    assert kept and all(r["failing_tests"] and r["diff"].startswith("--- a/tinypkg/") for r in kept)
    assert f"kept {len(kept)} of 3 mutants tried ({len(kept) / 3:.0%}; 3 verified by this run), baseline 6 passing tests" in result.stdout
    for record in records:  # the table counts what the file holds
        assert f"{record['operator']:20} " in result.stdout

    again = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(out), "--max-mutants", "4", "--timeout", "300"])
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith(f"tinypkg: 25 mutants of functions of complexity >= 3; 1 to verify in the sandbox (3 already in {out})\n")
    _, *resumed = lines_of(out)
    assert resumed[:3] == records and len(resumed) == 4  # one more run, the first three kept as they were
    assert again.stderr.count(" s  tinypkg/") == 1  # one progress line: one mutant verified
    assert "of 4 mutants tried (" in again.stdout and "; 1 verified by this run)" in again.stdout

    other = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(out), "--seed", "1"])
    assert other.exit_code == 2 and "mutants made with other options" in other.output
    assert lines_of(out)[1:] == resumed


def test_repo_mutate_reports_bad_input(tmp_path):
    out = tmp_path / "r.jsonl"
    result = runner.invoke(app, ["repo", "mutate", "parse>=1", "--out", str(out)])
    assert result.exit_code == 2 and "neither an existing folder nor a pinned package" in result.output
    result = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.output
    result = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(tmp_path / "missing" / "r.jsonl")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(out), "--timeout", "0"])
    assert result.exit_code == 2 and "--timeout must be positive" in result.output
    result = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(out), "--min-complexity", "99"])
    assert result.exit_code == 2 and "no function of cyclomatic complexity >= 99" in result.output
    out.write_text('{"format": "codewm.repo.mutants", "version": 1, "project": "0000000000000000", "baseline_passed": ["x"]}\n')
    result = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(out)])
    assert result.exit_code == 2 and "results of another project or version" in result.output
    out.write_text("not json\n")
    result = runner.invoke(app, ["repo", "mutate", str(TINY), "--out", str(out)])
    assert result.exit_code == 2 and "not JSON" in result.output
    broken = tmp_path / "broken"
    (broken / "pkg").mkdir(parents=True)
    (broken / "tests").mkdir()
    (broken / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    (broken / "pkg" / "bad.py").write_text("def f(:\n")
    result = runner.invoke(app, ["repo", "mutate", str(broken), "--out", str(out)])
    assert result.exit_code == 2 and "bad.py: cannot read as Python" in result.output
