"""95 % confidence intervals: Wilson's score interval against published values, and the
bootstrap over programs (deterministic, honest about what it cannot see)."""

from __future__ import annotations

import random

import pytest

from codewm.evaluate.stats import (
    BOOTSTRAP,
    WILSON,
    bootstrap_mean,
    format_ci,
    mean_ci,
    proportion_ci,
    quantile,
    wilson,
    z_value,
)


def test_z_of_a_95_percent_interval():
    assert z_value() == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.99) == pytest.approx(2.575829, abs=1e-6)
    with pytest.raises(ValueError):
        z_value(1.0)


# Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Statistics in Medicine 17:857-872, Table II, method 3 (Wilson's score
# interval without continuity correction); and 8/10, 0/10 as in Wilson (1927) / any
# statistics package (R: prop.test(8, 10, correct=FALSE)$conf.int -> 0.4901625 0.9433178).
PUBLISHED = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (8, 10, 0.4902, 0.9433),
    (0, 10, 0.0000, 0.2775),
    (10, 10, 0.7225, 1.0000),
]


@pytest.mark.parametrize("successes, n, low, high", PUBLISHED)
def test_wilson_matches_published_values(successes, n, low, high):
    got = wilson(successes, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_edges_and_errors():
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)  # no trials: anything is possible
    low, high = wilson(5, 10)
    assert low + high == pytest.approx(1.0)  # symmetric around one half
    for bad in ((11, 10), (-1, 10), (1, -1)):
        with pytest.raises(ValueError):
            wilson(*bad)
    # more trials, narrower interval
    assert wilson(80, 100)[1] - wilson(80, 100)[0] < wilson(8, 10)[1] - wilson(8, 10)[0]


def test_quantile_interpolates_like_numpy():
    values = [1.0, 2.0, 3.0, 4.0]
    assert quantile(values, 0.0) == 1.0 and quantile(values, 1.0) == 4.0
    assert quantile(values, 0.5) == 2.5
    assert quantile(values, 0.025) == pytest.approx(1.075)  # numpy.quantile(..., 0.025)


def test_the_bootstrap_is_deterministic_and_covers_the_mean():
    rng = random.Random(1)
    values = [rng.random() for _ in range(200)]
    mean = sum(values) / len(values)
    low, high = bootstrap_mean(values)
    assert low < mean < high
    assert bootstrap_mean(values) == (low, high)  # the same seed, the same interval
    assert bootstrap_mean(values, seed=2) != (low, high)
    # for a mean of n values the interval is about mean +- 1.96 sd / sqrt(n)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    assert high - low == pytest.approx(2 * 1.96 * sd / len(values) ** 0.5, rel=0.15)


def test_the_bootstrap_of_proportions_agrees_with_wilson_for_large_n():
    values = [1.0] * 300 + [0.0] * 700
    low, high = bootstrap_mean(values)
    wlow, whigh = wilson(300, 1000)
    assert low == pytest.approx(wlow, abs=0.01) and high == pytest.approx(whigh, abs=0.01)


def test_the_bootstrap_resamples_programs_not_frames():
    """Two runs with the same frame accuracy overall: one where each program is all right or
    all wrong (its frames move together), one where every program is half right. Resampling
    programs sees the first spread; the second has none between programs."""
    clustered = [1.0] * 10 + [0.0] * 10
    even = [0.5] * 20
    low, high = bootstrap_mean(clustered)
    assert high - low > 0.3
    assert bootstrap_mean(even) == (0.5, 0.5)  # no spread between programs: a point
    with pytest.raises(ValueError):
        bootstrap_mean([])
    with pytest.raises(ValueError):
        bootstrap_mean([1.0], resamples=0)


def test_interval_dicts_and_their_text():
    ci = proportion_ci([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    assert ci == {"low": 49.0162, "high": 94.3318, "method": WILSON, "n": 10}
    assert format_ci(ci) == "[49.0, 94.3]"
    boot = mean_ci([0.2, 0.4, 0.6])
    assert boot["method"] == BOOTSTRAP and boot["n"] == 3 and 20.0 <= boot["low"] < boot["high"] <= 60.0
    assert mean_ci([]) == {"low": 0.0, "high": 100.0, "method": BOOTSTRAP, "n": 0}
    assert format_ci(None) == "" and format_ci({}) == ""
