"""The call-level world model: a test fails when one of its calls would return otherwise.

For a mutant, each test's recorded literal calls (`codewm.repo.calls_plugin`, version 2) of
the mutated function become program cases twice (`codewm.repo.traces.build_cases`): with the
self-contained program of the original file, and with that of the mutated file. A predictor
says what each call returns (or raises) on both; the test is predicted to fail when some
call's result differs, with the share of its calls that differ as its score.

`scope`: `function` takes the calls of the mutated function itself (a method's class when the
unit is a class, the enclosing function for a nested one); `program` the calls of every
recorded function whose self-contained program contains the change (its callers too).

The predictor is any of codewm's (`Predictions` of `codewm.apps.rank`, cached): `oracle`
runs both programs for real in the sandbox (one harness process per program, every call in
it), which makes this the method's upper bound; a model predicts each call's trace from the
program's text and the call. What it sees: the recorded literal calls of each test and the
two programs' text (never the tests' assertions, never calls with non-literal arguments,
never the calls a test makes through objects the plugin could not rebuild). What it cannot
see: a test whose calls of the function were not literal, or were cut by the plugin's cap;
a difference that shows only in state the call leaves behind (a mutated argument, a global).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from codewm.apps.mutant_tests.cases import MutantCase, enclosing_function, in_unit
from codewm.apps.mutant_tests.metrics import Guess
from codewm.apps.rank.asserts import TestCase
from codewm.apps.rank.predictions import Predictions, is_oracle
from codewm.programs.base import ProgramCase
from codewm.repo.mutate import apply_diff
from codewm.repo.traces import RecordedCalls, RecordedFunction, build_cases

SCOPES = ("function", "program")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


@dataclass(frozen=True)
class CallPair:
    """One recorded call with its program on the original and on the mutated code."""

    call: str
    original: str
    mutant: str
    tests: frozenset[str]


def result_of_outcome(outcome) -> tuple:
    """What a real run of a call gave: its value's repr (addresses blanked: two runs of the
    same program differ there), the exception's type, or how the run ended."""
    if outcome.status == "passed":
        return ("value", _ADDRESS.sub(" at 0x?", outcome.output or ""))
    if outcome.status == "exception":
        return ("raises", (outcome.error or "").partition(":")[0])
    return (outcome.status,)


def result_of_prediction(prediction) -> tuple:
    """What a model predicted a call gives: how decoding ended and the value it read."""
    return (prediction.status, None if prediction.output is None else _ADDRESS.sub(" at 0x?", prediction.output))


def _python_tree(source: Path, target: Path) -> None:
    """The project's .py files (all a program can be made from), copied under `target`."""
    def ignore(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n.startswith(".") or n == "__pycache__" or (not n.endswith(".py") and not (Path(folder) / n).is_dir())]

    shutil.copytree(source, target, ignore=ignore, symlinks=True)


