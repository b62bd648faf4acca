"""Resuming a run on another build of its dataset: the built-in model keeps going run after
run, on machines that rebuild the preset's dataset, with codewm versions whose sandbox limits
change the build's config digest. The same dataset by name goes on (and the log says what
changed); another dataset, or any other setting, is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from codewm.model.options import TrainError
from codewm.model.presets import PRESETS
from codewm.model.runlog import check_resumable, data_change


def _settings(name="train-cpu2", config_sha="aaa", records=100, lr=None) -> dict:
    preset = PRESETS["cpu"].settings()
    if lr is not None:
        preset["lr"] = lr
    return {
        "preset": preset, "target": "trace", "init": None, "lora": 0, "mtp": 0, "mtp_weight": 0.0,
        "data": {"path": "/somewhere", "name": name, "config_sha": config_sha, "records": records},
    }


def test_another_build_of_the_same_dataset_goes_on_and_says_so():
    saved, now = _settings(), _settings(config_sha="bbb", records=120)
    check_resumable(saved, now, Path("run/stable"))  # no error
    assert data_change(saved, now) == "data: going on with another build of train-cpu2 than the saved run used (config_sha aaa -> bbb; records 100 -> 120)"
    assert data_change(saved, _settings()) is None


def test_another_dataset_or_setting_is_refused():
    with pytest.raises(TrainError, match=r"\(data differ\)"):
        check_resumable(_settings(), _settings(name="other"), Path("run/stable"))
    with pytest.raises(TrainError, match=r"preset\.lr differ"):
        check_resumable(_settings(), _settings(lr=0.5), Path("run/stable"))
