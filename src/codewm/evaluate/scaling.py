"""How much more training a target needs: a curve fitted to held-out accuracy against
training tokens, read off where it crosses the target (standard library only).

One recipe's checkpoints, evaluated on the same held-out programs, give points
(tokens, accuracy). The fit is a straight line in the log-odds of the accuracy against the
log of the tokens:

    log(p / (1 - p)) = a + b * log(tokens)

Near p = 1 this is the power law of the error that language models follow while they are
far from their capacity (error ~ tokens^-b; Kaplan et al. 2020, "Scaling laws for neural
language models"); near p = 0, where a hard benchmark's pass@1 starts, it is a power law of
the accuracy itself (p ~ tokens^b). A power law of the error alone would read a pass@1
going from 0.3 % to 1.2 % as a curve that barely falls, and project absurd amounts of
training; the log-odds see it quadruple. Downstream accuracy is commonly fitted this way,
as a sigmoid (the Llama 3 report's scaling-law section maps log-likelihood to accuracy with one).

The tokens a target p* needs are exp((logit(p*) - a) / b). A curve that does not rise
(b <= 0) reaches no target: the projection is None, which says "change the recipe", not
"train longer".

The interval is the paired cluster bootstrap over programs (as in `codewm.evaluate.stats`):
every checkpoint was scored on the same programs, so a resample draws programs once and
recomputes every checkpoint's mean on them, then refits. Resamples whose curve does not
rise count as never reaching the target, so the upper end of the interval may be infinite.

A projection from a handful of checkpoints of a small model is an extrapolation: the curve
holds until the model's size stops it (a ceiling below the target), which a few points
cannot show. Read it as "at least this much more", not as a promise.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from codewm.evaluate.stats import LEVEL, RESAMPLES, SEED, quantile

# An accuracy of exactly 0 or 1 (a checkpoint's, or a resample's) has no log-odds: it is
# clamped this far inside (0, 1).
CLAMP = 1e-4


def logit(p: float) -> float:
    p = min(1.0 - CLAMP, max(CLAMP, p))
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class LogitLine:
    """logit(accuracy) = a + b * ln(tokens), accuracies as fractions."""

    a: float
    b: float

    def accuracy(self, tokens: float) -> float:
        """The fitted accuracy (a fraction) at `tokens`."""
        z = self.a + self.b * math.log(tokens)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def tokens_for(self, accuracy: float) -> float | None:
        """The tokens where the fitted accuracy reaches `accuracy` (a fraction in (0, 1));
        None when the curve does not rise (b <= 0), inf when it rises too slowly for a
        float to hold the answer."""
        if not 0 < accuracy < 1:
            raise ValueError(f"a target accuracy is a fraction strictly between 0 and 1, got {accuracy!r}")
        if self.b <= 0:
            return None
        exponent = (logit(accuracy) - self.a) / self.b
        return math.exp(exponent) if exponent < 700 else math.inf  # a curve almost flat: out of range


def fit_logit_line(tokens: Sequence[float], accuracies: Sequence[float]) -> LogitLine:
    """Least squares of logit(accuracy) on ln(tokens); accuracies are fractions in [0, 1].
    Needs at least two different token counts."""
    if len(tokens) != len(accuracies):
        raise ValueError(f"fit_logit_line: {len(tokens)} token counts but {len(accuracies)} accuracies")
    if len(set(tokens)) < 2:
        raise ValueError(f"fit_logit_line: needs checkpoints at two or more token counts, got {sorted(set(tokens))}")
    for t, p in zip(tokens, accuracies):
        if t <= 0:
            raise ValueError(f"fit_logit_line: token counts are positive, got {t!r}")
        if not 0 <= p <= 1:
            raise ValueError(f"fit_logit_line: accuracies are fractions in [0, 1], got {p!r}")
    xs = [math.log(t) for t in tokens]
    ys = [logit(p) for p in accuracies]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    return LogitLine(a=mean_y - slope * mean_x, b=slope)


@dataclass(frozen=True)
class Projection:
    """Where one metric's curve crosses its target."""

    law: LogitLine
    target: float  # a fraction
    tokens: float | None  # the fit's tokens for the target; None: the curve does not rise
    low: float | None  # the bootstrap interval's ends; high may be math.inf
    high: float | None
    reached: bool  # some checkpoint already scores at or above the target
    # The last stretch alone (the last two checkpoints), to show a curve that has flattened
    # while the fit through every checkpoint still rises: the gain (a fraction) with its
    # paired bootstrap interval, and the tokens a line through those two points projects.
    latest_gain: float = 0.0
    latest_gain_low: float = 0.0
    latest_gain_high: float = 0.0
    latest_tokens: float | None = None

    def as_dict(self) -> dict:
        def number(value):
            return None if value is None else ("inf" if math.isinf(value) else round(value))

        return {
            "a": self.law.a,
            "b": round(self.law.b, 4),
            "target": self.target,
            "tokens": number(self.tokens),
            "interval": [number(self.low), number(self.high)],
            "reached": self.reached,
            "latest": {
                "gain": self.latest_gain,
                "interval": [self.latest_gain_low, self.latest_gain_high],
                "tokens": number(self.latest_tokens),
            },
        }


def project(tokens: Sequence[float], per_case: Sequence[Sequence[float]], target: float, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED) -> Projection:
    """Fit the curve through each checkpoint's mean of `per_case` (one row per checkpoint,
    one value in [0, 1] per program, the same programs in the same order in every row) and
    project the tokens `target` (a fraction) needs, with the paired bootstrap interval."""
    if len(tokens) != len(per_case):
        raise ValueError(f"project: {len(tokens)} token counts but {len(per_case)} rows of cases")
    sizes = {len(row) for row in per_case}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"project: every checkpoint needs the same programs (row lengths {sorted(sizes)})")
    n = sizes.pop()
    means = [sum(row) / n for row in per_case]
    law = fit_logit_line(tokens, means)
    point = law.tokens_for(target)
    last = sorted(range(len(tokens)), key=lambda i: tokens[i])[-2:]  # the last stretch
    latest = fit_logit_line([tokens[i] for i in last], [means[i] for i in last])
    rng = random.Random(seed)
    draws: list[float] = []
    gains: list[float] = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        sample = [sum(row[i] for i in picks) / n for row in per_case]
        needed = fit_logit_line(tokens, sample).tokens_for(target)
        draws.append(math.inf if needed is None else needed)
        gains.append(sample[last[1]] - sample[last[0]])
    draws.sort()
    gains.sort()
    tail = (1 - level) / 2
    return Projection(
        law=law,
        target=target,
        tokens=point,
        low=_quantile(draws, tail),
        high=_quantile(draws, 1 - tail),
        reached=any(mean >= target for mean in means),
        latest_gain=means[last[1]] - means[last[0]],
        latest_gain_low=quantile(gains, tail),
        latest_gain_high=quantile(gains, 1 - tail),
        latest_tokens=latest.tokens_for(target),
    )


def _quantile(ordered: Sequence[float], q: float) -> float:
    """`stats.quantile`, where a neighbour that never reaches the target (inf) makes the
    quantile inf rather than nan."""
    position = (len(ordered) - 1) * q
    if math.isinf(ordered[min(math.floor(position) + 1, len(ordered) - 1)]):
        return math.inf
    return quantile(ordered, q)
