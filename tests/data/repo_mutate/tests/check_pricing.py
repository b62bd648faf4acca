from tinyshop.pricing import Basket, grade


def test_total_sums_lines():
    assert Basket([("pen", 2, 3), ("ink", 5, 1)]).total() == 11


def test_total_skips_empty_lines():
    assert Basket([("pen", 2, 0), ("ink", 5, 1)]).total() == 5


def test_total_discounts_big_baskets():
    assert Basket([("desk", 120, 1)]).total(discount=20) == 100


def test_grade():
    assert [grade(95), grade(80), grade(10)] == ["A", "B", "C"]


def test_always_passes():
    assert True
