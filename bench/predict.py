"""Benchmark: how fast a codewm model predicts traces on the CPU, one program at a time and
batched across programs, with free and with structure-aware decoding, in one run; and how
right each decoding is against the real traces.

    python bench/predict.py [--model builtin:DIR] [--programs 24] [--batch 8] [--device cuda]
                            [--threads 1] [--scoring tree[,sequential,batch]] [--teacher-frames 32]

The model is `--model`, else codewm's built-in checkpoint, else (while codewm ships none) a
small model trained here for about a minute on synthetic traces and kept under
out/bench/predict-model/ for later runs; the table says which. A model that has not learned
the format would write no frames, so a random one cannot be timed meaningfully.

Both runs decode the same programs (CRUXEval-style synthetic functions with a seed no
training uses) with greedy frame-by-frame decoding, exactly as `codewm eval` does. Frames are
the frames the model wrote (each ended by `<|frame_sep|>`); tokens are every generated token.

Free decoding (the whole frame is the model's text): one program at a time without the
prefix KV cache (the baseline: every frame recomputes the whole prompt), one at a time with
it, and batched. Structure-aware decoding (`codewm.predict.structured`: event, keys and
source line chosen among what the program allows, values free), one program at a time, for
each candidate-scoring method of `--scoring` (the first is the one the summary reports).

Correctness, against the real traces (the sandbox runs each program): CWM's trace metrics
(state and action exact match, `codewm.evaluate.trace_metrics`) of the traces each decoding
wrote, the real traces cut to the same --max-frames; and, with --teacher-frames N, the next
frame predicted from the real frames so far (the first N frames of each program): how often
its event, its action (event and source line) and its state (event and locals, or value) are
the real ones.

Prints tables, then as its last line a JSON object: frames_per_s and tokens_per_s for single
and batched free decoding, prefix_cache_speedup, batched_speedup (frames/s over single
frames/s), frames_per_s_structured and structured_speedup (structure-aware frames/s over
free single frames/s: the on/off ratio), and each decoding's exact-match figures.
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
from codewm.predict.registry import BUILTIN_CHECKPOINT, backend, backend_options, load_predictor
from codewm.types import build_context

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


class Timed:
    """A predictor whose every `next_frames` call is timed (one frame per call at batch 1)."""

    def __init__(self, predictor) -> None:
        self.predictor, self.name, self.times = predictor, predictor.name, []

    def next_frames(self, requests):
        started = time.process_time()
        steps = self.predictor.next_frames(requests)
        self.times.append((time.process_time() - started) / max(1, len(requests)))
        return steps

    def answer(self, requests):
        return self.predictor.answer(requests)


def run(predictor, contexts: list[str], limits: DecodeLimits, reals: list | None = None) -> dict:
    timed = Timed(predictor)
    started, cpu = time.perf_counter(), time.process_time()
    predicted = predict_traces(timed, contexts, limits)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    frames = sum(1 for p in predicted for step in p.steps if step.finish == STEP_FRAME)
    tokens = sum(p.tokens for p in predicted)
    result = {
        "seconds": seconds,
        "frames": frames,
        "tokens": tokens,
        "frames_per_s": frames / seconds,
        "tokens_per_s": tokens / seconds,
        "cpu_seconds": cpu,  # this process's CPU time: what the run costs on a machine nobody shares
        # the median CPU time of a frame: what a frame typically costs, whatever the few that
        # run to the token limit (a value the model repeats forever) cost
        "median_frame_ms": 1000 * sorted(timed.times)[len(timed.times) // 2] if timed.times else None,
        "complete": sum(p.stop == "complete" for p in predicted),
        "texts": [p.text for p in predicted],
    }
    if reals is not None:
        from codewm.evaluate.trace_metrics import aggregate, score_trace

        result["metrics"] = aggregate([score_trace(p.text, real) for p, real in zip(predicted, reals)])
    return result


def real_traces(contexts: list[str], max_frames: int) -> list:
    """The real trace of each context, cut to its first `max_frames` frames (the frames a
    prediction may have)."""
    from codewm.predict.oracle import OraclePredictor
    from codewm.types import Trace

    oracle = OraclePredictor()
    try:
        traces = oracle.real_traces(contexts)
    finally:
        oracle.close()
    return [Trace(t.context, t.frames[:max_frames], complete=t.complete and len(t.frames) <= max_frames) for t in traces]


def next_frames(predictor, reals: list, frames: int, max_frame_tokens: int) -> dict:
    """Teacher forcing: the frame predicted after each of the first `frames` prefixes of the
    real traces, against the real next frame (event; action: event and source; state: event
    and locals, or value)."""
    from codewm.format.cwm import format_frames, parse_trace
    from codewm.predict.base import FrameRequest

    counts = {"frames": 0, "event": 0, "action": 0, "state": 0}
    started = time.perf_counter()
    for real in reals:
        for k, want in enumerate(real.frames[:frames]):
            prefix = format_frames(real.frames[:k], complete=False)
            [step] = predictor.next_frames([FrameRequest(real.context, prefix, max_frame_tokens)])
            got = parse_trace(prefix + step.text, real.context).trace.frames if step.finish == STEP_FRAME else []
            counts["frames"] += 1
            if len(got) > k:
                frame = got[k]
                same_event = frame.event == want.event
                counts["event"] += same_event
                counts["action"] += same_event and frame.source == want.source
                counts["state"] += same_event and frame.locals == want.locals and frame.value == want.value
    seconds = time.perf_counter() - started
    total = max(1, counts["frames"])
    return {"frames": counts["frames"], "seconds": seconds} | {k: 100.0 * counts[k] / total for k in ("event", "action", "state")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model name (default: builtin, else a bench-trained model)")
    parser.add_argument("--programs", type=int, default=24, help="programs decoded in each run")
    parser.add_argument("--batch", type=int, default=8, help="programs decoded together in the batched run")
    parser.add_argument("--max-frames", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu (the figure the README reports), cuda, ...")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16, ... (default: float32 on cpu, bfloat16 on cuda)")
    parser.add_argument("--scoring", default="tree", help="structure-aware decoding's candidate scoring: tree, sequential, batch (comma-separated: each is run)")
    parser.add_argument("--teacher-frames", type=int, default=32, help="next-frame accuracy from the real frames: the first N frames of each program (0: skip)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    spec, which = resolve_model(args.model)
    contexts = synthetic_contexts(args.programs, seed=90001)
    local = backend(spec).local  # a Hugging Face model loaded here: it has the prefix cache and structure-aware decoding
    predictor = load_predictor(spec, **backend_options(spec, device=args.device, batch_size=args.batch, dtype=args.dtype or None, structured=False if local else None))
    limits = dict(max_frames=args.max_frames, max_frame_tokens=256)
    reals = real_traces(contexts, args.max_frames)
    run(predictor, contexts[:2], DecodeLimits(batch_size=1, **limits))  # warm-up (first-call costs)
    uncached = None
    if local:  # the baseline: every frame recomputes the whole prompt
        predictor.lm.prefix_cache = False
        uncached = run(predictor, contexts, DecodeLimits(batch_size=1, **limits))
        predictor.lm.prefix_cache = True
    single = run(predictor, contexts, DecodeLimits(batch_size=1, **limits), reals)
    batched = run(predictor, contexts, DecodeLimits(batch_size=args.batch, **limits))
    same = single["texts"] == batched["texts"] and (uncached is None or uncached["texts"] == single["texts"])
    structured_runs: list[tuple[str, dict, object]] = []
    if local:  # the same weights, decoded structure-aware
        from codewm.predict.model_predictor import ModelPredictor
        from codewm.predict.structured import StructuredDecoder

        for scoring in [s.strip() for s in args.scoring.split(",") if s.strip()]:
            aware = ModelPredictor(predictor.lm, name=spec, structured=True)
            aware.decoder = StructuredDecoder(predictor.lm, scoring=scoring)
            run(aware, contexts[:2], DecodeLimits(batch_size=1, **limits))  # warm-up (token masks)
            aware.decoder.forwards = 0
            result = run(aware, contexts, DecodeLimits(batch_size=1, **limits), reals)
            result["forwards"] = aware.decoder.forwards
            structured_runs.append((scoring, result, aware))
    teacher = []
    if args.teacher_frames > 0:
        teacher.append(("free", next_frames(predictor, reals, args.teacher_frames, 256)))
        if structured_runs:
            teacher.append((f"structure-aware ({structured_runs[0][0]})", next_frames(structured_runs[0][2], reals, args.teacher_frames, 256)))

    lm = getattr(predictor, "lm", None)
    params = sum(p.numel() for p in lm.model.parameters()) if lm is not None and hasattr(lm, "model") else None
    print(f"model: {spec} ({which}; {params:,} parameters)" if params else f"model: {spec} ({which})")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, Python {platform.python_version()}")
    if local:
        lm = predictor.lm
        gpu = f" ({torch.cuda.get_device_name()})" if lm.device.startswith("cuda") else ""
        print(f"device: {lm.device}{gpu}, dtype {lm.model.dtype}, torch {torch.__version__}")
    print(f"{args.programs} programs, greedy, at most {args.max_frames} frames each; every free run wrote the same texts: {same}")
    print(f"state/action: CWM's exact match (%) against the real traces (cut to {args.max_frames} frames)")
    print("cpu s: this process's CPU time; frames/cpu s from it; ms/frame: the median CPU time of one frame (batch 1)")
    print(f"{'run':<38}{'seconds':>9}{'cpu s':>8}{'frames':>8}{'tokens':>8}{'frames/s':>10}{'frames/cpu s':>13}{'ms/frame':>9}{'tokens/s':>10}{'complete':>10}{'state':>8}{'action':>8}")
    runs = [("free, single, no prefix cache", uncached)] if uncached else []
    runs += [("free, single (batch 1)", single), (f"free, batched ({args.batch} programs)", batched)]
    runs += [(f"structure-aware, single ({scoring})", r) for scoring, r, _ in structured_runs]
    for name, r in runs:
        metrics = r.get("metrics")
        quality = f"{metrics['state_exact_match']:>8.1f}{metrics['action_exact_match']:>8.1f}" if metrics else f"{'-':>8}{'-':>8}"
        median = f"{r['median_frame_ms']:>9.1f}" if "batched" not in name and r["median_frame_ms"] is not None else f"{'-':>9}"
        print(f"{name:<38}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}{r['frames']:>8}{r['tokens']:>8}{r['frames_per_s']:>10.1f}{r['frames'] / max(r['cpu_seconds'], 1e-9):>13.1f}{median}{r['tokens_per_s']:>10.1f}{r['complete']:>10}{quality}")
    aware = structured_runs[0][1] if structured_runs else None
    if aware is not None:
        print(f"structure-aware vs free (single): {aware['frames_per_s'] / single['frames_per_s']:.2f}x frames/s, "
              f"{(aware['frames'] / aware['cpu_seconds']) / (single['frames'] / single['cpu_seconds']):.2f}x frames per CPU second; "
              f"{aware['forwards'] / max(1, aware['frames']):.1f} forward passes per frame")
    if teacher:
        print(f"next frame from the real frames so far (first {args.teacher_frames} frames of each program), % right:")
        print(f"{'decoding':<38}{'frames':>8}{'seconds':>9}{'event':>8}{'action':>8}{'state':>8}")
        for name, t in teacher:
            print(f"{name:<38}{t['frames']:>8}{t['seconds']:>9.2f}{t['event']:>8.1f}{t['action']:>8.1f}{t['state']:>8.1f}")
    figures = {
        "model": spec,
        "device": args.device,
        "parameters": params,
        "programs": args.programs,
        "batch": args.batch,
        "frames_per_s_single": round(single["frames_per_s"], 2),
        "frames_per_cpu_s_single": round(single["frames"] / single["cpu_seconds"], 2),
        "median_frame_ms_single": round(single["median_frame_ms"], 2),
        "tokens_per_s_single": round(single["tokens_per_s"], 1),
        "frames_per_s_batched": round(batched["frames_per_s"], 2),
        "tokens_per_s_batched": round(batched["tokens_per_s"], 1),
        "batched_speedup": round(batched["frames_per_s"] / single["frames_per_s"], 2) if single["frames_per_s"] else None,
        "frames_per_s_single_uncached": round(uncached["frames_per_s"], 2) if uncached else None,
        "prefix_cache_speedup": round(single["frames_per_s"] / uncached["frames_per_s"], 2) if uncached and uncached["frames_per_s"] else None,
        "same_texts": same,
        "state_exact_match_free": round(single["metrics"]["state_exact_match"], 2),
        "action_exact_match_free": round(single["metrics"]["action_exact_match"], 2),
    }
    if aware is not None:
        figures |= {
            "scoring": structured_runs[0][0],
            "frames_per_s_structured": round(aware["frames_per_s"], 2),
            "frames_per_cpu_s_structured": round(aware["frames"] / aware["cpu_seconds"], 2),
            "median_frame_ms_structured": round(aware["median_frame_ms"], 2),
            "structured_speedup": round(aware["frames_per_s"] / single["frames_per_s"], 2) if single["frames_per_s"] else None,
            "state_exact_match_structured": round(aware["metrics"]["state_exact_match"], 2),
            "action_exact_match_structured": round(aware["metrics"]["action_exact_match"], 2),
            "forwards_per_frame_structured": round(aware["forwards"] / max(1, aware["frames"]), 2),
        }
        figures |= {f"frames_per_s_structured_{scoring}": round(r["frames_per_s"], 2) for scoring, r, _ in structured_runs[1:]}
    for name, t in teacher:
        key = "free" if name == "free" else "structured"
        figures |= {f"next_frame_{part}_{key}": round(t[part], 2) for part in ("event", "action", "state")}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
