"""Trajectories as training text in CWM's agentic format: a golden file, and the text read
back to the same actions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codewm.apps.agent.actions import FORMAT_ERROR, Action
from codewm.apps.agent.export import ExportError, cwm_actions, parse_cwm_text, to_cwm_text
from codewm.apps.agent.trajectory import Step, Trajectory, TrajectoryWriter
from codewm.cli import app

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "agent" / "cwm_export_golden.txt"
DIFF = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def f(x):\n-    return x - 1\n+    return x + 1\n"


def small_trajectory() -> Trajectory:
    steps = [
        ("bash", {"command": "grep -n 'def f' -r ."}, None, "./calc.py:1:def f(x):\n", 0, ""),
        ("view", {"path": "calc.py", "start": 1, "lines": 2}, None, "calc.py: lines 1-2 of 2\n1| def f(x):\n2|     return x - 1\n", 0, ""),
        (FORMAT_ERROR, {"error": "found 0 fenced blocks"}, "I think f is wrong.", "Your reply could not be read as an action: found 0 fenced blocks", 1, ""),
        ("edit", {"path": "calc.py", "start": 2, "end": 2, "text": "    return x + 1\n"}, 'It should add.\n```json\n{"action": "edit"}\n```', "calc.py: replaced lines 2-2 with 1 line", 0, DIFF),
        ("run_tests", {"tests": ["tests/test_calc.py::test_f"]}, None, "1 tests: 1 passed, 0 failed, 0 errors, 0 skipped", 0, DIFF),
        ("run_tests", {}, None, "2 tests: 2 passed, 0 failed, 0 errors, 0 skipped", 0, DIFF),
        ("create", {"path": "NOTES.txt", "text": ""}, None, "NOTES.txt: created (0 lines)", 0, DIFF),
        ("submit", {}, None, "submitted", 0, DIFF),
    ]
    return Trajectory({"name": "calc", "version": "", "root": "/tmp/calc"}, "calc/f-minus", "scripted",
                      [Step(n, a, args, reply, obs, code, diff, "0" * 64, 0.1) for n, (a, args, reply, obs, code, diff) in enumerate(steps, 1)],
                      info={"instructions": "These tests fail:\n- tests/test_calc.py::test_f\nFix the bug, then submit."})


def test_the_export_of_a_small_trajectory_is_the_golden_text():
    text = to_cwm_text(small_trajectory())
    if os.environ.get("CODEWM_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_the_text_has_cwm_s_message_structure():
    messages = parse_cwm_text(to_cwm_text(small_trajectory()))
    roles = [role for role, _ in messages]
    assert roles[:3] == ["system", "user", "assistant"]
    assert roles[3] == "tool: bash" and roles.count("user") == 2  # the format error is answered by the user
    assert messages[0][1].startswith("You are a helpful AI assistant.\n\n# Environment\n\n")
    for tool in ("bash", "view", "edit", "create", "run_tests", "submit"):
        assert f"<tool: {tool}>\n" in messages[0][1]  # every tool is announced
    assert messages[-1][0] == "tool: submit" and "<submission>\n" + DIFF + "</submission>" in messages[-1][1]
    assert messages[3][1] == "<output>\n./calc.py:1:def f(x):\n\n</output>\n[exit code 0]"


def test_the_text_reads_back_to_the_trajectory_s_actions():
    trajectory = small_trajectory()
    back = cwm_actions(to_cwm_text(trajectory))
    expected = [Action(FORMAT_ERROR, {}) if s.action == FORMAT_ERROR else Action(s.action, s.args) for s in trajectory.steps]
    assert back == expected


@pytest.mark.parametrize("text", ["x\n</tool>\n", "<tool: bash>\nls\n</tool>", "a <|eot_id|> b"])
def test_a_text_the_format_cannot_carry_is_refused_naming_the_step(text):
    trajectory = small_trajectory()
    trajectory.steps[3] = Step(4, "edit", {"path": "calc.py", "start": 2, "end": 2, "text": text}, None, "ok", 0, "", "0" * 64, 0.1)
    with pytest.raises(ExportError, match="step 4 \\(edit\\)"):
        to_cwm_text(trajectory)


def test_agent_export_writes_one_line_per_trajectory(tmp_path):
    path = tmp_path / "t.jsonl"
    trajectory = small_trajectory()
    writer = TrajectoryWriter(path, trajectory)
    for step in trajectory.steps:
        writer.append(step)
    out = tmp_path / "texts.jsonl"
    result = CliRunner().invoke(app, ["repo", "agent-export", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())
    assert (record["task"], record["policy"], record["steps"]) == ("calc/f-minus", "scripted", 8)
    assert record["text"] == to_cwm_text(trajectory)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = CliRunner().invoke(app, ["repo", "agent-export", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "bad.jsonl" in result.output


@pytest.mark.parametrize("action", [
    Action("bash", {"command": "ls\n"}),
    Action("bash", {"command": "cd tests &&\n  grep -rn x ."}),
    Action("edit", {"path": "a.py", "start": 3, "end": 2, "text": ""}),
    Action("edit", {"path": "a.py", "start": 1, "end": 4, "text": "no newline at the end"}),
    Action("edit", {"path": "a.py", "start": 1, "end": 1, "text": "\n\n"}),
    Action("create", {"path": "d/new.py", "text": "x = 1\n"}),
    Action("view", {"path": "a.py"}),
    Action("view", {"path": "a.py", "lines": 7}),
    Action("run_tests", {"tests": ["t.py::a", "t.py::b[1-2]"]}),
])
def test_edge_texts_read_back_to_the_same_action(action):
    trajectory = small_trajectory()
    trajectory.steps[:] = [Step(1, action.name, action.args, None, "ok", 0, "", "0" * 64, 0.1)]
    assert cwm_actions(to_cwm_text(trajectory)) == [action]


@pytest.mark.parametrize("action", [Action("view", {"path": "a\nstart=3"}), Action("run_tests", {"tests": ["t.py::a\nt.py::b"]})])
def test_a_path_or_test_id_with_a_newline_is_refused(action):
    # Regression: it was written as is, and read back as other arguments (or another test).
    trajectory = small_trajectory()
    trajectory.steps[:] = [Step(1, action.name, action.args, None, "ok", 0, "", "0" * 64, 0.1)]
    with pytest.raises(ExportError, match="step 1 .* holds a newline"):
        to_cwm_text(trajectory)
