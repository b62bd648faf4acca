"""The built-in model's learning curve, and how much more training each target needs.

Every built-in model shipped with the current recipe is in the repository's history (same
tokenizer, same training data; earlier recipes are left out). This script takes them out of
git, evaluates each on held-out benchmarks (the same programs for every checkpoint), fits
logit(accuracy) = a + b * ln(tokens) per metric (codewm.evaluate.scaling) and prints where each fit
crosses the issue's target, with a paired bootstrap interval over programs:

    python bench/experiments/learning_curve.py [--bench traces-synthetic-simple] [--n N] \\
        [--model builtin:DIR ...] [--tokens-per-second 4600] [--out out/curve]

Without --model the checkpoints are the shipped ones (git history of
src/codewm/model/builtin/) plus the working tree's built-in model when it is not committed
yet. Evaluations are saved as they finish (OUT/*.predictions.jsonl) and their results
(OUT/*.json) reused when the same model, benchmark and settings come again, so a second run
only fits. Prints a table per benchmark, writes OUT/curve.png, then as its last line a JSON
object with every point and projection.

A projection from a few checkpoints of a 1.1M-parameter model is an extrapolation: the
curve holds until the model's size stops it, which these points cannot show.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = "src/codewm/model/builtin"
MODEL_FILES = ("codewm.json", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

# The targets (issue 13; held out, trace scratchpad, structure-aware decoding on),
# in percent: benchmark -> metric -> target.
TARGETS = {
    "traces-synthetic-simple": {"state_exact_match": 80.0, "output_pass@1": 70.0},
    "traces-synthetic": {"state_exact_match": 40.0, "output_pass@1": 25.0},
    "cruxeval-style-o": {"pass@1": 15.0},
}


def _git(*args: str, binary: bool = False):
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True)
    return done.stdout if binary else done.stdout.decode("utf-8")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shipped_models(into: Path) -> list[Path]:
    """The built-in models of the current recipe in git history, oldest first, each written
    to `into/<commit>` (once). The recipe is the working tree's tokenizer and training data."""
    here = ROOT / BUILTIN
    tokenizer = _digest((here / "tokenizer.json").read_bytes())
    data_name = json.loads((here / "codewm.json").read_text()).get("data", {}).get("name")
    commits = _git("log", "--format=%H", "--", f"{BUILTIN}/model.safetensors").split()
    found, weights_seen = [], set()
    for commit in reversed(commits):
        try:
            meta = json.loads(_git("show", f"{commit}:{BUILTIN}/codewm.json"))
            same_tokenizer = _digest(_git("show", f"{commit}:{BUILTIN}/tokenizer.json", binary=True)) == tokenizer
        except subprocess.CalledProcessError:
            continue  # a commit from before the model had its provenance file
        if not same_tokenizer or meta.get("data", {}).get("name") != data_name:
            continue
        target = into / commit[:10]
        if not (target / "model.safetensors").exists():
            target.mkdir(parents=True, exist_ok=True)
            for name in MODEL_FILES:
                partial = target / (name + ".partial")
                partial.write_bytes(_git("show", f"{commit}:{BUILTIN}/{name}", binary=True))
                partial.replace(target / name)  # a killed run never leaves half a model
        weights_seen.add(_digest((target / "model.safetensors").read_bytes()))
        found.append(target)
    if _digest((here / "model.safetensors").read_bytes()) not in weights_seen:
        found.append(here)  # the working tree's model, not committed yet
    return found


def model_tokens(directory: Path) -> int:
    meta = json.loads((directory / "codewm.json").read_text())
    if not meta.get("tokens"):
        raise SystemExit(f"{directory}/codewm.json records no training tokens: it cannot be placed on the curve")
    return int(meta["tokens"])


