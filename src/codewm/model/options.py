"""What a training run is asked to do, what it answers, and the names of the files it keeps.

`TrainOptions` says how to run a preset (`codewm.model.presets` says what model it makes),
`TrainResult` what a run did; `TrainError` is every reason a run cannot start or go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "trainer_state.pt"  # in a checkpoint: optimizer, step, data position, settings
STABLE_DIR = "stable"  # a warmup-stable-decay run's resumable state (see codewm.model.train)
ADAPTER_DIR = "adapter"  # in a checkpoint of a LoRA run: the adapters alone, to resume from


class TrainError(RuntimeError):
    """A training run that cannot start or go on (says what and where)."""


@dataclass
class TrainOptions:
    """How to run a preset (what does not change the model a preset describes)."""

    target: str = "trace"  # "trace" (the CWM scratchpad) or "direct" (output only); see model.data
    data: str | None = None  # a built dataset directory; None: build the preset's own
    data_root: str = "out/train-data"  # where a preset's own dataset is built
    init: str | None = None  # "hf:PATH": start from a pretrained causal LM instead of from scratch
    lora: int = 0  # LoRA rank (with init): train low-rank adapters only; 0: full fine-tuning
    mtp: int = 0  # extra multi-token-prediction heads (tokens 2..mtp+1 ahead); 0: off
    mtp_weight: float = 1.0  # weight of the extra heads' loss (each) against the next-token loss
    device: str | None = None  # "cpu", "cuda"; None: cuda when there is one
    threads: int | None = None  # torch CPU threads (None: torch's default)
    fresh: bool = False  # delete an existing run directory's checkpoint instead of resuming
    max_shard_size: str | None = None  # split saved weights into files of at most this size
    minutes: float | None = None  # a wall-clock budget for this run's training: the schedule becomes
    # warmup-stable-decay, and the last `decay_fraction` of the budget decays the learning rate


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path
    steps: int
    tokens: int  # real (non-padding) tokens trained on
    seconds: float  # training time of this process, this session (data build excluded)
    tokens_per_second: float
    val_loss: float | None
    resumed_from: int  # 0 for a fresh run
    history: list[dict] = field(default_factory=list)
