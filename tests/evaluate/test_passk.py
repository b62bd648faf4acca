"""The unbiased pass@k estimator against known values and the binomial formula."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewm.evaluate.passk import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (10, 3, 1, 0.3),
        (5, 5, 3, 1.0),
        (5, 0, 1, 0.0),
        (5, 0, 5, 0.0),
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (10, 3, 2, 1 - 21 / 45),  # 1 - C(7,2)/C(10,2)
        (4, 2, 3, 1.0),  # n - c < k: every draw of 3 contains a correct one
    ],
)
def test_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_matches_the_binomial_formula(args):
    n, c, k = args
    expected = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_large_n_is_stable():
    # C(1000, 500) does not fit in a float; the product form never builds it.
    assert pass_at_k(1000, 1, 500) == pytest.approx(0.5, rel=1e-12)
    assert 0.0 <= pass_at_k(10**6, 3, 10) <= 1.0


@pytest.mark.parametrize(
    "n, c, k, message",
    [
        (0, 0, 1, "n .* must be >= 1"),
        (5, 1, 0, "k must be >= 1"),
        (5, 6, 1, "c .* between 0 and n=5"),
        (5, -1, 1, "c .* between 0 and n=5"),
        (3, 1, 5, "n=3 generations, fewer than k=5"),
        (5.0, 1, 1, "n must be an integer"),
        (5, 1, "1", "k must be an integer"),
    ],
)
def test_invalid_arguments(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_in_percent():
    assert mean_pass_at_k([(10, 3), (5, 5), (5, 0)], 1) == pytest.approx(100 * (0.3 + 1.0 + 0.0) / 3, rel=1e-12)
    assert mean_pass_at_k([(1, 1), (1, 0), (1, 1), (1, 1)], 1) == 75.0
    assert mean_pass_at_k([], 1) == 0.0


def test_mean_pass_at_k_names_a_sample_with_too_few_generations():
    with pytest.raises(ValueError, match="sample 1 has n=2 generations, fewer than k=5"):
        mean_pass_at_k([(10, 3), (2, 1)], 5)
