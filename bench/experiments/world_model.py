"""The README's results table: codewm's built-in model (trained on traces) against a model
trained for direct output prediction with the same data and compute, measured with the
evaluation harness.

    python bench/experiments/world_model.py [--model builtin] [--direct builtin:out/train/cpu-direct/checkpoint]

Benchmarks (all programs the models never saw):

- traces-synthetic-simple: 200 held-out programs of the easiest curriculum tier
  (straight-line code, at most 4 statements; seed 90001);
- traces-synthetic: the 200 held-out synthetic programs (seed 90001);
- traces-humaneval: HumanEval's canonical solutions, one call per problem (its first test
  input), 161 programs;
- cruxeval-style-o: the 347 bundled CRUXEval-style functions, answered through the trace and
  scored with CRUXEval's own rule (the assert runs in the sandbox).

Predictions are saved under out/eval/ as they finish and reused when run again (a killed
run resumes). Prints a Markdown table (each figure with its 95 % confidence interval:
Wilson's for output pass@1, a bootstrap over programs for the per-frame metrics; see
codewm.evaluate.stats) and the stop reasons of the predicted traces, then as its last line a
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS = ("state_exact_match", "action_exact_match", "output_pass@1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin", help="the trace model")
    parser.add_argument("--direct", default=f"builtin:{ROOT / 'out' / 'train' / 'cpu-direct' / 'checkpoint'}", help="the direct-output model ('' to skip)")
    parser.add_argument("--limit", action="append", default=[], metavar="[BENCH=]N", help="evaluate the first N cases (of BENCH only, when named; repeatable)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=4096, help="tokens per predicted trace (the built-in model's context is 4,096)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(ROOT / "out" / "eval"))
    args = parser.parse_args()

    from dataclasses import replace

    from codewm.evaluate.cache import PredictionCache
    from codewm.evaluate.report import write_json
    from codewm.evaluate.run import evaluate, load_benchmark
    from codewm.predict.decode import DecodeLimits
    from codewm.predict.registry import backend_options, load_predictor

    benchmarks = {
        "traces-synthetic-simple": load_benchmark("traces-synthetic-simple"),
        "traces-synthetic": load_benchmark("traces-synthetic"),
        "traces-humaneval": None,
        "cruxeval-style-o": load_benchmark("cruxeval-style-o"),
    }
    humaneval = load_benchmark("traces-humaneval")
    benchmarks["traces-humaneval"] = replace(humaneval, source={**humaneval.source, "max_calls_per_task": 1})
    models = {"trace scratchpad": args.model}
    if args.direct:
        models["direct output"] = args.direct
    limits = DecodeLimits(batch_size=args.batch_size, max_tokens=args.max_tokens)
    out = Path(args.out)
    limit_of = {}
    for item in args.limit:
        name, _, count = item.rpartition("=")
        if (name and name not in benchmarks) or not count.isdigit():
            parser.error(f"--limit {item!r}: expected N or BENCH=N with BENCH one of {', '.join(benchmarks)}")
        limit_of[name or None] = int(count)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict = {}
    rows = []
    for label, spec in models.items():
        predictor = load_predictor(spec, **backend_options(spec, device=args.device, batch_size=args.batch_size))
        for bench_name, bench in benchmarks.items():
            stem = out / f"results-{bench_name}-{'trace' if label.startswith('trace') else 'direct'}"
            cache = PredictionCache(stem.with_name(stem.name + ".predictions.jsonl"), resume=True)
            started = time.monotonic()
            try:
                result = evaluate(predictor, bench, limit=limit_of.get(bench_name, limit_of.get(None)), limits=limits, cache=cache)
            finally:
                cache.close()
            write_json(result, stem.with_suffix(".json"))
            metrics = result["metrics"]
            intervals = result.get("ci") or {}
            entry = {key: metrics.get(key) for key in METRICS}
            if bench_name == "cruxeval-style-o":
                entry["pass@1"] = metrics.get("pass@1")
            entry["ci"] = {key: [intervals[key]["low"], intervals[key]["high"]] for key in entry if key in intervals}
            entry["stops"] = result.get("stops", {})
            entry["n"] = result["n"]
            entry["seconds"] = time.monotonic() - started
            figures[f"{bench_name}/{label}"] = entry
            rows.append((bench_name, label, entry))
            print(f"{bench_name} {label}: {json.dumps(entry)}", file=sys.stderr, flush=True)

    print(f"models: trace scratchpad = {args.model}" + (f"; direct output = {args.direct}" if args.direct else ""))
    print("| benchmark | model | n | state exact match | action exact match | output pass@1 | stops |")
    print("|---|---|---|---|---|---|---|")

    def cell(entry: dict, key: str) -> str:
        if entry.get(key) is None:
            return "-"
        low_high = entry["ci"].get(key)
        return f"{entry[key]:.1f}" + (f" [{low_high[0]:.1f}, {low_high[1]:.1f}]" if low_high else "")

    for bench_name, label, entry in rows:
        output = cell(entry, "pass@1" if bench_name == "cruxeval-style-o" else "output_pass@1")
        stops = ", ".join(f"{reason} {count}" for reason, count in entry["stops"].items())
        print(f"| {bench_name} | {label} | {entry['n']} | {cell(entry, 'state_exact_match')} | {cell(entry, 'action_exact_match')} | {output} | {stops} |")
    print("\n95 % intervals in brackets: Wilson's for output pass@1, a bootstrap over programs (1,000 resamples) for the per-frame metrics.")
    sys.stdout.flush()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
