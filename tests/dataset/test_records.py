"""Records and their files: token counting, byte-stable writing."""

from __future__ import annotations

from codewm.dataset import records
from codewm.dataset.plan import assign_split, program_digest


def test_special_tokens_count_once():
    assert records.count_tokens("<|frame_sep|><|call_sep|>{}") == 4
    assert records.count_tokens("x = 1\n") == 6  # x, space, =, space, 1, newline


def test_program_digest_ignores_formatting_and_comments():
    base = program_digest("def f(x):\n    return x + 1\n")
    assert program_digest("def f(x):  # hi\n\n    return x+1\n") == base
    assert program_digest("def f(x):\n    return x + 2\n") != base
    assert program_digest("def g(x):\n    return x + 1\n") != base
    assert program_digest("def f(:") == program_digest("  def f(:  ")


def test_splits_follow_the_fractions():
    splits = (("train", 0.8), ("validation", 0.1), ("test", 0.1))
    counts = {"train": 0, "validation": 0, "test": 0}
    for i in range(5000):
        counts[assign_split(program_digest(f"x = {i}\n"), splits)] += 1
    assert 3800 < counts["train"] < 4200 and 400 < counts["validation"] < 600 and 400 < counts["test"] < 600


def test_shard_bytes_are_stable(tmp_path):
    rows = [{"id": str(i), "origin": "t", "split": "train", "program_sha": "0" * 64, "source": "s", "call": "c", "status": "ok",
             "error": None, "n_frames": 1, "n_tokens": 2, "max_value_chars": 3, "in_training": True, "excluded": None,
             "text": "t\u00e9", "partial_text": None, "linenos": [1, 2], "meta": {"b": 1, "a": 2}} for i in range(20)]
    assert records.jsonl_gz_bytes(rows) == records.jsonl_gz_bytes(rows)
    assert records.parquet_bytes(rows) == records.parquet_bytes(rows)
    first = records.write_shard(tmp_path / "a", "train/shard-00000", rows, ("jsonl.gz", "parquet"))
    second = records.write_shard(tmp_path / "b", "train/shard-00000", rows, ("jsonl.gz", "parquet"))
    assert first == second and not list(tmp_path.rglob("*.tmp"))
    assert records.read_jsonl_gz(tmp_path / "a" / "train" / "shard-00000.jsonl.gz") == rows
