"""bench/rerank.py end to end on one problem of CodeT's pool: the rows, and the JSON last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_scripts import load_bench

ROOT = Path(__file__).resolve().parents[2]
CODET = ROOT.parent / "shared" / "data" / "codet"


@pytest.mark.skipif(not CODET.is_dir(), reason=f"CodeT's pool is not at {CODET} (the data is not part of codewm)")
def test_the_bench_ranks_one_problem_and_ends_with_json(tmp_path, capsys):
    rerank = load_bench("rerank.py")
    args = ["none", "--problems", "1", "--accuracy", "0.9", "--cache", str(tmp_path / "cache.jsonl")]
    result = rerank.main(args)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(json.dumps(result))
    rows = {row["name"]: row for row in result["rows"]}
    assert set(rows) == {"random", "most-written", "compiles", "codet-oracle", "behaviour-oracle", "simulated@0.9"}
    assert rows["codet-oracle"]["pass@1"] > rows["random"]["pass@1"]  # HumanEval/0: the biggest cluster is mostly correct
    assert rows["behaviour-oracle"]["pass@1"] > rows["random"]["pass@1"]
    assert "pass@1_vs_random" not in rows["random"]
    assert "pass@1_vs_compiles" not in rows["compiles"] and "pass@1_vs_compiles" in rows["codet-oracle"]
    gain = rows["codet-oracle"]["pass@1_vs_random"]
    assert gain["points"] == pytest.approx(rows["codet-oracle"]["pass@1"] - rows["random"]["pass@1"], abs=0.11) and gain["ci"][0] <= gain["points"] <= gain["ci"][1]
    assert result["real_execution"]["sandbox_runs"] == 79
    again = rerank.main(args)  # everything from the cache
    assert again["real_execution"]["sandbox_runs"] == 0 and again["rows"] == result["rows"]


@pytest.mark.skipif(not CODET.is_dir(), reason=f"CodeT's pool is not at {CODET} (the data is not part of codewm)")
def test_a_models_rows_both_ways_on_a_subset_of_distinct_inputs(tmp_path):
    rerank = load_bench("rerank.py")
    from codewm.apps.rank.asserts import parse_test
    from codewm.apps.rank.pool import read_pool

    (problem,) = read_pool(CODET / rerank.SOLUTIONS, CODET / rerank.TESTS, CODET / rerank.TASKS, limit=1)
    candidates, tests = rerank.subset(problem, 10, 3)
    calls = [parse_test(t, problem.task.entry_point).call for t in tests]
    assert len(tests) == 3 and len(set(calls)) == 3 and None not in calls  # each test a new input
    assert list(candidates) == [b for b, _ in problem.candidates.most_common(10)]
    # the oracle as "the model": its rows must be the oracle's own on the same subset
    result = rerank.main(["oracle", "--problems", "1", "--model-problems", "1", "--model-candidates", "10", "--model-tests", "3", "--accuracy", "--cache", str(tmp_path / "cache.jsonl")])
    rows = {row["name"]: row for row in result["rows"]}
    assert rerank.figures(rows["oracle (trace)"]) == rerank.figures(rows["codet-oracle (subset)"])
    assert rerank.figures(rows["oracle (trace), behaviour"]) == rerank.figures(rows["behaviour-oracle (subset)"])
    assert result["models"][0]["behaviour"] == rerank.figures(rows["behaviour-oracle (subset)"])


def test_a_ranking_is_compared_with_random_order_problem_by_problem():
    rerank = load_bench("rerank.py")
    base = {"_pass@1": [0.2, 0.5, 0.0, 1.0]}
    gain = rerank.versus({"_pass@1": [1.0, 0.5, 0.0, 1.0]}, base)
    assert gain["points"] == 20.0 and gain["ci"][0] <= 20.0 <= gain["ci"][1] and gain["ci"][0] >= 0.0
    assert rerank.versus(base, base) == {"points": 0.0, "ci": [0.0, 0.0]}
    with pytest.raises(ValueError):
        rerank.versus({"_pass@1": [1.0]}, base)  # not the same problems
