"""Benchmark: how long each `codewm debug` command takes, as a user at the prompt waits for it,
against the bare model call that predicting one frame costs, in one run.

    python bench/debugger.py [--model builtin] [--count 3] [--max-frames 48] [--quick] [--json PATH]

For each bundled program (the hand-written examples, then the first `--count` CRUXEval-style
functions) a scripted session runs through `DebuggerShell.onecmd`, exactly as typed commands
run, with the shell printing into a StringIO (so showing the step is part of the latency):

    start, step x4, next x2, print NAME, locals, where, list, back 2, step x2 (replays),
    until; restart, step, out; restart, break LINE, continue, back (to a frame with locals),
    set NAME = VALUE, step (after set), next, truth (the first runs the program in the
    sandbox), truth

Each command is timed with time.perf_counter around `onecmd`; the frames it predicted are
`session.predicted_frames` before and after. A motion that predicted nothing is labelled
`(replay)` (it moved over the frames already predicted); a command the shell refused (`***`,
e.g. `continue` once the prediction has ended) without asking the model is counted in its
row's `refused` column and left out of its latencies (one whose model call ended the
prediction is timed: the user waited for it). Sessions are capped at `--max-frames`
predicted frames, as `codewm debug --max-frames` caps them; a weak model rarely returns, so a
long motion (`until`, `out`, `continue`) runs to the cap, which is why the script restarts
before `out` and before `continue`. Each program gets its own sandbox, as `codewm debug` does.

The baseline, measured in the same run: every model request the session made (recorded by a
pass-through wrapper around the predictor), sent again as a bare
`predictor.next_frames([FrameRequest(...)])` in the same order (the same prefix-cache hits),
right after that program's session. For a command that called the model, its overhead ratio
is its time over the bare time of exactly the requests it made (1.0: the debugger adds
nothing); for one that did not (replays, inspection), its median is set against the median
bare frame (replays should be far below 1). A warm-up session on another program runs first
(the first model call loads and compiles).

Prints a table, then as its last line a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import ast
import functools
import io
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from codewm.debugger.session import DebugSession, Program, SessionLimits
from codewm.debugger.shell import DebuggerShell
from codewm.examples import bundled_examples, cruxeval_style
from codewm.predict.base import FrameRequest

MOTIONS = {"step", "next", "out", "continue", "until"}


class RecordingPredictor:
    """Passes every request through to the predictor, keeping the requests and the texts
    (a list append per frame: nothing a user would notice)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "model")
        self.requests: list[FrameRequest] = []
        self.texts: list[str] = []

    def next_frames(self, requests):
        results = self.inner.next_frames(requests)
        self.requests.extend(requests)
        self.texts.extend(r.text for r in results)
        return results

    def answer(self, requests):
        return self.inner.answer(requests)


@dataclass
class Timed:
    label: str
    command: str
    seconds: float
    frames: int  # frames the model predicted for this command
    requests: range  # indices into the recorder's requests
    refused: bool


@dataclass
class ProgramRun:
    name: str
    timed: list[Timed] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)  # seconds of each recorded request, replayed bare
    same: bool = True  # the bare calls wrote the frames the session got
    ended: str = ""  # how the prediction stood after `continue`
    steps: int = 0  # frames on the timeline after `continue`


# -- choosing arguments as a user would, from what is on the screen ---------------------------
def _local_name(session: DebugSession) -> str | None:
    if session.current is None:
        return None
    values, _, _ = session.visible_locals()
    return next(iter(values), None)


def _back_to_locals(session: DebugSession) -> str:
    """`back K`: to the nearest earlier frame that has locals to set (K >= 1)."""
    for k in range(1, session.position + 1):
        frame = session.steps[session.position - k].frame
        if frame.locals:
            return f"back {k}"
    return "back"


