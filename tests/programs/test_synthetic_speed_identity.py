"""The generator's speed-ups must not change a single program.

The hashes below were computed with the generator as it was before it was optimized (the
programs' source, call, id and meta of the first 60 cases of each configuration), so any change
to the sequence of random draws, or to what is made of them, shows up here.
"""

import hashlib
import json
import math
import random
from bisect import bisect_right

import pytest

from codewm.programs.synthetic import SyntheticSource
from codewm.programs.synthetic import kind_thresholds as _kind_thresholds
from codewm.programs.synthetic import weighted_index as _weighted_index

GOLDEN = [
    (dict(seed=0, mode="general"), "04f3af29c3fbf0df132448019d483786c7f1f247a56d4b887f78620f59dd09d8"),
    (dict(seed=1, mode="cruxeval"), "860451e1c7494a138acadfd5720ff11249700b179d9a02e6760291e6a9b6b31b"),
    (
        dict(seed=2, mode="general", max_statements=12, recursion=False, types=("int", "str", "list")),
        "bdc9c2b89a69f4e314ff7ca1a9407f23fdb231df7d3accee8995d0f7a428eab4",
    ),
    (
        dict(seed=3, mode="general", mutation=False, exception_prob=0.9, class_prob=0.9, helper_prob=0.9),
        "ba4f0e945b2c77a125ec4e65f8b45a280d7de821a3365bc64f8dd9c98dfaf2e4",
    ),
]


@pytest.mark.parametrize("knobs,digest", GOLDEN, ids=[f"{k['mode']}-{k['seed']}" for k, _ in GOLDEN])
def test_programs_match_the_unoptimized_generator(knobs, digest):
    cases = [(c.source, c.call, c.id, c.meta) for c in SyntheticSource(count=60, **knobs).cases()]
    data = json.dumps(cases, sort_keys=True)
    assert hashlib.sha256(data.encode()).hexdigest() == digest


# Computed with the generator as one module (programs/synthetic.py, before it became a package):
# the curriculum's tiers and a CRUXEval-style configuration, which GOLDEN does not cover.
GOLDEN_BEFORE_THE_SPLIT = [
    (dict(seed=0, mode="simple"), "0dc4827aecfdf9a45917959588a7690513b6d23473eab859a633f62c63c36225"),
    (dict(seed=0, mode="loops"), "fdab27dfecf40174998875373310241affd5cc114da08f1a1de79710f292ac49"),
    (
        dict(seed=5, mode="cruxeval", mutation=False, types=("str", "list", "dict")),
        "3e41ec19b7af1d1d0a803dc5ed3075418ac43b808bdb70cdba9a1dacd6f92149",
    ),
]


@pytest.mark.parametrize(
    "knobs,digest", GOLDEN_BEFORE_THE_SPLIT, ids=[f"{k['mode']}-{k['seed']}" for k, _ in GOLDEN_BEFORE_THE_SPLIT]
)
def test_tiers_match_the_generator_before_the_split(knobs, digest):
    test_programs_match_the_unoptimized_generator(knobs, digest)


@pytest.mark.parametrize(
    "weights",
    [
        [3, 3, 3],
        [3, 3, 3, 0.6, 1.6, 3.2, 1.2, 0.9, 0.6, 1.2, 0.3, 1.0, 0.6, 0.2, 1.5],
        [3, 3, 3, 2.2, 2.8, 0.4, 0.6, 0.6],
        [3, 3, 3, 2.0, 1.6, 0.6, 0.9, 0.6, 1.2, 0.3],
    ],
)
def test_kind_thresholds_pick_what_sequential_subtraction_picks(weights):
    """statement() bisects thresholds instead of subtracting weights in turn: the same kind, always."""
    total = sum(weights)
    thresholds = _kind_thresholds(weights, total)
    rng = random.Random(7)
    xs = [rng.random() * total for _ in range(5000)]
    for t in thresholds:  # the boundaries themselves and their float neighbours
        if t < total:
            xs += [t, math.nextafter(t, 0.0), math.nextafter(t, total)]
    for x in xs:
        assert bisect_right(thresholds, x) == _weighted_index(weights, x)
