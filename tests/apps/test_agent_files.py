"""The agent's pieces that need no sandbox: paths confined to the copy, the diff, action
checks, a model's reply read as an action, and trajectory files cut short by a kill."""

from __future__ import annotations

import json
import os

import pytest

from codewm.apps.agent.actions import FORMAT_ERROR, Action, ActionError, check_action
from codewm.apps.agent.files import PathError, confine, snapshot, tree_digest, unified_diff
from codewm.apps.agent.llm_policy import parse_reply, parse_spec
from codewm.apps.agent.trajectory import Step, Trajectory, TrajectoryError, TrajectoryWriter, read_trajectory


def test_confine_keeps_paths_inside_the_copy(tmp_path):
    root = tmp_path / "copy"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "secret").write_text("host")
    os.symlink("../../secret", root / "pkg" / "escape")
    os.symlink(str(tmp_path), root / "up")
    os.symlink("a.py", root / "pkg" / "fine")
    assert confine(root, "pkg/a.py") == (root / "pkg" / "a.py").resolve()
    assert confine(root, "/project/pkg/a.py") == (root / "pkg" / "a.py").resolve()
    assert confine(root, "pkg/fine") == (root / "pkg" / "a.py").resolve()  # a link inside is fine
    for bad in ("../secret", "pkg/../../secret", "/etc/passwd", "/projectx/a", "/project/../secret", "pkg/escape", "up/secret", "", "a\0b"):
        with pytest.raises(PathError):
            confine(root, bad)


def test_diff_and_digest_follow_every_byte(tmp_path):
    (tmp_path / "a.py").write_text("one\ntwo\n")
    (tmp_path / "gone.txt").write_text("bye\n")
    before = snapshot(tmp_path)
    (tmp_path / "a.py").write_text("one\nTWO")
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "new.bin").write_bytes(b"\xff\x00")
    os.symlink("/etc/passwd", tmp_path / "link")
    after = snapshot(tmp_path)
    assert after["link"] == b"<symbolic link to /etc/passwd>\n"  # not followed
    diff = unified_diff(before, after)
    assert diff.splitlines() == [
        "--- a/a.py", "+++ b/a.py", "@@ -1,2 +1,2 @@", " one", "-two", "+TWO", "\\ No newline at end of file",
        "--- a/gone.txt", "+++ /dev/null", "@@ -1 +0,0 @@", "-bye",
        "--- /dev/null", "+++ b/link", "@@ -0,0 +1 @@", "+<symbolic link to /etc/passwd>",
        "Binary files a/new.bin and b/new.bin differ",
    ]
    assert unified_diff(before, before) == ""
    assert tree_digest(after) != tree_digest({**after, "a.py": b"one\nTWO\n"})


@pytest.mark.parametrize(
    "action, message",
    [
        (Action("rm", {}), "unknown action"),
        (Action("view", {"path": "a", "start": True}), "'start' must be int"),
        (Action("view", {"path": "a", "lines": 1000}), "'lines' must be 1 to"),
        (Action("edit", {"path": "a", "start": 5, "end": 3, "text": ""}), "inclusive"),
        (Action("create", {"path": "a"}), "'text' is missing"),
        (Action("bash", {"command": "ls", "cwd": "/"}), "unknown argument 'cwd'"),
        (Action("run_tests", {"tests": ["--co"]}), "not starting with '-'"),
    ],
)
def test_bad_actions_are_refused_with_the_reason(action, message):
    with pytest.raises(ActionError, match=message):
        check_action(action)


def test_a_reply_holds_one_action_in_a_fenced_block():
    reply = 'Let me look.\n```json\n{"action": "view", "path": "a.py", "start": 3}\n```\n'
    assert parse_reply(reply) == Action("view", {"path": "a.py", "start": 3}, reply)
    for bad, why in [("just words", "found 0 fenced blocks"), ("```json\n{}\n```\n```json\n{}\n```", "found 2"), ("```\nnot json\n```", "not JSON"), ('```json\n["bash"]\n```', "JSON object"), ('```json\n{"action": "format_error", "error": "x"}\n```', "not an action")]:
        action = parse_reply(bad)
        assert action.name == FORMAT_ERROR and why in action.args["error"] and action.reply == bad
    assert parse_spec("openai:http://h:1/v1#m") == ("http://h:1/v1", "m")
    assert parse_spec("openai:http://h:1/v1") == ("http://h:1/v1", None)
    with pytest.raises(ValueError, match="openai:URL#MODEL"):
        parse_spec("openai:#m")


def test_a_trajectory_cut_by_a_kill_reads_back_its_whole_steps(tmp_path):
    path = tmp_path / "t.jsonl"
    writer = TrajectoryWriter(path, Trajectory({"name": "p", "version": "", "root": "/p"}, "task-1", "scripted"))
    for number in (1, 2):
        writer.append(Step(number, "bash", {"command": "ls"}, None, "a.py\n", 0, "", "0" * 64, 0.1))
    with open(path, "ab") as handle:
        handle.write(b'{"step": 3, "action": "ba')  # the kill came mid-line
    trajectory = read_trajectory(path)
    assert [s.step for s in trajectory.steps] == [1, 2] and trajectory.policy == "scripted"
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "codewm-agent-trajectory" and header["version"] == 1
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(TrajectoryError, match="line 2: step 2, expected 1"):
        read_trajectory(path)
    path.write_text(json.dumps({**header, "version": 99}) + "\n")
    with pytest.raises(TrajectoryError, match="version 99"):
        read_trajectory(path)
