"""The mutants to predict for and what the suite recorded on the original code.

A `MutantCase` is one record of a mutants file (`codewm.repo.verify`) that has a known truth:
kept (some tests failed) or dropped because no test failed. Mutants dropped for a timeout or
a module that did not import are left out: their tests never finished or never ran, so which
ones "fail" is not known. The tests a case is about are those verification considered: the
baseline's passing tests among the files it ran (`tests`), exactly as `verify_one` counts them.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from codewm.repo.traces import RecordedCalls
from codewm.repo.verify import read_results

KNOWN = ("kept", "no_test_fails")  # the records whose failing tests are known


@dataclass(frozen=True)
class MutantCase:
    id: str
    file: str  # relative to the project root
    qualname: str  # the mutated unit: a function, a method, a nested function or a class
    operator: str
    diff: str  # turns the original file into the mutant (codewm.repo.mutate.apply_diff)
    tests: tuple[str, ...]  # the tests that were run and passed on the original, sorted
    failing: frozenset[str]  # those that did not pass on the mutant

    @property
    def kept(self) -> bool:
        return bool(self.failing)


def considered_tests(selected: object, passing: list[str]) -> tuple[str, ...]:
    """The baseline's passing tests that a run of `selected` (test files or node ids, or
    "all") covered: what verification compared."""
    if selected == "all" or selected is None:
        return tuple(sorted(passing))
    if not isinstance(selected, list) or not all(isinstance(s, str) for s in selected):
        raise ValueError(f"'tests' must be 'all' or a list of test files, got {selected!r}")
    prefixes = [s.rstrip("/") for s in selected]
    return tuple(sorted(t for t in passing if any(t == p or t.startswith(p + "::") or t.startswith(p + "/") for p in prefixes)))


def load_mutant_cases(path: str | Path) -> tuple[list[MutantCase], dict]:
    """The cases of a mutants file, in its order, and counts of what was left out."""
    header, records = read_results(Path(path))
    passing = header.get("baseline_passed")
    if not isinstance(passing, list):
        raise ValueError(f"{path}: the header has no 'baseline_passed' list")
    cases: list[MutantCase] = []
    skipped: dict[str, int] = {}
    for number, record in enumerate(records, 2):
        status, reason = record.get("status"), record.get("reason")
        if status == "dropped" and reason != "no_test_fails":
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        try:
            tests = considered_tests(record.get("tests"), passing)
            failing = frozenset(t["id"] for t in record["failing_tests"])
            case = MutantCase(str(record["id"]), str(record["file"]), str(record["qualname"]), str(record["operator"]),
                              str(record["diff"]), tests, failing)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: a mutant record without what a case needs ({exc})") from None
        if (status == "kept") != bool(failing) or not failing <= set(tests):
            raise ValueError(f"{path}:{number}: status {status!r} does not agree with its failing tests")
        cases.append(case)
    return cases, skipped


def target_qualnames(unit: str) -> tuple[str, str]:
    """How a recorded function relates to a mutated unit: (`exact`, `prefix`). A recorded
    qualname Q is *in* the unit when Q == exact or Q starts with prefix (a class's methods,
    a function's nested functions)."""
    return unit, unit + "."


def in_unit(qualname: str, unit: str) -> bool:
    exact, prefix = target_qualnames(unit)
    return qualname == exact or qualname.startswith(prefix)


def enclosing_function(qualname: str) -> str:
    """The function whose program and calls stand for a unit: a nested function's outermost
    enclosing function or method (`A.b.<locals>.c` -> `A.b`), else the unit itself."""
    return qualname.split(".<locals>.")[0]


class ReachIndex:
    """Who called what on the original code, from a version 2 calls file: per recorded
    function (file, qualname), the tests that called it at all."""

    def __init__(self, calls: RecordedCalls) -> None:
        if calls.header.get("version", 1) < 2 or any(f.tests is None for f in calls.functions):
            raise ValueError("the calls file has no tests per call (version 1): record it again with this codewm")
        self.calls = calls
        self.reach = {(f.file, f.qualname): frozenset(f.tests or ()) for f in calls.functions}

    def tests_reaching(self, file: str, unit: str) -> frozenset[str]:
        """The tests that called the unit (any method of a class unit, any nested function)."""
        found: set[str] = set()
        for (where, qualname), tests in self.reach.items():
            if where == file and in_unit(qualname, unit):
                found |= tests
        return frozenset(found)


# -- the tests' own text, for the `name` baseline ----------------------------------------------
_PARAMS = re.compile(r"\[.*\]$")


class TestSourceIndex:
    """The source text of a test function by node id (`tests/t.py::TestC::test_x[1]`), read
    from the project's files (parsed, never imported)."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._files: dict[str, tuple[list[str], ast.Module] | None] = {}  # file -> (lines, tree)

    def text(self, node_id: str) -> str | None:
        file, *names = node_id.split("::")
        if not names:
            return None
        names[-1] = _PARAMS.sub("", names[-1])
        parsed = self._parsed(file)
        if parsed is None:
            return None
        source, tree = parsed
        body: list[ast.stmt] = tree.body
        node = None
        for name in names:
            node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name), None)
            if node is None:
                return None
            body = node.body
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        return "\n".join(source[first - 1 : node.end_lineno])

    def _parsed(self, file: str):
        if file not in self._files:
            path = (self.root / file).resolve()
            try:
                if not path.is_relative_to(self.root):
                    raise ValueError("outside the project")
                source = path.read_text(encoding="utf-8")
                self._files[file] = (source.splitlines(), ast.parse(source))
            except (OSError, ValueError, SyntaxError, UnicodeDecodeError):
                self._files[file] = None
        return self._files[file]
