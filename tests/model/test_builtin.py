"""The built-in checkpoint shipped in the package: within the size budget, with its
provenance, loaded by `builtin` with no network, and a world model that writes traces."""

from __future__ import annotations

import json

from codewm.predict.registry import BUILTIN_CHECKPOINT


def test_builtin_checkpoint_fits_the_repository_budget():
    files = [p for p in BUILTIN_CHECKPOINT.iterdir() if p.is_file()]
    assert any(p.name.endswith(".safetensors") for p in files)
    assert sum(p.stat().st_size for p in files) <= 48 * 1024 * 1024
    assert all(p.stat().st_size <= 15 * 1024 * 1024 for p in files), [(p.name, p.stat().st_size) for p in files]
    assert not (BUILTIN_CHECKPOINT / "trainer_state.pt").exists()  # model only, no optimizer state


def test_builtin_checkpoint_says_how_it_was_made():
    provenance = json.loads((BUILTIN_CHECKPOINT / "codewm.json").read_text())
    assert provenance["made_by"] == "codewm train"
    assert provenance["preset"] == "cpu" and provenance["target"] == "trace"
    # a finished run: the last step of a cosine schedule, or the end of a warmup-stable-decay
    # run's decay (never a stable-phase state, whose learning rate is still at its peak)
    assert provenance["step"] == provenance["steps"] or provenance.get("phase") == "decayed"
    assert provenance["data"]["config_sha"]
    assert provenance["git_commit"]


def test_builtin_checkpoint_is_what_the_cpu_preset_trains():
    # the shipped model and the preset that claims to make it must not drift apart
    from codewm.model.presets import get_preset

    provenance = json.loads((BUILTIN_CHECKPOINT / "codewm.json").read_text())
    assert provenance["settings"] == json.loads(json.dumps(get_preset("cpu").settings()))


def test_builtin_loads_offline_and_predicts_traces(monkeypatch):
    from codewm.predict.decode import DecodeLimits, predict_traces
    from codewm.predict.registry import load_predictor
    from codewm.types import build_context

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    predictor = load_predictor("builtin", device="cpu")
    assert predictor.name == "builtin"
    contexts = [
        build_context("def f(x):\n    y = x + 1\n    return y\n", "f(3)"),
        build_context("def f(s):\n    t = s.upper()\n    return t\n", "f('ab')"),
    ]
    traces = predict_traces(predictor, contexts, DecodeLimits(max_frames=20, max_frame_tokens=128))
    for trace in traces:
        # the trace starts as every CWM trace does: main's call, then main's one line
        frames = trace.trace.frames
        assert [f.event for f in frames[:2]] == ["call", "line"]
        assert frames[0].source == "def main():\n"
