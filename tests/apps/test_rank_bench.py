"""bench/rerank.py end to end on one problem of CodeT's pool: the rows, and the JSON last line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODET = ROOT.parent / "shared" / "data" / "codet"


@pytest.mark.skipif(not CODET.is_dir(), reason=f"CodeT's pool is not at {CODET} (the data is not part of codewm)")
def test_the_bench_ranks_one_problem_and_ends_with_json(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("rerank", ROOT / "bench" / "rerank.py")
    rerank = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rerank)
    args = ["none", "--problems", "1", "--accuracy", "0.9", "--cache", str(tmp_path / "cache.jsonl")]
    result = rerank.main(args)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(json.dumps(result))
    rows = {row["name"]: row for row in result["rows"]}
    assert set(rows) == {"random", "codet-oracle", "simulated@0.9"}
    assert rows["codet-oracle"]["pass@1"] > rows["random"]["pass@1"]  # HumanEval/0: the biggest cluster is mostly correct
    assert result["real_execution"]["sandbox_runs"] == 79
    again = rerank.main(args)  # everything from the cache
    assert again["real_execution"]["sandbox_runs"] == 0 and again["rows"] == result["rows"]
