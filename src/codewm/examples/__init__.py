"""Programs bundled with codewm: a few hand-written examples and 300+ CRUXEval-style functions.

Each example file starts with a `# call: ...` line giving the call to trace.
`cruxeval_style.jsonl` is written by `tools/make_cruxeval_style.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CRUXEVAL_STYLE = HERE / "cruxeval_style.jsonl"


@dataclass(frozen=True)
class Example:
    name: str
    source: str
    call: str


def example_files() -> list[Example]:
    examples = []
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_"):
            continue
        source = path.read_text(encoding="utf-8")
        first, _, body = source.partition("\n")
        if not first.startswith("# call:"):
            raise ValueError(f"{path}: the first line must be '# call: <the call to trace>'")
        examples.append(Example(path.stem, body, first.removeprefix("# call:").strip()))
    return examples


def cruxeval_style(limit: int | None = None) -> list[Example]:
    rows = []
    with CRUXEVAL_STYLE.open(encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(rows) >= limit:
                break
            row = json.loads(line)
            rows.append(Example(row["id"], row["code"], f"f({row['input']})"))
    return rows


def bundled_examples(cruxeval_count: int = 3) -> list[Example]:
    """The hand-written examples, then the first `cruxeval_count` CRUXEval-style functions."""
    return example_files() + cruxeval_style(cruxeval_count)
