"""The value renderer: the documented rules in codewm/trace/render.py, one test each."""

from __future__ import annotations

import collections

from codewm.trace.render import RenderOptions, Renderer, ReprWatchdog, render_value


def test_plain_values_render_as_repr():
    for value in [0, -5, True, None, 1.5, "a'b\"c", b"\x00", (1,), (), [], {}, {"a": [1, (2,)]}, {1, 2}, frozenset(), set(), 2j]:
        assert render_value(value) == repr(value)


def test_memory_addresses_are_removed():
    class Thing:
        pass

    assert render_value(Thing()) == "<test_render.test_memory_addresses_are_removed.<locals>.Thing object>"
    assert render_value(iter([1])) == "<list_iterator object>"
    assert "0x" not in render_value([Thing(), iter(())])


def test_long_values_are_cut_with_three_dots():
    options = RenderOptions(max_chars=10)
    assert render_value("x" * 100, options) == repr("x" * 100)[:10] + "..."
    assert render_value(list(range(100)), options) == repr(list(range(100)))[:10] + "..."
    assert render_value("short", options) == "'short'"


def test_huge_values_are_cut_before_the_full_repr_is_built():
    huge = list(range(5_000_000))
    text = render_value(huge)  # would build a ~39 MB string without the cut-first rule
    assert text.startswith("[0, 1, 2,") and text.endswith("...") and len(text) == 403
    assert render_value({i: i for i in range(100_000)}).endswith("...")


def test_huge_ints_render_as_their_bit_count():
    assert render_value(10**5000) == f"<int with {(10**5000).bit_length()} bits>"


def test_recursive_containers_render_like_python():
    xs = [1]
    xs.append(xs)
    assert render_value(xs) == "[1, [...]]"
    d = {}
    d["self"] = d
    assert render_value(d) == "{'self': {...}}"


def test_a_raising_repr_renders_its_exception_type():
    class Bad:
        def __repr__(self):
            raise KeyError("nope")

    assert render_value(Bad()) == "<unrepresentable Bad: KeyError>"
    assert render_value([Bad()]) == "[<unrepresentable Bad: KeyError>]"


def test_a_repr_returning_a_non_string():
    class Odd:
        def __repr__(self):
            return 5

    assert render_value(Odd()) == "<unrepresentable Odd: TypeError>"  # repr() itself refuses it


def test_a_repr_that_recurses_forever():
    class Deep:
        def __repr__(self):
            return repr(self)

    assert render_value(Deep()) == "<unrepresentable Deep: RecursionError>"


def test_a_repr_that_never_ends_is_interrupted_by_the_watchdog():
    class Forever:
        def __repr__(self):
            while True:
                pass

    watchdog = ReprWatchdog(0.2)
    renderer = Renderer(RenderOptions(repr_timeout=0.2), watchdog)
    watchdog.start()
    try:
        assert renderer.render(Forever()) == "<unrepresentable Forever: repr timed out>"
        assert renderer.render(collections.deque([Forever()])) == "<unrepresentable deque: repr timed out>"
        assert renderer.render(3) == "3"  # the renderer goes on working
    finally:
        watchdog.stop()


def test_a_bare_dotdot_repr_is_escaped():
    class Dots:
        def __repr__(self):
            return ".."

    assert render_value(Dots()) == "<repr '..'>"
    assert render_value("..") == "'..'"


def test_huge_repr_from_user_code_is_cut():
    class Big:
        def __repr__(self):
            return "B" * 10_000_000

    text = render_value(Big())
    assert text == "B" * 400 + "..."


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PLAIN = st.one_of(st.integers(), st.text(max_size=60), st.booleans(), st.none(), st.floats(allow_nan=False))
NESTED = st.recursive(
    PLAIN,
    lambda inner: st.one_of(st.lists(inner, max_size=40), st.tuples(inner, inner), st.dictionaries(st.text(max_size=5), inner, max_size=10)),
    max_leaves=300,
)


@settings(max_examples=300, deadline=None)
@given(NESTED, st.integers(min_value=5, max_value=500))
def test_any_plain_structure_renders_as_its_repr_cut_at_the_limit(value, max_chars):
    expected = repr(value)
    if len(expected) > max_chars:
        expected = expected[:max_chars] + "..."
    assert render_value(value, RenderOptions(max_chars=max_chars)) == expected
