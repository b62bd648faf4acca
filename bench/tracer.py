"""Benchmark: the codewm tracer against the plain sys.settrace tracer, in one run.

    python bench/tracer.py [--data FILE] [--repeat 3] [--workers 2]

Over CRUXEval-format functions (`--data FILE`: JSONL rows with `code` defining `f` and
`input`, as CRUXEval ships them; by default the bundled src/codewm/examples/cruxeval_style.jsonl,
300+ short functions over str/list/dict methods written for this project) it measures:

- codewm: in-process tracing *and* writing the full CWM text of every trace, on the dataset
  writer's path (raw steps -> text), and through `Trace` objects for reference;
- plain: the plain tracer public reproductions write: `sys.settrace`, on `call` and `line`
  events of the program's own frames `json.dumps({name: repr(value)})` of the locals, on
  `return` `json.dumps(repr(arg))`, nothing else (no value limit, no exception events);
- untraced: the same calls without any tracer (for the slowdown of tracing);
- sandboxed: end-to-end programs/s through the sandbox (warm forking workers, all cores).

Both sides are timed the same way: in this process, over the same programs compiled and
defined beforehand (compiling is the same for both and is not tracing), sandbox start-up
excluded. A call that raises counts as run (both sides catch it); a row that codewm stops at
its step limit (10,000 frames) is left out of every measurement and counted in `skipped`.
`speedup_vs_plain` is plain seconds / codewm seconds over the same calls (the sides record
slightly different events: codewm also writes `exception` frames). The rows where codewm
gains least are listed with `--worst N`.

Prints a table, then as its last line a JSON object with events_per_s, plain_events_per_s,
speedup_vs_plain, sandboxed_programs_per_s and slowdown_vs_untraced.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

from codewm.format.cwm import format_steps, format_trace
from codewm.trace.sandbox import Program, Sandbox
from codewm.trace.tracer import PROGRAM_FILENAME, Recorder, StepLimitReached, compile_program, trace_in_process
from codewm.types import build_context

DATA = Path(__file__).resolve().parents[1] / "src" / "codewm" / "examples" / "cruxeval_style.jsonl"


def load_programs(path: Path = DATA) -> list[str]:
    """The contexts of a CRUXEval-format JSONL file: `f(INPUT)` traced from `main`."""
    contexts = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            contexts.append(build_context(row["code"], f"f({row['input']})"))
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not a CRUXEval row with `code` and `input` ({exc})") from None
    if not contexts:
        raise SystemExit(f"{path}: no rows")
    return contexts


def traceable(contexts: list[str]) -> tuple[list[str], int]:
    """The contexts that compile and that codewm traces to the end (its step limit would cut
    its work short, not the plain tracer's), and how many were left out."""
    kept = []
    for context in contexts:
        try:
            mains = prepare([context], 1)[0]
        except Exception:  # the module itself raises or does not compile
            continue
        recorder = Recorder()
        try:
            recorder.run(mains[0])
        except StepLimitReached:
            continue
        except Exception:
            pass
        kept.append(context)
    return kept, len(contexts) - len(kept)


def call(main) -> None:
    try:
        main()
    except Exception:  # a row may raise: the trace up to the exception is the work
        pass


def settle() -> None:
    """Before a timed section: collect, then freeze what exists (the prepared programs), so
    that each side's garbage collections walk only the objects it makes itself."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


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
    settle()
    started = time.perf_counter()
    for mains in passes:
        for main, context in zip(mains, contexts):
            recorder = Recorder()
            try:
                recorder.run(main)
            except Exception:
                pass
            chars += len(format_steps(recorder.steps, context))
            events += len(recorder.steps)
    return events, time.perf_counter() - started, chars


def bench_codewm_trace_objects(contexts: list[str], repeat: int) -> tuple[int, float]:
    """The same, through `Trace` objects (`trace_in_process` + `format_trace`), compile included."""
    events = 0
    settle()
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
    settle()
    started = time.perf_counter()
    for mains in passes:
        for main in mains:
            records: list = []
            sys.settrace(make_hook(records))
            try:
                main()
            except Exception:
                pass
            finally:
                sys.settrace(None)
            events += len(records)
    return events, time.perf_counter() - started


def plain_hook(records: list):
    """The plain tracer: on `call` and `line` events of the program's own frames the JSON of
    {name: repr(value)} of the locals, on `return` the JSON of repr(return value), nothing
    else. (`records` is a default argument: a fast local in the hook.)"""
    dumps = json.dumps

    def hook(frame, event, arg, records=records, dumps=dumps):
        if frame.f_code.co_filename != PROGRAM_FILENAME:
            return None
        if event == "line" or event == "call":
            records.append(dumps({name: repr(value) for name, value in frame.f_locals.items()}))
        elif event == "return":
            records.append(dumps(repr(arg)))
        return hook

    return hook


def bench_plain(contexts: list[str], repeat: int) -> tuple[int, float]:
    return timed_settrace(prepare(contexts, repeat), plain_hook)


def bench_untraced(contexts: list[str], repeat: int) -> float:
    passes = prepare(contexts, repeat)
    settle()
    started = time.perf_counter()
    for mains in passes:
        for main in mains:
            call(main)
    return time.perf_counter() - started


def bench_traced_calls(contexts: list[str], repeat: int) -> float:
    """The same calls as bench_untraced, under the codewm recorder (no formatting)."""
    passes = prepare(contexts, repeat)
    settle()
    started = time.perf_counter()
    for mains in passes:
        for main in mains:
            call(lambda main=main: Recorder().run(main))
    return time.perf_counter() - started


def worst_rows(contexts: list[str], count: int, repeat: int) -> list[dict]:
    """The rows where codewm gains least over the plain tracer (best of 3 timings each)."""
    rows = []
    for index, context in enumerate(contexts):
        codewm_s = min(bench_codewm_writer([context], repeat)[1] for _ in range(3))
        plain_s = min(bench_plain([context], repeat)[1] for _ in range(3))
        rows.append({"row": index, "codewm_ms": round(1000 * codewm_s / repeat, 3),
                     "plain_ms": round(1000 * plain_s / repeat, 3), "speedup": round(plain_s / codewm_s, 2)})
    return sorted(rows, key=lambda row: row["speedup"])[:count]


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
    parser.add_argument("--data", type=Path, default=DATA, help="CRUXEval-format JSONL (code, input)")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the functions per measurement")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds; the best of each side counts")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="sandbox workers")
    parser.add_argument("--worst", type=int, default=0, help="also list the N rows where codewm gains least")
    args = parser.parse_args()
    contexts, skipped = traceable(load_programs(args.data))
    # Warm-up pass, so that neither side pays first-call costs.
    bench_codewm_writer(contexts, 1)
    bench_plain(contexts, 1)
    # Best of a few alternating rounds: the machine is shared and noisy.
    codewm_runs, plain_runs = [], []
    for _ in range(args.rounds):
        codewm_runs.append(bench_codewm_writer(contexts, args.repeat))
        plain_runs.append(bench_plain(contexts, args.repeat))
    events, codewm_s, chars = min(codewm_runs, key=lambda run: run[1])
    plain_events, plain_s = min(plain_runs, key=lambda run: run[1])
    object_events, object_s = bench_codewm_trace_objects(contexts, args.repeat)
    untraced_s = min(bench_untraced(contexts, args.repeat) for _ in range(args.rounds))
    traced_s = min(bench_traced_calls(contexts, args.repeat) for _ in range(args.rounds))
    sandboxed_rate, isolation, statuses = bench_sandboxed(contexts, args.workers)
    worst = worst_rows(contexts, args.worst, args.repeat) if args.worst else []

    events_per_s = events / codewm_s
    plain_per_s = plain_events / plain_s
    figures = {
        "python": platform.python_version(),
        "data": args.data.name,
        "programs": len(contexts),
        "skipped": skipped,
        "repeat": args.repeat,
        "events": events,
        "events_per_s": round(events_per_s, 1),
        "plain_events": plain_events,
        "plain_events_per_s": round(plain_per_s, 1),
        "codewm_ms_per_program": round(1000 * codewm_s / (args.repeat * len(contexts)), 4),
        "plain_ms_per_program": round(1000 * plain_s / (args.repeat * len(contexts)), 4),
        "speedup_vs_plain": round(plain_s / codewm_s, 3),
        "cwm_chars_per_s": round(chars / codewm_s, 1),
        "trace_objects_events_per_s": round(object_events / object_s, 1),
        "tracer_implementation": Recorder().implementation,
        "sandboxed_programs_per_s": round(sandboxed_rate, 1),
        "sandbox_workers": args.workers,
        "sandbox_isolation": isolation,
        "sandbox_statuses": statuses,
        "slowdown_vs_untraced": round(codewm_s / untraced_s, 1),
        "recorder_only_slowdown_vs_untraced": round(traced_s / untraced_s, 1),
        "worst_rows": worst,
    }
    rows = [
        (f"codewm tracer + CWM text ({figures['tracer_implementation']} hook)",
         f"{events_per_s:,.0f} events/s  {figures['codewm_ms_per_program']:.3f} ms/program"),
        ("codewm via Trace objects (compile included)", f"{figures['trace_objects_events_per_s']:,.0f} events/s"),
        ("plain settrace + repr + json.dumps",
         f"{plain_per_s:,.0f} events/s  {figures['plain_ms_per_program']:.3f} ms/program"),
        ("speedup vs plain (same calls, time)", f"{figures['speedup_vs_plain']:.2f}x"),
        ("slowdown vs untraced (trace + format)", f"{figures['slowdown_vs_untraced']:.1f}x"),
        ("slowdown vs untraced (recorder only)", f"{figures['recorder_only_slowdown_vs_untraced']:.1f}x"),
        (f"sandboxed, {args.workers} workers ({isolation})", f"{sandboxed_rate:,.1f} programs/s"),
    ]
    for row in worst:
        rows.append((f"  row {row['row']} (of the least gain)",
                     f"codewm {row['codewm_ms']:.3f} ms, plain {row['plain_ms']:.3f} ms, {row['speedup']:.2f}x"))
    width = max(len(name) for name, _ in rows)
    print(f"tracer benchmark: {len(contexts)} functions from {args.data.name} x {args.repeat}"
          f" ({skipped} left out), Python {platform.python_version()}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
