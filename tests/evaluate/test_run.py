"""The evaluation harness end to end: the oracle scores 100 on every benchmark and metric, a
model that writes nothing scores 0 without crashing anything, and bad benchmarks say why."""

from __future__ import annotations

import pytest

from codewm.evaluate.run import BenchmarkError, benchmark_names, evaluate, load_benchmark
from codewm.evaluate.trace_metrics import METRIC_NAMES
from codewm.predict.registry import load_predictor

# (benchmark, overrides, limit): every benchmark that brings its data, in every mode it has
# (the real CRUXEval and LiveCodeBench need --data: tests/evaluate/test_result_names.py)
RUNS = [
    ("cruxeval-style-o", {}, None),  # all 347 bundled functions, through the trace
    ("cruxeval-style-o", {"via": "direct"}, 60),
    ("cruxeval-style-i", {}, None),
    ("livecodebench-style", {}, None),
    ("livecodebench-style", {"via": "direct"}, None),
    ("traces-synthetic", {}, 60),
    ("traces-synthetic-simple", {}, 60),
    ("traces-humaneval", {}, 60),
]


def _expected_metrics(bench) -> set[str]:
    names = set(METRIC_NAMES) if bench.via == "trace" else set()
    if bench.kind != "traces":
        names.add("pass@1")
    return names


@pytest.fixture(scope="module")
def oracle():
    predictor = load_predictor("oracle")
    yield predictor
    predictor.close()


def test_every_bundled_benchmark_is_covered():
    runnable = {name for name in benchmark_names() if load_benchmark(name).data or load_benchmark(name).kind == "traces"}
    assert {name for name, _, _ in RUNS} == runnable
    assert set(benchmark_names()) - runnable == {"cruxeval-o", "cruxeval-i", "livecodebench"}


@pytest.mark.parametrize("name, overrides, limit", RUNS)
def test_the_oracle_scores_100_everywhere(oracle, name, overrides, limit):
    bench = load_benchmark(name, **overrides)
    result = evaluate(oracle, bench, limit=limit)
    assert result["n"] >= (limit or 12)
    assert set(result["metrics"]) == _expected_metrics(bench)
    assert all(value == 100.0 for value in result["metrics"].values()), result["metrics"]
    for kind, groups in result["by_group"].items():
        for label, group in groups.items():
            assert all(v == 100.0 for k, v in group.items() if k != "n"), (kind, label, group)
    assert len(result["cases"]) == result["n"]
    # every figure has its 95 % interval, and every prediction ran to its end
    assert set(result["ci"]) == set(result["metrics"])
    for name, ci in result["ci"].items():
        assert ci["high"] == 100.0 and ci["low"] <= 100.0 and ci["n"] == result["n"], (name, ci)
    if bench.via == "trace":
        assert result["stops"] == {"complete": result["n"]}


@pytest.mark.parametrize("name, overrides, limit", RUNS)
def test_a_model_that_writes_nothing_scores_0_everywhere(name, overrides, limit):
    bench = load_benchmark(name, **overrides)
    result = evaluate(load_predictor("empty"), bench, limit=min(limit or 20, 20))
    assert set(result["metrics"]) == _expected_metrics(bench)
    assert all(value == 0.0 for value in result["metrics"].values()), result["metrics"]
    if bench.via == "trace":
        assert {case["stop"] for case in result["cases"]} == {"end"}
        assert result["stops"] == {"end": result["n"]}
    for name, ci in result["ci"].items():
        assert ci["low"] == 0.0, (name, ci)
    # one pass/fail per program: Wilson's interval, wider than nothing even at 0 of n
    for name in {"output_pass@1", "valid_format", "pass@1"} & set(result["ci"]):
        assert result["ci"][name]["method"] == "wilson" and result["ci"][name]["high"] > 0


def test_intervals_of_a_mixed_run():
    """About half the programs right: Wilson's interval of output pass@1 from the count of
    programs that passed, the bootstrap over programs for the per-frame metrics, and the
    stop reasons counted."""
    import zlib

    from codewm.evaluate.stats import wilson
    from codewm.predict.base import STEP_END, FrameStep
    from codewm.predict.oracle import OraclePredictor

    class HalfOracle(OraclePredictor):
        """The real frames for about half the programs (by a hash of the context), nothing
        for the others."""

        def next_frames(self, requests):
            steps = super().next_frames(requests)
            return [step if zlib.crc32(r.context.encode()) % 2 else FrameStep("", STEP_END) for r, step in zip(requests, steps)]

    predictor = HalfOracle()
    try:
        result = evaluate(predictor, load_benchmark("traces-synthetic"), limit=20)
    finally:
        predictor.close()
    n = result["n"]
    passed = round(result["metrics"]["output_pass@1"] * n / 100)
    assert 0 < passed < n
    assert result["stops"] == {"complete": passed, "end": n - passed} or result["stops"] == {"end": n - passed, "complete": passed}
    low, high = wilson(passed, n)
    ci = result["ci"]["output_pass@1"]
    assert ci["method"] == "wilson" and (ci["low"], ci["high"]) == pytest.approx((100 * low, 100 * high), abs=1e-3)
    state = result["ci"]["state_exact_match"]
    assert state["method"] == "bootstrap" and state["low"] < result["metrics"]["state_exact_match"] < state["high"]


