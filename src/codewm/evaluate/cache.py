"""Predictions saved as they finish, so that a long evaluation that is killed can go on.

One JSON object a line: `{"key": ..., "value": ...}`, appended and flushed when a program's
prediction is finished. The key is a hash of everything the prediction depends on (the
model's fingerprint, codewm's version, the prompt or context, the limits), so a changed
model or setting never reuses an old line. A kill can only cut the last line short; reading
skips such a line (and says how many it skipped).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import codewm


def prediction_key(*parts) -> str:
    """A stable key for the things a prediction depends on (JSON-able parts)."""
    blob = json.dumps([codewm.__version__, *parts], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class PredictionCache:
    """Append-only store of finished predictions. `resume=False` starts the file afresh."""

    def __init__(self, path: str | Path, resume: bool = True) -> None:
        self.path = Path(path)
        self.entries: dict[str, object] = {}
        self.unreadable = 0  # lines skipped on reading (a cut-off last line after a kill)
        if resume and self.path.exists():
            with self.path.open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    try:
                        item = json.loads(line)
                        self.entries[item["key"]] = item["value"]
                    except (ValueError, KeyError, TypeError):
                        self.unreadable += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.reused = 0
        # A cut-off last line must not glue itself to the next one: start on a fresh line.
        needs_newline = resume and self.path.exists() and self.path.stat().st_size > 0 and not self.path.read_bytes().endswith(b"\n")
        self._handle = self.path.open("a" if resume else "w", encoding="utf-8")
        if needs_newline:
            self._handle.write("\n")

    def get(self, key: str):
        value = self.entries.get(key)
        if value is not None:
            self.reused += 1
        return value

    def put(self, key: str, value) -> None:
        self.entries[key] = value
        self._handle.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "PredictionCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
