"""Reading a built dataset, and writing its files so that a kill never leaves half a file.

    manifest = load_manifest("out/datasets/small")          # DatasetError if it is no finished build
    for record in iter_records("out/datasets/small", "validation"):
        ...

The reader is what the stages above `dataset` (the model's training data, the evaluation
of held-out traces, `codewm dataset stats` and `export`) use to get at a build's records;
`atomic_write` and `atomic_write_json` are how the build and the export put files in place.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import zlib
from pathlib import Path


class DatasetError(ValueError):
    """A folder that is not a (finished) codewm dataset, a damaged file of one, or an output
    that cannot be written (the message names the path and what is wrong)."""


# Why a write failed, in words a user can act on; other errors keep their strerror.
_WRITE_PROBLEMS = {
    errno.ENOSPC: "disk full (ENOSPC)",
    errno.EDQUOT: "disk quota exceeded (EDQUOT)",
    errno.EROFS: "read-only file system (EROFS)",
    errno.EACCES: "permission denied (EACCES)",
    errno.EPERM: "permission denied (EPERM)",
}


def write_error(path: str | Path, exc: OSError) -> DatasetError:
    """A short DatasetError for a failed write of `path` (disk full, read-only, ...)."""
    problem = _WRITE_PROBLEMS.get(exc.errno, exc.strerror or str(exc))
    return DatasetError(f"cannot write {path}: {problem}")


def file_problem(path: Path, expected_sha256: str) -> str | None:
    """What is wrong with a file that should hash to `expected_sha256` ("missing", "empty",
    "checksum mismatch"), or None when it is intact. Costs one read of the file."""
    try:
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if size == 0:
        return "empty"
    if digest.hexdigest() != expected_sha256:
        return "checksum mismatch"
    return None


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
    """Every record of a dataset, shard by shard in manifest order (from the jsonl.gz files).
    Each shard file is checked against the sha256 the manifest holds for it first: a missing,
    empty, truncated or altered file is a DatasetError naming it and what is wrong."""
    directory = Path(directory)
    manifest = load_manifest(directory)
    for shard in manifest["shards"]:
        if split is not None and not shard["name"].startswith(f"{split}/"):
            continue
        path = directory / f"{shard['name']}.jsonl.gz"
        files = shard.get("files")  # absent only from manifests written by hand: nothing to check against
        if files is not None and f"{shard['name']}.jsonl.gz" not in files:
            raise DatasetError(f"{path}: not in the manifest (was the dataset built with formats without jsonl.gz?)")
        problem = file_problem(path, files[f"{shard['name']}.jsonl.gz"]) if files is not None else None
        if problem is not None:
            raise DatasetError(f"{path}: {problem} (damaged shard file; run `codewm dataset build` on its config again to rebuild it)")
        yield from read_jsonl_gz(path)


def read_jsonl_gz(path: Path) -> list[dict]:
    """The records of one jsonl.gz shard file, in order; DatasetError naming the file when it
    cannot be read or decoded."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]
    except FileNotFoundError:
        raise DatasetError(f"{path}: missing") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: damaged ({type(exc).__name__}: {exc})") from None


def atomic_write(path: Path, data: bytes) -> str:
    """Write `data` to `path` atomically and durably; return its sha256. A failed write (disk
    full, read-only output, ...) leaves no temporary file and is a DatasetError naming `path`."""
    tmp = path.with_name(path.name + ".tmp")
    try:
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
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass  # never created, or the file system refuses even that
        raise write_error(path, exc) from None
    return hashlib.sha256(data).hexdigest()


def atomic_write_json(path: Path, data: dict) -> str:
    """`atomic_write` of `data` as indented JSON with sorted keys; return its sha256."""
    return atomic_write(path, (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode())
