"""Every predictor on every case, scored, and the table the benchmark prints."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from codewm.apps.mutant_tests.cases import MutantCase
from codewm.apps.mutant_tests.metrics import Guess, Score

Guesser = Callable[[MutantCase], Guess]


@dataclass
class PredictorResult:
    name: str
    sees: str
    score: Score = field(default_factory=Score)
    seconds: float = 0.0
    predictor_calls: int = 0  # a world model's calls (programs run or traces decoded); 0 for the others

    def to_dict(self) -> dict:
        return {"predictor": self.name, "sees": self.sees, **self.score.to_dict(), "seconds": round(self.seconds, 2),
                "predictor_calls": self.predictor_calls}


def score_all(cases: Sequence[MutantCase], guessers: dict[str, tuple[Guesser, str]],
              progress: Callable[[str, int], None] | None = None) -> list[PredictorResult]:
    """Each guesser (name -> (guesser, what it sees)) on each case, in order."""
    results = []
    for name, (guess, sees) in guessers.items():
        result = PredictorResult(name, sees)
        for index, case in enumerate(cases):
            started = time.perf_counter()
            answer = guess(case)
            result.seconds += time.perf_counter() - started
            result.score.add(case.tests, case.failing, answer)
            if progress is not None:
                progress(name, index + 1)
        results.append(result)
    return results


def table(results: Sequence[PredictorResult]) -> str:
    """One line per predictor: the metrics, its calls and seconds."""
    lines = [f"{'predictor':<26} {'acc':>6} {'prec':>6} {'rec':>6} {'F1':>6} {'exact':>6} {'killed':>6} {'AUROC':>6} {'calls':>6} {'sec':>7}"]
    for r in results:
        s = r.score
        auc = s.auroc
        lines.append(f"{r.name:<26} {s.accuracy:6.3f} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.exact_match:6.3f} "
                     f"{s.killed_accuracy:6.3f} {'-' if auc is None else f'{auc:.3f}':>6} {r.predictor_calls:>6} {r.seconds:7.1f}")
    return "\n".join(lines)
