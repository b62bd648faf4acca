"""Records and their files: token counting, byte-stable writing."""

from __future__ import annotations

from codewm.dataset import records
from codewm.dataset.read import read_jsonl_gz
from codewm.dataset.fingerprint import program_digest
from codewm.dataset.plan import assign_split


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
    assert read_jsonl_gz(tmp_path / "a" / "train" / "shard-00000.jsonl.gz") == rows


def _planned(source: str, call: str):
    from types import SimpleNamespace

    case = SimpleNamespace(id="c", origin="test", source=source, call=call, meta={})
    return SimpleNamespace(case=case, split="train", program_sha="0" * 64)


def test_a_text_that_does_not_read_back_is_not_training_text():
    from codewm.format.cwm import DESCRIBE_STEPS, read_back_problem
    from codewm.trace.sandbox import Program, Sandbox

    source, call = "def f(xs):\n    ys = [x * 2 for x in xs]\n    return sum(ys)\n", "f([1, 2, 3])"
    with Sandbox(workers=1) as sandbox:
        (result,) = sandbox.run_batch([Program.function(source, call)], DESCRIBE_STEPS)
    # the describer read the text back where it was made (in the sandbox's process)
    assert result.formatted["unreadable"] is None
    good = records.make_record(_planned(source, call), result, max_trace_tokens=10**6)
    assert good["in_training"] and good["excluded"] is None and good["text"]

    text, n_frames = result.formatted["text"], result.formatted["n_frames"]
    first_frame = text.index("<|frame_sep|>") + len("<|frame_sep|>")
    broken = text[:first_frame] + "<|line_sep|>garbage" + text[first_frame:]
    assert read_back_problem(text, n_frames) is None
    assert read_back_problem(broken, n_frames) == "parse"
    assert read_back_problem(text, n_frames + 1) == "frames"

    # a description without the verdict (made outside the sandbox) is read back here
    result.formatted = {k: v for k, v in result.formatted.items() if k != "unreadable"} | {"text": broken}
    bad = records.make_record(_planned(source, call), result, max_trace_tokens=10**6)
    assert not bad["in_training"] and bad["excluded"] == "unreadable:parse"
    assert bad["text"] is None and bad["partial_text"] == broken  # kept for a look, never trained on
    # the sandbox's verdict is taken as given
    result.formatted = dict(result.formatted, text=text, unreadable="frames")
    assert records.make_record(_planned(source, call), result, max_trace_tokens=10**6)["excluded"] == "unreadable:frames"
