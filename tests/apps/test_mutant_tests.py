"""Predicting which tests a mutant fails: the metrics on hand-made cases, the mutants file
read as cases, and every predictor on real mutants of the tiny fixture project (verified by
running its tests, calls recorded by the calls plugin)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codewm.apps.mutant_tests.baselines import CallsGuesser, NameGuesser, module_guess, searched_name
from codewm.apps.mutant_tests.cases import ReachIndex, TestSourceIndex, considered_tests, load_mutant_cases
from codewm.apps.mutant_tests.metrics import Guess, Score, auroc
from codewm.apps.mutant_tests.run import score_all, table
from codewm.apps.mutant_tests.world import CallLevelGuesser
from codewm.apps.rank.predictions import Predictions
from codewm.predict.registry import load_predictor
from codewm.repo.mutate import Mutant, unified_diff
from codewm.repo.pytest_runner import SubprocessPytestRunner
from codewm.repo.traces import read_calls
from codewm.repo.verify import FORMAT, VERSION, verify_mutants
from codewm.trace.sandbox import Sandbox

TINYPKG = Path(__file__).resolve().parents[1] / "data" / "repo" / "tinypkg"
SRC = Path(__file__).resolve().parents[2] / "src"
SHAPES = "tests/test_shapes.py::"


# -- metrics ------------------------------------------------------------------------------------
def test_scores_are_exact_on_hand_made_cases():
    score = Score()
    # mutant 1: a, b fail; predicted a, c
    score.add(["a", "b", "c", "d"], frozenset({"a", "b"}), Guess(frozenset({"a", "c"}), {"a": 0.9, "b": 0.5, "c": 0.5, "d": 0.1}))
    # mutant 2: nothing fails, nothing predicted (exact); a predicted test outside the run is ignored
    score.add(["a", "b"], frozenset(), Guess(frozenset({"zz"}), {"a": 0.0, "b": 0.0}))
    assert (score.tp, score.fp, score.fn, score.tn) == (1, 1, 1, 3)
    assert score.accuracy == 4 / 6 and score.precision == 0.5 and score.recall == 0.5 and score.f1 == 0.5
    assert score.exact_match == 0.5 and score.killed_accuracy == 1.0
    # failing 0.9, 0.5 vs passing 0.5, 0.1, 0.0, 0.0: 4 + 3.5 wins of 8 pairs
    assert score.auroc == pytest.approx(7.5 / 8)
    score.add(["a"], frozenset({"a"}), Guess(frozenset({"a"})))
    assert score.auroc is None  # a guess without scores: no AUROC for the predictor


def test_auroc_counts_ties_as_half_and_needs_both_kinds():
    assert auroc([(0.9, True), (0.5, False), (0.5, True), (0.1, False)]) == pytest.approx(0.875)
    assert auroc([(1.0, True), (1.0, False)]) == 0.5
    assert auroc([(1.0, True)]) is None and auroc([]) is None


def test_empty_scores_are_zero_not_errors():
    assert Score().to_dict()["f1"] == 0.0 and Score().precision == 0.0


# -- the mutants file ---------------------------------------------------------------------------
def test_considered_tests_are_the_passing_tests_of_the_files_run():
    passing = ["tests/a.py::x", "tests/a.py::y[1]", "tests/ab.py::z", "tests/b.py::w"]
    assert considered_tests(["tests/a.py"], passing) == ("tests/a.py::x", "tests/a.py::y[1]")
    assert considered_tests("all", passing) == tuple(passing)
    with pytest.raises(ValueError, match="'tests' must be 'all' or a list"):
        considered_tests(3, passing)


def write_mutants(path: Path, records: list[dict]) -> Path:
    header = {"format": FORMAT, "version": VERSION, "project": "x", "baseline_passed": ["t.py::a", "t.py::b"]}
    path.write_text("".join(json.dumps(r) + "\n" for r in [header, *records]))
    return path


RECORD = {"id": "m1", "file": "p.py", "qualname": "f", "operator": "change_operator", "diff": "", "tests": ["t.py"]}


def test_mutants_file_cases_leave_out_unknown_outcomes(tmp_path):
    path = write_mutants(tmp_path / "m.jsonl", [
        {**RECORD, "status": "kept", "reason": "", "failing_tests": [{"id": "t.py::a", "outcome": "failed"}]},
        {**RECORD, "id": "m2", "status": "dropped", "reason": "no_test_fails", "failing_tests": []},
        {**RECORD, "id": "m3", "status": "dropped", "reason": "timeout", "failing_tests": []},
    ])
    cases, skipped = load_mutant_cases(path)
    assert [(c.id, c.tests, set(c.failing), c.kept) for c in cases] == [
        ("m1", ("t.py::a", "t.py::b"), {"t.py::a"}, True), ("m2", ("t.py::a", "t.py::b"), set(), False)]
    assert skipped == {"timeout": 1}


def test_a_record_that_contradicts_itself_is_refused(tmp_path):
    path = write_mutants(tmp_path / "m.jsonl", [{**RECORD, "status": "kept", "reason": "", "failing_tests": []}])
    with pytest.raises(ValueError, match=r"m.jsonl:2: status 'kept' does not agree"):
        load_mutant_cases(path)
    path = write_mutants(tmp_path / "n.jsonl", [{**RECORD, "status": "kept"}])
    with pytest.raises(ValueError, match=r"n.jsonl:2: a mutant record without"):
        load_mutant_cases(path)


def test_the_searched_name_skips_dunders_and_locals():
    assert searched_name("Parser.__init__") == "Parser"
    assert searched_name("Parser._handle_field") == "_handle_field"
    assert searched_name("with_pattern.<locals>.decorator") == "decorator"


# -- the predictors on the fixture project ------------------------------------------------------
def mutant(root: Path, old: str, new: str, qualname: str) -> Mutant:
    text = (root / "tinypkg/shapes.py").read_text()
    assert text.count(old) == 1
    changed = text.replace(old, new)
    return Mutant(qualname + "-" + str(abs(hash(new)) % 1000), "tinypkg/shapes.py", qualname, "hand", f"{old} -> {new}", 1, changed,
                  unified_diff(text, changed, "tinypkg/shapes.py"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """tinypkg, three hand-made mutants verified by running its tests, and its calls."""
    tmp = tmp_path_factory.mktemp("tiny")
    root = tmp / "tinypkg"
    shutil.copytree(TINYPKG, root)
    mutants = [
        mutant(root, "return sides[0] * sides[0]", "return sides[0] + sides[0]", "area"),  # area('square', 3): 6
        mutant(root, 'if kind == "rect":\n        return 2 *', 'if kind != "rect":\n        return 2 *', "perimeter"),  # rect raises
        mutant(root, 'raise ValueError(f"unknown shape {kind!r}")\n\n\ndef perimeter', 'raise ValueError("?")\n\n\ndef perimeter', "area"),  # no test sees it
    ]
    out = tmp / "mutants.jsonl"
    verify_mutants(root, mutants, SubprocessPytestRunner(["-o", "addopts="], timeout=300), out=out)
    calls = tmp / "calls.jsonl"
    work = tmp / "original"
    shutil.copytree(root, work)
    env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-p", "codewm.repo.calls_plugin",
                    "--codewm-calls-out", str(calls), "--codewm-calls-root", str(work), "tests"],
                   cwd=work, env=env, capture_output=True, text=True, timeout=600)
    cases, skipped = load_mutant_cases(out)
    return {"root": root, "cases": cases, "skipped": skipped, "calls": read_calls(str(calls))}


SQUARE, RECT = SHAPES + "test_square_area", SHAPES + "test_rect_area"
PERIMETERS = (SHAPES + "test_perimeter[square-sides0-8]", SHAPES + "test_perimeter[rect-sides1-6]")


def test_the_fixture_mutants_fail_what_they_should(tiny):
    area, perimeter, unseen = tiny["cases"]
    assert area.tests == perimeter.tests == tuple(sorted((RECT, SQUARE, *PERIMETERS)))
    assert area.failing == {SQUARE} and perimeter.failing == {PERIMETERS[1]} and unseen.failing == set()


def test_the_baselines(tiny):
    area, perimeter, unseen = tiny["cases"]
    reach = ReachIndex(tiny["calls"])
    assert module_guess(area).failing == set(area.tests)
    assert NameGuesser(TestSourceIndex(tiny["root"]))(area).failing == {SQUARE, RECT}
    assert CallsGuesser(reach)(area).failing == {SQUARE, RECT} == CallsGuesser(reach)(unseen).failing
    assert CallsGuesser(reach)(perimeter).failing == set(PERIMETERS)


@pytest.mark.parametrize("scope", ["function", "program"])
def test_the_call_level_oracle_finds_exactly_the_failing_tests(tiny, scope, tmp_path):
    sandbox = Sandbox(workers=2)
    try:
        predictions = Predictions(load_predictor("oracle"), sandbox, tmp_path / "cache.jsonl", per_test_seconds=1.0)
        world = CallLevelGuesser(tiny["root"], tiny["calls"], predictions, scope=scope, project="tinypkg")
        guesses = [world(case) for case in tiny["cases"]]
    finally:
        sandbox.close()
    # area('square', 3) is 6 on the mutant; area('rect', 2, 5) is 10 on both
    assert guesses[0].failing == {SQUARE} and guesses[0].scores == {SQUARE: 1.0, RECT: 0.0}
    # perimeter('rect', 1, 2) raises on the mutant
    assert guesses[1].failing == {PERIMETERS[1]}
    assert guesses[2].failing == set()
    # six calls, one harness run per program: area's original program is run once for both of its mutants
    assert world.stats["calls"] == 6 and world.stats["calls_differing"] == 2 and predictions.calls == 5


def test_a_model_that_predicts_nothing_predicts_no_failure_and_says_so(tiny, tmp_path):
    predictions = Predictions(load_predictor("empty"), None, None, direct=True)
    world = CallLevelGuesser(tiny["root"], tiny["calls"], predictions, project="tinypkg")
    results = score_all(tiny["cases"], {"world": (world, "x"), "module": (module_guess, "y")})
    assert results[0].score.tp == 0 and results[0].score.exact == 1  # only the mutant no test catches
    # no cache: each of the 6 calls decoded on both programs
    assert world.stats["calls_without_answer"] == world.stats["calls"] == 6 and predictions.calls == 12
    assert table(results).splitlines()[1].startswith("world ")


def test_a_version_1_calls_file_is_refused_with_the_reason(tiny):
    calls = tiny["calls"]
    from dataclasses import replace

    from codewm.repo.traces import RecordedCalls

    old = RecordedCalls({**calls.header, "version": 1}, [replace(f, tests=None) for f in calls.functions], calls.summary)
    with pytest.raises(ValueError, match="no tests per call"):
        ReachIndex(old)
    with pytest.raises(ValueError, match="no tests per call"):
        CallLevelGuesser(tiny["root"], old, Predictions(load_predictor("empty"), None, None))


def test_a_property_and_its_setter_keep_their_calls_apart(tmp_path):
    """A getter and its setter share a qualname (`C.v`): the line tells them apart (a file of
    boltons made the benchmark fail with an IndexError before)."""
    from codewm.apps.mutant_tests.cases import MutantCase
    from codewm.repo.traces import RecordedCall, RecordedCalls, RecordedFunction

    text = ("class C:\n    def __init__(self, v):\n        self._v = v\n\n    @property\n    def v(self):\n"
            "        return self._v + 1\n\n    @v.setter\n    def v(self, value):\n        self._v = value\n")
    (tmp_path / "m.py").write_text(text)
    changed = text.replace("return self._v + 1", "return self._v + 2")
    getter = RecordedFunction("m.py", "C.v", 5, 2, (RecordedCall("", "1", tests=("t::a",)), RecordedCall("", "2", tests=("t::b",))), {}, ("t::a", "t::b"))
    setter = RecordedFunction("m.py", "C.v", 9, 1, (RecordedCall("5", "1", tests=("t::c",)),), {}, ("t::c",))
    calls = RecordedCalls({"version": 2}, [getter, setter], {"tests": {}})
    world = CallLevelGuesser(tmp_path, calls, Predictions(load_predictor("empty"), None, None), project="m")
    case = MutantCase("x", "m.py", "C.v", "hand", unified_diff(text, changed, "m.py"), ("t::a", "t::b", "t::c"), frozenset({"t::a", "t::b"}))
    assert sorted((p.call, sorted(p.tests)) for p in world.pairs(case)) == [("C(1).v", ["t::a"]), ("C(2).v", ["t::b"])]
