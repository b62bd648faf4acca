"""`codewm dataset build`: trace every planned case and write sharded, split datasets.

Output layout (OUTPUT is the config's `output`):

    OUTPUT/build.json                      the resolved config and its sha256 (written first)
    OUTPUT/SPLIT/shard-00000.jsonl.gz      records, one JSON object a line
    OUTPUT/SPLIT/shard-00000.parquet       the same records, columns (see records.py)
    OUTPUT/SPLIT/shard-00000.done.json     written last for a shard: counts and file hashes
    OUTPUT/manifest.json                   written last: counts, statuses, source mix, version

Resumable: a shard is done when its `.done.json` exists; everything is written to a
temporary name and renamed, so after a kill (even SIGKILL) the same command redoes only the
unfinished shards, and the result is byte-identical to an uninterrupted build. Before a done
shard is reused its files are hashed and compared with the sha256 its `.done.json` holds; a
shard with a missing, empty or altered file (or an unreadable marker) is rebuilt, and the
summary says which and why.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import codewm
from codewm.dataset.config import BuildConfig, ConfigError, config_from_dict
from codewm.dataset.engines import make_engine
from codewm.dataset.plan import Plan, Shard, iter_plan
from codewm.dataset.read import atomic_write_json, file_problem, write_error
from codewm.dataset.records import write_shard

MANIFEST_FORMAT = "codewm.dataset"
MANIFEST_VERSION = 1


@dataclass
class BuildSummary:
    output: Path
    manifest: dict
    shards_built: int
    shards_reused: int
    seconds: float
    traced: int  # cases traced by this run (not counting reused shards)
    engine: str
    isolation: str = ""
    plan_seconds: float = 0.0  # reading or generating the sources' programs, deduplicating, splitting (overlaps tracing)
    statuses: dict = field(default_factory=dict)
    shards_rebuilt: list = field(default_factory=list)  # (shard name, what was wrong), counted in shards_built too


def _done_path(output: Path, shard: Shard) -> Path:
    return output / f"{shard.name}.done.json"


def shard_problem(output: Path, shard_name: str, formats: tuple[str, ...]) -> str | None:
    """None when the done shard `shard_name` can be reused: its marker is readable and every
    file it lists (one per format) hashes to the sha256 recorded there. Otherwise what is
    wrong, naming the file ("checksum mismatch: train/shard-00003.parquet")."""
    marker = output / f"{shard_name}.done.json"
    try:
        files = json.loads(marker.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"unreadable marker: {shard_name}.done.json"
    expected = {f"{shard_name}.{fmt}" for fmt in formats}
    if not isinstance(files, dict) or set(files) != expected:
        return f"marker lists other files: {shard_name}.done.json"
    for name, sha256 in sorted(files.items()):
        problem = file_problem(output / name, sha256)
        if problem is not None:
            return f"{problem}: {name}"
    return None


def _check_output(config: BuildConfig) -> None:
    """Refuse to mix builds: an output folder holds one config's data."""
    output = config.output
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(output, exc) from None
    stamp = output / "build.json"
    expected = {"format": MANIFEST_FORMAT, "config_sha256": config.digest, "config": config.to_dict()}
    if stamp.exists():
        try:
            found = json.loads(stamp.read_text())
        except ValueError:
            found = None
        if not isinstance(found, dict) or found.get("config_sha256") != config.digest:
            # A build that stopped before finishing any shard (a config error found late, a
            # kill) left nothing to protect: the folder is this config's now.
            if _holds_finished_work(output):
                raise ConfigError(
                    f"{output} holds a build of a different config (build.json differs); "
                    "use another output folder, or delete this one to start over"
                )
            atomic_write_json(stamp, expected)
    else:
        atomic_write_json(stamp, expected)
    for leftover in output.rglob("*.tmp"):  # a write that a kill interrupted
        try:
            leftover.unlink()
        except OSError as exc:
            raise write_error(leftover, exc) from None


def _holds_finished_work(output: Path) -> bool:
    """Whether `output` holds a finished shard or a manifest."""
    return (output / "manifest.json").exists() or next(output.rglob("*.done.json"), None) is not None


