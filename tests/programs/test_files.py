"""Program sources read from CRUXEval, LiveCodeBench and codewm JSONL files."""

from __future__ import annotations

import gzip
import json

import pytest

from codewm.programs.base import ProgramSource, make_source
from codewm.programs.files import CallsFile, CruxEvalFile, LiveCodeBenchFile, read_call_rows
from codewm.trace.sandbox import Program, Sandbox, SandboxLimits

CRUX_ROWS = [
    {"code": "def f(text, n):\n    return text[:n] + text[n:].upper()\n", "input": "'hello', 2", "output": "'heLLO'", "id": "sample_0"},
    # Keyword arguments in `input`.
    {"code": "def f(nums, k=1):\n    return [x * k for x in nums]\n", "input": "nums=[1, 2], k=3", "output": "[3, 6]", "id": "sample_1"},
    # A module-level statement before f, and an input naming something the code defines.
    {"code": "BASE = 10\ndef f(x):\n    return x + BASE\n", "input": "BASE", "output": "20", "id": "sample_2"},
]

LCB_ROWS = [
    # A plain function using `List` without importing it (LiveCodeBench's header supplies it).
    {
        "question_id": "2754",
        "id": "sample_0",
        "function_name": "maxStrength",
        "code": "def maxStrength(nums: List[int]) -> int:\n    best = nums[0]\n    for x in nums[1:]:\n        best = max(best, best * x, x)\n    return best\n",
        "input": "maxStrength(nums = [3, -1, 5])",
        "output": "15",
        "numsteps": 40,
        "problem_id": "2754",
        "contest_id": "biweekly-contest-105",
        "contest_date": "2023-05-27T00:00:00",
        "difficulty": "medium",
    },
    # A LeetCode-style method of class Solution, with keyword arguments and Counter.
    {
        "question_id": "2800",
        "id": "sample_1",
        "function_name": "performOperation",
        "code": "class Solution:\n    def performOperation(self, s: str, k: int) -> str:\n        counts = Counter(s)\n        return s * k + str(counts['h'])\n",
        "input": "performOperation(s = \"hi\", k = 2)",
        "output": "'hihi1'",
        "difficulty": "easy",
    },
]

CALL_ROWS = [
    {"code": "def g(a, b):\n    return a * b\n", "call": "g(6, 7)", "id": "mine/0"},
    {"code": "def h(xs):\n    xs.sort()\n    return xs\n", "call": "h([3, 1, 2])"},
]


def write_jsonl(path, rows, blank_line=True):
    text = "\n".join(json.dumps(row) for row in rows) + "\n" + ("\n" if blank_line else "")
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(limits=SandboxLimits(cpu_seconds=2, wall_seconds=5), workers=2) as box:
        yield box


def traced(sandbox, cases):
    return list(sandbox.map(Program.function(case.source, case.call) for case in cases))


def test_cruxeval_rows(tmp_path, sandbox):
    path = write_jsonl(tmp_path / "crux.jsonl", CRUX_ROWS)
    source = CruxEvalFile(path)
    assert isinstance(source, ProgramSource) and source.name == "cruxeval"
    cases = list(source.cases())
    assert [(c.id, c.call, c.origin) for c in cases] == [
        ("sample_0", "f('hello', 2)", "cruxeval"),
        ("sample_1", "f(nums=[1, 2], k=3)", "cruxeval"),
        ("sample_2", "f(BASE)", "cruxeval"),
    ]
    assert [c.meta["output"] for c in cases] == [row["output"] for row in CRUX_ROWS]
    results = traced(sandbox, cases)
    assert [r.status for r in results] == ["ok"] * 3
    assert [r.trace.output for r in results] == [c.meta["output"] for c in cases]


def test_livecodebench_functions_and_solution_methods(tmp_path, sandbox):
    path = write_jsonl(tmp_path / "lcb.jsonl", LCB_ROWS)
    cases = list(LiveCodeBenchFile(path).cases())
    function, method = cases
    assert function.origin == method.origin == "livecodebench"
    assert function.call == "maxStrength(nums = [3, -1, 5])" and function.meta["kind"] == "function"
    assert function.source == "from typing import List\n" + LCB_ROWS[0]["code"]
    assert function.meta["question_id"] == "2754" and function.meta["difficulty"] == "medium" and function.meta["numsteps"] == 40
    assert method.call == 'Solution().performOperation(s = "hi", k = 2)' and method.meta["kind"] == "method"
    assert method.source == "from collections import Counter\n" + LCB_ROWS[1]["code"]
    assert [c.id for c in cases] == ["sample_0", "sample_1"]
    results = traced(sandbox, cases)
    assert [r.status for r in results] == ["ok", "ok"]
    assert [r.trace.output for r in results] == [row["output"] for row in LCB_ROWS]
    # The method's own frames are in the trace, right under main: no wrapper function.
    assert {frame.function for frame in results[1].trace.frames} >= {"main", "performOperation"}


