"""`codewm rank`: rank candidate programs by predicted execution, run the real test in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app
from codewm.cli.common import MODEL_HELP, STRUCTURED_HELP, fail, load_model


@app.command()
def rank(
    solutions: Path = typer.Argument(..., help="Candidates, CodeT's format: JSONL rows {prompt, samples} (samples: the function bodies)."),
    tests: Path = typer.Argument(..., help="Model-written tests, CodeT format: JSONL rows {prompt, samples} (samples: the text after 'assert ')."),
    tasks: Path = typer.Argument(..., help="The tasks: HumanEval-style JSONL rows {task_id, prompt, entry_point, test}."),
    task: Optional[list[str]] = typer.Option(None, "--task", "-t", help="Rank only this task id (repeatable); default: every task."),
    model: str = typer.Option("oracle", "--model", "-m", help=MODEL_HELP + " The oracle runs every test for real."),
    structured: Optional[bool] = typer.Option(None, "--structured/--free", help=STRUCTURED_HELP),
    by: str = typer.Option("agreement", "--by", help="agreement: CodeT's dual agreement (candidates x tests passed, the expected values used) | behaviour: the biggest cluster of candidates with the same values on the test inputs first (MBR-exec, AlphaCode; no expected values)."),
    direct: bool = typer.Option(False, "--direct", help="A model steps over each call: predicts its value without the body's frames (2 frames a test, not the whole trace)."),
    verify: bool = typer.Option(False, "--verify", help="Run the hidden test (the task's `check`) in rank order until one candidate passes."),
    max_runs: Optional[int] = typer.Option(None, "--max-runs", help="With --verify: hidden-test runs per task at most."),
    test_limit: int = typer.Option(5, "--test-limit", help="Tests kept from each test sample (CodeT: the first 5)."),
    per_test_seconds: float = typer.Option(0.1, "--per-test-seconds", help="CPU seconds each real test may run (CodeT: 0.1)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="JSONL file of predictions and real results, reused and extended (resumes a killed run)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write every ranking (predictions with confidence, clusters, runs) here."),
    top: int = typer.Option(5, "--top", help="Clusters shown per task."),
    isolation: str = typer.Option("auto", help="auto | bwrap | process: the sandbox of the real runs."),
) -> None:
    """Rank each task's candidates by CodeT's dual agreement (or by behaviour) on predicted results of the tests."""
    from codewm.apps.rank.loop import RANK_BY
    from codewm.apps.rank.loop import rank as rank_candidates
    from codewm.apps.rank.pool import PoolError, read_pool
    from codewm.apps.rank.predictions import Predictions
    from codewm.trace.sandbox import Sandbox, SandboxError

    if by not in RANK_BY:
        fail(f"--by {by!r}: expected one of {', '.join(RANK_BY)}")
    if max_runs is not None and max_runs < 1:
        fail("--max-runs must be at least 1")
    if not per_test_seconds > 0:
        fail("--per-test-seconds must be positive")
    try:
        pool = read_pool(solutions, tests, tasks, test_limit=test_limit)
    except (PoolError, ValueError) as exc:
        fail(str(exc))
    if task:
        known = {p.task.task_id for p in pool}
        missing = [t for t in task if t not in known]
        if missing:
            fail(f"no task {missing[0]!r} in {tasks}")
        pool = [p for p in pool if p.task.task_id in task]
    try:
        sandbox = Sandbox(workers=2, isolation=isolation)
    except (SandboxError, ValueError) as exc:
        fail(str(exc))
    for note in sandbox.isolation_notes:
        typer.secho(f"warning: {note}", fg=typer.colors.YELLOW, err=True)
    predictor = load_model(model, structured)
    predictions = Predictions(predictor, sandbox, cache, per_test_seconds=per_test_seconds, direct=direct)
    documents = []
    try:
        for problem in pool:
            try:
                ranking = rank_candidates(problem.task, problem.candidates, problem.tests, predictions=predictions, verify=verify, max_runs=max_runs, by=by)
            except ValueError as exc:
                fail(str(exc))
            for line in summary_lines(ranking, top, by):
                typer.echo(line)
            documents.append(ranking.to_json())
    finally:
        predictions.close()
        sandbox.close()
        if getattr(predictor, "close", None) is not None:
            predictor.close()
    reused = f" ({predictions.cache.reused} answers from the cache)" if predictions.cache is not None else ""
    typer.echo(
        f"{getattr(predictor, 'name', model)}: {predictions.calls} predictor calls in {predictions.seconds:.1f} s{reused}; "
        f"{predictions.hidden_runs} hidden-test runs in rank order"
    )
    if json_out is not None:
        from codewm.dataset.read import atomic_write

        atomic_write(json_out, (json.dumps(documents, indent=1) + "\n").encode())


def summary_lines(ranking, top: int, by: str = "agreement") -> list[str]:
    """A readable account of one ranking: the clusters, the loose candidates, the runs."""
    n = len(ranking.candidates)
    lines = [f"{ranking.task.task_id}: {n} distinct candidates ({sum(ranking.counts)} written), {len(ranking.tests)} tests; {len(ranking.clusters)} clusters"]
    for place, cluster in enumerate(ranking.clusters[:top], 1):
        confidences = [p.confidence for i in cluster.members for p in ranking.predictions[i]]
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        members = f"candidates {', '.join(map(str, cluster.members[:8]))}{' ...' if len(cluster.members) > 8 else ''}; mean confidence {mean:.2f}"
        if by == "behaviour":
            alike = "1 candidate" if cluster.size == 1 else f"{cluster.size} candidates behave alike"
            lines.append(f"  #{place}: {alike}, passing {len(cluster.tests)} tests ({members})")
        else:
            lines.append(f"  #{place} score {cluster.score:.1f}: {cluster.size} candidates agree on {len(cluster.tests)} tests ({members})")
    loose = n - sum(len(c.members) for c in ranking.clusters)
    if loose:
        why = "with no predicted value" if by == "behaviour" else "predicted to pass no test"
        lines.append(f"  ranked last: {loose} candidates {why}")
    for step, (index, outcome) in enumerate(ranking.runs, 1):
        verdict = "PASSED" if outcome.passed else f"failed ({outcome.status})"
        lines.append(f"  run {step}: candidate {index} (cluster {ranking.cluster_of(index)}) hidden test {verdict}")
    if ranking.runs and ranking.winner is None:
        lines.append(f"  no candidate passed in {len(ranking.runs)} runs")
    return lines
