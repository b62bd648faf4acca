"""CWM's trace-prediction metrics: one predicted trace text against the real `Trace`.

`score_trace(predicted_text, real)` scores one trace; `aggregate` macro-averages many (every
trace weighs the same, whatever its length) and reports percentages; `by_group` does the same
per label (difficulty, `length_bucket`, ...).

`predicted_text` is the model's part of the sequence: the frames text that follows the prompt,
as `format_frames` writes it, possibly ending in `<|end_of_text|>`, possibly truncated, garbage
or empty. It is read with `parse_trace(predicted_text, context=real.context)`, which keeps
every frame read before the first error; the scores below are computed on those frames.
`score_trace` never raises on a str.

The rules (CWM names the metrics but leaves these details open; these are codewm's decisions):

- Alignment: predicted frame i is compared with real frame i, by position. The denominator of
  every per-frame metric is `max(len(predicted), len(real))`, so missing frames and extra
  frames both count as wrong. Two empty traces score 1.0 (real traces are never empty).
- valid_format: 1.0 when the whole text parses without error *and* the trace is complete
  (ends with `<|end_of_text|>`), else 0.0.
- action_exact_match: frame i counts when its event kind and source line equal the real ones.
- state_exact_match: frame i counts when the events are equal and, for call/line frames, the
  locals dicts are equal (the parser has already resolved `".."`), for return/exception
  frames, the values are equal. Depth is not compared (it follows from the events).
- key_match / key_value_match: over the positions where the real frame or the predicted frame
  has locals (a call or line frame): the Jaccard overlap of the two key sets / of the two sets
  of (key, value) pairs; two empty dicts overlap fully (1.0); a position where the other side
  is a return/exception frame or missing scores 0. The denominator is the number of such
  positions (the union of both traces' locals positions, so at least the larger of the two
  counts). With no such position at all (neither trace has a locals frame) the score is 1.0.
- valid_json: the fraction of the LOCALS objects written in the predicted text that
  `json.loads` to a dict whose values are all strings. The raw text is scanned directly (split
  on `<|frame_sep|>`; in each piece, the text between the first `<|call_sep|>`/`<|line_sep|>`
  and the next `<|action_sep|>`), not through the parser, which stops at the first bad frame.
  A piece without an `<|action_sep|>` after its step token (a frame cut off inside its locals)
  holds no delimited object and is not counted. No object at all scores 0.0 (nothing valid was
  written), unless the real trace has no locals frame either (1.0).
- output_pass_at_1: 1.0 when the parsed predicted trace has an outcome and it equals the real
  one. The outcome of a *complete* trace is its return value (`Trace.output`: the final
  depth-0 return frame), or, when the entry point was left by an exception (`Trace.raised`),
  that exception's value. A raising entry point returns "None" in the trace, so comparing
  return values alone would let a prediction that returns None normally pass for a program
  that raises; comparing outcomes does not.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from codewm.format.cwm import ACTION_SEP, CALL_SEP, FRAME_SEP, LINE_SEP, parse_trace
from codewm.types import Frame, Trace

# The names `aggregate` reports, in display order. The TraceScore field of each is the same
# name, except "output_pass@1" (a Python name cannot hold "@"): see `_FIELDS`.
METRIC_NAMES: tuple[str, ...] = (
    "valid_format",
    "action_exact_match",
    "state_exact_match",
    "key_match",
    "key_value_match",
    "valid_json",
    "output_pass@1",
)
_FIELDS: dict[str, str] = {name: name.replace("@", "_at_") for name in METRIC_NAMES}

# Trace-length buckets: (label, smallest, largest) frames; the last one is open-ended.
LENGTH_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-8", 1, 8),
    ("9-16", 9, 16),
    ("17-32", 17, 32),
    ("33-64", 33, 64),
    ("65-128", 65, 128),
    ("129+", 129, None),
)


@dataclass(slots=True)
class TraceScore:
    """The scores of one predicted trace; every metric is a fraction in [0, 1]."""

    valid_format: float
    action_exact_match: float
    state_exact_match: float
    key_match: float
    key_value_match: float
    valid_json: float
    output_pass_at_1: float
    n_real_frames: int
    n_predicted_frames: int  # frames the parser could read (up to the first error)
    parse_error: str | None  # why the parser stopped early, None when the text was well formed
    first_divergence: int | None  # first position whose event, source or state differ; None: identical

    def metrics(self) -> dict[str, float]:
        """The metric values under their report names (`METRIC_NAMES`), as fractions."""
        return {name: getattr(self, field) for name, field in _FIELDS.items()}

    def to_dict(self) -> dict:
        return asdict(self)


def outcome(trace: Trace) -> tuple[str, str] | None:
    """("return", value) or ("raise", exception) for a complete trace; None otherwise."""
    value = trace.output
    if value is None:
        return None
    if trace.raised:
        return ("raise", trace.frames[-2].value or "")
    return ("return", value)


def score_trace(predicted_text: str, real: Trace) -> TraceScore:
    """Score the frames text a model wrote against the real trace (rules: module docstring).

    Never raises on a str, however malformed; a text that is not a str scores like garbage.
    """
    parsed = parse_trace(predicted_text, context=real.context)
    predicted = parsed.trace.frames
    actual = real.frames
    positions = max(len(predicted), len(actual))

    actions = states = 0
    first_divergence: int | None = None
    for i in range(positions):
        p = predicted[i] if i < len(predicted) else None
        r = actual[i] if i < len(actual) else None
        action = p is not None and r is not None and p.event == r.event and p.source == r.source
        state = p is not None and r is not None and _same_state(p, r)
        actions += action
        states += state
        if first_divergence is None and not (action and state):
            first_divergence = i

    keys, pairs = _key_overlaps(predicted, actual)
    real_has_locals = any(frame.locals is not None for frame in actual)
    output = outcome(parsed.trace)
    return TraceScore(
        valid_format=1.0 if parsed.error is None and parsed.trace.complete else 0.0,
        action_exact_match=actions / positions if positions else 1.0,
        state_exact_match=states / positions if positions else 1.0,
        key_match=keys,
        key_value_match=pairs,
        valid_json=_valid_json(predicted_text if isinstance(predicted_text, str) else "", real_has_locals),
        output_pass_at_1=1.0 if output is not None and output == outcome(real) else 0.0,
        n_real_frames=len(actual),
        n_predicted_frames=len(predicted),
        parse_error=parsed.error,
        first_divergence=first_divergence,
    )


def _same_state(p: Frame, r: Frame) -> bool:
    if p.event != r.event:
        return False
    if r.locals is not None:
        return p.locals == r.locals
    return p.value == r.value


def _jaccard(a: set, b: set) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _key_overlaps(predicted: list[Frame], actual: list[Frame]) -> tuple[float, float]:
    """(key_match, key_value_match) over the positions where either side has locals."""
    counted = 0
    keys = pairs = 0.0
    for i in range(max(len(predicted), len(actual))):
        p = predicted[i].locals if i < len(predicted) else None
        r = actual[i].locals if i < len(actual) else None
        if p is None and r is None:
            continue  # a return/exception (or missing) frame on both sides: not a state position
        counted += 1
        if p is None or r is None:
            continue  # one side has no locals here: scores 0
        keys += _jaccard(set(p), set(r))
        pairs += _jaccard(set(p.items()), set(r.items()))
    if not counted:
        return 1.0, 1.0
    return keys / counted, pairs / counted


def _raw_locals(text: str) -> list[str]:
    """Every delimited LOCALS text in `text`, in order, whether or not it is valid JSON."""
    found = []
    for piece in text.split(FRAME_SEP):
        starts = [i for i in (piece.find(CALL_SEP), piece.find(LINE_SEP)) if i >= 0]
        if not starts:
            continue
        start = min(starts) + len(CALL_SEP)  # both step tokens have the same length
        end = piece.find(ACTION_SEP, start)
        if end >= 0:
            found.append(piece[start:end])
    return found


def _is_locals_object(raw: str) -> bool:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: deeply nested garbage
        return False
    return isinstance(data, dict) and all(isinstance(value, str) for value in data.values())


def _valid_json(text: str, real_has_locals: bool) -> float:
    objects = _raw_locals(text)
    if not objects:
        return 0.0 if real_has_locals else 1.0
    return sum(map(_is_locals_object, objects)) / len(objects)


def aggregate(scores: list[TraceScore]) -> dict[str, float]:
    """The macro-average of each metric over `scores`, in percent (0-100), keyed by
    `METRIC_NAMES`, plus "n" (the number of traces). An empty list gives 0.0 everywhere."""
    n = len(scores)
    out: dict[str, float] = {}
    for name, field in _FIELDS.items():
        out[name] = 100.0 * sum(getattr(score, field) for score in scores) / n if n else 0.0
    out["n"] = n
    return out


# Metrics that are one yes/no outcome per trace (their interval is Wilson's); the others average
# per-frame (or per-object) scores within a trace (their interval is the bootstrap over traces).
PROPORTIONS: tuple[str, ...] = ("valid_format", "output_pass@1")


def confidence_intervals(scores: list[TraceScore]) -> dict[str, dict]:
    """A 95 % interval for each metric `aggregate` reports, in percent (`codewm.evaluate.stats`):
    Wilson's for the per-trace proportions (`PROPORTIONS`), the bootstrap over traces (the
    clusters of frames) for the macro-averaged per-frame metrics."""
    from codewm.evaluate.stats import mean_ci, proportion_ci

    out: dict[str, dict] = {}
    for name, field in _FIELDS.items():
        values = [getattr(score, field) for score in scores]
        out[name] = proportion_ci(values) if name in PROPORTIONS else mean_ci(values)
    return out


def by_group(scores: list[TraceScore], groups: list[str]) -> dict[str, dict]:
    """`aggregate` per group label (`groups[i]` labels `scores[i]`), each with its "n".

    Labels keep the order in which they first appear.
    """
    if len(scores) != len(groups):
        raise ValueError(f"by_group: {len(scores)} scores but {len(groups)} group labels")
    members: dict[str, list[TraceScore]] = {}
    for score, label in zip(scores, groups):
        members.setdefault(label, []).append(score)
    return {label: aggregate(group) for label, group in members.items()}


def length_bucket(n_frames: int) -> str:
    """The trace-length bucket of a trace of `n_frames` frames: "1-8", "9-16", "17-32",
    "33-64", "65-128" or "129+" (an empty trace falls in "1-8")."""
    if n_frames < 0:
        raise ValueError(f"length_bucket: n_frames must be >= 0, got {n_frames}")
    for label, _, largest in LENGTH_BUCKETS:
        if largest is None or n_frames <= largest:
            return label
    raise AssertionError("unreachable: the last bucket is open-ended")  # pragma: no cover


def bucket_start(label: str) -> int:
    """The smallest frame count of a length-bucket label ("17-32" -> 17, "129+" -> 129), for
    ordering; a label that is not a bucket sorts last."""
    head = label.split("-", 1)[0].rstrip("+").strip()
    return int(head) if head.isdigit() else 1 << 62
