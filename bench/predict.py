"""Benchmark: how fast a codewm model predicts traces on the CPU, one program at a time and
batched across programs, in one run.

    python bench/predict.py [--model builtin:DIR] [--programs 24] [--batch 8] [--device cuda]

The model is `--model`, else codewm's built-in checkpoint, else (while codewm ships none) a
small model trained here for about a minute on synthetic traces and kept under
out/bench/predict-model/ for later runs; the table says which. A model that has not learned
the format would write no frames, so a random one cannot be timed meaningfully.

Both runs decode the same programs (CRUXEval-style synthetic functions with a seed no
training uses) with greedy frame-by-frame decoding, exactly as `codewm eval` does. Frames are
the frames the model wrote (each ended by `<|frame_sep|>`); tokens are every generated token.

Three runs: one program at a time without the prefix KV cache (the baseline: every frame
recomputes the whole prompt), one at a time with it (the default), and batched. Prints a
table, then as its last line a JSON object with frames_per_s and tokens_per_s for single and
batched decoding, prefix_cache_speedup and batched_speedup (frames/s over single frames/s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from codewm.predict.base import STEP_FRAME
from codewm.predict.decode import DecodeLimits, predict_traces
from codewm.predict.registry import BUILTIN_CHECKPOINT, load_predictor
from codewm.trace.types import build_context

ROOT = Path(__file__).resolve().parents[1]
BENCH_MODEL = ROOT / "out" / "bench" / "predict-model"


def synthetic_contexts(count: int, seed: int) -> list[str]:
    from codewm.programs.synthetic import SyntheticSource

    return [build_context(c.source, c.call) for c in SyntheticSource(count=count, seed=seed, mode="cruxeval").cases()]


def train_bench_model(path: Path) -> Path:
    """A ~0.8M-parameter model trained for about a minute and a half on 200 synthetic traces:
    enough to write well-formed frames, which is all a speed measurement needs."""
    import torch
    from transformers import LlamaForCausalLM

    from codewm.format.cwm import format_trace
    from codewm.model.checkpoint import ModelShape, llama_config, save_checkpoint
    from codewm.model.tokenizer import train_tokenizer
    from codewm.model.train import TrainSettings, train_on_texts
    from codewm.predict.oracle import OraclePredictor

    oracle = OraclePredictor()
    try:
        traces = [t for t in oracle.real_traces(synthetic_contexts(200, seed=3)) if t.complete]
    finally:
        oracle.close()
    texts = [format_trace(t) for t in traces]
    tokenizer = train_tokenizer(texts, vocab_size=1024)
    torch.manual_seed(0)
    shape = ModelShape(hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4)
    model = LlamaForCausalLM(llama_config(shape, tokenizer))
    settings = TrainSettings(steps=600, batch_size=8, seq_len=256, lr=3e-3)
    losses = train_on_texts(model, tokenizer, texts, settings)
    return save_checkpoint(path, model, tokenizer, {"made_by": "bench/predict.py", "train": vars(settings) | {"final_loss": losses[-1]}})


def resolve_model(spec: str | None) -> tuple[str, str]:
    if spec:
        return spec, "as given"
    if (BUILTIN_CHECKPOINT / "config.json").is_file():
        return "builtin", "codewm's built-in checkpoint"
    if not (BENCH_MODEL / "config.json").is_file():
        print(f"no built-in checkpoint yet: training a small bench model into {BENCH_MODEL} (about 2 minutes)", file=sys.stderr)
        train_bench_model(BENCH_MODEL)
    return f"builtin:{BENCH_MODEL}", "a small model trained by this bench (no built-in checkpoint yet)"


def run(predictor, contexts: list[str], limits: DecodeLimits) -> dict:
    started = time.perf_counter()
    predicted = predict_traces(predictor, contexts, limits)
    seconds = time.perf_counter() - started
    frames = sum(1 for p in predicted for step in p.steps if step.finish == STEP_FRAME)
    tokens = sum(p.tokens for p in predicted)
    return {
        "seconds": seconds,
        "frames": frames,
        "tokens": tokens,
        "frames_per_s": frames / seconds,
        "tokens_per_s": tokens / seconds,
        "complete": sum(p.stop == "complete" for p in predicted),
        "texts": [p.text for p in predicted],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model name (default: builtin, else a bench-trained model)")
    parser.add_argument("--programs", type=int, default=24, help="programs decoded in each run")
    parser.add_argument("--batch", type=int, default=8, help="programs decoded together in the batched run")
    parser.add_argument("--max-frames", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu (the figure the README reports), cuda, ...")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16, ... (default: float32 on cpu, bfloat16 on cuda)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    spec, which = resolve_model(args.model)
    contexts = synthetic_contexts(args.programs, seed=90001)
    hf = spec.split(":")[0] in ("builtin", "hf")
    options = {"device": args.device, "batch_size": args.batch} | ({"dtype": args.dtype} if args.dtype else {})
    predictor = load_predictor(spec, **options) if hf else load_predictor(spec)
    limits = dict(max_frames=args.max_frames, max_frame_tokens=256)
    run(predictor, contexts[:2], DecodeLimits(batch_size=1, **limits))  # warm-up (first-call costs)
    uncached = None
    if hf:  # the baseline: every frame recomputes the whole prompt
        predictor.lm.prefix_cache = False
        uncached = run(predictor, contexts, DecodeLimits(batch_size=1, **limits))
        predictor.lm.prefix_cache = True
    single = run(predictor, contexts, DecodeLimits(batch_size=1, **limits))
    batched = run(predictor, contexts, DecodeLimits(batch_size=args.batch, **limits))
    same = single["texts"] == batched["texts"] and (uncached is None or uncached["texts"] == single["texts"])

    lm = getattr(predictor, "lm", None)
    params = sum(p.numel() for p in lm.model.parameters()) if lm is not None and hasattr(lm, "model") else None
    print(f"model: {spec} ({which}; {params:,} parameters)" if params else f"model: {spec} ({which})")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, Python {platform.python_version()}")
    if hf:
        lm = predictor.lm
        gpu = f" ({torch.cuda.get_device_name()})" if lm.device.startswith("cuda") else ""
        print(f"device: {lm.device}{gpu}, dtype {lm.model.dtype}, torch {torch.__version__}")
    print(f"{args.programs} programs, greedy, at most {args.max_frames} frames each; every run wrote the same texts: {same}")
    print(f"{'run':<30}{'seconds':>9}{'frames':>8}{'tokens':>8}{'frames/s':>10}{'tokens/s':>10}{'complete':>10}")
    runs = [("single, no prefix cache", uncached)] if uncached else []
    runs += [("single (batch 1)", single), (f"batched ({args.batch} programs)", batched)]
    for name, r in runs:
        print(f"{name:<30}{r['seconds']:>9.2f}{r['frames']:>8}{r['tokens']:>8}{r['frames_per_s']:>10.1f}{r['tokens_per_s']:>10.1f}{r['complete']:>10}")
    figures = {
        "model": spec,
        "device": args.device,
        "parameters": params,
        "programs": args.programs,
        "batch": args.batch,
        "frames_per_s_single": round(single["frames_per_s"], 2),
        "tokens_per_s_single": round(single["tokens_per_s"], 1),
        "frames_per_s_batched": round(batched["frames_per_s"], 2),
        "tokens_per_s_batched": round(batched["tokens_per_s"], 1),
        "batched_speedup": round(batched["frames_per_s"] / single["frames_per_s"], 2) if single["frames_per_s"] else None,
        "frames_per_s_single_uncached": round(uncached["frames_per_s"], 2) if uncached else None,
        "prefix_cache_speedup": round(single["frames_per_s"] / uncached["frames_per_s"], 2) if uncached and uncached["frames_per_s"] else None,
        "same_texts": same,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
