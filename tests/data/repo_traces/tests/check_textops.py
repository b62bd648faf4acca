import pytest

from minipkg import textops


def local_helper(x):
    return x + 1


def test_vowels():
    assert textops.count_vowels("Banana") == 3
    assert textops.count_vowels("sky") == 0


def test_shout():
    assert textops.shout("hi") == "HI!"
    assert textops.shout("hi", 2, mark="?") == "HI?HI?"


def test_squares_with_duplicates():
    for n in (1, 1, 1, *range(20)):
        assert textops.square(n) == n * n


def test_scaled_and_pairs():
    assert textops.scaled([1, 2]) == [2, 4]
    assert list(textops.pairs(3)) == [(0, 0), (1, 1), (2, 4)]


def test_not_literal_arguments():
    assert textops.apply(local_helper, 1) == 2
    assert textops.letters_only(object.__name__) == "object"


def test_a_value_the_recorder_cannot_render():
    # str() of a 5001-digit int raises inside the recorder (Python's int digit limit), not here
    assert textops.digits(10 ** 5000) == -1


def test_where():
    assert textops.where("x").endswith("x")


def test_fails_on_purpose():
    assert textops.square(3) == 10


@pytest.mark.xfail(strict=True)
def test_xfails():
    assert textops.square(2) == 5
