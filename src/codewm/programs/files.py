"""Read programs with calls from JSONL files in the benchmarks' formats.

Accepted rows (one JSON object per line; blank lines are skipped):

- CRUXEval: `code` (defines `f`), `input` (the call's argument text), optional `id`;
  the call is `f(<input>)`.
- codewm: `code` and `call` (the whole call text, e.g. `g(1, 2)`), optional `id`.
"""

from __future__ import annotations

import json
from pathlib import Path


def read_call_rows(path: str | Path) -> list[tuple[str, str, str]]:
    """(label, source, call) per row; raises ValueError naming the file and line on bad rows."""
    path = Path(path)
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
            code = row.get("code")
            if not isinstance(code, str):
                raise ValueError(f"{where}: missing string field 'code'")
            if isinstance(row.get("call"), str):
                call = row["call"]
            elif isinstance(row.get("input"), str):
                call = f"f({row['input']})"
            else:
                raise ValueError(f"{where}: needs 'input' (CRUXEval) or 'call' (codewm), as a string")
            label = str(row.get("id", f"{path.name}:{number}"))
            rows.append((label, code, call))
    return rows
