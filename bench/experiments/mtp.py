"""Experiment: does multi-token prediction help codewm's world models? Accuracy and decoding
speed, with and without one extra head (n = 2, Gloeckle et al. 2024), in one run.

    python bench/experiments/mtp.py [--preset smoke] [--steps 300] [--programs 40]

1. Trains the preset twice with the same data, steps and seed: plain next-token training,
   and next-token plus one head predicting the token after next (`codewm train --mtp 1`).
   Runs are kept under out/bench/mtp/ and reused when already trained.
2. Accuracy: the validation next-token loss and accuracy of the main head, and CWM's trace
   metrics from the evaluation harness (traces-synthetic, the first --programs held-out
   programs): state and action exact match, output pass@1.
3. Decoding speed: greedy decoding of the held-out prompts with the MTP model, plain (one
   token per forward pass) and self-speculative (head 2 drafts the token after next; the
   model verifies it in the same pass): tokens per second, passes per token, how often the
   draft is accepted, and whether both write the same tokens.

Prints a table, then as its last line a JSON object with these figures and
speculative_speedup (speculative tokens/s over plain tokens/s).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--programs", type=int, default=40, help="held-out synthetic programs to evaluate and decode")
    parser.add_argument("--max-new-tokens", type=int, default=384, help="per prompt, in the speed test")
    parser.add_argument("--out", default=str(ROOT / "out" / "bench" / "mtp"))
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codewm.evaluate.run import evaluate, load_benchmark
    from codewm.format.cwm import END, format_prompt
    from codewm.model.mtp import greedy_generate, load_heads
    from codewm.model.presets import get_preset
    from codewm.model.train import TrainOptions, ensure_dataset, train
    from codewm.predict.decode import DecodeLimits
    from codewm.predict.registry import load_predictor
    from codewm.programs.synthetic import SyntheticSource
    from codewm.types import build_context

    preset = get_preset(args.preset, steps=args.steps, eval_every=args.steps)
    data = ensure_dataset(preset, ROOT / "out" / "train-data")
    runs = {}
    for name, extra in (("plain", 0), ("mtp", 1)):
        result = train(preset, Path(args.out) / f"{preset.name}-{name}", TrainOptions(data=str(data), mtp=extra, device="cpu"), log=None)
        last_val = [r for r in result.history if "val_loss" in r][-1]
        runs[name] = {"checkpoint": result.checkpoint, "val_loss": last_val["val_loss"], "val_token_accuracy": last_val["val_token_accuracy"]}

    bench = load_benchmark("traces-synthetic")
    limits = DecodeLimits(max_frames=256, max_frame_tokens=256, batch_size=8)
    for name, run in runs.items():
        scored = evaluate(load_predictor(f"builtin:{run['checkpoint']}", device="cpu"), bench, limit=args.programs, limits=limits)
        run["metrics"] = {key: scored["metrics"][key] for key in ("state_exact_match", "action_exact_match", "output_pass@1")}

    # Decoding speed with the MTP model: plain greedy against self-speculative.
    checkpoint = runs["mtp"]["checkpoint"]
    model = AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    heads = load_heads(checkpoint, model.config.hidden_size).eval()
    source = SyntheticSource(count=args.programs, seed=90001, mode="general")
    prompts = [tokenizer(format_prompt(build_context(c.source, c.call)), add_special_tokens=False)["input_ids"] for c in source.cases()]
    prompts = [p for p in prompts if len(p) + args.max_new_tokens <= model.config.max_position_embeddings]
    stop = {tokenizer.convert_tokens_to_ids(END)}
    speed = {}
    outputs = {}
    for name, use in (("plain greedy", None), ("self-speculative", heads)):
        greedy_generate(model, prompts[0], 8, stop, use)  # warm-up
        tokens = passes = 0
        outputs[name] = []
        start = time.perf_counter()
        for prompt in prompts:
            new, n = greedy_generate(model, prompt, args.max_new_tokens, stop, use)
            outputs[name].append(new)
            tokens += len(new)
            passes += n
        seconds = time.perf_counter() - start
        speed[name] = {"tokens_per_s": tokens / seconds, "passes_per_token": passes / tokens, "tokens": tokens}
    same = sum(a == b for a, b in zip(outputs["plain greedy"], outputs["self-speculative"])) / len(prompts)
    accepted = 1 / speed["self-speculative"]["passes_per_token"] - 1  # extra tokens per pass

    print(f"multi-token prediction: preset {preset.name}, {args.steps} steps each, same data and seed; {args.programs} held-out programs")
    print(f"{'training':<12}{'val loss':>10}{'val acc':>9}{'state EM':>10}{'action EM':>11}{'output pass@1':>15}")
    for name, run in runs.items():
        m = run["metrics"]
        print(f"{name:<12}{run['val_loss']:>10.4f}{100 * run['val_token_accuracy']:>8.2f}%{m['state_exact_match']:>9.1f}%{m['action_exact_match']:>10.1f}%{m['output_pass@1']:>14.1f}%")
    print(f"{'decoding (mtp model)':<24}{'tokens/s':>10}{'passes/token':>14}")
    for name, s in speed.items():
        print(f"{name:<24}{s['tokens_per_s']:>10.1f}{s['passes_per_token']:>14.3f}")
    speedup = speed["self-speculative"]["tokens_per_s"] / speed["plain greedy"]["tokens_per_s"]
    print(f"draft accepted on {100 * accepted:.1f}% of passes; same tokens as plain greedy on {100 * same:.0f}% of prompts; speculative speedup {speedup:.2f}x")
    figures = {
        "preset": preset.name,
        "steps": args.steps,
        "programs": args.programs,
        **{f"{name}_{key}": value for name, run in runs.items() for key, value in [("val_loss", run["val_loss"]), ("val_token_accuracy", run["val_token_accuracy"]), *run["metrics"].items()]},
        "plain_tokens_per_s": speed["plain greedy"]["tokens_per_s"],
        "speculative_tokens_per_s": speed["self-speculative"]["tokens_per_s"],
        "draft_accept_rate": accepted,
        "same_tokens_fraction": same,
        "speculative_speedup": speedup,
    }
    sys.stdout.flush()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
