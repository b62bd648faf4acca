import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from bench_scripts import load_bench

from codewm.evaluate.scaling import LogitLine, fit_logit_line, project


def test_the_fit_recovers_an_exact_line_in_log_odds():
    law = LogitLine(a=-8.0, b=0.45)  # accuracy 0.23 at 7M tokens, 0.58 at 80M
    tokens = [7e6, 12e6, 46e6, 80e6]
    fitted = fit_logit_line(tokens, [law.accuracy(t) for t in tokens])
    assert fitted.b == pytest.approx(0.45, rel=1e-9)
    assert fitted.a == pytest.approx(-8.0, rel=1e-9)
    # and the tokens for a target are where the line reaches it
    needed = fitted.tokens_for(0.8)
    assert law.accuracy(needed) == pytest.approx(0.8, rel=1e-9)
    assert needed > 80e6


def test_near_zero_it_is_a_power_law_of_the_accuracy():
    # pass@1 quadrupling from 0.3 % to 1.2 % over 4x the tokens: accuracy ~ tokens^1
    fitted = fit_logit_line([1e7, 4e7], [0.003, 0.012])
    assert fitted.b == pytest.approx(1.0, abs=0.01)
    assert fitted.tokens_for(0.05) == pytest.approx(1.7e8, rel=0.05)


def test_a_curve_that_does_not_rise_reaches_no_target():
    fitted = fit_logit_line([1e6, 1e7], [0.5, 0.4])  # worse with more tokens
    assert fitted.b < 0
    assert fitted.tokens_for(0.8) is None


def test_a_curve_that_barely_rises_needs_infinitely_many_tokens_not_an_overflow():
    assert LogitLine(a=-5.0, b=1e-4).tokens_for(0.7) == math.inf


def test_accuracies_of_zero_and_one_have_finite_log_odds():
    fitted = fit_logit_line([1e6, 1e7], [0.0, 1.0])
    assert fitted.b > 0 and math.isfinite(fitted.a)


