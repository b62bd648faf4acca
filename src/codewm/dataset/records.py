"""One dataset record per traced case, and how records are written to shard files.

Every file is written to a temporary name, flushed to disk and renamed into place, so a
kill at any moment leaves either the complete file or none. gzip members carry no time
stamp or file name and Parquet files no creation time, so the same records always give
the same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

from codewm.dataset.read import atomic_write, write_error
from codewm.format.cwm import describe_steps, parse_trace, read_back_problem
from codewm.format.pretokens import count_pretokens

TRAINING_STATUSES = ("ok", "exception")  # real executions, start to end

PARQUET_COLUMNS = (
    "id", "origin", "split", "program_sha", "source", "call", "status", "error", "n_frames",
    "n_tokens", "max_value_chars", "in_training", "excluded", "text", "partial_text", "linenos", "meta_json",
)


def count_tokens(text: str) -> int:
    """A trace text's length in pre-tokens (`codewm.format.pretokens`), as records store it."""
    return count_pretokens(text)


def make_record(planned, result, max_trace_tokens: int) -> dict:
    """The record of one planned case (`codewm.dataset.plan.PlannedCase`) and its `RunResult`.

    A result from the dataset's fast path (`formatter=DESCRIBE_STEPS`) carries its
    description already; any other (a run that failed before the sandbox could describe it,
    or a result with frames) is described from its raw steps, to the same bytes."""
    described = result.formatted if result.formatted is not None else describe_steps(result.steps, result.trace.context, result.status)
    text, n_frames, linenos, longest = described["text"], described["n_frames"], described["linenos"], described["max_value_chars"]
    tokens = count_tokens(text)
    excluded = None
    if result.status not in TRAINING_STATUSES:
        excluded = f"status:{result.status}"
    elif tokens > max_trace_tokens:
        excluded = "too_long"
    else:
        # A text a model is trained on must read back with the parser its predictions go
        # through. The sandbox's describer read it back already (in parallel); a result
        # described here (no description came back) is read back here.
        problem = described["unreadable"] if "unreadable" in described else read_back_problem(text, n_frames)
        if problem is not None:
            excluded = f"unreadable:{problem}"
    case = planned.case
    return {
        "id": case.id,
        "origin": case.origin,
        "split": planned.split,
        "program_sha": planned.program_sha,
        "source": case.source,
        "call": case.call,
        "status": result.status,
        "error": result.error,
        "n_frames": n_frames,
        "n_tokens": tokens,
        "max_value_chars": longest,
        "in_training": excluded is None,
        "excluded": excluded,
        "text": text if excluded is None else None,  # the training text
        "partial_text": None if excluded is None else text,  # what an excluded run recorded
        "linenos": linenos,  # what the text does not carry
        "meta": case.meta,
        "runtime": result.trace.runtime,  # {"python": ..., "hook": ...} that traced it
    }


def jsonl_gz_bytes(records: list[dict]) -> bytes:
    raw = "".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records).encode()
    buffer = io.BytesIO()
    # Level 3: within 11 % of level 6's size at less than half its time (measured on traces).
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=3) as handle:
        handle.write(raw)
    return buffer.getvalue()


def parquet_bytes(records: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, list] = {name: [] for name in PARQUET_COLUMNS}
    for record in records:
        for name in PARQUET_COLUMNS:
            if name == "meta_json":
                columns[name].append(json.dumps(record["meta"], ensure_ascii=False, separators=(",", ":"), sort_keys=True))
            else:
                columns[name].append(record[name])
    kinds = {"n_frames": pa.int64(), "n_tokens": pa.int64(), "max_value_chars": pa.int64(), "in_training": pa.bool_(), "linenos": pa.list_(pa.int64())}
    schema = pa.schema([(name, kinds.get(name, pa.string())) for name in PARQUET_COLUMNS])
    table = pa.table(columns, schema=schema)
    sink = io.BytesIO()
    # Dictionary encoding only where values repeat; for unique texts it is work for nothing.
    pq.write_table(table, sink, compression="zstd", compression_level=1, write_statistics=False,
                   use_dictionary=["origin", "split", "status", "excluded"])
    return sink.getvalue()


def write_shard(directory: Path, name: str, records: list[dict], formats: tuple[str, ...]) -> dict[str, str]:
    """Write one shard in every format; returns {file name: sha256}. The caller marks the
    shard done only after this returns."""
    path = directory / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path.parent, exc) from None
    written = {}
    for fmt in formats:
        data = jsonl_gz_bytes(records) if fmt == "jsonl.gz" else parquet_bytes(records)
        target = path.with_name(f"{path.name}.{fmt}")
        written[f"{name}.{fmt}"] = atomic_write(target, data)
    return written


def record_trace(record: dict):
    """The `Trace` a record holds (training or partial text), line numbers included."""
    text = record["text"] if record["text"] is not None else record["partial_text"]
    trace = parse_trace(text).trace
    for frame, lineno in zip(trace.frames, record.get("linenos") or []):
        frame.lineno = lineno
    return trace

