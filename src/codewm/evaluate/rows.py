"""The files of the execution benchmarks (CRUXEval, LiveCodeBench), read and checked once
for both: the benchmark's rows (`load_benchmark_rows`) and the generations to score against
them (`load_generations`, CRUXEval's format, which codewm also uses for LiveCodeBench).

Every error is a ValueError that names the file (and `file:line` for a bad row), so the
CLI can print it as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator

from codewm.programs.files import read_json_rows

# the fields every row of both benchmarks has, as strings
ROW_FIELDS = ("code", "input", "output")


def read_rows(path: Path) -> Iterator[tuple[str, dict]]:
    """(`file:line`, row) for each row of a .jsonl (or .jsonl.gz) file; ValueError naming the
    file when it cannot be read or is not UTF-8 text."""
    try:
        yield from read_json_rows(path)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the rows ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None


def id_of(row: dict, where: str, default: str) -> str:
    """The row's `id` as a string (`default` when it has none); ValueError naming `where`
    for an id that is neither a string nor an int."""
    value = row.get("id")
    if value is None:
        return default
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"{where}: 'id' must be a string or an int, got {type(value).__name__}")
    return str(value)


def load_benchmark_rows(
    path: str | Path,
    default_id: Callable[[int, str], str],
    check_row: Callable[[dict, str], None] | None = None,
) -> list[dict]:
    """The rows of a benchmark file, each a copy with its `id` set: the row's own, or
    `default_id(position, where)` (position among the rows read so far, `where` the row's
    `file:line`). Every row needs string `code`, `input` and `output`; `check_row(row, where)`
    may refuse more (by raising ValueError). ValueError naming `file:line` for a bad row or a
    repeated id."""
    path = Path(path)
    rows: list[dict] = []
    seen: dict[str, str] = {}
    for where, row in read_rows(path):
        for key in ROW_FIELDS:
            if not isinstance(row.get(key), str):
                raise ValueError(f"{where}: missing string field {key!r}")
        if check_row is not None:
            check_row(row, where)
        row = dict(row)
        row["id"] = id_of(row, where, default_id(len(rows), where))
        if row["id"] in seen:
            raise ValueError(f"{where}: id {row['id']!r} repeats the row at {seen[row['id']]}")
        seen[row["id"]] = where
        rows.append(row)
    return rows


def load_generations(path: str | Path, rows: list[dict] | None = None) -> dict[str, list[str]]:
    """A generation file in CRUXEval's format: one JSON object mapping each sample id to its
    list of generations (strings), e.g. `{"sample_0": ["'abc'", ...], ...}`.

    With `rows`, every id must be one of theirs. ValueError naming the file for anything
    else (not JSON, not an object, a value that is not a list of strings, an empty list).
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the generations ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object mapping sample ids to lists of generations, got {type(data).__name__}")
    try:
        check_generation_lists(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if rows is not None:
        known = {str(row["id"]) for row in rows}
        unknown = [key for key in data if key not in known]
        if unknown:
            shown = ", ".join(repr(key) for key in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise ValueError(f"{path}: {len(unknown)} id(s) not in the benchmark's rows: {shown}")
    return data


def check_generation_lists(generations: dict) -> None:
    """ValueError unless every value of `generations` is a non-empty list of strings."""
    for key, value in generations.items():
        if not isinstance(value, list):
            raise ValueError(f"the generations of {key!r} are not a list but {type(value).__name__}")
        if not value:
            raise ValueError(f"{key!r} has no generations (an empty list)")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(f"generation {index} of {key!r} is not a string but {type(item).__name__}")


def rows_and_generations(
    rows_path: str | Path,
    generations_path: str | Path,
    load_rows: Callable[[str | Path], list[dict]],
    partial: bool,
) -> tuple[list[dict], dict[str, list[str]]]:
    """The rows of `rows_path` (read by `load_rows`) and the generations for them. With
    `partial`, only the rows the generations cover; otherwise ValueError unless every row
    has generations."""
    rows = load_rows(rows_path)
    generations = load_generations(generations_path, rows)
    if partial:
        rows = [row for row in rows if row["id"] in generations]
    else:
        missing = [row["id"] for row in rows if row["id"] not in generations]
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValueError(f"{generations_path}: no generations for {len(missing)} of {len(rows)} rows of {rows_path} ({shown}); partial=True scores only the rows it covers")
    return rows, generations


__all__ = ["ROW_FIELDS", "check_generation_lists", "id_of", "load_benchmark_rows", "load_generations", "read_rows", "rows_and_generations"]
