"""Structure-aware decoding (`codewm.predict.structured`) and the program analysis behind it
(`codewm.predict.successors`): what a trace can say next, checked on hand-written programs
and against real traces; frames written by the built-in model that are always frames of the
program, even when the model is pushed elsewhere; log-probabilities, prefixes, the switch."""

from __future__ import annotations

import math
from contextlib import contextmanager

import pytest

from codewm.format.cwm import ACTION_SEP, FRAME_SEP, RETURN_SEP, FrameReader, format_frames, parse_trace
from codewm.predict.base import STEP_END, STEP_FRAME, STEP_LENGTH, FrameRequest
from codewm.predict.successors import KeyRule, ProgramInfo, Tracker
from codewm.types import action_lines, build_context

# -- the static analysis -------------------------------------------------------------------------


def _lines(source: str) -> dict[str, int]:
    """Line text (as a frame writes it) -> line number, for sources without repeated lines."""
    return {text: n for n, text in enumerate(action_lines(source), start=1)}


def _after(info: ProgramInfo, function: str, text: str) -> set[str]:
    """The texts of the lines that can follow a line event at `text` in `function`."""
    code = next(c for c in info.codes if c.name == function)
    number = next(n for n in info.numbers(text) if n in code.lines)
    return {info.text(n) for n in code.successors[number]}


def test_if_else_branches_then_join():
    source = "def f(x):\n    if x > 0:\n        y = 1\n    else:\n        y = 2\n    return y\n"
    info = ProgramInfo(build_context(source, "f(1)"))
    assert _after(info, "f", "    if x > 0:\n") == {"        y = 1\n", "        y = 2\n"}
    assert _after(info, "f", "        y = 1\n") == {"    return y\n"}
    assert _after(info, "f", "        y = 2\n") == {"    return y\n"}
    assert _after(info, "f", "    return y\n") == set()  # only a return event can follow
    f = next(c for c in info.codes if c.name == "f")
    assert {info.text(n) for n in f.entry_successors} == {"    if x > 0:\n"}
    assert {info.text(n) for n in f.returns} == {"    return y\n"}


def test_for_and_while_loops_go_back_to_their_head():
    source = "def g(n):\n    s = 0\n    for i in range(n):\n        s += i\n    while s > 3:\n        s -= 2\n    return s\n"
    info = ProgramInfo(build_context(source, "g(4)"))
    assert _after(info, "g", "    s = 0\n") == {"    for i in range(n):\n"}
    assert _after(info, "g", "    for i in range(n):\n") == {"        s += i\n", "    while s > 3:\n"}
    assert _after(info, "g", "        s += i\n") == {"    for i in range(n):\n"}
    assert _after(info, "g", "    while s > 3:\n") == {"        s -= 2\n", "    return s\n"}
    assert _after(info, "g", "        s -= 2\n") == {"    while s > 3:\n"}  # the test runs again, on its line


def test_try_except_reaches_the_handler_and_finally():
    source = (
        "def t(d, k):\n    try:\n        v = d[k]\n    except KeyError:\n        v = None\n"
        "    finally:\n        d = {}\n    return v\n"
    )
    info = ProgramInfo(build_context(source, "t({}, 1)"))
    assert _after(info, "t", "    try:\n") == {"        v = d[k]\n"}
    # normal flow to the finally body; an exception to the handler (or, unmatched, to finally)
    assert _after(info, "t", "        v = d[k]\n") == {"        d = {}\n", "    except KeyError:\n"}
    assert _after(info, "t", "    except KeyError:\n") >= {"        v = None\n", "        d = {}\n"}
    assert _after(info, "t", "        v = None\n") == {"        d = {}\n"}
    assert "    return v\n" in _after(info, "t", "        d = {}\n")