class CallLevelGuesser:
    """`guesser(case) -> Guess`; `stats` counts what it did, `predictions` the predictor's
    calls and seconds."""

    def __init__(self, root: str | Path, calls: RecordedCalls, predictions: Predictions, *, scope: str = "function",
                 max_calls: int = 256, project: str = "project") -> None:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if any(f.tests is None for f in calls.functions):
            raise ValueError("the calls file has no tests per call (version 1): record it again with this codewm")
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        self.root = Path(root).resolve()
        self.calls = calls
        self.predictions = predictions
        self.scope = scope
        self.max_calls = max_calls
        self.project = project
        self.stats: Counter = Counter()
        self._original = self._cases(self.root, calls.functions)
        self._texts: dict[str, str] = {}

    @property
    def name(self) -> str:
        model = getattr(self.predictions.predictor, "name", type(self.predictions.predictor).__name__)
        return f"world[{model},{self.scope}]"

    def _cases(self, root: Path, functions: list[RecordedFunction]) -> dict[tuple[str, str, int, int], ProgramCase]:
        """Program cases by (file, qualname, first line, call index), built under `root` (a
        module may define one name twice, e.g. in both branches of an `if`: the line tells
        the recorded functions apart)."""
        subset = RecordedCalls(self.calls.header, list(functions), self.calls.summary)
        built = build_cases(subset, str(root), self.project)
        return {(c.meta["file"], c.meta["function"], c.meta["line"], int(c.id.rpartition("#")[2])): c for c in built.cases}

    def _functions(self, case: MutantCase) -> list[RecordedFunction]:
        if self.scope == "program":
            return [f for f in self.calls.functions if f.calls]
        unit = enclosing_function(case.qualname)
        return [f for f in self.calls.functions if f.calls and f.file == case.file and in_unit(f.qualname, unit)]

    def pairs(self, case: MutantCase) -> list[CallPair]:
        """The calls made by the case's tests whose program the mutant changes, in order,
        at most `max_calls`."""
        functions = self._functions(case)
        wanted = set(case.tests)
        if not functions:
            return []
        if case.file not in self._texts:
            self._texts[case.file] = (self.root / case.file).read_text(encoding="utf-8")
        mutated = apply_diff(self._texts[case.file], case.diff)
        with tempfile.TemporaryDirectory(prefix="codewm-mutant-") as scratch:
            copy = Path(scratch) / "project"
            _python_tree(self.root, copy)
            (copy / case.file).write_text(mutated, encoding="utf-8")
            changed = self._cases(copy, functions)
        by_function = {(f.file, f.qualname, f.line): f for f in functions}
        out: list[CallPair] = []
        for key, original in self._original.items():
            function = by_function.get(key[:3])
            if function is None:
                continue
            tests = frozenset(function.calls[key[3]].tests or ()) & wanted
            mutant = changed.get(key)
            if not tests:
                continue
            if mutant is None:  # the mutant's program cannot be made (e.g. the method is gone)
                self.stats["calls_without_mutant_program"] += 1
                continue
            if mutant.source == original.source and mutant.call == original.call:
                continue  # the change is not in this call's program
            if len(out) >= self.max_calls:
                self.stats["calls_cut"] += 1
                continue
            out.append(CallPair(original.call, original.source, mutant.source, tests))
        return out

    def results(self, pairs: list[CallPair]) -> list[bool]:
        """Per pair: whether the predicted (or real) result differs between the programs."""
        groups: dict[tuple[str, str], list[int]] = {}
        for index, pair in enumerate(pairs):
            groups.setdefault((pair.original, pair.mutant), []).append(index)
        differs = [False] * len(pairs)
        for (original, mutant), members in groups.items():
            tests = [TestCase(pairs[i].call, pairs[i].call, "pass") for i in members]
            if is_oracle(self.predictions.predictor):
                (before, _), (after, _) = self.predictions.real([original, mutant], tests)
                results = [(result_of_outcome(a), result_of_outcome(b)) for a, b in zip(before, after)]
            else:
                before, after = self.predictions.results([original, mutant], tests)
                results = [(result_of_prediction(a), result_of_prediction(b)) for a, b in zip(before, after)]
                self.stats["calls_without_answer"] += sum(1 for a, b in zip(before, after) if a.output is None and b.output is None)
            for i, (a, b) in zip(members, results):
                differs[i] = a != b
        return differs

    def __call__(self, case: MutantCase) -> Guess:
        pairs = self.pairs(case)
        differs = self.results(pairs) if pairs else []
        made: Counter = Counter()
        changed: Counter = Counter()
        for pair, differ in zip(pairs, differs):
            for test in pair.tests:
                made[test] += 1
                changed[test] += differ
        self.stats["mutants"] += 1
        self.stats["mutants_with_calls"] += bool(pairs)
        self.stats["calls"] += len(pairs)
        self.stats["calls_differing"] += sum(differs)
        self.stats["tests_with_calls"] += len(made)
        return Guess(frozenset(t for t in made if changed[t]), {t: changed[t] / made[t] for t in made})