def test_trace_metrics_on_a_built_dataset_split(tmp_path, oracle):
    from codewm.dataset.build import build_dataset
    from codewm.dataset.config import load_config

    config = tmp_path / "small.toml"
    config.write_text(
        'name = "tiny"\noutput = "data"\nseed = 0\nformats = ["jsonl.gz"]\n'
        "[splits]\ntrain = 0.5\nvalidation = 0.0\ntest = 0.5\n"
        '[[sources]]\nkind = "synthetic"\ncount = 40\n'
    )
    build_dataset(load_config(config), workers=2, progress=False)
    bench = load_benchmark("traces-synthetic", data=str(tmp_path / "data"), split="test")
    result = evaluate(oracle, bench)
    assert 5 <= result["n"] <= 35
    assert all(value == 100.0 for value in result["metrics"].values())
    assert result["settings"]["split"] == "test" and result["settings"]["source"] is None
    with pytest.raises(BenchmarkError, match="no whole traces in split 'validation'"):
        evaluate(oracle, load_benchmark("traces-synthetic", data=str(tmp_path / "data"), split="validation"))


def test_progress_reports_every_stage(oracle):
    seen: dict[str, int] = {}

    class Recorder:
        stage = None

        def start(self, stage, total):
            self.stage = stage
            seen[stage] = 0

        def advance(self, n=1):
            seen[self.stage] += n

    evaluate(oracle, load_benchmark("cruxeval-style-o"), limit=5, progress=Recorder())
    assert seen == {"running the programs": 5, "predicting traces": 5, "checking the answers": 5}


def test_bad_benchmarks_say_what_is_wrong(tmp_path):
    with pytest.raises(BenchmarkError, match="unknown benchmark 'nope'; known: cruxeval-i"):
        load_benchmark("nope")
    with pytest.raises(BenchmarkError, match="input prediction has no trace scratchpad"):
        load_benchmark("cruxeval-i", via="trace")
    with pytest.raises(BenchmarkError, match="via must be one of trace, direct"):
        load_benchmark("cruxeval-o", via="sideways")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nkind = "cruxeval"\ndata = "x.jsonl"\ncolour = "red"\n')
    with pytest.raises(BenchmarkError, match="unknown field"):
        load_benchmark(str(bad))
    bad.write_text('name = "bad"\nkind = "cruxeval"\ndata = "missing.jsonl"\n')
    with pytest.raises(BenchmarkError, match="data 'missing.jsonl' not found"):
        evaluate(load_predictor("empty"), load_benchmark(str(bad)))
    bad.write_text('name = "bad"\nkind = "cruxeval"\ndata = [1\n')
    with pytest.raises(BenchmarkError, match="bad.toml"):
        load_benchmark(str(bad))
    with pytest.raises(BenchmarkError, match="limit must be at least 1"):
        evaluate(load_predictor("empty"), load_benchmark("cruxeval-style-o"), limit=0)


def test_direct_mode_samples_give_pass_at_k(oracle):
    result = evaluate(oracle, load_benchmark("cruxeval-style-o", via="direct", samples=5), limit=4)
    assert result["metrics"] == {"pass@1": 100.0, "pass@5": 100.0}


def test_the_simple_tier_from_the_command_line(tmp_path):
    """`codewm eval -m oracle -b traces-synthetic-simple -n 20`: straight-line held-out
    programs, 100 % everywhere, each figure with its interval, every trace complete."""
    import json

    from typer.testing import CliRunner

    from codewm.cli import app

    bench = load_benchmark("traces-synthetic-simple")
    assert bench.source == {"kind": "synthetic", "count": 200, "seed": 90001, "mode": "simple"}
    result = CliRunner(env={"COLUMNS": "160"}).invoke(app, ["eval", "-m", "oracle", "-b", "traces-synthetic-simple", "-n", "20", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "traces-synthetic-simple — oracle (n=20)" in result.stdout and "95% CI" in result.stdout
    assert "[83.9, 100.0]" in result.stdout  # output pass@1, 20 of 20: Wilson
    assert "stops: complete 20" in result.stdout
    [path] = tmp_path.glob("traces-synthetic-simple-*.json")
    document = json.loads(path.read_text())
    assert document["n"] == 20 and set(document["metrics"].values()) == {100.0}
    assert document["ci"]["output_pass@1"] == {"low": 83.8875, "high": 100.0, "method": "wilson", "n": 20}
    assert all(case["id"].startswith("synthetic/simple/90001/") for case in document["cases"])
    assert max(case["n_frames"] for case in document["cases"]) <= 32  # at most 4 statements: short traces
