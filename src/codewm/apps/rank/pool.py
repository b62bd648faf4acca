"""Candidate pools in CodeT's format: a task, its candidate bodies, its model-written tests.

A pool is three JSONL files (CodeT's `data/`, see `../shared/data/codet/README.md`):

- solutions: one row per task, `{"prompt", "samples": [body, ...]}`;
- tests: one row per task, `{"prompt", "samples": [text after "assert ", ...]}`;
- tasks: HumanEval's rows, `{"task_id", "prompt", "entry_point", "test", ...}` (`test` is
  the hidden `check(candidate)`), matched to the other two by their prompt, as CodeT does.

The cuts are CodeT's (`CodeT/src/postprocess.py`), so that the ranking is measured on what
CodeT measured: a body is cut at the first of `STOP_TOKENS`; a test sample is split at
"assert ", the parts that mention the entry point kept, each cut at `STOP_TOKENS`, and those
that do not compile dropped; the first `test_limit` (CodeT: 5) of each sample are used.
Duplicates are kept: a body written 7 times counts 7 times in its cluster, a test written
3 times counts 3 times in a consensus set (CodeT's frequency weighting).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

STOP_TOKENS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
TEST_LIMIT = 5  # CodeT's default: the first 5 test cases of each sample


class PoolError(ValueError):
    """A pool file that cannot be read as CodeT's format (says which file and line)."""


@dataclass(frozen=True)
class Task:
    """What the candidates implement: the prompt (signature and docstring, with its imports
    and helpers), the function's name, and the hidden test (`def check(candidate)`), if any."""

    task_id: str
    prompt: str
    entry_point: str
    hidden_test: str = ""


@dataclass
class Problem:
    """One task with its candidates and tests, each a distinct text with how often it was
    written (first-seen order)."""

    task: Task
    candidates: Counter = field(default_factory=Counter)  # body -> count
    tests: Counter = field(default_factory=Counter)  # assert statement -> count

    def program(self, body: str) -> str:
        """The whole candidate program: prompt and body, as CodeT runs it."""
        return self.task.prompt + body


def cut_solution(sample: str) -> str:
    """A body cut at CodeT's stop tokens (each in turn, as CodeT's `solution_extract`)."""
    for token in STOP_TOKENS:
        if token in sample:
            sample = sample.split(token)[0]
    return sample


def _compiles_in_try(statement: str) -> bool:
    # CodeT keeps a test only if it compiles inside a try block.
    indented = statement.replace("\n", "\n    ")
    try:
        compile(f"try:\n    {indented}\nexcept:\n    pass\n", "<test>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def extract_tests(sample: str, entry_point: str) -> list[str]:
    """The assert statements of one test sample, cut and checked as CodeT's `test_case_extract`."""
    parts = [f"assert {part}".strip() for part in f"assert {sample}".split("assert ") if entry_point.strip() in part and part.strip()]
    out = []
    for part in parts:
        for token in STOP_TOKENS:
            if token in part:
                part = part.split(token)[0]
        part = part.strip()
        if part and "assert" in part and _compiles_in_try(part):
            out.append(part)
    return out


def _read_jsonl(path: Path, what: str) -> list[dict]:
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise PoolError(f"{path}:{number}: not JSON ({exc})") from None
                if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                    raise PoolError(f"{path}:{number}: a {what} row needs a string 'prompt'")
                rows.append(row)
    except OSError as exc:
        raise PoolError(f"cannot read the {what} file {path}: {exc}") from None
    return rows


def _samples(row: dict, path: Path, what: str) -> list[str]:
    samples = row.get("samples")
    if not isinstance(samples, list) or not all(isinstance(s, str) for s in samples):
        raise PoolError(f"{path}: the {what} row for prompt {row['prompt'][:60]!r} needs 'samples', a list of strings")
    return samples


def read_tasks(path: str | Path) -> list[Task]:
    """HumanEval-style task rows (task_id, prompt, entry_point, and the hidden `test`)."""
    path = Path(path)
    tasks = []
    for number, row in enumerate(_read_jsonl(path, "task"), 1):
        for key in ("task_id", "entry_point"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise PoolError(f"{path}: task row {number} needs a string {key!r}")
        tasks.append(Task(row["task_id"], row["prompt"], row["entry_point"], row.get("test") or ""))
    return tasks


def read_pool(
    solutions: str | Path, tests: str | Path, tasks: str | Path, test_limit: int = TEST_LIMIT, limit: int | None = None
) -> list[Problem]:
    """The problems of a CodeT-format pool, in the tasks file's order (`limit`: the first N).

    A solutions or tests row whose prompt matches no task is an error; a task without tests
    gets none (its candidates are then left in their order, as CodeT does).
    """
    if not isinstance(test_limit, int) or test_limit < 1:
        raise ValueError(f"test_limit must be a positive int, got {test_limit!r}")
    solutions, tests = Path(solutions), Path(tests)
    task_list = read_tasks(tasks)
    by_prompt = {task.prompt: Problem(task) for task in task_list}
    for row in _read_jsonl(solutions, "solutions"):
        problem = by_prompt.get(row["prompt"])
        if problem is None:
            raise PoolError(f"{solutions}: a row's prompt matches no task of {tasks}: {row['prompt'][:80]!r}")
        problem.candidates.update(cut_solution(s) for s in _samples(row, solutions, "solutions"))
    test_prompts = {_test_prompt_key(task.prompt): task.prompt for task in task_list}
    for row in _read_jsonl(tests, "tests"):
        prompt = test_prompts.get(_test_prompt_key(row["prompt"]))
        if prompt is None:
            raise PoolError(f"{tests}: a row's prompt matches no task of {tasks}: {row['prompt'][:80]!r}")
        problem = by_prompt[prompt]
        for sample in _samples(row, tests, "tests"):
            problem.tests.update(extract_tests(sample, problem.task.entry_point)[:test_limit])
    problems = [by_prompt[task.prompt] for task in task_list]
    return problems[:limit] if limit is not None else problems


def _test_prompt_key(prompt: str) -> str:
    # CodeT's test prompts are the task prompt plus "    pass\n\n# check the correctness of
    # NAME\nassert ": match on the part before that tail.
    return prompt.split("    pass\n\n# check the correctness of")[0].rstrip()