def test_a_call_enters_a_function_at_its_def_line_with_its_parameters():
    source = "def h(x, *rest, k=1, **kw):\n    return x + k\n\ndef f(x):\n    y = h(x)\n    return y\n"
    context = build_context(source, "f(2)")
    info = ProgramInfo(context)
    h = next(c for c in info.codes if c.name == "h")
    assert h.params == ("x", "k", "rest", "kw")  # frame.f_locals order: co_varnames
    tracker = Tracker(info)
    assert tracker.events() == ["call"] and tracker.actions("call") == ["def main():\n"]
    for frame in parse_trace(
        '<|call_sep|>{}<|action_sep|>def main():\n<|frame_sep|><|line_sep|>{}<|action_sep|>    return f(2)\n<|frame_sep|>'
        '<|call_sep|>{"x": "2"}<|action_sep|>def f(x):\n<|frame_sep|><|line_sep|>{"x": ".."}<|action_sep|>    y = h(x)\n<|frame_sep|>',
        context,
    ).trace.frames:
        tracker.feed(frame)
    assert set(tracker.actions("call")) == {"def h(x, *rest, k=1, **kw):\n", "def f(x):\n"}  # main: the tracer's only
    assert tracker.call_actions(["x", "k", "rest", "kw"]) == ["def h(x, *rest, k=1, **kw):\n"]
    assert tracker.call_actions(["x"]) == ["def f(x):\n"]
    assert tracker.call_key_rule().options(["x"]) == (["k"], True)  # f(x) may close; h goes on
    tracker.feed(parse_trace('<|call_sep|>{"x": "2", "k": "1", "rest": "()", "kw": "{}"}<|action_sep|>def h(x, *rest, k=1, **kw):\n<|frame_sep|>', context).trace.frames[0])
    assert tracker.actions("line") == ["    return x + k\n"]
    assert "return" not in tracker.events() and "call" not in tracker.events()  # a line event comes first


def test_a_comprehension_is_its_own_frame_with_the_implicit_iterator():
    source = "def c(xs):\n    return [x * x for x in xs]\n"
    info = ProgramInfo(build_context(source, "c([1])"))
    comprehension = next(c for c in info.codes if c.name == "<listcomp>")
    assert comprehension.params == (".0",) and comprehension.order == (".0", "x")
    line = info.numbers("    return [x * x for x in xs]\n")[0]
    assert comprehension.entry_line == line
    assert comprehension.successors[line] == {line}  # each iteration is a line event of its own
    assert _after(info, "c", "    return [x * x for x in xs]\n") == set()


def test_the_order_of_locals_is_the_interpreter_s():
    rule = KeyRule(previous=("a", "b"), order=("a", "b", "c", "d"))
    assert rule.options([]) == (["a", "b", "c", "d"], True)
    assert rule.options(["a", "c"]) == (["d"], True)  # new names come in co_varnames order
    assert rule.options(["a", "b", "d"]) == ([], True)
    assert rule.options(["b"])[0] == ["a", "c", "d"]  # a deleted name bound again goes last
    assert KeyRule(sequences=(("x", "y"),)).options(["x"]) == (["y"], False)
    assert KeyRule(order=("p", "q"), any_order=True).options(["q"]) == (["p"], True)


EXTRA_PROGRAMS = [
    ("def gen(n):\n    for i in range(n):\n        yield i * 2\n\ndef f(n):\n    return sum(gen(n))\n", "f(3)"),
    ("def outer(a):\n    k = 2\n    def inner(y):\n        return y * k\n    return inner(a)\n", "outer(3)"),
    ("class Box:\n    def __init__(self, v):\n        self.v = v\n    def get(self):\n        return self.v\n\ndef f(v):\n    return Box(v).get()\n", "f(5)"),
    ("def f(xs):\n    ys = sorted(xs, key=lambda v: -v)\n    try:\n        del ys[9]\n    except IndexError as e:\n        ys.append(len(ys))\n    return ys\n", "f([1, 3])"),
    ("def f(s):\n    t = {c: s.count(c) for c in s}\n    while len(t) > 1:\n        t.popitem()\n    return t\n", "f('abca')"),
]


@pytest.fixture(scope="module")
def extra_traces(oracle):
    contexts = [build_context(source, call) for source, call in EXTRA_PROGRAMS]
    traces = oracle.real_traces(contexts)
    assert all(t.complete for t in traces)
    return traces


