"""Experiment: sys.settrace against sys.monitoring (Python 3.12+) for a locals-recording tracer.

    python3.12 bench/experiments/tracer_hooks.py

The question behind codewm's choice of hook: would `sys.monitoring` make recording every
line's locals faster? Both minimal recorders below do the same work per event: take the
frame's locals and repr each value. settrace hands the hook the frame; a monitoring
callback gets (code, offset) and must fetch the frame with `sys._getframe(1)`. Code that
is not the program's is skipped by both (settrace returns None at the call event;
monitoring returns DISABLE). Last line: JSON with both rates and their ratio.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for bench/tracer.py
from tracer import load_programs, prepare, timed_settrace  # noqa: E402  (bench/tracer.py)

from codewm.trace.tracer import PROGRAM_FILENAME  # noqa: E402


def settrace_hook(records: list):
    def hook(frame, event, arg, records=records):
        if frame.f_code.co_filename != PROGRAM_FILENAME:
            return None
        records.append((event, frame.f_lineno, {k: repr(v) for k, v in frame.f_locals.items()}))
        return hook

    return hook


def run_settrace(passes) -> tuple[int, float]:
    return timed_settrace(passes, settrace_hook)


def run_monitoring(passes) -> tuple[int, float]:
    mon = sys.monitoring
    tool = mon.PROFILER_ID
    events_mask = mon.events.PY_START | mon.events.LINE | mon.events.PY_RETURN
    disable = mon.DISABLE
    records: list = []
    getframe = sys._getframe

    def snapshot(code, event, line):
        if code.co_filename != PROGRAM_FILENAME:
            return disable
        frame = getframe(2)
        records.append((event, line, {k: repr(v) for k, v in frame.f_locals.items()}))
        return None

    def on_start(code, offset):
        return snapshot(code, "call", 0)

    def on_line(code, line):
        return snapshot(code, "line", line)

    def on_return(code, offset, value):
        return snapshot(code, "return", 0)

    mon.use_tool_id(tool, "codewm-bench")
    mon.register_callback(tool, mon.events.PY_START, on_start)
    mon.register_callback(tool, mon.events.LINE, on_line)
    mon.register_callback(tool, mon.events.PY_RETURN, on_return)
    events = 0
    started = time.perf_counter()
    try:
        for mains in passes:
            for main in mains:
                records.clear()
                mon.set_events(tool, events_mask)
                try:
                    main()
                finally:
                    mon.set_events(tool, 0)
                events += len(records)
    finally:
        mon.free_tool_id(tool)
    return events, time.perf_counter() - started


def main() -> None:
    if sys.version_info < (3, 12):
        raise SystemExit("sys.monitoring needs Python 3.12 or newer")
    contexts = load_programs()
    best = {}
    for name, runner in (("settrace", run_settrace), ("monitoring", run_monitoring)):
        runs = [runner(prepare(contexts, 3)) for _ in range(5)]
        events, seconds = min(runs, key=lambda run: run[1])
        best[name] = events / seconds
        print(f"  {name:<10}  {events / seconds:>12,.0f} events/s  ({events} events)")
    figures = {
        "python": platform.python_version(),
        "settrace_events_per_s": round(best["settrace"], 1),
        "monitoring_events_per_s": round(best["monitoring"], 1),
        "monitoring_speedup": round(best["monitoring"] / best["settrace"], 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
