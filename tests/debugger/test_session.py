"""The debugger's engine: motions, edits and truth, with the oracle (prediction and truth
must agree at every step, whatever the user does) and with a checkpoint that is wrong on
purpose (the first divergence must be found)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewm.debugger.session import ENDED_COMPLETE, DebuggerError, DebugSession, Program, SessionLimits
from codewm.examples import bundled_examples
from codewm.format.cwm import RETURN_SEP
from codewm.predict.fake import ScriptedLanguageModel
from codewm.predict.model_predictor import ModelPredictor

from debugger_helpers import WRONG_CALL, WRONG_INDEX, WRONG_SOURCE, reciting_model, tampered_frames

# Programs with what makes stepping hard: recursion, nested calls on one line, exceptions
# caught and escaping, generators, comprehensions, lambdas, loops.
PROGRAMS = [
    ("def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n", "fib(4)"),
    ("def sq(x):\n    return x * x\n\ndef f(xs):\n    total = 0\n    for x in xs:\n        total += sq(x) + sq(x + 1)\n    return total\n", "f([1, 2])"),
    ("def g(d, k):\n    try:\n        return d[k]\n    except KeyError:\n        return -1\n\ndef f():\n    return g({'a': 1}, 'a') + g({}, 'b')\n", "f()"),
    ("def boom(x):\n    raise ValueError(x)\n\ndef f(x):\n    y = x + 1\n    return boom(y)\n", "f(1)"),
    ("def gen(n):\n    for i in range(n):\n        yield i * i\n\ndef f(n):\n    return [v + 1 for v in gen(n)]\n", "f(3)"),
    ("def f(words):\n    key = lambda w: (len(w), w)\n    return sorted(words, key=key)\n", "f(['bb', 'a', 'ccc'])"),
]


def session_for(predictor, source: str, call: str, sandbox=None, **limits) -> DebugSession:
    return DebugSession(Program.function(source, call, "prog.py"), predictor, SessionLimits(**limits), sandbox=sandbox)


def assert_all_agree(session: DebugSession) -> None:
    truth = session.truth()
    bad = [(row.index, row.differences) for row in truth.rows if not row.agree]
    assert not bad, bad
    assert truth.first_divergence is None
    assert truth.agreeing == len(session.steps)


@pytest.mark.parametrize("source, call", PROGRAMS + [(e.source, e.call) for e in bundled_examples(3)])
def test_oracle_continue_predicts_the_real_run_exactly(oracle, sandbox, source, call):
    session = session_for(oracle, source, call, sandbox)
    session.start()
    motion = session.cont()
    assert session.ended == ENDED_COMPLETE and motion.reason == "end"
    run = session.real_run()
    assert session.frames == run.trace.frames
    assert [step.lineno for step in session.steps] == [frame.lineno for frame in run.trace.frames if True] or all(
        step.lineno for step in session.steps
    )
    assert_all_agree(session)
    assert all(step.confidence is not None and step.confidence.action == 1.0 for step in session.steps)


def test_line_numbers_follow_the_function_when_a_line_repeats(oracle, sandbox):
    source = "def a(x):\n    return x\n\ndef b(x):\n    return x\n"
    session = session_for(oracle, source, "a(1) + b(2)", sandbox)
    session.start()
    session.cont()
    lines = [(step.function, step.lineno) for step in session.steps if step.frame.source.strip() == "return x"]
    assert lines == [("a", 2), ("a", 2), ("b", 5), ("b", 5)]


MOTIONS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["step", "next", "back"]), st.integers(1, 3)),
        st.tuples(st.sampled_from(["out", "cont", "until"]), st.none()),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=st.sampled_from(PROGRAMS), motions=MOTIONS, breakpoint=st.integers(1, 8))
def test_oracle_agrees_at_every_step_whatever_the_motions(oracle, sandbox, program, motions, breakpoint):
    session = session_for(oracle, *program, sandbox)
    session.start()
    try:
        session.breakpoints.add(session.breakpoint_line(str(breakpoint)))
    except DebuggerError:
        pass  # a blank line, or past the end: no breakpoint this time
    for name, count in motions:
        try:
            if name == "back":
                session.back(count)
            elif count is None:
                getattr(session, name)()
            else:
                getattr(session, name)(count)
        except DebuggerError:
            pass  # back at the first step, out of the entry point after it returned
    assert_all_agree(session)


def test_next_over_a_call_predicts_its_return_without_the_body(oracle, sandbox):
    source, call = PROGRAMS[1]  # total += sq(x) + sq(x + 1)
    session = session_for(oracle, source, call, sandbox)
    session.start()
    session.step(2)  # from main's call: main's line, f's call
    assert session.current.function == "f" and session.current.event == "call"
    session.until(7)
    assert session.current.lineno == 7  # about to run `total += sq(x) + sq(x + 1)`
    before = session.predicted_frames
    session.next()
    # sq was called twice on the way; each time its return came straight after its call
    skipped = [step for step in session.steps if step.skipped_body]
    assert [step.frame.value for step in skipped] == ["1", "4"]
    assert all(session.steps[session.steps.index(s) - 1].event == "call" for s in skipped)
    assert session.current.function == "f" and session.current.lineno == 6  # back at the loop
    assert session.predicted_frames - before == 5  # call, return, call, return, line: no body
    truth = session.truth()
    assert [row.skipped_real for row in truth.rows if row.skipped_real] == [1, 1]
    assert_all_agree(session)


def test_next_from_a_line_with_two_calls_skips_both_bodies(oracle, sandbox):
    session = session_for(oracle, *PROGRAMS[0], sandbox)
    session.start()
    session.step(2)  # fib(4)'s call frame
    assert session.current.event == "call"
    session.next()  # at a call frame, as in pdb: on to the function's first line
    assert session.current.event == "line" and session.current.lineno == 2
    session.next()
    assert session.current.lineno == 4  # `return fib(n - 1) + fib(n - 2)`
    session.next()  # both calls predicted without their bodies, then fib(4) returns
    assert [s.frame.value for s in session.steps if s.skipped_body] == ["2", "1"]
    assert session.current.event == "return" and session.current.frame.value == "3"
    assert_all_agree(session)
    assert [row.skipped_real for row in session.truth().rows if row.skipped_real] == [18, 10]


def test_out_until_back_and_replay(oracle, sandbox):
    session = session_for(oracle, *PROGRAMS[0], sandbox)
    session.start()
    session.step(3)  # main's line, fib(4)'s call, `if n < 2`
    assert session.current.lineno == 2
    session.out()
    assert session.current.event == "return" and session.current.depth == 1 and session.current.frame.value == "3"
    predicted = session.predicted_frames
    session.back(5)
    session.step(5)  # a replay: the model is not asked again
    assert session.predicted_frames == predicted
    with pytest.raises(DebuggerError, match="already at the first step"):
        session.back(10_000) and session.back()
    session.position = 0
    with pytest.raises(DebuggerError, match="already at the first step"):
        session.back()


def test_until_leaves_a_loop(oracle, sandbox):
    source = "def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
    session = session_for(oracle, source, "f(5)", sandbox)
    session.start()
    session.step(5)  # f's call, `total = 0`, `for`, `total += i`
    assert session.current.lineno == 4
    session.until()  # on past line 4: the loop runs to its end
    assert session.current.lineno == 5 and session.current.frame.locals["total"] == "10"


def test_breakpoints_by_line_and_by_function(oracle, sandbox):
    session = session_for(oracle, *PROGRAMS[1], sandbox)
    session.start()
    session.breakpoints.add(session.breakpoint_line("sq"))
    assert session.cont().reason == "breakpoint" and session.current.event == "call" and session.current.function == "sq"
    assert session.current.frame.locals == {"x": "1"}
    session.breakpoints.clear()
    session.breakpoints.add(session.breakpoint_line("8"))
    assert session.cont().reason == "breakpoint" and session.current.lineno == 8
    with pytest.raises(DebuggerError, match="line 3 of prog.py has no code .* the next line with code is 4"):
        session.breakpoint_line("3")
    with pytest.raises(DebuggerError, match="line 40 is not in prog.py"):
        session.breakpoint_line("40")
    with pytest.raises(DebuggerError, match="no function named 'nope'"):
        session.breakpoint_line("nope")
    with pytest.raises(DebuggerError, match="a line number or a function name"):
        session.breakpoint_line("3x")


def test_set_drops_the_future_and_predicts_from_the_edit(sandbox):
    """A model that reads the state it is given: y is whatever the prompt says x is, doubled."""
    from codewm.format.cwm import parse_trace

    source = "def f(x):\n    y = x * 2\n    return y\n"
    opening = [
        "<|call_sep|>{}<|action_sep|>def main():\n<|frame_sep|>",
        "<|line_sep|>{}<|action_sep|>    return f(3)\n<|frame_sep|>",
        '<|call_sep|>{"x": "3"}<|action_sep|>def f(x):\n<|frame_sep|>',
        '<|line_sep|>{"x": ".."}<|action_sep|>    y = x * 2\n<|frame_sep|>',
    ]

    def model(prompt: str) -> str:
        frames = parse_trace(prompt).trace.frames
        if len(frames) < len(opening):
            return opening[len(frames)]
        last = frames[-1]
        if last.source.strip() == "y = x * 2":
            y = int(last.locals["x"]) * 2
            return '<|line_sep|>{"x": "..", "y": "%d"}<|action_sep|>    return y\n<|frame_sep|>' % y
        if last.event == "line":
            return '<|return_sep|><|action_sep|>    return y\n<|arg_sep|>"%s"<|frame_sep|>' % last.locals["y"]
        return f'<|return_sep|><|action_sep|>    return f(3)\n<|arg_sep|>"{last.value}"<|frame_sep|>'

    session = DebugSession(Program.function(source, "f(3)", "prog.py"), ModelPredictor(ScriptedLanguageModel(model)), sandbox=sandbox)
    session.start()
    session.cont()
    assert session.steps[-1].frame.value == "6"
    assert session.truth().first_divergence is None
    session.back(3)  # about to run `y = x * 2`, x = 3
    assert session.current.frame.source.strip() == "y = x * 2"
    assert session.set_value("x", "10") == "10"
    assert len(session.steps) == session.position + 1 and session.ended is None
    assert session.current.edited == ("x",)
    session.cont()
    assert session.steps[-1].frame.value == "20"  # the model predicted on from x = 10
    truth = session.truth()
    assert truth.first_divergence is None  # the edit is not the model's error
    assert [row.what_if for row in truth.rows] == [False] * 3 + [True] * 4
    assert not truth.rows[3].agree and "x: predicted 10, real 3" in truth.rows[3].differences
    assert truth.compared == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "set needs a value"),
        ("foo(1)", "not a Python literal"),
        ("[1, 2", "not a Python literal"),
        ("__import__('os')", "not a Python literal"),
    ],
)
def test_set_refuses_what_is_not_a_literal(oracle, sandbox, text, message):
    session = session_for(oracle, *PROGRAMS[0], sandbox)
    session.start()
    session.step(2)
    with pytest.raises(DebuggerError, match=message):
        session.set_value("n", text)
    with pytest.raises(DebuggerError, match="not a variable name"):
        session.set_value("1n", "1")
    session.set_value("n", "{'a': (1, 2.5)}")
    assert session.current.frame.locals["n"] == "{'a': (1, 2.5)}"
    session.out()
    assert session.current.event == "return"
    with pytest.raises(DebuggerError, match="holds no locals"):
        session.set_value("n", "1")


def test_a_backend_that_ignores_the_return_prefix_steps_through_the_body(oracle, sandbox):
    class IgnoresPrefix:
        name = "ignores-prefix"

        def next_frames(self, requests):
            return oracle.next_frames([dataclasses.replace(r, prefix="") for r in requests])

        def answer(self, requests):  # pragma: no cover - not used
            return oracle.answer(requests)

    session = session_for(IgnoresPrefix(), *PROGRAMS[1], sandbox)
    session.start()
    session.step(2)
    session.until(7)  # about to run `total += sq(x) + sq(x + 1)`
    session.next()  # over the sq calls: this backend cannot skip a body, so it is predicted
    assert not session.step_over_works
    assert any("cannot skip a call's body" in note for note in session.notes)
    assert session.current.function == "f" and session.current.lineno == 6
    assert not any(step.skipped_body for step in session.steps)
    assert_all_agree(session)


def test_the_frame_limit_and_a_model_that_writes_nonsense(oracle, sandbox):
    session = session_for(oracle, *PROGRAMS[0], sandbox, max_frames=5)
    session.start()
    motion = session.cont()
    assert motion.reason == "ended" and len(session.steps) == 5 and "limit of 5 frames" in session.ended
    assert not session.model_failed
    garbage = ModelPredictor(ScriptedLanguageModel(lambda prompt: "<|line_sep|>{not json}<|action_sep|>x\n<|frame_sep|>"))
    session = session_for(garbage, *PROGRAMS[0], sandbox)
    motion = session.start()
    assert motion.moved == 0 and session.current is None
    assert "does not read as a frame" in session.ended and "{not json}" in session.ended
    assert session.model_failed
    from codewm.debugger.shell import truth_lines

    assert any(line.startswith("first divergence at step 1: the model could not write it") for line in truth_lines(session, session.truth()))
    with pytest.raises(DebuggerError, match="nothing is predicted yet"):
        session.out()


def test_a_wrong_model_first_divergence_is_found(oracle, sandbox):
    context, real, frames = tampered_frames(oracle, WRONG_SOURCE, WRONG_CALL, WRONG_INDEX, "y", "7")
    predictor = ModelPredictor(ScriptedLanguageModel(reciting_model(frames, context)), name="wrong-on-purpose")
    session = session_for(predictor, WRONG_SOURCE, WRONG_CALL, sandbox)
    session.start()
    session.cont()
    truth = session.truth()
    assert truth.first_divergence == WRONG_INDEX
    assert truth.rows[WRONG_INDEX].differences == ["y: predicted 7, real 6"]
    assert all(row.agree for row in truth.rows[:WRONG_INDEX])


def test_a_checkpoint_wrong_on_purpose_diverges_where_it_lies(wrong_checkpoint, sandbox):
    """A real checkpoint, loaded and decoded like any other, that recites a wrong trace."""
    from codewm.predict.registry import load_predictor

    predictor = load_predictor(f"builtin:{wrong_checkpoint}")
    session = session_for(predictor, WRONG_SOURCE, WRONG_CALL, sandbox)
    session.start()
    session.cont()
    assert session.ended == ENDED_COMPLETE
    truth = session.truth()
    assert truth.first_divergence == WRONG_INDEX
    assert truth.rows[WRONG_INDEX].differences == ["y: predicted 7, real 6"]
    assert [row.agree for row in truth.rows] == [i != WRONG_INDEX for i in range(len(truth.rows))]
    # the real backend gives token probabilities: every value has a confidence
    step = session.steps[WRONG_INDEX]
    assert step.confidence is not None and 0 < step.confidence.of("y") <= 1 and step.confidence.action is not None
    # x is written at double's call and "unchanged" after: it keeps the confidence it was written with
    assert '"x": ".."' in session.steps[5].text
    values, confidences, edited = session.visible_locals(session.steps[5])
    assert values["x"] == "3" and confidences["x"] == session.steps[2].confidence.of("x") and not edited


def test_a_language_model_is_given_the_return_separator_to_step_over(sandbox):
    """`next` over a call: the model's prompt ends with <|return_sep|> right after the call
    frame, and what it writes finishes that return frame."""
    prompts = []
    frames = [
        "<|call_sep|>{}<|action_sep|>def main():\n<|frame_sep|>",
        "<|line_sep|>{}<|action_sep|>    return double(3)\n<|frame_sep|>",
        '<|call_sep|>{"x": "3"}<|action_sep|>def double(x):\n<|frame_sep|>',
    ]

    def model(prompt: str) -> str:
        prompts.append(prompt)
        if prompt.endswith(RETURN_SEP):
            return '<|action_sep|>    return z\n<|arg_sep|>"7"<|frame_sep|>'
        k = prompt.count("<|frame_sep|>") - 1
        return frames[k] if k < len(frames) else '<|return_sep|><|action_sep|>    return double(3)\n<|arg_sep|>"7"<|frame_sep|>'

    session = session_for(ModelPredictor(ScriptedLanguageModel(model)), WRONG_SOURCE, WRONG_CALL, sandbox)
    session.start()
    session.step()  # main's line: `return double(3)`
    session.next()  # the model predicts double's call frame, then is given <|return_sep|>
    assert any(p.endswith(frames[2] + RETURN_SEP) for p in prompts)
    skipped = session.steps[3]
    assert skipped.skipped_body and skipped.frame.value == "7" and skipped.text.startswith(RETURN_SEP)
    assert session.current.function == "main" and session.current.event == "return"
    assert session.ended == ENDED_COMPLETE
    truth = session.truth()
    assert truth.first_divergence is None and truth.rows[3].skipped_real == 3


def test_what_a_step_changed_ignores_the_nested_calls_in_between(oracle, sandbox):
    session = session_for(oracle, *PROGRAMS[1], sandbox)  # total += sq(x) + sq(x + 1)
    session.start()
    session.cont()
    after = next(i for i, step in enumerate(session.steps) if i and session.steps[i - 1].event == "return" and step.function == "f")
    # the CWM text writes every value again after a call returns; only `total` changed
    assert session.changed(after) == ["total"]
    call = next(i for i, step in enumerate(session.steps) if step.event == "call" and step.function == "f")
    assert session.changed(call) == ["xs"]
