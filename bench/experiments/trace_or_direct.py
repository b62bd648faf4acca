"""Trace first, or the answer directly? Both models on the same held-out ladder programs that
need k = 1..8 dependent steps (a loop of k iterations, a chain of k assignments), paired:
per (family, k) each model's output accuracy with its 95 % Wilson interval, the discordant
pairs b (trace right, direct wrong) and c (direct right, trace wrong), McNemar's exact test
(and mid-p, and Holm's adjustment over the table), and the difference with its Agresti-Min
interval. See codewm.evaluate.ladder for the programs, the scoring and the statistics.

    python bench/experiments/trace_or_direct.py --trace-model builtin:out/train/cpu/checkpoint \\
        --direct-model builtin:out/train/cpu-direct/checkpoint [--n 300] [--k 1-8] \\
        [--families loop,chain] [--seed 91000] [--limit-seconds 3600]

Equal compute is the caller's duty (two checkpoints trained on the same number of tokens):
the bench prints both checkpoints' `tokens` (from their codewm.json) and warns loudly when
they differ by more than 5 %, or when a model was trained for the other arm's target.

Long on CPU: predictions are saved as they finish (--out, default out/ladder/) and reused
when run again, so a killed run resumes; a progress line per round goes to stderr. With
--limit-seconds no new round starts after that time and the result covers the pairs done
("partial": true). Prints the table, writes every program's row to --out/results.json, then
as its last line a JSON object with every cell.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def parse_ks(text: str) -> list[int]:
    """"1-8", "1,3,5" or "2-4,8" -> the sorted distinct k."""
    ks: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"--k {text!r}: expected e.g. 1-8 or 1,3,5")
        ks.update(range(int(low), int(high) + 1) if dash else [int(low)])
    return sorted(ks)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace-model", required=True, help="the model trained on whole traces (builtin, builtin:DIR, hf:PATH, oracle, ...)")
    parser.add_argument("--direct-model", required=True, help="the model trained with --target direct, on the same tokens")
    parser.add_argument("--n", type=int, default=300, help="programs per (family, k) cell")
    parser.add_argument("--k", default="1-8", help="dependent steps: 1-8, 1,3,5, ... (at most 8)")
    parser.add_argument("--families", default="loop,chain")
    parser.add_argument("--seed", type=int, default=None, help="the programs' seed (default 91000: held out, no training preset uses it)")
    parser.add_argument("--limit-seconds", type=float, default=None, help="start no new round after this many seconds")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--round-size", type=int, default=None, help="programs of each cell per round (default: 4 batches over all cells)")
    parser.add_argument("--max-frames", type=int, default=64, help="frames per predicted trace, both arms (the real ones have at most 24)")
    parser.add_argument("--max-tokens", type=int, default=2048, help="tokens per predicted trace, both arms (the longest real one, loop k=8, is about 900 of the built-in tokenizer)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(ROOT / "out" / "ladder"), help="saved predictions and results.json")
    parser.add_argument("--fresh", action="store_true", help="ignore saved predictions")
    args = parser.parse_args(argv)

    from codewm.evaluate.cache import PredictionCache
    from codewm.evaluate.ladder import HELD_OUT_SEED, checkpoint_info, compute_warnings, format_table, format_variants, run_ladder, summary_json
    from codewm.predict.decode import DecodeLimits
    from codewm.predict.registry import backend_options, load_predictor

    try:
        ks = parse_ks(args.k)
    except ValueError as exc:
        parser.error(str(exc))
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    seed = HELD_OUT_SEED if args.seed is None else args.seed

    infos = {"trace": checkpoint_info(args.trace_model), "direct": checkpoint_info(args.direct_model)}
    for arm, info in infos.items():
        tokens = f"{info['tokens']:,}" if info["tokens"] is not None else "unknown"
        print(f"{arm} model: {info['spec']}: trained on {tokens} tokens (target {info['target'] or 'unknown'}, steps {info['steps'] if info['steps'] is not None else 'unknown'})", flush=True)
    warnings = compute_warnings(infos["trace"], infos["direct"])
    for warning in warnings:
        line = f"WARNING: {warning}"
        banner = "!" * min(len(line), 100)
        print(f"{banner}\n{line}\n{banner}", flush=True)
        print(line, file=sys.stderr, flush=True)

    def predictor(spec: str):
        return load_predictor(spec, **backend_options(spec, device=args.device, batch_size=args.batch_size))

    trace_predictor = predictor(args.trace_model)
    direct_predictor = trace_predictor if args.direct_model == args.trace_model else predictor(args.direct_model)
    limits = DecodeLimits(max_frames=args.max_frames, max_tokens=args.max_tokens, batch_size=args.batch_size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    with PredictionCache(out / "predictions.jsonl", resume=not args.fresh) as cache:
        try:
            result = run_ladder(trace_predictor, direct_predictor, families, ks, args.n, seed, limits, cache=cache, limit_seconds=args.limit_seconds, log=log, round_size=args.round_size)
        finally:
            for p in {id(trace_predictor): trace_predictor, id(direct_predictor): direct_predictor}.values():
                if hasattr(p, "close"):
                    p.close()
        result["reused_predictions"] = cache.reused
    result["compute"] = {"trace": infos["trace"], "direct": infos["direct"], "warnings": warnings}
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")

    print(f"models: trace = {args.trace_model}; direct = {args.direct_model}; seed {seed}; n {args.n} per cell" + (" (PARTIAL: stopped by --limit-seconds)" if result["partial"] else ""))
    for note in result["short_cells"]:
        print(f"note: {note} (fewer than --n exist)")
    print(format_table(result))
    print("b: trace right and direct wrong; c: direct right and trace wrong. p: McNemar's exact two-sided test; mid-p; Holm over the per-k rows.")
    print("best constant: always answering each cell's most frequent real output (chosen with hindsight); an arm at or below it has not shown it computes.")
    print()
    print(format_variants(result))
    for warning in warnings:
        print(f"WARNING: {warning}")
    sys.stdout.flush()
    print(json.dumps(summary_json(result)))
    return result


if __name__ == "__main__":
    main()
