"""Shared fixtures: a sandbox, and a real checkpoint that is wrong on purpose (the oracle is in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codewm.format.cwm import format_frames, format_prompt
from debugger_helpers import WRONG_CALL, WRONG_INDEX, WRONG_SOURCE, tampered_frames


@pytest.fixture(scope="session")
def sandbox():
    from codewm.trace.sandbox import Sandbox

    with Sandbox(workers=1) as box:
        yield box


@pytest.fixture(scope="session")
def wrong_checkpoint(tmp_path_factory, oracle) -> Path:
    """A real Hugging Face checkpoint (codewm's tokenizer, a tiny Llama) trained to recite
    one trace of WRONG_SOURCE that is wrong at WRONG_INDEX. It loads as `builtin:DIR` and
    decodes greedily like any other model; only what it learned is wrong."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from codewm.predict.registry import BUILTIN_CHECKPOINT

    context, _, frames = tampered_frames(oracle, WRONG_SOURCE, WRONG_CALL, WRONG_INDEX, "y", "7")
    text = format_prompt(context) + format_frames(frames, complete=True)
    tokenizer = AutoTokenizer.from_pretrained(BUILTIN_CHECKPOINT)
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(400):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if loss.item() < 0.002:
            break
    assert loss.item() < 0.01, f"the wrong checkpoint did not learn its trace (loss {loss.item():.3f})"
    directory = tmp_path_factory.mktemp("wrong-checkpoint")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
