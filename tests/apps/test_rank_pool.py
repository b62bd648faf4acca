"""CodeT's cuts of candidates and tests, and reading a pool (codewm.apps.rank.pool, asserts)."""

from __future__ import annotations

import json

import pytest

from codewm.apps.rank.asserts import EQUALS, FALSY, OTHER, TRUTHY, parse_test
from codewm.apps.rank.pool import PoolError, cut_solution, extract_tests, read_pool


def test_a_body_is_cut_at_codets_stop_tokens():
    assert cut_solution("    return 1\n\ndef g():\n    pass\n") == "    return 1\n"
    assert cut_solution("    x = 1\n# a comment\n    return x\n") == "    x = 1"
    assert cut_solution("    return 2\nif __name__ == '__main__':\n    print(1)\n") == "    return 2"


def test_tests_are_split_at_assert_and_keep_only_those_that_call_the_entry_point():
    sample = "\n    f(1) == 2, 'one'\nassert f(2) == 3\nassert g(1) == 0\nassert f(3) ==\nassert f(4) == 5\n# done\nprint(f(1))"
    # "assert" then a line break does not compile: CodeT drops it; "f(3) ==" neither; "# done" cuts
    assert extract_tests(sample, "f") == ["assert f(2) == 3", "assert f(4) == 5"]


def test_a_test_is_read_as_the_call_to_predict_and_a_check():
    case = parse_test("assert f([1, 2], k=3) == [2, 1]", "f")
    assert (case.call, case.kind, case.expected) == ("f([1, 2], k=3)", EQUALS, "[2, 1]")
    assert case.verdict("[2, 1]") is True and case.verdict("[1, 2]") is False
    assert parse_test("assert 5 == f(2)", "f").verdict("5") is True
    assert parse_test("assert f(2)", "f").kind == TRUTHY
    assert parse_test("assert not f(2)", "f").kind == FALSY
    assert parse_test("assert abs(f(2) - 1.5) < 1e-6", "f").verdict("1.5") is None  # cannot be decided from a value
    assert parse_test("assert abs(f(2) - 1.5) < 1e-6", "f").kind == OTHER
    assert parse_test("assert f(1) == f(2)", "f").call is None  # two inputs: only a real run judges it
    assert parse_test("assert f(f(1)) == 2", "f").call is None
    assert parse_test("assert f(1) == 1.0", "f").verdict("1") is True  # Python's ==, as the real assert
    assert parse_test("assert f(1) == 2", "f").verdict("<object at 0x1>") is None


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_pool_counts_duplicates_and_keeps_the_first_tests_of_each_sample(tmp_path):
    prompt = "def f(x):\n    \"\"\"x plus one\"\"\"\n"
    solutions = _write(tmp_path / "s.jsonl", [{"prompt": prompt, "samples": ["    return x + 1\n", "    return x + 1\n\ndef g(): pass", "    return x\n"]}])
    tests = _write(tmp_path / "t.jsonl", [{"prompt": prompt + "    pass\n\n# check the correctness of f\nassert ", "samples": ["f(1) == 2\nassert f(2) == 3\nassert f(3) == 4", "f(1) == 2"]}])
    tasks = _write(tmp_path / "k.jsonl", [{"task_id": "T/0", "prompt": prompt, "entry_point": "f", "test": "def check(candidate):\n    assert candidate(0) == 1\n"}])
    (problem,) = read_pool(solutions, tests, tasks, test_limit=2)
    assert dict(problem.candidates) == {"    return x + 1\n": 2, "    return x\n": 1}
    assert dict(problem.tests) == {"assert f(1) == 2": 2, "assert f(2) == 3": 1}  # f(3) is past the limit of 2


def test_a_row_that_matches_no_task_is_an_error_naming_the_file(tmp_path):
    tasks = _write(tmp_path / "k.jsonl", [{"task_id": "T/0", "prompt": "def f():\n", "entry_point": "f"}])
    solutions = _write(tmp_path / "s.jsonl", [{"prompt": "def other():\n", "samples": []}])
    tests = _write(tmp_path / "t.jsonl", [])
    with pytest.raises(PoolError, match="s.jsonl.*matches no task"):
        read_pool(solutions, tests, tasks)
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(PoolError, match="bad.jsonl:1: not JSON"):
        read_pool(tmp_path / "bad.jsonl", tests, tasks)
