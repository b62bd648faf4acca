"""`codewm repo ...`: real projects and their own test suites, run in the sandbox.

Each command takes a project as DIR (a local checkout with a pytest suite) or NAME==VERSION
(a source distribution fetched with pip into --cache); `project_argument` and
`open_project` are shared by the group's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app, group
from codewm.cli.common import fail

repo_app = group(no_args_is_help=True, help="Executable repositories: run a real project's test suite in the sandbox.")
app.add_typer(repo_app, name="repo")

PROJECT_HELP = "A project folder with a pytest suite, or NAME==VERSION to fetch its source distribution with pip (e.g. parse==1.22.4)."
CACHE_HELP = "Where fetched projects are unpacked and kept (default: ~/.cache/codewm/projects)."


def open_project(spec: str, cache: Optional[Path]):
    """The `Project` a command's PROJECT argument names; a clear error and exit 2 if none."""
    from codewm.repo.project import ProjectError, resolve_project

    try:
        return resolve_project(spec, cache)
    except ProjectError as exc:
        fail(str(exc))


def open_workspace(project):
    from codewm.repo.workspace import Workspace, WorkspaceError

    try:
        return Workspace(project)
    except WorkspaceError as exc:
        fail(str(exc))


@repo_app.command("tests")
def tests_command(
    project: str = typer.Argument(..., help=PROJECT_HELP),
    cache: Optional[Path] = typer.Option(None, "--cache", help=CACHE_HELP),
    keyword: Optional[str] = typer.Option(None, "--keyword", help="Only the tests whose names match this pytest -k expression (pytest's own -k; no short flag here because codewm's -k means pass@k)."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds the whole suite may run; past them the sandbox is killed."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write every test's outcome (test id -> outcome) and the counts here."),
) -> None:
    """Run a project's tests in a private copy, sandboxed; print how many passed, failed, erred, were skipped."""
    from codewm.repo.suite import ReportError, run_tests

    if not timeout > 0:
        fail("--timeout must be positive")
    found = open_project(project, cache)
    with open_workspace(found) as workspace:
        try:
            report = run_tests(workspace, timeout=timeout, keyword=keyword)
        except ReportError as exc:
            fail(str(exc))
    counts = report.counts
    label = f"{found.name} {found.version}".strip()
    typer.echo(f"{label}: {report.tests_run} tests run, {counts['passed']} passed, {counts['failed']} failed, {counts['error']} error{'' if counts['error'] == 1 else 's'}, {counts['skipped']} skipped in {report.wall_seconds:.1f} s")
    if report.timed_out:
        typer.secho(f"stopped at the time limit ({timeout:g} s): the counts are those of the tests that finished", fg=typer.colors.YELLOW, err=True)
    if json_out is not None:
        from codewm.dataset.read import atomic_write_json

        atomic_write_json(json_out, {"project": label, **report.summary(), "outcomes": report.outcomes})
    if report.timed_out:
        raise typer.Exit(1)


