"""The agent-computer interface in a real workspace: file windows, edits and new files made
by the host on the copy only; nothing outside the copy is read or written, whatever links a
command plants; observations stay bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from agent_helpers import TINYPKG, needs_bwrap

from codewm.repo.project import local_project
from codewm.repo.workspace import Workspace

from codewm.apps.agent.actions import Action
from codewm.apps.agent.computer import MAX_OBSERVATION_CHARS, AgentComputer

pytestmark = needs_bwrap


@pytest.fixture
def computer():
    with Workspace(local_project(TINYPKG)) as workspace:
        yield AgentComputer(workspace, command_timeout=60)


def test_view_edit_create_change_only_the_copy(computer):
    original = (TINYPKG / "tinypkg" / "shapes.py").read_text()
    seen = computer.execute(Action("view", {"path": "tinypkg/shapes.py", "start": 2, "lines": 2}))
    assert seen.exit_code == 0
    assert seen.text == 'tinypkg/shapes.py: lines 2-3 of 14\n2|     if kind == "square":\n3|         return sides[0] * sides[0]\n'
    edited = computer.execute(Action("edit", {"path": "/project/tinypkg/shapes.py", "start": 3, "end": 3, "text": "        return sides[0] ** 2"}))
    assert edited.exit_code == 0, edited.text
    created = computer.execute(Action("create", {"path": "notes/todo.txt", "text": "check area\n"}))
    assert created.exit_code == 0, created.text
    # The sandboxed commands see the host's edits, and may write the files the host made.
    shown = computer.execute(Action("bash", {"command": "sed -n 3p tinypkg/shapes.py && echo more >> notes/todo.txt && cat notes/todo.txt"}))
    assert (shown.exit_code, shown.text) == (0, "        return sides[0] ** 2\ncheck area\nmore\n")
    assert computer.diff().splitlines()[:4] == ["--- /dev/null", "+++ b/notes/todo.txt", "@@ -0,0 +1,2 @@", "+check area"]
    assert "-        return sides[0] * sides[0]\n+        return sides[0] ** 2\n" in computer.diff()
    assert (TINYPKG / "tinypkg" / "shapes.py").read_text() == original  # the original is never written
    again = computer.execute(Action("create", {"path": "notes/todo.txt", "text": ""}))
    assert again.exit_code == 1 and "already exists" in again.text
    past = computer.execute(Action("edit", {"path": "tinypkg/shapes.py", "start": 20, "end": 30, "text": ""}))
    assert past.exit_code == 1 and "has 14 lines" in past.text


def test_paths_outside_the_workspace_are_refused(computer, tmp_path):
    outside = tmp_path / "host.txt"
    outside.write_text("the host's\n")
    planted = computer.execute(Action("bash", {"command": f"ln -s {outside} host_link && ln -s {tmp_path} host_dir && ln -s / root_link && ls -l host_link"}))
    assert planted.exit_code == 0, planted.text
    attempts = [
        Action("view", {"path": "../tinypkg/setup.py"}),
        Action("view", {"path": str(outside)}),
        Action("view", {"path": "/project/../etc/passwd"}),
        Action("view", {"path": "host_link"}),
        Action("view", {"path": "root_link/etc/passwd"}),
        Action("edit", {"path": "host_link", "start": 1, "end": 1, "text": "owned\n"}),
        Action("create", {"path": "host_dir/new.txt", "text": "owned\n"}),
        Action("create", {"path": "root_link/tmp/new.txt", "text": "owned\n"}),
        Action("create", {"path": "a/../../escape.txt", "text": "owned\n"}),
    ]
    for action in attempts:
        observation = computer.execute(action)
        assert observation.exit_code == 1 and observation.text.startswith("error: "), (action, observation)
        assert "the host's" not in observation.text and "root:" not in observation.text
    assert outside.read_text() == "the host's\n"
    assert sorted(os.listdir(tmp_path)) == ["host.txt"]
    assert not Path("/tmp/new.txt").exists() and not (computer.workspace.base / "escape.txt").exists()


def test_observations_are_bounded(computer):
    loud = computer.execute(Action("bash", {"command": "python -c \"print('x' * 300000)\"; exit 3"}))
    assert loud.exit_code == 3
    assert len(loud.text) <= MAX_OBSERVATION_CHARS + 100 and "characters left out" in loud.text
    refused = computer.execute(Action("view", {"path": "tinypkg/shapes.py", "lines": 100000}))
    assert refused.exit_code == 1 and "'lines' must be" in refused.text


def test_a_file_cannot_be_made_under_a_file(computer):
    made = computer.execute(Action("create", {"path": "setup.py/sub/inner.py", "text": "x = 1\n"}))
    assert made.exit_code == 1 and made.text.startswith("error: setup.py/sub/inner.py:"), made.text
    folder = computer.execute(Action("edit", {"path": "tinypkg", "start": 1, "end": 1, "text": ""}))
    assert folder.exit_code == 1 and "not a regular file" in folder.text


def test_lines_are_counted_as_grep_counts_them(computer):
    # A form feed (as in some Python sources) is no line break for grep -n, sed or an editor.
    made = computer.execute(Action("create", {"path": "ff.py", "text": "a = 1\n\x0cb = 2\nc = 3\n"}))
    assert made.exit_code == 0
    grep = computer.execute(Action("bash", {"command": "grep -n 'c = 3' ff.py"}))
    assert grep.text == "3:c = 3\n"
    seen = computer.execute(Action("view", {"path": "ff.py"}))
    assert seen.text.splitlines()[0] == "ff.py: lines 1-3 of 3" and seen.text.endswith("3| c = 3\n")
    computer.execute(Action("edit", {"path": "ff.py", "start": 3, "end": 3, "text": "c = 4\n"}))
    assert computer.execute(Action("bash", {"command": "cat ff.py"})).text == "a = 1\n\x0cb = 2\nc = 4\n"
