"""What one evaluation run is: its name on disk and the data it read.

A run's files (`NAME.json`, `NAME.png`, `NAME.predictions.jsonl`) are named after everything
that makes its numbers what they are: the benchmark, its data, the model, the answer route,
the case limit, and a digest of all of it in full (the model spec and data path uncut, the
sampling and decoding settings), so that two runs that differ in anything never share a
file, and the same command run again (`--resume`) finds its own predictions and no others.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from codewm.predict.decode import DecodeLimits

# Bundled data paths are relative to the codewm package. (A `bench` below is a
# `codewm.evaluate.run.Benchmark`; run.py imports this module, not the other way round.)
PACKAGE_DIR = Path(__file__).resolve().parent.parent
_LABEL_CHARS = 40  # readable parts are cut to this; the digest keeps cut names apart


def _slug(text: str) -> str:
    """`text` with every run of characters unsafe in a file name made one `_`."""
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.")
    return slug[:_LABEL_CHARS].rstrip("_.") or "x"


def resolved_data(bench) -> str | None:
    """The benchmark's data as an absolute path (where it exists: as given, or inside the
    codewm package), else as given."""
    if bench.data is None:
        return None
    path = Path(bench.data)
    for candidate in (path, PACKAGE_DIR / path):
        if candidate.exists():
            return str(candidate.resolve())
    return str(path.absolute())


def run_identity(bench, model: str, limit: int | None, limits: DecodeLimits) -> dict:
    """Everything a run's results depend on besides the model's weights (the prediction
    cache keys hold the model's fingerprint for those)."""
    return {
        "bench": bench.name,
        "benchmark_file": bench.path,
        "kind": bench.kind,
        "mode": bench.mode,
        "via": bench.via,
        "data": resolved_data(bench),
        "split": bench.split if bench.kind == "traces" and bench.data else None,
        "source": bench.source if bench.kind == "traces" and not bench.data else None,
        "samples": bench.samples,
        "temperature": bench.temperature,
        "model": model,
        "limit": limit,
        "decode": [limits.max_frames, limits.max_frame_tokens, limits.max_tokens, limits.rules],
    }


def _data_label(bench) -> str:
    if bench.data is not None:
        name = Path(bench.data).name
        for suffix in (".gz", ".jsonl", ".json"):
            name = name.removesuffix(suffix)
        return name
    return str((bench.source or {}).get("kind", "source"))


def run_stem(bench, model: str, limit: int | None, limits: DecodeLimits) -> str:
    """The file name (without suffix) of a run: `BENCH-DATA-MODEL-VIA[-nLIMIT]-DIGEST`."""
    identity = run_identity(bench, model, limit, limits)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:10]
    parts = [_slug(bench.name), _slug(_data_label(bench)), _slug(model), bench.via]
    if limit is not None:
        parts.append(f"n{limit}")
    return "-".join(parts + [digest])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_data(bench, rows: int | None = None) -> dict:
    """What a result says about its data: the file (absolute path and sha256) or the program
    source, how many rows the file holds, and what it is (the benchmark's own words for its
    bundled data, so that no one takes codewm's bundled rows for the real benchmark)."""
    if bench.data is None:
        source = dict(bench.source or {})
        return {"source": source, "description": f"programs of the {source.get('kind', '?')} source, run in the sandbox"}
    path = Path(resolved_data(bench) or "")
    info: dict = {"path": str(path)}
    if path.is_file():
        info["sha256"] = _sha256(path)
    elif bench.kind == "traces":
        info["split"] = bench.split
    if rows is not None:
        info["rows"] = rows
    info["description"] = bench.data_description or ("a built dataset" if bench.kind == "traces" else "the file given as the benchmark's data")
    return info


def data_line(data: dict) -> str:
    """The data of a result in one line, for the table."""
    if "path" not in data:
        return f"data: {data.get('description', '')} {json.dumps(data.get('source', {}), sort_keys=True)}"
    details = [f"{data['rows']} rows"] if "rows" in data else []
    if "sha256" in data:
        details.append(f"sha256 {data['sha256'][:12]}")
    if "split" in data:
        details.append(f"split {data['split']}")
    return f"data: {shown_path(data['path'])} ({', '.join(details)}): {data.get('description', '')}"


def shown_path(path: str) -> str:
    """`path` as the table shows it: a file bundled with codewm as `codewm/...` (the same on
    every machine), any other file as it is. The result's JSON keeps the absolute path."""
    package = Path(__file__).resolve().parents[1]
    try:
        return str(Path("codewm") / Path(path).resolve().relative_to(package))
    except (ValueError, OSError):
        return path
