"""The output of an evaluation run: a terminal table, a JSON file and a PNG figure.

All three take the same result dict:

    {
      "model": str,                  # what was evaluated
      "bench": str,                  # which benchmark
      "n": int,                      # number of cases scored
      "data": {...},                 # which data: path, sha256, rows, description (run_name.describe_data)
      "metrics": {name: percent},    # macro-averages, 0-100 (e.g. trace_metrics.aggregate)
      "ci": {name: {"low": percent, "high": percent, "method": "wilson" | "bootstrap", "n": int}},
                                     # optional: the 95 % interval of each metric (evaluate.stats)
      "stops": {reason: count},      # optional: why the predicted traces stopped (decode.STOPS)
      "by_group": {                  # optional breakdowns, by kind of group
        "difficulty" | "length": {label: {"n": int, metric-name: percent, ...}},
      },
      "cases": [                     # one entry per case
        {"id": str, "n_frames": int, metric-name: value (0/1 or a fraction), ...},
      ],
      "settings": {...},             # how the run was made (sampling, limits, ...)
      "seconds": float,              # wall time of the run
    }

Length-group labels are `trace_metrics.length_bucket` labels ("1-8", ..., "129+") and are
shown ordered by their first frame count. Missing keys are tolerated (shown as empty), so that
a run with no cases (n=0) still prints, saves and draws.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from codewm.evaluate.run_name import data_line
from codewm.evaluate.stats import format_ci
from codewm.evaluate.trace_metrics import bucket_start

# Accuracy-by-length lines, in order of preference; "pass@1" serves benchmarks without trace
# metrics (CRUXEval, LiveCodeBench) and is drawn only when neither trace metric is present.
_LENGTH_LINES = ("state_exact_match", "output_pass@1")
_FALLBACK_LINE = "pass@1"


def _title(result: dict) -> str:
    return f"{result.get('bench', '?')} — {result.get('model', '?')} (n={result.get('n', 0)})"


def _percent(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.1f}"
    return "" if value is None else str(value)


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")


_NAMED_LEVELS = {"easy": 0, "medium": 1, "hard": 2}


def _ordered_labels(kind: str, groups: dict) -> list[str]:
    if kind == "length":
        return sorted(groups, key=bucket_start)
    if kind == "difficulty":  # 1 < 2 < 10; easy < medium < hard; anything else after, by name
        def level(label):
            text = str(label)
            if text.lstrip("-").isdigit():
                return (0, int(text), "")
            return (1, _NAMED_LEVELS.get(text.lower(), 99), text)

        return sorted(groups, key=level)
    return list(groups)


def _group_metrics(result: dict, groups: dict) -> list[str]:
    """The metric columns of a group table: those present in its rows, in the order of the
    overall metrics, then any others in order of appearance."""
    present: list[str] = []
    for row in groups.values():
        for name in row:
            if name != "n" and name not in present:
                present.append(name)
    order = list(result.get("metrics") or {})
    return [name for name in order if name in present] + [name for name in present if name not in order]


# How the intervals were made (codewm.evaluate.stats), said under the table; fits 80 columns.
_CI_NOTE = "95% CI: Wilson's for a pass/fail per program, else a bootstrap over programs"

# Column headings of the breakdown tables, short enough for 80 columns.
SHORT_NAMES = {
    "valid_format": "format",
    "action_exact_match": "action",
    "state_exact_match": "state",
    "key_match": "keys",
    "key_value_match": "key+val",
    "valid_json": "json",
    "output_pass@1": "output",
}


def print_table(result: dict, console=None) -> None:
    """Print the metrics (one decimal) as a rich table titled "<bench> — <model> (n=N)", with
    each metric's 95 % interval where the result has one; why the predicted traces stopped;
    then one table per group kind (rows: labels, columns: n and the metrics present)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    title = _title(result)
    intervals = result.get("ci") or {}
    # A title is wrapped to its table's width; keep the table wide enough for it on one line.
    table = Table(title=title, title_justify="left", min_width=len(title))
    table.add_column("metric")
    table.add_column("value", justify="right")
    if intervals:
        table.add_column("95% CI", justify="right")
    for name, value in (result.get("metrics") or {}).items():
        cells = [name, _percent(value)] + ([format_ci(intervals.get(name))] if intervals else [])
        table.add_row(*cells)
    console.print(table)
    if result.get("data"):  # which data it was: bundled rows are not the benchmark's own
        console.print(data_line(result["data"]), highlight=False, soft_wrap=True)
    if intervals:
        console.print(_CI_NOTE, highlight=False)
    stops = result.get("stops") or {}
    if stops:
        console.print("stops: " + ", ".join(f"{reason} {count}" for reason, count in stops.items()), highlight=False)
    for kind, groups in (result.get("by_group") or {}).items():
        if not groups or list(groups) == ["-"]:  # no labels: nothing to break down
            continue
        names = _group_metrics(result, groups)
        # Ten columns must fit 80: no vertical rules, shared padding, and no column narrower
        # than its heading or a "100.0" (rich would otherwise cut headings to "diffi…").
        table = Table(title=f"by {kind}", title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True)
        table.add_column(kind, no_wrap=True, min_width=len(kind))
        table.add_column("n", justify="right", no_wrap=True)
        for name in names:
            heading = SHORT_NAMES.get(name, name)
            table.add_column(heading, justify="right", no_wrap=True, min_width=max(len(heading), len("100.0")))
        for label in _ordered_labels(kind, groups):
            row = groups[label]
            table.add_row(str(label), str(row.get("n", "")), *(_percent(row.get(name)) for name in names))
        console.print(table)


