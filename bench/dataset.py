"""Benchmark: the dataset build, end to end, against tracing the same programs in-process.

    python bench/dataset.py [--count 10000] [--workers N]

Builds a dataset of `count` synthetic programs with the local engine (programs generated and
compiled by helper processes, traced by sandboxed workers, written as jsonl.gz and Parquet)
and reports traces/s and trace tokens/s.

From the same run and the same programs it measures the in-process pipeline on one core:
generate each program, then compile, trace it into a `Trace` and write its CWM text (one
process, no sandbox, no files). That is the build's own work minus what the build adds, so
kept_ratio = (build traces/s per core) / (in-process traces/s) shows what sandboxing,
planning and writing cost; target: kept_ratio >= 0.5. Generation is timed on both sides:
it is part of an end-to-end build, and the synthetic generator costs about two thirds of
what tracing does, so leaving it out of one side only would hide or inflate the overhead.
The tracer alone (the pre-generated programs: compile, trace, write text) is reported too,
with the ratio against it (`kept_ratio_vs_tracer_alone`). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from codewm.dataset.build import build_dataset
from codewm.dataset.config import config_from_dict
from codewm.format.cwm import format_trace
from codewm.programs.synthetic import SyntheticSource
from codewm.trace.tracer import TraceOptions, trace_in_process
from codewm.types import build_context


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="synthetic programs to build")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="sandbox workers (cores used)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cores = args.workers
    limits = {"max_steps": 2000, "wall_seconds": 10.0, "cpu_seconds": 10.0}

    started = time.perf_counter()
    cases = list(SyntheticSource(count=args.count, seed=args.seed).cases())
    generate_s = time.perf_counter() - started
    options = TraceOptions(max_steps=limits["max_steps"])
    started = time.perf_counter()
    inprocess_frames = 0
    for case in cases:
        result = trace_in_process(build_context(case.source, case.call), options=options)
        format_trace(result.trace)
        inprocess_frames += len(result.trace.frames)
    trace_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="codewm-bench-") as tmp:
        config = config_from_dict(
            {
                "name": "bench",
                "shard_size": 1000,
                "limits": limits,
                "sources": [{"kind": "synthetic", "count": args.count, "seed": args.seed}],
            },
            output=Path(tmp) / "out",
        )
        started = time.perf_counter()
        summary = build_dataset(config, workers=cores, progress=False)
        build_s = time.perf_counter() - started
    manifest = summary.manifest
    records = manifest["counts"]["records"]
    tokens = sum(split["training_tokens"] for split in manifest["splits"].values())
    traces_per_s = records / build_s
    inprocess_per_s = len(cases) / (generate_s + trace_s)
    tracer_per_s = len(cases) / trace_s
    figures = {
        "python": platform.python_version(),
        "programs": len(cases),
        "records": records,
        "cores": cores,
        "isolation": summary.isolation,
        "traces_per_s": round(traces_per_s, 1),
        "tokens_per_s": round(tokens / build_s, 1),
        "frames_per_trace": round(manifest["counts"]["frames"] / max(records, 1), 1),
        "inprocess_traces_per_s": round(inprocess_per_s, 1),
        "inprocess_frames_per_trace": round(inprocess_frames / max(len(cases), 1), 1),
        "kept_ratio": round(traces_per_s / cores / inprocess_per_s, 3),
        "generate_per_s": round(len(cases) / generate_s, 1),
        "tracer_alone_traces_per_s": round(tracer_per_s, 1),
        "kept_ratio_vs_tracer_alone": round(traces_per_s / cores / tracer_per_s, 3),
        "build_s": round(build_s, 2),
        "statuses": manifest["statuses"],
    }
    print(f"dataset build benchmark: {len(cases)} synthetic programs, {cores} cores, Python {figures['python']}")
    print(f"  build (generate, sandbox {summary.isolation}, jsonl.gz + parquet)  {traces_per_s:8.1f} traces/s  {figures['tokens_per_s']:12,.0f} tokens/s  ({build_s:.2f} s)")
    print(f"  in-process, one core: generate + trace + write text      {inprocess_per_s:8.1f} traces/s")
    print(f"    of which generating alone {figures['generate_per_s']:.1f}/s, tracing alone {tracer_per_s:.1f}/s")
    print(f"  kept ratio (build per core / in-process)                  {figures['kept_ratio']:8.3f}   (target >= 0.5)")
    print(f"  kept ratio against the tracer alone                       {figures['kept_ratio_vs_tracer_alone']:8.3f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
