"""95 % confidence intervals for the evaluation's figures (standard library only).

Two estimators, chosen by what a figure averages:

- `wilson(successes, n)`: the Wilson score interval of a proportion, for figures that are
  one Bernoulli trial per program (output pass@1, pass@1 with one generation, valid format).
  Unlike the normal ("Wald") interval it stays inside [0, 1] and does not collapse to a
  point at 0/n or n/n: 0 of 10 gives [0, 0.278], 20 of 20 gives [0.839, 1].
- `bootstrap_mean(values)`: the percentile bootstrap of a mean over programs, for figures
  that average per-frame scores (state and action exact match, key overlaps, ...). The
  frames of one program are not independent (one early mistake spoils the frames after
  it), but the metrics are macro-averaged, one value per program, so resampling *programs*
  (the clusters) with replacement is the cluster bootstrap: each resample draws n programs,
  the interval is the 2.5th and 97.5th percentiles of the resampled means. The seed is
  fixed (same values, same interval) and 1,000 resamples are drawn by default.

  When every program scores the same (all 0 %, all 100 %) every resample has the same mean
  and the interval is that point: the data show no spread between programs, which is not
  the same as certainty. For such figures read the Wilson interval of a proportion (output
  pass@1) for how much n alone allows.

`interval(...)` packs either into the dict the results hold: `{"low", "high", "method",
"n"}`, in percent like the figures themselves.
"""

from __future__ import annotations

import math
import random
from statistics import NormalDist
from typing import Sequence

LEVEL = 0.95
RESAMPLES = 1000
SEED = 20250101  # fixed: the same values always give the same bootstrap interval

WILSON = "wilson"
BOOTSTRAP = "bootstrap"


def z_value(level: float = LEVEL) -> float:
    """The two-sided standard normal quantile of `level` (1.959964 for 0.95)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson(successes: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval (without continuity correction) of `successes` out of `n`
    trials, as fractions in [0, 1]. n = 0 gives the whole range (0, 1)."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"wilson: need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    z = z_value(level)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    # exact at the ends (the formula gives 0 and 1 up to rounding)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values, by linear interpolation between order statistics
    (numpy's default, "type 7")."""
    if not ordered:
        raise ValueError("quantile of no values")
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def bootstrap_mean(values: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of `values` (one value per program:
    resampling them is the cluster bootstrap over programs). Deterministic for a seed."""
    values = [float(v) for v in values]
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples!r}")
    if not values:
        raise ValueError("bootstrap_mean: no values")
    if min(values) == max(values):  # no spread: every resample has this mean
        return values[0], values[0]
    n = len(values)
    rng = random.Random(seed)
    means = sorted(math.fsum(rng.choices(values, k=n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    return quantile(means, tail), quantile(means, 1 - tail)


def interval(low: float, high: float, method: str, n: int) -> dict:
    """An interval of fractions as the result dict holds it: percent, rounded to 4 places."""
    return {"low": round(100.0 * low, 4), "high": round(100.0 * high, 4), "method": method, "n": n}


def proportion_ci(outcomes: Sequence[float], level: float = LEVEL) -> dict:
    """The Wilson interval of per-program 0/1 outcomes, in the result's form."""
    return interval(*wilson(sum(outcomes), len(outcomes), level), WILSON, len(outcomes))


def mean_ci(values: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """The bootstrap interval of the mean of per-program values in [0, 1], in the result's
    form. No values: the whole range [0, 1], as Wilson's interval gives for n = 0."""
    if not values:
        return interval(0.0, 1.0, BOOTSTRAP, 0)
    return interval(*bootstrap_mean(values, level, resamples, seed), BOOTSTRAP, len(values))


def format_ci(ci: dict | None) -> str:
    """"[low, high]" with one decimal, as the tables print it ("" without an interval)."""
    if not isinstance(ci, dict) or "low" not in ci or "high" not in ci:
        return ""
    return f"[{ci['low']:.1f}, {ci['high']:.1f}]"


__all__ = [
    "BOOTSTRAP",
    "LEVEL",
    "RESAMPLES",
    "SEED",
    "WILSON",
    "bootstrap_mean",
    "format_ci",
    "interval",
    "mean_ci",
    "proportion_ci",
    "quantile",
    "wilson",
    "z_value",
]
