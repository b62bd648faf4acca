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
    tokenizer: str | None = None  # a checkpoint folder whose tokenizer a new model uses instead of one
    # trained on the data: two models' token counts are then in the same units (trace vs direct)
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


# `codewm train --config run.toml`: the train command's options a file may set (a flag given
# on the command line wins), each with the type its value must have.
CONFIG_KEYS: dict[str, type] = {
    "preset": str, "out": Path, "data": Path, "data_root": Path, "target": str, "init": str, "tokenizer": Path, "lora": int, "mtp": int,
    "steps": int, "batch_size": int, "micro_batch": int, "seq_len": int, "lr": float, "eval_every": int,
    "save_every": int, "device": str, "threads": int, "fresh": bool, "minutes": float, "export": Path,
    "export_dtype": str, "quiet": bool,
}
_TYPE_WORDS = {str: "a string", Path: "a path (a string)", int: "a whole number", float: "a number", bool: "true or false"}


def read_train_config(path: Path) -> dict:
    """The options in a TOML file (keys as the flags: `batch_size` or `batch-size`), checked:
    a TrainError names the file and the key of anything unknown or of the wrong type."""
    import tomllib

    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise TrainError(f"{path}: no such config file") from None
    except OSError as exc:
        raise TrainError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TrainError(f"{path}: not valid TOML ({exc})") from None
    config = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in CONFIG_KEYS:
            raise TrainError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(CONFIG_KEYS))})")
        config[name] = _typed(path, key, value, CONFIG_KEYS[name])
    return config


def _typed(path: Path, key: str, value, kind: type):
    fits = {
        str: isinstance(value, str),
        Path: isinstance(value, str),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        bool: isinstance(value, bool),
    }[kind]
    if not fits:
        raise TrainError(f"{path}: {key} must be {_TYPE_WORDS[kind]}, got {value!r}")
    return kind(value)
