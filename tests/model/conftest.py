"""Shared fixtures: the `smoke` preset's dataset and one real `codewm train --preset smoke` run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from patience import run_watched


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory) -> Path:
    """The smoke preset's own dataset (built once for the session)."""
    from codewm.model.presets import get_preset
    from codewm.model.train import ensure_dataset

    return ensure_dataset(get_preset("smoke"), tmp_path_factory.mktemp("train-data"))


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, smoke_data) -> Path:
    """The run directory of `codewm train --preset smoke`, run as a user runs it."""
    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    # guarded by its progress: a loaded machine may take long, a hung run goes silent
    done = run_watched([sys.executable, "-m", "codewm.cli", "train", "--preset", "smoke", "--out", str(run_dir), "--data", str(smoke_data), "--device", "cpu"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained 120 steps" in done.stdout
    return run_dir
