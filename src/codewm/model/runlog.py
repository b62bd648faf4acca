"""What a training run leaves in its directory, besides the model: settings, metrics, curve.

    metrics.jsonl    one line per log step and per validation (appended, flushed)
    loss.png         the loss curve, redrawn at every validation
    run.json         the settings, the data and where the run stands
    tensorboard/     the same metrics as TensorBoard events, when tensorboard is installed
    checkpoint/      (and stable/) the model with its provenance (codewm.json) and the
                     trainer state a later run resumes from (`save_run`)

A resumed run must have the settings of the run that wrote the checkpoint
(`check_resumable`) and drops the metrics logged after it (`truncate_history`).
`run` below is a `codewm.model.setup.Run`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from codewm.model.options import ADAPTER_DIR, STATE_FILE, TrainError, TrainOptions
from codewm.model.presets import Preset


def run_settings(preset: Preset, options: TrainOptions, data_dir: Path) -> dict:
    """Everything that decides what a run trains: the preset, the options that change the
    model, and the data (its manifest's name, config digest and size)."""
    from codewm.dataset.read import load_manifest

    manifest = load_manifest(data_dir)
    settings = {
        "preset": preset.settings(),
        "target": options.target,
        "init": options.init,
        "lora": options.lora,
        "mtp": options.mtp,
        "mtp_weight": options.mtp_weight,
        "data": {"path": str(data_dir), "name": manifest.get("name"), "config_sha": manifest.get("config_sha256"), "records": manifest.get("counts", {}).get("records")},
    }
    if options.tokenizer is not None:  # only when given, so runs saved before the option still resume
        from codewm.model.tokenizer import tokenizer_fingerprint

        settings["tokenizer"] = tokenizer_fingerprint(options.tokenizer)
    return settings


def _comparable(settings: dict) -> dict:
    # What a resumed run must share with the run that wrote the checkpoint. The data's path
    # may move; how often it logs, evaluates and saves may change; `steps` may grow (train
    # longer: the learning-rate schedule follows the new total from there on). The data is
    # the same dataset by name: a new build of it (on another machine, by a codewm whose
    # sandbox has a new limit, which changes the build's config digest) or a bigger one is
    # where a run that keeps going should go on; `data_change` says so in the log.
    preset = {k: v for k, v in settings["preset"].items() if k not in ("steps", "eval_every", "eval_rows", "save_every", "log_every", "probe_texts")}
    return {**{k: v for k, v in settings.items() if k not in ("data", "preset")}, "preset": preset, "data": {"name": settings["data"].get("name")}}


def data_change(saved: dict, settings: dict) -> str | None:
    """How the dataset a resumed run goes on with differs from the build the saved run used
    (another config digest or size), or None where it is the same build."""
    theirs, ours = saved.get("data", {}), settings["data"]
    changes = [f"{key} {theirs.get(key)} -> {ours.get(key)}" for key in ("config_sha", "records") if theirs.get(key) != ours.get(key)]
    if not changes:
        return None
    return f"data: going on with another build of {ours.get('name')} than the saved run used ({'; '.join(changes)})"


def check_resumable(saved: dict, settings: dict, state_dir: Path) -> None:
    """Refuse (TrainError naming what differs) to resume a run saved with `saved` settings
    under `settings`."""
    theirs, ours = _comparable(saved), _comparable(settings)
    if theirs == ours:
        return
    diffs = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if "preset" in diffs:
        diffs.remove("preset")
        diffs += [f"preset.{k}" for k in sorted(set(theirs["preset"]) | set(ours["preset"])) if theirs["preset"].get(k) != ours["preset"].get(k)]
    raise TrainError(f"{state_dir}: a run with other settings is there ({', '.join(diffs)} differ); resume it with the same settings, or pass --fresh to start over")


def git_commit() -> str | None:
    """The commit of codewm's source tree, or None outside a git checkout."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def truncate_history(path: Path, step: int) -> list[dict]:
    """Metrics up to `step` (a resumed run drops what it logged after its last checkpoint)."""
    if not path.exists():
        return []
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:  # a line cut by a kill
            continue
        if record.get("step", 0) <= step:
            kept.append(record)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    os.replace(tmp, path)
    return kept


def draw_loss_curve(history: list[dict], path: Path, title: str) -> Path | None:
    """The training and validation loss against tokens seen, as a PNG (written atomically)."""
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train = [r for r in history if "loss" in r]
    val = [r for r in history if "val_loss" in r]
    if not train:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    xs = [r["tokens"] / 1e6 for r in train]
    ax.plot(xs, [r["loss"] for r in train], label="train", color="#4c72b0", linewidth=1)
    if val:
        ax.plot([r["tokens"] / 1e6 for r in val], [r["val_loss"] for r in val], "o-", label="validation", color="#dd8452")
    ax.set_xlabel("tokens trained on (millions)")
    ax.set_ylabel("loss (nats per token)")
    ax.set_yscale("log")
    # plain numbers on the log axis: matplotlib's own labels read `4x10^0` for a loss of 4
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:.3g}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: _minor_label(value, ax.get_ylim())))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _minor_label(value: float, limits: tuple[float, float]) -> str:
    """A minor tick's label on the log loss axis, as a plain number: all of them when the
    axis spans a decade or less, 2s and 5s up to two decades, none beyond (they would crowd)."""
    import math

    low, high = sorted(limits)
    decades = math.log10(high / low) if low > 0 else math.inf
    mantissa = round(value / 10 ** math.floor(math.log10(value)), 6) if value > 0 else 0
    if decades <= 1 or (decades <= 2 and mantissa in (2, 5)):
        return f"{value:.3g}"
    return ""


def summary_writer_class():
    """torch's TensorBoard `SummaryWriter`, or None when tensorboard is not installed (it is
    optional: imported here, when a run starts, never at codewm's import)."""
    try:
        import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it, and says so late)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter


