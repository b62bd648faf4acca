"""`codewm dataset export --format hf`: Parquet any trainer can read.

One Parquet file per split (`OUT/train.parquet`, ...) with a `text` column holding the CWM
token text of every training record (ok and exception traces within the token limit), and
the structured fields beside it: id, origin, source, call, status, n_frames, n_tokens, and
per frame `events`, `actions`, `linenos`, `depths`, `locals_json` (JSON object per call/line
frame, null otherwise) and `values` (return/exception values, null otherwise). Loadable with
`pyarrow.parquet.read_table` or `datasets.load_dataset("parquet", data_files=...)`.
"""

from __future__ import annotations

import json
from pathlib import Path

from codewm.dataset.read import atomic_write, iter_records, load_manifest, write_error
from codewm.dataset.records import record_trace

EXPORT_FORMATS = ("hf",)


def _schema():
    import pyarrow as pa

    strings = pa.list_(pa.string())
    return pa.schema(
        [
            ("text", pa.string()),
            ("id", pa.string()),
            ("origin", pa.string()),
            ("source", pa.string()),
            ("call", pa.string()),
            ("status", pa.string()),
            ("n_frames", pa.int64()),
            ("n_tokens", pa.int64()),
            ("events", strings),
            ("actions", strings),
            ("linenos", pa.list_(pa.int64())),
            ("depths", pa.list_(pa.int64())),
            ("locals_json", strings),
            ("values", strings),
        ]
    )


def _row(record: dict) -> dict:
    frames = [frame.to_dict() for frame in record_trace(record).frames]
    return {
        "text": record["text"],
        "id": record["id"],
        "origin": record["origin"],
        "source": record["source"],
        "call": record["call"],
        "status": record["status"],
        "n_frames": record["n_frames"],
        "n_tokens": record["n_tokens"],
        "events": [f["event"] for f in frames],
        "actions": [f["source"] for f in frames],
        "linenos": [f.get("lineno", 0) for f in frames],
        "depths": [f["depth"] for f in frames],
        "locals_json": [json.dumps(f["locals"], ensure_ascii=False) if f.get("locals") is not None else None for f in frames],
        "values": [f.get("value") for f in frames],
    }


def export_dataset(directory: str | Path, out: str | Path, fmt: str = "hf") -> dict[str, Path]:
    """Write one Parquet file per split; returns {split: path}."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = load_manifest(directory)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out, exc) from None
    written = {}
    schema = _schema()
    for split in manifest["splits"]:
        rows = [_row(r) for r in iter_records(directory, split) if r["in_training"]]
        table = pa.Table.from_pylist(rows, schema=schema)
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        path = out / f"{split}.parquet"
        atomic_write(path, sink.getvalue())
        written[split] = path
    return written
