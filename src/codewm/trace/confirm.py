"""Confirm traced runs by running each program again, untraced and sealed.

A traced run is reported by codewm's Python code inside the program's own process, so a
program that reaches codewm's objects can forge its report (docs/tracer.md, "Trust
boundary"). An untraced run in a fresh sandboxed process is sealed instead
(`codewm.trace._csealed`): its status, return value and output come from C code the
program cannot reach. `confirm` re-runs every run that claims to have finished (ok or
exception) that way and turns each one whose claim the re-run contradicts into a crash:

    results = confirm(sandbox, programs, sandbox.map(programs))

What it confirms: the status, the exception's type, the return value of a call (where it
is a plain value: ints, floats, strs, bools, None, small built-in containers of them, that
the trace shows whole) and the output. What it cannot: the steps in between.
"""

from __future__ import annotations

from dataclasses import replace

from codewm.trace.sandbox import Program, Sandbox, SandboxLimits
from codewm.types import RunResult

CONFIRMED_STATUSES = ("ok", "exception")  # the claims a program could want to forge


def traced_return(result: RunResult) -> str | None:
    """The value the traced entry point returned, as the trace shows it (None if none)."""
    frames = result.trace.frames
    if frames and frames[-1].event == "return" and frames[-1].depth == 0:
        return frames[-1].value
    return None


def rerun_of(program: Program) -> Program:
    """The same program, untraced (hence sealed), compiled afresh in the sandbox."""
    return replace(program, traced=False, compiled=None, audit=False)


def contradiction(claim: RunResult, returned: str | None, rerun: RunResult, max_value_chars: int, script: bool, values: bool = True) -> str | None:
    """How the re-run contradicts the traced run's claim, or None where it agrees; with
    `values` False only the status and the exception's type are compared."""
    if rerun.status != claim.status:
        return f"the traced run reported {claim.status}, an untraced re-run {rerun.status} ({rerun.error})"
    if claim.status == "exception" and _exception_type(claim.error) != _exception_type(rerun.error):
        return f"the traced run raised {claim.error}, an untraced re-run {rerun.error}"
    if not values:
        return None
    # The re-run gives a plain value's whole repr; the trace shows the same text unless the
    # renderer had to shorten it.
    if claim.status == "ok" and not script and rerun.returned is not None and len(rerun.returned) <= max_value_chars:
        if returned != rerun.returned:
            return f"the traced run returned {returned}, an untraced re-run {rerun.returned}"
    if claim.stdout != rerun.stdout:
        return "the traced run's output differs from an untraced re-run's"
    return None


def _exception_type(error: str | None) -> str:
    return (error or "").partition("(")[0]


def confirm(
    sandbox: Sandbox,
    programs: list[Program],
    results: list[RunResult],
    returned: list[str | None] | None = None,
    limits: SandboxLimits | None = None,
    values: bool = True,
) -> list[RunResult]:
    """`results` (of `programs`, traced in `sandbox`) with every ok or exception run that an
    untraced, sealed re-run contradicts turned into status crashed; a run the sandbox could
    not re-run becomes a sandbox_error. `returned`, where given, is what each traced run
    returned (a caller that formatted its runs has no frames); else read from the frames.
    The re-runs of one call run one after another in one worker, each in a fresh process.

    `values=False` compares only the status and the exception's type: for runs whose steps
    travelled and were checked against the tracer's MAC (the return value is in them), so
    that a program printing the time or a random number is not turned into a crash."""
    results = list(results)
    if returned is None:
        returned = [traced_return(result) for result in results]
    limits = limits or sandbox.limits
    todo = [index for index, result in enumerate(results) if result.status in CONFIRMED_STATUSES]
    reruns = sandbox.run_batch([rerun_of(programs[index]) for index in todo], limits=limits)
    for index, rerun in zip(todo, reruns):
        claim = results[index]
        if rerun.status == "sandbox_error":
            results[index] = replace(claim, status="sandbox_error", error=f"the run could not be confirmed: {rerun.error}")
            continue
        problem = contradiction(claim, returned[index], rerun, limits.max_value_chars, programs[index].script, values)
        if problem is not None:
            results[index] = replace(claim, status="crashed", error=f"not confirmed by an untraced re-run: {problem}")
    return results
