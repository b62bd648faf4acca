"""The statistics of paired right/wrong outcomes (two models on the same programs), as the
trace-or-direct ladder (`codewm.evaluate.ladder`) reports them: Wilson intervals of each
arm's accuracy, McNemar's exact and mid-p tests, the Agresti-Min interval of the difference,
and Holm's adjustment over many tests. Standard library only.
"""

from __future__ import annotations

import math
from typing import Sequence

LEVEL = 0.95


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval of `successes` of `n`, as fractions (n = 0: (0, 1)):
    `codewm.evaluate.stats.wilson`, the evaluation's own."""
    from codewm.evaluate.stats import wilson

    return wilson(successes, n, level)


def _tail(b: int, c: int) -> tuple[int, int, int]:
    """(P(X <= min(b, c)), P(X = min(b, c))) for X ~ Binomial(b + c, 1/2), as integer numerators
    over 2 ** (b + c), and that power."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n, low = b + c, min(b, c)
    return sum(math.comb(n, i) for i in range(low + 1)), math.comb(n, low), 2**n


def mcnemar_exact(b: int, c: int) -> float:
    """McNemar's exact test: the two-sided binomial p-value of b discordant pairs one way and
    c the other, under p = 1/2: min(1, 2 P(X <= min(b, c))). No discordant pair gives 1."""
    tail, _, total = _tail(b, c)
    return min(1.0, 2 * tail / total)


def mcnemar_midp(b: int, c: int) -> float:
    """The mid-p McNemar test: the exact p-value less the probability of the observed count,
    2 (P(X < min) + P(X = min) / 2), at most 1 (Fagerland, Lydersen and Laake 2013)."""
    tail, point, total = _tail(b, c)
    return min(1.0, (2 * tail - point) / total)


def paired_difference_ci(both: int, b: int, c: int, neither: int, level: float = LEVEL) -> tuple[float, float]:
    """The Agresti-Min interval of p(trace right) - p(direct right) from a paired 2x2 table
    (both right, b: only trace right, c: only direct right, neither): 0.5 added to each cell,
    then the Wald interval of the difference of paired proportions; clipped to [-1, 1]."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    n = both + b + c + neither + 2.0
    b2, c2 = b + 0.5, c + 0.5
    diff = (b2 - c2) / n
    se = math.sqrt(max(0.0, (b2 + c2) - (b2 - c2) ** 2 / n)) / n
    return max(-1.0, diff - z * se), min(1.0, diff + z * se)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of `pvalues` (same order), each at most 1."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def summarize(pairs: Sequence[tuple[bool, bool]]) -> dict:
    """The paired figures of (trace right, direct right) pairs: see the module docstring.
    Accuracies and intervals in percent."""
    n = len(pairs)
    both = sum(t and d for t, d in pairs)
    b = sum(t and not d for t, d in pairs)
    c = sum(d and not t for t, d in pairs)
    neither = n - both - b - c
    trace_right, direct_right = both + b, both + c
    out = {"n": n, "both": both, "b": b, "c": c, "neither": neither}
    for arm, right in (("trace", trace_right), ("direct", direct_right)):
        low, high = wilson_interval(right, n)
        out[arm] = {"right": right, "accuracy": 100.0 * right / n if n else 0.0, "ci": [round(100 * low, 2), round(100 * high, 2)]}
    low, high = paired_difference_ci(both, b, c, neither)
    out["difference"] = {"points": 100.0 * (b - c) / n if n else 0.0, "ci": [round(100 * low, 2), round(100 * high, 2)], "method": "agresti-min"}
    out["p_exact"] = mcnemar_exact(b, c)
    out["p_midp"] = mcnemar_midp(b, c)
    return out
