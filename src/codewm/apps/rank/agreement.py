"""CodeT's dual execution agreement, its ranked pass@k, and the runs until a correct candidate.

From CodeT's own code (`CodeT/src/agreement.py`, `evaluation.py`):

- candidates that pass the same set of tests form a cluster (a consensus set); candidates
  that pass no test are in none;
- a cluster's score is sqrt(candidates in it) x (tests it passes), both counted with their
  multiplicity (a body written 7 times counts 7 times, a test written 3 times counts 3);
- ranked pass@k: clusters of equal score are merged; one candidate is drawn from each of the
  first k (from the first ones again, round robin, when there are fewer than k), and pass@k is
  1 - prod (wrong / size) ** draws; a task with no cluster gets the plain pass@k.

`behaviour_clusters` is the other way to rank on executions, which needs no expected values:
candidates that give the same value on every test input form a cluster, the biggest first
(MBR-exec, Shi et al. 2022; AlphaCode's clustering, Li et al. 2022). With the candidates'
texts as their "behaviour" it is the no-model baseline: the most written candidate first.

`first_correct_runs` adds the cost this project cares about: the expected number of hidden
test runs until the first correct candidate, when one representative of each cluster is
run in rank order and then every other candidate in random order.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Hashable, Sequence

from codewm.evaluate.passk import pass_at_k


@dataclass(frozen=True)
class Cluster:
    members: tuple[int, ...]  # candidate indices, in input order
    tests: frozenset[int]  # the test indices they pass
    size: int  # candidates with multiplicity
    agreement: int  # passed tests with multiplicity
    score: float


def clusters(passes: Sequence[Sequence[bool]], candidate_counts: Sequence[int], test_counts: Sequence[int], sqrt: bool = True) -> list[Cluster]:
    """CodeT's consensus sets, best first. `passes[i][j]`: candidate i passes test j (real or
    predicted). Ties keep the order of first appearance (CodeT's sort is stable too)."""
    groups: dict[frozenset[int], list[int]] = {}
    for i, row in enumerate(passes):
        passed = frozenset(j for j, ok in enumerate(row) if ok)
        if passed:
            groups.setdefault(passed, []).append(i)
    out = []
    for tests, members in groups.items():
        size = sum(candidate_counts[i] for i in members)
        agreement = sum(test_counts[j] for j in tests)
        out.append(Cluster(tuple(members), tests, size, agreement, (math.sqrt(size) if sqrt else size) * agreement))
    return sorted(out, key=lambda c: -c.score)


def behaviour_clusters(behaviours: Sequence[Hashable | None], candidate_counts: Sequence[int],
                       passes: Sequence[Sequence[bool]] | None = None, test_counts: Sequence[int] | None = None) -> list[Cluster]:
    """Candidates with the same behaviour (e.g. the tuple of their values on the test inputs)
    in one cluster, scored by its size with multiplicity, biggest first; ties keep the order
    of first appearance. A candidate whose behaviour is None (nothing known of it) is in none.
    With `passes` and `test_counts`, each cluster also records the tests its first member
    passes (shown to the user; the score ignores them)."""
    groups: dict[Hashable, list[int]] = {}
    for i, behaviour in enumerate(behaviours):
        if behaviour is not None:
            groups.setdefault(behaviour, []).append(i)
    out = []
    for members in groups.values():
        size = sum(candidate_counts[i] for i in members)
        tests = frozenset(j for j, ok in enumerate(passes[members[0]]) if ok) if passes is not None else frozenset()
        agreement = sum(test_counts[j] for j in tests) if test_counts is not None else 0
        out.append(Cluster(tuple(members), tests, size, agreement, float(size)))
    return sorted(out, key=lambda c: -c.score)


def merged_groups(ranked: Sequence[Cluster]) -> list[list[int]]:
    """Clusters of equal score merged (CodeT draws one candidate per merged group)."""
    groups: list[list[int]] = []
    last = None
    for cluster in ranked:
        if groups and cluster.score == last:
            groups[-1].extend(cluster.members)
        else:
            groups.append(list(cluster.members))
            last = cluster.score
    return groups


def ranked_pass_at_k(ranked: Sequence[Cluster], correct: Sequence[bool], counts: Sequence[int], k: int) -> float:
    """CodeT's pass@k of one task (a fraction), from its ranked clusters, which candidates
    are correct, and how often each was written."""
    groups = merged_groups(ranked)
    if not groups:
        n = sum(counts)
        return pass_at_k(n, sum(c for c, ok in zip(counts, correct) if ok), min(k, n))
    draws = [1] * min(k, len(groups))
    for extra in range(k - len(draws)):
        draws[extra % len(draws)] += 1
    all_wrong = 1.0
    for members, times in zip(groups, draws):
        n = sum(counts[i] for i in members)
        c = sum(counts[i] for i in members if correct[i])
        all_wrong *= ((n - c) / n) ** times
    return 1.0 - all_wrong


def random_first_correct(correct: Sequence[bool], counts: Sequence[int]) -> float | None:
    """Expected runs until the first correct candidate in a random order of all samples
    ((n + 1) / (c + 1)); None when none is correct."""
    n = sum(counts)
    c = sum(count for count, ok in zip(counts, correct) if ok)
    return (n + 1) / (c + 1) if c else None


def verify_order(ranked: Sequence[Cluster], n_candidates: int, rng: random.Random) -> list[int]:
    """The order in which `--verify` runs hidden tests: one representative of each cluster in
    rank order (a random member of each), then the rest of the clusters' members in rank order,
    then the candidates in no cluster (input order)."""
    first, rest = [], []
    for cluster in ranked:
        members = list(cluster.members)
        rng.shuffle(members)
        first.append(members[0])
        rest.extend(members[1:])
    seen = set(first) | set(rest)
    return first + rest + [i for i in range(n_candidates) if i not in seen]


def first_correct_runs(ranked: Sequence[Cluster], correct: Sequence[bool], counts: Sequence[int], draws: int = 200, seed: int = 0) -> float | None:
    """Expected hidden-test runs until the first correct candidate in `verify_order`
    (averaged over `draws` choices of representatives, weighted by multiplicity); None when
    no candidate is correct. Distinct candidates are run once each."""
    if not any(correct):
        return None
    if not ranked:
        return random_first_correct(correct, counts)
    rng = random.Random(seed)
    total = 0.0
    for _ in range(draws):
        # a representative is drawn in proportion to how often it was written
        order = []
        for cluster in ranked:
            members = list(cluster.members)
            weights = [counts[i] for i in members]
            pick = rng.choices(members, weights)[0]
            order.append(pick)
        picked = set(order)
        tail = [i for c in ranked for i in c.members if i not in picked]
        rng.shuffle(tail)
        clustered = picked | set(tail)
        loose = [i for i in range(len(correct)) if i not in clustered]
        rng.shuffle(loose)
        for position, index in enumerate(order + tail + loose, 1):
            if correct[index]:
                total += position
                break
    return total / draws
