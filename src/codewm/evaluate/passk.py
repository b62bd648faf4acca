"""pass@k: the unbiased estimator of Chen et al. (2021, the Codex paper), as CRUXEval uses it.

For a sample with `n` generations of which `c` are correct, pass@k = 1 - C(n-c, k) / C(n, k):
the probability that at least one of k generations drawn without replacement is correct.
It is computed as the product 1 - prod_{i=n-c+1}^{n} (1 - k/i), which equals the binomial form
but never builds the huge binomials. Benchmarks report the mean over samples, in percent.
"""

from __future__ import annotations

import math
import operator


def _count(name: str, value) -> int:
    # operator.index accepts ints (and numpy integers) but refuses floats and strings.
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"pass@k: {name} must be an integer, got {value!r}") from None


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one sample (a fraction in [0, 1]).

    `n` generations, `c` of them correct, `k` drawn. Raises ValueError unless
    n >= 1, 0 <= c <= n and 1 <= k <= n.
    """
    n, c, k = _count("n", n), _count("c", c), _count("k", k)
    if n < 1:
        raise ValueError(f"pass@k: n (the number of generations) must be >= 1, got {n}")
    if k < 1:
        raise ValueError(f"pass@k: k must be >= 1, got {k}")
    if c < 0 or c > n:
        raise ValueError(f"pass@k: c (correct generations) must be between 0 and n={n}, got {c}")
    if n < k:
        raise ValueError(f"pass@k: a sample has n={n} generations, fewer than k={k}; pass@{k} needs at least {k}")
    if n - c < k:
        return 1.0  # every draw of k generations contains a correct one
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(counts: list[tuple[int, int]], k: int) -> float:
    """The mean pass@k over samples given as (n, c) pairs, in percent (0-100).

    An empty list gives 0.0. A sample with fewer than k generations raises ValueError naming
    it (its pass@k is undefined; generate more, or report a smaller k).
    """
    if not counts:
        return 0.0
    total = 0.0
    for index, (n, c) in enumerate(counts):
        if _count("n", n) < _count("k", k):
            raise ValueError(f"pass@{k}: sample {index} has n={n} generations, fewer than k={k}")
        total += pass_at_k(n, c, k)
    return 100.0 * total / len(counts)
