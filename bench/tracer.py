"""Benchmark: the codewm tracer against a naive sys.settrace tracer, in one run.

    python bench/tracer.py [--repeat 3] [--workers 2]

Over the bundled CRUXEval-style functions (src/codewm/examples/cruxeval_style.jsonl, 300+
short functions over str/list/dict methods written for this project) it measures:

- codewm: in-process tracing *and* writing the full CWM text of every trace (events/s), on
  the dataset writer's path (raw steps -> text), and through `Trace` objects for reference;
- naive: `sys.settrace`, `repr` + `json.dumps` of every local at every event of the
  program's own frames (the common way public reproductions collect traces);
- untraced: the same calls without any tracer (for the slowdown of tracing);
- sandboxed: end-to-end programs/s through the sandbox (warm forking workers, all cores).

Prints a table, then as its last line a JSON object with events_per_s, naive_events_per_s,
speedup_vs_naive, sandboxed_programs_per_s and slowdown_vs_untraced.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from codewm.format.cwm import format_steps, format_trace
from codewm.trace.sandbox import Program, Sandbox
from codewm.trace.tracer import PROGRAM_FILENAME, Recorder, compile_program, trace_in_process
from codewm.types import build_context

DATA = Path(__file__).resolve().parents[1] / "src" / "codewm" / "examples" / "cruxeval_style.jsonl"


def load_programs() -> list[str]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return [build_context(row["code"], f"f({row['input']})") for row in rows]


def prepare(contexts: list[str], repeat: int) -> list[list]:
    """Compiled programs with their functions defined, fresh for each pass (outside timing:
    compiling is the same cost for every tracer, and is not tracing)."""
    compiled = [compile_program(context) for context in contexts]
    passes = []
    for _ in range(repeat):
        mains = []
        for code in compiled:
            namespace: dict = {"__name__": "__main__"}
            exec(code, namespace)
            mains.append(namespace["main"])
        passes.append(mains)
    return passes


def bench_codewm_writer(contexts: list[str], repeat: int) -> tuple[int, float, int]:
    """Trace each call and write its full CWM text: the dataset writer's path."""
    passes = prepare(contexts, repeat)
    events = chars = 0
    started = time.perf_counter()
    for mains in passes:
        for main, context in zip(mains, contexts):
            recorder = Recorder()
            recorder.run(main)
            chars += len(format_steps(recorder.steps, context))
            events += len(recorder.steps)
    return events, time.perf_counter() - started, chars


def bench_codewm_trace_objects(contexts: list[str], repeat: int) -> tuple[int, float]:
    """The same, through `Trace` objects (`trace_in_process` + `format_trace`), compile included."""
    events = 0
    started = time.perf_counter()
    for _ in range(repeat):
        for context in contexts:
            result = trace_in_process(context)
            format_trace(result.trace)
            events += len(result.trace.frames)
    return events, time.perf_counter() - started


def timed_settrace(passes: list[list], make_hook) -> tuple[int, float]:
    """Every prepared program run under `sys.settrace(make_hook(records))`, a fresh list of
    records each: (records made, seconds). bench/experiments/tracer_hooks.py uses it too."""
    events = 0
    started = time.perf_counter()
    for mains in passes:
        for main in mains:
            records: list = []
            sys.settrace(make_hook(records))
            try:
                main()
            finally:
                sys.settrace(None)
            events += len(records)
    return events, time.perf_counter() - started


def naive_hook(records: list):
    """The naive tracer: `repr` + `json.dumps` of every local at every event of the program's
    own frames. (`records` is a default argument: a fast local in the hook, as it always was.)"""

    def hook(frame, event, arg, records=records):
        if frame.f_code.co_filename != PROGRAM_FILENAME:
            return None
        state = {name: repr(value) for name, value in frame.f_locals.items()}
        records.append(json.dumps({"event": event, "line": frame.f_lineno, "locals": state, "arg": repr(arg)}))
        return hook

    return hook


def bench_naive(contexts: list[str], repeat: int) -> tuple[int, float]:
    return timed_settrace(prepare(contexts, repeat), naive_hook)


