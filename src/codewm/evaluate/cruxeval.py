"""CRUXEval (Gu et al., 2024), scored exactly as its authors score it.

- Rows (`load_rows`): `{"code", "input", "output", "id"}`; `code` defines `f`, `input` is the
  call's argument text, `output` the literal of `f(input)`.
- Prompts (`output_prompt`, `input_prompt`): the official direct prompts of CRUXEval's
  `prompts.py` (`make_direct_output_prompt`, `make_direct_input_prompt`; with `cot=True` the
  chain-of-thought ones), character for character (templates in `codewm/evaluate/prompts/`).
  The model continues after `[ANSWER]\\n` and is stopped at `[/ANSWER]`.
- Answers (`extract_answer`): CRUXEval's postprocessing of a generation (see there).
- Scoring (`check_program`, `score`): a generation passes when
  `{code}\\nassert {output} == {generation}` runs without error in a fresh process within
  3 s (both modes; in input mode the generation is an `f(...)` call). The official rules,
  from CRUXEval's `evaluation/utils_general.py` (`evaluate_score`, `pass_at_k`):
  - output mode: a generation that contains `f({input})` is skipped (it would restate the
    question); input mode: a generation without `f(` is skipped;
  - skipped generations are left out of the sample's n; but when no generation of the
    sample passes (none ran, or all that ran failed), the sample counts all its
    generations, all failed: n = the number of generations, c = 0;
  - pass@k is the unbiased estimator (`codewm.evaluate.passk`), averaged over samples, in
    percent; a sample whose n fell below k by skipping (it then has a pass) scores 1, as the
    official `pass_at_k` (`if n - c < k: return 1.0`) does.
  Older revisions of the official scorer counted a skipped generation as a failure instead
  of leaving it out; the rule above is the current one (and what the reference describes).
  codewm reports pass@k only when every sample has at least k generations (the official
  script would print pass@5 = 100 for a single greedy generation).

The generation files CRUXEval releases (`load_generations`) hold answers already extracted:
`{"sample_0": ["answer", ...], ...}`; `score` takes answers as given, or raw model text with
`raw=True`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from codewm.evaluate.execution import DEFAULT_TIMEOUT, run_checks
from codewm.evaluate.passk import pass_at_k
from codewm.evaluate.prompts import fill
# load_generations is part of this module's interface (cruxeval.load_generations); it lives in rows.py
from codewm.evaluate.rows import check_generation_lists, load_benchmark_rows, load_generations, rows_and_generations

MODES = ("output", "input")
STOP = "[/ANSWER]"  # the generation's stop string in both modes


# -- prompts: CRUXEval's prompts.py, verbatim (the templates in prompts/) ------------------------
def output_prompt(code: str, input: str, cot: bool = False) -> str:
    """CRUXEval-O's prompt for `f(input)` (`make_direct_output_prompt`, or with `cot=True`
    `make_cot_output_prompt`), exactly as the official prompts.py writes it."""
    return fill("cruxeval_output_cot" if cot else "cruxeval_output", code=code, input=input)


def input_prompt(code: str, output: str, cot: bool = False) -> str:
    """CRUXEval-I's prompt for `f(??) == output` (`make_direct_input_prompt`, or with
    `cot=True` `make_cot_input_prompt`), exactly as the official prompts.py writes it."""
    return fill("cruxeval_input_cot" if cot else "cruxeval_input", code=code, output=output)


def prompt(row: dict, mode: str, cot: bool = False) -> str:
    """The prompt for one row in `mode` ("output": CRUXEval-O, "input": CRUXEval-I)."""
    _check_mode(mode)
    return output_prompt(row["code"], row["input"], cot) if mode == "output" else input_prompt(row["code"], row["output"], cot)


# -- answers --------------------------------------------------------------------------------------
def extract_answer(generation: str, mode: str) -> str:
    """The answer in a generation, by CRUXEval's postprocessing (inference/tasks/*_prediction.py
    `postprocess_generation`, openai/openai_prompt.py `extract_answer_*`), in this order:

    1. Text from the first `[/ANSWER]` on is dropped: the stop string, where the generation
       would have ended (a generation already stopped there has none).
    2. If `[ANSWER]` occurs, the text after its first occurrence is kept (the official
       chain-of-thought rule; a direct generation starts after the prompt's own `[ANSWER]`).
    3. Output mode: if `==` occurs, the text after the first `==` (up to a second one, if any:
       the official `split("==")[1]`), stripped.
       Input mode: if `==` occurs, the text before the first `==`, stripped; then if
       `assert` occurs, the text after the first `assert` (up to a second one: the official
       `split("assert")[1]`), stripped.
    4. The result is stripped.

    The official quirks are kept on purpose: an answer such as `'a==b'` is cut at its `==`.
    """
    _check_mode(mode)
    if not isinstance(generation, str):
        raise TypeError(f"a generation must be a string, got {type(generation).__name__}")
    text = generation
    if STOP in text:
        text = text.split(STOP)[0]
    if "[ANSWER]" in text:
        text = text.split("[ANSWER]")[1].strip()
    if mode == "output":
        if "==" in text:
            text = text.split("==")[1].strip()
    else:
        if "==" in text:
            text = text.split("==")[0].strip()
        if "assert" in text:
            text = text.split("assert")[1].strip()
    return text.strip()


def check_program(code: str, input: str, output: str, answer: str, mode: str) -> str | None:
    """The program that scores `answer`, or None when the official rules skip it.

    Both modes: `{code}\\nassert {output} == {answer}` (in input mode the answer is a call
    `f(...)`). Skipped: in output mode an answer containing `f({input})`, in input mode an
    answer without `f(`.
    """
    _check_mode(mode)
    if mode == "output" and f"f({input})" in answer:
        return None
    if mode == "input" and "f(" not in answer:
        return None
    return f"{code}\nassert {output} == {answer}"


# -- scoring --------------------------------------------------------------------------------------
def sample_counts(passed: list[bool | None]) -> tuple[int, int]:
    """(n, c) of one sample from its generations' results (None: skipped), by the official
    rule: skipped ones are left out, unless none passed, when all count, as failures."""
    ran = [p for p in passed if p is not None]
    if True not in ran:
        return len(passed), 0
    return len(ran), ran.count(True)


def sample_pass_at_k(n: int, c: int, k: int) -> float:
    """One sample's pass@k (a fraction): the official `if n - c < k: return 1.0` first (it
    covers an n that skipping brought below k), else the unbiased estimator."""
    if n - c < k:
        return 1.0
    return pass_at_k(n, c, k)


def score(
    rows: list[dict],
    generations: dict[str, list[str]],
    mode: str,
    ks: tuple[int, ...] = (1, 5),
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = 2,
    sandbox=None,
    progress: Callable[[int], None] | None = None,
    raw: bool = False,
) -> dict:
    """Score generations for `rows` (dicts with `id`, `code`, `input`, `output`) in `mode`.

    `generations` maps every row's id to its list of answers (as CRUXEval's generation
    files hold them), or of raw model texts with `raw=True` (`extract_answer` is applied).
    Every row needs at least one generation, and no generation may name an unknown id.
    `progress(n)` is called with the number of generations just settled (skipped ones
    included), for progress bars; `sandbox`, `workers` and `timeout` go to `run_checks`.

    Returns `{"pass@1": percent, "pass@5": percent, ..., "n_samples": rows,
    "n_generations": ..., "n_skipped": ..., "per_sample": {id: {"n", "c", "passed"}}}`,
    `passed` holding one entry per generation: True, False or None (skipped). A pass@k is
    left out unless every sample has at least k generations.
    """
    _check_mode(mode)
    return score_answers(
        rows,
        generations,
        answer_of=(lambda generation: extract_answer(generation, mode)) if raw else (lambda generation: generation),
        program_of=lambda row, answer: check_program(row["code"], row["input"], row["output"], answer, mode),
        counts=sample_counts,
        ks=ks,
        timeout=timeout,
        workers=workers,
        sandbox=sandbox,
        progress=progress,
    )


def score_answers(rows, generations, *, answer_of, program_of, counts, ks, timeout, workers, sandbox, progress) -> dict:
    """The scoring both CRUXEval and LiveCodeBench do, given their rules: `answer_of(text)`
    (the answer in a generation), `program_of(row, answer)` (the check, or None to skip) and
    `counts(passed)` (a sample's n and c). Checks run in the sandbox (`run_checks`)."""
    ks = _check_ks(ks)
    rows = list(rows)
    by_id = _rows_by_id(rows)
    _check_generations(generations, by_id)
    programs: list[str] = []
    slots: list[tuple[str, int]] = []
    per_sample: dict[str, dict] = {}
    skipped = 0
    for row_id, row in by_id.items():
        answers = generations[row_id]
        passed: list[bool | None] = [None] * len(answers)
        for index, generation in enumerate(answers):
            program = program_of(row, answer_of(generation))
            if program is None:
                skipped += 1
                continue
            programs.append(program)
            slots.append((row_id, index))
        per_sample[row_id] = {"passed": passed}
    if progress is not None and skipped:
        progress(skipped)
    for (row_id, index), result in zip(slots, run_checks(programs, timeout=timeout, workers=workers, progress=progress, sandbox=sandbox)):
        per_sample[row_id]["passed"][index] = result.passed
    return _summary(per_sample, ks, skipped, counts)


def _summary(per_sample: dict[str, dict], ks: tuple[int, ...], skipped: int, counts) -> dict:
    for sample in per_sample.values():
        n, c = counts(sample["passed"])
        sample["n"], sample["c"] = n, c
    result: dict = {}
    if per_sample:
        fewest = min(len(s["passed"]) for s in per_sample.values())
        for k in ks:
            if k <= fewest:
                values = [sample_pass_at_k(s["n"], s["c"], k) for s in per_sample.values()]
                result[f"pass@{k}"] = 100.0 * sum(values) / len(values)
    result["n_samples"] = len(per_sample)
    result["n_generations"] = sum(len(s["passed"]) for s in per_sample.values())
    result["n_skipped"] = skipped
    result["per_sample"] = {row_id: {"n": s["n"], "c": s["c"], "passed": s["passed"]} for row_id, s in per_sample.items()}
    return result


def score_file(
    rows_path: str | Path,
    generations_path: str | Path,
    mode: str,
    ks: tuple[int, ...] = (1, 5),
    timeout: float = DEFAULT_TIMEOUT,
    workers: int = 2,
    sandbox=None,
    progress: Callable[[int], None] | None = None,
    raw: bool = False,
    partial: bool = False,
) -> dict:
    """`score` a generation file (`load_generations`) against a CRUXEval JSONL file.

    `partial=True` scores only the rows the generations cover (a run with a limit); the
    numbers are then not the benchmark's. Otherwise every row needs generations.
    """
    rows, generations = rows_and_generations(rows_path, generations_path, load_rows, partial)
    return score(rows, generations, mode, ks=ks, timeout=timeout, workers=workers, sandbox=sandbox, progress=progress, raw=raw)


def scored_results(generations: dict[str, list[str]], scored: dict) -> dict:
    """The document CRUXEval's `evaluate_generations.py --scored_results_path` writes, from
    the generations and `score`'s result: `raw_generations`, `raw_scored_generations` (per
    sample, one pass/fail per generation; a skipped generation is written false, as the
    official script writes it), `pass_at_K` per reported k. Added, so that nothing is lost:
    `skipped_generations` (per sample, the positions skipped and left out of its n, by the
    rule `sample_counts` describes), `n_samples`, `n_generations`, `n_skipped`."""
    per_sample = scored["per_sample"]
    document: dict = {
        "raw_generations": {row_id: generations[row_id] for row_id in per_sample},
        "raw_scored_generations": {row_id: [passed is True for passed in sample["passed"]] for row_id, sample in per_sample.items()},
        "skipped_generations": {
            row_id: [i for i, passed in enumerate(sample["passed"]) if passed is None] for row_id, sample in per_sample.items() if None in sample["passed"]
        },
    }
    for key, value in scored.items():
        if key.startswith("pass@"):
            document["pass_at_" + key[len("pass@") :]] = value
    document.update({key: scored[key] for key in ("n_samples", "n_generations", "n_skipped")})
    return document


# -- files ----------------------------------------------------------------------------------------
def load_rows(path: str | Path) -> list[dict]:
    """CRUXEval rows from a .jsonl (or .jsonl.gz) file: `code`, `input`, `output` (strings)
    and `id`; a row without an id gets `sample_<position>` (the official key scheme).
    ValueError naming `file:line` for a bad row or a repeated id."""
    return load_benchmark_rows(path, default_id=lambda position, where: f"sample_{position}")


# -- helpers --------------------------------------------------------------------------------------
def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def _check_ks(ks) -> tuple[int, ...]:
    ks = tuple(ks)
    if not ks or any(not isinstance(k, int) or isinstance(k, bool) or k < 1 for k in ks):
        raise ValueError(f"ks must be positive ints, got {ks!r}")
    return ks


def _rows_by_id(rows: list[dict]) -> dict[str, dict]:
    by_id: dict[str, dict] = {}
    for position, row in enumerate(rows):
        if not isinstance(row, dict) or "id" not in row:
            raise ValueError(f"row {position} has no 'id'")
        row_id = str(row["id"])
        if row_id in by_id:
            raise ValueError(f"row {position}: id {row_id!r} repeats an earlier row")
        by_id[row_id] = row
    return by_id


def _check_generations(generations: dict, by_id: dict[str, dict]) -> None:
    if not isinstance(generations, dict):
        raise ValueError(f"generations must map sample ids to lists of generations, got {type(generations).__name__}")
    check_generation_lists(generations)
    missing = [row_id for row_id in by_id if row_id not in generations]
    unknown = [key for key in generations if key not in by_id]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"no generations for {len(missing)} row(s) ({', '.join(map(repr, missing[:5]))}{', ...' if len(missing) > 5 else ''})")
        if unknown:
            parts.append(f"{len(unknown)} id(s) not in the rows ({', '.join(map(repr, unknown[:5]))}{', ...' if len(unknown) > 5 else ''})")
        raise ValueError("generations do not match the rows: " + "; ".join(parts))