def _shard_summary(shard: Shard, records: list[dict], files: dict[str, str]) -> dict:
    statuses: dict[str, int] = {}
    origins: dict[str, int] = {}
    excluded: dict[str, int] = {}
    runtimes: dict[str, int] = {}
    for record in records:
        runtime = _runtime_name(record.get("runtime"))
        runtimes[runtime] = runtimes.get(runtime, 0) + 1
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
        origins[record["origin"]] = origins.get(record["origin"], 0) + 1
        if record["excluded"]:
            excluded[record["excluded"]] = excluded.get(record["excluded"], 0) + 1
    return {
        "name": shard.name,
        "split": shard.split,
        "records": len(records),
        "in_training": sum(r["in_training"] for r in records),
        "training_tokens": sum(r["n_tokens"] for r in records if r["in_training"]),
        "frames": sum(r["n_frames"] for r in records),
        "statuses": dict(sorted(statuses.items())),
        "origins": dict(sorted(origins.items())),
        "excluded": dict(sorted(excluded.items())),
        "runtimes": dict(sorted(runtimes.items())),
        "files": files,
    }


def _runtime_name(runtime) -> str:
    """How the manifest names where records were traced: "python 3.11.7, hook c"."""
    if not isinstance(runtime, dict):
        return "unknown"
    return f"python {runtime.get('python', '?')}, hook {runtime.get('hook', '?')}"


def _merge(total: dict, part: dict) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0) + value


def _manifest(config: BuildConfig, plan: Plan, summaries: list[dict]) -> dict:
    statuses: dict[str, int] = {}
    origins: dict[str, int] = {}
    excluded: dict[str, int] = {}
    runtimes: dict[str, int] = {}
    splits: dict[str, dict] = {name: {"records": 0, "in_training": 0, "training_tokens": 0, "shards": 0} for name, _ in config.splits}
    for summary in summaries:
        _merge(statuses, summary["statuses"])
        _merge(origins, summary["origins"])
        _merge(excluded, summary["excluded"])
        _merge(runtimes, summary.get("runtimes", {}))
        split = splits[summary["split"]]
        split["records"] += summary["records"]
        split["in_training"] += summary["in_training"]
        split["training_tokens"] += summary["training_tokens"]
        split["shards"] += 1
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "name": config.name,
        "codewm_version": codewm.__version__,
        "config_sha256": config.digest,
        "config": config.to_dict(),
        "counts": {
            "cases": plan.total_cases,
            "duplicates_removed": plan.duplicates_removed,
            "records": sum(s["records"] for s in summaries),
            "in_training": sum(s["in_training"] for s in summaries),
            "excluded": dict(sorted(excluded.items())),
            "frames": sum(s["frames"] for s in summaries),
        },
        "statuses": dict(sorted(statuses.items())),
        "source_mix": dict(sorted(origins.items())),
        # Where the records were traced (records per Python version and hook): traces are
        # reproducible under the same ones (docs/tracer.md).
        "runtimes": dict(sorted(runtimes.items())),
        "splits": splits,
        "shards": [{"name": s["name"], "records": s["records"], "files": s["files"]} for s in summaries],
    }


