"""Runaway values in structure-aware decoding (issue 13): a value stuck in a loop is cut and
closed as a Python literal instead of running the frame out of tokens."""

from __future__ import annotations

import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from codewm.format.cwm import json_string
from codewm.predict.runaway import MIN_REPEATS, MIN_TOKENS, close_literal, cut_runaway, repeating_tail


def test_a_block_repeated_many_times_is_found_with_its_first_occurrence():
    tokens = [1, 2] + [7, 8, 9] * 12
    assert repeating_tail(tokens) == (3, 2)


def test_short_repetitions_are_left_alone():
    assert repeating_tail([5] * (MIN_TOKENS - 1)) is None  # one token repeated, but too few
    assert repeating_tail([1, 2, 3] * (MIN_REPEATS - 1)) is None
    assert repeating_tail(list(range(100))) is None


def test_the_loop_found_in_a_real_run_is_cut_to_a_set_literal():
    # the built-in model wrote this for `visited.add(len(visited))` and ran out of tokens
    text = ' "{10, 10, 10, 10'
    assert cut_runaway(' "{10, ', json_string) == ' "{10}"'
    assert cut_runaway(text, json_string) == ' "{10, 10, 10, 10}"'


def test_open_strings_and_brackets_close_innermost_first():
    assert close_literal("[('ab") == "[('ab')]"
    assert close_literal("{'a': [1, 2,") == "{'a': [1, 2]}"
    assert close_literal("'x\\") == "'x'"  # a lone escape would swallow the quote
    assert close_literal("'a]b', [") == "'a]b', []"
    assert close_literal('"it\'s') == '"it\'s"'


@settings(deadline=None)
@given(st.recursive(st.integers() | st.floats() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner), max_leaves=10))
def test_every_prefix_of_a_repr_closes_to_a_literal(value):
    text = repr(value)
    for end in range(1, len(text) + 1):
        closed = close_literal(text[:end])
        if not closed:  # nothing of a literal written yet (a lone sign)
            continue
        try:
            ast.literal_eval(closed)
        except SyntaxError as exc:
            raise AssertionError(f"{text[:end]!r} closed as {closed!r}") from exc
        except ValueError:
            pass  # valid syntax, e.g. a set of lists


def test_a_loop_with_nothing_before_it_is_not_cut_to_an_empty_value():
    assert cut_runaway(' "   ', json_string) is None
