"""Training presets: the model size, the data and the schedule of a `codewm train` run.

    codewm train --preset smoke    # ~0.4M parameters, trains on a CPU in about a minute (the tests use it)
    codewm train --preset cpu --minutes 120   # the built-in model: ~1.1M parameters, on 2 CPU cores, run after run
    codewm train --preset gpu --minutes 6   # ~23M parameters on one H100/H200, data made on its CPUs

Each preset names the dataset it trains on as a build config (`codewm dataset build`'s
format); `codewm train` builds it first (resumably) unless `--data DIR` names one. The
training seeds of the synthetic programs are never the held-out benchmark's (90001).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from codewm.model.checkpoint import ModelShape


class PresetError(ValueError):
    """An unknown preset or an override it cannot take."""


def _data(name: str, general: int, cruxeval: int, max_trace_tokens: int, shard_size: int, simple: int = 0, loops: int = 0) -> dict:
    # The curriculum's tiers (codewm.programs.synthetic: "simple" straight-line code, "loops"
    # small loops and one helper, "cruxeval" string and list methods, "general" everything),
    # mixed in every stretch of the stream rather than ramped from easy to hard (Zaremba and
    # Sutskever 2014 found mixing beats a pure easy-to-hard schedule). Enough fresh programs
    # that no epoch repeats within a run.
    tiers = [("simple", simple), ("loops", loops), ("general", general), ("cruxeval", cruxeval)]
    return {
        "name": f"train-{name}",
        "seed": 7,  # the synthetic sources' seed: never 90001 (the held-out benchmark)
        "shard_size": shard_size,
        "formats": ["jsonl.gz"],
        "max_trace_tokens": max_trace_tokens,  # pre-tokens (words, punctuation), not BPE tokens
        "batch_size": 64,
        "splits": {"train": 0.96, "validation": 0.02, "test": 0.02},
        "limits": {"wall_seconds": 5, "cpu_seconds": 5, "max_steps": 2000},
        "sources": [{"kind": "synthetic", "count": count, "mode": mode} for mode, count in tiers if count],
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
    steps: int = 800  # optimizer steps (with --minutes: the most this run may take)
    lr: float = 2e-3  # peak learning rate (AdamW) after a linear warmup; see `schedule`
    min_lr_ratio: float = 0.1  # where the decay ends, as a fraction of lr
    warmup: int = 50
    # "cosine": decay over the whole run. "wsd" (warmup-stable-decay): lr stays at its peak,
    # and only the last `decay_fraction` of a run (of its steps, or of its --minutes) decays
    # it (1 - sqrt shape); the state at the start of the decay is kept, so a later run goes
    # on from the stable phase and the model can be trained further, run after run.
    schedule: str = "cosine"
    decay_fraction: float = 0.15
    # Rows of random token spans written twice (loss on the repeat only), as this fraction of
    # all tokens: they teach copying (induction heads) early; 0: none.
    copy_fraction: float = 0.0
    probe_texts: int = 0  # validation traces the teacher-forced probe (codewm.model.probe) reads at each validation; 0: off
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
        # The built-in model, trained in runs of a few hours on 2 cores that go on from each
        # other (warmup-stable-decay; scripts/train-builtin). What it must learn first is to
        # copy (source lines into actions, literals into locals): the tokenizer keeps a line's
        # tokens the same wherever it appears, 4 % of the tokens are copy spans, and rows are
        # 2,048 tokens x 2 per step, since induction heads form after about
        # 10^5.7 x sqrt(tokens per step) tokens (Aoyama et al. 2025): ~32M here.
        description="the built-in model: ~1.1M parameters, trained on 2 CPU cores in resumable runs (--minutes)",
        shape=ModelShape(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048),
        data=_data("cpu2", simple=40000, loops=40000, general=50000, cruxeval=30000, max_trace_tokens=2500, shard_size=2000),
        vocab_size=2048,
        tokenizer_texts=3000,
        seq_len=2048,
        batch_size=2,
        micro_batch=2,
        steps=100000,  # with --minutes, a cap only
        lr=3e-3,
        warmup=200,
        schedule="wsd",
        decay_fraction=0.15,
        min_lr_ratio=0.05,
        copy_fraction=0.04,
        probe_texts=16,
        eval_every=250,
        eval_rows=16,
        save_every=250,
    ),
    "gpu": Preset(
        name="gpu",
        # The cpu preset's recipe at GPU scale: one H200 command of at most 8 minutes
        # (scripts/train-gpu: data on its CPUs, then `--minutes`, the decay tied to the time).
        # ~23M parameters: about 10^5.7 x sqrt(131k tokens per step) = 180M tokens for
        # induction heads by the Aoyama et al. fit, less with the copy spans.
        description="~23M parameters on one H100/H200 in a few minutes (bf16, --minutes); data generated on that machine's CPUs first",
        shape=ModelShape(hidden_size=512, intermediate_size=1280, num_hidden_layers=7, num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=2048),
        data=_data("gpu2", simple=60000, loops=60000, general=150000, cruxeval=50000, max_trace_tokens=2500, shard_size=5000),
        vocab_size=4096,
        tokenizer_texts=5000,
        seq_len=2048,
        batch_size=64,
        micro_batch=32,
        steps=100000,  # with --minutes, a cap only
        lr=1.5e-3,
        warmup=100,
        schedule="wsd",
        decay_fraction=0.2,
        min_lr_ratio=0.05,
        copy_fraction=0.04,
        eval_every=250,
        eval_rows=64,
        save_every=250,
        log_every=25,
    ),
}

OVERRIDABLE = ("steps", "batch_size", "micro_batch", "seq_len", "lr", "warmup", "eval_every", "eval_rows", "save_every", "log_every", "seed", "probe_texts")


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
