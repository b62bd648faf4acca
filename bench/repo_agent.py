"""Benchmark: scripted agent trajectories over kept mutants (issue 18, item 3).

    python bench/repo_agent.py [--mutants bench-repo-mutate/parse-1.22.4.mutants.jsonl]
                               [--project ~/.cache/codewm/pypi-sdists/parse-1.22.4] [--count 100]
                               [--out /tmp/repo_agent]

The mutants file is what bench/repo_mutate.py (or `codewm repo mutate`) wrote; --project is
the unmutated project it was made from. The scripted explorer works each selected mutant's
repair task in the sandbox (`codewm.apps.agent.mutant_runs`), and each trajectory is replayed
on a fresh copy with the tests run again. Prints per trajectory: steps, seconds (episode and
replay), whether its last test run had every test passing, whether the replay reached the
same files at every step; then the totals against the issue's targets (100 trajectories,
all replaying byte-identically, at least 90 % ending with every test passing). A rerun with
the same --out resumes after the trajectories already replayed. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from codewm.apps.agent.mutant_runs import run_mutant_tasks
from codewm.repo.project import local_project

TARGET_COUNT = 100
TARGET_GREEN = 0.90


def show(result: dict) -> None:
    print(f"{result['task']} {result['operator']:<18} {result['qualname']:<28.28} {result['steps']:>3} steps "
          f"{result['seconds']:7.1f} s + replay {result['replay_seconds']:6.1f} s  "
          f"green {'yes' if result['all_green'] else 'NO '}  restored {'yes' if result['restored'] else 'no '}  "
          f"replay {'same' if result['replay_identical'] else 'DIFFERS'}  {result['error'][:100]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=Path, default=Path("bench-repo-mutate/parse-1.22.4.mutants.jsonl"),
                        help="a verified mutants file (default: where bench/repo_mutate.py writes parse's)")
    parser.add_argument("--project", type=Path, default=Path.home() / ".cache" / "codewm" / "pypi-sdists" / "parse-1.22.4",
                        help="the unmutated project (default: bench/repo_mutate.py's cache)")
    parser.add_argument("--count", type=int, default=TARGET_COUNT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("/tmp/repo_agent"))
    args = parser.parse_args()
    started = time.monotonic()
    if not args.mutants.is_file() or not args.project.is_dir():
        parser.error(f"needs a verified mutants file ({args.mutants}) and the unmutated project ({args.project}): "
                     "run `python bench/repo_mutate.py --max-mutants 380` first, or give --mutants and --project")
    results = run_mutant_tasks(args.mutants, local_project(args.project), args.count, args.out,
                               seed=args.seed, max_steps=args.max_steps, on_result=show)
    n = len(results)
    green = sum(r["all_green"] for r in results)
    same = sum(r["replay_identical"] for r in results)
    restored = sum(bool(r["restored"]) for r in results)
    by_operator: dict[str, list[int]] = {}
    for r in results:
        row = by_operator.setdefault(r["operator"], [0, 0])
        row[0] += 1
        row[1] += r["all_green"]
    print(f"\n{'operator':<20} tasks  all green")
    for name, (tasks, ok) in sorted(by_operator.items()):
        print(f"{name:<20} {tasks:>5}  {ok:>5}")
    steps = sum(r["steps"] for r in results)
    seconds = sum(r["seconds"] for r in results)
    replay_seconds = sum(r["replay_seconds"] for r in results)
    print(f"\n{n} trajectories ({steps} steps, {seconds:.0f} s working, {replay_seconds:.0f} s replaying; "
          f"this run {time.monotonic() - started:.0f} s)")
    print(f"all tests passing at the end: {green}/{n} = {green / max(n, 1):.1%} (target >= {TARGET_GREEN:.0%})")
    print(f"replayed byte-identically:    {same}/{n} = {same / max(n, 1):.1%} (target 100%)")
    print(f"fixed file equals the original: {restored}/{n}")
    print(json.dumps({"trajectories": n, "target_trajectories": TARGET_COUNT, "steps": steps,
                      "seconds": round(seconds, 1), "replay_seconds": round(replay_seconds, 1),
                      "all_green": green, "all_green_rate": round(green / max(n, 1), 4),
                      "replay_identical": same, "replay_identical_rate": round(same / max(n, 1), 4),
                      "restored": restored, "by_operator": by_operator,
                      "targets_met": n >= TARGET_COUNT and same == n and green >= TARGET_GREEN * n}))


if __name__ == "__main__":
    main()
