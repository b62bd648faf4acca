"""Shared fixtures: real traces of a few programs, and a small random codewm checkpoint (the
oracle is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from codewm.format.cwm import format_trace
from codewm.types import build_context

PROGRAMS = [
    ("def f(x):\n    y = x * 2\n    return y + 1\n", "f(20)"),
    ("def g(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n", "g(4)"),
    ("def h(xs):\n    return [x * x for x in xs]\n\ndef f(xs):\n    ys = h(xs)\n    ys.append(len(ys))\n    return ys\n", "f([1, 2])"),
    ("def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n", "fact(3)"),
    ("def f(d, k):\n    try:\n        return d[k]\n    except KeyError:\n        return None\n", "f({'a': 1}, 'b')"),
    ("def f(s):\n    raise ValueError(s)\n", "f('boom')"),
]


@pytest.fixture(scope="session")
def contexts() -> list[str]:
    return [build_context(source, call) for source, call in PROGRAMS]


@pytest.fixture(scope="session")
def real_traces(oracle, contexts):
    traces = oracle.real_traces(contexts)
    assert all(t.complete for t in traces)
    return traces


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory, real_traces):
    """A random (untrained) Llama checkpoint with a BPE tokenizer trained on real traces:
    its text is garbage, but every backend must produce the same garbage."""
    from codewm.model.checkpoint import ModelShape, random_checkpoint

    # Untied embeddings: a random tied model mostly repeats its last token.
    shape = ModelShape(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=False)
    return random_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", [format_trace(t) for t in real_traces] * 4, shape=shape, vocab_size=400, seed=1)


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory, real_traces):
    """A tiny model trained for a few seconds on the real traces of PROGRAMS: it writes
    partly right traces of them, so that comparisons of backends compare real frames."""
    import torch
    from transformers import LlamaForCausalLM

    from codewm.model.checkpoint import ModelShape, llama_config, save_checkpoint
    from codewm.model.tokenizer import train_tokenizer
    from codewm.model.train import TrainSettings, train_on_texts

    texts = [format_trace(t) for t in real_traces]
    tokenizer = train_tokenizer(texts * 4, vocab_size=400, min_frequency=1)
    torch.manual_seed(0)
    shape = ModelShape(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4)
    model = LlamaForCausalLM(llama_config(shape, tokenizer))
    train_on_texts(model, tokenizer, texts, TrainSettings(steps=150, batch_size=8, seq_len=128, lr=1e-2, warmup=10))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "trained", model, tokenizer, {"made_by": "tests/predict/conftest.py"})


@pytest.fixture(scope="session")
def programs_benchmark(tmp_path_factory):
    """A trace benchmark over PROGRAMS (a codewm JSONL file and a benchmark file naming it)."""
    import json

    folder = tmp_path_factory.mktemp("bench")
    rows = folder / "programs.jsonl"
    rows.write_text("".join(json.dumps({"id": f"p{i}", "code": source, "call": call}) + "\n" for i, (source, call) in enumerate(PROGRAMS)))
    spec = folder / "programs.toml"
    spec.write_text(f'name = "programs"\nkind = "traces"\n\n[source]\nkind = "jsonl"\npath = "{rows}"\n')
    return str(spec)
