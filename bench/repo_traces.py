"""Benchmark: repository traces on real projects, end to end.

    python bench/repo_traces.py [--projects parse==1.22.4 boltons==26.2.0] [--cache DIR] [--workers 2] [--python PY]

For each project: fetch its source distribution (`pip download --no-binary :all: --no-deps`,
kept in --cache), run its pytest suite twice in the same run, without the calls plugin (the
baseline) and with it (`-p codewm.repo.calls_plugin`), check that the tests' outcomes are the
same, then make the program cases and trace them in the sandbox (one fresh audited process
per call), keeping those that end ok. Prints per project: tests run, functions seen and
covered, calls recorded, episodes kept, episodes per second, the plugin's overhead
(suite time with / without) and the reasons calls were dropped. Last line: JSON.

The suites run on the host here (as the project's own `python -m pytest` would);
issue 18's workspace runs them in the sandbox instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from codewm.repo.traces import RepoTraceSource, trace_episodes

# Options a project's own configuration needs to run under a plain `python -m pytest`.
PYTEST_OPTIONS = {"parse": ["-o", "addopts="]}
TARGETS = {"parse": 500, "boltons": 2000}


def fetch(spec: str, cache: Path) -> Path:
    """The unpacked source distribution of NAME==VERSION (downloaded once into `cache`)."""
    name, _, version = spec.partition("==")
    folder = cache / f"{name}-{version}"
    if folder.is_dir():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", spec, "-d", str(cache)], check=True)
    archive = next(cache.glob(f"{name}-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")
    return folder


def run_suite(folder: Path, name: str, calls: Path | None, python: str) -> tuple[float, dict[str, int], str]:
    """(seconds, outcome counts, last line) of the project's suite, with the plugin when `calls` is set."""
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PYTEST_OPTIONS.get(name, [])]
    if calls is not None:
        command += ["-p", "codewm.repo.calls_plugin", "--codewm-calls-out", str(calls), "--codewm-calls-root", str(folder)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH")])))
    started = time.perf_counter()
    done = subprocess.run(command + ["tests"], cwd=folder, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    outcomes = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", last)}
    return seconds, outcomes, last


def source_hook(calls: Path) -> str:
    """Which hook the plugin used (from the calls file's header)."""
    with open(calls, encoding="utf-8") as handle:
        return json.loads(handle.readline()).get("hook", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="+", default=["parse==1.22.4", "boltons==26.2.0"])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "codewm-repo-bench")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers tracing the episodes")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs the suites (3.12+: the plugin's sys.monitoring hook)")
    args = parser.parse_args()
    figures = []
    for spec in args.projects:
        name = spec.partition("==")[0]
        folder = fetch(spec, args.cache)
        calls = args.cache / f"{name}.calls.jsonl"
        base_seconds, base_outcomes, base_line = run_suite(folder, name, None, args.python)
        plugin_seconds, plugin_outcomes, plugin_line = run_suite(folder, name, calls, args.python)
        source = RepoTraceSource(str(calls), str(folder), project=name, workers=args.workers)
        report = trace_episodes(source.candidates(), project=name, workers=args.workers)
        row = report.to_dict()
        row.update(
            spec=spec, suite_python=args.python, hook=source_hook(calls), suite_seconds=round(base_seconds, 2), suite_seconds_with_plugin=round(plugin_seconds, 2),
            plugin_overhead=round(plugin_seconds / base_seconds, 2), outcomes=base_outcomes,
            outcomes_with_plugin=plugin_outcomes, outcomes_unchanged=base_outcomes == plugin_outcomes,
            target=TARGETS.get(name), target_met=TARGETS.get(name) is None or len(report.kept) >= TARGETS[name],
        )
        figures.append(row)
        print(f"== {spec}  ({folder})")
        print(f"  suite        {base_line}  [{base_seconds:.1f} s]")
        print(f"  with plugin  {plugin_line}  [{plugin_seconds:.1f} s, x{row['plugin_overhead']} overhead, hook {row['hook']}]  outcomes unchanged: {row['outcomes_unchanged']}")
        print(f"  tests run {sum(report.tests.values())}; functions seen {report.functions_seen}, covered {report.functions_covered}")
        print(f"  calls recorded {report.calls_recorded}; cases {report.candidates}; episodes kept {len(report.kept)}"
              f" (target {row['target']}: {'met' if row['target_met'] else 'NOT met'})")
        print(f"  tracing {report.seconds:.1f} s, {report.episodes_per_second:.1f} episodes/s ({args.workers} workers, {report.isolation})")
        print(f"  episodes kept by what the call is made on: {row['kept_by_receiver']}")
        print(f"  dropped while building and tracing: {row['dropped']}")
        print(f"  calls the plugin did not keep: {row['recorded_dropped']}")
    print(json.dumps({"bench": "repo_traces", "python": sys.version.split()[0], "projects": figures}, sort_keys=True))


if __name__ == "__main__":
    main()
