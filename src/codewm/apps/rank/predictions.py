"""Each candidate's result on each test input, predicted (any world model) or real (oracle).

`Predictions.results(program, tests)` answers one row per candidate: a `Prediction` per test.

- The oracle (`"oracle"`, or an `OraclePredictor`) is real execution: every test of a
  candidate in one sandboxed harness process (`codewm.apps.rank.execute`); its verdicts are
  the real ones.
- Any other predictor predicts the trace of `CALL` on the candidate (`build_context`, decoded
  frame by frame by `codewm.predict.decode`; docstrings left out) and reads the predicted return value; the test's
  check decides whether that value passes (`TestCase.verdict`). Tests with no single call of
  the entry point, or whose check a value cannot decide, read as unknown (not passed).

Every answer is saved in a `PredictionCache` (JSONL, one line per answer, flushed as it is
made) keyed by sha256 of the predictor's fingerprint, the program and the test input, so a
killed ranking resumes and a second ranking with new candidates reuses the old answers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from codewm.apps.rank.asserts import TestCase
from codewm.apps.rank.execute import HIDDEN_SECONDS, PER_TEST_SECONDS, Outcome, execute
from codewm.evaluate.cache import PredictionCache, prediction_key
from codewm.format.cwm import END, RETURN_SEP, parse_trace
from codewm.predict.base import STEP_FRAME, FrameRequest
from codewm.predict.decode import STOP_COMPLETE, STOP_UNPARSEABLE, STOPS, DecodeLimits, PredictedTrace, predict_traces
from codewm.types import build_context


@dataclass(frozen=True)
class Prediction:
    """What a predictor says one candidate does on one test."""

    passed: bool | None  # the test's verdict on the predicted value; None: cannot tell
    output: str | None  # the predicted (or real) repr of the call's value
    confidence: float  # how sure the predictor is of `output` (1.0 for real execution)
    status: str  # oracle: the real Outcome's status; model: how decoding stopped

    def to_json(self) -> dict:
        return {"passed": self.passed, "output": self.output, "confidence": self.confidence, "status": self.status}

    @classmethod
    def from_json(cls, data: dict) -> "Prediction":
        return cls(data["passed"], data["output"], float(data["confidence"]), str(data["status"]))

    @classmethod
    def real(cls, outcome: Outcome) -> "Prediction":
        """A real run's outcome, as the oracle's prediction (certain)."""
        return cls(outcome.passed, outcome.output, 1.0, outcome.status)


# A prediction with no value and one of these statuses says nothing of the candidate's
# behaviour: the model lost the thread, or the test has no call. (A real run's statuses, and a
# model's whole trace that ends without a value, say the call raised.)
_NOTHING_KNOWN = (set(STOPS) - {STOP_COMPLETE}) | {"no_call"}


def behaviour(row: Sequence[Prediction], tests: Sequence[TestCase]) -> tuple | None:
    """What one candidate does on the distinct test calls (in order of first appearance): the
    value's repr, `<status>` where it raised (or timed out, or exited), None where nothing is
    known. None when no call gave a value: such a candidate is in no behaviour cluster."""
    seen: dict[str, str | None] = {}
    valued = False
    for prediction, test in zip(row, tests):
        if test.call is None or test.call in seen:
            continue
        if prediction.output is not None:
            seen[test.call], valued = prediction.output, True
        elif prediction.status in _NOTHING_KNOWN:
            seen[test.call] = None
        else:
            seen[test.call] = f"<{'raised' if prediction.status == STOP_COMPLETE else prediction.status}>"
    return tuple(seen.values()) if valued else None


def is_oracle(predictor) -> bool:
    return getattr(predictor, "name", None) == "oracle"


def fingerprint(predictor) -> str:
    return str(getattr(predictor, "fingerprint", getattr(predictor, "name", type(predictor).__name__)))


class Predictions:
    """Predicted or real results, cached. `sandbox` runs the oracle and the hidden tests;
    `cache` is a path or a PredictionCache (None: nothing saved)."""

    def __init__(self, predictor, sandbox, cache: str | Path | PredictionCache | None = None,
                 per_test_seconds: float = PER_TEST_SECONDS, hidden_seconds: float = HIDDEN_SECONDS,
                 limits: DecodeLimits = DecodeLimits(max_frames=256, max_tokens=8192), direct: bool = False) -> None:
        self.predictor = predictor
        self.sandbox = sandbox
        self.cache = cache if isinstance(cache, PredictionCache) or cache is None else PredictionCache(cache)
        self.per_test_seconds = per_test_seconds
        self.hidden_seconds = hidden_seconds
        self.limits = limits
        self.direct = direct  # step over the call: the return value without the body's frames
        self.calls = 0  # predictor calls made (programs run, for the oracle; traces decoded, for a model)
        self.seconds = 0.0  # spent in them
        self.hidden_runs = 0  # real hidden-test runs made

    # -- the cache -----------------------------------------------------------------------------
    def _get(self, key: str):
        return self.cache.get(key) if self.cache is not None else None

    def _put(self, key: str, value) -> None:
        if self.cache is not None:
            self.cache.put(key, value)

    def _key(self, kind: str, program: str, test: str) -> str:
        if kind == "real":
            return prediction_key("rank-real", program, test, self.per_test_seconds)
        if kind == "hidden":
            return prediction_key("rank-hidden", program, test, self.hidden_seconds)
        how = "direct" if self.direct else (self.limits.max_frames, self.limits.max_tokens, self.limits.rules)
        return prediction_key("rank-model", fingerprint(self.predictor), program, test, how)

    # -- real execution ------------------------------------------------------------------------
    def real(self, programs: Sequence[str], tests: Sequence[TestCase], hidden: str | None = None) -> list[tuple[list[Outcome], Outcome | None]]:
        """Each program's real Outcome on every test (and on the hidden check, when given)."""
        rows: list[list[Outcome] | None] = []
        hiddens: list[Outcome | None] = []
        jobs, owners = [], []
        for index, program in enumerate(programs):
            row = [self._get(self._key("real", program, t.source)) for t in tests]
            held = self._get(self._key("hidden", program, hidden)) if hidden is not None else None
            if all(item is not None for item in row) and (hidden is None or held is not None):
                rows.append([Outcome.from_json(item) for item in row])
                hiddens.append(Outcome.from_json(held) if held is not None else None)
                continue
            rows.append(None)
            hiddens.append(None)
            jobs.append((program, list(tests), hidden))
            owners.append(index)

        def save(job: int, outcomes: list[Outcome]) -> None:
            index = owners[job]
            program = programs[index]
            for test, outcome in zip(tests, outcomes):
                self._put(self._key("real", program, test.source), outcome.to_json())
            rows[index] = outcomes[: len(tests)]
            if hidden is not None:
                self._put(self._key("hidden", program, hidden), outcomes[-1].to_json())
                hiddens[index] = outcomes[-1]

        if jobs:
            start = time.perf_counter()
            execute(jobs, self.sandbox, self.per_test_seconds, self.hidden_seconds, on_done=save)
            self.seconds += time.perf_counter() - start
            self.calls += len(jobs)
        return [(row, held) for row, held in zip(rows, hiddens)]  # type: ignore[misc]

    # -- predictions ---------------------------------------------------------------------------
    def results(self, programs: Sequence[str], tests: Sequence[TestCase]) -> list[list[Prediction]]:
        """One Prediction per (program, test), predicted by the predictor."""
        if is_oracle(self.predictor):
            return [[Prediction.real(o) for o in row] for row, _ in self.real(programs, tests)]
        table: dict[tuple[int, int], Prediction] = {}
        wanted: dict[str, list[tuple[int, int, str]]] = {}  # context -> (program, test, key)
        for i, program in enumerate(programs):
            for j, test in enumerate(tests):
                if test.call is None:
                    table[i, j] = Prediction(None, None, 0.0, "no_call")
                    continue
                key = self._key("model", program, test.call)
                saved = self._get(key)
                if saved is not None:
                    table[i, j] = _judged(test, saved)
                else:
                    wanted.setdefault(build_context(without_docstrings(program), test.call), []).append((i, j, key))
        if wanted:
            contexts = list(wanted)

            def finished(index: int, predicted) -> None:
                value = {"output": predicted.output, "confidence": _confidence(predicted), "status": predicted.stop}
                for i, j, key in wanted[contexts[index]]:
                    self._put(key, value)
                    table[i, j] = _judged(tests[j], value)

            start = time.perf_counter()
            if self.direct:
                for index, predicted in enumerate(step_over(self.predictor, contexts, self.limits)):
                    finished(index, predicted)
            else:
                predict_traces(self.predictor, contexts, self.limits, logprobs=True, on_finish=finished)
            self.seconds += time.perf_counter() - start
            self.calls += len(contexts)
        return [[table[i, j] for j in range(len(tests))] for i in range(len(programs))]

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def step_over(predictor, contexts: list[str], limits: DecodeLimits) -> list[PredictedTrace]:
    """Each call's value predicted directly, as the debugger's `next` steps over a call: the
    model writes the wrapper's call frame, then, given `<|return_sep|>`, its return (the
    value), without simulating the body. Two batched model calls for all contexts."""
    first = predictor.next_frames([FrameRequest(c, "", limits.max_frame_tokens) for c in contexts])
    out = [PredictedTrace(c) for c in contexts]
    asks = [i for i, step in enumerate(first) if step.finish == STEP_FRAME]
    for i, step in enumerate(first):
        if step.finish != STEP_FRAME:
            out[i].stop = STOP_UNPARSEABLE
    answers = predictor.next_frames([FrameRequest(contexts[i], first[i].text, limits.max_frame_tokens, logprobs=True, prefix=RETURN_SEP) for i in asks])
    for i, step in zip(asks, answers):
        item = out[i]
        item.steps = [first[i], step]
        # the wrapper returned at depth 0: the trace is whole, its end written as the grammar says
        item.text = first[i].text + step.text + END
        parsed = parse_trace(item.text, item.context)
        item.trace = parsed.trace
        returned = step.finish == STEP_FRAME and step.text.startswith(RETURN_SEP) and parsed.error is None and parsed.trace.frames and parsed.trace.frames[-1].event == "return"
        item.stop = STOP_COMPLETE if returned else STOP_UNPARSEABLE
        if not returned:
            item.trace = None
    return out


def without_docstrings(program: str) -> str:
    """The program without its docstrings (HumanEval's run to hundreds of tokens, and a
    trace never shows them), so a model reads only the code; a program that does not parse
    is returned as it is (its trace is an error the model should predict)."""
    import ast

    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return program
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree) + "\n"


def _judged(test: TestCase, value: dict) -> Prediction:
    return Prediction(test.verdict(value["output"]), value["output"], float(value["confidence"]), str(value["status"]))


def _confidence(predicted) -> float:
    """The per-token probability (geometric mean) the model gave the frame that holds its
    answer (the return), or 0 when decoding never reached one."""
    if predicted.output is None or not predicted.steps:
        return 0.0
    logprobs = predicted.steps[-1].token_logprobs
    if not logprobs:
        return 1.0  # a backend without log-probabilities: no measure, the answer stands
    return math.exp(sum(logprobs) / len(logprobs))
