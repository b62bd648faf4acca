from tinypkg.textutil import slug, words


def test_words():
    assert words("a, b c") == ["a", "b", "c"]


def test_slug():
    assert slug("Hello, World") == "hello-world"


def test_with_broken_fixture(broken):
    assert broken is None
