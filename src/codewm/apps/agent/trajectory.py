"""Trajectories: every step of an episode, in a versioned JSONL file.

    {"format": "codewm-agent-trajectory", "version": 1, "project": {...}, "task": "...", "policy": "scripted", ...}
    {"step": 1, "action": "bash", "args": {"command": "ls"}, "reply": null, "observation": "...",
     "exit_code": 0, "diff": "", "tree_sha256": "...", "seconds": 0.41}
    ...

The first line says what the file is; each further line is one step: the action, what it
gave back, the workspace's changes after it (a unified diff against the original files, and
a digest of all the files), and the seconds it took. `TrajectoryWriter` writes the header in
one atomic rename and appends each step as one line, flushed and synced: a run killed at any
moment leaves a file whose complete lines read back (`read_trajectory` drops a last line cut
short).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codewm.dataset.read import atomic_write

from codewm.apps.agent.actions import Action

FORMAT = "codewm-agent-trajectory"
VERSION = 1
STEP_KEYS = {"step", "action", "args", "reply", "observation", "exit_code", "diff", "tree_sha256", "seconds"}


class TrajectoryError(ValueError):
    """A trajectory file that cannot be read; the message says which line and why."""


@dataclass(frozen=True)
class Step:
    step: int
    action: str
    args: dict
    reply: str | None
    observation: str
    exit_code: int | None
    diff: str
    tree_sha256: str
    seconds: float

    def as_action(self) -> Action:
        return Action(self.action, self.args, self.reply)


@dataclass
class Trajectory:
    """The header's fields and the steps. `project` is {"name", "version", "root"};
    `policy` names what chose the actions (`scripted`, `openai:URL#MODEL`, ...)."""

    project: dict
    task: str
    policy: str
    steps: list[Step] = field(default_factory=list)
    info: dict = field(default_factory=dict)  # anything else a caller records (the task's tests, ...)

    def header(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "project": self.project, "task": self.task, "policy": self.policy, "info": self.info}

    @property
    def submitted(self) -> bool:
        return bool(self.steps) and self.steps[-1].action == "submit"


class TrajectoryWriter:
    """Writes a trajectory as it happens: the header now, each step as it is added."""

    def __init__(self, path: str | Path, trajectory: Trajectory) -> None:
        self.path = Path(path)
        atomic_write(self.path, (json.dumps(trajectory.header(), ensure_ascii=False) + "\n").encode())

    def append(self, step: Step) -> None:
        line = (json.dumps(asdict(step), ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            os.write(fd, line)  # one write: a kill leaves the line whole or cut, never interleaved
            os.fsync(fd)
        finally:
            os.close(fd)


def read_trajectory(path: str | Path) -> Trajectory:
    """The trajectory in `path`; a last line without its newline (a run killed mid-write) is
    dropped, anything else malformed is a TrajectoryError naming the line."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: empty, or a line cut short
    if not lines:
        raise TrajectoryError(f"{path}: empty (no header line)")
    header = _json(lines[0], path, 1)
    if header.get("format") != FORMAT:
        raise TrajectoryError(f"{path}, line 1: not a {FORMAT} file (format {header.get('format')!r:.80})")
    if header.get("version") != VERSION:
        raise TrajectoryError(f"{path}, line 1: version {header.get('version')!r:.40}, this codewm reads version {VERSION}")
    for key, kind in (("project", dict), ("task", str), ("policy", str), ("info", dict)):
        if type(header.get(key)) is not kind:
            raise TrajectoryError(f"{path}, line 1: {key!r} must be a {kind.__name__}")
    trajectory = Trajectory(header["project"], header["task"], header["policy"], info=header["info"])
    for number, line in enumerate(lines[1:], 2):
        record = _json(line, path, number)
        if set(record) != STEP_KEYS:
            raise TrajectoryError(f"{path}, line {number}: a step has the keys {sorted(STEP_KEYS)}, got {sorted(record)}")
        if record["step"] != number - 1:
            raise TrajectoryError(f"{path}, line {number}: step {record['step']!r:.40}, expected {number - 1}")
        if type(record["action"]) is not str or type(record["args"]) is not dict or type(record["observation"]) is not str or type(record["diff"]) is not str:
            raise TrajectoryError(f"{path}, line {number}: 'action', 'observation' and 'diff' must be strings and 'args' an object")
        trajectory.steps.append(Step(**record))
    return trajectory


def _json(line: bytes, path, number: int) -> dict:
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrajectoryError(f"{path}, line {number}: not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise TrajectoryError(f"{path}, line {number}: expected an object")
    return record
