"""How much more training a target needs: a power law fitted to held-out accuracy against
training tokens, read off where it crosses the target (standard library only).

One recipe's checkpoints, evaluated on the same held-out programs, give points
(tokens, accuracy). The error `1 - accuracy` of a language model falls as a power of the
training tokens while the model is far from its capacity (Kaplan et al. 2020,
"Scaling laws for neural language models"), so the fit is a straight line in log-log:

    log(error) = log(c) - alpha * log(tokens)

and the tokens a target accuracy needs are `(c / (1 - target)) ** (1 / alpha)`. A curve
that does not fall (alpha <= 0) reaches no target: the projection is None, which says
"change the recipe", not "train longer".

The interval is the paired cluster bootstrap over programs (as in `codewm.evaluate.stats`):
every checkpoint was scored on the same programs, so a resample draws programs once and
recomputes every checkpoint's mean on them, then refits. Resamples whose curve does not
fall count as never reaching the target, so the upper end of the interval may be infinite.

A projection from a handful of checkpoints of a small model is an extrapolation: the power
law holds until the model's size stops it (the error's floor), which a few points cannot
show. Read it as "at least this much more", not as a promise.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from codewm.evaluate.stats import LEVEL, RESAMPLES, SEED, quantile

# An accuracy of exactly 1 (or a resample's) has no log error: clamp the error to this.
MIN_ERROR = 1e-4


@dataclass(frozen=True)
class PowerLaw:
    """error(tokens) = c * tokens ** -alpha, errors as fractions in (0, 1]."""

    c: float
    alpha: float

    def accuracy(self, tokens: float) -> float:
        """The fitted accuracy (a fraction) at `tokens`."""
        return 1.0 - min(1.0, self.c * tokens ** (-self.alpha))

    def tokens_for(self, accuracy: float) -> float | None:
        """The tokens where the fitted accuracy reaches `accuracy` (a fraction in (0, 1));
        None when the curve does not fall (alpha <= 0), inf when it falls too slowly for
        a float to hold the answer."""
        if not 0 < accuracy < 1:
            raise ValueError(f"a target accuracy is a fraction strictly between 0 and 1, got {accuracy!r}")
        if self.alpha <= 0:
            return None
        exponent = math.log(self.c / (1.0 - accuracy)) / self.alpha
        return math.exp(exponent) if exponent < 700 else math.inf  # a curve almost flat: out of range


def fit_power_law(tokens: Sequence[float], accuracies: Sequence[float]) -> PowerLaw:
    """Least squares of log(error) on log(tokens); accuracies are fractions in [0, 1].
    Needs at least two different token counts."""
    if len(tokens) != len(accuracies):
        raise ValueError(f"fit_power_law: {len(tokens)} token counts but {len(accuracies)} accuracies")
    if len(set(tokens)) < 2:
        raise ValueError(f"fit_power_law: needs checkpoints at two or more token counts, got {sorted(set(tokens))}")
    for t, a in zip(tokens, accuracies):
        if t <= 0:
            raise ValueError(f"fit_power_law: token counts are positive, got {t!r}")
        if not 0 <= a <= 1:
            raise ValueError(f"fit_power_law: accuracies are fractions in [0, 1], got {a!r}")
    xs = [math.log(t) for t in tokens]
    ys = [math.log(max(MIN_ERROR, 1.0 - a)) for a in accuracies]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    return PowerLaw(c=math.exp(mean_y - slope * mean_x), alpha=-slope)


@dataclass(frozen=True)
class Projection:
    """Where one metric's curve crosses its target."""

    law: PowerLaw
    target: float  # a fraction
    tokens: float | None  # the fit's tokens for the target; None: the curve does not fall
    low: float | None  # the bootstrap interval's ends; high may be math.inf
    high: float | None
    reached: bool  # some checkpoint already scores at or above the target

    def as_dict(self) -> dict:
        def number(value):
            return None if value is None else ("inf" if math.isinf(value) else round(value))

        return {
            "c": self.law.c,
            "alpha": round(self.law.alpha, 4),
            "target": self.target,
            "tokens": number(self.tokens),
            "interval": [number(self.low), number(self.high)],
            "reached": self.reached,
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
    law = fit_power_law(tokens, means)
    point = law.tokens_for(target)
    rng = random.Random(seed)
    draws: list[float] = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        sample = [sum(row[i] for i in picks) / n for row in per_case]
        needed = fit_power_law(tokens, sample).tokens_for(target)
        draws.append(math.inf if needed is None else needed)
    draws.sort()
    tail = (1 - level) / 2
    return Projection(
        law=law,
        target=target,
        tokens=point,
        low=_quantile(draws, tail),
        high=_quantile(draws, 1 - tail),
        reached=any(mean >= target for mean in means),
    )


def _quantile(ordered: Sequence[float], q: float) -> float:
    """`stats.quantile`, where a neighbour that never reaches the target (inf) makes the
    quantile inf rather than nan."""
    position = (len(ordered) - 1) * q
    if math.isinf(ordered[min(math.floor(position) + 1, len(ordered) - 1)]):
        return math.inf
    return quantile(ordered, q)
