"""Setting up a training run: options checked, the data, the model, the optimizer, resuming.

`setup_run` does everything `codewm.model.train.train` needs before its first step and
hands it over as a `Run`: the device and processes (accelerate), the dataset (the preset's
own is built first, see `ensure_dataset`), the saved state of a run to resume (refused when
its settings differ), the model and tokenizer (a new model with a tokenizer trained on the
data, a pretrained one with `--init`, or the checkpoint's own when resuming), the training
objective and its optimizer, the validation rows and probe texts, and the training stream
fast-forwarded past the rows a resumed run has already used.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from codewm.model.options import STABLE_DIR, STATE_FILE, TrainError, TrainOptions
from codewm.model.presets import Preset
from codewm.model.runlog import check_resumable, data_change, run_settings, truncate_history


@dataclass
class Run:
    """A training run, set up (see `setup_run`); `tokens` grows as it trains."""

    preset: Preset  # with --minutes, made warmup-stable-decay
    options: TrainOptions
    say: Callable[[str], None]  # the log of the main process (other processes say nothing)
    accelerator: Any
    device: Any
    cpu: bool
    main_process: bool
    world: int  # processes
    rank: int  # this process's index among them
    run_dir: Path
    checkpoint_dir: Path  # the latest model
    state_dir: Path  # where a later run resumes from
    data_dir: Path
    settings: dict  # see codewm.model.runlog.run_settings
    state: dict | None  # the trainer state resumed from (None for a fresh run)
    model: Any  # the language model (LoRA-wrapped with --lora)
    tokenizer: Any
    heads: Any  # the multi-token-prediction heads, or None
    objective: Any  # model and heads under one loss (codewm.model.setup.make_objective), prepared by accelerate
    optimizer: Any
    parameters: int
    trainable_parameters: int
    val_rows: list  # the first rows of the validation split, the same every time
    probe_texts: list[str]  # the first validation texts that fit a row (preset.probe_texts of them)
    packing: Any  # codewm.model.data.PackingStats of the training stream
    stream: Iterator  # the training rows, from where this run starts
    start_step: int
    tokens: int  # real (non-padding) tokens trained on, this run and the ones it resumes
    metrics_path: Path
    history: list[dict]  # the metrics so far (main process only)
    title: str  # of the loss curve
    board: Any = None  # codewm.model.runlog.Board: the metrics for TensorBoard (main process, when installed)


def ensure_dataset(preset: Preset, root: str | Path, workers: int | None = None, console=None) -> Path:
    """The preset's dataset, built under `root/<preset>` if it is not there yet (a killed
    build resumes where it stopped)."""
    from codewm.dataset.build import ensure_built

    return ensure_built(preset.data, Path(root) / preset.name, where=f"preset {preset.name} data", workers=workers, console=console)


def check_options(preset: Preset, options: TrainOptions) -> Preset:
    """The preset to train (warmup-stable-decay with a time budget), or TrainError for
    options that do not go together. Sets torch's CPU threads."""
    import torch

    from codewm.model.data import TARGETS

    if options.target not in TARGETS:
        raise TrainError(f"target must be one of {', '.join(TARGETS)}, got {options.target!r}")
    if options.lora and not options.init:
        raise TrainError("--lora adapts a pretrained model: give --init hf:PATH too")
    if options.tokenizer is not None:
        from codewm.model.tokenizer import tokenizer_fingerprint

        if options.init:
            raise TrainError("--tokenizer gives a new model a tokenizer; --init brings its own: give one of them")
        try:
            tokenizer_fingerprint(options.tokenizer)
        except (OSError, ValueError) as exc:
            raise TrainError(f"--tokenizer {options.tokenizer}: {exc}") from None
    if options.lora < 0 or options.mtp < 0:
        raise TrainError("--lora and --mtp take a rank / a number of heads >= 0")
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.minutes is not None and not options.minutes > 0:
        raise TrainError(f"--minutes must be a positive number, got {options.minutes!r}")
    if options.minutes is not None and preset.schedule != "wsd":
        preset = replace(preset, schedule="wsd")  # a wall-clock budget ends in a decay of its own
    if preset.schedule not in ("cosine", "wsd"):
        raise TrainError(f"preset {preset.name}: schedule must be cosine or wsd, got {preset.schedule!r}")
    if options.device not in (None, "cpu", "cuda"):
        raise TrainError(f"--device must be cpu or cuda, got {options.device!r}")
    if options.device == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda: no CUDA device is available")
    return preset