def build_dataset(
    config: BuildConfig,
    engine: str = "local",
    workers: int = 2,
    address: str | None = None,
    progress: bool = True,
    console=None,
) -> BuildSummary:
    """Build (or finish building) the dataset that `config` describes."""
    started = time.monotonic()
    _check_output(config)
    output = config.output
    plan = Plan()
    planned = {"seconds": 0.0, "cases": 0}
    traced_statuses: dict[str, int] = {}
    reused = []
    rebuilt: list[tuple[str, str]] = []

    def shards_to_build():
        # Shards stream out of the plan while the sources are read; done ones are skipped.
        clock = time.monotonic()
        for shard in iter_plan(config, plan, processes=workers):
            planned["seconds"] += time.monotonic() - clock
            planned["cases"] += len(shard.cases)
            if bar is not None:
                bar.update(task, total=planned["cases"] - sum(len(s.cases) for s in reused))
            marker = _done_path(output, shard)
            if not marker.exists():
                yield shard
            elif (problem := shard_problem(output, shard.name, config.formats)) is None:
                reused.append(shard)
            else:
                rebuilt.append((shard.name, problem))
                try:  # unfinished again, so that a kill during the rebuild cannot leave it "done"
                    marker.unlink()
                except OSError as exc:
                    raise write_error(marker, exc) from None
                yield shard
            clock = time.monotonic()
        planned["seconds"] += time.monotonic() - clock

    def on_result(status: str) -> None:
        traced_statuses[status] = traced_statuses.get(status, 0) + 1
        if bar is not None:
            done = sum(traced_statuses.values())
            rate = done / max(time.monotonic() - started, 1e-9)
            bar.update(task, advance=1, rate=f"{rate:.1f} traces/s")

    bar = task = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[cyan]{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        task = bar.add_task(f"tracing {config.name}", total=None, rate="")
        bar.start()
    runner = make_engine(engine, config.limits, workers, address=address, on_result=on_result, batch_size=config.batch_size)
    isolation = getattr(runner, "isolation", engine)
    built = 0
    traced = 0
    try:
        for shard, records in runner.records(shards_to_build(), config.max_trace_tokens):
            files = write_shard(output, shard.name, records, config.formats)
            atomic_write_json(_done_path(output, shard), _shard_summary(shard, records, files))
            built += 1
            traced += len(records)
    finally:
        runner.close()
        if bar is not None:
            bar.stop()
    summaries = [json.loads((output / f"{name}.done.json").read_text()) for name in plan.shard_names]
    manifest = _manifest(config, plan, summaries)
    atomic_write_json(output / "manifest.json", manifest)
    return BuildSummary(
        output=output,
        manifest=manifest,
        shards_built=built,
        shards_reused=len(reused),
        seconds=time.monotonic() - started,
        traced=traced,
        engine=engine,
        isolation=isolation,
        plan_seconds=planned["seconds"],
        statuses=traced_statuses,
        shards_rebuilt=rebuilt,
    )


def ensure_built(data: dict, output: str | Path, where: str = "config", workers: int | None = None, console=None) -> Path:
    """The dataset of the build config `data` (a config file's keys, as a dict) in `output`:
    built there unless a finished build of the same config is there already (a killed build
    resumes where it stopped). Returns `output`; `where` names the config in errors."""
    output = Path(output)
    config = config_from_dict(dict(data, output=str(output)), where=where)
    if (output / "manifest.json").exists():
        manifest = json.loads((output / "manifest.json").read_text())
        if manifest.get("config") == config.to_dict():
            return output
    build_dataset(config, workers=workers or os.cpu_count() or 1, progress=console is not None, console=console)
    return output


def summary_table(summary: BuildSummary):
    """A rich table closing a build: where it went, what it holds, how fast it was."""
    from rich.table import Table

    manifest = summary.manifest
    counts = manifest["counts"]
    table = Table(title=f"dataset {manifest['name']} -> {summary.output}", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    rate = summary.traced / summary.seconds if summary.seconds > 0 else 0.0
    table.add_row("traced now", f"{summary.traced} cases in {summary.seconds:.1f} s ({rate:.1f}/s, engine {summary.engine}, {summary.isolation})")
    repaired = summary.shards_rebuilt
    shards = f"{summary.shards_built - len(repaired)} built, {summary.shards_reused} reused"
    if repaired:
        shards += f", {len(repaired)} rebuilt ({'; '.join(problem for _, problem in repaired)})"
    table.add_row("shards", shards)
    table.add_row("cases", f"{counts['cases']} from sources, {counts['duplicates_removed']} duplicates removed, {counts['records']} records")
    table.add_row("training text", f"{counts['in_training']} records; excluded {counts['excluded'] or 'none'}")
    table.add_row("statuses", ", ".join(f"{k} {v}" for k, v in manifest["statuses"].items()))
    table.add_row("sources", ", ".join(f"{k} {v}" for k, v in manifest["source_mix"].items()))
    table.add_row(
        "splits",
        ", ".join(f"{k} {v['records']} ({v['training_tokens']} tokens)" for k, v in manifest["splits"].items()),
    )
    return table
