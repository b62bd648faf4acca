"""HumanEval as a program source: every problem loads, its test's calls trace and match."""

from __future__ import annotations

import ast
import collections
import json

import pytest

from codewm.programs.base import ProgramCase, ProgramSource, SourceConfigError, make_source
from codewm.programs.humaneval import HumanEvalSource, check_calls, constant_value, default_data_path, read_problems
from codewm.trace.sandbox import Program, Sandbox

# Problems whose tests call the entry point only on random inputs (or values the test's
# helpers compute from them): no constant call to take.
NO_CONSTANT_CALLS = {"HumanEval/32", "HumanEval/38", "HumanEval/50"}


@pytest.fixture(scope="module")
def cases() -> list[ProgramCase]:
    return list(HumanEvalSource().cases())


def test_all_164_problems_load_from_the_installed_package(cases):
    problems = read_problems(default_data_path())
    assert [p["task_id"] for p in problems] == [f"HumanEval/{n}" for n in range(164)]
    tasks = {case.meta["task_id"] for case in cases}
    assert tasks == {p["task_id"] for p in problems} - NO_CONSTANT_CALLS
    for case in cases:
        assert case.origin == "humaneval" and case.id.startswith(case.meta["task_id"] + "#")
        assert case.call.startswith(case.meta["entry_point"] + "(")
        assert f"def {case.meta['entry_point']}(" in case.source
        ast.parse(case.source)
        ast.parse(case.call, mode="eval")
        json.dumps(case.to_dict())
    assert len({case.id for case in cases}) == len(cases)
    # Calls are distinct within a task.
    per_task = collections.defaultdict(list)
    for case in cases:
        per_task[case.meta["task_id"]].append(case.call)
    assert all(len(calls) == len(set(calls)) for calls in per_task.values())


def test_source_satisfies_the_protocol_and_the_registry_name():
    source = make_source("humaneval", limit=2)
    assert isinstance(source, HumanEvalSource) and isinstance(source, ProgramSource)
    assert {case.meta["task_id"] for case in source.cases()} == {"HumanEval/0", "HumanEval/1"}


def test_skipped_calls_are_reported_not_hidden():
    source = HumanEvalSource()
    cases = list(source.cases())
    skipped_tasks = {task for task, _, _ in source.skipped}
    assert NO_CONSTANT_CALLS <= skipped_tasks
    assert ("HumanEval/53", "candidate(x, y)") in {(task, text) for task, text, _ in source.skipped}
    by_task = {case.meta["task_id"]: case.meta["skipped_calls"] for case in cases}
    assert by_task["HumanEval/53"] == 1 and by_task["HumanEval/0"] == 0


def test_cases_are_deterministic(cases):
    again = list(HumanEvalSource().cases())
    assert [c.to_dict() for c in again] == [c.to_dict() for c in cases]


def test_limit_and_max_calls_per_task(cases):
    capped = list(HumanEvalSource(limit=10, max_calls_per_task=2).cases())
    first_ten = [c for c in cases if int(c.meta["task_id"].split("/")[1]) < 10]
    per_task = collections.defaultdict(list)
    for case in first_ten:
        per_task[case.meta["task_id"]].append(case)
    assert [c.to_dict() for c in capped] == [c.to_dict() for group in per_task.values() for c in group[:2]]
    assert list(HumanEvalSource(limit=0).cases()) == []
    with pytest.raises(SourceConfigError):
        HumanEvalSource(max_calls_per_task=0)
    with pytest.raises(SourceConfigError):
        HumanEvalSource(limit=-1)


def test_folded_and_unrolled_calls(cases):
    calls = {case.id: (case.call, case.meta.get("expected")) for case in cases}
    by_task = collections.defaultdict(list)
    for case in cases:
        by_task[case.meta["task_id"]].append(case.call)
    # `candidate(3 * 19)` is folded to its value.
    assert "factorize(57)" in by_task["HumanEval/25"]
    # `for x in range(2, 8): assert candidate(x, x + 1) == str(x)` is unrolled.
    assert all(f"change_base({x}, {x + 1})" in by_task["HumanEval/44"] for x in range(2, 8))
    assert ("change_base(7, 8)", "'7'") in calls.values()
    # `lst = list(range(-99, 100, 2))` then `candidate(lst)`: the name is substituted.
    assert f"double_the_difference({list(range(-99, 100, 2))!r})" in by_task["HumanEval/151"]


