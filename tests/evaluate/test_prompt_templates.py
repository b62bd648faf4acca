"""The official prompts come from template files: filled, they are byte for byte the text the
f-strings in code wrote before (recorded in data/official_prompts.json), for rows whose code
and values hold braces, `$` and field names that must not be filled again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codewm.evaluate import cruxeval
from codewm.evaluate import livecodebench as lcb
from codewm.evaluate.prompts import PROMPT_DIR

CASES = json.loads((Path(__file__).parent / "data" / "official_prompts.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case['benchmark']}-{case['mode']}-{'cot' if case['cot'] else 'direct'}")
def test_the_templates_write_the_recorded_prompts(case):
    row, cot = case["row"], case["cot"]
    if case["benchmark"] == "livecodebench":
        written = lcb.prompt(row, cot)
    elif case["mode"] == "output":
        written = cruxeval.output_prompt(row["code"], row["input"], cot)
    else:
        written = cruxeval.input_prompt(row["code"], row["output"], cot)
    assert written == case["prompt"]


def test_every_template_is_used_and_shipped():
    names = sorted(path.name for path in PROMPT_DIR.glob("*.txt"))
    assert names == [
        "cruxeval_input.txt",
        "cruxeval_input_cot.txt",
        "cruxeval_output.txt",
        "cruxeval_output_cot.txt",
        "livecodebench_execution.txt",
        "livecodebench_execution_cot.txt",
    ]
    package_data = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"evaluate/prompts/*.txt"' in package_data
