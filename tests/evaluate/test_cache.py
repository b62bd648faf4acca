"""Saved predictions: a killed evaluation goes on where it stopped, and nothing stale is reused."""

from __future__ import annotations

import json

import pytest

from codewm.evaluate.cache import PredictionCache, prediction_key
from codewm.evaluate.run import evaluate, load_benchmark
from codewm.predict.decode import DecodeLimits
from codewm.predict.oracle import OraclePredictor

LIMITS = DecodeLimits(batch_size=2)


class Dying(OraclePredictor):
    """The oracle, until its `frames`-th frame request: then it dies like a lost server."""

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.left = frames

    def next_frames(self, requests):
        self.left -= len(requests)
        if self.left < 0:
            raise ConnectionError("the model server went away")
        return super().next_frames(requests)


@pytest.fixture
def bench():
    return load_benchmark("cruxeval-style-o")


def test_a_killed_evaluation_goes_on_where_it_stopped(tmp_path, bench):
    path = tmp_path / "run.predictions.jsonl"
    dying = Dying(frames=40)
    with pytest.raises(ConnectionError):
        with PredictionCache(path) as cache:
            evaluate(dying, bench, limit=12, limits=LIMITS, cache=cache)
    dying.close()
    saved = path.read_text().splitlines()
    assert 1 <= len(saved) < 12  # the programs finished before the failure were saved

    oracle = OraclePredictor()
    with PredictionCache(path, resume=True) as cache:
        resumed = evaluate(oracle, bench, limit=12, limits=LIMITS, cache=cache)
    assert resumed["reused_predictions"] == len(saved)
    fresh = evaluate(OraclePredictor(), bench, limit=12, limits=LIMITS)
    assert resumed["metrics"] == fresh["metrics"] == {name: 100.0 for name in fresh["metrics"]}
    assert resumed["cases"] == fresh["cases"]
    assert len(path.read_text().splitlines()) == 12  # the rest was added, nothing repeated
    oracle.close()


def test_a_line_cut_short_by_a_kill_is_skipped(tmp_path):
    path = tmp_path / "p.jsonl"
    with PredictionCache(path) as cache:
        cache.put("a", {"x": 1})
        cache.put("b", {"x": 2})
    with path.open("a") as handle:
        handle.write('{"key": "c", "val')  # the kill
    with PredictionCache(path, resume=True) as cache:
        assert cache.unreadable == 1
        assert cache.get("a") == {"x": 1} and cache.get("c") is None
        cache.put("c", {"x": 3})
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1]) == {"key": "c", "value": {"x": 3}}  # on a line of its own
    with PredictionCache(path, resume=False) as cache:  # not resuming starts afresh
        assert cache.get("a") is None
    assert path.read_text() == ""


def test_keys_change_with_the_model_and_the_settings():
    base = prediction_key("model-a", "trace", "def f(): ...", (10, 20, 30))
    assert base == prediction_key("model-a", "trace", "def f(): ...", (10, 20, 30))
    assert base != prediction_key("model-b", "trace", "def f(): ...", (10, 20, 30))
    assert base != prediction_key("model-a", "trace", "def f(): ...", (11, 20, 30))


def test_retrained_weights_under_the_same_name_are_not_reused(tmp_path, bench):
    from codewm.model.checkpoint import ModelShape, random_checkpoint
    from codewm.predict.registry import load_predictor

    texts = ["<|begin_of_text|><|trace_context_start|>def f(x):\n    return x\n<|frame_sep|><|end_of_text|>"] * 8
    shape = ModelShape(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)
    random_checkpoint(tmp_path / "m", texts, shape=shape, vocab_size=300, seed=0)
    first = load_predictor(f"builtin:{tmp_path / 'm'}", device="cpu").fingerprint
    random_checkpoint(tmp_path / "m", texts, shape=shape, vocab_size=300, seed=1)  # retrained
    second = load_predictor(f"builtin:{tmp_path / 'm'}", device="cpu").fingerprint
    assert first != second