def evaluate_model(directory: Path, bench_name: str, n: int | None, out: Path) -> dict:
    """The benchmark's result for the model in `directory`: read from OUT when the same run
    finished before, else evaluated (predictions saved as they finish) and written."""
    from codewm.evaluate.cache import PredictionCache
    from codewm.evaluate.report import write_json
    from codewm.evaluate.run import evaluate, load_benchmark
    from codewm.evaluate.run_name import run_stem
    from codewm.predict.decode import DecodeLimits
    from codewm.predict.registry import load_predictor

    bench = load_benchmark(bench_name)
    limits = DecodeLimits()
    spec = f"builtin:{directory}"
    fingerprint = _digest((directory / "model.safetensors").read_bytes())[:16]
    stem = run_stem(bench, f"builtin-{fingerprint}", n, limits)
    done = out / f"{stem}.json"
    if done.exists():
        return json.loads(done.read_text())
    predictor = load_predictor(spec)
    cache = PredictionCache(out / f"{stem}.predictions.jsonl")
    try:
        result = evaluate(predictor, bench, limit=n, limits=limits, cache=cache)
    finally:
        cache.close()
    result["run"] = stem
    write_json(result, done)
    return result


def per_case(result: dict, metric: str) -> list[float]:
    values = [case.get(metric) for case in result["cases"]]
    if any(value is None for value in values):
        raise SystemExit(f"{result['bench']}: some cases have no {metric!r}")
    return [float(value) for value in values]


