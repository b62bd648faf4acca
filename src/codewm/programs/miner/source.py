"""Mining: run every candidate call in the sandbox, keep the clean and deterministic ones; `mine` and `MinedSource`."""

from __future__ import annotations

import os
from collections import Counter
from typing import Iterable, Iterator

from codewm.programs.base import ProgramCase, SourceConfigError
from codewm.programs.miner.calls import build_call_site_index, candidate_calls
from codewm.programs.miner.discovery import (
    ParsedFunction, ParsedModule, build_program, default_path, discover_modules, eligible, parse_module,
)
from codewm.programs.miner.report import FunctionResult, MiningReport, ModuleReport, reason_order
from codewm.programs.miner.values import hypothesis_available
from codewm.trace.sandbox import Program, RunResult, Sandbox, SandboxError, SandboxLimits
from codewm.types import Trace

INPUT_SOURCES = ("doctest", "call_site", "defaults", "type_hints", "hypothesis")
DEFAULT_LIMITS = SandboxLimits(cpu_seconds=2.0, wall_seconds=2.0, memory_bytes=512 << 20, max_steps=2000)


def _classify(function: str, result: RunResult) -> str | None:
    """Why a first run disqualifies a call, or None if it may be kept."""
    if result.touched:
        return "touched"
    if result.status != "ok":
        return result.status
    if not any(f.event == "call" and f.depth == 1 and f.function == function for f in result.trace.frames):
        return "not_traced"
    return None


def _function_reason(outcomes: list[str]) -> str:
    """Why a function kept no call, from its calls' outcomes (see docs/programs.md, "Keeping a call")."""
    if not outcomes:
        return "no_inputs"
    counts = Counter(o for o in outcomes if o not in ("kept", "unchecked"))
    for strong in ("touched", "nondeterministic"):
        if counts[strong]:
            return strong
    return min(counts, key=lambda r: (-counts[r], reason_order(r))) if counts else "unchecked"


def mine(
    path: str | None = None,
    modules: Iterable[str] | None = None,
    max_functions: int | None = None,
    max_calls_per_function: int = 3,
    seed: int = 0,
    workers: int = 2,
    include_private: bool = False,
    limits: SandboxLimits | None = None,
    sandbox: Sandbox | None = None,
) -> MiningReport:
    """Mine a folder (default: the standard library); docs/programs.md, "The miner", says how."""
    root = os.path.abspath(path or default_path())
    if not os.path.isdir(root):
        raise SourceConfigError(f"miner: {root} is not a folder")
    if max_calls_per_function < 1:
        raise SourceConfigError("miner: max_calls_per_function must be at least 1")
    if max_functions is not None and max_functions < 0:
        raise SourceConfigError("miner: max_functions must not be negative")
    use_hypothesis = hypothesis_available()
    report = MiningReport(root=root, hypothesis=use_hypothesis)
    parsed, functions = _eligible_functions(report, discover_modules(root, modules, include_private), max_functions)
    reports = {module_report.module: module_report for module_report in report.modules}

    # candidate calls and programs
    call_sites = build_call_site_index(parsed)
    per_source = max_calls_per_function
    total = max(4, 3 * max_calls_per_function)
    results: list[FunctionResult] = []
    programs: list[str] = []
    for function in functions:
        result = FunctionResult(function.module.name, function.name)
        result.candidates = candidate_calls(function, call_sites, per_source, total, seed, use_hypothesis)
        results.append(result)
        programs.append(build_program(function))
        if result.candidates:
            reports[result.module].with_inputs += 1
    report.functions = results

    if any(result.candidates for result in results):
        own = sandbox is None
        box = sandbox or Sandbox(limits=limits or DEFAULT_LIMITS, workers=workers)
        try:
            report.isolation = box.isolation
            _run_candidates(box, functions, results, programs, max_calls_per_function)
        finally:
            if own:
                box.close()
    _collect_cases(report, results, programs)
    return report


def _eligible_functions(
    report: MiningReport, found: list[tuple[str, str]], max_functions: int | None,
) -> tuple[list[ParsedModule], list[ParsedFunction]]:
    """Parse the modules found and collect their eligible functions, up to max_functions; count them in `report`."""
    parsed: list[ParsedModule] = []
    functions: list[ParsedFunction] = []
    for name, file_path in found:
        if max_functions is not None and len(functions) >= max_functions:
            break
        try:
            module = parse_module(name, file_path)
        except (SyntaxError, ValueError, UnicodeDecodeError, OSError, RecursionError, MemoryError) as exc:
            report.parse_errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        parsed.append(module)
        module_report = ModuleReport(name, file_path)
        report.modules.append(module_report)
        for node in module.tree.body:
            if max_functions is not None and len(functions) >= max_functions:
                break
            function, skipped = eligible(module, node)
            if skipped:
                module_report.skipped[skipped] += 1
            if function is not None:
                functions.append(function)
                module_report.found += 1
    return parsed, functions


