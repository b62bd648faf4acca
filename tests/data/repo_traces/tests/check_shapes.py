import pytest

from minipkg.shapes import Box


def test_box():
    box = Box(3, 4)
    assert box.area() == 12
    assert box.perimeter == 14
    assert Box.square(2).area() == 4
    assert Box.describe(1, 2) == "1x2"


def test_changed_instance():
    box = Box(1).grow(2)
    assert box.area() == 3



@pytest.mark.xfail(reason="passes anyway: counted as xpassed")
def test_xpasses():
    assert Box(2).area() == 2


@pytest.fixture
def broken():
    raise RuntimeError("a fixture that fails: the test counts as an error")


def test_with_a_broken_fixture(broken):
    pass
