"""`codewm repo mutate`: mutate-and-verify tasks from a real project (issue 18, item 2).

Mutants of the project's functions of cyclomatic complexity >= --min-complexity, each verified
by running the tests of its module in the sandbox (`codewm.repo.sandboxed_runner`): kept when a
test that passed on the original fails. The results file is rewritten after every mutant, and
a rerun with the same --out (and the same options) resumes after the mutants it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from codewm.cli.common import fail
from codewm.cli.repo_commands import CACHE_HELP, PROJECT_HELP, open_project, repo_app


def yield_table(table: dict[str, dict]) -> list[str]:
    """The per-operator yield (kept / tried) and why the others were dropped, as lines."""
    lines = [f"{'operator':20} {'kept':>5} {'tried':>6} {'yield':>6}  dropped"]
    for operator, row in table.items():
        dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(row["dropped"].items()))
        lines.append(f"{operator:20} {row['kept']:5} {row['tried']:6} {row['kept'] / row['tried']:6.0%}  {dropped}".rstrip())
    return lines


@repo_app.command("mutate")
def mutate_command(
    project: str = typer.Argument(..., help=PROJECT_HELP),
    out: Path = typer.Option(..., "--out", help="The results file (JSONL: a header, then one line per mutant tried). If it exists, the run resumes after the mutants it holds."),
    max_mutants: int = typer.Option(100, "--max-mutants", min=1, help="Mutants to verify in all (those already in --out count), the operators taken in turn."),
    seed: int = typer.Option(0, "--seed", help="Seed of which edits each operator makes and of the sample."),
    per_function: int = typer.Option(40, "--per-function", min=1, help="Mutants generated per function at most."),
    per_operator: int = typer.Option(8, "--per-operator", min=1, help="Mutants generated per function and operator at most."),
    min_complexity: int = typer.Option(3, "--min-complexity", min=1, help="Only functions of at least this cyclomatic complexity are mutated."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds one run of a mutant's tests may take (the baseline's run too); past them the sandbox is killed and the mutant dropped (timeout)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help=CACHE_HELP),
) -> None:
    """Break a project's functions on purpose; keep the mutants some passing test catches (verified in the sandbox)."""
    from codewm.repo.mutate import MutateError, generate_mutants, sample_mutants
    from codewm.repo.sandboxed_runner import SandboxedSuiteRunner
    from codewm.repo.verify import VerifyError, read_results, verify_mutants
    from codewm.repo.workspace import WorkspaceError

    if not timeout > 0:
        fail("--timeout must be positive")
    if out.is_dir():
        fail(f"--out {out}: is a folder; give the results file's path")
    if not out.parent.is_dir():
        fail(f"--out {out}: the folder {out.parent} does not exist")
    found = open_project(project, cache)
    label = f"{found.name} {found.version}".strip()
    try:
        mutants = generate_mutants(found.root, seed=seed, per_function=per_function,
                                   per_operator=per_operator, min_complexity=min_complexity)
    except MutateError as exc:
        fail(str(exc))
    if not mutants:
        fail(f"{found.root}: no mutant to make (no function of cyclomatic complexity >= {min_complexity} in the project's sources)")
    chosen = sample_mutants(mutants, max_mutants, seed=seed)
    recorded: set[str] = set()
    if out.exists():
        try:
            recorded = {record.get("id") for record in read_results(out)[1]}
        except (VerifyError, OSError, UnicodeDecodeError) as exc:
            fail(f"--out {out}: {exc}")
    pending = sum(mutant.id not in recorded for mutant in chosen)
    typer.echo(f"{label}: {len(mutants)} mutants of functions of complexity >= {min_complexity}; "
               f"{pending} to verify in the sandbox" + (f" ({len(chosen) - pending} already in {out})" if pending < len(chosen) else ""))
    options = {"seed": seed, "per_function": per_function, "per_operator": per_operator, "min_complexity": min_complexity}

    verified_now = []

    def progress(record: dict) -> None:
        verified_now.append(record["id"])
        verdict = f"{len(record['failing_tests'])} failing" if record["status"] == "kept" else record["reason"]
        typer.echo(f"  {record['status']:7} {record['operator']:18} {record['seconds']:6.1f} s  {record['file']}:{record['line']} {record['qualname']}: {verdict}", err=True)

    runner = SandboxedSuiteRunner(found, timeout=timeout)
    try:
        report = verify_mutants(found.root, chosen, runner, out=out, options=options, on_result=progress)
    except (VerifyError, WorkspaceError) as exc:
        fail(str(exc))
    for line in yield_table(report.yield_by_operator()):
        typer.echo(line)
    tried = len(report.records)
    kept = len(report.kept)
    typer.echo(f"kept {kept} of {tried} mutants tried ({kept / max(tried, 1):.0%}; {len(verified_now)} verified by this run), "
               f"baseline {report.baseline_passed} passing tests; results: {out}")
