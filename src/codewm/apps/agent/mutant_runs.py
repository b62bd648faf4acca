"""Scripted trajectories over many mutants, each replayed as the check (issue 18, item 3).

    results = run_mutant_tasks(mutants_file, project, count=100, out_dir=Path("runs"))

For each selected mutant (`mutant_tasks.select_mutants`): the scripted explorer works the
repair task in a sandboxed copy of the mutated project, its trajectory goes to
OUT_DIR/trajectories/ID.jsonl (policy `scripted`, task = the mutant's id, written step by
step), then the trajectory is replayed on a fresh copy with the tests run again (the honest
check) and the result is one record of OUT_DIR/summary.jsonl: steps, seconds, whether the
last test run had every test passing, whether the fixed file is the unmutated one, whether
the replay reached the same files at every step.

The summary is rewritten atomically after each task, so a killed run leaves the previous
whole file; a rerun skips the tasks it holds, replays a trajectory that is complete but was
not replayed yet, and works the others again from the start.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Callable

from codewm.dataset.read import atomic_write
from codewm.repo.mutate import MutateError, apply_diff
from codewm.repo.project import Project
from codewm.repo.workspace import Workspace

from codewm.apps.agent.episode import ReplayError, replay, run_episode
from codewm.apps.agent.explorer import ExplorerError, ScriptedExplorer
from codewm.apps.agent.mutant_tasks import MutantTaskError, mutant_project, read_kept_mutants, repair_task, select_mutants
from codewm.apps.agent.trajectory import Trajectory, TrajectoryError, read_trajectory

SUMMARY_FORMAT = "codewm-agent-mutant-runs"
SUMMARY_VERSION = 1
DEFAULT_MAX_STEPS = 40
COUNTS_RE = re.compile(r"^(\d+) tests: (\d+) passed, (\d+) failed, (\d+) errors, (\d+) skipped")


class RunsError(ValueError):
    """A summary file that belongs to another run, or cannot be read; says which and why."""


def all_green(trajectory: Trajectory) -> bool:
    """Whether the trajectory's last run_tests ran every test (no test id named) and none
    failed or erred."""
    runs = [step for step in trajectory.steps if step.action == "run_tests"]
    if not runs or runs[-1].args.get("tests"):
        return False
    counts = COUNTS_RE.match(runs[-1].observation)
    return runs[-1].exit_code == 0 and counts is not None and int(counts.group(1)) > 0 and counts.group(3) == counts.group(4) == "0"


def read_summary(path: Path, expected: dict) -> list[dict]:
    """The records of a summary file whose header matches `expected` (the same mutants file,
    project and selection); a missing file is no records."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        header, records = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    except (IndexError, ValueError) as exc:
        raise RunsError(f"{path}: not a {SUMMARY_FORMAT} file ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != SUMMARY_FORMAT or header.get("version") != SUMMARY_VERSION:
        raise RunsError(f"{path}: not a {SUMMARY_FORMAT} file of version {SUMMARY_VERSION}")
    different = sorted(key for key in expected if header.get(key) != expected[key])
    if different:
        raise RunsError(f"{path}: the runs of another {', '.join(different)} ({header.get(different[0])!r:.120} != {expected[different[0]]!r:.120}); use another --out-dir")
    return records


def write_summary(path: Path, header: dict, records: list[dict]) -> None:
    text = "".join(json.dumps(item, sort_keys=True, ensure_ascii=False) + "\n" for item in [header, *records])
    atomic_write(path, text.encode())


def run_mutant_tasks(mutants_file: str | Path, project: Project, count: int, out_dir: str | Path, *, seed: int = 0,
                     max_steps: int = DEFAULT_MAX_STEPS, on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Work and replay `count` selected mutants (see the module's doc); the summary records,
    in selection order (those of an earlier run included)."""
    out = Path(out_dir)
    (out / "trajectories").mkdir(parents=True, exist_ok=True)
    mutants_header, kept = read_kept_mutants(mutants_file)
    selected = select_mutants(kept, count, seed=seed)
    expected = {"mutants_project": mutants_header.get("project"), "seed": seed, "max_steps": max_steps}
    summary = out / "summary.jsonl"
    header = {"format": SUMMARY_FORMAT, "version": SUMMARY_VERSION, "mutants_file": str(mutants_file), **expected}
    records = {r["task"]: r for r in read_summary(summary, expected)}
    for record in selected:
        if record["id"] in records:
            continue
        result = run_one(record, project, out, max_steps)
        records[result["task"]] = result
        write_summary(summary, header, list(records.values()))
        if on_result is not None:
            on_result(result)
    return [records[r["id"]] for r in selected]


def run_one(record: dict, project: Project, out: Path, max_steps: int) -> dict:
    """One task: the episode (unless a complete trajectory of it is there), then the replay."""
    path = out / "trajectories" / f"{record['id']}.jsonl"
    result = {"task": record["id"], "operator": record["operator"], "qualname": record["qualname"],
              "trajectory": str(path.relative_to(out)), "error": ""}
    task = repair_task(project.root, record)
    with mutant_project(project, record) as broken:
        trajectory = _complete(path, max_steps)
        if trajectory is None:
            info = {"failing_tests": list(task.failing_tests),
                    "mutant": {key: record.get(key) for key in ("id", "file", "qualname", "operator", "description")}}
            started = time.monotonic()
            with Workspace(broken) as workspace:
                explorer = ScriptedExplorer(task)
                try:
                    trajectory = run_episode(workspace, explorer, max_steps, task=record["id"], instructions=task.instructions(), path=path, info=info)
                except ExplorerError as exc:
                    result["error"] = f"explorer: {exc}"[:2000]
                    trajectory = read_trajectory(path)
                restored = _restored(workspace.path / record["file"], project.root / record["file"])
            result["seconds"] = round(time.monotonic() - started, 3)
        else:
            restored = None  # worked by an earlier run: the copy is gone, the last diff tells
            result["seconds"] = round(sum(step.seconds for step in trajectory.steps), 3)
        result.update(steps=len(trajectory.steps), submitted=trajectory.submitted, all_green=all_green(trajectory),
                      restored=restored if restored is not None else restored_by_diff(trajectory, record, broken.root, project.root))
        started = time.monotonic()
        try:
            replay(trajectory, broken, rerun_tests=True)
            result["replay_identical"] = True
        except ReplayError as exc:
            result["replay_identical"] = False
            result["error"] = (result["error"] + f" replay: {exc}").strip()[:4000]
        result["replay_seconds"] = round(time.monotonic() - started, 3)
    return result


def _complete(path: Path, max_steps: int) -> Trajectory | None:
    """The trajectory at `path` if an earlier run finished it (submitted, or out of steps)."""
    try:
        trajectory = read_trajectory(path)
    except (OSError, TrajectoryError):
        return None
    return trajectory if trajectory.submitted or len(trajectory.steps) >= max_steps else None


def _restored(fixed: Path, original: Path) -> bool:
    try:
        return fixed.read_bytes() == original.read_bytes()
    except OSError:
        return False


def restored_by_diff(trajectory: Trajectory, record: dict, broken: Path, original: Path) -> bool:
    """Whether the trajectory's last diff (the copy against the mutated project) turns the
    mutated file into the unmutated one: for a trajectory an earlier run made, whose copy
    is gone."""
    if not trajectory.steps:
        return False
    diff = trajectory.steps[-1].diff
    header = f"--- a/{record['file']}\n+++ b/{record['file']}\n"
    if header not in diff:
        return False
    section = diff[diff.index(header):]
    following = section.find("\n--- ", len(header))
    section = section if following < 0 else section[: following + 1]
    try:
        text = (broken / record["file"]).read_text(encoding="utf-8")
        return apply_diff(text, section).encode("utf-8") == (original / record["file"]).read_bytes()
    except (OSError, UnicodeDecodeError, MutateError):
        return False