@repo_app.command("agent")
def agent_command(
    project: str = typer.Argument(..., help=PROJECT_HELP),
    out: Path = typer.Option(..., "--out", help="Where to write the trajectory (JSONL, one line per step, written as it happens)."),
    policy: str = typer.Option("scripted", "--policy", help="scripted (needs --function and --fix), or openai:URL#MODEL (an OpenAI-compatible chat server)."),
    tests: list[str] = typer.Option(..., "--test", help="A failing test's pytest id (repeat the option for more)."),
    function: Optional[str] = typer.Option(None, "--function", help="scripted: the name of the broken function."),
    fix: Optional[Path] = typer.Option(None, "--fix", help="scripted: a file holding the function's correct source."),
    path: Optional[str] = typer.Option(None, "--file", help="scripted: the file the function is in (default: where grep finds it)."),
    task_id: str = typer.Option("", "--task", help="The task's id, recorded in the trajectory."),
    max_steps: int = typer.Option(30, "--max-steps", min=1, help="Steps before the episode is stopped (it ends sooner when the policy submits)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help=CACHE_HELP),
) -> None:
    """Let a policy work a repair task (failing tests) in a sandboxed copy of a project; record the trajectory."""
    from codewm.apps.agent.episode import run_episode
    from codewm.apps.agent.explorer import RepairTask, ScriptedExplorer, repair_instructions

    if policy == "scripted":
        if function is None or fix is None:
            fail("--policy scripted needs --function and --fix (the function's correct source)")
        try:
            task = RepairTask(tuple(tests), function, path=path, fixed_text=fix.read_text())
        except (OSError, ValueError) as exc:
            fail(f"{fix}: {exc}" if isinstance(exc, OSError) else str(exc))
        chooser, instructions = ScriptedExplorer(task), task.instructions()
    elif policy.startswith("openai:"):
        from codewm.apps.agent.llm_policy import OpenAIChatPolicy

        instructions = repair_instructions(tests)
        try:
            chooser = OpenAIChatPolicy(policy, instructions)
        except (ValueError, ConnectionError) as exc:
            fail(str(exc))
    else:
        fail(f"--policy must be scripted or openai:URL#MODEL, got {policy!r}")
    found = open_project(project, cache)
    with open_workspace(found) as workspace:
        trajectory = run_episode(workspace, chooser, max_steps, task=task_id, instructions=instructions, path=out, info={"failing_tests": list(tests)})
    for step in trajectory.steps:
        typer.echo(f"{step.step:>3} {step.action:<10} exit {step.exit_code!s:<4} {step.seconds:6.2f} s  {step.observation.splitlines()[0][:70] if step.observation else ''}")
    changed = sum(line.startswith("+++ ") for line in trajectory.steps[-1].diff.splitlines()) if trajectory.steps else 0
    typer.echo(f"{'submitted' if trajectory.submitted else 'stopped at --max-steps'} after {len(trajectory.steps)} steps; {changed} file{'' if changed == 1 else 's'} changed; trajectory: {out}")


@repo_app.command("agent-mutants")
def agent_mutants_command(
    mutants: Path = typer.Argument(..., help="A results file of mutate-and-verify (NAME-VERSION.mutants.jsonl); its kept mutants become repair tasks."),
    project: str = typer.Argument(..., help="The unmutated project the mutants were made from: " + PROJECT_HELP),
    out_dir: Path = typer.Option(..., "--out-dir", help="Where the trajectories (trajectories/ID.jsonl) and summary.jsonl go; a rerun resumes there."),
    count: int = typer.Option(100, "--count", min=1, help="How many mutants to work (the operators taken in turn, the same selection every run)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the selection's order within each operator."),
    max_steps: int = typer.Option(40, "--max-steps", min=1, help="Steps before an episode is stopped (it ends sooner when the explorer submits)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help=CACHE_HELP),
) -> None:
    """The scripted explorer works each selected mutant's repair task, sandboxed; each trajectory is replayed (tests run again) as the check."""
    from codewm.apps.agent.mutant_runs import RunsError, run_mutant_tasks
    from codewm.apps.agent.mutant_tasks import MutantTaskError
    from codewm.dataset.read import DatasetError
    from codewm.repo.workspace import WorkspaceError

    found = open_project(project, cache)

    def show(result: dict) -> None:
        flags = f"green {'yes' if result['all_green'] else 'NO '}  replay {'same' if result['replay_identical'] else 'DIFFERS'}"
        typer.echo(f"{result['task']} {result['operator']:<18} {result['steps']:>3} steps {result['seconds']:7.1f} s  {flags}  {result['error'][:80]}".rstrip())

    try:
        results = run_mutant_tasks(mutants, found, count, out_dir, seed=seed, max_steps=max_steps, on_result=show)
    except (MutantTaskError, RunsError, WorkspaceError, DatasetError, OSError) as exc:
        fail(str(exc))
    green = sum(r["all_green"] for r in results)
    same = sum(r["replay_identical"] for r in results)
    typer.echo(f"{len(results)} trajectories: {green} end with every test passing, {same} replay byte-identically; summary: {out_dir / 'summary.jsonl'}")


@repo_app.command("agent-export")
def agent_export_command(
    trajectories: list[Path] = typer.Argument(..., help="Trajectory files (JSONL, as `codewm repo agent` and `agent-mutants` write them)."),
    out: Path = typer.Option(..., "--out", help="Where to write the texts: JSONL, one line per trajectory ({task, policy, project, steps, text})."),
) -> None:
    """Export trajectories as training text in CWM's agentic chat format (docs/repo.md, "Export as training text")."""
    import json

    from codewm.apps.agent.export import ExportError, to_cwm_text
    from codewm.apps.agent.trajectory import TrajectoryError, read_trajectory
    from codewm.dataset.read import DatasetError, atomic_write

    lines = []
    for path in trajectories:
        try:
            trajectory = read_trajectory(path)
            text = to_cwm_text(trajectory)
        except (OSError, TrajectoryError, ExportError) as exc:
            fail(f"{path}: {exc}")
        lines.append(json.dumps({"task": trajectory.task, "policy": trajectory.policy, "project": trajectory.project,
                                 "steps": len(trajectory.steps), "text": text}, ensure_ascii=False) + "\n")
    try:
        atomic_write(out, "".join(lines).encode())
    except (OSError, DatasetError) as exc:
        fail(str(exc))
    typer.echo(f"{len(lines)} trajectories exported to {out} ({sum(len(line) for line in lines)} characters)")
