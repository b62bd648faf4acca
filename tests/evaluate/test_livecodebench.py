"""LiveCodeBench's execution scenario: the official prompt, extraction, imports and scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codewm.evaluate import livecodebench as lcb
from codewm.trace.sandbox import Sandbox

EXAMPLES = Path(lcb.__file__).resolve().parent.parent / "examples" / "livecodebench_style.jsonl"
ROW = {
    "id": "count",
    "function_name": "countEven",
    "code": "def countEven(nums: List[int]) -> int:\n    return sum(1 for x in nums if x % 2 == 0)\n",
    "input": "countEven(nums = [1, 2, 4])",
    "output": "2",
}


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


def _rows(ids):
    return [dict(ROW, id=i) for i in ids]


# -- prompt ---------------------------------------------------------------------------------------
def test_prompt_is_the_official_text():
    text = lcb.prompt(ROW)
    assert text.startswith(
        "You are given a Python function and an assertion containing an input to the function. Complete the "
        "assertion with a literal (no unsimplified expressions, no function calls) containing the output when "
        "executing the provided code on the given input, even if the function is incorrect or incomplete. Do NOT "
        "output any extra information. Provide the full assertion with the correct output in [ANSWER] and "
        "[/ANSWER] tags, following the examples.\n\n"
        "[PYTHON]\ndef repeatNumber(number : int) -> int:\n    return number\nassert repeatNumber(number = 17) == ??\n"
        "[/PYTHON]\n[ANSWER]\nassert repeatNumber(number = 17) == 17\n[/ANSWER]\n\n"
        '[PYTHON]\ndef addCharacterA(string : str) -> str:\n    return string + "a"\n'
        'assert addCharacterA(string = "x9j") == ??\n[/PYTHON]\n[ANSWER]\nassert addCharacterA(string = "x9j") == "x9ja"\n[/ANSWER]\n\n'
    )
    # The row's code keeps its trailing newline, as the official f-string does.
    assert text.endswith(f"[PYTHON]\n{ROW['code']}\nassert countEven(nums = [1, 2, 4]) == ??\n[/PYTHON]\n[ANSWER]\n")
    cot = lcb.prompt(ROW, cot=True)
    assert cot.endswith("assert countEven(nums = [1, 2, 4]) == ??\n[/PYTHON]\n[THOUGHT]\n")
    assert 'assert performOperation(s = "hi") == "bhihia"\n[/ANSWER]' in cot


def test_messages_carry_the_system_message():
    assert lcb.SYSTEM_MESSAGE == "You are an expert at Python programming, code execution, test case generation, and fuzzing."
    assert lcb.messages(ROW) == [{"role": "system", "content": lcb.SYSTEM_MESSAGE}, {"role": "user", "content": lcb.prompt(ROW)}]


# -- imports and programs ------------------------------------------------------------------------
def test_imports_are_the_official_header_without_numpy_and_pandas():
    lines = lcb.IMPORTS.splitlines()
    assert len(lines) == 32  # the official header has 34 lines
    assert not any("numpy" in line or "pandas" in line for line in lines)
    assert lines[0] == "from itertools import accumulate, chain, combinations, count, permutations, product, groupby, islice, repeat"
    assert "from re import search as re_search  # Assuming 're' refers to a regex search" in lines
    assert lines[-1] == "import sys"
    namespace: dict = {}
    exec(lcb.IMPORTS, namespace)  # all standard library
    assert namespace["bisect"].__name__ == "bisect"  # the module, imported after the function
    assert {"List", "deque", "lru_cache", "comb", "iand", "re_search", "commonprefix"} <= set(namespace)


def test_check_program_and_skip_rule():
    assert lcb.check_program(ROW, "2") == f"{lcb.IMPORTS}\n{ROW['code']}\nassert 2 == 2"
    assert lcb.check_program(ROW, "countEven(nums = [1, 2, 4])") is None  # contains the input call
    assert lcb.check_program(ROW, "countEven(nums = [1, 2, 4]) + 0") is None
    assert lcb.check_program(ROW, "countEven(nums=[1, 2, 4])") is not None  # the rule is textual


# -- answers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "generation, cot, answer",
    [
        ("assert countEven(nums = [1, 2, 4]) == 2\n", False, "2"),  # stopped at [/ANSWER]
        ("assert countEven(nums = [1, 2, 4]) == 2\n[/ANSWER]\n[PYTHON]", False, "2"),
        ("2", False, "2"),
        ("'ab'\nmore text", False, "'ab'"),  # no [/ANSWER]: the first line only
        ("assert g(a = 1) == [1,\n 2]\n", False, "[1,"),  # ...even when the value goes on
        ("assert g(a = 1) == [1,\n 2]\n[/ANSWER]", False, "[1,\n 2]"),
        ("[THOUGHT]\nsteps\n[/THOUGHT]\n[ANSWER]\nassert g(a = 1) == 5\n[/ANSWER]", True, "5"),
        ("[ANSWER]\n5\n[/ANSWER]", True, "5"),
        ("[ANSWER]\n5\n[/ANSWER]", False, "[ANSWER]\n5"),  # the direct rule knows no opening tag
        ("assert g() == 'a==b'", False, "'a"),  # official quirk
    ],
)
def test_extract_answer(generation, cot, answer):
    assert lcb.extract_answer(generation, cot=cot) == answer


# -- scoring ------------------------------------------------------------------------------------
def test_pass_at_1_by_hand(sandbox):
    call = ROW["input"]
    generations = {
        "A": ["2", "3", "2", "2"],  # 3/4
        "B": [call, "2", call],  # skipped ones left out: 1/1
        "C": [call, call],  # all skipped: n = 2, c = 0
        "D": [call, "7", call],  # skipped and failed: n = 1 (CRUXEval's rule would count 3)
        "E": ["0"],  # 0/1
    }
    result = lcb.score(_rows("ABCDE"), generations, sandbox=sandbox)
    per = result["per_sample"]
    assert {k: (v["n"], v["c"]) for k, v in per.items()} == {"A": (4, 3), "B": (1, 1), "C": (2, 0), "D": (1, 0), "E": (1, 0)}
    assert per["B"]["passed"] == [None, True, None]
    assert result["pass@1"] == pytest.approx(100 * (0.75 + 1 + 0 + 0 + 0) / 5)
    assert (result["n_samples"], result["n_generations"], result["n_skipped"]) == (5, 13, 6)
    assert set(result) == {"pass@1", "n_samples", "n_generations", "n_skipped", "per_sample"}


def test_the_header_is_in_force(sandbox):
    row = dict(ROW, id="h", code="def lcm2(a: int, b: int) -> int:\n    return a * b // gcd(a, b) + len(deque([comb(3, 2)]))\n",
               input="lcm2(a = 4, b = 6)", output="13")
    assert lcb.score([row], {"h": ["13"]}, sandbox=sandbox)["pass@1"] == 100.0


def test_the_bundled_examples(sandbox):
    rows = lcb.load_rows(EXAMPLES)
    right = {row["id"]: [row["output"]] for row in rows}
    assert lcb.score(rows, right, sandbox=sandbox)["pass@1"] == 100.0
    raw = {row["id"]: [f"assert {row['input']} == {row['output']}\n"] for row in rows}
    assert lcb.score(rows, raw, sandbox=sandbox, raw=True)["pass@1"] == 100.0
    wrong = {row["id"]: ["None"] for row in rows}
    assert lcb.score(rows, wrong, sandbox=sandbox)["pass@1"] == 0.0


def test_a_looping_or_hostile_generation_fails_contained(sandbox, tmp_path):
    target = tmp_path / "pwned"
    slow_but_right = "(__import__('time').sleep(3), 2)[1]"
    generations = {"A": ["[x for x in iter(int, 1)]", f"(open({str(target)!r}, 'w').write('x'), 2)[1]", "exit()", slow_but_right, "2"]}
    result = lcb.score(_rows("A"), generations, timeout=1, sandbox=sandbox)
    # the slow right answer fails: the 1 s timeout applied, not the sandbox's own 10 s
    assert result["per_sample"]["A"]["passed"] == [False, False, False, False, True]
    assert not target.exists()


def test_score_file_and_errors(tmp_path, sandbox):
    rows_path = tmp_path / "rows.jsonl"
    rows_path.write_text(json.dumps(dict(ROW, id="q1")) + "\n" + json.dumps({k: v for k, v in ROW.items() if k != "id"}) + "\n")
    rows = lcb.load_rows(rows_path)
    assert [row["id"] for row in rows] == ["q1", "rows.jsonl:2"]
    generations = tmp_path / "generations.json"
    generations.write_text(json.dumps({"q1": ["2"], "rows.jsonl:2": ["3", "2"]}))
    result = lcb.score_file(rows_path, generations, sandbox=sandbox)
    assert result["pass@1"] == pytest.approx(75.0)
    generations.write_text(json.dumps({"q1": ["2"], "other": ["2"]}))
    with pytest.raises(ValueError, match=r"id\(s\) not in the benchmark's rows: 'other'"):
        lcb.score_file(rows_path, generations, sandbox=sandbox)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"code": "def g(): pass", "input": "g()"}, r"rows.jsonl:1: missing string field 'output'"),
        ({"code": "def g(): pass", "input": "  ", "output": "1"}, r"rows.jsonl:1: 'input' is empty"),
        ({"code": None, "input": "g()", "output": "1"}, r"rows.jsonl:1: missing string field 'code'"),
    ],
)
def test_bad_rows(tmp_path, row, message):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=message):
        lcb.load_rows(path)
