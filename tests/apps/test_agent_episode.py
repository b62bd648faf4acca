"""Episodes end to end on tinypkg with one function broken: the scripted explorer fixes it
and the suite ends as it was before the break; the trajectory file replays to byte-identical
files on a fresh copy (a tampered one does not); it loads as a chat message list."""

from __future__ import annotations

import dataclasses
import json
import textwrap

import pytest
from agent_helpers import FAILING, TINYPKG, broken_tinypkg, needs_bwrap, perimeter_task

from codewm.repo.project import local_project
from codewm.repo.suite import run_tests
from codewm.repo.workspace import Workspace

from codewm.apps.agent.episode import ReplayError, replay, run_episode
from codewm.apps.agent.explorer import RepairTask, ScriptedExplorer
from codewm.apps.agent.messages import SYSTEM_PROMPT, to_messages
from codewm.apps.agent.trajectory import read_trajectory

pytestmark = needs_bwrap


def test_the_scripted_explorer_fixes_the_function_and_the_trajectory_replays(tmp_path):
    project = local_project(broken_tinypkg(tmp_path))
    with Workspace(local_project(TINYPKG)) as pristine:
        expected = run_tests(pristine, timeout=300).outcomes  # one test fails, one errs on purpose
    task = perimeter_task()
    path = tmp_path / "trajectory.jsonl"
    with Workspace(project) as workspace:
        trajectory = run_episode(workspace, ScriptedExplorer(task), max_steps=20, task="tinypkg/perimeter", instructions=task.instructions(), path=path, info={"failing_tests": list(FAILING)})
        after = run_tests(workspace, timeout=300).outcomes
        final_files = {p: workspace.path.joinpath(p).read_bytes() for p in ("tinypkg/shapes.py", "tinypkg/textutil.py")}
    assert [s.action for s in trajectory.steps] == ["bash", "bash", "view", "bash", "view", "run_tests", "edit", "run_tests", "submit"]
    assert trajectory.submitted and trajectory.policy == "scripted"
    assert after == expected and after[FAILING[0]] == "passed"
    assert trajectory.steps[5].exit_code == 1 and f"FAILED {FAILING[0]}" in trajectory.steps[5].observation
    assert trajectory.steps[3].observation == "./tinypkg/shapes.py:9:def perimeter(kind, *sides):\n"
    assert final_files["tinypkg/shapes.py"] == (TINYPKG / "tinypkg" / "shapes.py").read_bytes()
    # Before the edit the copy is as it came; after it, the diff is the fix.
    assert all(step.diff == "" for step in trajectory.steps[:6])
    assert "-        return 3 * sides[0]\n+        return 4 * sides[0]\n" in trajectory.steps[-1].diff
    # The file holds the same steps, and they replay to the same files, step by step.
    loaded = read_trajectory(path)
    assert loaded.steps == trajectory.steps and loaded.info["failing_tests"] == list(FAILING)
    replayed = replay(loaded, project)
    assert (replayed.steps, replayed.diff, replayed.tree_sha256) == (9, trajectory.steps[-1].diff, trajectory.steps[-1].tree_sha256)
    # Not on another project's files (the unbroken one),
    with pytest.raises(ReplayError, match="not those the trajectory started from"):
        replay(loaded, local_project(TINYPKG))
    # and a step changed after the fact no longer replays to the recorded files.
    edit = loaded.steps[6]
    loaded.steps[6] = dataclasses.replace(edit, args={**edit.args, "text": edit.args["text"].replace("4 *", "2 * 2 *")})
    with pytest.raises(ReplayError, match="step 7 \\(edit\\)"):
        replay(loaded, project, rerun_tests=False)
    # As a chat: system, task, then one assistant/user pair per step.
    messages = to_messages(trajectory)
    assert [m["role"] for m in messages] == ["system", "user"] + ["assistant", "user"] * 9
    assert messages[0]["content"] == SYSTEM_PROMPT and FAILING[0] in messages[1]["content"]
    assert json.loads(messages[2]["content"].removeprefix("```json\n").removesuffix("\n```")) == {"action": "bash", "command": trajectory.steps[0].args["command"]}
    assert messages[-1]["content"] == "[exit code 0]\nsubmitted"


LONG_MODULE = '''import functools


def _cached(f):
    return functools.lru_cache(maxsize=None)(f)
''' + "".join(f"\n\ndef filler_{i}(x):\n    return x + {i}\n" for i in range(20)) + '''

@_cached
def clamp(
    value,
    low=0,
    high=10,
):
    """Keep value within [low, high].

Even a docstring line this far left is inside the function."""
''' + "".join(f"    value = value + 0  # a long body: line {i}\n" for i in range(200)) + '''    if value < low:
        return low
    if value > high:
        return high
    return value


def after(x):
    return clamp(x)
'''


def test_the_explorer_reads_a_long_file_in_windows_and_takes_an_oracle(tmp_path):
    root = tmp_path / "calc"
    (root / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    broken = LONG_MODULE.replace("return high\n", "return low\n")
    (root / "calc" / "__init__.py").write_text(broken)
    (root / "tests" / "test_calc.py").write_text("from calc import after, clamp\n\n\ndef test_high():\n    assert clamp(12) == 10\n\n\ndef test_after():\n    assert after(3) == 3\n")
    asked = []

    def oracle(text):
        asked.append(text)
        return text.replace("return low\n", "return high\n", 2).replace("return high\n", "return low\n", 1)

    task = RepairTask(("tests/test_calc.py::test_high",), "clamp", oracle=oracle)
    with Workspace(local_project(root)) as workspace:
        trajectory = run_episode(workspace, ScriptedExplorer(task), max_steps=20, instructions=task.instructions())
        assert workspace.path.joinpath("calc/__init__.py").read_text() == LONG_MODULE
        assert run_tests(workspace, timeout=300).outcomes == {"tests/test_calc.py::test_after": "passed", "tests/test_calc.py::test_high": "passed"}
    # The function ends past the first window: the explorer viewed on until its end.
    start = broken.splitlines().index("@_cached") + 1
    windows = [(s.args["start"], s.args["lines"]) for s in trajectory.steps if s.action == "view" and s.args["path"] == "calc/__init__.py"]
    assert windows == [(start - 4, 80), (start + 76, 80), (start + 156, 80)]
    (whole,) = asked
    assert whole == textwrap.dedent(broken[broken.index("@_cached") : broken.index("\n\n\ndef after")] + "\n")
    edit = next(step for step in trajectory.steps if step.action == "edit")
    assert (edit.args["start"], edit.args["end"]) == (start, start + whole.count("\n") - 1)