def setup_run(preset: Preset, run_dir: str | Path, options: TrainOptions, log: Callable[[str], None], console=None) -> Run:
    """Everything a run needs before its first step (see the module docstring)."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from codewm.model.data import PackingStats, row_stream

    preset = check_options(preset, options)
    run_dir = Path(run_dir)
    checkpoint_dir = run_dir / "checkpoint"
    # Where a killed or a later run resumes from: with warmup-stable-decay, the stable phase's
    # last state (STABLE_DIR), never a decayed model; with cosine, the latest checkpoint.
    state_dir = run_dir / STABLE_DIR if preset.schedule == "wsd" else checkpoint_dir
    cpu = options.device == "cpu" or (options.device is None and not torch.cuda.is_available())
    accelerator = Accelerator(cpu=cpu, mixed_precision="no" if cpu else "bf16")
    main_process = accelerator.is_main_process
    say = log if main_process else (lambda message: None)

    # The data: a given dataset, or the preset's own, built once by the main process.
    if options.data:
        data_dir = Path(options.data)
    else:
        with accelerator.main_process_first():
            if main_process:
                say(f"data: building the {preset.name} preset's dataset in {Path(options.data_root) / preset.name} (once; resumable)")
            data_dir = ensure_dataset(preset, options.data_root, console=console if main_process else None)
    settings = run_settings(preset, options, data_dir)

    if options.fresh and main_process and run_dir.exists():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        shutil.rmtree(run_dir / STABLE_DIR, ignore_errors=True)
        for name in ("metrics.jsonl", "loss.png", "run.json"):
            (run_dir / name).unlink(missing_ok=True)
    accelerator.wait_for_everyone()
    state = None
    if (state_dir / STATE_FILE).exists():
        state = torch.load(state_dir / STATE_FILE, map_location="cpu", weights_only=False)
        check_resumable(state["settings"], settings, state_dir)
        change = data_change(state["settings"], settings)
        if change is not None:
            say(change)
        if state["step"] >= preset.steps and options.minutes is None:
            say(f"{run_dir}: already trained {state['step']} of {preset.steps} steps; nothing to do")

    set_seed(preset.seed)
    device = accelerator.device
    model, tokenizer, heads = _load_model(preset, options, state_dir if state is not None else None, data_dir, device, say)
    objective = make_objective(model, heads, tokenizer.bos_token_id if tokenizer.bos_token_id is not None else -1, options.mtp_weight)
    optimizer, trainable_parameters = _optimizer(objective, preset, cpu, state)
    objective, optimizer = accelerator.prepare(objective, optimizer)
    parameters = sum(p.numel() for p in model.parameters())
    val_rows = _validation_rows(data_dir, preset, options.target, tokenizer)

    # The training stream, fast-forwarded past the rows a resumed run has already used.
    packing = PackingStats()
    stream = row_stream(data_dir, "train", tokenizer, preset.seq_len, target=options.target, seed=preset.seed, stats=packing, copy_fraction=preset.copy_fraction)
    start_step = state["step"] if state is not None else 0
    tokens = state["tokens"] if state is not None else 0
    for _ in range(start_step * preset.batch_size):
        next(stream)
    world, rank = accelerator.num_processes, accelerator.process_index
    if preset.batch_size % world:
        raise TrainError(f"batch_size {preset.batch_size} does not divide over {world} processes")

    run_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = run_dir / "metrics.jsonl"
    history = truncate_history(metrics_path, start_step) if main_process else []
    title = f"codewm {preset.name} ({options.target}{', mtp ' + str(options.mtp) if options.mtp else ''}): {parameters / 1e6:.2f}M parameters"
    return Run(
        preset=preset, options=options, say=say, accelerator=accelerator, device=device, cpu=cpu, main_process=main_process,
        world=world, rank=rank, run_dir=run_dir, checkpoint_dir=checkpoint_dir, state_dir=state_dir, data_dir=data_dir,
        settings=settings, state=state, model=model, tokenizer=tokenizer, heads=heads, objective=objective, optimizer=optimizer,
        parameters=parameters, trainable_parameters=trainable_parameters, val_rows=val_rows,
        probe_texts=_probe_texts(data_dir, preset, options.target, tokenizer), packing=packing, stream=stream,
        start_step=start_step, tokens=tokens, metrics_path=metrics_path, history=history, title=title,
    )


def _load_model(preset: Preset, options: TrainOptions, resume_dir: Path | None, data_dir: Path, device, say):
    """(model, tokenizer, multi-token heads or None) on `device`: the checkpoint's in
    `resume_dir` when resuming, else a pretrained model (--init) or a new one with a
    tokenizer trained on the data."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    from codewm.model.checkpoint import llama_config, quiet_transformers
    from codewm.model.data import iter_texts
    from codewm.model.finetune import apply_lora, load_adapters, load_init
    from codewm.model.mtp import MultiTokenHeads, load_heads
    from codewm.model.tokenizer import train_tokenizer

    new_tokens: list[str] = []
    with quiet_transformers():
        if options.init:
            model, tokenizer, new_tokens = load_init(options.init, device)
            if new_tokens:
                say(f"init: added {len(new_tokens)} CWM special tokens to {options.init}'s tokenizer")
            if resume_dir is not None and not options.lora:
                model = AutoModelForCausalLM.from_pretrained(resume_dir, dtype=torch.float32).to(device)
        elif resume_dir is not None:
            tokenizer = AutoTokenizer.from_pretrained(resume_dir)
            model = AutoModelForCausalLM.from_pretrained(resume_dir, dtype=torch.float32).to(device)
        else:
            if options.tokenizer is not None:  # another run's, so that token counts compare
                tokenizer = AutoTokenizer.from_pretrained(options.tokenizer)
                say(f"tokenizer: {options.tokenizer}'s ({len(tokenizer)} tokens)")
            else:
                sample = first(iter_texts(data_dir, "train", target=options.target, seed=preset.seed, epochs=1), preset.tokenizer_texts)
                tokenizer = train_tokenizer(sample, vocab_size=preset.vocab_size)
            model = LlamaForCausalLM(llama_config(preset.shape, tokenizer)).to(device)
    if options.lora:
        model = apply_lora(model, options.lora, bool(new_tokens))
        if resume_dir is not None:
            load_adapters(model, resume_dir)
    heads = None
    if options.mtp:
        hidden = model.config.hidden_size
        heads = (load_heads(resume_dir, hidden) if resume_dir is not None else None) or MultiTokenHeads(hidden, options.mtp)
        heads = heads.to(device)
    return model, tokenizer, heads


