"""Training data: direct-output texts, streaming, packing and the multi-token labels."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewm.format.cwm import END, FRAME_SEP, parse_trace
from codewm.model.data import IGNORE, PackingStats, TrainingDataError, direct_text, iter_texts, pack_rows

TRACE_PROGRAM = "def h(xs):\n    return [x * x for x in xs]\n\ndef f(xs):\n    ys = h(xs)\n    ys.append(len(ys))\n    return ys\n"


@pytest.fixture(scope="module")
def trace_text():
    from codewm.format.cwm import format_trace
    from codewm.predict.oracle import OraclePredictor
    from codewm.types import build_context

    oracle = OraclePredictor()
    try:
        (trace,) = oracle.real_traces([build_context(TRACE_PROGRAM, "f([1, 2])")])
    finally:
        oracle.close()
    return format_trace(trace)


def test_direct_text_keeps_only_the_entry_points_frames(trace_text):
    full = parse_trace(trace_text).trace
    direct = parse_trace(direct_text(trace_text))
    assert direct.ok and direct.trace.complete
    assert direct.trace.context == full.context
    assert [f.depth for f in direct.trace.frames] == [0, 0, 0]
    assert [f.event for f in direct.trace.frames] == ["call", "line", "return"]
    # the answer is the real return value, and it is all the model writes after the prompt
    assert direct.trace.frames[-1].value == full.frames[-1].value == "[1, 4, 2]"
    assert len(direct_text(trace_text)) < len(trace_text) / 3
    assert direct_text(trace_text).endswith(END)


def test_direct_text_of_a_broken_trace_says_why():
    with pytest.raises(TrainingDataError, match="not a complete CWM trace"):
        direct_text("<|begin_of_text|><|trace_context_start|>x = 1\n<|frame_sep|><|line_sep|>{oops")


def test_iter_texts_is_deterministic_and_reshuffles_each_epoch(smoke_data):
    first = list(iter_texts(smoke_data, "train", seed=3, epochs=2))
    again = list(iter_texts(smoke_data, "train", seed=3, epochs=2))
    other = list(iter_texts(smoke_data, "train", seed=4, epochs=2))
    assert first == again
    assert first != other
    half = len(first) // 2
    assert sorted(first[:half]) == sorted(first[half:])  # every epoch is the whole split
    assert first[:half] != first[half:]  # in another order
    assert all(text.startswith("<|begin_of_text|>") and text.endswith(END) for text in first)
    assert sorted(iter_texts(smoke_data, "train", target="direct", epochs=1)) == sorted(direct_text(t) for t in first[:half])


def test_iter_texts_names_a_missing_split_and_a_bad_target(smoke_data, tmp_path):
    with pytest.raises(TrainingDataError, match="no 'dev' shards"):
        next(iter_texts(smoke_data, "dev"))
    with pytest.raises(TrainingDataError, match="target must be one of"):
        next(iter_texts(smoke_data, "train", target="answers"))
    from codewm.dataset.stats import DatasetError

    with pytest.raises(DatasetError, match="no manifest.json"):
        next(iter_texts(tmp_path, "train"))


BOS, SEP, PAD = 1, 2, 0


def _sequence(length: int, prompt: int, salt: int) -> list[int]:
    body = [10 + (salt * 7 + i) % 50 for i in range(length - 1)]
    body[min(prompt, len(body) - 1)] = SEP
    return [BOS] + body


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(2, 70), st.integers(0, 10)), min_size=1, max_size=40), st.integers(1, 6))
def test_packing_keeps_every_sequence_whole_once_and_labels_only_the_answers(shapes, window):
    seq_len = 64
    sequences = [_sequence(length, prompt, i) for i, (length, prompt) in enumerate(shapes)]
    stats = PackingStats()
    rows = list(pack_rows(sequences, seq_len, PAD, frame_sep_id=SEP, window=window, stats=stats))
    fitting = [s for s in sequences if len(s) <= seq_len]
    assert stats.skipped_too_long == len(sequences) - len(fitting)
    assert stats.sequences == len(fitting) == sum(r.sequences for r in rows)
    found = []
    for row in rows:
        assert len(row.input_ids) == len(row.labels) == seq_len
        real = [t for t in row.input_ids if t != PAD]
        assert row.input_ids[: len(real)] == real  # right padding only: no attention mask needed
        starts = [i for i, t in enumerate(real) if t == BOS]
        assert starts[0] == 0  # a row starts at a sequence's start, never in the middle
        for a, b in zip(starts, starts[1:] + [len(real)]):
            piece = real[a:b]
            found.append(piece)
            sep = piece.index(SEP)
            for p in range(a, b):
                expected = IGNORE if (p - a < sep or p == b - 1) else row.input_ids[p + 1]
                assert row.labels[p] == expected  # nothing learned in the prompt or across sequences
        assert all(label == IGNORE for label in row.labels[len(real):])
    assert sorted(found) == sorted(fitting)
    assert stats.tokens == sum(len(s) for s in fitting)


def test_packing_fills_rows():
    # 200 sequences of 20..120 tokens into 512-token rows: best fit leaves little padding
    sequences = [_sequence(20 + (i * 37) % 101, 3, i) for i in range(200)]
    stats = PackingStats()
    rows = list(pack_rows(sequences, 512, PAD, SEP, stats=stats))
    assert stats.tokens / (len(rows) * 512) > 0.9


def test_shifted_labels_never_cross_into_the_next_sequence():
    import torch

    from codewm.model.mtp import shifted_labels

    ids = torch.tensor([[BOS, 5, 6, 7, BOS, 8, 9, PAD]])
    labels = torch.tensor([[5, 6, 7, IGNORE, 8, 9, IGNORE, IGNORE]])
    assert shifted_labels(labels, ids, BOS, 0).tolist() == labels.tolist()
    # position t learns token t + 2: position 2 (token 6) would learn BOS's successor: no
    assert shifted_labels(labels, ids, BOS, 1).tolist() == [[6, 7, IGNORE, IGNORE, 9, IGNORE, IGNORE, IGNORE]]
    assert shifted_labels(labels, ids, BOS, 2).tolist() == [[7, IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, IGNORE]]