def _run_candidates(
    box: Sandbox, functions: list[ParsedFunction], results: list[FunctionResult], programs: list[str], max_calls_per_function: int,
) -> None:
    """Run every candidate once, then the first passing ones of each function again.

    Fills each result's `outcomes` ("kept" or the reason) and `errors` (of the first run).
    """
    runs = [(i, call) for i, result in enumerate(results) for call, _ in result.candidates]
    first = list(box.map(Program.function(programs[i], call, audit=True) for i, call in runs))
    if all(r.status == "sandbox_error" for r in first):
        raise SandboxError(f"miner: the sandbox failed on every run: {first[0].error}")
    reruns: list[tuple[int, int]] = []  # (function index, candidate index)
    position = 0
    for i, result in enumerate(results):
        passing = 0
        for c, (call, _) in enumerate(result.candidates):
            reason = _classify(functions[i].name, first[position + c])
            result.errors.append(first[position + c].error)
            if reason is None:
                passing += 1
                reason = "rerun" if passing <= max_calls_per_function else "unchecked"
                if reason == "rerun":
                    reruns.append((i, c))
            result.outcomes.append(reason)
        position += len(result.candidates)
    offsets = list(_offsets(results))
    # The second run starts from another working directory (one untraced line after
    # the function), so that a call depending on it cannot pass by chance, as it could
    # when both runs happen to get equally named private directories.
    second = list(
        box.map(Program.function(programs[i] + _ELSEWHERE, results[i].candidates[c][0], audit=True) for i, c in reruns)
    )
    for (i, c), again in zip(reruns, second):
        before = first[offsets[i] + c].trace
        # equal traces, but for that one line of program text
        same = again.status == "ok" and not again.touched and Trace(before.context, again.trace.frames, again.trace.complete) == before
        results[i].outcomes[c] = "kept" if same else "nondeterministic"


def _collect_cases(report: MiningReport, results: list[FunctionResult], programs: list[str]) -> None:
    """The cases of the kept calls, and every count of the report."""
    reports = {module_report.module: module_report for module_report in report.modules}
    for i, result in enumerate(results):
        module_report = reports[result.module]
        for (call, input_from), outcome in zip(result.candidates, result.outcomes):
            module_report.outcomes[outcome] += 1
            if outcome == "kept":
                n = len(result.cases)
                result.cases.append(
                    ProgramCase(
                        source=programs[i],
                        call=call,
                        origin="miner",
                        id=f"miner/{result.module}.{result.function}#{n}",
                        meta={"module": result.module, "function": result.function, "input_from": input_from},
                    )
                )
        if result.cases:
            module_report.kept_functions += 1
            module_report.kept_calls += len(result.cases)
        else:
            result.reason = _function_reason(result.outcomes)
            module_report.rejected[result.reason] += 1
        report.cases.extend(result.cases)


_ELSEWHERE = "__import__('os').chdir('/')\n"


def _offsets(results: list[FunctionResult]) -> Iterator[int]:
    """The position of each function's first candidate in the flat list of runs."""
    position = 0
    for result in results:
        yield position
        position += len(result.candidates)


class MinedSource:
    """Functions mined from a folder of Python source (default: the standard library)."""

    name = "miner"

    def __init__(
        self,
        path: str | None = None,
        modules: list[str] | None = None,
        max_functions: int | None = None,
        max_calls_per_function: int = 3,
        seed: int = 0,
        workers: int = 2,
        include_private: bool = False,
    ) -> None:
        if path is not None and not os.path.isdir(path):
            raise SourceConfigError(f"miner: {path} is not a folder")
        if isinstance(modules, str):
            modules = [modules]
        if max_calls_per_function < 1 or workers < 1:
            raise SourceConfigError("miner: max_calls_per_function and workers must be at least 1")
        self.path = path
        self.modules = None if modules is None else list(modules)
        self.max_functions = max_functions
        self.max_calls_per_function = max_calls_per_function
        self.seed = seed
        self.workers = workers
        self.include_private = include_private
        self._report: MiningReport | None = None

    @property
    def report(self) -> MiningReport:
        """The mining report (mines on first use)."""
        if self._report is None:
            self._report = mine(
                self.path, self.modules, self.max_functions, self.max_calls_per_function,
                self.seed, self.workers, self.include_private,
            )
        return self._report

    def cases(self) -> Iterator[ProgramCase]:
        yield from self.report.cases
