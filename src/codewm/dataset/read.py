"""Reading a built dataset, and writing its files so that a kill never leaves half a file.

    manifest = load_manifest("out/datasets/small")          # DatasetError if it is no finished build
    for record in iter_records("out/datasets/small", "validation"):
        ...

The reader is what the stages above `dataset` (the model's training data, the evaluation
of held-out traces, `codewm dataset stats` and `export`) use to get at a build's records;
`atomic_write` and `atomic_write_json` are how the build and the export put files in place.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path


class DatasetError(ValueError):
    """A folder that is not a (finished) codewm dataset."""


def load_manifest(directory: str | Path) -> dict:
    """The manifest of a finished build in `directory`; DatasetError if there is none."""
    path = Path(directory) / "manifest.json"
    if not path.exists():
        raise DatasetError(f"{directory}: no manifest.json (not a finished codewm dataset build)")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise DatasetError(f"{path}: not valid JSON: {exc}") from None
    if manifest.get("format") != "codewm.dataset":
        raise DatasetError(f"{path}: not a codewm dataset manifest")
    return manifest


def iter_records(directory: str | Path, split: str | None = None):
    """Every record of a dataset, shard by shard in manifest order (from the jsonl.gz files)."""
    directory = Path(directory)
    manifest = load_manifest(directory)
    for shard in manifest["shards"]:
        if split is not None and not shard["name"].startswith(f"{split}/"):
            continue
        path = directory / f"{shard['name']}.jsonl.gz"
        if not path.exists():
            raise DatasetError(f"{path}: missing (the manifest lists it; was the build built with formats without jsonl.gz?)")
        yield from read_jsonl_gz(path)


def read_jsonl_gz(path: Path) -> list[dict]:
    """The records of one jsonl.gz shard file, in order."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def atomic_write(path: Path, data: bytes) -> str:
    """Write `data` to `path` atomically and durably; return its sha256."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return hashlib.sha256(data).hexdigest()


def atomic_write_json(path: Path, data: dict) -> str:
    """`atomic_write` of `data` as indented JSON with sorted keys; return its sha256."""
    return atomic_write(path, (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode())
