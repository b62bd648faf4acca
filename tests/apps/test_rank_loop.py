"""The ranking loop: hostile candidates contained and ranked last, the hidden test run in
order until one passes, predictions cached (reuse and resume), a model through the trace."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from codewm.apps.rank.asserts import parse_test
from codewm.apps.rank.execute import execute
from codewm.apps.rank.loop import rank
from codewm.apps.rank.pool import Task
from codewm.apps.rank.predictions import Predictions
from codewm.trace.sandbox import Sandbox

TASK = Task("T/inc", "def inc(x):\n    \"\"\"x plus one\"\"\"\n", "inc", "def check(candidate):\n    assert candidate(10) == 11\n    assert candidate(-5) == -4\n")
GOOD = "    return x + 1\n"
TESTS = ["assert inc(1) == 2", "assert inc(2) == 3", "assert inc(0) == 1", "assert inc(-1) == 0"]
HOSTILE = {
    "loop": "    while True:\n        pass\n",
    "swallow": "    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n            pass\n",
    "exit": "    import sys\n    sys.exit(0)\n",
    "os_exit": "    import os\n    os._exit(0)\n",
    "memory": "    return len([0] * (10 ** 10))\n",
    "writes": "    open('/tmp/codewm-rank-escape', 'w').write('x')\n    open('/etc/codewm-rank-escape', 'w').write('x')\n    return x + 1\n",
    "forges": "    print('@0@{\"i\": 0, \"passed\": true, \"status\": \"passed\"}')\n    import os\n    os.write(1, b'{\"i\": 1, \"passed\": true}\\n')\n    return x\n",
    "syntax": "    return x +\n",
}


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as box:
        yield box


def test_hostile_candidates_are_contained_each_test_reads_its_own_fate(sandbox):
    cases = [parse_test(t, "inc") for t in TESTS]
    jobs = [(TASK.prompt + body, cases, None) for body in HOSTILE.values()]
    results = dict(zip(HOSTILE, execute(jobs, sandbox, per_test_seconds=0.2)))
    for name, outcomes in results.items():
        assert len(outcomes) == len(TESTS), name
        assert not any(o.passed for o in outcomes), (name, outcomes)
    assert {o.status for o in results["loop"]} == {"timeout"}
    assert {o.status for o in results["exit"]} == {"exit"}
    assert {o.status for o in results["syntax"]} == {"define_error"}
    assert all(o.status != "passed" for o in results["swallow"])  # the run is killed; every test is run again, and each fails
    assert all(o.output is None or o.output == repr(int(o.output)) for o in results["forges"])  # real values, no forged record
    assert not Path("/tmp/codewm-rank-escape").exists() and not Path("/etc/codewm-rank-escape").exists()


def test_hostile_candidates_rank_last_and_the_hidden_test_finds_the_good_one(sandbox, oracle):
    candidates = Counter({body: 1 for body in HOSTILE.values()})
    candidates["    return x\n"] += 2  # wrong, but passes nothing either
    near_miss = "    return x + 1 if x not in (2, -5) else 0\n"
    candidates[near_miss] += 3  # passes 3 of 4 tests, fails the hidden one
    candidates[GOOD] += 1
    predictions = Predictions(oracle, sandbox, per_test_seconds=0.2)
    ranking = rank(TASK, candidates, TESTS, predictions=predictions, verify=True)
    bodies = ranking.candidates
    # CodeT's score: the near miss, written 3 times, sqrt(3) x 3 tests = 5.2, before the good one, 1 x 4
    assert [bodies[i] for i in ranking.order[:2]] == [near_miss, GOOD]
    assert set(ranking.order[-len(HOSTILE) - 1 :]) == {bodies.index(b) for b in list(HOSTILE.values()) + ["    return x\n"]}
    assert ranking.winner == bodies.index(GOOD) and len(ranking.runs) == 2
    assert [i for i, _ in ranking.runs] == ranking.order[: len(ranking.runs)]
    assert ranking.runs[-1][1].passed and not any(outcome.passed for _, outcome in ranking.runs[:-1])


class TraceOracle:
    """A 'model' that predicts the real trace (the oracle's frames), so that the model path
    (trace decoded frame by frame, return value read, check decided on it) can be tested
    without weights; its fingerprint is its name."""

    name = "trace-oracle"

    def __init__(self, oracle) -> None:
        self.oracle = oracle
        self.requests = 0

    def next_frames(self, requests):
        self.requests += len(requests)
        return self.oracle.next_frames(requests)

    def answer(self, requests):
        return self.oracle.answer(requests)


def test_a_model_predicts_through_the_trace_and_its_verdicts_match_the_real_ones(sandbox, oracle):
    candidates = [GOOD, "    return x\n", "    return x + 1 if x > 0 else 7\n"]
    real = rank(TASK, candidates, TESTS, predictions=Predictions(oracle, sandbox))
    model = Predictions(TraceOracle(oracle), sandbox)
    predicted = rank(TASK, candidates, TESTS, predictions=model)
    assert [[p.passed for p in row] for row in predicted.predictions] == [[p.passed for p in row] for row in real.predictions]
    assert predicted.predictions[0][0].output == "2" and predicted.predictions[0][0].confidence == 1.0
    assert predicted.order == real.order and model.calls == len(candidates) * len(TESTS)


def test_predictions_are_cached_reused_by_a_new_ranking_and_resumed_after_a_kill(sandbox, oracle, tmp_path):
    path = tmp_path / "cache.jsonl"
    first = Predictions(TraceOracle(oracle), sandbox, path)
    rank(TASK, [GOOD, "    return x\n"], TESTS, predictions=first)
    first.close()
    assert first.calls == 8
    lines = path.read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(line)["key"] for line in lines)
    # a kill cut the last line short: that answer alone is predicted again
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    model = TraceOracle(oracle)
    second = Predictions(model, sandbox, path)
    ranking = rank(TASK, [GOOD, "    return x\n", "    return 2 * x\n"], TESTS, predictions=second)
    second.close()
    assert second.calls == 1 + len(TESTS)  # the cut answer, and the new candidate's four
    assert second.cache.unreadable == 1
    assert ranking.predictions[2][1].passed is False and ranking.predictions[2][0].passed is True  # 2 * 1 == 2; 2 * 2 != 3


def test_a_model_reads_the_candidate_without_its_docstrings():
    from codewm.apps.rank.predictions import without_docstrings

    program = 'def f(x):\n    """A long docstring\n    the trace never shows."""\n    return x  # kept\n\ndef g():\n    "only a docstring"\n'
    assert without_docstrings(program) == "def f(x):\n    return x\n\ndef g():\n    pass\n"
    assert without_docstrings("def f(:\n") == "def f(:\n"


def test_a_model_can_step_over_the_call_and_predict_the_value_directly(sandbox, oracle):
    candidates = [GOOD, "    return x\n", "    total = 0\n    for _ in range(x + 1):\n        total += 1\n    return total\n"]
    real = rank(TASK, candidates, TESTS, predictions=Predictions(oracle, sandbox))
    model = TraceOracle(oracle)
    direct = Predictions(model, sandbox, direct=True)
    predicted = rank(TASK, candidates, TESTS, predictions=direct)
    assert [[p.output for p in row] for row in predicted.predictions] == [[p.output for p in row] for row in real.predictions]
    assert predicted.order == real.order
    assert model.requests == 2 * len(candidates) * len(TESTS)  # a call frame and the return: never the loop's frames


def test_ranking_by_behaviour_clusters_the_same_values_whatever_the_text_and_ignores_expected_values(sandbox, oracle):
    same = [GOOD, "    return 1 + x\n", "    y = x + 1\n    return y\n"]  # three texts, one behaviour
    candidates = Counter({body: 1 for body in same})
    candidates["    return x\n"] += 4  # wrong, but written most
    candidates[HOSTILE["loop"]] += 5  # no value on any call: in no cluster
    candidates[HOSTILE["syntax"]] += 5
    for predictions in (Predictions(oracle, sandbox, per_test_seconds=0.2), Predictions(TraceOracle(oracle), sandbox, per_test_seconds=0.2)):
        ranking = rank(TASK, candidates, TESTS, predictions=predictions, by="behaviour")
        bodies = ranking.candidates
        assert [sorted(bodies[i] for i in c.members) for c in ranking.clusters] == [["    return x\n"], sorted(same)]
        assert [c.size for c in ranking.clusters] == [4, 3] and ranking.clusters[1].tests == frozenset(range(4))
        assert set(ranking.order[-2:]) == {bodies.index(HOSTILE["loop"]), bodies.index(HOSTILE["syntax"])}
    agreement = rank(TASK, candidates, TESTS, predictions=Predictions(oracle, sandbox, per_test_seconds=0.2))
    assert sorted(agreement.candidates[i] for i in agreement.clusters[0].members) == sorted(same)  # the expected values decide
    with pytest.raises(ValueError, match="rank by 'votes'"):
        rank(TASK, candidates, TESTS, predictions=Predictions(oracle, sandbox), by="votes")


def test_a_candidates_behaviour_is_its_value_on_each_distinct_call():
    from codewm.apps.rank.predictions import Prediction, behaviour

    tests = [parse_test(t, "inc") for t in ["assert inc(1) == 2", "assert inc(1) != 5", "assert inc(2) == 3", "assert inc(3) == 4", "assert True"]]

    def row(*cells):
        return [Prediction(None, output, 1.0, status) for output, status in cells] + [Prediction(None, None, 0.0, "no_call")]

    assert behaviour(row(("2", "passed"), ("2", "passed"), (None, "exception"), (None, "timeout")), tests) == ("2", "<exception>", "<timeout>")
    assert behaviour(row(("2", "complete"), ("9", "complete"), (None, "complete"), (None, "max_frames")), tests) == ("2", "<raised>", None)
    assert behaviour(row((None, "define_error"),) * 4, tests) is None  # no value on any call
    assert behaviour(row((None, "unparseable"),) * 4, tests) is None
