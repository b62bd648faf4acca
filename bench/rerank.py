"""Benchmark: speculative validation on CodeT's HumanEval pool: rank candidates by predicted
execution, run the hidden test only where it pays; against random order and against CodeT
with real execution (the oracle), in one run.

    python bench/rerank.py [MODEL ...] [--data DIR] [--problems N] [--model-problems N]
                           [--model-candidates N] [--model-tests N] [--accuracy 0.9 0.8 ...]
                           [--cache PATH] [--workers 2] [--json PATH]

MODEL: any codewm model name (builtin by default; hf:PATH, openai:URL#MODEL, ...); `none`
runs no model. The pool (`--data`, default ../shared/data/codet/) is CodeT's: 164 problems,
100 bodies each, CodeT's cuts (`codewm.apps.rank.pool`).

Rows, each on the problems it names:

- random: the candidates in random order; pass@k with the unbiased estimator, runs until the
  first correct candidate (n + 1) / (c + 1);
- most-written: the candidate written most often first (no model, no test: what any
  ranking by agreement must beat to show that executions, not popularity, carry it);
- compiles: random order among the candidates that compile, the others last (no model, no
  run: what a predictor gets for free by failing on a program that does not parse);
- codet-oracle: CodeT's dual agreement on the real results of every test on every candidate
  (the oracle predictor: every test of a candidate in one sandboxed harness process);
- behaviour-oracle: the biggest cluster of candidates with the same real values on the
  tests' calls first (MBR-exec, AlphaCode's clustering; the expected values unused);
- simulated@X: the oracle's pass/fail answers each flipped with probability 1 - X (seeded):
  what a predictor of accuracy X would give (labelled: no model made these);
- each MODEL, both ways (agreement and behaviour): the same loop on the model's predicted
  results (the trace of each call, or with
  `--direct` the call stepped over: its value without the body's frames), on the first
  `--model-problems` problems with at most `--model-candidates` candidates (the most written
  first) and `--model-tests` tests (the most written, with one call of the entry point) each,
  as the built-in model decodes a few frames a second on a CPU; random, most-written and the
  oracle (both ways) are measured again on exactly that subset, beside it.

Figures: ranked pass@1/2/10 (CodeT's estimator, `codewm.apps.rank.agreement`), pass@1's
gain over random order and over `compiles` on the same problems (paired, with a 95 %
bootstrap interval over problems: an interval that holds 0 shows no gain), real
hidden-test runs until the first correct candidate (averaged over the problems that have
one; one representative of each cluster first), predictor calls and seconds, and the
prediction's quality against real execution: accuracy and AUROC of predicted pass/fail.
Everything real and predicted is cached (`--cache`, default out/rerank/cache.jsonl), so a
killed run resumes and a rerun is cheap. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from codewm.apps.rank.agreement import behaviour_clusters, clusters, first_correct_runs, random_first_correct, ranked_pass_at_k
from codewm.apps.rank.asserts import parse_test
from codewm.apps.rank.loop import hidden_program
from codewm.apps.rank.pool import read_pool
from codewm.apps.rank.predictions import Prediction, Predictions, behaviour
from codewm.evaluate.cache import PredictionCache
from codewm.evaluate.passk import pass_at_k
from codewm.evaluate.stats import bootstrap_mean
from codewm.predict.decode import DecodeLimits
from codewm.trace.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
TESTS = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_test_case.jsonl"
TASKS = "HumanEval_for_code_generation.jsonl"
KS = (1, 2, 10)


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    positives = [s for s, y in zip(scores, labels) if y]
    negatives = [s for s, y in zip(scores, labels) if not y]
    if not positives or not negatives:
        return None
    ranked = sorted((s, y) for s, y in zip(scores, labels))
    # rank-sum (Mann-Whitney U) with average ranks for ties
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average = (i + j + 1) / 2
        rank_sum += average * sum(1 for _, y in ranked[i:j] if y)
        i = j
    n1, n0 = len(positives), len(negatives)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


def summarize(name: str, problems: list[dict], ranked_of, note: str = "") -> dict:
    """pass@k and runs of one way of ranking: `ranked_of(problem)` gives its clusters, best
    first (None: random order)."""
    per_k = {k: [] for k in KS}
    runs = []
    for p in problems:
        counts, correct = p["counts"], p["correct"]
        n = sum(counts)
        ranked = ranked_of(p)
        if ranked is None:
            c = sum(cnt for cnt, ok in zip(counts, correct) if ok)
            for k in KS:
                per_k[k].append(pass_at_k(n, c, min(k, n)))
            r = random_first_correct(correct, counts)
        else:
            for k in KS:
                per_k[k].append(ranked_pass_at_k(ranked, correct, counts, k))
            r = first_correct_runs(ranked, correct, counts)
        if r is not None:
            runs.append(r)
    row = {"name": name, "problems": len(problems), "with_correct": len(runs), "note": note}
    for k in KS:
        row[f"pass@{k}"] = round(100 * statistics.mean(per_k[k]), 1) if problems else None
    row["runs_to_first_correct"] = round(statistics.mean(runs), 2) if runs else None
    row["_pass@1"] = per_k[1]  # per problem, for the paired comparison (`versus`); not printed
    return row


def versus(row: dict, base: dict) -> dict:
    """pass@1 of `row` minus `base`'s (random order) on the same problems, in points, with a
    95 % bootstrap interval over problems (paired: each problem's difference)."""
    differences = [100 * (a - b) for a, b in zip(row["_pass@1"], base["_pass@1"], strict=True)]
    low, high = bootstrap_mean(differences)
    return {"points": round(statistics.mean(differences), 1), "ci": [round(low, 1), round(high, 1)]}


def by_agreement(matrix: str):
    """CodeT's clusters on a problem's pass matrix `matrix` ("real", or a model's)."""
    return lambda p: clusters(p[matrix], p["counts"], p["test_counts"])


def by_behaviour(signatures: str):
    """Behaviour clusters on a problem's list of candidate behaviours `signatures`."""
    return lambda p: behaviour_clusters(p[signatures], p["counts"])


def compiling(p: dict):
    """The candidates that compile in one cluster (random order among them), the rest last."""
    return behaviour_clusters([0 if ok else None for ok in p["compiles"]], p["counts"])


def compiles(program: str) -> bool:
    try:
        compile(program, "<candidate>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def most_written(p: dict):
    """Every distinct candidate its own cluster, the most written first (no model)."""
    return behaviour_clusters(list(range(len(p["counts"]))), p["counts"])


def real_matrix(problem, programs: list[str], cases, predictions: Predictions) -> dict:
    hidden = hidden_program(problem.task)
    rows = predictions.real(programs, cases, hidden)
    return {
        "task_id": problem.task.task_id,
        "counts": list(problem.candidates.values()),
        "test_counts": list(problem.tests.values()),
        "real": [[o.passed for o in row] for row, _ in rows],
        "compiles": [compiles(program) for program in programs],
        "real_behaviour": [behaviour([Prediction.real(o) for o in row], cases) for row, _ in rows],
        "correct": [held.passed for _, held in rows],
        "statuses": Counter(o.status for row, _ in rows for o in row),
    }


def simulated(p: dict, accuracy: float, seed: int) -> list[list[bool]]:
    rng = random.Random(f"{seed}:{p['task_id']}:{accuracy}")
    return [[ok if rng.random() < accuracy else not ok for ok in row] for row in p["real"]]


def subset(problem, max_candidates: int, max_tests: int):
    """The most written candidates and tests of a problem, for a model: tests with a call of
    the entry point, each calling it on an input no test before it did (a model predicts a
    value per input, so each test buys a new one)."""
    bodies = [b for b, _ in problem.candidates.most_common(max_candidates)]
    tests, calls = [], set()
    for test, _ in problem.tests.most_common():
        call = parse_test(test, problem.task.entry_point).call
        if call is not None and call not in calls and len(tests) < max_tests:
            tests.append(test)
            calls.add(call)
    return Counter({b: problem.candidates[b] for b in bodies}), Counter({t: problem.tests[t] for t in tests})


def figures(row: dict) -> dict:
    """A row's pass@k (and its gain over random order) and runs, without its name and note."""
    return {k: row[k] for k in row if k.startswith("pass@") or k == "runs_to_first_correct"}


def print_table(rows: list[dict]) -> None:
    header = f"{'ranking':<30} {'problems':>8} {'pass@1':>7} {'vs random [95% CI]':>22} {'vs compiles [95% CI]':>22} {'pass@2':>7} {'pass@10':>8} {'runs to 1st correct':>20}  note"
    print(header)
    print("-" * len(header))

    def shown(gain: dict | None) -> str:
        return f"{gain['points']:+.1f} [{gain['ci'][0]:+.1f}, {gain['ci'][1]:+.1f}]" if gain else "-"

    for r in rows:
        print(f"{r['name']:<30} {r['problems']:>8} {r['pass@1']:>7} {shown(r.get('pass@1_vs_random')):>22} {shown(r.get('pass@1_vs_compiles')):>22} "
              f"{r['pass@2']:>7} {r['pass@10']:>8} {str(r['runs_to_first_correct']):>20}  {r['note']}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["builtin"], help="world models to rank with (none: no model)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "codet")
    parser.add_argument("--problems", type=int, default=None, help="the first N problems (default: all 164)")
    parser.add_argument("--model-problems", type=int, default=10)
    parser.add_argument("--model-candidates", type=int, default=10)
    parser.add_argument("--model-tests", type=int, default=5)
    parser.add_argument("--max-frames", type=int, default=64, help="frames a model predicts per trace at most")
    parser.add_argument("--direct", action="store_true", help="models step over the call (predict the value without the body's frames)")
    parser.add_argument("--accuracy", type=float, nargs="*", default=[0.95, 0.9, 0.8, 0.7])
    # under out/, which git ignores: the cache of a whole-pool run with a model is ~100 MB
    parser.add_argument("--cache", type=Path, default=ROOT / "out" / "rerank" / "cache.jsonl", help="real and predicted results, kept across runs (default out/rerank/cache.jsonl)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    models = [m for m in args.models if m != "none"]

    pool = read_pool(args.data / SOLUTIONS, args.data / TESTS, args.data / TASKS, limit=args.problems)
    cache = PredictionCache(args.cache)
    rows: list[dict] = []
    result: dict = {"pool": str(args.data), "problems": len(pool)}
    with Sandbox(workers=args.workers) as sandbox:
        from codewm.predict.oracle import OraclePredictor

        oracle = Predictions(OraclePredictor(sandbox=sandbox), sandbox, cache)
        start = time.perf_counter()
        problems = []
        statuses: Counter = Counter()
        for number, problem in enumerate(pool, 1):
            cases = [parse_test(t, problem.task.entry_point) for t in problem.tests]
            programs = [problem.task.prompt + b for b in problem.candidates]
            problems.append(real_matrix(problem, programs, cases, oracle))
            statuses.update(problems[-1]["statuses"])
            print(f"\r[real execution] {number}/{len(pool)} problems, {time.perf_counter() - start:.0f} s", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        real_seconds = time.perf_counter() - start
        pairs = sum(len(p["real"]) * len(p["test_counts"]) for p in problems)
        result["real_execution"] = {
            "seconds": round(real_seconds, 1),
            "sandbox_runs": oracle.calls,
            "candidates": sum(len(p["counts"]) for p in problems),
            "test_runs": pairs,
            "reused_from_cache": cache.reused,
            "statuses": dict(statuses),
            "isolation": sandbox.isolation,
        }
        rows.append(summarize("random", problems, lambda p: None, "all candidates, random order"))
        rows.append(summarize("most-written", problems, most_written, "the most written candidate first (no model, no test)"))
        rows.append(summarize("compiles", problems, compiling, "random order among the candidates that compile (no model, no run)"))
        rows.append(summarize("codet-oracle", problems, by_agreement("real"), "dual agreement on real results"))
        rows.append(summarize("behaviour-oracle", problems, by_behaviour("real_behaviour"), "clusters of the same real values, biggest first"))
        for accuracy in args.accuracy:
            rows.append(summarize(f"simulated@{accuracy:g}", problems, lambda p, a=accuracy: clusters(simulated(p, a, args.seed), p["counts"], p["test_counts"]), f"oracle answers flipped w.p. {1 - accuracy:.2g} (no model)"))

        model_results, subset_rows = [], []
        if models:
            chosen = pool[: args.model_problems]
            small = []
            for problem in chosen:
                candidates, tests = subset(problem, args.model_candidates, args.model_tests)
                sub = type(problem)(problem.task, candidates, tests)
                cases = [parse_test(t, sub.task.entry_point) for t in tests]
                programs = [sub.task.prompt + b for b in candidates]
                small.append((sub, cases, programs, real_matrix(sub, programs, cases, oracle)))
            where = f"first {len(chosen)} problems, <= {args.model_candidates} candidates x {args.model_tests} tests" + ("" if args.direct else f", <= {args.max_frames} frames")
            reals = [entry[3] for entry in small]
            subset_rows.extend([
                summarize("random (subset)", reals, lambda p: None, where),
                summarize("most-written (subset)", reals, most_written, where),
                summarize("compiles (subset)", reals, compiling, where),
                summarize("codet-oracle (subset)", reals, by_agreement("real"), where),
                summarize("behaviour-oracle (subset)", reals, by_behaviour("real_behaviour"), where),
            ])
            rows.extend(subset_rows)
            from codewm.predict.registry import load_predictor

            for spec in models:
                predictor = load_predictor(spec)
                predicted = Predictions(predictor, sandbox, cache, limits=DecodeLimits(max_frames=args.max_frames, max_tokens=4096), direct=args.direct)
                matrices, behaviours, scores, labels, hits = {}, {}, [], [], 0
                for sub, cases, programs, real in small:
                    table = predicted.results(programs, cases)
                    matrices[real["task_id"]] = [[p.passed is True for p in row] for row in table]
                    behaviours[real["task_id"]] = [behaviour(row, cases) for row in table]
                    for prow, rrow in zip(table, real["real"]):
                        for p, truth in zip(prow, rrow):
                            said = p.passed is True
                            hits += said == truth
                            # the predictor's probability that the test passes
                            scores.append(0.5 if p.passed is None else (p.confidence if p.passed else 1 - p.confidence))
                            labels.append(truth)
                label = f"{spec} (direct)" if args.direct else f"{spec} (trace)"
                row = summarize(label, reals, lambda p, m=matrices: clusters(m[p["task_id"]], p["counts"], p["test_counts"]), where)
                by_values = summarize(f"{label}, behaviour", reals, lambda p, b=behaviours: behaviour_clusters(b[p["task_id"]], p["counts"]), where)
                quality = {
                    "pairs": len(labels),
                    "accuracy": round(100 * hits / len(labels), 1) if labels else None,
                    "auroc": None if auroc(scores, labels) is None else round(auroc(scores, labels), 3),
                    "real_pass_rate": round(100 * sum(labels) / len(labels), 1) if labels else None,
                    "calls": predicted.calls,
                    "seconds": round(predicted.seconds, 1),
                }
                row["note"] = f"{where}; accuracy {quality['accuracy']}%, AUROC {quality['auroc']}, {quality['calls']} traces in {quality['seconds']} s"
                rows.extend([row, by_values])
                subset_rows.extend([row, by_values])
                model_results.append((spec, quality, row, by_values))  # figures read once compared with random
    cache.close()
    named = {row["name"]: row for row in rows}
    on_subset = {id(row) for row in subset_rows}
    for row in rows:  # each against random order, and against the compiling filter, on its own problems
        suffix = " (subset)" if id(row) in on_subset else ""
        base, free = named["random" + suffix], named["compiles" + suffix]
        if row is not base:
            row["pass@1_vs_random"] = versus(row, base)
        if row is not base and row is not free and not row["name"].startswith("most-written"):
            row["pass@1_vs_compiles"] = versus(row, free)
    for row in rows:
        del row["_pass@1"]
    model_results = [{"model": spec, "direct": args.direct, **quality, **figures(row), "behaviour": figures(by_values)} for spec, quality, row, by_values in model_results]
    print_table(rows)
    re = result["real_execution"]
    print(f"\nreal execution: {re['candidates']} candidates x their tests = {re['test_runs']} test runs in {re['sandbox_runs']} sandbox runs, "
          f"{re['seconds']} s ({re['reused_from_cache']} answers from the cache); isolation {re['isolation']}")
    result["rows"] = rows
    result["models"] = model_results
    oracle_row = next(r for r in rows if r["name"] == "codet-oracle")
    random_row = rows[0]
    result["oracle_vs_random_pass@1"] = round(oracle_row["pass@1"] / random_row["pass@1"], 2) if random_row["pass@1"] else None
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
