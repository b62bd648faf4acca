"""The minimal in-memory training loop: a small trained model in seconds, for tests and benchmarks.

    losses = train_on_texts(model, tokenizer, texts, TrainSettings(steps=100))

No data files, checkpoints or resuming (that is `codewm.model.train`): the texts are packed
end to end into rows and trained on with AdamW and a cosine schedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterable

from codewm.model.schedule import cosine_lr


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 200  # optimizer steps
    batch_size: int = 8  # sequences per step
    seq_len: int = 512  # tokens per sequence (texts are packed end to end, <|end_of_text|> between)
    lr: float = 3e-3  # peak learning rate (AdamW), after warmup, cosine to 10 %
    warmup: int = 20  # steps of linear warmup
    weight_decay: float = 0.0
    seed: int = 0


def pack(token_lists: Iterable[list[int]], seq_len: int) -> list[list[int]]:
    """Concatenate token lists and cut the stream into sequences of `seq_len` + 1 tokens
    (inputs and their next-token targets); the tail shorter than that is dropped."""
    stream: list[int] = []
    for tokens in token_lists:
        stream.extend(tokens)
    width = seq_len + 1
    return [stream[i : i + width] for i in range(0, len(stream) - width + 1, seq_len)]


def train_on_texts(model, tokenizer, texts: list[str], settings: TrainSettings = TrainSettings(), log: Callable[[int, float], None] | None = None) -> list[float]:
    """Train `model` in place on `texts` (each a whole CWM sequence), all in memory; returns
    the loss per step. Tests and benchmarks use it to make a small trained model in seconds."""
    import torch

    eos = tokenizer.eos_token_id
    token_lists = [tokenizer(t, add_special_tokens=False)["input_ids"] + ([eos] if not t.endswith(tokenizer.eos_token) else []) for t in texts]
    sequences = pack(token_lists, settings.seq_len)
    if not sequences:
        raise ValueError(f"the texts hold fewer than {settings.seq_len + 1} tokens: nothing to train on")
    rng = random.Random(settings.seed)
    torch.manual_seed(settings.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, betas=(0.9, 0.95))

    model.train()
    losses = []
    order: list[int] = []
    for step in range(settings.steps):
        batch = []
        for _ in range(settings.batch_size):
            if not order:
                order = list(range(len(sequences)))
                rng.shuffle(order)
            batch.append(sequences[order.pop()])
        data = torch.tensor(batch, dtype=torch.long, device=model.device)  # (batch, seq_len + 1)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, settings.steps, settings.lr, settings.warmup)
        logits = model(input_ids=data[:, :-1]).logits  # (batch, seq_len, vocab)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), data[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if log is not None:
            log(step, losses[-1])
    model.eval()
    return losses
