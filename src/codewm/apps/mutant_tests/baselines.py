"""Predictors that need no world model: what a developer could guess without running anything.

What each one sees (SEES, printed by the benchmark):

- `module`: only which tests were run for the mutated module; it says they all fail.
- `name`: the mutated unit's name and the tests' source text; a test fails when its
  function (name and body) mentions the name as a word. It cannot see calls made through
  other functions, nor which mentions would notice the change.
- `calls`: which tests called the mutated unit (any method of a class unit) on the original
  code, recorded by the calls plugin; it says they all fail. It cannot see whether the
  change shows in what those calls return.
"""

from __future__ import annotations

import re

from codewm.apps.mutant_tests.cases import MutantCase, ReachIndex, TestSourceIndex
from codewm.apps.mutant_tests.metrics import Guess

SEES = {
    "module": "the tests run for the mutated module; says all of them fail",
    "name": "the unit's name and the tests' source; a test fails when it mentions the name",
    "calls": "which tests called the unit on the original code (calls plugin); says they fail",
}


def module_guess(case: MutantCase) -> Guess:
    return Guess(frozenset(case.tests))


def searched_name(qualname: str) -> str:
    """The word a test would mention: the unit's last name, or its class's for a dunder
    method (`Parser.__init__` -> `Parser`); `<locals>` is skipped."""
    parts = [p for p in qualname.split(".") if p != "<locals>"]
    while len(parts) > 1 and parts[-1].startswith("__") and parts[-1].endswith("__"):
        parts.pop()
    return parts[-1]


class NameGuesser:
    def __init__(self, sources: TestSourceIndex) -> None:
        self.sources = sources

    def __call__(self, case: MutantCase) -> Guess:
        word = re.compile(rf"\b{re.escape(searched_name(case.qualname))}\b")
        return Guess(frozenset(t for t in case.tests if word.search(self.sources.text(t) or "")))


class CallsGuesser:
    def __init__(self, reach: ReachIndex) -> None:
        self.reach = reach

    def __call__(self, case: MutantCase) -> Guess:
        return Guess(self.reach.tests_reaching(case.file, case.qualname) & frozenset(case.tests))