def _replace_atomically(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    finally:
        if tmp.exists():  # os.replace failed: do not leave the temporary file behind
            tmp.unlink()


def write_json(result: dict, path: str | Path) -> Path:
    """Write `result` as pretty UTF-8 JSON to `path`, atomically: a reader sees the old file
    or the new one, never half of one. Creates the parent folder. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _replace_atomically(tmp, path)
    return path


def draw_png(result: dict, path: str | Path) -> Path:
    """Draw the run into a PNG at `path` (atomically) and return the path.

    Left panel: a bar per metric (0-100, value labels), with its 95 % interval as an error bar
    where the result has one. Right panel: accuracy against trace
    length, one line per metric among "state_exact_match" and "output_pass@1" (else
    "pass@1"), over the length buckets of `result["by_group"]["length"]`; the panel says
    "no trace-length data" when there are none. Works for an empty run (n=0).
    """
    # Imported here: matplotlib is an optional dependency, needed only for the figure. The
    # figure is drawn on an Agg canvas directly rather than through pyplot, so no global
    # backend is switched and no figure is left registered in pyplot's state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 5))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})

    metrics = {name: value for name, value in (result.get("metrics") or {}).items() if isinstance(value, (int, float))}
    names = list(metrics)
    if names:
        positions = range(len(names))
        values = [float(metrics[name]) for name in names]
        intervals = result.get("ci") or {}
        # the 95 % interval of each bar as an error bar (none where the result has none)
        errors = [[0.0] * len(names), [0.0] * len(names)]
        for i, name in enumerate(names):
            ci = intervals.get(name)
            if isinstance(ci, dict) and isinstance(ci.get("low"), (int, float)) and isinstance(ci.get("high"), (int, float)):
                errors[0][i] = max(0.0, values[i] - ci["low"])
                errors[1][i] = max(0.0, ci["high"] - values[i])
        left.barh(positions, values, height=0.6, color="tab:blue", xerr=errors if intervals else None, ecolor="black", capsize=3)
        left.set_yticks(list(positions), labels=names)
        # First metric at the top, as in the table; room for at least 3 rows so that a lone
        # metric (pass@1) is not drawn as one huge bar.
        left.set_ylim(max(len(names), 3) - 0.5, -0.5)
        for y, value, above in zip(positions, values, errors[1]):
            left.text(min(value + above, 100.0) + 1, y, f"{value:.1f}", va="center", fontsize=9)  # past the error bar
    else:
        left.text(0.5, 0.5, "no metrics", ha="center", va="center", transform=left.transAxes)
        left.set_yticks([])
    left.set_xlim(0, 112)  # room for the value labels of bars at 100
    left.set_xlabel("%")
    left.set_title("metrics")

    _draw_length_panel(right, (result.get("by_group") or {}).get("length") or {})

    figure.suptitle(_title(result))
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        # The format is explicit: the temporary name's suffix would not tell matplotlib.
        figure.savefig(tmp, format="png", dpi=100)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _replace_atomically(tmp, path)
    return path


def _draw_length_panel(ax, groups: dict) -> None:
    ax.set_title("accuracy by trace length")
    labels = _ordered_labels("length", groups)
    lines = [name for name in _LENGTH_LINES if any(name in groups[label] for label in labels)]
    if not lines and any(_FALLBACK_LINE in groups[label] for label in labels):
        lines = [_FALLBACK_LINE]
    if not labels or not lines:
        ax.text(0.5, 0.5, "no trace-length data", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    xs = list(range(len(labels)))
    for name in lines:
        # A bucket without this metric leaves a gap (NaN) instead of a misleading zero.
        ys = [_number(groups[label].get(name)) for label in labels]
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xticks(xs, labels=[f"{label}\n(n={groups[label].get('n', '?')})" for label in labels])
    ax.set_xlabel("trace length (frames)")
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
