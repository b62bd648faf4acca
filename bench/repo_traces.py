"""Benchmark: repository traces on real projects, end to end, the suites in the sandbox.

    python bench/repo_traces.py [--projects parse==1.22.4 boltons==26.2.0] [--cache DIR] [--workers 2] [--out DIR]

For each project (fetched with pip into --cache once): its pytest suite in a sandboxed
workspace without the calls plugin (the baseline), then `codewm.repo.trace_run.trace_project`,
what `codewm repo trace` runs: the suite in a fresh sandboxed workspace with the plugin, the
calls file read back as untrusted input, the program cases traced in codewm's sandbox (each
twice). Prints per project: tests run, functions seen and covered, calls recorded, episodes
kept, episodes per second, seconds per phase, the plugin's overhead (suite time with /
without, both sandboxed) and why calls were dropped. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from codewm.repo.project import resolve_project
from codewm.repo.suite import run_tests
from codewm.repo.trace_run import trace_project
from codewm.repo.workspace import Workspace

TARGETS = {"parse": 500, "boltons": 2000}


def counts_text(counts: dict) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="+", default=["parse==1.22.4", "boltons==26.2.0"])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "codewm-repo-bench")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers tracing the episodes")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds each suite may run")
    parser.add_argument("--out", type=Path, default=None, help="where each project's outputs go (default: a folder in --cache)")
    args = parser.parse_args()
    figures = []
    for spec in args.projects:
        project = resolve_project(spec, args.cache)
        with Workspace(project) as workspace:
            baseline = run_tests(workspace, timeout=args.timeout)
        out = (args.out or args.cache / "traces") / project.name
        run = trace_project(project, out, timeout=args.timeout, workers=args.workers)
        row = run.to_dict()
        name = project.name
        target = TARGETS.get(name)
        row.update(
            spec=spec, suite_seconds=round(baseline.wall_seconds, 2), plugin_overhead=round(run.suite.wall_seconds / baseline.wall_seconds, 2),
            outcomes=baseline.counts, outcomes_unchanged=baseline.outcomes == run.suite.outcomes,
            target=target, target_met=target is None or row["episodes_kept"] >= target,
        )
        figures.append(row)
        seconds = row["seconds"]
        print(f"== {spec}  ({project.root})")
        print(f"  suite, sandboxed        {baseline.tests_run} tests: {counts_text(baseline.counts)}  [{baseline.wall_seconds:.1f} s]")
        print(f"  with the calls plugin   {run.suite.tests_run} tests: {counts_text(run.suite.counts)}  [{run.suite.wall_seconds:.1f} s, x{row['plugin_overhead']} overhead]"
              f"  outcomes unchanged, test for test: {row['outcomes_unchanged']}")
        print(f"  functions seen {row['functions_seen']}, covered {row['functions_covered']}; calls recorded {row['calls_recorded']}; cases {row['candidates']}")
        print(f"  episodes kept {row['episodes_kept']} (target {target}: {'met' if row['target_met'] else 'NOT met'})")
        print(f"  seconds: {', '.join(f'{k} {v}' for k, v in seconds.items())}; {row['episodes_per_second']} episodes/s end to end,"
              f" {row['tracing_episodes_per_second']} while tracing ({args.workers} workers, {row['isolation']})")
        print(f"  episodes kept by what the call is made on: {row['kept_by_receiver']}")
        print(f"  dropped while building and tracing: {row['dropped']}")
        print(f"  calls the plugin did not keep: {row['recorded_dropped']}")
        print(f"  outputs: {out}", flush=True)
    print(json.dumps({"bench": "repo_traces", "python": sys.version.split()[0], "when": time.strftime("%Y-%m-%d"), "projects": figures}, sort_keys=True))


if __name__ == "__main__":
    main()
