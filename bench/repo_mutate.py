"""Benchmark: mutate-and-verify tasks on real projects (issue 18, item 2), with the yield per operator.

    python bench/repo_mutate.py [--projects parse==1.22.4 boltons==26.2.0] [--max-mutants 40]
                                [--per-function 40] [--per-operator 8] [--out DIR]

Fetches each project's source distribution with pip (`pip download --no-binary :all:
--no-deps`, cached under --cache), generates its mutants (functions of cyclomatic complexity
>= 3), verifies at most --max-mutants of them (the operators taken in turn, so a small budget
still measures each one's yield) and prints, per project, the yield (kept / tried) per
operator, why the others were dropped, and the kept mutants with their failing tests. The
baseline: the seconds per mutant against one run of the whole suite (what each mutant would
cost without the test selection below).

Each mutant runs only the test files named after its module (`boltons/strutils.py` ->
`tests/test_strutils*.py`, `parse/__init__.py` -> `tests/test_parse*.py`) when there are
some, else the whole suite. pytest runs with `-o addopts=""` (parse's own addopts want
pytest-cov and doctests of its README).

Sandboxed, as `codewm repo mutate`: each run of the tests is a fresh workspace
(`codewm.repo.sandboxed_runner`). Results: DIR/NAME-VERSION.mutants.jsonl (a rerun with the
same --out resumes; each record names the runner that verified it, none: the plain subprocess
runner of earlier versions of this script). `--recheck` verifies those earlier kept mutants
again in the sandbox (DIR/NAME-VERSION.recheck.jsonl) and says how many agree. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

from codewm.repo.mutate import Mutant, apply_diff, generate_mutants, sample_mutants
from codewm.repo.project import local_project
from codewm.repo.sandboxed_runner import SandboxedSuiteRunner
from codewm.repo.verify import UNNAMED_RUNNER, read_results, verify_mutants


def fetch(spec: str, cache: Path) -> Path:
    """The unpacked source distribution of NAME==VERSION (downloaded once into `cache`)."""
    name, version = spec.split("==")
    folder = cache / f"{name}-{version}"
    if folder.is_dir():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                    "-q", "-d", str(cache), spec], check=True)
    archive = next(cache.glob(f"{name}-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")
    return folder


def run_project(spec: str, args) -> dict:
    root = fetch(spec, args.cache)
    started = time.monotonic()
    mutants = generate_mutants(root, seed=args.seed, per_function=args.per_function,
                               per_operator=args.per_operator)
    generated_s = time.monotonic() - started
    chosen = sample_mutants(mutants, args.max_mutants, seed=args.seed)
    runner = SandboxedSuiteRunner(local_project(root), timeout=args.timeout)  # -o addopts= by default
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{root.name}.mutants.jsonl"
    started = time.monotonic()
    report = verify_mutants(root, chosen, runner, out=out,
                            on_result=lambda r: print(f"  {r['status']:7} {r['operator']:18} {r['seconds']:6.1f}s "
                                                      f"{r['qualname']}: {r['reason'] or len(r['failing_tests'])}",
                                                      flush=True))
    verified_s = time.monotonic() - started
    table = report.yield_by_operator()
    print(f"\n{spec}: {len(mutants)} mutants generated in {generated_s:.1f}s, {len(report.records)} verified "
          f"in {verified_s:.0f}s, baseline {report.baseline_passed} passing tests")
    print(f"{'operator':20} {'kept':>5} {'tried':>6} {'yield':>6}  dropped")
    for op, row in table.items():
        print(f"{op:20} {row['kept']:5} {row['tried']:6} {row['kept'] / row['tried']:6.0%}  {row['dropped']}")
    for record in report.kept[: args.show]:
        failing = [f["id"] for f in record["failing_tests"]]
        print(f"  kept {record['id']} {record['file']}:{record['line']} {record['qualname']} "
              f"[{record['operator']}] {record['description']} -> {len(failing)} failing, e.g. {failing[0]}")
    runners = Counter(r.get("runner", UNNAMED_RUNNER) for r in report.records)
    print(f"verified by: {dict(sorted(runners.items()))}")
    kept = len(report.kept)
    per_mutant = sum(r["seconds"] for r in report.records) / max(1, len(report.records))
    # The baseline: the whole suite, which each mutant would run without the test selection.
    ratio = round(per_mutant / report.baseline_seconds, 2) if report.baseline_seconds else None
    if ratio is None:
        print(f"{per_mutant:.2f}s per mutant (the whole suite's time is not in this results file)")
    else:
        print(f"{per_mutant:.2f}s per mutant against {report.baseline_seconds:.2f}s for the whole suite (ratio {ratio})")
    return {"project": spec, "generated": len(mutants), "tried": len(report.records), "kept": kept,
            "yield": round(kept / max(1, len(report.records)), 3), "per_operator": table,
            "seconds_per_mutant": round(per_mutant, 2), "whole_suite_seconds": report.baseline_seconds,
            "per_mutant_vs_whole_suite": ratio, "verified_by": dict(sorted(runners.items())),
            "results": str(out)}


def recheck_project(spec: str, args) -> dict:
    """Verify again in the sandbox the kept mutants of DIR/NAME-VERSION.mutants.jsonl that
    another runner verified (records without `runner` were the subprocess runner's), into
    DIR/NAME-VERSION.recheck.jsonl (resumable too); print how many got the same verdict and
    the same failing tests."""
    root = fetch(spec, args.cache)
    _, records = read_results(args.out / f"{root.name}.mutants.jsonl")
    earlier = [r for r in records if r["status"] == "kept" and r.get("runner", UNNAMED_RUNNER) != "sandbox"]
    mutants = [Mutant(r["id"], r["file"], r["qualname"], r["operator"], r["description"], r["line"],
                      apply_diff((root / r["file"]).read_text(encoding="utf-8"), r["diff"]), r["diff"]) for r in earlier]
    out = args.out / f"{root.name}.recheck.jsonl"
    report = verify_mutants(root, mutants, SandboxedSuiteRunner(local_project(root), timeout=args.timeout), out=out)
    verdict = {r["id"]: (r["status"], r["reason"], [f["id"] for f in r["failing_tests"]]) for r in report.records}
    differ = [r["id"] for r in earlier if verdict.get(r["id"]) != (r["status"], r["reason"], [f["id"] for f in r["failing_tests"]])]
    print(f"{spec}: {len(earlier) - len(differ)} of {len(earlier)} kept mutants verified by another runner "
          f"get the same verdict and failing tests in the sandbox; differ: {differ}")
    return {"project": spec, "rechecked": len(earlier), "same": len(earlier) - len(differ), "differ": differ, "results": str(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="+", default=["parse==1.22.4", "boltons==26.2.0"])
    parser.add_argument("--max-mutants", type=int, default=40, help="mutants verified per project")
    parser.add_argument("--per-function", type=int, default=40)
    parser.add_argument("--per-operator", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per test run")
    parser.add_argument("--show", type=int, default=5, help="kept mutants printed per project")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "codewm" / "pypi-sdists")
    parser.add_argument("--out", type=Path, default=Path("bench-repo-mutate"))
    parser.add_argument("--recheck", action="store_true", help="instead: verify again in the sandbox the kept "
                        "mutants of --out's results that another runner verified")
    args = parser.parse_args()
    if args.recheck:
        print(json.dumps({"bench": "repo_mutate_recheck", "projects": [recheck_project(spec, args) for spec in args.projects]}))
        return
    results = [run_project(spec, args) for spec in args.projects]
    print(json.dumps({"bench": "repo_mutate", "projects": results}))


if __name__ == "__main__":
    main()
