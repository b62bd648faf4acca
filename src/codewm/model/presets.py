"""Training presets: the model size, the data and the schedule of a `codewm train` run.

    codewm train --preset smoke    # ~0.4M parameters, trains on a CPU in about a minute (the tests use it)
    codewm train --preset cpu      # the built-in model: ~1.1M parameters, about half an hour on 2 CPU cores
    codewm train --preset gpu      # ~23M parameters on one H100 in under 8 minutes, data made on its CPUs

Each preset names the dataset it trains on as a build config (`codewm dataset build`'s
format); `codewm train` builds it first (resumably) unless `--data DIR` names one. The
training seeds of the synthetic programs are never the held-out benchmark's (90001).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from codewm.model.checkpoint import ModelShape


class PresetError(ValueError):
    """An unknown preset or an override it cannot take."""


def _data(name: str, general: int, cruxeval: int, max_trace_tokens: int, shard_size: int) -> dict:
    return {
        "name": f"train-{name}",
        "seed": 7,  # the synthetic sources' seed: never 90001 (the held-out benchmark)
        "shard_size": shard_size,
        "formats": ["jsonl.gz"],
        "max_trace_tokens": max_trace_tokens,  # pre-tokens (words, punctuation), not BPE tokens
        "batch_size": 64,
        "splits": {"train": 0.96, "validation": 0.02, "test": 0.02},
        "limits": {"wall_seconds": 5, "cpu_seconds": 5, "max_steps": 2000},
        "sources": [
            {"kind": "synthetic", "count": general, "mode": "general"},
            {"kind": "synthetic", "count": cruxeval, "mode": "cruxeval"},
        ],
    }


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    shape: ModelShape
    data: dict  # a dataset build config (codewm.dataset.config)
    vocab_size: int = 2048  # BPE vocabulary, the CWM special tokens included
    tokenizer_texts: int = 2000  # training texts the tokenizer is trained on
    seq_len: int = 4096  # tokens per packed row; longer sequences are skipped
    batch_size: int = 2  # rows per optimizer step (over all processes)
    micro_batch: int = 2  # rows per forward pass (gradient accumulation up to batch_size)
    steps: int = 800  # optimizer steps
    lr: float = 2e-3  # peak learning rate (AdamW); linear warmup, cosine decay to lr * min_lr_ratio
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.1  # on matrices only, not on norms
    grad_clip: float = 1.0
    eval_every: int = 100  # steps between validation losses (and loss-curve redraws)
    eval_rows: int = 16  # validation rows (packed like training rows)
    save_every: int = 100  # steps between resumable checkpoints
    log_every: int = 10
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def settings(self) -> dict:
        """Everything that defines the run (what a resumed run must agree with)."""
        from dataclasses import asdict

        out = asdict(self)
        out.pop("description")
        return out


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        description="a few hundred thousand parameters, about a minute on a CPU; for tests and trying the pipeline",
        shape=ModelShape(hidden_size=96, intermediate_size=256, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024),
        data=_data("smoke", general=400, cruxeval=200, max_trace_tokens=1500, shard_size=200),
        vocab_size=768,
        tokenizer_texts=300,
        seq_len=1024,
        batch_size=4,
        micro_batch=4,
        steps=120,
        lr=3e-3,
        warmup=10,
        eval_every=40,
        eval_rows=4,
        save_every=40,
        log_every=10,
    ),
    "cpu": Preset(
        name="cpu",
        # Sized so that the built-in model and its direct-output twin (the README's comparison)
        # both train in about an hour on 2 cores: ~30 minutes each alone, an hour side by side.
        # Measured on this machine: d192 x 6 layers (3M parameters) reached a validation loss
        # of only 1.22 in 800 such steps, still falling fast; a 1.1M model takes 2.2x the
        # steps in the same time, and at this budget more steps beat more width.
        description="the built-in model: ~1.1M parameters, about half an hour on 2 CPU cores",
        shape=ModelShape(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096),
        data=_data("cpu", general=8000, cruxeval=4000, max_trace_tokens=8000, shard_size=1000),
        vocab_size=2048,
        tokenizer_texts=2000,
        seq_len=4096,
        batch_size=2,
        micro_batch=2,
        steps=1700,
        lr=3e-3,
        warmup=100,
        eval_every=100,
        eval_rows=16,
        save_every=50,
    ),
    "gpu": Preset(
        name="gpu",
        description="~23M parameters on one H100 in under 8 minutes (bf16); data generated on that machine's CPUs first",
        shape=ModelShape(hidden_size=512, intermediate_size=1280, num_hidden_layers=7, num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=4096),
        data=_data("gpu", general=200000, cruxeval=60000, max_trace_tokens=8000, shard_size=5000),
        vocab_size=4096,
        tokenizer_texts=5000,
        seq_len=4096,
        batch_size=32,
        micro_batch=16,
        steps=1500,
        lr=1.5e-3,
        warmup=100,
        eval_every=250,
        eval_rows=64,
        save_every=250,
        log_every=25,
    ),
}

OVERRIDABLE = ("steps", "batch_size", "micro_batch", "seq_len", "lr", "warmup", "eval_every", "eval_rows", "save_every", "log_every", "seed")


def get_preset(name: str, **overrides) -> Preset:
    if name not in PRESETS:
        raise PresetError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    bad = sorted(set(overrides) - set(OVERRIDABLE))
    if bad:
        raise PresetError(f"preset {name}: cannot override {bad}; overridable: {', '.join(OVERRIDABLE)}")
    overrides = {key: value for key, value in overrides.items() if value is not None}
    for key, value in overrides.items():
        if key != "lr" and (not isinstance(value, int) or value < (0 if key in ("warmup", "seed") else 1)):
            raise PresetError(f"preset {name}: {key} must be a positive integer, got {value!r}")
    preset = replace(preset, **overrides)
    if preset.batch_size % preset.micro_batch and preset.micro_batch < preset.batch_size:
        raise PresetError(f"preset {name}: batch_size {preset.batch_size} is not a multiple of micro_batch {preset.micro_batch}")
    if preset.seq_len > preset.shape.max_position_embeddings:
        preset = replace(preset, shape=replace(preset.shape, max_position_embeddings=preset.seq_len))
    return preset