class Board:
    """The run's metrics as TensorBoard scalars (`RUN_DIR/tensorboard`), beside metrics.jsonl:
    every number of a record, tagged by its name, at the record's step."""

    DIRECTORY = "tensorboard"

    def __init__(self, writer) -> None:
        self.writer = writer

    @classmethod
    def open(cls, run_dir: Path, writer_class=None) -> "Board | None":
        """A board writing into `run_dir`, or None without tensorboard."""
        writer_class = writer_class or summary_writer_class()
        if writer_class is None:
            return None
        return cls(writer_class(log_dir=str(Path(run_dir) / cls.DIRECTORY)))

    def write(self, record: dict) -> None:
        step = record.get("step")
        for name, value in record.items():
            if name != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(name, value, step)
        self.writer.flush()  # a killed run keeps what it logged, as metrics.jsonl does

    def close(self) -> None:
        self.writer.close()


def write_run_json(run, step: int, val_loss: float | None) -> None:
    """run.json: the settings, the data and where the run stands (written atomically)."""
    info = {"settings": run.settings, "step": step, "tokens": run.tokens, "val_loss": val_loss, "parameters": run.parameters, "trainable_parameters": run.trainable_parameters, "packing": asdict(run.packing), "processes": run.world}
    tmp = run.run_dir / "run.json.tmp"
    tmp.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, run.run_dir / "run.json")


def save_run(run, step: int, val_loss: float | None, where: Path, phase: str, decay: dict | None) -> None:
    """The main process saves the model with its provenance and the trainer state into the
    checkpoint directory `where` (atomically), then run.json; every process waits for it.
    `phase`: "stable" (resumable, lr at its peak), "decayed" (the model to use) or "cosine";
    `decay`: the wsd decay's start and length (None for cosine)."""
    import torch

    from codewm.model.checkpoint import save_checkpoint
    from codewm.model.finetune import plain_model
    from codewm.model.mtp import save_heads

    accelerator, preset, options = run.accelerator, run.preset, run.options
    accelerator.wait_for_everyone()
    if run.main_process:
        lm = accelerator.unwrap_model(run.objective).lm
        plain = plain_model(lm)
        record = {
            "made_by": "codewm train",
            "preset": preset.name,
            "target": options.target,
            "step": step,
            "steps": preset.steps,
            "tokens": run.tokens,
            "val_loss": val_loss,
            "init": options.init,
            **({"tokenizer_from": {"path": str(options.tokenizer), "fingerprint": run.settings["tokenizer"]}} if options.tokenizer is not None else {}),
            "lora": options.lora,
            "mtp": options.mtp,
            "data": run.settings["data"],
            "settings": run.settings["preset"],
            "git_commit": git_commit(),
            "device": str(run.device) + ("" if run.cpu else f" ({torch.cuda.get_device_name()}) x{run.world}"),
            "schedule": preset.schedule,
            "phase": phase,
            "decay": decay,
        }

        def extra(staging: Path) -> None:
            torch.save({"step": step, "tokens": run.tokens, "optimizer": run.optimizer.state_dict(), "settings": run.settings, "val_loss": val_loss, "phase": phase}, staging / STATE_FILE)
            if run.heads is not None:
                save_heads(accelerator.unwrap_model(run.objective).heads, staging)
            if options.lora:
                lm.save_pretrained(staging / ADAPTER_DIR)

        save_checkpoint(where, plain, run.tokenizer, record, extra=extra, max_shard_size=options.max_shard_size)
        write_run_json(run, step, val_loss)
    accelerator.wait_for_everyone()
