"""Training codewm's world models: `codewm train --preset NAME` (see `codewm.model.presets`).

    run = train(get_preset("smoke"), "out/train/smoke")       # -> out/train/smoke/checkpoint

A run directory holds

    checkpoint/      the latest model: a codewm checkpoint (Hugging Face Llama + tokenizer +
                     codewm.json) plus trainer_state.pt (optimizer, step, data position) and,
                     with multi-token prediction, mtp_heads.safetensors. Written atomically
                     every `save_every` steps; a killed run resumes from it.
    metrics.jsonl    one line per log step and per validation (appended, flushed)
    loss.png         the loss curve, redrawn at every validation
    run.json         the settings, the data and where the run stands

Engines: one process on a CPU or a GPU, or several GPUs through accelerate
(`accelerate launch -m codewm.cli train ...` or `torchrun`): each process trains on its share
of every step's rows and gradients are averaged (DDP). On a GPU the forward pass runs in
bf16 (autocast, fp32 master weights).

The loop below reads top to bottom; what it stands on lives beside it: `setup` (options,
data, model, optimizer, resuming), `finetune` (--init and LoRA), `schedule` (the learning
rate), `runlog` (metrics, loss curve, run.json, saving checkpoints) and `export`.
`train_on_texts` (`train_in_memory`) is the minimal in-memory loop tests and benchmarks use
to make a tiny model in seconds; this module hands it on, with the names the CLI uses.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

from codewm.model.export import export_checkpoint
from codewm.model.finetune import SMOLLM2, init_source
from codewm.model.options import ADAPTER_DIR, STABLE_DIR, STATE_FILE, TrainError, TrainOptions, TrainResult
from codewm.model.presets import Preset
from codewm.model.runlog import Board, append_jsonl, draw_loss_curve, save_run, write_run_json
from codewm.model.schedule import Schedule, cosine_lr, lr_at, wsd_lr
from codewm.model.setup import Run, ensure_dataset, setup_run
from codewm.model.train_in_memory import TrainSettings, pack, train_on_texts

__all__ = [  # what the CLI, tests, benchmarks and scripts import from here
    "ADAPTER_DIR", "SMOLLM2", "STABLE_DIR", "STATE_FILE", "TrainError", "TrainOptions", "TrainResult", "TrainSettings",
    "cosine_lr", "ensure_dataset", "export_checkpoint", "init_source", "lr_at", "pack", "train", "train_on_texts", "wsd_lr",
]


def train(preset: Preset, run_dir: str | Path, options: TrainOptions | None = None, log: Callable[[str], None] | None = print, console=None) -> TrainResult:
    """Train (or resume training) `preset` into `run_dir`; returns where the checkpoint is."""
    run = setup_run(preset, run_dir, options or TrainOptions(), log or (lambda message: None), console)
    preset, options, say = run.preset, run.options, run.say
    schedule = Schedule.plan(preset, options.minutes)
    wsd = schedule.wsd

    def save(step: int, where: Path, phase: str) -> None:  # with the latest validation loss
        save_run(run, step, val_loss, where, phase, schedule.record())

    _announce(run)
    if run.main_process:
        run.board = Board.open(run.run_dir)
    run.objective.train()
    val_loss = run.state.get("val_loss") if run.state is not None else None
    started = time.monotonic()
    session_tokens = 0
    window_tokens, window_start = 0, time.monotonic()
    batches = _Prefetch(_step_batches(run), depth=4)
    step = run.start_step
    while step < schedule.end_step:
        if schedule.start_decay_if_due(step, step - run.start_step, time.monotonic() - started):
            say(f"step {step:>6}  decay starts: {schedule.decay_steps} steps to lr {preset.lr * preset.min_lr_ratio:.2e}")
        if wsd and step == schedule.decay_start and step > run.start_step:
            save(step, run.state_dir, "stable")  # what the next run goes on from
        step_tokens, loss_tokens, chunks = next(batches)
        lr = schedule.lr(step)
        loss_sums = _optimizer_step(run, chunks, loss_tokens, lr)
        run.tokens += step_tokens
        session_tokens += step_tokens
        window_tokens += step_tokens
        step += 1
        last = step == schedule.end_step
        if run.main_process and (step % preset.log_every == 0 or last):
            now = time.monotonic()
            rate = window_tokens / max(now - window_start, 1e-9)
            losses = [float(total) / max(loss_tokens, 1) for total in loss_sums]  # (a GPU waits here, so only when logging)
            record = {"step": step, "loss": losses[0], "lr": lr, "tokens": run.tokens, "tokens_per_s": rate, "elapsed_s": now - started}
            record.update({f"loss_ahead_{ahead}": loss for ahead, loss in enumerate(losses[1:], start=2)})
            _remember(run, record)
            say(f"step {step:>6}{schedule.of_steps()}  loss {record['loss']:.4f}  lr {record['lr']:.2e}  {rate:,.0f} tokens/s")
            window_tokens, window_start = 0, now
        if step % preset.eval_every == 0 or last:
            val_loss = _validate(run, step, schedule)
        if last:
            save(step, run.checkpoint_dir, "decayed" if wsd else "cosine")
            if wsd and schedule.decay_start is None:  # a run too short to decay: it is still stable
                save(step, run.state_dir, "stable")
        elif step % preset.save_every == 0 and not schedule.decaying_after(step):
            # In the decay phase nothing is saved until its end: a kill then resumes from
            # the stable state and decays again.
            save(step, run.state_dir if wsd else run.checkpoint_dir, "stable" if wsd else "cosine")
    seconds = time.monotonic() - started
    if run.start_step >= preset.steps and run.main_process and not (run.run_dir / "run.json").exists():
        write_run_json(run, run.start_step, val_loss)
    if run.main_process:
        draw_loss_curve(run.history, run.run_dir / "loss.png", run.title)
    if run.board is not None:
        run.board.close()
    return TrainResult(
        run_dir=run.run_dir,
        checkpoint=run.checkpoint_dir,
        steps=step,
        tokens=run.tokens,
        seconds=seconds,
        tokens_per_second=session_tokens / seconds if seconds > 0 else 0.0,
        val_loss=val_loss,
        resumed_from=run.start_step,
        history=run.history,
    )


def _announce(run: Run) -> None:
    """Say where the run starts and what it trains."""
    preset, options = run.preset, run.options
    if run.state is not None:
        run.say(f"resuming {run.run_dir} at step {run.start_step}" + (f" of {preset.steps}" if options.minutes is None else f" ({run.state.get('phase', 'stable')} phase), for {options.minutes:g} minutes"))
    run.say(
        f"model: {run.parameters / 1e6:.2f}M parameters ({run.trainable_parameters / 1e6:.2f}M trained), vocab {len(run.tokenizer)}, "
        f"{preset.seq_len}-token rows x {preset.batch_size} per step, {run.world} process(es) on {run.device}"
        + (", bf16 autocast" if not run.cpu else "")
    )


def _step_batches(run: Run):
    """Everything each step needs, made ahead of time in a background thread (see
    _Prefetch): (real tokens of the step's rows, labelled tokens of this process's rows,
    [(input ids, labels)] per micro-batch). Packing and tensor building are Python work a
    GPU should not wait for."""
    import torch

    preset, world = run.preset, run.world
    micro = max(1, min(preset.micro_batch, preset.batch_size // world))
    pad_id = run.tokenizer.pad_token_id
    while True:
        global_rows = [next(run.stream) for _ in range(preset.batch_size)]
        mine = global_rows[run.rank :: world]
        step_tokens = sum(len(r.input_ids) - r.input_ids.count(pad_id) for r in global_rows)
        loss_tokens = sum(len(r.labels) - r.labels.count(-100) for r in mine)
        chunks = []
        for i in range(0, len(mine), micro):
            ids = torch.tensor([r.input_ids for r in mine[i : i + micro]])
            labels = torch.tensor([r.labels for r in mine[i : i + micro]])
            if not run.cpu:
                ids, labels = ids.pin_memory(), labels.pin_memory()
            chunks.append((ids, labels))
        yield step_tokens, loss_tokens, chunks


def _optimizer_step(run: Run, chunks: list, loss_tokens: int, lr: float) -> list:
    """One optimizer step at learning rate `lr` over this process's micro-batches (gradients
    synchronized once, after the last); returns the summed next-token loss, then the extra
    heads' (tokens 2, 3, ... ahead), as tensors on the device."""
    import torch

    accelerator, objective, optimizer, device = run.accelerator, run.objective, run.optimizer, run.device
    for group in optimizer.param_groups:
        group["lr"] = lr
    main_total = torch.zeros((), device=device)
    extra_totals = [torch.zeros((), device=device) for _ in range(run.options.mtp)]
    for i, (ids, labels) in enumerate(chunks):
        ids, labels = ids.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        sync = accelerator.no_sync(objective) if (run.world > 1 and i < len(chunks) - 1) else nullcontext()
        with sync, accelerator.autocast():
            total, main, _, extra = objective(ids, labels)
            accelerator.backward(total / max(loss_tokens, 1))
        main_total += main
        for j, e in enumerate(extra):
            extra_totals[j] += e
    if run.preset.grad_clip:
        accelerator.clip_grad_norm_(objective.parameters(), run.preset.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return [main_total, *extra_totals]


def _validate(run: Run, step: int, schedule: Schedule) -> float:
    """The validation loss after `step` (every process computes it); the main process logs
    it with the next-token accuracy, the probe's figures and the phase, and redraws the
    loss curve."""
    val_loss, val_accuracy = _validation_loss(run)
    if run.main_process:
        record = {"step": step, "val_loss": val_loss, "val_token_accuracy": val_accuracy, "tokens": run.tokens}
        if schedule.wsd:
            record["phase"] = "decay" if schedule.decaying_after(step) else "stable"
        if run.probe_texts:
            record["probe"] = _probe(run)
        _remember(run, record)
        draw_loss_curve(run.history, run.run_dir / "loss.png", run.title)
        run.say(f"step {step:>6}{schedule.of_steps()}  validation loss {val_loss:.4f}  next-token accuracy {100 * val_accuracy:.2f} %")
        if "probe" in record:
            run.say("             probe: " + ", ".join(f"{k} {v:.3f}" for k, v in record["probe"].items() if v is not None))
    return val_loss


def _validation_loss(run: Run) -> tuple[float, float]:
    """(loss per labelled token, next-token accuracy) on the validation rows."""
    import torch

    objective, preset = run.objective, run.preset
    objective.eval()
    loss_sum = correct = count = 0.0
    with torch.no_grad():
        for i in range(0, len(run.val_rows), preset.micro_batch):
            rows = run.val_rows[i : i + preset.micro_batch]
            ids = torch.tensor([r.input_ids for r in rows], device=run.device)
            labels = torch.tensor([r.labels for r in rows], device=run.device)
            with run.accelerator.autocast():
                _, main, right, _ = objective(ids, labels)
            loss_sum += float(main)
            correct += float(right)
            count += float((labels != -100).sum())
    objective.train()
    return loss_sum / max(count, 1), correct / max(count, 1)


def _probe(run: Run) -> dict:
    """The teacher-forced probe's headline figures on the run's probe texts."""
    from codewm.model.probe import probe
    from codewm.model.probe_report import probe_summary

    lm = run.accelerator.unwrap_model(run.objective).lm
    return probe_summary(probe(lm, run.tokenizer, run.probe_texts, copy_trials=16))


def _remember(run: Run, record: dict) -> None:
    run.history.append(record)
    append_jsonl(run.metrics_path, record)
    if run.board is not None:
        run.board.write(record)


class _Prefetch:
    """Runs an iterator ahead in a daemon thread, `depth` items at most; errors surface at
    `next()` in the caller."""

    def __init__(self, iterator, depth: int = 4) -> None:
        import queue
        import threading

        self._queue: "queue.Queue" = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._fill, args=(iterator,), daemon=True, name="codewm-train-data")
        self._thread.start()

    def _fill(self, iterator) -> None:
        try:
            for item in iterator:
                self._queue.put((True, item))
        except BaseException as exc:  # handed to the training loop, which raises it
            self._queue.put((False, exc))

    def __next__(self):
        ok, item = self._queue.get()
        if not ok:
            raise item
        return item
