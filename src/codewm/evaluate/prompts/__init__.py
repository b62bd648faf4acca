"""The official benchmark prompts, as template files beside this module (shipped as package
data): `cruxeval_{output,input}[_cot].txt` from CRUXEval's `prompts.py` and
`livecodebench_execution[_cot].txt` from lcb_runner's `prompts/code_execution.py`, each
character for character (trailing spaces included).

A template is filled with `str.format`: `{code}`, `{input}`, `{output}` are the row's fields;
a literal brace would be written `{{` or `}}` (the official prompts have none).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def template(name: str) -> str:
    """The text of the template `name` (the file `name`.txt here), exactly as stored."""
    # newline="": the text keeps its own line ends on every platform
    with open(PROMPT_DIR / f"{name}.txt", encoding="utf-8", newline="") as handle:
        return handle.read()


def fill(name: str, **fields: str) -> str:
    """The prompt of template `name` with its fields filled in (KeyError for a missing one)."""
    return template(name).format(**fields)


__all__ = ["PROMPT_DIR", "fill", "template"]
