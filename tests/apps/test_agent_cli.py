"""`codewm repo agent`: a scripted episode from the command line, and its option errors."""

from __future__ import annotations

from agent_helpers import FAILING, PERIMETER, broken_tinypkg, needs_bwrap
from typer.testing import CliRunner

from codewm.cli import app
from codewm.apps.agent.episode import replay
from codewm.apps.agent.trajectory import read_trajectory
from codewm.repo.project import local_project

runner = CliRunner(env={"COLUMNS": "160"})


@needs_bwrap
def test_repo_agent_records_a_scripted_episode(tmp_path):
    root = broken_tinypkg(tmp_path)
    fix = tmp_path / "fix.py"
    fix.write_text(PERIMETER)
    out = tmp_path / "t.jsonl"
    result = runner.invoke(app, ["repo", "agent", str(root), "--out", str(out), "--test", FAILING[0], "--function", "perimeter", "--fix", str(fix), "--task", "tinypkg/perimeter"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"submitted after 9 steps; 1 file changed; trajectory: {out}"
    trajectory = read_trajectory(out)
    assert (trajectory.task, trajectory.policy, trajectory.info["failing_tests"]) == ("tinypkg/perimeter", "scripted", list(FAILING))
    assert replay(trajectory, local_project(root), rerun_tests=False).diff == trajectory.steps[-1].diff


def test_repo_agent_says_what_is_missing(tmp_path):
    base = ["repo", "agent", str(tmp_path), "--out", str(tmp_path / "t.jsonl"), "--test", FAILING[0]]
    for extra, message in [([], "--policy scripted needs --function and --fix"), (["--policy", "gpt"], "--policy must be scripted or openai:URL#MODEL"), (["--function", "f", "--fix", str(tmp_path / "none.py")], "none.py")]:
        result = runner.invoke(app, base + extra)
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "t.jsonl").exists()