def bench_untraced(contexts: list[str], repeat: int) -> float:
    passes = prepare(contexts, repeat)
    started = time.perf_counter()
    for mains in passes:
        for main in mains:
            main()
    return time.perf_counter() - started


def bench_traced_calls(contexts: list[str], repeat: int) -> float:
    """The same calls as bench_untraced, under the codewm recorder (no formatting)."""
    passes = prepare(contexts, repeat)
    started = time.perf_counter()
    for mains in passes:
        for main in mains:
            Recorder().run(main)
    return time.perf_counter() - started


def bench_sandboxed(contexts: list[str], workers: int) -> tuple[float, str, dict]:
    with Sandbox(workers=workers) as sandbox:
        list(sandbox.map([Program(c) for c in contexts[: workers * 4]]))  # start the workers
        started = time.perf_counter()
        results = list(sandbox.map([Program(c) for c in contexts]))
        elapsed = time.perf_counter() - started
        statuses: dict[str, int] = {}
        for result in results:
            statuses[result.status] = statuses.get(result.status, 0) + 1
        return len(contexts) / elapsed, sandbox.isolation, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the functions per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the best of each side counts")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="sandbox workers")
    args = parser.parse_args()
    contexts = load_programs()
    # Warm-up pass, so that neither side pays first-call costs.
    bench_codewm_writer(contexts, 1)
    bench_naive(contexts, 1)
    # Best of a few alternating rounds: the machine is shared and noisy.
    codewm_runs, naive_runs = [], []
    for _ in range(args.rounds):
        codewm_runs.append(bench_codewm_writer(contexts, args.repeat))
        naive_runs.append(bench_naive(contexts, args.repeat))
    events, codewm_s, chars = min(codewm_runs, key=lambda run: run[1])
    naive_events, naive_s = min(naive_runs, key=lambda run: run[1])
    object_events, object_s = bench_codewm_trace_objects(contexts, args.repeat)
    untraced_s = min(bench_untraced(contexts, args.repeat) for _ in range(args.rounds))
    traced_s = min(bench_traced_calls(contexts, args.repeat) for _ in range(args.rounds))
    sandboxed_rate, isolation, statuses = bench_sandboxed(contexts, args.workers)

    events_per_s = events / codewm_s
    naive_per_s = naive_events / naive_s
    figures = {
        "python": platform.python_version(),
        "programs": len(contexts),
        "repeat": args.repeat,
        "events": events,
        "events_per_s": round(events_per_s, 1),
        "naive_events_per_s": round(naive_per_s, 1),
        "speedup_vs_naive": round(events_per_s / naive_per_s, 3),
        "cwm_chars_per_s": round(chars / codewm_s, 1),
        "trace_objects_events_per_s": round(object_events / object_s, 1),
        "tracer_implementation": Recorder().implementation,
        "sandboxed_programs_per_s": round(sandboxed_rate, 1),
        "sandbox_workers": args.workers,
        "sandbox_isolation": isolation,
        "sandbox_statuses": statuses,
        "slowdown_vs_untraced": round(codewm_s / untraced_s, 1),
        "recorder_only_slowdown_vs_untraced": round(traced_s / untraced_s, 1),
    }
    rows = [
        (f"codewm tracer + CWM text ({figures['tracer_implementation']} hook)", f"{events_per_s:,.0f} events/s"),
        ("codewm via Trace objects (compile included)", f"{figures['trace_objects_events_per_s']:,.0f} events/s"),
        ("naive settrace + repr + json.dumps", f"{naive_per_s:,.0f} events/s"),
        ("speedup vs naive", f"{figures['speedup_vs_naive']:.2f}x"),
        ("slowdown vs untraced (trace + format)", f"{figures['slowdown_vs_untraced']:.1f}x"),
        ("slowdown vs untraced (recorder only)", f"{figures['recorder_only_slowdown_vs_untraced']:.1f}x"),
        (f"sandboxed, {args.workers} workers ({isolation})", f"{sandboxed_rate:,.1f} programs/s"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"tracer benchmark: {len(contexts)} functions x {args.repeat}, Python {platform.python_version()}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