def test_calls_file_and_gzip(tmp_path, sandbox):
    plain = write_jsonl(tmp_path / "calls.jsonl", CALL_ROWS)
    packed = write_jsonl(tmp_path / "calls.jsonl.gz", CALL_ROWS)
    cases = list(CallsFile(plain).cases())
    assert [c.to_dict() for c in CallsFile(packed).cases()] == [
        {**c.to_dict(), "id": c.id.replace("calls.jsonl", "calls.jsonl.gz")} for c in cases
    ]
    assert [(c.id, c.call, c.origin) for c in cases] == [("mine/0", "g(6, 7)", "jsonl"), ("calls.jsonl:2", "h([3, 1, 2])", "jsonl")]
    results = traced(sandbox, cases)
    assert [(r.status, r.trace.output) for r in results] == [("ok", "42"), ("ok", "[1, 2, 3]")]
    # Gzipped files in the other formats too.
    crux = list(CruxEvalFile(write_jsonl(tmp_path / "crux.jsonl.gz", CRUX_ROWS)).cases())
    lcb = list(LiveCodeBenchFile(write_jsonl(tmp_path / "lcb.jsonl.gz", LCB_ROWS)).cases())
    assert len(crux) == 3 and len(lcb) == 2
    assert all(r.status == "ok" for r in traced(sandbox, crux + lcb))


def test_limit_and_registry(tmp_path):
    path = write_jsonl(tmp_path / "crux.jsonl", CRUX_ROWS)
    assert [c.id for c in CruxEvalFile(path, limit=2).cases()] == ["sample_0", "sample_1"]
    assert list(CruxEvalFile(path, limit=0).cases()) == []
    for kind, cls in (("cruxeval", CruxEvalFile), ("livecodebench", LiveCodeBenchFile), ("jsonl", CallsFile)):
        assert isinstance(make_source(kind, path=str(path), limit=1), cls)
    with pytest.raises(ValueError, match="limit"):
        CallsFile(path, limit=-1)
    # Same file, same cases, same order.
    assert [c.to_dict() for c in CruxEvalFile(path).cases()] == [c.to_dict() for c in CruxEvalFile(path).cases()]


@pytest.mark.parametrize(
    "cls, bad_row, message",
    [
        (CruxEvalFile, "{not json}", "not valid JSON"),
        (CruxEvalFile, "[1, 2]", "expected a JSON object, got list"),
        (CruxEvalFile, '{"code": "def f(x):\\n    return x\\n"}', "missing string field 'input'"),
        (CruxEvalFile, '{"input": "1"}', "missing string field 'code'"),
        (CruxEvalFile, '{"code": "def f(x):\\n  return x\\n", "input": "1, ("}', "not a valid call"),
        (CruxEvalFile, '{"code": "def f(x) return", "input": "1"}', "'code' is not valid Python"),
        (CruxEvalFile, '{"code": "def f(x):\\n  return x\\n", "input": "1", "output": 1}', "'output' must be a string"),
        (CallsFile, '{"code": "def g():\\n  return 1\\n"}', "missing string field 'call'"),
        (CallsFile, '{"code": "def g():\\n  return 1\\n", "call": "g"}', "'call' is not a call"),
        (CallsFile, '{"code": "def g():\\n  return 1\\n", "call": "g()", "id": [1]}', "'id' must be a string or an int"),
        (LiveCodeBenchFile, '{"code": "def a(x):\\n  return x\\n", "function_name": "a", "input": "b(x = 1)"}', "'input' calls 'b'"),
        (LiveCodeBenchFile, '{"code": "def a(x):\\n  return x\\n", "function_name": "c", "input": "c(x = 1)"}', "defines no function 'c'"),
        (LiveCodeBenchFile, '{"code": "def a(x):\\n  return x\\n", "function_name": "a", "input": "x.a(1)"}', "must call a function by name"),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path, cls, bad_row, message):
    good = {CruxEvalFile: CRUX_ROWS[0], CallsFile: CALL_ROWS[0], LiveCodeBenchFile: LCB_ROWS[0]}[cls]
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + bad_row + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        list(cls(path).cases())
    assert str(info.value).startswith(f"{path}:3: ") and message in str(info.value), str(info.value)
    with pytest.raises(ValueError) as info:
        cls(path).case(1)  # random access reports the same
    assert str(info.value).startswith(f"{path}:3: ") and message in str(info.value), str(info.value)


@pytest.mark.parametrize("cls, rows", [(CruxEvalFile, CRUX_ROWS), (CallsFile, CALL_ROWS), (LiveCodeBenchFile, LCB_ROWS)])
def test_random_access_gives_the_cases_in_file_order(tmp_path, cls, rows):
    from codewm.programs.base import is_indexable

    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n\n", encoding="utf-8")
    for limit in (None, 1, 0):
        source = cls(path, limit=limit)
        assert is_indexable(source)
        assert [source.case(i).to_dict() for i in range(len(source))] == [c.to_dict() for c in cls(path, limit=limit).cases()]
    gz = tmp_path / "rows.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert not is_indexable(cls(gz))  # read front to back only


def test_read_call_rows_keeps_its_behaviour(tmp_path):
    rows = [CRUX_ROWS[0], {k: v for k, v in CRUX_ROWS[1].items() if k != "id"}, CALL_ROWS[0]]
    expected = [
        ("sample_0", CRUX_ROWS[0]["code"], "f('hello', 2)"),
        ("rows.jsonl:2", CRUX_ROWS[1]["code"], "f(nums=[1, 2], k=3)"),
        ("mine/0", CALL_ROWS[0]["code"], "g(6, 7)"),
    ]
    assert read_call_rows(write_jsonl(tmp_path / "rows.jsonl", rows)) == expected
    packed = read_call_rows(write_jsonl(tmp_path / "rows.jsonl.gz", rows))
    assert [row[1:] for row in packed] == [row[1:] for row in expected]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"code": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{bad}:1: needs 'input' \(CRUXEval\) or 'call' \(codewm\)"):
        read_call_rows(bad)