def draw(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codewm.evaluate.scaling import LogitLine

    panels = [(bench, metric) for bench, metrics in curves.items() for metric in metrics]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (bench, metric) in zip(axes[0], panels):
        curve = curves[bench][metric]
        tokens = [p["tokens"] for p in curve["points"]]
        ax.errorbar(
            tokens,
            [p["value"] for p in curve["points"]],
            yerr=[[p["value"] - p["low"] for p in curve["points"]], [p["high"] - p["value"] for p in curve["points"]]],
            fmt="o",
            color="C0",
            capsize=3,
            label="held out, 95 % CI",
        )
        law = LogitLine(a=curve["projection"]["a"], b=curve["projection"]["b"])
        needed = curve["projection"]["tokens"]
        end = max(tokens) * 4 if not isinstance(needed, (int, float)) else min(max(needed * 1.5, max(tokens) * 2), max(tokens) * 1e3)
        xs = [min(tokens) * (end / min(tokens)) ** (i / 60) for i in range(61)]
        ax.plot(xs, [100 * law.accuracy(x) for x in xs], color="C1", label=f"fit: logit(acc) = a + {law.b:.2f} ln(tokens)")
        ax.axhline(curve["projection"]["target"] * 100, color="C2", linestyle="--", label="target")
        ax.set_xscale("log")
        ax.set_ylim(0, 100)
        ax.set_xlabel("training tokens")
        ax.set_title(f"{bench}\n{metric}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    partial = path.with_suffix(".partial.png")
    fig.savefig(partial, dpi=110)
    plt.close(fig)
    partial.replace(path)


def _fmt_tokens(value) -> str:
    if value is None:
        return "never (the curve does not rise)"
    if value == "inf":
        return "inf"
    return f"{value / 1e6:,.0f}M" if value < 1e12 else f"{value:.1e}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", action="append", choices=sorted(TARGETS), help="repeatable (default: traces-synthetic-simple)")
    parser.add_argument("--n", type=int, default=None, help="programs per benchmark (default: the benchmark's whole set: 200 held-out programs, or the 347 bundled CRUXEval-style rows)")
    parser.add_argument("--model", action="append", help="builtin:DIR or DIR of a checkpoint with codewm.json (repeatable; default: the shipped models)")
    parser.add_argument("--tokens-per-second", type=float, default=None, help="training throughput, to turn tokens into hours")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--out", default=str(ROOT / "out" / "curve"))
    args = parser.parse_args(argv)
    from codewm.evaluate.scaling import project
    from codewm.evaluate.stats import bootstrap_mean, wilson

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.model:
        models = [Path(spec.removeprefix("builtin:")) for spec in args.model]
        for directory in models:
            if not (directory / "codewm.json").exists():
                parser.error(f"--model {directory}: no codewm.json there (a codewm checkpoint directory is expected)")
    else:
        models = shipped_models(out / "models")
    tokens = [model_tokens(directory) for directory in models]
    order = sorted(range(len(models)), key=lambda i: tokens[i])
    models, tokens = [models[i] for i in order], [tokens[i] for i in order]
    if len(set(tokens)) < 2:
        parser.error(f"a curve needs checkpoints at two or more token counts; found {len(models)} at {sorted(set(tokens))}")
    print(f"checkpoints: {', '.join(f'{t / 1e6:.1f}M ({d})' for t, d in zip(tokens, models))}", file=sys.stderr)

    curves: dict = {}
    for bench in args.bench or ["traces-synthetic-simple"]:
        n = args.n
        results = []
        for directory, count in zip(models, tokens):
            print(f"{bench}: {count / 1e6:.1f}M tokens ({directory}) ...", file=sys.stderr, flush=True)
            results.append(evaluate_model(directory, bench, n, out))
        ids = [[case["id"] for case in result["cases"]] for result in results]
        if any(row != ids[0] for row in ids):
            raise SystemExit(f"{bench}: the checkpoints were not scored on the same programs")
        curves[bench] = {}
        print(f"\n{bench} (n = {len(ids[0])}, held out)")
        for metric, target in TARGETS[bench].items():
            rows = [per_case(result, metric) for result in results]
            points = []
            for count, row in zip(tokens, rows):
                # one pass or fail per program: Wilson; a per-frame average: the bootstrap
                low, high = wilson(sum(row), len(row)) if set(row) <= {0.0, 1.0} else bootstrap_mean(row)
                points.append({"tokens": count, "value": 100 * sum(row) / len(row), "low": 100 * low, "high": 100 * high})
            projection = project(tokens, rows, target / 100, resamples=args.resamples).as_dict()
            curves[bench][metric] = {"points": points, "projection": projection}
            shown = "  ".join(f"{p['tokens'] / 1e6:.1f}M: {p['value']:.1f} [{p['low']:.1f}, {p['high']:.1f}]" for p in points)
            print(f"  {metric}: {shown}")
            needed = projection["tokens"]
            line = f"    target {target:g}: "
            if projection["reached"]:
                line += "reached"
            else:
                low, high = projection["interval"]
                line += f"logit slope {projection['b']:.3f} per ln(tokens); reached at {_fmt_tokens(needed)} tokens [95 %: {_fmt_tokens(low)}, {_fmt_tokens(high)}]"
                if isinstance(needed, (int, float)):
                    line += f", {needed / tokens[-1]:,.1f}x the latest" if needed < 1e3 * tokens[-1] else f", {needed / tokens[-1]:.1e}x the latest"
                    if args.tokens_per_second:
                        more = max(0.0, needed - tokens[-1]) / args.tokens_per_second / 3600
                        line += f" ({more:,.0f} more hours at {args.tokens_per_second:,.0f} tokens/s)"
            print(line)
            if len(tokens) > 2 and not projection["reached"]:
                latest = projection["latest"]
                low, high = (100 * v for v in latest["interval"])
                print(
                    f"    the last stretch ({tokens[-2] / 1e6:.1f}M -> {tokens[-1] / 1e6:.1f}M tokens): {100 * latest['gain']:+.1f} points "
                    f"[95 %: {low:+.1f}, {high:+.1f}]; a line through those two alone "
                    + ("never reaches the target (it does not rise)" if latest["tokens"] is None else f"reaches it at {_fmt_tokens(latest['tokens'])} tokens")
                )
    draw(curves, out / "curve.png")
    print(f"wrote {out / 'curve.png'}", file=sys.stderr)
    summary = {"checkpoints": [{"dir": str(d), "tokens": t} for d, t in zip(models, tokens)], "curves": curves}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
