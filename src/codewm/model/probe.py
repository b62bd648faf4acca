"""A teacher-forced probe of a world model: where in a trace its next-token guesses go wrong.

    result = probe(model, tokenizer, texts)           # texts: whole CWM sequences
    print(format_probe(result))                       # codewm.model.probe_report
    result = probe_dataset("builtin", "out/train-data/cpu", split="validation", n=30)

Each text gets one forward pass; every token after the prompt's `<|frame_sep|>` is scored by
whether the model's argmax at the position before it is that token (teacher forcing: the model
always sees the real text, so one early mistake does not spoil the rest, unlike decoding).
The figures say *what kind* of token the model gets wrong, and how soon in a trace:

- per part of a frame (tokens, accuracy, mean loss in nats):
  `event` (the step token `<|call_sep|>` ... `<|exception_sep|>`, and the final
  `<|end_of_text|>`), `action` (the source line after `<|action_sep|>`), `keys` (a LOCALS
  key, quotes included), `changed_values` (a LOCALS value that is not `".."`, quotes
  included), `unchanged_values` (the `".."` markers), `return_values` (the VALUE after
  `<|arg_sep|>` of a return or exception frame) and `punctuation` (the JSON punctuation of
  LOCALS: `{`, `}`, `:`, `,` and spaces, and the separators `<|action_sep|>`, `<|arg_sep|>`,
  `<|frame_sep|>`; which part a token belongs to: see `codewm.model.frame_parts`);
- `whole_frame_accuracy`: the share of frames whose every token is right;
- `first_wrong_frame`: per trace, the index (from 0) of its first frame with a wrong token,
  or the trace's frame count when none is wrong; its mean, median and a histogram, and
  `frame2_right`, the share of traces (of two frames or more) whose frame 1, the second
  frame, is right (every CWM trace starts with `main`'s call and `main`'s one line; the
  second frame is the first that needs the program);
- `frame_index_right`: for frame indices 0..7, the share of traces (long enough) whose frame
  at that index is right;
- `call_literals_exact`: the share of the LOCALS values of `call` frames that copy a literal
  argument of the calling line (`f('UppEr', 0)`: see `frame_parts.literal_arguments`) whose
  every token is right: what the recipe's copy gate reads; `call_values_exact` the same for
  every value of a call frame, arguments the program computes (`f(n - 1)`) included;
  `line_values_exact` the same for the changed values
  of `line` frames (what the model computes), `return_values_exact` for return and exception
  values; `action_exact`: the share of frames whose whole action line is right, split into
  `decision_actions_exact` (the line after a `for`/`while`/`if`/`elif` header: whether the
  loop goes on or which branch runs, `frame_parts.is_decision_line`), against
  `decision_always_enter` (the share a guess that the body always runs gets right), and
  `other_actions_exact` (the rest, which follow from the program's text); `end_right`:
  the share of traces ending with `<|end_of_text|>` where the model predicts it;
- `induction`: for each span length L, spans of L token ids drawn uniformly from the
  ordinary (non-special) vocabulary, each sequence `[bos] + span + span`; the mean loss on
  the first copy and on the second copy (each on the tokens span[1:], the ones a copier
  could predict in the second copy), their `ratio` (second / first; near 1 when the model
  cannot copy, near 0 when it has induction heads) and `uniform` (ln of the model's
  vocabulary size, the loss of a uniform guess).

A frame's tokens are those whose first character is in it (from its step token through its
closing `<|frame_sep|>`); the final `<|end_of_text|>` belongs to no frame. A value or an
action counts as exact when every token that *overlaps* its characters is right (so a value
whose opening quote hides in the token before it still answers for that token).

Texts longer than the model's context (`max_position_embeddings`) are skipped and counted
(`skipped_too_long`); scoring a cut trace would blur the per-frame figures.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

from codewm.format.cwm import END
from codewm.model.checkpoint import BUILTIN_CHECKPOINT
from codewm.model.frame_parts import ALL_PARTS, OTHER, TextLayout

_EVENT = ALL_PARTS.index("event")  # the part code of step tokens and <|end_of_text|>
HISTOGRAM_BINS = 8  # first-wrong-frame indices 0..7 are counted one by one, then "8+"
HELD_OUT_SEED = 90001  # the traces-synthetic benchmark's seed: held-out programs no training preset uses


# -- the probe ------------------------------------------------------------------------------------
def _device(model):
    import torch

    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


def context_length(model) -> int | None:
    config = getattr(model, "config", None)
    value = getattr(config, "max_position_embeddings", None) if config is not None else None
    return int(value) if value else None


def _forward_logits(model, rows: list[list[int]], pad_id: int):
    """Logits (on the model's device) of right-padded rows: causal attention never lets a
    real token see the padding after it, so no attention mask is needed."""
    import torch

    width = max(len(r) for r in rows)
    data = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        data[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return model(input_ids=data.to(_device(model))).logits


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _share(right: int, total: int) -> float | None:
    return right / total if total else None


def probe(
    model,
    tokenizer,
    texts: Iterable[str],
    *,
    copy_lengths: Sequence[int] = (20,),
    copy_trials: int = 32,
    seed: int = 0,
    batch_size: int = 8,
    batch_tokens: int = 8192,
) -> dict:
    """Teacher-forced figures of `model` on `texts` (whole CWM sequences) and its induction
    score; a JSON-able dict (see the module docstring). `model` is a causal LM whose forward
    takes `input_ids` and returns `.logits`; it is put in eval mode for the probe and back
    in train mode afterwards if it was in it. A forward pass takes at most `batch_size` texts
    and `batch_tokens` tokens, padding included (a longer text goes alone)."""
    import torch

    texts = list(texts)
    was_training = bool(getattr(model, "training", False))
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            result = _probe_texts(model, tokenizer, texts, max(1, batch_size), batch_tokens)
            result["induction"] = induction_score(model, tokenizer, copy_lengths, copy_trials, seed=seed, batch_size=max(1, batch_tokens // (2 * max(copy_lengths, default=1) + 1)))
    finally:
        if was_training:
            model.train()
    return result


def _batches(items: list, batch_size: int, batch_tokens: int) -> Iterable[list]:
    """Texts of similar lengths together, at most `batch_size` of them and at most
    `batch_tokens` tokens with the padding (a text longer than that goes alone)."""
    batch: list = []
    for item in sorted(items, key=lambda item: len(item[1])):
        # sorted by length: the new item is the longest, so it sets the padded width
        if batch and (len(batch) >= batch_size or (len(batch) + 1) * len(item[1]) > batch_tokens):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def _probe_texts(model, tokenizer, texts: list[str], batch_size: int = 8, batch_tokens: int = 8192) -> dict:
    import torch

    limit = context_length(model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    items = []  # (layout, ids, offsets, index among the probed texts)
    skipped = 0
    if texts:
        encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        for text, ids, offsets in zip(texts, encoded["input_ids"], encoded["offset_mapping"]):
            if limit is not None and len(ids) > limit:
                skipped += 1
                continue
            items.append((TextLayout(text), ids, offsets, len(items)))

    part_tokens = [0] * len(ALL_PARTS)
    part_right = [0] * len(ALL_PARTS)
    part_loss = [0.0] * len(ALL_PARTS)
    n_frames = frames_right = 0
    unit_total = {"call_value": 0, "call_literal": 0, "value": 0, "action": 0, "decision_action": 0, "return_value": 0}
    decisions_entering = 0  # decisions whose line is the header's body: what "always enter" gets right
    unit_right = dict.fromkeys(unit_total, 0)
    ends_total = ends_right = 0
    first_wrong: list[tuple[int, int]] = [(0, 0)] * len(items)  # (first wrong frame, frame count) per trace
    by_index_total = [0] * HISTOGRAM_BINS
    by_index_right = [0] * HISTOGRAM_BINS

    for batch in _batches(items, batch_size, batch_tokens):
        logits = _forward_logits(model, [item[1] for item in batch], pad_id)
        for row, (layout, ids, offsets, index) in enumerate(batch):
            n = len(ids)
            if n < 2:
                continue
            target = torch.tensor(ids[1:], dtype=torch.long, device=logits.device)
            row_logits = logits[row, : n - 1].float()
            right = (row_logits.argmax(-1) == target).tolist()
            losses = torch.nn.functional.cross_entropy(row_logits, target, reduction="none").tolist()
            frame_ok = [True] * len(layout.frame_kinds)
            unit_ok = [True] * len(layout.unit_kinds)
            units = layout.units
            for t in range(1, n):
                s, e = offsets[t]
                if s < layout.prompt_end or s >= len(layout.parts):
                    continue
                part = layout.token_part(s, max(e, s + 1))
                ok = right[t - 1]
                part_tokens[part] += 1
                part_right[part] += ok
                part_loss[part] += losses[t - 1]
                frame = layout.frames[s]
                if not ok:
                    if frame >= 0:
                        frame_ok[frame] = False
                    for u in set(units[s : max(e, s + 1)]):
                        if u >= 0:
                            unit_ok[u] = False
                if part == _EVENT and frame < 0 and layout.text.startswith(END, s):
                    ends_total += 1
                    ends_right += ok
            n_frames += len(frame_ok)
            frames_right += sum(frame_ok)
            first_wrong[index] = (next((i for i, ok in enumerate(frame_ok) if not ok), len(frame_ok)), len(frame_ok))
            for i in range(min(HISTOGRAM_BINS, len(frame_ok))):
                by_index_total[i] += 1
                by_index_right[i] += frame_ok[i]
            decisions_entering += sum(layout.unit_enters)
            for kind, literal, decision, ok in zip(layout.unit_kinds, layout.unit_literal, layout.unit_decision, unit_ok):
                unit_total[kind] += 1
                unit_right[kind] += ok
                if literal:
                    unit_total["call_literal"] += 1
                    unit_right["call_literal"] += ok
                if decision:
                    unit_total["decision_action"] += 1
                    unit_right["decision_action"] += ok

    n_tokens = sum(part_tokens)
    parts = {}
    for code, name in enumerate(ALL_PARTS):
        if name == OTHER and not part_tokens[code]:
            continue
        count = part_tokens[code]
        parts[name] = {
            "tokens": count,
            "accuracy": _share(part_right[code], count),
            "loss": part_loss[code] / count if count else None,
        }
    histogram = {str(i): 0 for i in range(HISTOGRAM_BINS)}
    histogram[f"{HISTOGRAM_BINS}+"] = 0
    histogram["none"] = 0
    for item, count in first_wrong:
        if item >= count:
            histogram["none"] += 1
        elif item < HISTOGRAM_BINS:
            histogram[str(item)] += 1
        else:
            histogram[f"{HISTOGRAM_BINS}+"] += 1
    frame_index_right = [_share(r, t) for r, t in zip(by_index_right, by_index_total)]
    return {
        "n_traces": len(items),
        "n_frames": n_frames,
        "n_tokens": n_tokens,
        "skipped_too_long": skipped,
        "context_length": limit,
        "token_accuracy": _share(sum(part_right), n_tokens),
        "loss": sum(part_loss) / n_tokens if n_tokens else None,
        "parts": parts,
        "whole_frame_accuracy": _share(frames_right, n_frames),
        "first_wrong_frame": {
            "mean": sum(i for i, _ in first_wrong) / len(first_wrong) if first_wrong else None,
            "median": _median([i for i, _ in first_wrong]),
            "per_trace": [i for i, _ in first_wrong],  # in the order of the texts probed
            "histogram": histogram,
        },
        "frame_index_right": frame_index_right,
        "frame2_right": frame_index_right[1] if len(frame_index_right) > 1 else None,
        "frame2_traces": by_index_total[1],
        "call_values_exact": _share(unit_right["call_value"], unit_total["call_value"]),
        "call_values": unit_total["call_value"],
        "call_literals_exact": _share(unit_right["call_literal"], unit_total["call_literal"]),
        "call_literals": unit_total["call_literal"],
        "line_values_exact": _share(unit_right["value"], unit_total["value"]),
        "line_values": unit_total["value"],
        "return_values_exact": _share(unit_right["return_value"], unit_total["return_value"]),
        "action_exact": _share(unit_right["action"], unit_total["action"]),
        # the actions that are control-flow decisions (after a for/while/if/elif line), and the rest
        "decision_actions_exact": _share(unit_right["decision_action"], unit_total["decision_action"]),
        "decision_actions": unit_total["decision_action"],
        "decision_always_enter": _share(decisions_entering, unit_total["decision_action"]),
        "other_actions_exact": _share(unit_right["action"] - unit_right["decision_action"], unit_total["action"] - unit_total["decision_action"]),
        "end_right": _share(ends_right, ends_total),
    }


def induction_score(model, tokenizer, copy_lengths: Sequence[int] = (20,), copy_trials: int = 32, *, seed: int = 0, batch_size: int = 32) -> dict:
    """Loss on a repeated random span, per span length: {str(L): {first_copy_loss,
    second_copy_loss, ratio, uniform, trials}} (see the module docstring)."""
    import random

    import torch

    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    config = getattr(model, "config", None)
    vocab = min(len(tokenizer), getattr(config, "vocab_size", None) or len(tokenizer))
    ordinary = [i for i in range(vocab) if i not in special]
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else 0
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else bos
    out: dict = {}
    with torch.no_grad():
        for length in copy_lengths:
            if length < 2:
                raise ValueError(f"copy lengths must be at least 2, got {length}")
            rng = random.Random(f"codewm-probe/induction/{seed}/{length}")
            rows = []
            for _ in range(copy_trials):
                span = rng.choices(ordinary, k=length)
                rows.append([bos] + span + span)
            first = second = 0.0
            vocab_out = None
            for start in range(0, len(rows), max(1, batch_size)):
                chunk = rows[start : start + max(1, batch_size)]
                logits = _forward_logits(model, chunk, pad_id)
                vocab_out = logits.shape[-1]
                data = torch.tensor(chunk, dtype=torch.long, device=logits.device)
                # position p predicts token p + 1; span[1:] of the first copy is at 2..L, of the second at L+2..2L
                losses = torch.nn.functional.cross_entropy(logits[:, :-1].float().flatten(0, 1), data[:, 1:].flatten(), reduction="none").view(len(chunk), -1)
                first += losses[:, 1:length].sum().item()
                second += losses[:, length + 1 : 2 * length].sum().item()
            count = copy_trials * (length - 1)
            first_loss = first / count if count else None
            second_loss = second / count if count else None
            out[str(length)] = {
                "first_copy_loss": first_loss,
                "second_copy_loss": second_loss,
                "ratio": second_loss / first_loss if first_loss else None,
                "uniform": math.log(vocab_out) if vocab_out else None,
                "trials": copy_trials,
            }
    return out


# -- models and data ------------------------------------------------------------------------------
def resolve_model_dir(spec: str | Path) -> Path:
    """A checkpoint directory from `builtin`, `builtin:DIR`, `hf:DIR` or a plain DIR."""
    text = str(spec)
    if text == "builtin":
        return BUILTIN_CHECKPOINT
    for prefix in ("builtin:", "hf:"):
        if text.startswith(prefix):
            return Path(text[len(prefix) :]).expanduser()
    return Path(text).expanduser()


def load_model(spec: str | Path):
    """(model, tokenizer) of a checkpoint (see `resolve_model_dir`), float32, eval mode, CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codewm.model.checkpoint import quiet_transformers

    path = resolve_model_dir(spec)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a model directory (no config.json)")
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    return model, tokenizer


def held_out_texts(n: int, seed: int = HELD_OUT_SEED, mode: str = "general") -> tuple[list[str], dict[str, int]]:
    """CWM texts of the first `n` held-out synthetic programs whose run is whole (traced in the
    sandbox as the dataset builder traces them), and the statuses of those left out."""
    from codewm.format.cwm import DESCRIBE_STEPS
    from codewm.programs.synthetic import SyntheticSource
    from codewm.trace.sandbox import Program, Sandbox

    cases = list(SyntheticSource(count=n, seed=seed, mode=mode).cases())
    texts, left_out = [], {}
    with Sandbox(workers=1) as sandbox:
        for result in sandbox.run_batch([Program.function(c.source, c.call) for c in cases], formatter=DESCRIBE_STEPS):
            if result.status in ("ok", "exception") and result.trace.complete and result.formatted["text"]:
                texts.append(result.formatted["text"])
            else:
                left_out[result.status] = left_out.get(result.status, 0) + 1
    return texts, left_out


def dataset_texts(data_dir: str | Path, split: str = "validation", n: int = 30, seed: int = 0) -> list[str]:
    """The first `n` trace texts of a built dataset's split (in `iter_texts`' order for `seed`)."""
    from codewm.model.data import iter_texts

    texts = []
    for text in iter_texts(data_dir, split, target="trace", seed=seed, epochs=1):
        texts.append(text)
        if len(texts) >= n:
            break
    return texts


def probe_dataset(model, data, split: str = "validation", n: int = 30, *, seed: int = 0, **options) -> dict:
    """`probe` on the first `n` texts of a built dataset's split, or on a list of texts.

    `model` is a checkpoint (a directory, `builtin`, `builtin:DIR`) or a (model, tokenizer)
    pair; `data` a dataset directory or a list of texts. `options` go to `probe`."""
    if isinstance(model, (str, Path)):
        model, tokenizer = load_model(model)
    else:
        model, tokenizer = model
    if isinstance(data, (str, Path)):
        texts = dataset_texts(data, split, n, seed)
        source = {"data": str(data), "split": split}
    else:
        texts = list(data)[:n]
        source = {"data": "texts"}
    result = probe(model, tokenizer, texts, seed=seed, **options)
    result["source"] = source
    return result
