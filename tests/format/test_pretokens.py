"""The dataset's pre-token count: the compiled counter against the pattern that defines it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from codewm.format.pretokens import PRE_TOKEN, count_pretokens


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["<|frame_sep|>", "<|", "|>", "<|x", "a", "_", " ", "\n", "é", "1", "{", '"', "\u2003", "ß", "<", "|", "<|a_b|>", "\t", "٣"]), max_size=40).map("".join))
def test_the_compiled_token_count_matches_the_regex(text):
    assert count_pretokens(text) == len(PRE_TOKEN.findall(text))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["<|frame_sep|>", "<|", "|>", "<|x", "a", "Z", "_", " ", "\n", "\x0b", "\x1c", "\x1f", "1", "{", '"', "<", "|", "<|a_b|>", "\t", "\x00", "\x7f"]), max_size=40).map("".join))
def test_the_ascii_fast_path_of_the_token_count_matches_the_regex(text):
    # ASCII text (all JSON-escaped dataset text) takes a table-driven path of its own.
    assert text.isascii()
    assert count_pretokens(text) == len(PRE_TOKEN.findall(text))
