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
