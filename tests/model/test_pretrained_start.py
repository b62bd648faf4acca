"""bench/experiments/pretrained_start.py: a pretrained start against training from scratch at
equal wall-clock (the scratch arm here; the smollm2 arm is the slow test of --init smollm2's
own file, tests/model/test_init_pretrained.py, at bench scale)."""

import json
from pathlib import Path

import pytest
from bench_scripts import load_bench


def _bench():
    return load_bench("experiments/pretrained_start.py")


def test_an_arm_trains_under_its_budget_then_is_probed_on_the_held_out_texts(smoke_data, tmp_path, capsys):
    bench = _bench()
    assert bench.main(["--arms", "scratch", "--preset", "smoke", "--minutes", "0.1", "--n", "3",
                       "--data-root", str(smoke_data.parent), "--out", str(tmp_path), "--threads", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    last = json.loads(lines[-1])
    [run] = last["runs"]
    assert run["arm"] == "scratch" and run["steps"] >= 1 and run["tokens"] > 0 and run["tokens_per_s"] > 0
    assert Path(run["checkpoint"], "model.safetensors").is_file()
    assert 0 < last["probe_traces"] <= 3
    assert set(run["probe"]) >= {"token_accuracy", "whole_frame_accuracy", "action_exact", "copy_loss_ratio"}
    assert 0.0 <= run["probe"]["token_accuracy"] <= 1.0
    assert any(line.startswith("probe: token accuracy") for line in lines)


@pytest.mark.parametrize("argv", [["--arms", "scratch,gpt2"], ["--arms", ","], ["--minutes", "0"]])
def test_unknown_arms_and_empty_budgets_are_refused(argv):
    with pytest.raises(SystemExit):
        _bench().main(argv)
