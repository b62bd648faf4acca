"""The report of an evaluation run: rich tables, atomic JSON, and a PNG for full and empty runs."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from codewm.evaluate.report import draw_png, print_table, write_json
from codewm.evaluate.trace_metrics import METRIC_NAMES, aggregate, by_group, confidence_intervals, length_bucket, score_trace
from codewm.format.cwm import format_frames
from codewm.types import Frame, Trace, build_context

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def small_trace(x: int) -> Trace:
    frames = [
        Frame("call", "def main():\n", 0, {}),
        Frame("line", f"    return f({x})\n", 0, {}),
        Frame("call", "def f(x):\n", 1, {"x": str(x)}),
        Frame("line", "    return x + 1\n", 1, {"x": str(x)}),
        Frame("return", "    return x + 1\n", 1, value=str(x + 1)),
        Frame("return", f"    return f({x})\n", 0, value=str(x + 1)),
    ]
    return Trace(build_context("def f(x):\n    return x + 1\n", f"f({x})"), frames)


def full_result() -> dict:
    """A result made the way an evaluation run makes it, from scored traces."""
    reals = [small_trace(x) for x in range(4)]
    texts = [format_frames(reals[0].frames), format_frames(reals[1].frames[:3], complete=False), "garbage", format_frames(reals[3].frames)]
    scores = [score_trace(text, real) for text, real in zip(texts, reals)]
    difficulty = ["easy", "easy", "hard", "hard"]
    # pretend the last two are long traces, so that the length panel has two buckets
    lengths = [length_bucket(6), length_bucket(6), length_bucket(40), length_bucket(40)]
    return {
        "model": "fake-oracle",
        "bench": "traces-demo",
        "n": len(scores),
        "metrics": {name: value for name, value in aggregate(scores).items() if name != "n"},
        "by_group": {"difficulty": by_group(scores, difficulty), "length": by_group(scores, lengths)},
        "cases": [
            {"id": f"case-{i}", "n_frames": score.n_real_frames, **score.metrics()} for i, score in enumerate(scores)
        ],
        "settings": {"temperature": 0.0, "note": "ünïcode — kept"},
        "seconds": 1.25,
    }


def empty_result() -> dict:
    return {
        "model": "m",
        "bench": "b",
        "n": 0,
        "metrics": {name: value for name, value in aggregate([]).items() if name != "n"},
        "by_group": {},
        "cases": [],
        "settings": {},
        "seconds": 0.0,
    }


def cruxeval_result() -> dict:
    return {
        "model": "m",
        "bench": "cruxeval-o",
        "n": 3,
        "metrics": {"pass@1": 66.66666},
        "by_group": {"length": {"9-16": {"n": 1, "pass@1": 100.0}, "1-8": {"n": 2, "pass@1": 50.0}}},
        "cases": [],
        "settings": {},
        "seconds": 2.0,
    }


def rendered(result: dict) -> str:
    console = Console(record=True, width=200)
    print_table(result, console=console)
    return console.export_text()


def test_print_table():
    result = full_result()
    text = rendered(result)
    assert "traces-demo — fake-oracle (n=4)" in text
    # case scores: state EM 1, 3/6, 0, 1 -> 62.5; output 1, 0, 0, 1 -> 50.0
    assert result["metrics"]["state_exact_match"] == pytest.approx(62.5)
    lines = text.splitlines()
    assert any("state_exact_match" in line and "62.5" in line for line in lines)
    assert any("output_pass@1" in line and "50.0" in line for line in lines)
    for name in METRIC_NAMES:
        assert name in text
    assert "by difficulty" in text and "by length" in text
    # easy: cases 0 and 1 (state EM 1 and 3/6 -> 75.0); hard: cases 2 and 3 (0 and 1 -> 50.0)
    def cells(label: str) -> list[str]:
        return next(line.split() for line in lines if line.split()[:1] == [label])

    assert cells("easy") == ["easy", "2", "50.0", "75.0", "75.0", "87.5", "87.5", "100.0", "50.0"]
    assert cells("hard") == ["hard", "2", "50.0", "50.0", "50.0", "50.0", "50.0", "50.0", "50.0"]
    # the length rows are ordered by bucket start
    assert text.index("1-8") < text.index("33-64")


def test_print_table_orders_length_buckets_and_shows_pass_at_1():
    text = rendered(cruxeval_result())
    assert "cruxeval-o — m (n=3)" in text
    assert "66.7" in text
    assert text.index("1-8") < text.index("9-16")


def test_print_table_of_an_empty_run():
    text = rendered(empty_result())
    assert "b — m (n=0)" in text
    assert "0.0" in text


def test_write_json_round_trip(tmp_path):
    result = full_result()
    path = write_json(result, tmp_path / "out" / "result.json")
    assert json.loads(path.read_text(encoding="utf-8")) == result
    raw = path.read_text(encoding="utf-8")
    assert "ünïcode — kept" in raw  # UTF-8, not \\u escapes
    assert raw.startswith("{\n  ")  # pretty
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temporary file left
    # replacing an existing file
    write_json(empty_result(), path)
    assert json.loads(path.read_text(encoding="utf-8"))["n"] == 0


def test_write_json_failure_leaves_the_old_file(tmp_path):
    path = write_json({"n": 1}, tmp_path / "result.json")
    with pytest.raises(TypeError):
        write_json({"n": object()}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


@pytest.mark.parametrize("make", [full_result, empty_result, cruxeval_result])
def test_draw_png(tmp_path, make):
    import matplotlib.image

    path = draw_png(make(), tmp_path / "result.png")
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert [p.name for p in tmp_path.iterdir()] == ["result.png"]


def test_draw_png_without_groups_or_metrics(tmp_path):
    path = draw_png({"model": "m", "bench": "b", "n": 0}, tmp_path / "bare.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_print_table_shows_each_interval_and_the_stops():
    result = full_result()
    reals = [small_trace(x) for x in range(4)]
    texts = [format_frames(reals[0].frames), format_frames(reals[1].frames[:3], complete=False), "garbage", format_frames(reals[3].frames)]
    result["ci"] = confidence_intervals([score_trace(text, real) for text, real in zip(texts, reals)])
    result["stops"] = {"complete": 2, "unparseable": 1, "repeated_state": 1}
    # output pass@1 is 2 of 4: Wilson's interval; state exact match averages frames: bootstrap
    assert result["ci"]["output_pass@1"]["method"] == "wilson"
    assert (result["ci"]["output_pass@1"]["low"], result["ci"]["output_pass@1"]["high"]) == pytest.approx((15.0, 85.0), abs=0.1)
    assert result["ci"]["state_exact_match"]["method"] == "bootstrap"
    text = rendered(result)
    lines = text.splitlines()
    assert any("95% CI" in line for line in lines)
    assert any("output_pass@1" in line and "50.0" in line and "[15.0, 85.0]" in line for line in lines)
    state = result["ci"]["state_exact_match"]
    assert any("state_exact_match" in line and f"[{state['low']:.1f}, {state['high']:.1f}]" in line for line in lines)
    assert "95% CI: Wilson's for a pass/fail per program, else a bootstrap over programs" in text
    assert "stops: complete 2, unparseable 1, repeated_state 1" in text
    # a result without intervals (an older JSON file) prints as before: no third column
    assert "95% CI" not in rendered(full_result())


def test_draw_png_with_intervals(tmp_path):
    result = full_result()
    result["ci"] = {name: {"low": max(0.0, v - 10), "high": min(100.0, v + 10), "method": "bootstrap", "n": 4} for name, v in result["metrics"].items()}
    path = draw_png(result, tmp_path / "ci.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_print_table_keeps_whole_headings_at_80_columns():
    # a pass@1 column beside every trace metric: the widest breakdown table codewm prints
    result = full_result()
    for groups in result["by_group"].values():
        for row in groups.values():
            row["pass@1"] = 50.0
    console = Console(record=True, width=80)
    print_table(result, console=console)
    text = console.export_text()
    assert "…" not in text, text
    assert "difficulty" in text and "key+val" in text and "output" in text
