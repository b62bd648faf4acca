"""The `SuiteRunner` that verifies mutants in the sandbox: what `codewm repo mutate` uses.

    runner = SandboxedSuiteRunner(timeout=60)
    verify_mutants(root, mutants, runner, out=path)

Each call copies the folder it is given (the verifier's private copy, holding one mutant) into
a fresh `Workspace` and runs the tests there with `codewm.repo.suite.run_tests`, under the
workspace's sandbox: no network, no file of the host's but the system's and this Python's
(read-only), a wall clock that kills everything inside. A mutant that writes into its copy
writes into a copy of a copy, deleted when the run ends, so nothing it does reaches the next
mutant's run either.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from codewm.repo.project import Project, local_project
from codewm.repo.suite import ReportError, TestReport, run_tests
from codewm.repo.verify import SuiteRun
from codewm.repo.workspace import Workspace, WorkspaceLimits

RUNNER_NAME = "sandbox"
# pytest's exit statuses that mean the run itself broke (interrupted, internal error, usage
# error): its outcomes are not a verdict on the code.
BROKEN_RUN_STATUSES = (2, 3, 4)
OUTPUT_TAIL_LINES = 30


class SandboxedSuiteRunner:
    """Run pytest in a sandboxed workspace made from the folder given; each test's outcome
    from codewm's report plugin. The folder is run as `project` says (its `pytest_options`,
    `test_paths`, `python_path`; by default what `local_project` finds in the folder); a run
    past `timeout` seconds is killed with the whole sandbox and reported as timed out."""

    name = RUNNER_NAME

    def __init__(self, project: Project | None = None, timeout: float = 600.0,
                 limits: WorkspaceLimits | None = None) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.project = project
        self.timeout = timeout
        self.limits = limits

    def __call__(self, project_dir: Path, tests: Sequence[str] | None) -> SuiteRun:
        if self.project is None:
            project = local_project(project_dir)
        else:
            project = replace(self.project, root=Path(project_dir).resolve())
        with Workspace(project, limits=self.limits) as workspace:
            try:
                report = run_tests(workspace, list(tests) if tests else None, timeout=self.timeout)
            except ReportError as exc:
                # No report, or one the tests tampered with: pytest did not get to judge the code
                # (a conftest that no longer imports stops pytest before any test).
                return SuiteRun({}, collection_error=str(exc))
        return suite_run(report)


def suite_run(report: TestReport) -> SuiteRun:
    """The verifier's view of a sandboxed run: a collector that failed (a test module that no
    longer imports) or a broken pytest run is a `collection_error`, with pytest's last lines."""
    if report.timed_out:
        return SuiteRun(dict(report.outcomes), timed_out=True)
    error = ""
    if report.collection_errors:
        error = f"could not collect {', '.join(report.collection_errors)}"
    elif report.exit_code in BROKEN_RUN_STATUSES:
        error = f"pytest exit status {report.exit_code}"
    if error:
        tail = "\n".join(report.output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
        error = f"{error}:\n{tail}"
    return SuiteRun(dict(report.outcomes), collection_error=error)
