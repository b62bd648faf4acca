"""The teacher-forced probe (codewm.model.probe): which part of a frame each character and
token is, the bookkeeping of its figures (checked against scripted models whose every guess
is known), and what it says about real small models."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from codewm.format.cwm import FRAME_SEP, parse_trace  # noqa: E402
from codewm.model.frame_parts import PARTS, TextLayout, part_of_characters  # noqa: E402
from codewm.model.probe import induction_score, probe, probe_dataset  # noqa: E402
from codewm.model.probe_report import format_probe  # noqa: E402

CONTEXT = "def f(x):\n    y = x + 1\n    return y\n\ndef main():  # << START_OF_TRACE\n    return f(7)\n"
TEXT = (
    "<|begin_of_text|><|trace_context_start|>" + CONTEXT + "<|frame_sep|>"
    "<|call_sep|>{}<|action_sep|>def main():  # << START_OF_TRACE\n<|frame_sep|>"
    "<|line_sep|>{}<|action_sep|>    return f(7)\n<|frame_sep|>"
    '<|call_sep|>{"x": "7"}<|action_sep|>def f(x):\n<|frame_sep|>'
    '<|line_sep|>{"x": ".."}<|action_sep|>    y = x + 1\n<|frame_sep|>'
    '<|line_sep|>{"x": "..", "y": "8"}<|action_sep|>    return y\n<|frame_sep|>'
    '<|return_sep|><|action_sep|>    return y\n<|arg_sep|>"8"<|frame_sep|>'
    '<|return_sep|><|action_sep|>    return f(7)\n<|arg_sep|>"8"<|frame_sep|>'
    "<|end_of_text|>"
)

PROGRAMS = [
    ("def f(x):\n    y = x * 2\n    return y + 1\n", "f(20)"),
    ("def g(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n", "g(4)"),
    ("def h(xs):\n    return [x * x for x in xs]\n\ndef f(xs):\n    ys = h(xs)\n    ys.append(len(ys))\n    return ys\n", "f([1, 2])"),
    ("def f(d, k):\n    try:\n        return d[k]\n    except KeyError:\n        return None\n", "f({'a': 1}, 'b')"),
    ("def f(s):\n    t = s.upper()\n    return t + s\n", "f('ab')"),
]


def test_the_hand_written_trace_is_a_valid_trace():
    parsed = parse_trace(TEXT)
    assert parsed.ok and parsed.trace.complete and len(parsed.trace.frames) == 7


def _at(text: str, needle: str, nth: int = 0, offset: int = 0) -> int:
    position = -1
    for _ in range(nth + 1):
        position = text.index(needle, position + 1)
    return position + offset


def test_every_character_gets_its_part():
    parts = part_of_characters(TEXT)
    assert len(parts) == len(TEXT)
    prompt_end = TEXT.index(FRAME_SEP) + len(FRAME_SEP)
    assert set(parts[:prompt_end]) == {None}  # the prompt is not scored
    assert None not in parts[prompt_end:]
    expect = {
        _at(TEXT, "<|call_sep|>"): "event",
        _at(TEXT, "<|line_sep|>", 0, 5): "event",
        _at(TEXT, "<|return_sep|>", 1): "event",
        _at(TEXT, "<|end_of_text|>", 0, 3): "event",
        _at(TEXT, "{}"): "punctuation",
        _at(TEXT, "{}", 0, 1): "punctuation",
        _at(TEXT, "<|action_sep|>"): "punctuation",
        _at(TEXT, "<|arg_sep|>", 0, 4): "punctuation",
        _at(TEXT, "<|frame_sep|>", 1): "punctuation",  # the first frame's end (index 0 is the prompt's)
        _at(TEXT, "def main():", 1): "action",  # in the action, not the context
        _at(TEXT, "    return f(7)\n<|frame_sep|>", 1, 15): "action",  # the newline ends the action (0: the prompt's)
        _at(TEXT, '"x": "7"'): "keys",  # the opening quote
        _at(TEXT, '"x": "7"', 0, 1): "keys",
        _at(TEXT, '"x": "7"', 0, 2): "keys",  # the closing quote
        _at(TEXT, '"x": "7"', 0, 3): "punctuation",  # the colon
        _at(TEXT, '"x": "7"', 0, 4): "punctuation",  # the space
        _at(TEXT, '"x": "7"', 0, 5): "changed_values",
        _at(TEXT, '"x": "7"', 0, 6): "changed_values",
        _at(TEXT, '"x": "7"}', 0, 8): "punctuation",
        _at(TEXT, '".."'): "unchanged_values",
        _at(TEXT, '"..", "y"', 0, 2): "unchanged_values",
        _at(TEXT, '"..", "y"', 0, 4): "punctuation",  # the comma
        _at(TEXT, '"..", "y"', 0, 5): "punctuation",  # the space after it
        _at(TEXT, '"y": "8"', 0, 1): "keys",
        _at(TEXT, '"y": "8"', 0, 6): "changed_values",
        _at(TEXT, '<|arg_sep|>"8"', 0, 11): "return_values",
        _at(TEXT, '<|arg_sep|>"8"', 1, 12): "return_values",
    }
    wrong = {pos: (TEXT[pos], parts[pos], part) for pos, part in expect.items() if parts[pos] != part}
    assert not wrong


def test_a_token_that_starts_with_punctuation_belongs_to_the_key_or_value_it_reaches():
    layout = TextLayout(TEXT)
    name = {i: part for i, part in enumerate(PARTS)}
    unchanged = _at(TEXT, ' ".."}')
    assert name[layout.token_part(unchanged, unchanged + 6)] == "unchanged_values"  # ` ".."}` is one token
    value = _at(TEXT, ' "7"')
    assert name[layout.token_part(value, value + 3)] == "changed_values"
    key = _at(TEXT, '{"x"')
    assert name[layout.token_part(key, key + 2)] == "keys"  # `{"`
    closing = _at(TEXT, '"..", "y"', 0, 3)
    assert name[layout.token_part(closing, closing + 2)] == "unchanged_values"  # `",` starts in the value
    brace = _at(TEXT, '"8"}', 0, 3)
    assert name[layout.token_part(brace, brace + 1)] == "punctuation"
    comma = _at(TEXT, '"..", "y"', 0, 4)
    assert name[layout.token_part(comma, comma + 2)] == "punctuation"  # `, ` alone


def test_a_text_that_is_no_cwm_sequence_is_refused():
    with pytest.raises(ValueError):
        TextLayout("def f(x):\n    return x\n")


# -- scripted models ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def texts():
    from codewm.format.cwm import DESCRIBE_STEPS
    from codewm.trace.sandbox import Program, Sandbox

    with Sandbox(workers=1) as sandbox:
        results = sandbox.run_batch([Program.function(source, call) for source, call in PROGRAMS], formatter=DESCRIBE_STEPS)
    assert all(r.status == "ok" and r.trace.complete for r in results)
    return [TEXT] + [r.formatted["text"] for r in results]


@pytest.fixture(scope="module")
def tokenizer(texts):
    from codewm.model.tokenizer import train_tokenizer

    return train_tokenizer(texts * 4, vocab_size=400, min_frequency=1)


class Scripted(torch.nn.Module):
    """Knows the token ids of `sequences`: at every position it puts all its mass on the real
    next token, except at the (sequence, token index) pairs in `wrong`; on any other text it
    guesses uniformly."""

    def __init__(self, sequences: list[list[int]], vocab: int, wrong: set = frozenset()) -> None:
        super().__init__()
        self.sequences, self.vocab, self.wrong = sequences, vocab, set(wrong)
        self.config = SimpleNamespace(max_position_embeddings=None, vocab_size=vocab)

    def forward(self, input_ids):
        batch, width = input_ids.shape
        logits = torch.zeros(batch, width, self.vocab)
        for row in range(batch):
            ids = input_ids[row].tolist()
            k = next((k for k, seq in enumerate(self.sequences) if ids[: len(seq)] == seq), None)
            if k is None:  # not a known text (the induction spans): uniform guesses
                continue
            seq = self.sequences[k]
            for p in range(len(seq) - 1):
                token = seq[p + 1]
                if (k, p + 1) in self.wrong:
                    token = (token + 1) % self.vocab
                logits[row, p, token] = 30.0
        return SimpleNamespace(logits=logits)


def _ids(tokenizer, texts):
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def test_a_model_that_is_always_right_scores_everything_right(texts, tokenizer):
    result = probe(Scripted(_ids(tokenizer, texts), len(tokenizer)), tokenizer, texts, copy_trials=2, batch_size=3)
    assert result["n_traces"] == len(texts) and result["skipped_too_long"] == 0
    assert result["n_frames"] == sum(len(parse_trace(t).trace.frames) for t in texts)
    assert result["token_accuracy"] == 1.0 and result["whole_frame_accuracy"] == 1.0
    assert all(entry["tokens"] > 0 and entry["accuracy"] == 1.0 for entry in result["parts"].values()), result["parts"]
    assert set(result["parts"]) == set(PARTS)
    assert result["frame2_right"] == 1.0 and result["action_exact"] == 1.0 and result["call_values_exact"] == 1.0 and result["end_right"] == 1.0
    assert result["first_wrong_frame"]["histogram"]["none"] == len(texts)
    assert result["first_wrong_frame"]["per_trace"] == [len(parse_trace(t).trace.frames) for t in texts]  # none wrong: the frame count


def test_one_wrong_token_is_charged_to_its_part_frame_and_value(texts, tokenizer):
    sequences = _ids(tokenizer, [TEXT])
    encoded = tokenizer(TEXT, add_special_tokens=False, return_offsets_mapping=True)
    # the first token of the call literal "7" in f's call frame (frame index 2)
    seven = _at(TEXT, '"x": "7"', 0, 6)
    position = next(i for i, (s, e) in enumerate(encoded["offset_mapping"]) if s <= seven < e)
    model = Scripted(sequences, len(tokenizer), wrong={(0, position)})
    result = probe(model, tokenizer, [TEXT], copy_trials=2)
    assert result["n_tokens"] == len(sequences[0]) - 1 - sequences[0].index(tokenizer.convert_tokens_to_ids(FRAME_SEP))
    assert result["n_tokens"] - round(result["token_accuracy"] * result["n_tokens"]) == 1
    assert result["parts"]["changed_values"]["accuracy"] < 1.0
    assert all(entry["accuracy"] == 1.0 for name, entry in result["parts"].items() if name != "changed_values")
    assert result["first_wrong_frame"]["per_trace"] == [2]
    assert result["first_wrong_frame"]["histogram"]["2"] == 1
    assert result["frame_index_right"][:4] == [1.0, 1.0, 0.0, 1.0]
    assert result["frame2_right"] == 1.0
    assert result["whole_frame_accuracy"] == pytest.approx(6 / 7)
    assert result["call_values_exact"] == 0.0 and result["call_values"] == 1
    assert result["call_literals_exact"] == 0.0 and result["call_literals"] == 1  # "7" copies f(7)'s literal
    assert result["action_exact"] == 1.0 and result["line_values_exact"] == 1.0


def test_control_flow_decisions_are_told_apart_from_other_actions(texts, tokenizer):
    from codewm.model.frame_parts import is_decision_line

    for line in ("    for i in range(n):\n", "if x:", "    elif y > 2:", "  while True:", "    async for a in b:"):
        assert is_decision_line(line), line
    for line in ("    forward(x)\n", "    if_x = 3", "    format = 2", "    return s", "    else:", "def f(x):"):
        assert not is_decision_line(line), line

    loop = texts[2]  # g(4): s = 0; for i in range(4): s += i; return s
    layout = TextLayout(loop)
    actions = [u for u, kind in enumerate(layout.unit_kinds) if kind == "action"]
    lines = {u: loop[layout.units.index(u) : len(layout.units) - layout.units[::-1].index(u)] for u in actions}
    decided = [lines[u].strip() for u in actions if layout.unit_decision[u]]
    # after each of the 5 visits of the for header: 4 times the body, once the return
    assert decided == ["s += i"] * 4 + ["return s"], decided
    assert not any(layout.unit_decision[u] for u in range(len(layout.unit_kinds)) if layout.unit_kinds[u] != "action")

    # one wrong token in the loop's exit (the line after the last visit of the header)
    sequences = _ids(tokenizer, [loop])
    encoded = tokenizer(loop, add_special_tokens=False, return_offsets_mapping=True)
    exit_unit = [u for u in actions if layout.unit_decision[u]][-1]
    start = layout.units.index(exit_unit)
    position = next(i for i, (s, e) in enumerate(encoded["offset_mapping"]) if s <= start < e)
    result = probe(Scripted(sequences, len(tokenizer), wrong={(0, position)}), tokenizer, [loop], copy_trials=2)
    assert result["decision_actions"] == 5
    assert result["decision_actions_exact"] == pytest.approx(4 / 5)
    assert result["decision_always_enter"] == pytest.approx(4 / 5)  # the body 4 times, the exit once
    assert [layout.unit_enters[u] for u in actions if layout.unit_decision[u]] == [True] * 4 + [False]
    assert result["other_actions_exact"] == 1.0
    assert result["action_exact"] == pytest.approx((len(actions) - 1) / len(actions))
    assert "control-flow decisions" in format_probe(result)


def test_the_end_of_text_and_the_second_frame(texts, tokenizer):
    sequences = _ids(tokenizer, [TEXT])
    frame1 = _at(TEXT, "<|line_sep|>")  # frame index 1 starts with it
    encoded = tokenizer(TEXT, add_special_tokens=False, return_offsets_mapping=True)
    step = next(i for i, (s, _) in enumerate(encoded["offset_mapping"]) if s == frame1)
    wrong = {(0, step), (0, len(sequences[0]) - 1)}  # frame 1's step token and <|end_of_text|>
    result = probe(Scripted(sequences, len(tokenizer), wrong), tokenizer, [TEXT], copy_trials=2)
    assert result["frame2_right"] == 0.0 and result["first_wrong_frame"]["per_trace"] == [1]
    assert result["end_right"] == 0.0
    assert result["parts"]["event"]["tokens"] == 8  # 7 step tokens and <|end_of_text|>
    assert result["parts"]["event"]["accuracy"] == pytest.approx(6 / 8)


class Copier(torch.nn.Module):
    """[bos] + span + span: uniform guesses, except that in the second copy it predicts the
    token L positions back (a perfect induction head). Checks that spans avoid special ids."""

    def __init__(self, vocab: int, special: set) -> None:
        super().__init__()
        self.vocab, self.special = vocab, special

    def forward(self, input_ids):
        batch, width = input_ids.shape
        length = (width - 1) // 2
        assert not (set(input_ids[:, 1:].flatten().tolist()) & self.special)
        logits = torch.zeros(batch, width, self.vocab)
        for p in range(length, width - 1):
            logits[torch.arange(batch), p, input_ids[:, p + 1 - length]] = 50.0
        return SimpleNamespace(logits=logits)


def test_induction_loss_of_a_perfect_copier_and_of_a_uniform_guesser(tokenizer):
    special = set(tokenizer.all_special_ids)
    score = induction_score(Copier(len(tokenizer), special), tokenizer, copy_lengths=(5, 12), copy_trials=6, seed=3)
    assert set(score) == {"5", "12"}
    for entry in score.values():
        assert entry["uniform"] == pytest.approx(math.log(len(tokenizer)))
        assert entry["first_copy_loss"] == pytest.approx(entry["uniform"], rel=1e-4)
        assert entry["second_copy_loss"] < 1e-6
        assert entry["ratio"] < 1e-6

    class Uniform(torch.nn.Module):
        def forward(self, input_ids):
            return SimpleNamespace(logits=torch.zeros(*input_ids.shape, len(tokenizer)))

    entry = induction_score(Uniform(), tokenizer, copy_lengths=(8,), copy_trials=4)["8"]
    assert entry["ratio"] == pytest.approx(1.0)


# -- real small models ---------------------------------------------------------------------------
def _tiny_model(tokenizer, seed: int = 0):
    from transformers import LlamaForCausalLM

    from codewm.model.checkpoint import ModelShape, llama_config

    torch.manual_seed(seed)
    shape = ModelShape(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024)
    return LlamaForCausalLM(llama_config(shape, tokenizer)).eval()


def test_the_figures_of_a_real_model_are_consistent(texts, tokenizer):
    model = _tiny_model(tokenizer)
    result = probe(model, tokenizer, texts, copy_lengths=(6,), copy_trials=4)
    assert result["n_traces"] == len(texts)
    assert result["n_frames"] == sum(len(parse_trace(t).trace.frames) for t in texts)
    assert sum(entry["tokens"] for entry in result["parts"].values()) == result["n_tokens"]
    prompt_ends = [ids.index(tokenizer.convert_tokens_to_ids(FRAME_SEP)) for ids in _ids(tokenizer, texts)]
    assert result["n_tokens"] == sum(len(ids) - 1 - end for ids, end in zip(_ids(tokenizer, texts), prompt_ends))
    shares = [result["token_accuracy"], result["whole_frame_accuracy"], result["frame2_right"], result["call_values_exact"], result["action_exact"]]
    shares += [entry["accuracy"] for entry in result["parts"].values()] + [v for v in result["frame_index_right"] if v is not None]
    assert all(0.0 <= share <= 1.0 for share in shares)
    first = result["first_wrong_frame"]
    assert sum(first["histogram"].values()) == len(texts) == len(first["per_trace"])
    # a trace whose first wrong frame is 1 has frame 1 wrong; one whose first is 2 or later has it right
    wrong_at_1 = sum(1 for i in first["per_trace"] if i == 1)
    right_at_1 = sum(1 for i in first["per_trace"] if i >= 2)
    n = result["frame2_traces"]
    assert right_at_1 <= round(result["frame2_right"] * n) <= n - wrong_at_1
    assert result["induction"]["6"]["uniform"] == pytest.approx(math.log(len(tokenizer)))
    assert "whole-frame accuracy" in format_probe(result)
    # the model's mode is put back
    model.train()
    probe(model, tokenizer, texts[:1], copy_trials=1, copy_lengths=(3,))
    assert model.training


def test_texts_longer_than_the_context_are_skipped_and_counted(texts, tokenizer):
    model = _tiny_model(tokenizer)
    lengths = [len(ids) for ids in _ids(tokenizer, texts)]
    model.config.max_position_embeddings = max(lengths) - 1
    result = probe_dataset((model, tokenizer), texts, n=len(texts), copy_trials=1, copy_lengths=(3,))
    assert result["skipped_too_long"] == lengths.count(max(lengths))
    assert result["n_traces"] == len(texts) - result["skipped_too_long"]


def test_a_model_trained_to_recite_a_trace_scores_higher_on_it(tokenizer):
    from codewm.model.train import TrainSettings, train_on_texts

    untrained = probe(_tiny_model(tokenizer), tokenizer, [TEXT], copy_trials=1, copy_lengths=(3,))
    model = _tiny_model(tokenizer)
    train_on_texts(model, tokenizer, [TEXT] * 8, TrainSettings(steps=40, batch_size=4, seq_len=64, lr=1e-2, warmup=5))
    trained = probe(model, tokenizer, [TEXT], copy_trials=1, copy_lengths=(3,))
    assert trained["token_accuracy"] > untrained["token_accuracy"] + 0.3, (untrained["token_accuracy"], trained["token_accuracy"])
    assert trained["loss"] < untrained["loss"]


def test_probe_dataset_reads_the_first_n_texts_of_a_split(texts, tokenizer, tmp_path):
    import json

    from codewm.dataset.records import write_shard

    write_shard(tmp_path, "validation/00000", [{"text": t} for t in texts], ("jsonl.gz",))
    write_shard(tmp_path, "train/00000", [{"text": TEXT}], ("jsonl.gz",))
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "codewm.dataset", "shards": [{"name": "train/00000"}, {"name": "validation/00000"}]}))
    model = Scripted(_ids(tokenizer, texts), len(tokenizer))
    result = probe_dataset((model, tokenizer), tmp_path, split="validation", n=3, copy_trials=1, copy_lengths=(3,))
    assert result["n_traces"] == 3 and result["token_accuracy"] == 1.0
    assert result["source"] == {"data": str(tmp_path), "split": "validation"}


def test_gates_pass_and_fail_on_their_thresholds():
    from codewm.model.probe_report import check_gates

    good = {"induction": {"20": {"ratio": 0.1}}, "parts": {"action": {"accuracy": 0.97}}, "call_literals_exact": 0.95, "frame2_right": 0.95}
    assert [g["passed"] for g in check_gates(good)] == [True, True, True, True]
    bad = {"induction": {"20": {"ratio": 0.3}}, "parts": {"action": {"accuracy": 0.95}}, "call_literals_exact": 0.9, "frame2_right": 0.94}
    assert [g["passed"] for g in check_gates(bad)] == [False, False, False, False]
    # the copy gate reads the literals' figure, not every call-frame value's
    computed_wrong = dict(good, call_values_exact=0.5)
    assert all(g["passed"] for g in check_gates(computed_wrong))
    assert not any(g["passed"] for g in check_gates({}))  # a missing figure fails


# -- which call-frame values are copies of the calling line's literals ------------------------------
NESTED = (
    "<|begin_of_text|><|trace_context_start|>def g(a):\n    return a * 2\ndef f(n, s):\n    return g(n - 1) + len(s)\n"
    "def main():  # << START_OF_TRACE\n    return f(g(3), 'ab')\n<|frame_sep|>"
    "<|call_sep|>{}<|action_sep|>def main():  # << START_OF_TRACE\n<|frame_sep|>"
    "<|line_sep|>{}<|action_sep|>    return f(g(3), 'ab')\n<|frame_sep|>"
    '<|call_sep|>{"a": "3"}<|action_sep|>def g(a):\n<|frame_sep|>'  # 3: a literal of main's line
    '<|line_sep|>{"a": ".."}<|action_sep|>    return a * 2\n<|frame_sep|>'
    '<|return_sep|><|action_sep|>    return a * 2\n<|arg_sep|>"6"<|frame_sep|>'
    # f's call comes from main's line again (g has returned): n = 6 is computed, 'ab' is a literal
    '<|call_sep|>{"n": "6", "s": "\'ab\'"}<|action_sep|>def f(n, s):\n<|frame_sep|>'
    '<|line_sep|>{"n": "..", "s": ".."}<|action_sep|>    return g(n - 1) + len(s)\n<|frame_sep|>'
    '<|call_sep|>{"a": "5"}<|action_sep|>def g(a):\n<|frame_sep|>'  # computed: n - 1
    "<|end_of_text|>"
)


def test_call_values_are_literal_copies_only_when_the_calling_line_writes_them():
    from codewm.model.frame_parts import TextLayout

    layout = TextLayout(NESTED)
    calls = [(layout.unit_frames[u], literal) for u, (kind, literal) in enumerate(zip(layout.unit_kinds, layout.unit_literal)) if kind == "call_value"]
    assert calls == [(2, True), (5, False), (5, True), (7, False)]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("    return f('UppEr', 0)\n", {"'UppEr'", "0"}),
        ("    if check(-1, x):\n", {"-1"}),
        ("    elif g({2, 3}, key=[1, 'a']):\n", {"{2, 3}", "[1, 'a']"}),
        ("    for item in walk((1, 2)):\n", {"(1, 2)"}),
        ("    y = f(n - 1)\n", set()),
        ("    else:\n", set()),
        ("    x = [\n", set()),  # does not parse alone
    ],
)
def test_literal_arguments_of_a_line(line, expected):
    from codewm.model.frame_parts import literal_arguments

    assert literal_arguments(line) == expected
