"""The trace-or-direct question, asked properly: does writing the whole trace first (CWM's
scratchpad) give better outputs than answering directly, as a function of how many dependent
steps a program needs?

    programs = ladder_cell("loop", k=5, n=300)            # 300 distinct held-out programs
    result = run_ladder(trace_predictor, direct_predictor, families=("loop", "chain"), ks=range(1, 9), n=300)
    print(format_table(result))

**The ladder.** Programs that need exactly k dependent steps, k = 1..8, in two families:

- `loop`: one loop whose body runs exactly k times, each iteration reading what the one before
  wrote. Variants: an int accumulator (`acc = (acc * a + i) % m`, `(acc + a * i) % m`,
  `(acc * acc + a) % m` over `range(k)`), a fold over a list of k digits
  (`acc = (acc * a + x) % m`), a list built from its own last element
  (`out.append((out[-1] * a + x) % m)`), and a string rebuilt from its previous value
  (`s = c + s[::-1]`, `s = (s + c)[::-1]`) over a string of k letters.
- `chain`: k straight-line assignments `x1 = ...`, `x2 = ...`, ... `xk = ...`, each using the
  one before it (and sometimes an older one): `x2 = x1 * 2 - x0`, `x3 = (x2 + x1) % 7`, ...

Every program is a function `f` called on literal arguments (the `main` wrapper of
`build_context`, as every function-level trace). Program `index` of `(family, k, seed)` is
made by its own `random.Random("codewm-ladder/{family}/{k}/{seed}/{index}")` (string seeds are
hashed with SHA-512), so it is the same in every process. A cell (`ladder_cell`) takes the
first n *distinct* programs of indices 0, 1, 2, ... (small k has few distinct programs: a
cell holds fewer than n when the space runs out, and says so). Values stay small (mod, small
ints, strings of at most a dozen letters), so a whole trace is a few dozen frames.

The default seed, `HELD_OUT_SEED` = 91000, is used by no training preset (they use 7 and 0)
nor by the traces-synthetic benchmark (90001); the ladder's shapes are not the synthetic
generator's either.

**The reference.** The expected output is never computed here: each program is run in the
sandbox (`codewm.trace.sandbox`, the tracer the evaluation uses) and its real trace is the
reference. `step_count` checks on the real trace that the program took exactly k steps (the
loop's body line ran k times; k assignment lines of `f` ran), and `run_ladder` refuses a
program that does not.

**Paired scoring.** Both models see the same programs and are decoded the same way
(`codewm.predict.decode.predict_traces`, the same `DecodeLimits`): the trace model writes the
whole trace, the direct model (trained with `--target direct`, see
`codewm.model.data.direct_text`) only `main`'s call, line and return. An answer is right when
the outcome of the predicted trace (its entry point's return value, or the exception it
raised) equals the real one: `output_pass@1` of `codewm.evaluate.trace_metrics.score_trace`,
exactly as the traces-synthetic benchmark scores it.

**Statistics, per cell (family, k) and per family over all k.** n pairs; each arm's accuracy
with its 95 % Wilson interval; the discordant counts b (trace right, direct wrong) and c
(direct right, trace wrong); McNemar's exact test (conditional on b + c discordant pairs,
b ~ Binomial(b + c, 1/2) under "no difference"; two-sided p = min(1, 2 P(X <= min(b, c))),
computed with `math.comb`); its mid-p version (the exact p less one point probability
P(X = min(b, c)), less conservative, recommended by Fagerland et al. 2013); the accuracy
difference trace - direct with the Agresti-Min 95 % interval for paired proportions (0.5 added
to each cell of the 2x2 table, then the Wald interval); and, across all the per-k cells of the
table, Holm's adjustment of the exact p-values (16 tests are 16 chances of a false alarm).
Beside the two arms, `constant_guess`: the accuracy of always answering each cell's most
frequent real output (chosen with hindsight). Outputs of `% m` accumulators take few values,
so an arm that does not clear this floor has not shown that it computes at all.
For the trace arm, how far it carried the computation: how often it wrote as many frames as
the real run (`frames_exact`: a loop iterated the wrong number of times fails there), the
share of the k steps it carried out before its first wrong frame (`steps_right`; a step
counts when the state it leaves is right), and how often all k (`all_steps_right`).

**Equal compute** is the caller's duty: two checkpoints trained on the same tokens.
`checkpoint_info` reads a checkpoint's `codewm.json` (`tokens`, `target`, `steps`) and
`compute_warnings` says when the token counts differ by more than 5 %, when one is unknown,
or when a model's training target is not its arm's.

The programs are made in `codewm.evaluate.ladder_programs`, the statistics computed in
`codewm.evaluate.paired_stats`; this module runs the ladder and reports it (and every name
of the three is importable from here, as before they were split).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Sequence

from codewm.evaluate.ladder_programs import (
    FAMILIES,
    HELD_OUT_SEED,
    MAX_K,
    LadderError,
    LadderProgram,
    LadderSource,
    check_family_k,
    ladder_cell,
    ladder_program,
    step_count,
    step_positions,
)
from codewm.evaluate.paired_stats import LEVEL, holm, mcnemar_exact, mcnemar_midp, paired_difference_ci, summarize, wilson_interval
from codewm.types import Trace

ARMS = ("trace", "direct")
TOKEN_TOLERANCE = 0.05  # equal compute: token counts may differ by this fraction at most


# -- running ----------------------------------------------------------------------------------
def _identity(predictor) -> str:
    return str(getattr(predictor, "fingerprint", None) or getattr(predictor, "name", type(predictor).__name__))


def real_traces(programs: Sequence[LadderProgram], sandbox=None, batch_size: int = 32) -> list:
    """Each program run in the sandbox (`RunResult`s, in order). Ladder programs are codewm's
    own, so up to `batch_size` share a sandbox process (`Sandbox.run_batch`)."""
    from codewm.trace.sandbox import Program, Sandbox

    own = sandbox is None
    sandbox = sandbox or Sandbox(workers=1)
    try:
        return list(sandbox.map([Program.function(p.source, p.call) for p in programs], batch_size=batch_size))
    finally:
        if own:
            sandbox.close()


def _predict(predictor, contexts: Sequence[str], limits, cache) -> list[dict]:
    """The predicted trace of each context, as {"text", "stop", "error", "tokens"}: saved ones
    from `cache` (keyed like `codewm.evaluate.run`: model, context, limits), the rest decoded
    and saved as each finishes."""
    from codewm.evaluate.cache import prediction_key
    from codewm.predict.decode import predict_traces

    identity = _identity(predictor)
    budget = (limits.max_frames, limits.max_frame_tokens, limits.max_tokens, limits.rules)
    keys = [prediction_key(identity, "trace", context, budget) for context in contexts]
    out: list[dict | None] = [cache.get(key) if cache is not None else None for key in keys]
    todo = [i for i, item in enumerate(out) if item is None]

    def save(position: int, item) -> None:
        value = {"text": item.text, "stop": item.stop, "error": item.error, "tokens": item.tokens}
        out[todo[position]] = value
        if cache is not None:
            cache.put(keys[todo[position]], value)

    if todo:
        predict_traces(predictor, [contexts[i] for i in todo], limits, on_finish=save)
    return out  # type: ignore[return-value]


def _judge(saved: dict, real: Trace, steps: Sequence[int]) -> dict:
    """One arm's answer on one program. `steps` are the real trace's step positions
    (`step_positions`): "steps_right" counts the dependent steps the prediction carried out
    before its first wrong frame (a step counts when the frame after it, the state it leaves,
    is still right), so a trace that gets step 1 right and step 2 wrong scores 1. A direct
    answer writes no steps and scores 0."""
    from codewm.evaluate.trace_metrics import score_trace
    from codewm.format.cwm import parse_trace

    score = score_trace(saved["text"], real)
    predicted = parse_trace(saved["text"], real.context).trace
    divergence = score.first_divergence
    return {
        "right": score.output_pass_at_1 == 1.0,
        "output": predicted.output,
        "stop": saved["stop"],
        "frames": score.n_predicted_frames,
        "tokens": saved["tokens"],
        "steps_right": sum(1 for j in steps if divergence is None or j + 1 < divergence),
    }


def run_ladder(
    trace_predictor,
    direct_predictor,
    families: Sequence[str] = FAMILIES,
    ks: Iterable[int] = range(1, MAX_K + 1),
    n: int = 300,
    seed: int = HELD_OUT_SEED,
    limits=None,
    *,
    cache=None,
    sandbox=None,
    limit_seconds: float | None = None,
    log: Callable[[str], None] | None = None,
    round_size: int | None = None,
) -> dict:
    """Both models on the same ladder programs, paired (see the module docstring).

    Work goes in rounds that take the next few programs of every cell (so a run stopped by
    `limit_seconds` has every cell about equally far): the round's programs are run in the
    sandbox, then predicted by the trace model and by the direct model. No round starts after
    `limit_seconds`; the result then covers the pairs finished (`"partial": true`). With a
    `cache` (`codewm.evaluate.cache.PredictionCache`) every prediction is saved as it
    finishes and reused by the next run. `log` gets one progress line per round.

    Returns {"settings", "cells": [...], "families": {family: overall}, "partial", "rows",
    "left_out", "seconds"}; each cell has family, k and the figures of `summarize`, plus the
    mean generated tokens of each arm and the Holm-adjusted exact p-value.
    """
    from codewm.predict.decode import DecodeLimits
    from codewm.trace.sandbox import Sandbox

    limits = limits or DecodeLimits(max_frames=64, max_tokens=2048, batch_size=16)
    ks = sorted(set(ks))
    for family in families:
        for k in ks:
            check_family_k(family, k)
    if n < 1:
        raise LadderError(f"n must be >= 1, got {n}")
    started = time.monotonic()
    cells = {(family, k): ladder_cell(family, k, n, seed) for family in families for k in ks}
    step = round_size or max(1, math.ceil(4 * limits.batch_size / max(1, len(cells))))
    rows: list[dict] = []
    left_out: dict[str, int] = {}
    partial = False
    total = sum(len(p) for p in cells.values())
    longest = max(len(p) for p in cells.values())
    own_sandbox = sandbox is None
    sandbox = sandbox or Sandbox(workers=1)
    try:
        for start in range(0, longest, step):
            if limit_seconds is not None and time.monotonic() - started >= limit_seconds:
                partial = True
                break
            batch = [p for programs in cells.values() for p in programs[start : start + step]]
            rows.extend(_round(batch, trace_predictor, direct_predictor, limits, cache, sandbox, left_out))
            if log is not None:
                done = len(rows)
                t = sum(r["trace"]["right"] for r in rows)
                d = sum(r["direct"]["right"] for r in rows)
                log(f"[{time.monotonic() - started:7.0f}s] {done}/{total} pairs; so far trace {100 * t / max(done, 1):.1f}% right, direct {100 * d / max(done, 1):.1f}%")
    finally:
        if own_sandbox:
            sandbox.close()
    return _report(rows, families, ks, n, seed, limits, cells, partial, left_out, time.monotonic() - started, trace_predictor, direct_predictor)


def _round(batch, trace_predictor, direct_predictor, limits, cache, sandbox, left_out: dict) -> list[dict]:
    """One round: the programs run in the sandbox, then predicted by both models; the rows."""
    kept: list[tuple[LadderProgram, Trace, list[int]]] = []  # each with its real step positions
    for program, result in zip(batch, real_traces(batch, sandbox)):
        if result.status not in ("ok", "exception") or not result.trace.complete:
            left_out[f"status:{result.status}"] = left_out.get(f"status:{result.status}", 0) + 1
            continue
        steps = step_positions(program, result.trace)
        if len(steps) != program.k:
            raise LadderError(f"{program.id}: the real run took {len(steps)} dependent steps, not {program.k}:\n{program.source}{program.call}")
        kept.append((program, result.trace, steps))
    contexts = [trace.context for _, trace, _ in kept]
    judged = {}
    for arm, predictor in (("trace", trace_predictor), ("direct", direct_predictor)):
        judged[arm] = [
            _judge(saved, trace, steps) for saved, (_, trace, steps) in zip(_predict(predictor, contexts, limits, cache), kept)
        ]
    return [
        {
            "id": program.id,
            "family": program.family,
            "k": program.k,
            "variant": program.variant,
            "real_frames": len(trace.frames),
            "real_output": trace.output,
            "trace": judged["trace"][i],
            "direct": judged["direct"][i],
        }
        for i, (program, trace, _) in enumerate(kept)
    ]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def constant_guess(rows: Sequence[dict]) -> dict:
    """The floor a model must clear to show it computes anything: per (family, k) cell, always
    answering the cell's most frequent real output. The answer is chosen with hindsight, so
    this is an upper bound on what any fixed answer per cell scores; a model at or below it
    may be guessing from the program's shape (an accumulator `% 7` has 7 possible outputs).
    {"right", "accuracy", "ci"} (percent, 95 % Wilson) over `rows`, summed over their cells."""
    cells: dict[tuple, Counter] = {}
    for row in rows:
        cells.setdefault((row["family"], row["k"]), Counter())[row["real_output"]] += 1
    right = sum(max(counts.values()) for counts in cells.values())
    n = len(rows)
    low, high = wilson_interval(right, n)
    return {"right": right, "accuracy": 100.0 * right / n if n else 0.0, "ci": [round(100 * low, 2), round(100 * high, 2)]}


def _figures(rows: Sequence[dict]) -> dict:
    out = summarize([(r["trace"]["right"], r["direct"]["right"]) for r in rows])
    out["constant"] = constant_guess(rows)
    for arm in ARMS:
        out[arm]["tokens_mean"] = round(_mean([r[arm]["tokens"] for r in rows]), 2)
        out[arm]["frames_mean"] = round(_mean([r[arm]["frames"] for r in rows]), 2)
    out["real_frames_mean"] = round(_mean([r["real_frames"] for r in rows]), 2)
    # Did the trace arm take the program's path (as many frames as the real run)? A loop
    # iterated the wrong number of times fails here whatever its values.
    out["trace"]["frames_exact"] = round(100 * _mean([r["trace"]["frames"] == r["real_frames"] for r in rows]), 2)
    # How far the trace arm carries the computation: the share of the k steps it got right
    # before its first wrong frame, and how often it got all k.
    out["trace"]["steps_right"] = round(100 * _mean([r["trace"]["steps_right"] / r["k"] for r in rows]), 2)
    out["trace"]["all_steps_right"] = round(100 * _mean([r["trace"]["steps_right"] == r["k"] for r in rows]), 2)
    return out


def _report(rows, families, ks, n, seed, limits, cells, partial, left_out, seconds, trace_predictor, direct_predictor) -> dict:
    table = []
    for family in families:
        for k in ks:
            members = [r for r in rows if r["family"] == family and r["k"] == k]
            table.append({"family": family, "k": k, "programs": len(cells[(family, k)]), **_figures(members)})
    for cell, adjusted in zip(table, holm([cell["p_exact"] for cell in table])):
        cell["p_holm"] = adjusted
    overall = {family: {"family": family, "k": "all", **_figures([r for r in rows if r["family"] == family])} for family in families}
    short = [f"{cell['family']}/k{cell['k']}: {cell['programs']} distinct programs" for cell in table if cell["programs"] < n]
    variants = [
        {"family": family, "variant": variant, **_figures([r for r in rows if r["family"] == family and r["variant"] == variant])}
        for family in families
        for variant in sorted({r["variant"] for r in rows if r["family"] == family})
    ]
    return {
        "settings": {
            "trace_model": _identity(trace_predictor),
            "direct_model": _identity(direct_predictor),
            "families": list(families),
            "ks": list(ks),
            "n": n,
            "seed": seed,
            "max_frames": limits.max_frames,
            "max_frame_tokens": limits.max_frame_tokens,
            "max_tokens": limits.max_tokens,
            "decode_rules": limits.rules,
            "level": LEVEL,
            "tests": "McNemar exact two-sided (binomial, p=1/2, math.comb) and mid-p; Holm over the per-k cells; difference: Agresti-Min",
        },
        "cells": table,
        "families": overall,
        "variants": variants,
        "partial": partial,
        "short_cells": short,
        "left_out": left_out,
        "seconds": round(seconds, 1),
        "rows": rows,
    }


def _p(value: float) -> str:
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def format_table(result: dict) -> str:
    """The result as a Markdown table: one row per (family, k), then one per family."""
    lines = [
        "| family | k | n | trace % [95% CI] | direct % [95% CI] | best constant % | b | c | trace - direct, points [95% CI] | McNemar exact p | mid-p | Holm p |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def row(cell: dict, holm_p: str) -> str:
        t, d, diff = cell["trace"], cell["direct"], cell["difference"]
        return (
            f"| {cell['family']} | {cell['k']} | {cell['n']} | {t['accuracy']:.1f} [{t['ci'][0]:.1f}, {t['ci'][1]:.1f}] "
            f"| {d['accuracy']:.1f} [{d['ci'][0]:.1f}, {d['ci'][1]:.1f}] | {cell['constant']['accuracy']:.1f} | {cell['b']} | {cell['c']} "
            f"| {diff['points']:+.1f} [{diff['ci'][0]:+.1f}, {diff['ci'][1]:+.1f}] | {_p(cell['p_exact'])} | {_p(cell['p_midp'])} | {holm_p} |"
        )

    for family in result["settings"]["families"]:
        for cell in result["cells"]:
            if cell["family"] == family:
                lines.append(row(cell, _p(cell["p_holm"])))
        lines.append(row(result["families"][family], "-"))
    return "\n".join(lines)


def format_variants(result: dict) -> str:
    """Per shape of program (over all k): each arm's accuracy and the trace arm's frames against
    the real trace's (mean, and how often the count is exact), and the share of the k steps
    it carried out, beside the best-constant floor (here: the most frequent output of the
    shape at each k). Says where an arm fails: a shape whose
    outputs are strings of k letters has no floor to hide under."""
    lines = [
        "| family | variant | n | trace % | direct % | best constant % | distinct outputs | frames: real / trace arm | trace arm's frame count right % | trace arm's steps right % (all k right %) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = result.get("rows", [])
    for cell in result.get("variants", []):
        distinct = len({r["real_output"] for r in rows if r["family"] == cell["family"] and r["variant"] == cell["variant"]})
        lines.append(
            f"| {cell['family']} | {cell['variant']} | {cell['n']} | {cell['trace']['accuracy']:.1f} | {cell['direct']['accuracy']:.1f} "
            f"| {cell['constant']['accuracy']:.1f} | {distinct} | {cell['real_frames_mean']:.1f} / {cell['trace']['frames_mean']:.1f} "
            f"| {cell['trace']['frames_exact']:.1f} | {cell['trace']['steps_right']:.1f} ({cell['trace']['all_steps_right']:.1f}) |"
        )
    return "\n".join(lines)


def summary_json(result: dict) -> dict:
    """The result without its per-program rows (the bench's last line)."""
    return {key: value for key, value in result.items() if key != "rows"}


# -- equal compute ----------------------------------------------------------------------------
def checkpoint_dir(spec: str) -> Path | None:
    """The checkpoint directory behind a model name (`builtin`, `builtin:DIR`, `hf:PATH`, or a
    directory), None for models without one (oracle, openai:, ...)."""
    kind, _, rest = spec.partition(":")
    if kind == "builtin":
        from codewm.predict.registry import BUILTIN_CHECKPOINT

        return Path(rest) if rest else BUILTIN_CHECKPOINT
    if kind == "hf" and rest:
        return Path(rest)
    if ":" not in spec and Path(spec).is_dir():
        return Path(spec)
    return None


def checkpoint_info(spec: str) -> dict:
    """What a model's `codewm.json` says about its training: {"spec", "dir", "tokens",
    "target", "steps", "tokenizer"} (the last its tokenizer's fingerprint: token counts
    compare only between models that share it); the fields are None where unknown (no
    checkpoint, no provenance)."""
    from codewm.model.checkpoint import PROVENANCE_FILE
    from codewm.model.tokenizer import tokenizer_fingerprint

    directory = checkpoint_dir(spec)
    info = {"spec": spec, "dir": str(directory) if directory else None, "tokens": None, "target": None, "steps": None, "tokenizer": None}
    if directory is None:
        return info
    try:
        info["tokenizer"] = tokenizer_fingerprint(directory)
    except (OSError, ValueError):
        pass
    try:
        provenance = json.loads((directory / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return info
    if isinstance(provenance, dict):
        tokens = provenance.get("tokens")
        info["tokens"] = tokens if isinstance(tokens, (int, float)) and not isinstance(tokens, bool) else None
        info["target"] = provenance.get("target") or (provenance.get("settings") or {}).get("target")
        info["steps"] = provenance.get("step", provenance.get("steps"))  # the step it stopped at; "steps" is the plan (a cap with --minutes)
    return info


def compute_warnings(trace_info: dict, direct_info: dict, tolerance: float = TOKEN_TOLERANCE) -> list[str]:
    """Why the comparison may not be at equal compute: token counts more than `tolerance`
    apart or unknown, counted by different tokenizers, or a model trained for the other
    arm's target."""
    warnings = []
    a, b = trace_info.get("tokens"), direct_info.get("tokens")
    if a is None or b is None:
        unknown = [info["spec"] for info in (trace_info, direct_info) if info.get("tokens") is None]
        warnings.append(f"training tokens unknown for {', '.join(unknown)}: equal compute NOT checked")
    elif max(a, b) > 0 and abs(a - b) / max(a, b) > tolerance:
        warnings.append(
            f"the models were NOT trained on equal tokens: trace {a:,} vs direct {b:,} "
            f"({100 * abs(a - b) / max(a, b):.1f}% apart, more than {100 * tolerance:.0f}%): the comparison is not at equal compute"
        )
    if trace_info.get("tokenizer") and direct_info.get("tokenizer") and trace_info["tokenizer"] != direct_info["tokenizer"]:
        warnings.append(
            "the models have different tokenizers, so their token counts are in different units "
            "(train the direct model with --tokenizer TRACE_CHECKPOINT to compare at equal tokens)"
        )
    for arm, info in (("trace", trace_info), ("direct", direct_info)):
        target = info.get("target")
        if target is not None and target != arm:
            warnings.append(f"the {arm} model {info['spec']} was trained with target {target!r}, not {arm!r}")
    return warnings


__all__ = [
    "FAMILIES",
    "HELD_OUT_SEED",
    "LadderError",
    "LadderProgram",
    "LadderSource",
    "checkpoint_info",
    "compute_warnings",
    "constant_guess",
    "format_table",
    "format_variants",
    "holm",
    "ladder_cell",
    "ladder_program",
    "mcnemar_exact",
    "mcnemar_midp",
    "paired_difference_ci",
    "real_traces",
    "run_ladder",
    "step_count",
    "step_positions",
    "summarize",
    "summary_json",
    "wilson_interval",
]
