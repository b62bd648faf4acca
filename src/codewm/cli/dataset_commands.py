"""`codewm dataset build | stats | export`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app, group
from codewm.cli.common import fail, print_json

dataset_app = group(no_args_is_help=True, help="Build, inspect and export datasets of execution traces.")
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("build")
def dataset_build(
    config: Path = typer.Argument(..., help="A TOML build config (see codewm/dataset/config.py)."),
    engine: str = typer.Option("local", help="local (worker processes on this machine) | ray"),
    workers: int = typer.Option(0, help="Sandbox workers (local) or CPUs of a local Ray instance; 0: all cores."),
    address: Optional[str] = typer.Option(None, help="With --engine ray: a cluster address ('auto', 'ray://host:10001')."),
    output: Optional[Path] = typer.Option(None, help="Write here instead of the config's output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the build's manifest and timings as JSON instead of the table."),
) -> None:
    """Trace every program the config names and write sharded, split datasets (resumable).
    The whole config is checked before anything is written."""
    import os

    from rich.console import Console

    from codewm.dataset.build import build_dataset, summary_table
    from codewm.dataset.config import ConfigError, load_config
    from codewm.programs.base import SourceConfigError

    console = Console(stderr=True)
    try:
        cfg = load_config(config, output=output)
        summary = build_dataset(cfg, engine=engine, workers=workers or os.cpu_count() or 1, address=address, progress=not quiet, console=console)
    except (ConfigError, SourceConfigError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        print_json(
            {
                "output": str(summary.output),
                "shards_built": summary.shards_built,
                "shards_reused": summary.shards_reused,
                "shards_rebuilt": [list(item) for item in summary.shards_rebuilt],
                "traced": summary.traced,
                "seconds": summary.seconds,
                "manifest": summary.manifest,
            }
        )
    else:
        Console().print(summary_table(summary))


@dataset_app.command("stats")
def dataset_stats(
    directory: Path = typer.Argument(..., help="A built dataset (the folder holding manifest.json)."),
    plot: Optional[Path] = typer.Option(None, help="Also draw the distributions into this PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON instead of a table."),
) -> None:
    """Print (and plot) trace length, value length, events and statuses of a dataset."""
    from rich.console import Console

    from codewm.dataset.read import DatasetError, write_error
    from codewm.dataset.stats import compute_stats, plot_stats, stats_table

    try:
        stats = compute_stats(directory)
    except DatasetError as exc:
        fail(str(exc))
    if as_json:
        print_json(stats.summary())
    else:
        Console().print(stats_table(stats))
    if plot is not None:
        try:
            plot_stats(stats, plot)
        except OSError as exc:
            fail(str(write_error(plot, exc)))
        typer.echo(f"wrote {plot}", err=True)


@dataset_app.command("export")
def dataset_export(
    directory: Path = typer.Argument(..., help="A built dataset."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the exported files."),
    export_format: str = typer.Option("hf", "--format", help="hf: Parquet with a `text` column, per split."),
) -> None:
    """Export a dataset for trainers (Hugging Face datasets, pyarrow)."""
    from codewm.dataset.export import export_dataset
    from codewm.dataset.read import DatasetError

    try:
        written = export_dataset(directory, out, export_format)
    except (DatasetError, ValueError) as exc:
        fail(str(exc))
    for split, path in written.items():
        typer.echo(f"{split}: {path}")


