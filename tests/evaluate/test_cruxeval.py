"""CRUXEval scoring: the official prompts, answer extraction, skip rules and pass@k."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codewm.evaluate import cruxeval
from codewm.trace.sandbox import Sandbox

EXAMPLES = Path(cruxeval.__file__).resolve().parent.parent / "examples" / "cruxeval_style.jsonl"
ROW = {"id": "inc", "code": "def f(x):\n    return x + 1", "input": "1", "output": "2"}
LOOP = "[x for x in iter(int, 1)]"  # an expression that never ends


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


# -- prompts ----------------------------------------------------------------------------------
def test_direct_output_prompt_is_the_official_text():
    expected = (
        "You are given a Python function and an assertion containing an input to the function. Complete the "
        "assertion with a literal (no unsimplified expressions, no function calls) containing the output when "
        "executing the provided code on the given input, even if the function is incorrect or incomplete. Do NOT "
        "output any extra information. Provide the full assertion with the correct output in [ANSWER] and "
        "[/ANSWER] tags, following the examples.\n\n"
        "[PYTHON]\ndef f(n):\n    return n\nassert f(17) == ??\n[/PYTHON]\n[ANSWER]\nassert f(17) == 17\n[/ANSWER]\n\n"
        '[PYTHON]\ndef f(s):\n    return s + "a"\nassert f("x9j") == ??\n[/PYTHON]\n[ANSWER]\nassert f("x9j") == "x9ja"\n[/ANSWER]\n\n'
        "[PYTHON]\ndef f(x):\n    return x + 1\nassert f(1) == ??\n[/PYTHON]\n[ANSWER]\n"
    )
    assert cruxeval.output_prompt(ROW["code"], ROW["input"]) == expected
    assert cruxeval.prompt(ROW, "output") == expected


def test_direct_input_prompt_is_the_official_text():
    expected = (
        "You will be given a function f and an output in the form f(??) == output. Find any input such that "
        "executing f on the input leads to the given output. There may be multiple answers, but you should only "
        "output one. In [ANSWER] and [/ANSWER] tags, complete the assertion with one such input that will produce "
        "the output when executing the function.\n\n"
        "[PYTHON]\ndef f(my_list):\n    count = 0\n    for i in my_list:\n        if len(i) % 2 == 0:\n"
        "            count += 1\n    return count\nassert f(??) == 3\n[/PYTHON]\n[ANSWER]\n"
        'assert f(["mq", "px", "zy"]) == 3\n[/ANSWER]\n\n'
        '[PYTHON]\ndef f(s1, s2):\n    return s1 + s2\nassert f(??) == "banana"\n[/PYTHON]\n[ANSWER]\n'
        'assert f("ba", "nana") == "banana"\n[/ANSWER]\n\n'
        "[PYTHON]\ndef f(x):\n    return x + 1\nassert f(??) == 2\n[/PYTHON]\n[ANSWER]\n"
    )
    assert cruxeval.input_prompt(ROW["code"], ROW["output"]) == expected
    assert cruxeval.prompt(ROW, "input") == expected


def test_chain_of_thought_prompts():
    output = cruxeval.output_prompt(ROW["code"], ROW["input"], cot=True)
    assert output.endswith("[PYTHON]\ndef f(x):\n    return x + 1\nassert f(1) == ??\n[/PYTHON]\n[THOUGHT]\n")
    assert "5. The return value of the function is therefore \"bhihia\".\n[/THOUGHT]\n" in output
    given = cruxeval.input_prompt(ROW["code"], ROW["output"], cot=True)
    assert "We know that f(??) == 17. \n\nSince" in given  # the official text's trailing spaces
    assert given.endswith("assert f(??) == 2\n[/PYTHON]\n[THOUGHT]\n")


# -- answers ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "generation, answer",
    [
        ("assert f(17) == 17\n", "17"),  # a direct generation, stopped at [/ANSWER]
        ("17", "17"),
        ("  'abc'  \n", "'abc'"),
        ("assert f('a') == 'b'\n[/ANSWER]\n\n[PYTHON]\ndef g(): pass", "'b'"),  # not stopped: cut at the stop string
        ("[THOUGHT]\nx is 1, so 2\n[/THOUGHT]\n[ANSWER]\nassert f(1) == 2\n[/ANSWER]", "2"),  # chain of thought
        ("[ANSWER]\n[1,\n 2]\n", "[1,\n 2]"),  # multi-line answer, kept whole
        ("assert f(1) == {'a': [1,\n 2]}\n", "{'a': [1,\n 2]}"),
        ("assert f('x') == 'a==b'", "'a"),  # official quirk: the text up to a second ==
        ("", ""),
    ],
)
def test_extract_output_answers(generation, answer):
    assert cruxeval.extract_answer(generation, "output") == answer


@pytest.mark.parametrize(
    "generation, answer",
    [
        ("assert f(1, 2) == 3\n", "f(1, 2)"),
        ("f(1, 2)", "f(1, 2)"),
        ("[ANSWER]\nassert f('x') == 'y'\n[/ANSWER]", "f('x')"),
        ("[THOUGHT]\nwork backwards\n[/THOUGHT]\n[ANSWER]\nassert f([1,\n 2]) == 3\n", "f([1,\n 2])"),
        ("assert f('assertive') == 1", "f('"),  # official quirk: split at the second "assert"
        ("f(x=1) == 3 [/ANSWER] assert f(9) == 3", "f(x=1)"),
    ],
)
def test_extract_input_answers(generation, answer):
    assert cruxeval.extract_answer(generation, "input") == answer


def test_extract_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        cruxeval.extract_answer("1", "both")
    with pytest.raises(TypeError):
        cruxeval.extract_answer(None, "output")


# -- check programs and skip rules --------------------------------------------------------------
def test_check_programs_and_skip_rules():
    code, given, output = ROW["code"], ROW["input"], ROW["output"]
    assert cruxeval.check_program(code, given, output, "2", "output") == "def f(x):\n    return x + 1\nassert 2 == 2"
    assert cruxeval.check_program(code, given, output, "f(1)", "output") is None  # restates the call
    assert cruxeval.check_program(code, given, output, "f(1) + 0", "output") is None
    assert cruxeval.check_program(code, given, output, "f( 1)", "output") is not None  # the rule is textual
    assert cruxeval.check_program(code, given, output, "f(1)", "input") == "def f(x):\n    return x + 1\nassert 2 == f(1)"
    assert cruxeval.check_program(code, given, output, "1", "input") is None  # not a call of f
    assert cruxeval.check_program(code, given, output, "g(1)", "input") is None
    assert cruxeval.check_program(code, given, output, "elf(1)", "input") is not None  # "f(" occurs


def test_sample_counts_follow_the_official_rule():
    assert cruxeval.sample_counts([True, False, None]) == (2, 1)  # skipped: out of n
    assert cruxeval.sample_counts([None, None]) == (2, 0)  # all skipped: all count, as failures
    assert cruxeval.sample_counts([None, False, False]) == (3, 0)  # none passed: all count
    assert cruxeval.sample_counts([False, False]) == (2, 0)
    assert cruxeval.sample_counts([None, True]) == (1, 1)


# -- scoring ------------------------------------------------------------------------------------
def _rows(ids):
    return [dict(ROW, id=i) for i in ids]


def test_pass_at_k_by_hand(sandbox):
    generations = {
        "A": ["2", "2", "3", "2", "0"],  # n=5, c=3
        "B": ["0", "1", "3", "4", "5"],  # n=5, c=0
        "C": ["f(1)", "2", "f(1)", "9", "f(1)"],  # 3 skipped: n=2, c=1
        "D": ["f(1)"] * 5,  # all skipped: n=5, c=0
        "E": ["f(1)", "f(1)", "7", "8", "f(1)"],  # skipped and failed, none passed: n=5, c=0
    }
    result = cruxeval.score(_rows("ABCDE"), generations, "output", ks=(1, 2, 5), sandbox=sandbox)
    per = result["per_sample"]
    assert {k: (v["n"], v["c"]) for k, v in per.items()} == {"A": (5, 3), "B": (5, 0), "C": (2, 1), "D": (5, 0), "E": (5, 0)}
    assert per["A"]["passed"] == [True, True, False, True, False]
    assert per["C"]["passed"] == [None, True, None, False, None]
    assert per["D"]["passed"] == [None] * 5
    # pass@1: A 3/5, C 1/2 -> (0.6 + 0.5) / 5
    assert result["pass@1"] == pytest.approx(22.0)
    # pass@2: A 1 - C(2,2)/C(5,2) = 0.9; C has n - c = 1 < 2 -> 1
    assert result["pass@2"] == pytest.approx(38.0)
    # pass@5: A 1 (n - c = 2 < 5); C 1 (n = 2 fell below k by skipping, and it has a pass)
    assert result["pass@5"] == pytest.approx(40.0)
    assert (result["n_samples"], result["n_generations"], result["n_skipped"]) == (5, 25, 11)


def test_pass_at_k_is_left_out_when_a_sample_has_fewer_generations(sandbox):
    result = cruxeval.score(_rows("XY"), {"X": ["2"] * 5, "Y": ["2", "3"]}, "output", ks=(1, 2, 5), sandbox=sandbox)
    assert result["pass@1"] == pytest.approx(75.0)
    assert result["pass@2"] == pytest.approx(100.0)
    assert "pass@5" not in result
    single = cruxeval.score(_rows("Z"), {"Z": ["3"]}, "output", sandbox=sandbox)
    assert single["pass@1"] == 0.0 and "pass@5" not in single  # the official script would print 100


def test_input_mode(sandbox):
    generations = {"A": ["f(1)", "f(x=1)", "f(2)", "1", "assert f(1) == 2"]}
    result = cruxeval.score(_rows("A"), generations, "input", ks=(1,), sandbox=sandbox)
    assert result["per_sample"]["A"]["passed"] == [True, True, False, None, False]
    raw = cruxeval.score(_rows("A"), generations, "input", ks=(1,), sandbox=sandbox, raw=True)
    assert raw["per_sample"]["A"]["passed"] == [True, True, False, None, True]  # the last one extracted: f(1)
    assert raw["pass@1"] == pytest.approx(75.0)


def test_raw_generations_are_extracted(sandbox):
    generations = {"A": ["assert f(1) == 2\n", "[ANSWER]\nassert f(1) == 3\n[/ANSWER]", "assert f(1) == f(1)\n", "2"]}
    result = cruxeval.score(_rows("A"), generations, "output", ks=(1,), raw=True, sandbox=sandbox)
    # the third restates the call after extraction ("f(1)"): skipped
    assert result["per_sample"]["A"]["passed"] == [True, False, None, True]
    as_given = cruxeval.score(_rows("A"), generations, "output", ks=(1,), sandbox=sandbox)
    assert as_given["per_sample"]["A"]["passed"] == [None, None, None, True]  # taken whole, they contain f(1)


def test_the_bundled_examples(sandbox):
    rows = cruxeval.load_rows(EXAMPLES)[:12]
    right = {row["id"]: [row["output"]] for row in rows}
    assert cruxeval.score(rows, right, "output", ks=(1,), sandbox=sandbox)["pass@1"] == 100.0
    wrong = {row["id"]: [row["output"] + " + 'x'" if row["output"].startswith("'") else "None"] for row in rows}
    assert cruxeval.score(rows, wrong, "output", ks=(1,), sandbox=sandbox)["pass@1"] == 0.0
    calls = {row["id"]: [f"f({row['input']})"] for row in rows}
    assert cruxeval.score(rows, calls, "input", ks=(1,), sandbox=sandbox)["pass@1"] == 100.0


def test_a_generation_that_loops_forever_fails_in_about_the_timeout(sandbox):
    slow_but_right = "(__import__('time').sleep(3), 2)[1]"
    result = cruxeval.score(_rows("A"), {"A": [LOOP, "2", slow_but_right]}, "output", ks=(1,), timeout=1, sandbox=sandbox)
    # the slow right answer fails: the 1 s timeout applied, not the sandbox's own 10 s
    # (told by the result, not by a clock, so that a loaded machine cannot fail it)
    assert result["per_sample"]["A"]["passed"] == [False, True, False]


def test_a_hostile_generation_is_contained(sandbox, tmp_path):
    target = tmp_path / "pwned"
    generations = {"A": [
        f"(open({str(target)!r}, 'w').write('x'), 2)[1]",
        f"(__import__('os').system('touch {target}'), 2)[1]",
        "__import__('os')._exit(0)",
    ]}
    result = cruxeval.score(_rows("A"), generations, "output", ks=(1,), sandbox=sandbox)
    assert not target.exists()
    passed = result["per_sample"]["A"]["passed"]
    assert passed[0] is False and passed[2] is False  # the write failed; exiting is no pass


def test_progress_counts_every_generation(sandbox):
    seen = []
    cruxeval.score(_rows("AB"), {"A": ["2", "f(1)", "f(1)"], "B": ["3"]}, "output", ks=(1,), sandbox=sandbox, progress=seen.append)
    assert sum(seen) == 4 and seen[0] == 2  # the two skipped ones first


def test_score_checks_its_arguments(sandbox):
    with pytest.raises(ValueError, match="no generations for 1 row"):
        cruxeval.score(_rows("AB"), {"A": ["2"]}, "output", sandbox=sandbox)
    with pytest.raises(ValueError, match="not in the rows"):
        cruxeval.score(_rows("A"), {"A": ["2"], "Z": ["2"]}, "output", sandbox=sandbox)
    with pytest.raises(ValueError, match="empty list"):
        cruxeval.score(_rows("A"), {"A": []}, "output", sandbox=sandbox)
    with pytest.raises(ValueError, match="not a string"):
        cruxeval.score(_rows("A"), {"A": [2]}, "output", sandbox=sandbox)
    with pytest.raises(ValueError, match="mode"):
        cruxeval.score(_rows("A"), {"A": ["2"]}, "outputs", sandbox=sandbox)
    with pytest.raises(ValueError, match="ks"):
        cruxeval.score(_rows("A"), {"A": ["2"]}, "output", ks=(0,), sandbox=sandbox)
    with pytest.raises(ValueError, match="repeats"):
        cruxeval.score(_rows("AA"), {"A": ["2"]}, "output", sandbox=sandbox)


# -- files --------------------------------------------------------------------------------------
def _write_rows(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_score_file(tmp_path, sandbox):
    rows = _write_rows(tmp_path / "rows.jsonl", [dict(ROW, id="sample_0"), dict(ROW, id="sample_1", input="5", output="6")])
    generations = tmp_path / "generations.json"
    generations.write_text(json.dumps({"sample_0": ["2", "3"], "sample_1": ["6", "f(5)"]}))
    result = cruxeval.score_file(rows, generations, "output", ks=(1, 2), sandbox=sandbox)
    assert result["pass@1"] == pytest.approx(75.0)  # (1/2 + 1/1) / 2
    assert result["pass@2"] == pytest.approx(100.0)
    assert result["per_sample"]["sample_1"] == {"n": 1, "c": 1, "passed": [True, None]}
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"sample_1": ["6"]}))
    with pytest.raises(ValueError, match="no generations for 1 of 2 rows"):
        cruxeval.score_file(rows, partial, "output", sandbox=sandbox)
    assert cruxeval.score_file(rows, partial, "output", sandbox=sandbox, partial=True)["n_samples"] == 1


def test_load_rows(tmp_path):
    rows = cruxeval.load_rows(EXAMPLES)
    assert len(rows) > 100 and all(set(row) >= {"id", "code", "input", "output"} for row in rows)
    no_ids = _write_rows(tmp_path / "no_ids.jsonl", [{k: v for k, v in ROW.items() if k != "id"}] * 2)
    assert [row["id"] for row in cruxeval.load_rows(no_ids)] == ["sample_0", "sample_1"]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"code": "x", "input": "1", "output": "2", "id": "a"}\n{not json}\n', r"rows.jsonl:2: not valid JSON"),
        ('[1, 2]\n', r"rows.jsonl:1: expected a JSON object"),
        ('{"code": "x", "input": "1", "id": "a"}\n', r"rows.jsonl:1: missing string field 'output'"),
        ('{"code": "x", "input": 1, "output": "2"}\n', r"rows.jsonl:1: missing string field 'input'"),
        ('{"code": "x", "input": "1", "output": "2", "id": [1]}\n', r"rows.jsonl:1: 'id' must be"),
        ('{"code": "x", "input": "1", "output": "2", "id": "a"}\n\n{"code": "y", "input": "1", "output": "2", "id": "a"}\n',
         r"rows.jsonl:3: id 'a' repeats the row at .*rows.jsonl:1"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "rows.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        cruxeval.load_rows(path)


def test_missing_rows_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        cruxeval.load_rows(tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    "text, message",
    [
        ("{oops", "not valid JSON"),
        ('["2", "3"]', "expected a JSON object"),
        ('{"sample_0": "2"}', "'sample_0' are not a list but str"),
        ('{"sample_0": ["2", null]}', "generation 1 of 'sample_0' is not a string"),
        ('{"sample_0": []}', "'sample_0' has no generations"),
        ('{"sample_0": ["2"], "sample_9": ["1"], "extra": ["1"]}', r"2 id\(s\) not in the benchmark's rows: 'sample_9', 'extra'"),
    ],
)
def test_bad_generation_files(tmp_path, text, message):
    path = tmp_path / "generations.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        cruxeval.load_generations(path, [dict(ROW, id="sample_0")])
    assert str(path) in str(info.value)


def test_load_generations_in_the_official_form(tmp_path):
    path = tmp_path / "generations.json"
    path.write_text(json.dumps({"sample_0": ["'abc'", "'abd'"], "sample_1": ["[1, 2]"]}))
    assert cruxeval.load_generations(path) == {"sample_0": ["'abc'", "'abd'"], "sample_1": ["[1, 2]"]}
    with pytest.raises(ValueError, match="cannot read"):
        cruxeval.load_generations(tmp_path / "absent.json")
