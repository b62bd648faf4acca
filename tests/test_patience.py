"""The tests' own hang guards (tests/patience.py): a command that keeps writing runs as long
as it needs; one that goes silent is killed."""

from __future__ import annotations

import sys

import pytest

import patience


def test_progress_keeps_a_watched_command_alive():
    # 3 s in all, but never quiet for 1.5 s: a bar redrawn with "\r" counts as progress
    program = "import sys, time\nfor i in range(6):\n    print(i, end='\\r', flush=True)\n    time.sleep(0.5)\nprint('done', file=sys.stderr)\n"
    done = patience.run_watched([sys.executable, "-c", program], quiet=1.5)
    assert done.returncode == 0 and "done" in done.stderr and "5" in done.stdout


def test_a_silent_command_is_killed():
    with pytest.raises(patience.Silent, match="wrote nothing") as info:
        patience.run_watched([sys.executable, "-c", "print('started', flush=True)\nimport time\ntime.sleep(600)"], quiet=1)
    assert "started" in str(info.value)


def test_the_scale_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CODEWM_TEST_TIMEOUT_SCALE", "4")
    assert patience._scale() == 4.0
    monkeypatch.setenv("CODEWM_TEST_TIMEOUT_SCALE", "fast")
    with pytest.raises(ValueError, match="must be a number"):
        patience._scale()
