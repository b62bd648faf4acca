"""bench/experiments/loop_bound.py: does a model read a loop's bound?"""

import json

import pytest
from bench_scripts import load_bench


def _bench():
    return load_bench("experiments/loop_bound.py")


def test_the_real_run_reads_every_bound_and_the_last_line_is_json(capsys):
    bench = _bench()
    assert bench.main(["--model", "oracle", "--max-k", "3"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["k"] == [1, 2, 3]
    assert all(counts == [1, 2, 3] for counts in last["iterations"].values())
    assert last["bodies_reading_k"] == len(bench.BODIES)


def test_a_model_that_never_runs_the_body_reads_no_bound(capsys):
    bench = _bench()
    bench.main(["--model", "empty", "--max-k", "2", "--max-frames", "4"])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["bodies_reading_k"] == 0
    assert all(counts == [0, 0] for counts in last["iterations"].values())


def test_a_bound_below_one_is_refused():
    with pytest.raises(SystemExit):
        _bench().main(["--max-k", "0"])
