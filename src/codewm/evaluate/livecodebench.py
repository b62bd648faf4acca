"""LiveCodeBench's code-execution scenario, scored exactly as lcb_runner scores it.

- Rows (`load_rows`): `question_id, id, function_name, code, input, output, ...`, where
  `input` is the whole call (`performOperation(s = "hi")`) and `output` the literal value.
- Prompt (`prompt`, `messages`): lcb_runner's `prompts/code_execution.py`
  (`make_direct_output_prompt`, with `cot=True` `make_cot_output_prompt`) verbatim (templates
  in `codewm/evaluate/prompts/`), and its system message (`SYSTEM_MESSAGE`), which chat
  models get as the system turn (`format_prompt_execution_base`); completion-style models get
  the prompt alone.
- Answers (`extract_answer`): lcb_runner's `utils/extraction_utils.extract_execution_code`.
- Scoring (`check_program`, `score`), from lcb_runner's
  `evaluation/compute_code_execution_metrics.py`: a generation passes when
  `{BASE_IMPORTS}\\n{code}\\nassert {output} == {generation}` runs without error in a fresh
  process within 3 s; a generation that contains the input call is skipped and left out of
  the sample's n, but a sample whose every generation was skipped counts them all, as
  failures. pass@1 (c / n per sample), averaged, in percent.

`IMPORTS` is lcb_runner's `BASE_IMPORTS` header line for line, without its two lines
`import numpy as np` and `import pandas as pd` (third-party libraries that the execution
problems do not use, and that would cost every check their import time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from codewm.evaluate.cruxeval import score_answers
from codewm.evaluate.execution import DEFAULT_TIMEOUT
from codewm.evaluate.prompts import fill
from codewm.evaluate.rows import load_benchmark_rows, load_generations, rows_and_generations

__all__ = ["IMPORTS", "SYSTEM_MESSAGE", "check_program", "extract_answer", "load_generations", "load_rows", "messages", "prompt", "score", "score_file"]

SYSTEM_MESSAGE = "You are an expert at Python programming, code execution, test case generation, and fuzzing."
STOP = "[/ANSWER]"

# lcb_runner/evaluation/utils_execute.py BASE_IMPORTS, less `import numpy as np` and
# `import pandas as pd` (see the module docstring); every other line as it is there.
IMPORTS = """from itertools import accumulate, chain, combinations, count, permutations, product, groupby, islice, repeat
from copy import deepcopy
from string import ascii_lowercase
from math import floor, log2, log10, sqrt, comb, gcd, ceil, inf, isqrt
from collections import defaultdict, deque, Counter
from bisect import bisect, bisect_left, bisect_right, insort
from heapq import heappush, heappop, heapify, merge
from functools import reduce, cache, lru_cache
from random import randrange, shuffle
from operator import itemgetter, sub
from re import search as re_search  # Assuming 're' refers to a regex search
from os.path import commonprefix
from typing import List, Tuple, Dict, Set, Optional, Union, Any, Callable, Iterable, Iterator, Generator
import copy
import string
import math
import collections
import bisect
import heapq
import functools
import random
import itertools
import operator
import re
from math import log, prod  # 'log' and 'prod' are functions in the math module
from collections import deque, defaultdict, Counter, OrderedDict
from itertools import accumulate, permutations, combinations, product, groupby, islice, chain, repeat, zip_longest, cycle
from functools import lru_cache, reduce, partial
# from sortedcontainers import SortedList, SortedDict, SortedSet
# import sortedcontainers
from operator import iand
import sys
"""


# -- prompt: lcb_runner/prompts/code_execution.py, verbatim (the templates in prompts/) ------------
def prompt(row: dict, cot: bool = False) -> str:
    """The user prompt for one row (`make_direct_output_prompt((code, input))`, or with
    `cot=True` `make_cot_output_prompt`); the system message is `SYSTEM_MESSAGE`."""
    return fill("livecodebench_execution_cot" if cot else "livecodebench_execution", code=row["code"], input=row["input"])


def messages(row: dict, cot: bool = False) -> list[dict[str, str]]:
    """The chat form lcb_runner sends to chat models: the system message, then the prompt."""
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": prompt(row, cot)}]


# -- answers --------------------------------------------------------------------------------------
def extract_answer(generation: str, cot: bool = False) -> str:
    """The answer in a generation, as lcb_runner's `extract_execution_code` finds it:

    1. with `cot=True`, if `[ANSWER]` occurs, the text after its first occurrence, stripped;
    2. if `==` occurs, the text after the first `==` (up to a second one), stripped;
    3. if `[/ANSWER]` occurs, the text before it, stripped; otherwise the first line only;
    4. stripped.
    """
    if not isinstance(generation, str):
        raise TypeError(f"a generation must be a string, got {type(generation).__name__}")
    text = generation
    if cot and "[ANSWER]" in text:
        text = text.split("[ANSWER]")[1].strip()
    if "==" in text:
        text = text.split("==")[1].strip()
    if STOP in text:
        text = text.split(STOP)[0].strip()
    else:
        text = text.split("\n")[0].strip()
    return text.strip()


def check_program(row: dict, answer: str) -> str | None:
    """`{IMPORTS}\\n{code}\\nassert {output} == {answer}`, or None when the answer contains
    the input call (the official skip rule)."""
    if row["input"] in answer:
        return None
    return f"{IMPORTS}\n{row['code']}\nassert {row['output']} == {answer}"


# -- scoring --------------------------------------------------------------------------------------
def sample_counts(passed: list[bool | None]) -> tuple[int, int]:
    """(n, c) of one sample (None: skipped), by lcb_runner's rule: skipped generations are
    left out, unless all were skipped, when all count, as failures."""
    ran = [p for p in passed if p is not None]
    if not ran:
        return len(passed), 0
    return len(ran), ran.count(True)


def score(
    rows: list[dict],
    generations: dict[str, list[str]],
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = 2,
    sandbox=None,
    progress: Callable[[int], None] | None = None,
    raw: bool = False,
    cot: bool = False,
    ks: tuple[int, ...] = (1,),
) -> dict:
    """Score generations for `rows` (with `id`, `code`, `input`, `output`).

    `generations` maps every row's id to its answers, or raw model texts with `raw=True`
    (`extract_answer(text, cot)` is applied). LiveCodeBench reports pass@1 (the default
    `ks`); other ks follow the same estimator, reported when every sample has k generations.
    Returns the same form as `codewm.evaluate.cruxeval.score`.
    """
    return score_answers(
        rows,
        generations,
        answer_of=(lambda generation: extract_answer(generation, cot)) if raw else (lambda generation: generation),
        program_of=check_program,
        counts=sample_counts,
        ks=ks,
        timeout=timeout,
        workers=workers,
        sandbox=sandbox,
        progress=progress,
    )


def score_file(
    rows_path: str | Path,
    generations_path: str | Path,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = 2,
    sandbox=None,
    progress: Callable[[int], None] | None = None,
    raw: bool = False,
    cot: bool = False,
    partial: bool = False,
) -> dict:
    """`score` a generation file (`load_generations`: a JSON object id -> list of strings)
    against a LiveCodeBench execution JSONL file; `partial` as in `cruxeval.score_file`."""
    rows, generations = rows_and_generations(rows_path, generations_path, load_rows, partial)
    return score(rows, generations, timeout=timeout, workers=workers, sandbox=sandbox, progress=progress, raw=raw, cot=cot)


def load_rows(path: str | Path) -> list[dict]:
    """Execution-scenario rows from a .jsonl (or .jsonl.gz) file: `code`, `input` (the whole
    call) and `output`, strings; `id` (a row without one gets `<file name>:<line>`, as
    codewm's program sources name it). ValueError naming `file:line` for a bad row."""
    name = Path(path).name
    return load_benchmark_rows(path, default_id=lambda position, where: f"{name}:{where.rpartition(':')[2]}", check_row=_check_call)


def _check_call(row: dict, where: str) -> None:
    if not row["input"].strip():
        raise ValueError(f"{where}: 'input' is empty (it must be the whole call, e.g. name(x = 1))")
