"""Where an evaluation writes: every run its own result and resume file, named after its
benchmark, data, model and settings (issue 16, item 1), and bundled data never passed off as
the real benchmark (item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codewm.cli import app
from codewm.evaluate.run import BenchmarkError, load_benchmark
from codewm.predict.decode import DecodeLimits

runner = CliRunner(env={"COLUMNS": "160"})

ROWS = [
    {"id": f"sample_{i}", "code": f"def f(x):\n    return x + {i}\n", "input": str(i), "output": str(2 * i)}
    for i in range(8)
]


def _rows(path: Path, rows=ROWS) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _results(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json"))


def test_a_limited_run_does_not_overwrite_the_full_one(tmp_path):
    data = _rows(tmp_path / "cruxeval.jsonl")
    out = tmp_path / "eval"
    full = runner.invoke(app, ["eval", "-m", "oracle", "-b", "cruxeval-o", "--data", str(data), "--out", str(out), "-q"])
    assert full.exit_code == 0, full.output
    [first] = _results(out)
    predictions = first.with_name(first.name[: -len(".json")] + ".predictions.jsonl")
    assert len(predictions.read_text().splitlines()) == 8
    part = runner.invoke(app, ["eval", "-m", "oracle", "-b", "cruxeval-o", "--data", str(data), "-n", "5", "--out", str(out), "-q"])
    assert part.exit_code == 0, part.output
    assert len(_results(out)) == 2
    assert json.loads(first.read_text())["n"] == 8  # the full run's result is still there
    assert len(predictions.read_text().splitlines()) == 8  # and its resume file


def test_names_keep_everything_that_tells_runs_apart():
    from codewm.evaluate.run_name import run_stem

    crux = load_benchmark("cruxeval-style-o")
    direct = load_benchmark("cruxeval-style-o", via="direct")
    limits = DecodeLimits()
    url = "openai:http://127.0.0.1:8765/v1"
    names = {
        run_stem(crux, url, None, limits),
        run_stem(direct, url, None, limits),
        run_stem(crux, "hf:/models/Qwen2.5-0.5B", None, limits),
        run_stem(crux, "hf:/models/Qwen2.5-7B", None, limits),
        run_stem(crux, "oracle", None, limits),
        run_stem(crux, "oracle", 5, limits),
        run_stem(crux, "oracle", None, DecodeLimits(max_frames=10)),
        run_stem(load_benchmark("cruxeval-o", data="a/cruxeval.jsonl"), "oracle", None, limits),
        run_stem(load_benchmark("cruxeval-o", data="b/cruxeval.jsonl"), "oracle", None, limits),
    }
    assert len(names) == 9
    for name in names:
        assert "/" not in name and ":" not in name
        assert Path(name + ".json").name == name + ".json" and Path(name + ".json").suffix == ".json"
    # the same command gives the same name: --resume finds its own predictions
    assert run_stem(crux, url, None, limits) == run_stem(load_benchmark("cruxeval-style-o"), url, None, DecodeLimits())
    readable = run_stem(load_benchmark("cruxeval-o", data="x/cruxeval.jsonl"), "hf:/models/Qwen2.5-7B", 5, limits)
    assert readable.startswith("cruxeval-o-cruxeval-hf_models_Qwen2.5-7B-trace-n5-"), readable


def test_resume_reads_its_own_predictions_only(tmp_path):
    out = tmp_path / "eval"
    first = _rows(tmp_path / "first.jsonl")
    second = _rows(
        tmp_path / "second.jsonl",
        [{"id": f"other_{i}", "code": f"def f(x):\n    return x * {i}\n", "input": str(i), "output": str(i * i)} for i in range(3)],
    )
    assert runner.invoke(app, ["eval", "-m", "oracle", "-b", "cruxeval-o", "--data", str(first), "--out", str(out), "-q"]).exit_code == 0
    [saved] = out.glob("*.predictions.jsonl")
    before = saved.read_bytes()
    again = runner.invoke(app, ["eval", "-m", "oracle", "-b", "cruxeval-o", "--data", str(second), "--out", str(out), "-q", "--resume"])
    assert again.exit_code == 0, again.output
    assert "reused 0 saved predictions" in again.output
    assert saved.read_bytes() == before  # the other run's file is neither read into nor appended to
    assert len(list(out.glob("*.predictions.jsonl"))) == 2


def test_the_real_benchmark_needs_its_data():
    from codewm.evaluate.run import check_runnable

    bench = load_benchmark("cruxeval-o")
    with pytest.raises(BenchmarkError, match=r"--data.*cruxeval-style-o"):
        check_runnable(bench)
    with pytest.raises(BenchmarkError, match="--data"):
        check_runnable(load_benchmark("livecodebench"))
    result = runner.invoke(app, ["eval", "-m", "oracle", "-b", "cruxeval-o", "-n", "2", "-q"])
    assert result.exit_code == 2 and "cruxeval-style-o" in result.output


def test_every_result_says_which_data_it_was(tmp_path):
    out = tmp_path / "eval"
    result = runner.invoke(app, ["eval", "-m", "oracle", "-b", "cruxeval-style-o", "-n", "2", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "bundled" in result.stdout and "not the CRUXEval benchmark" in result.stdout
    [path] = _results(out)
    assert path.name.startswith("cruxeval-style-o-")
    data = json.loads(path.read_text())["data"]
    assert data["path"].endswith("examples/cruxeval_style.jsonl") and len(data["sha256"]) == 64
    assert data["rows"] == 347 and "bundled" in data["description"]
    real = _rows(tmp_path / "cruxeval.jsonl")
    result = runner.invoke(app, ["eval", "-m", "oracle", "-b", "cruxeval-o", "--data", str(real), "--out", str(out), "-q", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["data"]["path"] == str(real.resolve()) and document["data"]["rows"] == 8


def test_the_table_shows_bundled_data_by_its_place_in_codewm_and_other_files_as_given(tmp_path):
    from codewm.evaluate.run_name import shown_path

    import codewm

    bundled = Path(codewm.__file__).resolve().parent / "examples" / "cruxeval_style.jsonl"
    assert shown_path(str(bundled)) == "codewm/examples/cruxeval_style.jsonl"
    assert shown_path(str(tmp_path / "rows.jsonl")) == str(tmp_path / "rows.jsonl")
