"""One KV cache per program for a local Hugging Face causal LM, and the scoring of candidate
continuations over it: the machinery under structure-aware decoding
(`codewm.predict.structured`, which explains the scoring methods).

A `Slot` holds one program's tokens in the cache and the logits after them; the decoder keeps
a slot for each of its last `programs` programs, so a frame costs only the tokens that are
new. `CachedScorer._score_tree` scores many candidate tails after a shared head in one
forward pass (a token tree under a 4-D attention mask), `_score_sequential` one candidate at
a time and `_score_batch` with the cache repeated one row per candidate; each returns the
log-probabilities and a `finish(best)` that leaves the winner alone in the cache.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class Slot:
    """One program's decoding state: the tokens in its KV cache, and what follows them."""

    ids: list[int] = field(default_factory=list)
    cache: object = None
    next_logits: object = None  # the logits after `ids` (None: unknown, re-feed the last token)
    frames_text: str | None = None  # the frames text whose tokens `frames_ids` are
    frames_ids: list[int] = field(default_factory=list)


class CachedScorer:
    """The KV caches of a `TransformersLanguageModel`'s programs, and candidate scoring over
    them; the base of `StructuredDecoder`. `programs`: how many programs' caches are kept
    (default: the model's batch_size)."""

    def __init__(self, lm, programs: int | None = None) -> None:
        import torch

        self._torch = torch
        self.lm = lm
        self.model = lm.model
        self.tokenizer = lm.tokenizer
        self.device = getattr(lm, "device", "cpu")
        self.cache_argument = getattr(lm, "_cache_argument", "past_key_values")
        self._capacity = max(1, programs or getattr(lm, "batch_size", 1))
        self._slots: OrderedDict[str, Slot] = OrderedDict()
        self.forwards = 0  # forward passes run (for measurements)

    # -- the KV cache of each program ---------------------------------------------------------
    def _slot(self, context: str) -> Slot:
        slot = self._slots.pop(context, None) or Slot()
        self._slots[context] = slot
        while len(self._slots) > self._capacity:
            self._slots.popitem(last=False)
        return slot

    def _sync(self, slot: Slot, prompt: list[int]) -> None:
        """Make the cache hold `prompt`, keeping what it shares with what it holds."""
        shared = common_prefix(prompt, slot.ids)
        if shared == len(prompt) == len(slot.ids) and slot.next_logits is not None:
            return
        if slot.cache is None or shared == 0:
            slot.cache, slot.ids, slot.next_logits = None, [], None
        shared = min(shared, len(prompt) - 1)  # at least one token is fed, for the logits
        self._crop(slot, shared)
        self._feed(slot, prompt[shared:])

    def _crop(self, slot: Slot, length: int) -> None:
        if slot.cache is not None and slot.cache.get_seq_length() > length:
            slot.cache.crop(length - slot.cache.get_seq_length())
        if len(slot.ids) > length:
            slot.ids = slot.ids[:length]
            slot.next_logits = None

    def _keep(self, cache, head_end: int, lo: int, hi: int) -> bool:
        """Keep the cache's positions [0, head_end) and [lo, hi); False where the cache is
        not one this code knows how to cut (then nothing is changed)."""
        torch = self._torch
        layers = getattr(cache, "layers", None)
        if not layers or any(type(layer).__name__ != "DynamicLayer" for layer in layers):
            return False
        for layer in layers:
            if getattr(layer, "keys", None) is None or layer.keys.numel() == 0:
                continue
            layer.keys = torch.cat([layer.keys[..., :head_end, :], layer.keys[..., lo:hi, :]], dim=-2)
            layer.values = torch.cat([layer.values[..., :head_end, :], layer.values[..., lo:hi, :]], dim=-2)
        return True

    def _feed(self, slot: Slot, tokens: list[int]) -> None:
        logits = self._forward(slot, tokens, list(range(len(slot.ids), len(slot.ids) + len(tokens))), None)
        slot.ids = slot.ids + tokens
        slot.next_logits = logits[-1]

    def _forward(self, slot: Slot, tokens: list[int], positions: list[int], mask):
        """The logits of `tokens` at `positions`, appending them to the slot's cache."""
        torch = self._torch
        if slot.cache is None:
            from transformers import DynamicCache

            slot.cache = DynamicCache(config=self.model.config)
        self.forwards += 1
        extra = {"attention_mask": mask} if mask is not None else {}
        out = self.model(
            input_ids=torch.tensor([tokens], device=self.device),
            position_ids=torch.tensor([positions], device=self.device),
            use_cache=True,
            **{self.cache_argument: slot.cache},
            **extra,
        )
        return out.logits[0].float()

    def _logits(self, slot: Slot):
        """The logits after the slot's tokens (feeding the last one again if unknown)."""
        if slot.next_logits is None:
            last = slot.ids[-1]
            self._crop(slot, len(slot.ids) - 1)
            self._feed(slot, [last])
        return slot.next_logits

    def _log_softmax(self, logits):
        return self._torch.log_softmax(logits, dim=-1)

    # -- scoring candidates -------------------------------------------------------------------
    def _score_tree(self, slot: Slot, start: int, head: list[int], tails: list[list[int]], refeed: bool):
        """One forward pass: the head, then every tail attending to the head and to itself.
        Returns the head's log-probabilities, each tail's, and `finish(best)`, which leaves
        the cache with the head and that tail and returns the logits after it."""
        torch = self._torch
        tokens = head + [t for tail in tails for t in tail]
        h, n = len(head), len(tokens)
        previous = self._log_softmax(slot.next_logits) if not refeed and slot.next_logits is not None else None
        if n == 0:
            return [], [[] for _ in tails], lambda best: slot.next_logits
        positions = list(range(start, start + h))
        spans = []
        for tail in tails:
            lo = spans[-1][1] if spans else h
            spans.append((lo, lo + len(tail)))
            positions.extend(range(start + h, start + h + len(tail)))
        mask = None
        if len(tails) > 1:
            allowed = torch.ones((n, start + n), dtype=torch.bool)
            allowed[:, start:] = torch.tril(torch.ones((n, n), dtype=torch.bool))
            for lo, hi in spans:
                allowed[lo:hi, start + h : start + lo] = False  # not the tails before this one
            dtype = self.model.dtype
            mask = torch.zeros((1, 1, n, start + n), dtype=dtype)
            mask.masked_fill_(~allowed, torch.finfo(dtype).min)
            mask = mask.to(self.device)
        logits = self._forward(slot, tokens, positions, mask)
        lp = torch.log_softmax(logits, dim=-1)
        following = lp.gather(-1, torch.tensor(tokens[1:] + [0], device=lp.device).unsqueeze(-1)).squeeze(-1).tolist()

        def logprob(q: int, before: int) -> float | None:
            if before == q - 1 and before >= 0:
                return following[before]
            if before >= 0:
                return float(lp[before, tokens[q]])
            return float(previous[tokens[q]]) if previous is not None else None

        head_lps = [logprob(q, q - 1) for q in range(h)]
        tail_lps = [[logprob(q, q - 1 if q > lo else h - 1) for q in range(lo, hi)] for lo, hi in spans]

        def finish(best: int):
            lo, hi = spans[best]
            last = hi - 1 if hi > lo else h - 1
            after = logits[last] if last >= 0 else slot.next_logits
            if len(tails) > 1 and not self._keep(slot.cache, start + h, start + lo, start + hi):
                slot.cache.crop(-n)  # a cache this code cannot cut: feed the best again
                after = self._forward(slot, head + tails[best], list(range(start, start + h + len(tails[best]))), None)[-1]
            return after

        return head_lps, tail_lps, finish

    def _score_sequential(self, slot: Slot, start: int, head: list[int], tails: list[list[int]], refeed: bool):
        """One forward pass per candidate (the head and its tail); the best is fed again at
        the end unless it was the last."""
        previous = slot.next_logits
        results = []
        for tail in tails:
            self._crop(slot, start)
            slot.next_logits = previous
            head_lps, (tail_lps,), finish = self._score_tree(slot, start, head, [tail], refeed)
            results.append((head_lps, tail_lps, finish(0)))

        def finish(best: int):
            if best == len(tails) - 1:
                return results[best][2]
            self._crop(slot, start)
            slot.next_logits = previous
            return self._score_tree(slot, start, head, [tails[best]], refeed)[2](0)

        return results[0][0], [r[1] for r in results], finish

    def _score_batch(self, slot: Slot, start: int, head: list[int], tails: list[list[int]], refeed: bool):
        """One forward pass with one row per candidate (the cache repeated, rows padded on
        the right); `finish` cuts the cache back to the best row."""
        torch = self._torch
        rows = [head + tail for tail in tails]
        width = max(len(row) for row in rows)
        previous = self._log_softmax(slot.next_logits) if not refeed and slot.next_logits is not None else None
        if width == 0:
            return [], [[] for _ in tails], lambda best: slot.next_logits
        pad = self.tokenizer.pad_token_id or 0
        slot.cache.batch_repeat_interleave(len(rows))
        inputs = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=self.device)
        positions = torch.arange(start, start + width, device=self.device).unsqueeze(0).expand(len(rows), -1)
        self.forwards += 1
        logits = self.model(input_ids=inputs, position_ids=positions, use_cache=True, **{self.cache_argument: slot.cache}).logits.float()
        lp = torch.log_softmax(logits, dim=-1)

        def logprob(r: int, q: int) -> float | None:
            if q > 0:
                return float(lp[r, q - 1, rows[r][q]])
            return float(previous[rows[r][0]]) if previous is not None else None

        h = len(head)

        def finish(best: int):
            slot.cache.batch_select_indices(torch.tensor([best], device=self.device))
            slot.cache.crop(start + len(rows[best]) - slot.cache.get_seq_length())
            return logits[best, len(rows[best]) - 1]

        return [logprob(0, q) for q in range(h)], [[logprob(r, q) for q in range(h, len(row))] for r, row in enumerate(rows)], finish


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many tokens `a` and `b` share from the start."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