def _admits(tracker: Tracker, frame) -> list[str]:
    """What the tracker would have refused of `frame` (empty: it allows all of it)."""
    problems = []
    if frame.event not in tracker.events():
        problems.append(f"event {frame.event} not in {tracker.events()}")
    if frame.locals is not None:
        rule = tracker.call_key_rule() if frame.event == "call" else tracker.key_rule()
        keys = list(frame.locals)
        for i, name in enumerate(keys):
            if name not in rule.options(keys[:i])[0]:
                problems.append(f"key {name!r} after {keys[:i]}")
        if not rule.options(keys)[1]:
            problems.append(f"cannot close after {keys}")
        actions = tracker.call_actions(keys) if frame.event == "call" else tracker.actions(frame.event)
    else:
        actions = tracker.actions(frame.event)
    if frame.source not in actions:
        problems.append(f"action {frame.source!r} not in {actions}")
    return problems


def test_every_real_frame_is_one_the_analysis_allows(real_traces, extra_traces):
    """Replaying real traces (generators, closures, classes, lambdas, exceptions, comprehensions
    and recursion): each frame's event, keys and source line are among the candidates."""
    for trace in [*real_traces, *extra_traces]:
        tracker = Tracker(ProgramInfo(trace.context))
        for index, frame in enumerate(trace.frames):
            assert not _admits(tracker, frame), (trace.context, index, frame, _admits(tracker, frame))
            tracker.feed(frame)
        assert tracker.events() == ["end"]


def test_json_strings_are_written_token_by_token():
    from codewm.predict.structured import CLOSED, ESC, INVALID, LEAD_QUOTE, LEAD_SPACE, STR, advance

    assert advance(LEAD_SPACE, ' "ab') == (STR, -1)
    assert advance(LEAD_SPACE, ' "a",') == (CLOSED, 4)
    assert advance(LEAD_QUOTE, '"x\\"y"}') == (CLOSED, 6)
    assert advance(STR, "\\") == (ESC, -1)
    assert advance(STR, "\\u00e9") == (STR, -1)
    for bad in ("a\nb", "\\x41", "<|frame"):
        assert advance(STR, bad)[0] == INVALID, bad
    assert advance(LEAD_SPACE, "x")[0] == INVALID


# -- decoding with a real model ------------------------------------------------------------------
LIMITS = dict(max_frames=16, max_frame_tokens=64, batch_size=4)


@pytest.fixture(scope="module")
def builtin_lm():
    """The built-in model, run on one thread: a model this small gains nothing from two, and
    two threads on a machine whose cores are busy wait on each other (10x slower)."""
    import torch

    from codewm.predict.registry import load_language_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_language_model("builtin", device="cpu", batch_size=4)
    torch.set_num_threads(threads)


def _predictor(lm, structured=True, scoring="tree"):
    from codewm.predict.model_predictor import ModelPredictor
    from codewm.predict.structured import StructuredDecoder

    predictor = ModelPredictor(lm, name="builtin", structured=structured)
    if structured:
        predictor.decoder = StructuredDecoder(lm, scoring=scoring)
    return predictor


@contextmanager
def pushed_logits(lm, token_ids, amount: float):
    """While inside: the model's logits for `token_ids` raised by `amount` at every position."""

    def push(module, args, output):
        output.logits[..., token_ids] += amount
        return output

    handle = lm.model.register_forward_hook(push)
    try:
        yield
    finally:
        handle.remove()


def _check_frames(predicted) -> int:
    """Every frame written is a frame of the program: it reads, its source is one of the
    program's lines, its keys are names the function has and in an order the rule allows."""
    count = 0
    for item in predicted:
        info = ProgramInfo(item.context)
        tracker = Tracker(info)
        reader = FrameReader(item.context)
        lines = set(action_lines(item.context))
        for step in item.steps:
            if step.finish != STEP_FRAME:
                assert step.finish in (STEP_END, STEP_LENGTH)
                continue
            assert reader.feed(step.text) is None, step.text
            frame = reader.trace.frames[-1]
            assert frame.source in lines, frame.source
            assert not _admits(tracker, frame), (step.text, _admits(tracker, frame))
            if frame.locals is not None:
                names = {n for c in (tracker.stack[-1].codes if frame.event == "line" else info.callables) for n in c.order}
                assert set(frame.locals) <= names
            tracker.feed(frame)
            count += 1
        assert item.stop != "unparseable", (item.error, item.text)
    return count


