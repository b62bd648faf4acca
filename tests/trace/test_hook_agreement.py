"""The C hook and the pure-Python hook render every value identically, by the documented rule.

A property test over random built-in values (docs/tracer.md, "Values"): each value is handed
to a tiny traced program; both hooks must record exactly the same steps, and the value's text
must be `repr(value)` cut at `max_value_chars` with `...`, whatever the value holds (quotes,
`at 0x...` inside a string, containers longer than the cut).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewm.trace.render import DEFAULT_MAX_CHARS, render_value
from codewm.trace.tracer import Recorder, _ctracer, trace_in_process
from codewm.types import build_context

pytestmark = pytest.mark.skipif(_ctracer is None, reason="the C hook was not built")

SOURCE = "def f():\n    value = VALUE\n    copy = value\n    return value\n"

TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["located at 0xdeadbeef", "'", '"', "'\"", "a at 0x1f>", " at 0x", "..", "it's"]),
    st.builds(lambda n, q: q + "a" * n + q, st.integers(380, 420), st.sampled_from(["'", '"', ""])),
)
BYTES = st.one_of(
    st.binary(max_size=30),
    st.builds(lambda n, head, tail: head + b"a" * n + tail, st.integers(380, 520), st.sampled_from([b"'", b'"', b""]),
              st.sampled_from([b"'", b'"', b""])),
)
HASHABLE = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXTS, BYTES)
ATOMS = st.one_of(HASHABLE, st.floats())


def _containers(children):
    return st.one_of(
        st.lists(children, max_size=6),
        st.lists(st.integers(), min_size=150, max_size=260),  # longer than the cut when printed
        st.lists(TEXTS, min_size=1, max_size=4),
        st.tuples(children, children),
        st.lists(children, max_size=1).map(tuple),
        st.dictionaries(HASHABLE, children, max_size=5),
        st.sets(HASHABLE, max_size=5),
        st.frozensets(HASHABLE, max_size=5),
    )


VALUES = st.recursive(ATOMS, _containers, max_leaves=40)


def _f_steps(steps, event):
    return [step for step in steps if step[0] == event and step[5] == "f"]


def _record(value, use_c: bool):
    recorder = Recorder(use_c=use_c)
    result = trace_in_process(build_context(SOURCE, "f()"), recorder=recorder, namespace={"VALUE": value})
    return result.status, [list(step) for step in recorder.steps]


def documented_text(value) -> str:
    """docs/tracer.md: repr(value), cut at max_value_chars characters followed by `...`."""
    text = repr(value)
    if len(text) > DEFAULT_MAX_CHARS:
        text = text[:DEFAULT_MAX_CHARS] + "..."
    return "<repr '..'>" if text == ".." else text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(VALUES)
def test_both_hooks_record_identical_frames_by_the_documented_rule(value):
    c_status, c_steps = _record(value, use_c=True)
    py_status, py_steps = _record(value, use_c=False)
    assert c_status == py_status == "ok"
    assert c_steps == py_steps
    expected = documented_text(value)
    assert render_value(value) == expected
    assert _f_steps(py_steps, "line")[-1][3] == {"value": expected, "copy": expected}
    assert _f_steps(py_steps, "return")[0][4] == expected


@pytest.mark.parametrize(
    "value",
    [
        "located at 0xdeadbeef",
        ["located at 0xdeadbeef", 1],
        b"'" + b"a" * 500 + b'"',
        b'"' + b"a" * 500,
        bytearray(b"'" + b"a" * 500 + b'"'),
        "'" + "a" * 500 + '"',
    ],
)
def test_known_disagreements(value):
    c_status, c_steps = _record(value, use_c=True)
    py_status, py_steps = _record(value, use_c=False)
    assert c_steps == py_steps
    assert _f_steps(py_steps, "return")[0][4] == documented_text(value)


def test_addresses_are_still_removed_from_default_reprs_by_both_hooks():
    source = "def f():\n    it = iter([1])\n    label = 'located at 0xdeadbeef'\n    return it\n"
    for use_c in (True, False):
        recorder = Recorder(use_c=use_c)
        trace_in_process(build_context(source, "f()"), recorder=recorder)
        assert _f_steps(recorder.steps, "return")[0][4] == "<list_iterator object>"
        assert _f_steps(recorder.steps, "line")[-1][3] == {"it": "<list_iterator object>", "label": "'located at 0xdeadbeef'"}


def _deep(shape: str, levels: int, leaf):
    value = leaf
    for _ in range(levels):
        value = [value] if shape == "list" else (value,) if shape == "tuple" else {"k": value} if shape == "dict" else [1, value]
    return value


def _deep_text(shape: str, levels: int, leaf) -> str:
    """repr() of `_deep(...)` computed without recursion (repr itself would raise), cut as
    documented."""
    opening, closing = {"list": ("[", "]"), "tuple": ("(", ",)"), "dict": ("{'k': ", "}"), "pair": ("[1, ", "]")}[shape]
    text = opening * levels + repr(leaf) + closing * levels
    return text[:DEFAULT_MAX_CHARS] + "..." if len(text) > DEFAULT_MAX_CHARS else text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["list", "tuple", "dict", "pair"]), st.integers(1, 3000), st.sampled_from([7, "s", None, (), "x" * 500]))
def test_both_hooks_render_deeply_nested_values_identically_without_recursion(shape, levels, leaf):
    value = _deep(shape, levels, leaf)
    c_status, c_steps = _record(value, use_c=True)
    py_status, py_steps = _record(value, use_c=False)
    assert c_status == py_status == "ok"
    assert c_steps == py_steps
    expected = _deep_text(shape, levels, leaf)
    assert _f_steps(py_steps, "return")[0][4] == expected
