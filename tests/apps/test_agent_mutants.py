"""Repair tasks from kept mutants, and the bulk scripted runs over them (issue 18, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_helpers import needs_bwrap

from codewm.apps.agent.mutant_runs import RunsError, all_green, run_mutant_tasks
from codewm.apps.agent.mutant_tasks import MutantTaskError, mutant_project, read_kept_mutants, repair_task, select_mutants, unit_text
from codewm.apps.agent.trajectory import Step, Trajectory, read_trajectory
from codewm.repo.mutate import unified_diff
from codewm.repo.project import local_project

CALC = '''"""A tiny calculator."""


class Calc:
    def __init__(self, start=0):
        self.value = start

    def add(self, x):
        self.value = self.value + x
        return self

    def double(self):
        return self.add(self.value)


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x
'''
TESTS = '''from calc import Calc, clamp


def test_add():
    assert Calc(1).add(2).value == 3


def test_double():
    assert Calc(3).double().value == 6


def test_clamp():
    assert clamp(5, 0, 3) == 3 and clamp(-1, 0, 3) == 0 and clamp(2, 0, 3) == 2
'''
# Two kept mutants: a function's comparison flipped, and a method removed from its class.
MUTANTS = [
    ("aaaa000000000001", "clamp", "change_operator", CALC.replace("if x > hi:", "if x < hi:"), ["tests/test_calc.py::test_clamp"]),
    ("aaaa000000000002", "Calc", "remove_method", CALC.replace("    def double(self):\n        return self.add(self.value)\n", "").replace("        return self\n\n", "        return self\n"), ["tests/test_calc.py::test_double"]),
]


def make_project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "calcproj"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text(TESTS)
    header = {"format": "codewm.repo.mutants", "version": 1, "project": "0123456789abcdef", "root": str(root), "baseline_passed": []}
    lines = [json.dumps(header)]
    for mid, qualname, operator, source, failing in MUTANTS:
        lines.append(json.dumps({"id": mid, "file": "calc.py", "qualname": qualname, "operator": operator, "description": "", "line": 1,
                                 "diff": unified_diff(CALC, source, "calc.py"), "status": "kept", "reason": "",
                                 "failing_tests": [{"id": t, "outcome": "failed"} for t in failing]}))
    lines.append(json.dumps({"id": "bbbb", "file": "calc.py", "qualname": "clamp", "operator": "change_constant", "diff": "", "status": "dropped", "failing_tests": []}))
    mutants = tmp_path / "calc.mutants.jsonl"
    mutants.write_text("\n".join(lines) + "\n")
    return root, mutants


def test_kept_mutants_become_tasks_whose_fix_is_the_original_unit(tmp_path):
    root, mutants = make_project(tmp_path)
    header, kept = read_kept_mutants(mutants)
    assert [r["id"] for r in kept] == ["aaaa000000000001", "aaaa000000000002"]  # the dropped one is left out
    function, method = (repair_task(root, r) for r in kept)
    assert (function.kind, function.function, function.top_level) == ("function", "clamp", True)
    assert function.fixed_text == CALC[CALC.index("def clamp"):]
    assert function.failing_tests == ("tests/test_calc.py::test_clamp",)
    assert (method.kind, method.function) == ("class", "Calc")  # the removed method's class
    assert method.fixed_text == CALC[CALC.index("class Calc"):CALC.index("\n\ndef clamp")]
    with mutant_project(local_project(root), kept[1]) as broken:
        assert "def double" not in (broken.root / "calc.py").read_text()
        assert broken.root != root and broken.test_paths == ("tests",)
    assert not broken.root.exists()
    assert (root / "calc.py").read_text() == CALC  # the project itself is never touched


def test_unit_text_keeps_decorators_and_finds_methods_and_nested_functions():
    source = "class A:\n    @staticmethod\n    def f():\n        def g():\n            return 1\n        return g\n"
    assert unit_text(source, "A.f") == source[source.index("    @staticmethod"):]
    assert unit_text(source, "A.f.<locals>.g") == "        def g():\n            return 1\n"
    with pytest.raises(MutantTaskError, match="no function or class 'A.h'"):
        unit_text(source, "A.h")


def test_selection_takes_operators_in_turn_and_grows_by_prefix():
    records = [{"id": f"{op}{i}", "operator": op, "qualname": "f"} for op in ("change_operator", "remove_method", "swap_operands") for i in range(5)]
    records.append({"id": "nested", "operator": "swap_operands", "qualname": "f.<locals>.g"})
    picked = select_mutants(records, 6)
    assert sorted(r["operator"] for r in picked[:3]) == ["change_operator", "remove_method", "swap_operands"]
    assert select_mutants(records, 10)[:6] == picked == select_mutants(list(reversed(records)), 6)
    assert all(r["id"] != "nested" for r in select_mutants(records, 100))  # <locals> is not supported
    assert len(select_mutants(records, 100)) == 15


def test_a_damaged_mutants_file_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"format": "codewm.repo.mutants", "version": 1}) + "\n" + json.dumps({"id": "x", "status": "kept"}) + "\n")
    with pytest.raises(MutantTaskError, match=r"m.jsonl:2: a mutant record needs file, qualname"):
        read_kept_mutants(path)


def _step(action, args, observation, exit_code):
    return Step(1, action, args, None, observation, exit_code, "", "", 0.0)


def test_all_green_needs_the_whole_suite_passing_at_the_last_run():
    whole = _step("run_tests", {}, "5 tests: 4 passed, 0 failed, 0 errors, 1 skipped", 0)
    some = _step("run_tests", {"tests": ["t.py::a"]}, "1 tests: 1 passed, 0 failed, 0 errors, 0 skipped", 0)
    failing = _step("run_tests", {}, "5 tests: 3 passed, 1 failed, 0 errors, 1 skipped\nFAILED t.py::b", 1)
    assert all_green(Trajectory({}, "t", "scripted", [whole]))
    assert not all_green(Trajectory({}, "t", "scripted", [whole, some]))  # only some tests ran last
    assert not all_green(Trajectory({}, "t", "scripted", [whole, failing]))
    assert not all_green(Trajectory({}, "t", "scripted", [_step("submit", {}, "submitted", 0)]))


@needs_bwrap
def test_bulk_runs_fix_both_mutants_replay_them_and_resume(tmp_path):
    root, mutants = make_project(tmp_path)
    out, seen = tmp_path / "runs", []
    results = run_mutant_tasks(mutants, local_project(root), 5, out, on_result=seen.append)
    assert [r["task"] for r in results] == ["aaaa000000000001", "aaaa000000000002"]
    for result in results:
        assert result["error"] == "" and result["submitted"], result
        assert result["all_green"] and result["restored"] and result["replay_identical"], result
        trajectory = read_trajectory(out / result["trajectory"])
        assert (trajectory.policy, trajectory.task) == ("scripted", result["task"])
        assert trajectory.info["mutant"]["operator"] == result["operator"]
    summary = (out / "summary.jsonl").read_text().splitlines()
    assert json.loads(summary[0])["format"] == "codewm-agent-mutant-runs" and len(summary) == 3
    # A rerun works nothing again: every task is in the summary.
    again = run_mutant_tasks(mutants, local_project(root), 5, out, on_result=seen.append)
    assert again == results and len(seen) == 2
    # A complete trajectory that was not replayed yet (the run was killed) is replayed, not redone.
    (out / "summary.jsonl").write_text("\n".join(summary[:2]) + "\n")
    before = (out / results[1]["trajectory"]).read_bytes()
    third = run_mutant_tasks(mutants, local_project(root), 5, out, on_result=seen.append)
    assert third[1]["replay_identical"] and (out / results[1]["trajectory"]).read_bytes() == before
    assert third[1]["restored"] and third[1]["all_green"]  # told from the recorded diff this time
    with pytest.raises(RunsError, match="another seed"):
        run_mutant_tasks(mutants, local_project(root), 5, out, seed=1)


def test_agent_mutants_cli_names_a_damaged_mutants_file(tmp_path):
    from typer.testing import CliRunner

    from codewm.cli import app

    root, mutants = make_project(tmp_path)
    mutants.write_text(mutants.read_text() + "{not json\n")
    result = CliRunner().invoke(app, ["repo", "agent-mutants", str(mutants), str(root), "--out-dir", str(tmp_path / "runs"), "--count", "1"])
    assert result.exit_code == 2 and "calc.mutants.jsonl:5" in result.output, result.output



PICK = '''

def pick(w, p):
    if w:
        s = "%s,%s" % (w, p)
    else:
        s = "1,%s" % p
    return s
'''
# The two branches' bodies swapped: difflib keeps one body as context both ways, so the
# mutant's diff and its undo change different lines.
SWAPPED = PICK.replace('"%s,%s" % (w, p)', "TMP").replace('"1,%s" % p', '"%s,%s" % (w, p)').replace("TMP", '"1,%s" % p')


@pytest.mark.parametrize("fixed, expected", [(CALC + PICK, True), (CALC + PICK.replace("return s\n", "return s  # fixed\n"), False)])
def test_restored_is_told_from_the_last_diff_of_a_trajectory_made_earlier(tmp_path, fixed, expected):
    # Regression: comparing the diff's changed lines with the mutant's (as multisets) said an
    # exact undo of swapped if/else bodies was not one (seen on parse's 889887fd1e0d4f42).
    from codewm.apps.agent.files import unified_diff as tree_diff
    from codewm.apps.agent.mutant_runs import restored_by_diff

    root, _ = make_project(tmp_path)
    (root / "calc.py").write_text(CALC + PICK)
    record = {"id": "x", "file": "calc.py", "diff": unified_diff(CALC + PICK, CALC + SWAPPED, "calc.py")}
    with mutant_project(local_project(root), record) as broken:
        diff = tree_diff({"calc.py": (CALC + SWAPPED).encode()}, {"calc.py": fixed.encode()})
        trajectory = Trajectory({}, "x", "scripted", [Step(1, "submit", {}, None, "submitted", 0, diff, "", 0.0)])
        assert restored_by_diff(trajectory, record, broken.root, root) is expected


@pytest.mark.parametrize("name", ["../outside.py", "/etc/passwd", "sub/../../x.py"])
def test_a_mutant_file_outside_the_project_is_refused(tmp_path, name):
    # Regression: the mutants file is input; its `file` was joined to the project's root and
    # the copy's, so `../x` read and wrote outside them.
    root, mutants = make_project(tmp_path)
    (tmp_path / "outside.py").write_text(CALC)
    record = {"id": "evil", "file": name, "qualname": "clamp", "operator": "change_operator",
              "diff": unified_diff(CALC, CALC.replace("x > hi", "x < hi"), "calc.py"), "failing_tests": ["tests/test_calc.py::test_clamp"]}
    with pytest.raises(MutantTaskError, match="inside the project|outside the project"):
        repair_task(root, record)
    with pytest.raises(MutantTaskError, match="inside the project|outside the project"):
        with mutant_project(local_project(root), record):
            pass
    assert (tmp_path / "outside.py").read_text() == CALC
