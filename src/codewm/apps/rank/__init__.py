"""Speculative validation: rank candidate programs by predicted execution (CodeT's dual
agreement on what a world model predicts they do on model-written tests), then run the real
hidden test only in rank order, until one passes.

    from codewm.apps.rank import Predictions, Task, rank
    ranking = rank(task, candidates, tests, predictions=Predictions(predictor, sandbox, "cache.jsonl"), verify=True)

Modules: `pool` (CodeT's format and cuts), `asserts` (a test as a call to predict and a check),
`execute` (every test of a candidate in one sandboxed harness process), `predictions` (the
oracle's real results or a model's predicted ones, cached), `agreement` (CodeT's clusters,
ranked pass@k, runs to the first correct candidate), `loop` (`rank`), `patch` (candidates as
patches of one function of a file).
"""

from codewm.apps.rank.loop import Ranking, rank
from codewm.apps.rank.pool import Problem, Task, read_pool
from codewm.apps.rank.predictions import Prediction, Predictions

__all__ = ["Prediction", "Predictions", "Problem", "Ranking", "Task", "rank", "read_pool"]
