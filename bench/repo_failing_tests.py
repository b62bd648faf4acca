"""Predict which tests a mutant fails, before running them, and score it (issue 18, item 5).

    python bench/repo_failing_tests.py                                  # parse, 60 mutants
    python bench/repo_failing_tests.py --project boltons --max-mutants 120 --models oracle

Reads a mutants file (`python bench/repo_mutate.py` writes one: each mutant with the tests
its verification ran and those that failed) and the project's unpacked source. Records which
test makes which call of the project's functions by running the suite once on the ORIGINAL
code with `codewm.repo.calls_plugin`, on the host (as bench/repo_traces.py does: known PyPI
projects only; a copy of the project, kept in --out). Then scores, on the same mutants, the
baselines (module, name, calls) and the call-level world model with each --models predictor
and each --scopes scope. Mutated code only ever runs in the sandbox (the oracle's harness).
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from codewm.apps.mutant_tests.baselines import SEES, CallsGuesser, NameGuesser, module_guess
from codewm.apps.mutant_tests.cases import ReachIndex, TestSourceIndex, load_mutant_cases
from codewm.apps.mutant_tests.run import score_all, table
from codewm.apps.mutant_tests.world import SCOPES, CallLevelGuesser
from codewm.apps.rank.predictions import Predictions
from codewm.predict.registry import load_predictor
from codewm.repo.traces import read_calls
from codewm.trace.sandbox import Sandbox

PROJECTS = {"parse": "parse-1.22.4", "boltons": "boltons-26.2.0"}
PYTEST_OPTIONS = {"parse": ["-o", "addopts="]}
WORLD_SEES = {"function": "each test's literal calls of the mutated function; both programs' text",
              "program": "each test's literal calls of every function whose program holds the change; both programs' text"}


def record_calls(project: str, root: Path, out: Path) -> Path:
    """The calls file of the suite on the original code (recorded once into `out`)."""
    calls = out / f"{project}.calls.jsonl"
    if calls.exists():
        return calls
    work = out / "original"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(root, work, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PYTEST_OPTIONS.get(project, []),
               "-p", "codewm.repo.calls_plugin", "--codewm-calls-out", str(calls), "--codewm-calls-root", str(work), "tests"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    if not calls.exists():
        raise SystemExit(f"the calls plugin wrote nothing:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    print(f"recorded the calls of {project}'s suite on the host in {time.perf_counter() - started:.1f}s: {done.stdout.strip().splitlines()[-1]}")
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", choices=sorted(PROJECTS), default="parse")
    parser.add_argument("--mutants", type=Path, help="the mutants file (default: where bench/repo_mutate.py writes it, bench-repo-mutate/NAME-VERSION.mutants.jsonl)")
    parser.add_argument("--root", type=Path, help="the unpacked project (default: bench/repo_mutate.py's cache, ~/.cache/codewm/pypi-sdists/NAME-VERSION)")
    parser.add_argument("--max-mutants", type=int, default=60, help="the first N mutants with a known outcome")
    parser.add_argument("--models", default="oracle,builtin", help="comma-separated codewm model names for the world model")
    parser.add_argument("--scopes", default="function,program", help=f"comma-separated, of {', '.join(SCOPES)}")
    parser.add_argument("--max-calls", type=int, default=256, help="calls predicted per mutant, for the oracle")
    parser.add_argument("--model-max-calls", type=int, default=4, help="calls predicted per mutant, for a model (each is decoded on both programs; the builtin takes seconds per context on 2 busy cores)")
    parser.add_argument("--model-scopes", default="function", help="the scopes a model (not the oracle) runs")
    parser.add_argument("--structured", action="store_true", help="structure-aware decoding (slow where the program outgrows the model)")
    parser.add_argument("--per-call-seconds", type=float, default=0.5, help="CPU seconds each call may take in the oracle's harness")
    parser.add_argument("--out", type=Path, default=Path("/tmp/codewm-bench-failing-tests"))
    args = parser.parse_args()
    folder = PROJECTS[args.project]
    mutants = args.mutants or Path("bench-repo-mutate") / f"{folder}.mutants.jsonl"
    root = (args.root or Path.home() / ".cache" / "codewm" / "pypi-sdists" / folder).resolve()
    if not mutants.is_file() or not root.is_dir():
        parser.error(f"needs a verified mutants file ({mutants}) and the unpacked project ({root}): "
                     "run `python bench/repo_mutate.py` first, or give --mutants and --root")
    args.out.mkdir(parents=True, exist_ok=True)
    cases, skipped = load_mutant_cases(mutants)
    known, known_kept = len(cases), sum(c.kept for c in cases)
    cases = cases[: args.max_mutants]
    calls = read_calls(str(record_calls(args.project, root, args.out)))
    reach = ReachIndex(calls)
    print(f"{folder}: {known} mutants with a known outcome ({known_kept} kept), left out {skipped}; "
          f"scoring the first {len(cases)}: {sum(c.kept for c in cases)} kept, {len(cases) - sum(c.kept for c in cases)} that no test catches, "
          f"{sum(len(c.tests) for c in cases)} (mutant, test) pairs, {sum(len(c.failing) for c in cases)} failing")
    guessers = {"module": (module_guess, SEES["module"]), "name": (NameGuesser(TestSourceIndex(root)), SEES["name"]),
                "calls": (CallsGuesser(reach), SEES["calls"])}
    sandbox = Sandbox(workers=2)
    worlds = []
    try:
        for model in [m for m in args.models.split(",") if m]:
            predictor = load_predictor(model, structured=args.structured or (None if model == "oracle" else False))
            scopes = args.scopes.split(",") if model == "oracle" else [s for s in args.scopes.split(",") if s in args.model_scopes.split(",")]
            for scope in scopes:
                cache = args.out / f"cache-{args.project}-{model.replace('/', '_').replace(':', '_')}-{scope}.jsonl"
                predictions = Predictions(predictor, sandbox, cache,
                                          per_test_seconds=args.per_call_seconds, direct=True)
                world = CallLevelGuesser(root, calls, predictions, scope=scope, project=args.project,
                                         max_calls=args.max_calls if model == "oracle" else args.model_max_calls)
                worlds.append(world)
                guessers[world.name] = (world, WORLD_SEES[scope] + (" (run for real)" if model == "oracle" else " (predicted)"))
        results = score_all(cases, guessers)
    finally:
        sandbox.close()
    for result, world in zip(results[3:], worlds):
        result.predictor_calls = world.predictions.calls
    print(f"\n{folder}, {len(cases)} mutants, Python {platform.python_version()}, {os.cpu_count()} CPUs (shared)")
    print(table(results))
    print("\nwhat each predictor sees:")
    for result in results:
        print(f"  {result.name:<26} {result.sees}")
    for world in worlds:
        cache = world.predictions.cache
        print(f"  {world.name}: {dict(sorted(world.stats.items()))}, answers reused from the cache: {cache.reused if cache else 0}")
    print(json.dumps({"project": folder, "mutants": len(cases), "results": [r.to_dict() for r in results],
                      "world_stats": {w.name: dict(sorted(w.stats.items())) for w in worlds}}))


if __name__ == "__main__":
    main()