def test_structured_frames_are_frames_of_the_program(builtin_lm, contexts, extra_traces):
    from codewm.predict.decode import DecodeLimits, predict_traces

    all_contexts = [*contexts, *(t.context for t in extra_traces)]
    predicted = predict_traces(_predictor(builtin_lm), all_contexts, DecodeLimits(**LIMITS))
    assert _check_frames(predicted) >= 3 * len(all_contexts)
    # free decoding of the same model does invent lines (what this decoding prevents)
    free = predict_traces(_predictor(builtin_lm, structured=False), contexts, DecodeLimits(max_frames=6, max_frame_tokens=64, batch_size=6))
    invented = [f.source for p in free if p.trace for f in p.trace.frames if f.source not in action_lines(p.context)]
    assert invented or any(p.stop == "unparseable" for p in free)


def test_the_scoring_methods_choose_the_same_frames(builtin_lm, contexts):
    from codewm.predict.decode import DecodeLimits, predict_traces

    limits = DecodeLimits(max_frames=8, max_frame_tokens=40, batch_size=2)
    texts = {}
    for scoring in ("tree", "sequential", "batch"):
        texts[scoring] = [p.text for p in predict_traces(_predictor(builtin_lm, scoring=scoring), contexts[2:4], limits, logprobs=True)]
    assert texts["tree"] == texts["sequential"] == texts["batch"]


def test_a_model_pushed_to_an_invented_line_still_writes_program_lines(builtin_lm, contexts):
    """The model's logits are biased towards the tokens of a line the program does not have:
    free decoding writes them, structure-aware decoding only ever writes the program's lines."""
    from codewm.predict.decode import DecodeLimits, predict_traces

    invented = "    banana = split(banana)\n"
    favoured = sorted(set(builtin_lm.tokenizer(invented, add_special_tokens=False)["input_ids"]))

    with pushed_logits(builtin_lm, favoured, 12.0):
        limits = DecodeLimits(max_frames=6, max_frame_tokens=48, batch_size=2)
        free = predict_traces(_predictor(builtin_lm, structured=False), contexts[:2], limits)
        for p in free:  # the push works: free decoding writes something that is no program frame
            parsed = parse_trace(p.text, p.context)
            assert parsed.error or any(f.source not in action_lines(p.context) for f in parsed.trace.frames), p.text
        aware = predict_traces(_predictor(builtin_lm), contexts[:2], limits)
    assert _check_frames(aware) >= 4
    for p in aware:
        assert all(f.source in action_lines(p.context) for f in p.trace.frames)


def test_log_probabilities_cover_the_frame_and_give_confidences(builtin_lm, real_traces):
    from codewm.debugger.confidence import frame_confidence

    predictor = _predictor(builtin_lm)
    real = real_traces[0]
    for k in range(0, 5):
        request = FrameRequest(real.context, format_frames(real.frames[:k], complete=False), 64, logprobs=True)
        [step] = predictor.next_frames([request])
        assert step.finish == STEP_FRAME
        assert len(step.token_texts) == len(step.token_logprobs) == step.tokens > 0
        assert "".join(step.token_texts) == step.text[: -len(FRAME_SEP)]
        assert all(lp <= 0 and math.isfinite(lp) for lp in step.token_logprobs)
        confidence = frame_confidence(step.text, 0, step.token_texts, step.token_logprobs)
        frame = parse_trace(request.frames_text + step.text, real.context).trace.frames[k]
        assert confidence is not None and confidence.action is not None
        assert set(confidence.values) == (set(frame.locals) if frame.locals is not None else {"__return__"})
        [quiet] = predictor.next_frames([FrameRequest(real.context, request.frames_text, 64)])
        assert quiet.text == step.text and quiet.token_texts is None


def test_a_prefix_fixes_the_event(builtin_lm, real_traces):
    """The debugger steps over a call by giving `<|return_sep|>`: the model writes the
    return of the function just called, at one of its lines."""
    predictor = _predictor(builtin_lm)
    real = real_traces[1]  # g(4): main, main's line, g's call
    frames_text = format_frames(real.frames[:3], complete=False)
    [step] = predictor.next_frames([FrameRequest(real.context, frames_text, 64, logprobs=True, prefix=RETURN_SEP)])
    assert step.finish == STEP_FRAME and step.text.startswith(RETURN_SEP + ACTION_SEP)
    frame = parse_trace(frames_text + step.text, real.context).trace.frames[3]
    g_lines = {t for t in action_lines(real.context) if t.startswith("    ") or t.startswith("def g")}
    assert frame.event == "return" and frame.depth == 1 and frame.source in g_lines
    assert "".join(step.token_texts) == step.text[len(RETURN_SEP) : -len(FRAME_SEP)]


