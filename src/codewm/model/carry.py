"""Carrying a warmup-stable-decay run from one machine to the next, through the repository.

The built-in model is trained in runs of a few hours, on whatever machine a session has;
each run goes on from the stable phase where the last one stopped. That state must outlive
the machine, so it is committed, small:

    train-state/cpu/        the stable phase's last state: the model in fp32 (what training
                            goes on from), the tokenizer, codewm.json, and trainer_state.pt
                            with the optimizer's moments in bf16 (half the size; Adam's moments
                            need no more precision, and loading casts them back to fp32)
    train-state/cpu/metrics.jsonl   the whole learning curve so far, every run's

    save_state("out/train/cpu", "train-state/cpu")      # after a run
    restore_state("train-state/cpu", "out/train/cpu")   # before the next, on any machine

About 9 MB a run for the 1.1M-parameter model (the shipped, decayed model is another 4.5 MB).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from codewm.model.options import STABLE_DIR, STATE_FILE, TrainError

METRICS = "metrics.jsonl"


def _step(directory: Path) -> int:
    """The step a stable state is at (-1 when there is none)."""
    provenance = directory / "codewm.json"
    if not (directory / STATE_FILE).is_file() or not provenance.is_file():
        return -1
    return int(json.loads(provenance.read_text()).get("step", -1))


def _copy_dir(source: Path, destination: Path, convert_state=None) -> None:
    # Written beside, then swapped in: a kill never leaves half a state.
    staging = destination.with_name(destination.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    if convert_state is not None:
        convert_state(staging / STATE_FILE)
    old = destination.with_name(destination.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if destination.exists():
        os.replace(destination, old)
    os.replace(staging, destination)
    shutil.rmtree(old, ignore_errors=True)


def _compact(path: Path) -> None:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    for slot in state["optimizer"]["state"].values():
        for key, value in slot.items():
            if torch.is_tensor(value) and value.is_floating_point() and value.ndim > 0:
                slot[key] = value.to(torch.bfloat16)
    torch.save(state, path)


def save_state(run_dir: str | Path, destination: str | Path) -> int:
    """Copy `run_dir`'s stable state (and its learning curve) to `destination`, compacted;
    returns its step. Refuses to replace a later state with an earlier one."""
    run_dir, destination = Path(run_dir), Path(destination)
    stable = run_dir / STABLE_DIR
    step = _step(stable)
    if step < 0:
        raise TrainError(f"{stable}: no stable state to save (train with --minutes or a wsd preset first)")
    if _step(destination) > step:
        raise TrainError(f"{destination} holds a later state (step {_step(destination)}) than {stable} (step {step})")
    metrics = (run_dir / METRICS).read_text(encoding="utf-8") if (run_dir / METRICS).is_file() else ""
    _copy_dir(stable, destination, convert_state=_compact)
    tmp = destination / (METRICS + ".tmp")
    tmp.write_text(metrics, encoding="utf-8")
    os.replace(tmp, destination / METRICS)
    return step


def restore_state(source: str | Path, run_dir: str | Path) -> int | None:
    """Put the committed state at `source` into `run_dir` as its stable state, unless the run
    directory already holds the same or a later one; returns the step restored (None: kept
    the run directory's own)."""
    source, run_dir = Path(source), Path(run_dir)
    step = _step(source)
    if step < 0:
        return None
    if _step(run_dir / STABLE_DIR) >= step:
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    _copy_dir(source, run_dir / STABLE_DIR)
    (run_dir / STABLE_DIR / METRICS).unlink(missing_ok=True)
    if (source / METRICS).is_file():
        shutil.copyfile(source / METRICS, run_dir / METRICS)
    return step


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m codewm.model.carry", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("run_dir", help="the training run's directory (out/train/cpu)")
    parser.add_argument("state_dir", help="the committed state (train-state/cpu)")
    args = parser.parse_args(argv)
    try:
        if args.action == "save":
            print(f"saved step {save_state(args.run_dir, args.state_dir)} to {args.state_dir}")
        else:
            step = restore_state(args.state_dir, args.run_dir)
            print(f"restored step {step} into {args.run_dir}" if step is not None else f"{args.run_dir} is up to date (nothing restored)")
    except TrainError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
