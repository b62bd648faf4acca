"""Multi-token prediction (Gloeckle et al., "Better & Faster Large Language Models via
Multi-token Prediction", 2024): extra heads on the shared trunk predict tokens 2..n ahead.

Each extra head is a residual SwiGLU-free MLP block on the trunk's last hidden state,
followed by the model's own (shared) output layer, so a head adds 2·d² parameters. The
heads are an auxiliary loss during training; they are saved next to the model
(`mtp_heads.safetensors`) and the model itself stays a plain Llama that every loader reads.
Decoding can also use them to draft tokens (`speculative_accept_rate` measures how often a
draft would be accepted; `bench/experiments/mtp.py` reports the effect).
"""

from __future__ import annotations

import torch
from torch import nn

HEADS_FILE = "mtp_heads.safetensors"


class MultiTokenHeads(nn.Module):
    def __init__(self, hidden_size: int, extra_heads: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.extra_heads = extra_heads
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.RMSNorm(hidden_size, eps=eps), nn.Linear(hidden_size, hidden_size, bias=False), nn.SiLU(), nn.Linear(hidden_size, hidden_size, bias=False))
            for _ in range(extra_heads)
        )
        for block in self.blocks:  # start as the identity: each head begins as "the next token"
            nn.init.zeros_(block[-1].weight)

    def forward(self, hidden: torch.Tensor) -> list[torch.Tensor]:
        """Hidden states for tokens 2, 3, ... ahead (one tensor per extra head)."""
        return [hidden + block(hidden) for block in self.blocks]


def shifted_labels(labels: torch.Tensor, input_ids: torch.Tensor, bos_id: int, ahead: int) -> torch.Tensor:
    """Labels for predicting `ahead` tokens past the next one: position t learns the label of
    t + ahead, unless that belongs to another packed sequence (or is past the row)."""
    if ahead == 0:
        return labels
    sequence = torch.cumsum(input_ids == bos_id, dim=1)
    out = torch.full_like(labels, -100)
    same = sequence[:, ahead:] == sequence[:, :-ahead]
    out[:, :-ahead] = torch.where(same, labels[:, ahead:], torch.full_like(labels[:, ahead:], -100))
    return out


def save_heads(heads: MultiTokenHeads, directory) -> None:
    from safetensors.torch import save_file

    state = {name: tensor.detach().float().cpu().contiguous() for name, tensor in heads.state_dict().items()}
    save_file(state, str(directory / HEADS_FILE), metadata={"extra_heads": str(heads.extra_heads)})


def load_heads(directory, hidden_size: int) -> MultiTokenHeads | None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = directory / HEADS_FILE
    if not path.exists():
        return None
    with safe_open(str(path), framework="pt") as handle:
        extra = int(handle.metadata()["extra_heads"])
    heads = MultiTokenHeads(hidden_size, extra)
    heads.load_state_dict(load_file(str(path)))
    return heads


@torch.no_grad()
def speculative_accept_rate(model, heads: MultiTokenHeads, input_ids: torch.Tensor, labels: torch.Tensor) -> float:
    """How often head 2's guess of the token after next equals what the model itself would
    write there (teacher-forced, where that position has a label): the share of decoding steps
    at which a two-token draft would be accepted by a greedy verifier."""
    out = model(input_ids=input_ids, output_hidden_states=True)
    greedy = out.logits.argmax(-1)  # the model's own next token at every position
    draft = model.get_output_embeddings()(heads(out.hidden_states[-1])[0]).argmax(-1)  # its guess 2 ahead
    # draft[t] guesses token t + 2; the model writes it at position t + 1 (after the real t + 1).
    valid = (labels[:, :-1] != -100) & (labels[:, 1:] != -100)
    agree = (draft[:, :-1] == greedy[:, 1:]) & valid
    return float(agree.sum() / valid.sum().clamp(min=1))


@torch.no_grad()
def greedy_generate(model, prompt_ids: list[int], max_new_tokens: int, stop_ids: set[int], heads: MultiTokenHeads | None = None) -> tuple[list[int], int]:
    """Greedy decoding of one prompt; returns the new tokens and the number of forward passes.

    With `heads`, self-speculative decoding: every forward pass feeds the next token and
    head 2's draft of the one after; when the model's own choice there equals the draft, two
    tokens were written for one pass, else the draft is dropped from the KV cache. The text
    is the plain greedy text (up to floating-point ties); only the number of passes changes.
    """
    from transformers import DynamicCache

    import inspect

    output_layer = model.get_output_embeddings()
    cache = DynamicCache()
    # transformers 5 names the cache argument `cache`; 4.x `past_key_values`
    cache_kw = {"cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values": cache}
    out = model(input_ids=torch.tensor([prompt_ids], device=model.device), **cache_kw, use_cache=True, output_hidden_states=heads is not None)
    passes = 1

    def draft_at(hidden_states, position: int) -> int:
        return int(output_layer(heads(hidden_states[-1][0, position])[0]).argmax(-1))

    token = int(out.logits[0, -1].argmax())
    draft = draft_at(out.hidden_states, -1) if heads is not None else None
    new: list[int] = []
    while True:
        new.append(token)
        if token in stop_ids or len(new) >= max_new_tokens:
            return new, passes
        if draft is None:
            out = model(input_ids=torch.tensor([[token]], device=model.device), **cache_kw, use_cache=True)
            passes += 1
            token = int(out.logits[0, -1].argmax())
            continue
        out = model(input_ids=torch.tensor([[token, draft]], device=model.device), **cache_kw, use_cache=True, output_hidden_states=True)
        passes += 1
        verified = int(out.logits[0, 0].argmax())
        if verified == draft:
            new.append(draft)
            if draft in stop_ids or len(new) >= max_new_tokens:
                return new, passes
            token = int(out.logits[0, 1].argmax())
            draft = draft_at(out.hidden_states, 1)
        else:
            cache.crop(-1)  # drop the rejected draft's keys and values
            token = verified
            draft = draft_at(out.hidden_states, 0)