def test_what_it_cannot_structure_is_decoded_freely_and_budgets_hold(builtin_lm, contexts):
    predictor = _predictor(builtin_lm)
    broken = "def f(:\n    return 1\ndef main():  # << START_OF_TRACE\n    return f()\n"
    odd_prefix = FrameRequest(contexts[0], "", 16, prefix='<|call_sep|>{"')
    short = FrameRequest(contexts[0], "", 3)
    steps = predictor.next_frames([FrameRequest(broken, "", 16), odd_prefix, short])
    assert not predictor.decoder.supports(FrameRequest(broken)) and not predictor.decoder.supports(odd_prefix)
    assert steps[1].text.startswith('<|call_sep|>{"')
    assert steps[2].finish == STEP_LENGTH and steps[2].tokens == 3 and not steps[2].text.endswith(FRAME_SEP)


def test_structured_decoding_is_on_for_codewm_models_and_an_option_elsewhere():
    from codewm.predict.registry import BUILTIN_CHECKPOINT, ModelSpecError, load_predictor

    on = load_predictor("builtin", device="cpu")
    off = load_predictor("builtin", device="cpu", structured=False)
    assert on.structured and not off.structured and on.fingerprint != off.fingerprint
    assert not load_predictor(f"hf:{BUILTIN_CHECKPOINT}", device="cpu").structured
    assert load_predictor(f"hf:{BUILTIN_CHECKPOINT}", device="cpu", structured=True).structured
    for spec in ("empty", "oracle", "openai:http://127.0.0.1:9/v1#m"):
        with pytest.raises(ModelSpecError, match="structure-aware"):
            load_predictor(spec, structured=True)


def test_the_cli_flag_reaches_the_predictor():
    from typer.testing import CliRunner

    from codewm.cli import app

    result = CliRunner().invoke(app, ["eval", "-m", "empty", "--structured", "-b", "cruxeval-style-o", "--limit", "1"])
    assert result.exit_code != 0 and "structure-aware" in result.output


def test_a_program_that_holds_special_tokens_is_decoded_into_frames_that_read(builtin_lm):
    """Source lines holding `<|frame_sep|>` are written escaped, as the CWM writer writes them
    (docs/format.md), so the frame text never ends early and reads back as the program's lines."""
    from codewm.predict.decode import DecodeLimits, predict_traces
    from codewm.types import build_context

    context = build_context("def f(x):\n    s = x + '<|frame_sep|>'\n    return s\n", "f('a')")
    predicted = predict_traces(_predictor(builtin_lm), [context], DecodeLimits(**LIMITS))
    assert "<|frame_sep|>'" not in "".join(step.text for step in predicted[0].steps)
    assert _check_frames(predicted) >= 3


def test_a_value_stuck_in_a_loop_is_cut_and_the_trace_goes_on(builtin_lm, contexts):
    """The model's logits are pushed towards `7`: left alone it writes values `7777...` until
    the frame's budget runs out and the trace stops (frame_too_long); the decoder cuts the
    loop, closes the value as a literal, and the trace goes on (issue 13)."""
    import ast
    import json

    from codewm.predict.decode import DecodeLimits, predict_traces

    looping = builtin_lm.tokenizer("7", add_special_tokens=False)["input_ids"]
    with pushed_logits(builtin_lm, looping, 30.0):
        limits = DecodeLimits(max_frames=4, max_frame_tokens=160, batch_size=2)
        predicted = predict_traces(_predictor(builtin_lm), contexts[:2], limits)
    assert _check_frames(predicted) >= 4
    for item in predicted:
        assert item.stop != "frame_too_long", item.text
        values = [v for frame in item.trace.frames for v in (frame.locals or {}).values() if v != ".."]
        assert values and any(v.startswith("7") for v in values), item.text  # the push did reach the values
        for value in values:
            ast.literal_eval(value)  # each cut value closed as a Python literal
        assert all(len(json.dumps(v)) < 60 for v in values), values