def _new_value(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "0"
    if isinstance(value, bool):
        return repr(not value)
    if isinstance(value, int):
        return repr(value + 1)
    if isinstance(value, str):
        return repr(value[::-1] + "x")
    if isinstance(value, list):
        return "[]" if value else "[0]"
    return "0"


def _set_command(session: DebugSession) -> str | None:
    step = session.current
    if step is None:
        return None
    if not step.frame.locals:
        return "set x = 0"  # a frame without locals: a new name (a return frame refuses it, as a user would see)
    name, value = next(iter(step.frame.locals.items()))
    return f"set {name} = {_new_value(value)}"


def _last_code_line(source: str) -> int:
    lines = source.splitlines()
    for number in range(len(lines), 0, -1):
        text = lines[number - 1].strip()
        if text and not text.startswith("#"):
            return number
    return 1


Script = list[tuple[str, Callable[[DebugSession], str | None]]]


def session_script(source: str) -> Script:
    fixed = lambda text: (lambda session: text)  # noqa: E731
    bp = _last_code_line(source)
    script: Script = [("step", fixed("step"))] * 4 + [("next", fixed("next"))] * 2
    script += [
        ("print", lambda s: f"print {name}" if (name := _local_name(s)) else None),
        ("locals", fixed("locals")),
        ("where", fixed("where")),
        ("list", fixed("list")),
        ("back", fixed("back 2")),
        ("step", fixed("step")),
        ("step", fixed("step")),
        ("until", fixed("until")),
        # a long motion usually runs to the frame cap: restart before each of the others
        ("restart", fixed("restart")),
        ("step", fixed("step")),
        ("out", fixed("out")),
        ("restart", fixed("restart")),
        ("break", fixed(f"break {bp}")),
        ("continue", fixed("continue")),
        ("back", _back_to_locals),
        ("set", _set_command),
        ("step (after set)", fixed("step")),
        ("next", fixed("next")),
        ("truth (first: runs the program)", fixed("truth")),
        ("truth", fixed("truth")),
    ]
    return script


def run_session(example, predictor, max_frames: int, sandbox_factory) -> tuple[ProgramRun, RecordingPredictor]:
    recorder = RecordingPredictor(predictor)
    program = Program.function(example.source, example.call, f"{example.name}.py")
    run = ProgramRun(example.name)
    with sandbox_factory() as sandbox:
        session = DebugSession(program, recorder, SessionLimits(max_frames=max_frames), sandbox=sandbox)
        out = io.StringIO()
        shell = DebuggerShell(session, stdout=out)

        def timed(label: str, command: str, action: Callable[[], object]) -> None:
            frames, requests, mark = session.predicted_frames, len(recorder.requests), out.tell()
            started = time.perf_counter()
            action()
            seconds = time.perf_counter() - started
            printed = out.getvalue()[mark:]
            made = session.predicted_frames - frames
            # refused: the shell said why not (`***`) without asking the model; a command whose
            # model call ended the prediction (`*** the prediction cannot go further`) did the work
            refused = made == 0 and any(line.startswith("***") for line in printed.splitlines())
            word = command.split()[0]
            if word in MOTIONS and made == 0 and not refused:
                label = f"{label.split(' (')[0]} (replay)"
            run.timed.append(Timed(label, command, seconds, made, range(requests, len(recorder.requests)), refused))

        def start() -> None:  # what `codewm debug` does before the first prompt (DebuggerShell.run)
            motion = session.start()
            shell.say(shell.banner())
            shell.report_motion(motion)

        timed("start", "start", start)
        for label, make in session_script(example.source):
            command = make(session)
            if command is None:
                continue
            timed(label, command, functools.partial(shell.onecmd, command))
            if label == "continue":
                run.ended = "complete" if session.ended == "complete" else (session.ended or "breakpoint")
                run.steps = len(session.steps)
    return run, recorder


def replay_bare(run: ProgramRun, predictor, recorder: RecordingPredictor, settle: FrameRequest) -> None:
    """The baseline: the session's model requests again, bare, in the same order.

    First, untimed, one frame of another program (`settle`): the session began with the
    prefix cache holding another program's prompt, and this also lets the sandbox the session
    just closed finish exiting (its teardown would otherwise land on the first bare call)."""
    predictor.next_frames([settle])
    for request, text in zip(recorder.requests, recorder.texts):
        bare = FrameRequest(request.context, request.frames_text, request.max_tokens, logprobs=request.logprobs, prefix=request.prefix)
        started = time.perf_counter()
        [result] = predictor.next_frames([bare])
        run.bare.append(time.perf_counter() - started)
        run.same = run.same and result.text == text


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def short_end(ended: str) -> str:
    if ended in ("complete", "breakpoint"):
        return ended
    for key, short in (("limit of", "frame cap"), ("does not read", "unreadable frame"), ("without finishing", "runaway frame"), ("ended the trace", "model ended")):
        if key in ended:
            return short
    return ended[:24]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin", help="builtin (default), builtin:DIR, hf:PATH, oracle, ...")
    parser.add_argument("--count", type=int, default=3, help="CRUXEval-style programs after the hand-written examples")
    parser.add_argument("--max-frames", type=int, default=48, help="frames a session may predict (codewm debug --max-frames)")
    parser.add_argument("--repeat", type=int, default=1, help="run every program's session (and its baseline) this many times")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 programs, 24 frames at most")
    parser.add_argument("--json", metavar="PATH", help="also write the JSON figures to PATH")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu (the figure to report), cuda, ...")
    args = parser.parse_args()
    if args.count < 0 or args.max_frames < 1 or args.repeat < 1:
        parser.error("--count must be 0 or more, --max-frames and --repeat at least 1")

    import torch

    from codewm.predict.registry import backend_options, load_predictor
    from codewm.trace.sandbox import Sandbox, SandboxLimits

    if args.threads:
        torch.set_num_threads(args.threads)
    examples = bundled_examples(args.count)
    max_frames = args.max_frames
    if args.quick:
        examples = [examples[0]] + ([e for e in examples if e.name.startswith("crux")][:1] or examples[1:2])
        max_frames = min(max_frames, 24)
    warmup = cruxeval_style(args.count + 1)[-1]  # a program the timed sessions do not use

    def sandbox_factory():  # what `codewm debug` makes (its default limits)
        return Sandbox(limits=SandboxLimits(wall_seconds=10.0, cpu_seconds=10.0, max_steps=10_000, max_value_chars=400))

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    predictor = load_predictor(args.model, **backend_options(args.model, device=args.device))
    load_s = time.perf_counter() - started
    try:
        started = time.perf_counter()
        run_session(warmup, predictor, min(max_frames, 12), sandbox_factory)
        settle = FrameRequest(Program.function(warmup.source, warmup.call).context, "", 512, logprobs=True)
        warmup_s = time.perf_counter() - started
        runs: list[ProgramRun] = []
        for repeat in range(args.repeat):
            for example in examples:
                print(f"  {example.name}{f' (repeat {repeat + 1})' if args.repeat > 1 else ''} ...", file=sys.stderr, flush=True)
                run, recorder = run_session(example, predictor, max_frames, sandbox_factory)
                replay_bare(run, predictor, recorder, settle)
                runs.append(run)
    finally:
        close = getattr(predictor, "close", None)
        if close is not None:
            close()

    # -- figures ----------------------------------------------------------------------------
    bare_all = [s for r in runs for s in r.bare]
    bare_median = statistics.median(bare_all) if bare_all else None
    rows: dict[str, dict] = {}
    order: list[str] = []
    for run in runs:
        for t in run.timed:
            if t.label not in rows:
                rows[t.label] = {"ok": [], "refused": 0, "frames": 0, "bare": 0.0, "model_s": 0.0}
                order.append(t.label)
            row = rows[t.label]
            if t.refused:
                row["refused"] += 1
                continue
            row["ok"].append(t.seconds)
            row["frames"] += t.frames
            if t.frames:
                row["model_s"] += t.seconds
                row["bare"] += sum(run.bare[i] for i in t.requests)
    figures_commands: dict[str, dict] = {}
    for label in order:
        row = rows[label]
        ok = row["ok"]
        entry = {"count": len(ok) + row["refused"], "refused": row["refused"]}
        if ok:
            entry |= {
                "median_ms": round(1000 * statistics.median(ok), 3),
                "p90_ms": round(1000 * percentile(ok, 0.9), 3),
                "frames_per_call": round(row["frames"] / len(ok), 2),
            }
            if row["frames"]:
                entry["ms_per_frame"] = round(1000 * row["model_s"] / row["frames"], 3)
                entry["bare_ms_per_frame"] = round(1000 * row["bare"] / row["frames"], 3)
                entry["overhead_ratio"] = round(row["model_s"] / row["bare"], 3) if row["bare"] else None
            elif bare_median:
                entry["vs_bare_frame"] = round(statistics.median(ok) / bare_median, 4)
        figures_commands[label] = entry

    model_s = sum(r["model_s"] for r in rows.values())
    model_bare = sum(r["bare"] for r in rows.values())
    frames_total = sum(r["frames"] for r in rows.values())
    lm = getattr(predictor, "lm", None)
    params = sum(p.numel() for p in lm.model.parameters()) if lm is not None and hasattr(lm, "model") else None
    device = getattr(lm, "device", None) or ("cpu (runs the code)" if args.model == "oracle" else args.device)

    print(f"model: {args.model}" + (f" ({params:,} parameters)" if params else "") + f", device {device}, loaded in {load_s:.1f} s, warm-up session {warmup_s:.1f} s")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after), "
          f"torch threads {torch.get_num_threads()}, Python {platform.python_version()}, torch {torch.__version__}")
    print(f"{len(examples)} programs{f' x {args.repeat}' if args.repeat > 1 else ''}, a scripted session each through DebuggerShell.onecmd (output to a StringIO), at most {max_frames} predicted frames per session")
    print()
    print(f"{'program':<18}{'frames predicted':>17}{'timeline after continue':>25}  {'prediction after continue':<26}{'bare calls':>11}")
    for run in runs:
        predicted = sum(t.frames for t in run.timed)
        print(f"{run.name[:17]:<18}{predicted:>17}{run.steps:>25}  {short_end(run.ended):<26}{len(run.bare):>11}")
    print()
    if bare_median is not None:
        print(f"baseline: bare predictor.next_frames, one frame, same requests in the same order: median {1000 * bare_median:.2f} ms, "
              f"p90 {1000 * percentile(bare_all, 0.9):.2f} ms, mean {1000 * statistics.mean(bare_all):.2f} ms over {len(bare_all)} frames")
    print(f"{'command':<34}{'calls':>6}{'refused':>8}{'median ms':>11}{'p90 ms':>9}{'frames/call':>12}{'ms/frame':>10}{'bare ms/fr':>11}{'overhead':>10}{'x bare frame':>13}")
    for label in order:
        e = figures_commands[label]
        line = f"{label[:33]:<34}{e['count']:>6}{e['refused']:>8}"
        if "median_ms" in e:
            line += f"{e['median_ms']:>11.2f}{e['p90_ms']:>9.2f}{e['frames_per_call']:>12.2f}"
            if "ms_per_frame" in e:
                ratio = f"{e['overhead_ratio']:.3f}x" if e.get("overhead_ratio") is not None else "-"
                line += f"{e['ms_per_frame']:>10.2f}{e['bare_ms_per_frame']:>11.2f}{ratio:>10}{'':>13}"
            else:
                ratio = f"{e['vs_bare_frame']:.4f}" if "vs_bare_frame" in e else "-"
                line += f"{'-':>10}{'-':>11}{'-':>10}{ratio:>13}"
        print(line)
    print("overhead: the command's time over the bare calls for the same frames; x bare frame: the median over the median bare frame")
    same = all(r.same for r in runs)
    overall = model_s / model_bare if model_bare else None
    if overall is not None:
        print(f"all model-calling commands: {frames_total} frames, {1000 * model_s / frames_total:.1f} ms per frame against {1000 * model_bare / frames_total:.1f} ms bare "
              f"(overhead {overall:.3f}x); the bare calls wrote the same frames: {same}")

    def pick(label: str, key: str):
        return figures_commands.get(label, {}).get(key)

    figures = {
        "model": args.model,
        "device": str(device),
        "parameters": params,
        "torch_threads": torch.get_num_threads(),
        "load_average_before": round(load_before, 2),
        "programs": len(examples),
        "repeat": args.repeat,
        "max_frames": max_frames,
        "load_s": round(load_s, 2),
        "warmup_s": round(warmup_s, 2),
        "bare_frames": len(bare_all),
        "bare_ms_per_frame_median": round(1000 * bare_median, 3) if bare_median is not None else None,
        "bare_ms_per_frame_p90": round(1000 * percentile(bare_all, 0.9), 3) if bare_all else None,
        "model_frames": frames_total,
        "overhead_ratio_all": round(overall, 3) if overall is not None else None,
        "step_overhead_ratio": pick("step", "overhead_ratio"),
        "step_median_ms": pick("step", "median_ms"),
        "step_replay_vs_bare_frame": pick("step (replay)", "vs_bare_frame"),
        "back_vs_bare_frame": pick("back", "vs_bare_frame"),
        "truth_first_median_ms": pick("truth (first: runs the program)", "median_ms"),
        "same_frames": same,
        "commands": figures_commands,
        "sessions": [{"program": r.name, "frames": sum(t.frames for t in r.timed), "after_continue": short_end(r.ended)} for r in runs[: len(examples)]],
    }
    line = json.dumps(figures)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(line + "\n")
    sys.stdout.flush()
    print(line)


if __name__ == "__main__":
    main()
