"""`codewm eval` (run, list, score) and `codewm serve`'s argument checks."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from codewm.cli import app

runner = CliRunner(env={"COLUMNS": "160"})


def test_eval_prints_a_table_and_writes_json_and_png(tmp_path):
    result = runner.invoke(app, ["eval", "--model", "oracle", "--bench", "cruxeval-style-o", "--limit", "4", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "cruxeval-style-o — oracle (n=4)" in result.stdout
    assert "state_exact_match" in result.stdout and "100.0" in result.stdout
    [path] = tmp_path.glob("cruxeval-style-o-*.json")
    document = json.loads(path.read_text())
    assert document["metrics"]["pass@1"] == 100.0 and document["n"] == 4
    assert document["run"] == path.name[: -len(".json")]
    assert path.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_shows_progress_bars(tmp_path):
    result = runner.invoke(app, ["eval", "-m", "empty", "-b", "traces-synthetic", "-n", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "predicting traces" in result.output and "running the programs" in result.output


def test_eval_needs_a_model_and_a_bench():
    result = runner.invoke(app, ["eval", "--model", "oracle"])
    assert result.exit_code == 2
    assert "needs --model and --bench" in result.output


def test_eval_bad_names_are_clear_errors(tmp_path):
    result = runner.invoke(app, ["eval", "-m", "oracle", "-b", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown benchmark 'nope'" in result.output
    result = runner.invoke(app, ["eval", "-m", "gpt-17", "-b", "cruxeval-style-o", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown model 'gpt-17'" in result.output
    result = runner.invoke(app, ["eval", "-m", f"hf:{tmp_path}", "-b", "cruxeval-style-o", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no config.json" in result.output


def test_eval_list_names_every_benchmark():
    result = runner.invoke(app, ["eval", "list"])
    assert result.exit_code == 0
    for name in ("cruxeval-o", "cruxeval-i", "cruxeval-style-o", "livecodebench", "livecodebench-style", "traces-synthetic", "traces-humaneval"):
        assert name in result.stdout
    assert "data=required: --data FILE" in result.stdout


def test_eval_score_checks_someone_elses_generations(score_files):
    rows_path, generations = score_files
    result = runner.invoke(app, ["eval", "score", str(rows_path), str(generations), "--json", "-k", "1", "-k", "2"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    # sample_0: n=2, c=1 -> pass@1 0.5, pass@2 1; sample_1: the skip leaves n=1, c=1 -> 1, 1
    assert figures["pass@1"] == 75.0
    assert "pass@2" in figures and figures["n_samples"] == 2 and figures["n_skipped"] == 1
    text = runner.invoke(app, ["eval", "score", str(rows_path), str(generations)])
    assert "pass@1: 75.0" in text.stdout


def test_eval_score_bad_files(tmp_path):
    rows_path = tmp_path / "rows.jsonl"
    rows_path.write_text('{"id": "sample_0", "code": "def f(x):\\n    return x\\n", "input": "1", "output": "1"}\n')
    generations = tmp_path / "gens.json"
    generations.write_text("[1, 2]")
    result = runner.invoke(app, ["eval", "score", str(rows_path), str(generations)])
    assert result.exit_code == 2 and "gens.json" in result.output
    result = runner.invoke(app, ["eval", "score", str(rows_path), str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "none.json" in result.output


def test_serve_refuses_models_it_cannot_serve(tmp_path):
    result = runner.invoke(app, ["serve", "--model", "oracle"])
    assert result.exit_code == 2 and "serves builtin and hf models" in result.output
    result = runner.invoke(app, ["serve", "--model", f"hf:{tmp_path}", "--port", "0"])  # any free port: the model is the error
    assert result.exit_code == 2 and "no config.json" in result.output


def test_eval_saves_predictions_and_resumes(tmp_path):
    args = ["eval", "-m", "oracle", "-b", "traces-synthetic", "-n", "4", "--out", str(tmp_path), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    [saved] = tmp_path.glob("traces-synthetic-*.predictions.jsonl")
    assert len(saved.read_text().splitlines()) == 4
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code == 0
    assert "reused 4 saved predictions" in again.output


def test_eval_source_options_reach_the_program_source(tmp_path):
    # one call per HumanEval problem instead of every call of its tests
    result = runner.invoke(app, ["eval", "-m", "empty", "-b", "traces-humaneval", "-s", "max_calls_per_task=1", "-s", "limit=5", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob("traces-humaneval-*.json")
    document = json.loads(path.read_text())
    assert document["n"] == 5
    assert len({case["id"].split("#")[0] for case in document["cases"]}) == 5
    result = runner.invoke(app, ["eval", "-m", "empty", "-b", "traces-humaneval", "-s", "bogus=1", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 2 and "rejects its options ['bogus']" in result.output
    result = runner.invoke(app, ["eval", "-m", "empty", "-b", "cruxeval-style-o", "-s", "x=1", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 2 and "reads no program source" in result.output
    result = runner.invoke(app, ["eval", "-m", "empty", "-b", "traces-synthetic", "-s", "count", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 2 and "--source-option needs KEY=VALUE" in result.output
