import pytest


@pytest.fixture
def broken():
    raise RuntimeError("this fixture is broken on purpose")