def test_check_calls_on_hand_written_tests():
    test = '''
import random
def helper(x):
    return x

def check(candidate):
    assert candidate(1, 2) == 3
    assert 7 == candidate(3, 4)
    assert candidate(1, 2) == 3, "duplicate"
    assert not candidate(0, 0)
    assert abs(candidate(1.5, 2) - 3.5) < 1e-6
    assert sorted(candidate([2, 1], [])) == [1, 2]
    assert candidate(a=[1] * 3, b=-(2 ** 3)) == [1, 1, 1, -8]
    for i in range(3):
        assert candidate(i, 2 * i) == 3 * i
    xs = [1, 2]
    xs.append(3)
    assert candidate(xs, 0)
    ys = (5, 6)
    assert candidate(ys, 1) == (5, 6, 1)
    r = random.randint(0, 9)
    assert candidate(r, helper(1))
    assert candidate(True, None)
'''
    found = check_calls(test, "add")
    assert found.calls == [
        ("add(1, 2)", "3"),
        ("add(3, 4)", "7"),
        ("add(0, 0)", None),
        ("add(1.5, 2)", None),
        ("add([2, 1], [])", None),
        ("add(a=[1, 1, 1], b=-8)", "[1, 1, 1, -8]"),
        ("add(2, 4)", "6"),  # the loop's i=0 and i=1 calls repeat earlier ones
        ("add((5, 6), 1)", "(5, 6, 1)"),
        ("add(True, None)", None),
    ]
    skipped = dict(found.skipped)
    assert set(skipped) == {"candidate(xs, 0)", "candidate(r, helper(1))"}


def test_constant_expressions_are_bounded():
    def value(text):
        return constant_value(ast.parse(text, mode="eval").body)

    assert value("[1, 0 ** 0]") == [1, 1]
    assert value("'ab' + 'cd' * 2") == "abcdcd"
    assert value("list(range(3))") == [0, 1, 2]
    for bad in ("2 ** 10 ** 10", "'x' * 10 ** 9", "list(range(10 ** 9))", "open('f')", "x", "[*a]", "(lambda: 1)()"):
        with pytest.raises(Exception) as info:
            value(bad)
        assert type(info.value).__name__ == "NotConstant", bad


def test_a_path_to_a_plain_jsonl_file(tmp_path):
    row = {
        "task_id": "Toy/0",
        "prompt": "def double(x):\n    \"\"\"Twice x.\"\"\"\n",
        "canonical_solution": "    return 2 * x\n",
        "test": "\nMETADATA = {}\n\ndef check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-1) == -2\n",
        "entry_point": "double",
    }
    path = tmp_path / "toy.jsonl"
    path.write_text(json.dumps(row) + "\n\n")
    cases = list(HumanEvalSource(path=path).cases())
    assert [(c.id, c.call, c.meta["expected"]) for c in cases] == [("Toy/0#0", "double(2)", "4"), ("Toy/0#1", "double(-1)", "-2")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row) + "\n" + json.dumps({"task_id": "Toy/1"}) + "\n")
    with pytest.raises(ValueError, match=rf"{bad}:2: missing string field 'prompt'"):
        list(HumanEvalSource(path=bad).cases())


def test_humaneval_calls_trace_ok_in_the_sandbox_and_match_the_asserts(cases):
    with Sandbox(workers=2) as sandbox:
        results = list(sandbox.map(Program.function(case.source, case.call) for case in cases))
    statuses = collections.Counter(result.status for result in results)
    ok_tasks = {case.meta["task_id"] for case, result in zip(cases, results) if result.status == "ok"}
    compared, mismatched = 0, []
    for case, result in zip(cases, results):
        expected = case.meta.get("expected")
        output = result.trace.output
        if result.status != "ok" or expected is None or output is None:
            continue
        want = repr(ast.literal_eval(expected))
        if output.endswith("...") and len(output) > sandbox.limits.max_value_chars:
            continue  # cut by the renderer: not a plain value
        compared += 1
        if output != want:
            mismatched.append((case.id, case.call, output, want))
    print(
        f"\nHumanEval: {len(cases)} calls from {len({c.meta['task_id'] for c in cases})} problems; "
        f"statuses {dict(statuses)}; {len(ok_tasks)}/164 problems with an ok call; "
        f"{compared} outputs compared with the asserts' expected values"
    )
    assert len(ok_tasks) >= 150
    assert statuses["ok"] >= 0.9 * len(cases)
    assert statuses["exception"] == 0, statuses  # the canonical solutions pass their own tests
    assert compared >= 900
    assert mismatched == []
