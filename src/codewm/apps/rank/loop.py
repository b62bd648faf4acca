"""The speculative validation loop: predict, rank by agreement, run the real test in order.

    ranking = rank(task, candidates, tests, predictor, sandbox=sandbox, verify=True)
    ranking.order        # candidate indices, the order the hidden test runs them in
    ranking.winner       # the first candidate whose hidden test passed (None: none did)
    ranking.runs         # the hidden-test runs made, in order, with their outcomes

Candidates and tests are distinct texts with how often each was written (a `Counter`, or a
list, duplicates counted). The predictor predicts every candidate's result on every test
(`Predictions`), the candidates are clustered by CodeT's dual agreement on those predicted
results (`agreement.clusters`), or with `by="behaviour"` by the values themselves, the
biggest cluster of candidates that behave alike first (`agreement.behaviour_clusters`), and
with `verify` the hidden test runs in the sandbox, one representative of each cluster first
(`agreement.verify_order`), until one passes.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from codewm.apps.rank.agreement import Cluster, behaviour_clusters, clusters, verify_order
from codewm.apps.rank.asserts import TestCase, parse_test
from codewm.apps.rank.execute import Outcome
from codewm.apps.rank.pool import Task
from codewm.apps.rank.predictions import Prediction, Predictions, behaviour


RANK_BY = ("agreement", "behaviour")


@dataclass
class Ranking:
    task: Task
    candidates: list[str]  # distinct bodies
    counts: list[int]  # how often each was written
    tests: list[TestCase]
    test_counts: list[int]
    predictions: list[list[Prediction]]  # [candidate][test]
    clusters: list[Cluster]  # best first
    order: list[int]  # the order of the hidden-test runs
    runs: list[tuple[int, Outcome]] = field(default_factory=list)  # (candidate, hidden outcome), in order
    winner: int | None = None

    def cluster_of(self, index: int) -> int | None:
        """The rank (0 = best) of the cluster candidate `index` is in, None if in none."""
        for rank_, cluster in enumerate(self.clusters):
            if index in cluster.members:
                return rank_
        return None

    def to_json(self) -> dict:
        return {
            "task_id": self.task.task_id,
            "order": self.order,
            "clusters": [{"members": list(c.members), "size": c.size, "agreement": c.agreement, "score": c.score} for c in self.clusters],
            "candidates": [
                {
                    "index": i,
                    "count": self.counts[i],
                    "cluster": self.cluster_of(i),
                    "predicted_passes": sum(1 for p in self.predictions[i] if p.passed),
                    "predictions": [p.to_json() for p in self.predictions[i]],
                }
                for i in range(len(self.candidates))
            ],
            "tests": [t.source for t in self.tests],
            "runs": [{"candidate": i, **outcome.to_json()} for i, outcome in self.runs],
            "winner": self.winner,
        }


def _counted(items: Sequence[str] | Counter, what: str) -> Counter:
    if isinstance(items, Counter):
        counted = items
    else:
        counted = Counter()
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise TypeError(f"{what} {index} is not a string: {type(item).__name__}")
            counted[item] += 1
    return counted


def hidden_program(task: Task) -> str | None:
    """The hidden test as the harness runs it after the candidate: HumanEval's
    `def check(candidate)` is called with the entry point; any other script runs as it is."""
    if not task.hidden_test.strip():
        return None
    if re.search(r"^def check\(", task.hidden_test, re.MULTILINE):
        return f"{task.hidden_test}\ncheck({task.entry_point})\n"
    return task.hidden_test


def rank(
    task: Task,
    candidates: Sequence[str] | Counter,
    tests: Sequence[str] | Counter,
    predictor=None,
    *,
    predictions: Predictions | None = None,
    sandbox=None,
    verify: bool = False,
    max_runs: int | None = None,
    sqrt: bool = True,
    seed: int = 0,
    by: str = "agreement",
) -> Ranking:
    """Rank `candidates` (function bodies that complete `task.prompt`) by CodeT's dual
    agreement on `predictor`'s predicted results on `tests` (assert statements), or with
    `by="behaviour"` by clusters of candidates whose predicted values on the tests' calls are
    the same (the tests' expected values unused), and with `verify` run the hidden test in
    rank order until one passes (`max_runs` at most).

    `predictions` (a `Predictions`, which holds the predictor, the sandbox and the cache)
    may be given instead of `predictor` and `sandbox`, to share a cache across rankings."""
    if predictions is None:
        if predictor is None or sandbox is None:
            raise ValueError("rank needs a predictor and a sandbox, or a Predictions")
        predictions = Predictions(predictor, sandbox)
    if by not in RANK_BY:
        raise ValueError(f"rank by {by!r}: expected one of {', '.join(RANK_BY)}")
    bodies = _counted(candidates, "candidate")
    written = _counted(tests, "test")
    programs = [task.prompt + body for body in bodies]
    cases = [parse_test(statement, task.entry_point) for statement in written]
    table = predictions.results(programs, cases)
    passes = [[p.passed is True for p in row] for row in table]
    if by == "behaviour":
        ranked = behaviour_clusters([behaviour(row, cases) for row in table], list(bodies.values()), passes, list(written.values()))
    else:
        ranked = clusters(passes, list(bodies.values()), list(written.values()), sqrt=sqrt)
    order = verify_order(ranked, len(programs), random.Random(seed))
    ranking = Ranking(task, list(bodies), list(bodies.values()), cases, list(written.values()), table, ranked, order)
    if verify:
        hidden = hidden_program(task)
        if hidden is None:
            raise ValueError(f"{task.task_id}: --verify needs the task's hidden test (its 'test' field is empty)")
        for index in order[: max_runs if max_runs is not None else len(order)]:
            (_, outcome), = predictions.real([programs[index]], [], hidden)
            predictions.hidden_runs += 1
            ranking.runs.append((index, outcome))
            if outcome.passed:
                ranking.winner = index
                break
    return ranking
