"""Fixtures of the workspace tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from repo_helpers import DATA


@pytest.fixture
def project_copy(tmp_path):
    """A fresh copy of a fixture project (by name) in tmp_path, to add files to."""

    def make(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(DATA / name, target)
        return target

    return make
