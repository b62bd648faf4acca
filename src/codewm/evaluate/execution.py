"""Run benchmark checks: programs that pass when they run to their end without an error.

Execution benchmarks (CRUXEval, LiveCodeBench's execution scenario) score an answer by
running `{code}\\nassert {output} == {answer}` in a fresh process with a 3 s limit. Here every
check runs untraced (`Program.check`: no recorder, full speed) in a sandboxed process of its
own (`Sandbox.map(..., batch_size=1)`), so a generation can neither harm the machine that runs
the checks nor see what another one left behind.

    results = run_checks(["assert 1 + 1 == 2", "assert 1 == 2", "while True: pass"], timeout=1)
    [r.passed for r in results]  # [True, False, False]
    [r.status for r in results]  # ['ok', 'exception', 'timeout']
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from codewm.trace.sandbox import Program, Sandbox, SandboxError, SandboxLimits

DEFAULT_TIMEOUT = 3.0  # seconds, as CRUXEval's and LiveCodeBench's scorers allow


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: `passed` when the program ran to its end (status ok)."""

    passed: bool
    status: str  # a sandbox status: ok, exception, timeout, memory_limit, crashed, syntax_error, ...
    error: str | None = None  # the exception or the limit, when not passed


def check_limits(timeout: float = DEFAULT_TIMEOUT, base: SandboxLimits | None = None) -> SandboxLimits:
    """`base` (default: the sandbox defaults) with a wall-clock and a CPU limit of `timeout` s."""
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return replace(base or SandboxLimits(), wall_seconds=float(timeout), cpu_seconds=float(timeout))


def run_checks(
    programs: list[str],
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
    sandbox: Sandbox | None = None,
) -> list[CheckResult]:
    """Run each program (a whole Python script) in a fresh sandboxed process, untraced,
    within `timeout` seconds of wall-clock and of CPU time; one result per program, in order.

    `sandbox`: a Sandbox to reuse (its workers and other limits; the time limit is still
    `timeout`); else one with `workers` workers is made and closed here. `progress(n)` is
    called with the number of checks just finished (1 at a time), for progress bars.

    Raises SandboxError when the sandbox itself fails (status sandbox_error): that is no
    verdict on a program, and scoring on would understate the results.
    """
    programs = list(programs)
    for index, program in enumerate(programs):
        if not isinstance(program, str):
            raise TypeError(f"check {index} is not a program text: {type(program).__name__}")
    if not programs:
        return []
    if sandbox is None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        with Sandbox(check_limits(timeout), workers=workers) as own:
            return _run(own, programs, check_limits(timeout), progress)
    return _run(sandbox, programs, check_limits(timeout, sandbox.limits), progress)


def _run(sandbox: Sandbox, programs: list[str], limits: SandboxLimits, progress) -> list[CheckResult]:
    results = []
    for run in sandbox.map([Program.check(p) for p in programs], batch_size=1, limits=limits):
        if run.status == "sandbox_error":
            raise SandboxError(f"the sandbox failed while checking program {len(results)}: {run.error}")
        results.append(CheckResult(run.status == "ok", run.status, run.error))
        if progress is not None:
            progress(1)
    return results
