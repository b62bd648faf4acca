"""Scoring predicted failing sets against the real ones.

Every (mutant, test) pair is one binary decision: the test fails (positive) or not. The
pooled counts give per-test accuracy, precision, recall and F1 of the failing set; a mutant's
predicted set either equals its real one or not (exact-set match); a mutant is predicted
killed when its predicted set is not empty (killed accuracy); and where a predictor gives a
score per test, the pooled AUROC (ties count half: the Mann-Whitney statistic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Guess:
    """A predictor's answer for one mutant: the tests it says fail, and optionally a score
    per test (higher: more likely to fail)."""

    failing: frozenset[str]
    scores: dict[str, float] | None = None


@dataclass
class Score:
    mutants: int = 0
    pairs: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    exact: int = 0
    killed_right: int = 0
    scored: list[tuple[float, bool]] = field(default_factory=list)  # (score, really fails), when scores are given
    unscored: bool = False  # some guess had no scores: no AUROC

    def add(self, tests: Iterable[str], failing: frozenset[str], guess: Guess) -> None:
        tests = list(tests)
        predicted = guess.failing & set(tests)
        self.mutants += 1
        self.pairs += len(tests)
        for test in tests:
            real, said = test in failing, test in predicted
            self.tp += real and said
            self.fp += said and not real
            self.fn += real and not said
            self.tn += not real and not said
            if guess.scores is not None:
                self.scored.append((float(guess.scores.get(test, 0.0)), real))
        if guess.scores is None:
            self.unscored = True
        self.exact += predicted == failing
        self.killed_right += bool(predicted) == bool(failing)

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.pairs if self.pairs else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def exact_match(self) -> float:
        return self.exact / self.mutants if self.mutants else 0.0

    @property
    def killed_accuracy(self) -> float:
        return self.killed_right / self.mutants if self.mutants else 0.0

    @property
    def auroc(self) -> float | None:
        return None if self.unscored else auroc(self.scored)

    def to_dict(self) -> dict:
        auc = self.auroc
        return {"mutants": self.mutants, "pairs": self.pairs, "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "accuracy": round(self.accuracy, 4), "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "exact_match": round(self.exact_match, 4), "killed_accuracy": round(self.killed_accuracy, 4),
                "auroc": None if auc is None else round(auc, 4)}


def auroc(pairs: list[tuple[float, bool]]) -> float | None:
    """The probability that a random failing test scores above a random passing one (ties
    count half); None when either kind is missing."""
    positives = sum(1 for _, real in pairs if real)
    negatives = len(pairs) - positives
    if not positives or not negatives:
        return None
    ordered = sorted(pairs, key=lambda p: p[0])
    rank_sum = 0.0
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        average = (i + 1 + j) / 2  # ranks i+1 .. j share their mean
        rank_sum += average * sum(1 for k in range(i, j) if ordered[k][1])
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
