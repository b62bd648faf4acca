"""`codewm rank` on a pool of files: the ranking, the runs, the JSON, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codewm.cli import app

runner = CliRunner(env={"COLUMNS": "160"})
CODET = Path(__file__).resolve().parents[3] / "shared" / "data" / "codet"
PROMPT = 'def inc(x):\n    """x plus one"""\n'


def _pool(tmp_path: Path) -> list[str]:
    rows = {
        "s.jsonl": [{"prompt": PROMPT, "samples": ["    return x\n", "    return x + 1\n", "    while True:\n        pass\n", "    return x + 1\n"]}],
        "t.jsonl": [{"prompt": PROMPT + "    pass\n\n# check the correctness of inc\nassert ", "samples": ["inc(1) == 2\nassert inc(5) == 6", "inc(0) == 1"]}],
        "k.jsonl": [{"task_id": "T/inc", "prompt": PROMPT, "entry_point": "inc", "test": "def check(candidate):\n    assert candidate(41) == 42\n"}],
    }
    for name, content in rows.items():
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in content))
    return [str(tmp_path / name) for name in rows]


def test_rank_prints_the_clusters_and_the_runs_and_writes_json(tmp_path):
    out = tmp_path / "ranking.json"
    result = runner.invoke(app, ["rank", *_pool(tmp_path), "--model", "oracle", "--verify", "--json", str(out), "--cache", str(tmp_path / "c.jsonl")])
    assert result.exit_code == 0, result.output
    assert "T/inc: 3 distinct candidates (4 written), 3 tests; 1 clusters" in result.output
    assert "#1 score 4.2: 2 candidates agree on 3 tests (candidates 1;" in result.output  # sqrt(2) x 3
    assert "ranked last: 2 candidates predicted to pass no test" in result.output
    assert "run 1: candidate 1 (cluster 0) hidden test PASSED" in result.output
    (document,) = json.loads(out.read_text())
    assert document["winner"] == 1 and document["order"][0] == 1
    assert document["candidates"][2]["predictions"][0]["status"] == "timeout"


def test_rank_names_a_bad_file_and_an_unknown_task(tmp_path):
    files = _pool(tmp_path)
    result = runner.invoke(app, ["rank", *files, "--task", "T/none"])
    assert result.exit_code == 2 and "no task 'T/none'" in result.output
    (tmp_path / "s.jsonl").write_text("{oops\n")
    result = runner.invoke(app, ["rank", *files])
    assert result.exit_code == 2 and "s.jsonl:1: not JSON" in result.output


@pytest.mark.skipif(not CODET.is_dir(), reason=f"CodeT's pool is not at {CODET} (the data is not part of codewm)")
def test_rank_on_codets_pool_finds_a_correct_candidate_first(tmp_path):
    files = [str(CODET / name) for name in ("HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl", "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_test_case.jsonl", "HumanEval_for_code_generation.jsonl")]
    result = runner.invoke(app, ["rank", *files, "--task", "HumanEval/0", "--verify", "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "HumanEval/0: 79 distinct candidates (100 written), 129 tests" in result.output
    assert "run 1: candidate" in result.output and "PASSED" in result.output


def test_rank_by_behaviour_shows_clusters_of_the_same_values(tmp_path):
    result = runner.invoke(app, ["rank", *_pool(tmp_path), "--by", "behaviour", "--cache", str(tmp_path / "c.jsonl")])
    assert result.exit_code == 0, result.output
    assert "#1: 2 candidates behave alike, passing 3 tests (candidates 1;" in result.output
    assert "#2: 1 candidate, passing 0 tests (candidates 0;" in result.output
    assert "ranked last: 1 candidates with no predicted value" in result.output
    result = runner.invoke(app, ["rank", *_pool(tmp_path), "--by", "votes"])
    assert result.exit_code == 2 and "--by 'votes': expected one of agreement, behaviour" in result.output