def _optimizer(objective, preset: Preset, cpu: bool, state: dict | None):
    """(AdamW over the trainable parameters, no weight decay on vectors; their count),
    with the resumed state's moments."""
    import torch

    trainable = [(name, p) for name, p in objective.named_parameters() if p.requires_grad]
    decay = [p for name, p in trainable if p.ndim >= 2]
    no_decay = [p for name, p in trainable if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": preset.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=preset.lr,
        betas=(0.9, 0.95),
        fused=not cpu and torch.cuda.is_available(),
    )
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    return optimizer, sum(p.numel() for _, p in trainable)


def _validation_rows(data_dir: Path, preset: Preset, target: str, tokenizer) -> list:
    """The first `preset.eval_rows` packed rows of the validation split."""
    from codewm.format.cwm import FRAME_SEP
    from codewm.model.data import iter_texts, pack_rows, tokenize

    frame_sep_id = tokenizer.convert_tokens_to_ids(FRAME_SEP)
    if frame_sep_id is None or frame_sep_id == tokenizer.unk_token_id:
        raise TrainError("the tokenizer has no <|frame_sep|> token")
    rows = first(
        pack_rows(tokenize(iter_texts(data_dir, "validation", target=target, seed=0, epochs=1), tokenizer), preset.seq_len, tokenizer.pad_token_id, frame_sep_id),
        preset.eval_rows,
    )
    if not rows:
        raise TrainError(f"{data_dir}: the validation split gives no rows of at most {preset.seq_len} tokens")
    return rows


def _probe_texts(data_dir: Path, preset: Preset, target: str, tokenizer) -> list[str]:
    """The teacher-forced probe's traces: the first validation texts that fit a row."""
    from codewm.model.data import iter_texts

    texts: list[str] = []
    if preset.probe_texts:
        for text in iter_texts(data_dir, "validation", target=target, seed=0, epochs=1):
            if len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= preset.seq_len:
                texts.append(text)
            if len(texts) == preset.probe_texts:
                break
    return texts


def first(source, count: int) -> list:
    """The first `count` items of `source` (fewer if it ends before)."""
    out = []
    for item in source:
        out.append(item)
        if len(out) == count:
            break
    return out


def make_objective(lm, heads, bos_id: int, mtp_weight: float):
    """The training loss as an nn.Module (so DDP wraps the whole computation): next-token
    cross-entropy summed over labelled positions, plus the extra heads' when there are some."""
    import torch
    from torch import nn

    from codewm.model.mtp import shifted_labels

    class Objective(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lm = lm
            self.heads = heads

        def forward(self, input_ids, labels):
            out = self.lm(input_ids=input_ids, output_hidden_states=self.heads is not None)
            logits = out.logits
            vocab = logits.shape[-1]
            main = nn.functional.cross_entropy(logits.float().reshape(-1, vocab), labels.reshape(-1), ignore_index=-100, reduction="sum")
            correct = ((logits.argmax(-1) == labels) & (labels != -100)).sum()
            extra = []
            if self.heads is not None:
                output_layer = self.lm.get_output_embeddings()
                for ahead, hidden in enumerate(self.heads(out.hidden_states[-1]), start=1):
                    head_logits = output_layer(hidden).float()
                    target = shifted_labels(labels, input_ids, bos_id, ahead)
                    extra.append(nn.functional.cross_entropy(head_logits.reshape(-1, vocab), target.reshape(-1), ignore_index=-100, reduction="sum"))
            total = main + mtp_weight * sum(extra) if extra else main
            return total, main.detach(), correct, [e.detach() for e in extra]

    return Objective()
