"""An episode: a policy acts in a workspace until it submits or runs out of steps; and the
replay of a recorded one on a fresh copy, which must reach the same files.

    trajectory = run_episode(workspace, policy, max_steps=30, task="perimeter", path="t.jsonl")
    replay(trajectory, project)    # ReplayError at the first step whose files differ
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from codewm.repo.project import Project
from codewm.repo.workspace import Workspace

from codewm.apps.agent.computer import AgentComputer
from codewm.apps.agent.policy import Policy
from codewm.apps.agent.trajectory import Step, Trajectory, TrajectoryWriter


class ReplayError(AssertionError):
    """A replayed step left other files than the recorded one did."""


def project_record(project: Project) -> dict:
    return {"name": project.name, "version": project.version, "root": str(project.root)}


def run_episode(workspace: Workspace, policy: Policy, max_steps: int, task: str = "", instructions: str = "", path: str | Path | None = None, info: dict | None = None, computer: AgentComputer | None = None) -> Trajectory:
    """Let `policy` act in `workspace` for at most `max_steps` steps (it ends sooner when it
    submits). Each step is recorded (and appended to `path`, if given, as it happens)."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    computer = computer or AgentComputer(workspace)
    original = {"instructions": instructions, "original_tree_sha256": computer.digest(computer.original)}
    trajectory = Trajectory(project_record(workspace.project), task, policy.name, info={**original, **(info or {})})
    writer = TrajectoryWriter(path, trajectory) if path is not None else None
    for number in range(1, max_steps + 1):
        started = time.monotonic()
        action = policy.next_action(list(trajectory.steps))
        observation = computer.execute(action)
        files = computer.files()
        step = Step(number, action.name, action.args, action.reply, observation.text, observation.exit_code, computer.diff(files), computer.digest(files), round(time.monotonic() - started, 3))
        trajectory.steps.append(step)
        if writer is not None:
            writer.append(step)
        if observation.done:
            break
    return trajectory


@dataclass(frozen=True)
class Replayed:
    steps: int
    diff: str
    tree_sha256: str


def replay(trajectory: Trajectory, project: Project, rerun_tests: bool = True) -> Replayed:
    """Take the trajectory's actions again on a fresh copy of `project`; after every step its
    files must be byte-identical to the recorded ones (digest and diff), else ReplayError.
    `rerun_tests=False` skips run_tests steps (faster; only right when the tests write no
    file into the project)."""
    diff, digest = "", None
    with Workspace(project) as workspace:
        computer = AgentComputer(workspace)
        digest = computer.digest(computer.original)
        recorded = trajectory.info.get("original_tree_sha256", digest)
        if digest != recorded:
            raise ReplayError(f"{project.root}: its files are not those the trajectory started from (sha256 {digest[:12]}..., recorded {str(recorded)[:12]}...)")
        for step in trajectory.steps:
            if step.action != "run_tests" or rerun_tests:
                computer.execute(step.as_action())
            files = computer.files()
            diff, digest = computer.diff(files), computer.digest(files)
            if digest != step.tree_sha256 or diff != step.diff:
                raise ReplayError(f"step {step.step} ({step.action}): the replayed files differ from the recorded ones:\n--- recorded diff\n{step.diff[-2000:]}\n--- replayed diff\n{diff[-2000:]}")
    return Replayed(len(trajectory.steps), diff, digest)
