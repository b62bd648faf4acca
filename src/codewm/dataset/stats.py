"""`codewm dataset stats`: what a built dataset holds, printed and drawn.

Distributions of trace length (frames and tokens), of rendered value length, of events per
kind, and of statuses, per split. `plot_stats` draws them into one PNG (matplotlib, imported
only when drawing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codewm.dataset.read import iter_records, load_manifest
from codewm.dataset.records import record_trace


def _percentiles(values: list[int]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]

    return {"n": len(values), "mean": round(sum(values) / len(values), 1), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": ordered[-1]}


@dataclass
class DatasetStats:
    name: str
    frames: dict[str, list[int]] = field(default_factory=dict)  # split -> frames per record
    tokens: dict[str, list[int]] = field(default_factory=dict)
    value_chars: list[int] = field(default_factory=list)  # every rendered value's length
    events: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    origins: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "name": self.name,
            "frames": {split: _percentiles(v) for split, v in self.frames.items()},
            "tokens": {split: _percentiles(v) for split, v in self.tokens.items()},
            "value_chars": _percentiles(self.value_chars),
            "events": dict(sorted(self.events.items())),
            "statuses": dict(sorted(self.statuses.items())),
            "origins": dict(sorted(self.origins.items())),
        }


def compute_stats(directory: str | Path) -> DatasetStats:
    manifest = load_manifest(directory)
    stats = DatasetStats(manifest["name"])
    for record in iter_records(directory):
        split = record["split"]
        stats.frames.setdefault(split, []).append(record["n_frames"])
        stats.tokens.setdefault(split, []).append(record["n_tokens"])
        stats.statuses[record["status"]] = stats.statuses.get(record["status"], 0) + 1
        stats.origins[record["origin"]] = stats.origins.get(record["origin"], 0) + 1
        for frame in record_trace(record).frames:
            stats.events[frame.event] = stats.events.get(frame.event, 0) + 1
            if frame.locals:
                stats.value_chars.extend(len(v) for v in frame.locals.values())
            if frame.value is not None:
                stats.value_chars.append(len(frame.value))
    return stats


def stats_table(stats: DatasetStats):
    from rich.table import Table

    summary = stats.summary()
    table = Table(title=f"dataset {stats.name}", title_justify="left")
    for column in ("measure", "n", "mean", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "measure" else "right", no_wrap=True, min_width=len(column))  # whole headings at 80 columns
    for label, block in [("frames", summary["frames"]), ("tokens", summary["tokens"])]:
        for split, p in block.items():
            table.add_row(f"{label} ({split})", *(str(p.get(k, "")) for k in ("n", "mean", "p50", "p90", "p99", "max")))
    p = summary["value_chars"]
    table.add_row("value length (chars)", *(str(p.get(k, "")) for k in ("n", "mean", "p50", "p90", "p99", "max")))
    table.caption = (
        "events: " + ", ".join(f"{k} {v}" for k, v in summary["events"].items())
        + "\nstatuses: " + ", ".join(f"{k} {v}" for k, v in summary["statuses"].items())
        + "\nsources: " + ", ".join(f"{k} {v}" for k, v in summary["origins"].items())
    )
    table.caption_justify = "left"
    return table


def plot_stats(stats: DatasetStats, path: str | Path) -> Path:
    """Draw the distributions into one PNG: trace length, value length, events, statuses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0][0]
    for split, values in sorted(stats.frames.items()):
        if values:
            ax.hist(values, bins=40, alpha=0.6, label=f"{split} ({len(values)})")
    ax.set_title("trace length (frames)")
    ax.set_xlabel("frames")
    ax.set_ylabel("records")
    ax.legend()
    ax = axes[0][1]
    if stats.value_chars:
        ax.hist(stats.value_chars, bins=50, color="tab:purple", log=True)
    ax.set_title("rendered value length (chars)")
    ax.set_xlabel("characters")
    ax.set_ylabel("values (log)")
    ax = axes[1][0]
    names = sorted(stats.events)
    ax.bar(names, [stats.events[n] for n in names], color="tab:green")
    ax.set_title("events")
    ax = axes[1][1]
    names = sorted(stats.statuses)
    ax.bar(names, [stats.statuses[n] for n in names], color="tab:orange")
    ax.set_title("statuses")
    ax.tick_params(axis="x", rotation=30)
    figure.suptitle(f"codewm dataset {stats.name}")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
