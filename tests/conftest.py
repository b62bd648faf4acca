"""Fixtures every part of the suite may use: the oracle (the real interpreter as a predictor),
started once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def oracle():
    from codewm.predict.oracle import OraclePredictor

    predictor = OraclePredictor()
    yield predictor
    predictor.close()
