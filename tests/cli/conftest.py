"""Shared fixtures of the command-line tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def score_files(tmp_path: Path) -> tuple[Path, Path]:
    """Two CRUXEval rows and generations for `eval score`: sample_0 right 1 of 2 times,
    sample_1's first answer repeats the call (skipped), its second is right."""
    rows = [
        {"id": "sample_0", "code": "def f(x):\n    return x * 2\n", "input": "3", "output": "6"},
        {"id": "sample_1", "code": "def f(s):\n    return s[::-1]\n", "input": "'ab'", "output": "'ba'"},
    ]
    rows_path = tmp_path / "rows.jsonl"
    rows_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    generations = tmp_path / "gens.json"
    generations.write_text(json.dumps({"sample_0": ["6", "7"], "sample_1": ["f('ab')", "'ba'"]}))
    return rows_path, generations
