"""Benchmark: real projects' test suites in the sandboxed workspace, against the same suites
run directly on the host.

    python bench/repo_tests.py [--project parse==1.22.4 --project boltons==26.2.0] [--repeat 2] [--cache DIR]

Each project's source distribution is fetched with pip (once; kept in --cache). Then, `repeat`
times and alternating which goes first, its suite runs:

- sandboxed: `run_tests` in a `Workspace` (a private copy, bubblewrap, limits), which is
  what `codewm repo tests` does, copying the project included;
- directly: `python -m pytest` with the same options on a plain copy, on the host, with no
  sandbox (the baseline; only run it on projects you trust).

Both report through the same pytest plugin, so the counts compare test for test. The best
of the repeats is kept for each side; overhead = sandboxed seconds / direct seconds.
Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codewm.repo.project import Project, fetch_project
from codewm.repo.pytest_report import REPORT_ENV
from codewm.repo.suite import parse_report, run_tests
from codewm.repo.workspace import Workspace
from codewm.trace.sandbox import package_root

DEFAULT_PROJECTS = ("parse==1.22.4", "boltons==26.2.0")


def sandboxed(project: Project, timeout: float) -> tuple[dict, float]:
    started = time.perf_counter()
    with Workspace(project) as workspace:
        report = run_tests(workspace, timeout=timeout)
    return report.counts | {"tests": report.tests_run, "timed_out": report.timed_out}, time.perf_counter() - started


def direct(project: Project, timeout: float) -> tuple[dict, float]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codewm-bench-direct-") as folder:
        copy = Path(folder) / "project"
        shutil.copytree(project.root, copy, symlinks=True)
        report_path = Path(folder) / "tests.jsonl"
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=os.pathsep.join([str(copy / p) for p in project.python_path] + [package_root()]))
        env[REPORT_ENV] = str(report_path)
        argv = [sys.executable, "-m", "pytest", *project.pytest_options, "-p", "codewm.repo.pytest_report", "-q", "--", *project.test_paths]
        done = subprocess.run(argv, cwd=copy, env=env, capture_output=True, timeout=timeout, check=False)
        outcomes, _ = parse_report(report_path.read_bytes() if report_path.exists() else b"")
        if not outcomes:
            raise SystemExit(f"{project.name}: the direct run reported no tests:\n{done.stdout.decode()[-2000:]}")
    counts = dict.fromkeys(("passed", "failed", "error", "skipped"), 0)
    for outcome in outcomes.values():
        counts[outcome] += 1
    return counts | {"tests": len(outcomes), "timed_out": False}, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", action="append", help="NAME==VERSION to fetch (repeatable); default: parse and boltons")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side; the fastest is kept")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "codewm-bench-projects", help="where fetched projects are kept")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a suite may run")
    args = parser.parse_args()
    rows = []
    for spec in args.project or DEFAULT_PROJECTS:
        fetch_started = time.perf_counter()
        project = fetch_project(spec, args.cache)
        fetch_s = time.perf_counter() - fetch_started
        runs: dict[str, list[tuple[dict, float]]] = {"sandboxed": [], "direct": []}
        for repeat in range(args.repeat):
            order = ("sandboxed", "direct") if repeat % 2 == 0 else ("direct", "sandboxed")
            for side in order:
                runs[side].append((sandboxed if side == "sandboxed" else direct)(project, args.timeout))
        best = {side: min(results, key=lambda r: r[1]) for side, results in runs.items()}
        rows.append({
            "project": spec,
            "fetch_s": round(fetch_s, 2),
            "sandboxed": best["sandboxed"][0] | {"seconds": round(best["sandboxed"][1], 2)},
            "direct": best["direct"][0] | {"seconds": round(best["direct"][1], 2)},
            "overhead": round(best["sandboxed"][1] / best["direct"][1], 2),
            "same_counts": best["sandboxed"][0] == best["direct"][0],
        })
    print(f"repository test suites: sandboxed workspace vs. direct on the host (best of {args.repeat}), {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"  {'project':<18} {'side':<10} {'tests':>6} {'passed':>7} {'failed':>7} {'errors':>7} {'skipped':>8} {'seconds':>8}")
    for row in rows:
        for side in ("sandboxed", "direct"):
            c = row[side]
            print(f"  {row['project']:<18} {side:<10} {c['tests']:>6} {c['passed']:>7} {c['failed']:>7} {c['error']:>7} {c['skipped']:>8} {c['seconds']:>8.2f}")
        print(f"  {'':<18} overhead x{row['overhead']:.2f}, same counts: {row['same_counts']}")
    print(json.dumps({"python": platform.python_version(), "cores": os.cpu_count(), "repeat": args.repeat, "projects": rows}))


if __name__ == "__main__":
    main()