@pytest.mark.parametrize(
    "tokens, accuracies, words",
    [
        ([1e6], [0.5], "two or more token counts"),
        ([1e6, 1e6], [0.5, 0.6], "two or more token counts"),
        ([1e6, 2e6], [0.5], "2 token counts but 1"),
        ([0, 2e6], [0.5, 0.6], "positive"),
        ([1e6, 2e6], [50.0, 60.0], "fractions in [0, 1]"),
    ],
)
def test_bad_points_say_what_is_wrong(tokens, accuracies, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        fit_logit_line(tokens, accuracies)


def test_a_target_is_a_fraction():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        LogitLine(a=0.0, b=0.5).tokens_for(80)


def test_the_projection_brackets_the_point_and_knows_a_target_already_reached():
    # 200 programs, three checkpoints: 30 %, 45 %, 60 % of the programs right
    rows = [[1.0] * k + [0.0] * (200 - k) for k in (60, 90, 120)]
    tokens = [1e7, 3e7, 9e7]
    result = project(tokens, rows, target=0.8, resamples=300)
    assert result.tokens is not None and result.tokens > 9e7
    assert result.low <= result.tokens <= result.high
    assert not result.reached
    assert project(tokens, rows, target=0.5, resamples=50).reached
    as_dict = result.as_dict()
    assert as_dict["tokens"] == round(result.tokens) and as_dict["target"] == 0.8


def test_the_last_stretch_shows_a_curve_that_has_flattened():
    # rising from 1e7 to 3e7 tokens, then nothing more at 9e7
    rows = [[1.0] * k + [0.0] * (200 - k) for k in (60, 100, 100)]
    result = project([1e7, 3e7, 9e7], rows, target=0.8, resamples=300)
    assert result.tokens is not None  # the fit through every point still rises
    assert result.latest_gain == 0.0 and result.latest_tokens is None  # the last stretch does not
    assert result.latest_gain_low <= 0.0 <= result.latest_gain_high
    assert result.as_dict()["latest"] == {"gain": 0.0, "interval": [result.latest_gain_low, result.latest_gain_high], "tokens": None}
    # a rising last stretch projects, and its gain's interval excludes zero
    rising = project([1e7, 3e7, 9e7], [[1.0] * k + [0.0] * (200 - k) for k in (60, 100, 140)], target=0.8, resamples=300)
    assert rising.latest_tokens is not None and rising.latest_gain_low > 0


def test_resamples_that_do_not_fall_make_the_upper_end_infinite():
    # two checkpoints barely apart on 20 programs: many resamples do not fall
    rows = [[1.0] * 10 + [0.0] * 10, [1.0] * 11 + [0.0] * 9]
    result = project([1e7, 2e7], rows, target=0.9, resamples=400)
    assert result.high == math.inf
    assert result.as_dict()["interval"][1] == "inf"


def test_the_checkpoints_must_share_their_programs():
    with pytest.raises(ValueError, match="same programs"):
        project([1e7, 2e7], [[1.0, 0.0], [1.0]], target=0.8)


# -- the bench: bench/experiments/learning_curve.py ------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = ROOT / "src" / "codewm" / "model" / "builtin"


def _load_bench():
    return load_bench("experiments/learning_curve.py")


def _checkpoint(directory: Path, tokens: int) -> Path:
    shutil.copytree(BUILTIN, directory)
    meta = json.loads((directory / "codewm.json").read_text())
    meta["tokens"] = tokens
    (directory / "codewm.json").write_text(json.dumps(meta))
    return directory


def test_the_shipped_models_are_the_current_recipes_commits_and_an_uncommitted_one(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    builtin = repo / "src" / "codewm" / "model" / "builtin"
    git = lambda *args: subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    repo.mkdir()
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")

    def ship(tokens: int, weights: bytes, tokenizer: bytes = b'{"recipe": 2}') -> None:
        builtin.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "generation_config.json", "tokenizer_config.json"):
            (builtin / name).write_text("{}")
        (builtin / "tokenizer.json").write_bytes(tokenizer)
        (builtin / "codewm.json").write_text(json.dumps({"tokens": tokens, "data": {"name": "train-cpu2"}}))
        (builtin / "model.safetensors").write_bytes(weights)
        git("add", "-A")
        git("commit", "-q", "-m", f"ship {tokens}")

    ship(5, b"old recipe", tokenizer=b'{"recipe": 1}')  # another tokenizer: another recipe
    ship(7, b"first")
    ship(11, b"second")
    bench = _load_bench()
    monkeypatch.setattr(bench, "ROOT", repo)
    found = bench.shipped_models(tmp_path / "models")
    assert [bench.model_tokens(d) for d in found] == [7, 11]
    assert (found[0] / "model.safetensors").read_bytes() == b"first"
    # a model in the working tree, not committed yet, comes last
    (builtin / "model.safetensors").write_bytes(b"third")
    (builtin / "codewm.json").write_text(json.dumps({"tokens": 20, "data": {"name": "train-cpu2"}}))
    found = bench.shipped_models(tmp_path / "models")
    assert [bench.model_tokens(d) for d in found] == [7, 11, 20] and found[-1] == builtin


def test_the_bench_evaluates_fits_and_prints_one_json_line(tmp_path, capsys):
    bench = _load_bench()
    one = _checkpoint(tmp_path / "one", 1_000_000)
    two = _checkpoint(tmp_path / "two", 2_000_000)
    out = tmp_path / "out"
    argv = ["--model", f"builtin:{one}", "--model", str(two), "--n", "2", "--resamples", "20", "--out", str(out)]
    summary = bench.main(argv)
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == summary
    assert [c["tokens"] for c in summary["checkpoints"]] == [1_000_000, 2_000_000]
    state = summary["curves"]["traces-synthetic-simple"]["state_exact_match"]
    assert len(state["points"]) == 2 and state["points"][0]["value"] == state["points"][1]["value"]
    # the same weights score the same: a flat curve reaches no target
    assert state["projection"]["tokens"] is None
    assert any("never (the curve does not rise)" in line for line in lines)
    assert (out / "curve.png").stat().st_size > 0
    # a second run only fits: the results are read back, nothing is evaluated again
    evaluated = sorted(out.glob("*.json"))
    assert len(evaluated) == 1
    before = evaluated[0].stat().st_mtime_ns
    assert bench.main(argv) == summary
    assert evaluated[0].stat().st_mtime_ns == before


def test_a_checkpoint_without_provenance_is_refused(tmp_path):
    bench = _load_bench()
    with pytest.raises(SystemExit):
        bench.main(["--model", str(tmp_path), "--out", str(tmp_path / "out")])
