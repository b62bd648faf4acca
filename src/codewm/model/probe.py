"""A teacher-forced probe of a world model: where in a trace its next-token guesses go wrong.

    result = probe(model, tokenizer, texts)           # texts: whole CWM sequences
    print(format_probe(result))
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
  `<|frame_sep|>`);
- `whole_frame_accuracy`: the share of frames whose every token is right;
- `first_wrong_frame`: per trace, the index (from 0) of its first frame with a wrong token,
  or the trace's frame count when none is wrong; its mean, median and a histogram, and
  `frame2_right`, the share of traces (of two frames or more) whose frame 1, the second
  frame, is right (every CWM trace starts with `main`'s call and `main`'s one line; the
  second frame is the first that needs the program);
- `frame_index_right`: for frame indices 0..7, the share of traces (long enough) whose frame
  at that index is right;
- `call_values_exact`: the share of the LOCALS values of `call` frames (copies of the call's
  literals) whose every token is right; `line_values_exact` the same for the changed values
  of `line` frames (what the model computes), `return_values_exact` for return and exception
  values; `action_exact`: the share of frames whose whole action line is right; `end_right`:
  the share of traces ending with `<|end_of_text|>` where the model predicts it;
- `induction`: for each span length L, spans of L token ids drawn uniformly from the
  ordinary (non-special) vocabulary, each sequence `[bos] + span + span`; the mean loss on
  the first copy and on the second copy (each on the tokens span[1:], the ones a copier
  could predict in the second copy), their `ratio` (second / first; near 1 when the model
  cannot copy, near 0 when it has induction heads) and `uniform` (ln of the model's
  vocabulary size, the loss of a uniform guess).

Which part a token belongs to: the part of its first character, with one exception. A
byte-level BPE tokenizer glues JSON punctuation to the quote that follows it (codewm's
tokenizers write `{"`, ` "'` and ` ".."}` as one token each), so under the plain
first-character rule every value's opening quote and every `".."` marker would count as
punctuation and `unchanged_values` would stay empty. So a token that starts with JSON
punctuation belongs to the first key or value it reaches; only a token of punctuation alone
counts as `punctuation`. A token that starts in a key or value and runs on into punctuation
(`'",`) belongs to that key or value. The step tokens and separators are special tokens, so
the parts they delimit (action, return value) never share a token with anything else.

A frame's tokens are those whose first character is in it (from its step token through its
closing `<|frame_sep|>`); the final `<|end_of_text|>` belongs to no frame. A value or an
action counts as exact when every token that *overlaps* its characters is right (so a value
whose opening quote hides in the token before it still answers for that token).

Texts longer than the model's context (`max_position_embeddings`) are skipped and counted
(`skipped_too_long`); scoring a cut trace would blur the per-frame figures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Sequence

from codewm.format.cwm import (
    ACTION_SEP,
    ARG_SEP,
    BEGIN,
    CALL_SEP,
    CONTEXT_START,
    END,
    EXCEPTION_SEP,
    FRAME_SEP,
    LINE_SEP,
    RETURN_SEP,
)

PARTS = ("event", "action", "keys", "changed_values", "unchanged_values", "return_values", "punctuation")
OTHER = "other"  # text that does not follow the frame grammar (a cut or garbled text); reported only when present
_ALL = PARTS + (OTHER,)
_EVENT, _ACTION, _KEY, _CHANGED, _UNCHANGED, _RETURN, _PUNCT, _OTHER = range(len(_ALL))
_NONE = -1  # the prompt: not scored
_KINDS = ((CALL_SEP, "call"), (LINE_SEP, "line"), (RETURN_SEP, "return"), (EXCEPTION_SEP, "exception"))
_JSON_PUNCT = set("{}:, \t\r\n")
HISTOGRAM_BINS = 8  # first-wrong-frame indices 0..7 are counted one by one, then "8+"


class TextLayout:
    """What each character of a CWM sequence is.

    `parts[i]`: the part code of character i (`_NONE` in the prompt); `frames[i]`: the index
    of the frame it is in (-1 in the prompt and for `<|end_of_text|>`); `units[i]`: the index
    of the value or action it is in (-1 elsewhere), with `unit_kinds[u]` one of "call_value",
    "value", "action", "return_value" and `unit_frames[u]` its frame. `prompt_end` is the
    offset right after the prompt's `<|frame_sep|>`; `frame_kinds` the event of each frame;
    `has_end` whether the text ends with `<|end_of_text|>`.
    """

    def __init__(self, text: str) -> None:
        n = len(text)
        self.text = text
        self.parts = [_NONE] * n
        self.frames = [-1] * n
        self.units = [-1] * n
        self.unit_kinds: list[str] = []
        self.unit_frames: list[int] = []
        self.frame_kinds: list[str] = []
        self.has_end = False
        pos = text.startswith(BEGIN) and len(BEGIN) or 0
        if not text.startswith(CONTEXT_START, pos):
            raise ValueError("not a CWM sequence: it does not start with <|begin_of_text|><|trace_context_start|>")
        end = text.find(FRAME_SEP, pos)
        if end < 0:
            raise ValueError("not a CWM sequence: the prompt is not closed by <|frame_sep|>")
        self.prompt_end = pos = end + len(FRAME_SEP)
        while pos < n:
            if text.startswith(END, pos):
                self._mark(pos, pos + len(END), _EVENT)
                pos += len(END)
                self.has_end = pos == n
                if pos < n:
                    self._mark(pos, n, _OTHER)
                break
            pos = self._frame(pos)

    # -- building -----------------------------------------------------------------------------
    def _mark(self, start: int, end: int, part: int, frame: int = -1, unit: int = -1) -> None:
        if end > start:
            self.parts[start:end] = [part] * (end - start)
            if frame >= 0:
                self.frames[start:end] = [frame] * (end - start)
            if unit >= 0:
                self.units[start:end] = [unit] * (end - start)

    def _unit(self, kind: str, frame: int) -> int:
        self.unit_kinds.append(kind)
        self.unit_frames.append(frame)
        return len(self.unit_kinds) - 1

    def _frame(self, pos: int) -> int:
        text, n = self.text, len(self.text)
        frame = len(self.frame_kinds)
        for token, kind in _KINDS:
            if text.startswith(token, pos):
                break
        else:  # not a frame: the rest of the text is out of the grammar
            self.frame_kinds.append("other")
            self._mark(pos, n, _OTHER, frame)
            return n
        self.frame_kinds.append(kind)
        self._mark(pos, pos + len(token), _EVENT, frame)
        pos += len(token)
        stop = text.find(FRAME_SEP, pos)
        stop = n if stop < 0 else stop
        if kind in ("call", "line"):
            action = text.find(ACTION_SEP, pos, stop)
            if action < 0:
                self._mark(pos, stop, _OTHER, frame)
            else:
                self._locals(pos, action, frame, kind)
                self._mark(action, action + len(ACTION_SEP), _PUNCT, frame)
                start = action + len(ACTION_SEP)
                self._mark(start, stop, _ACTION, frame, self._unit("action", frame))
        else:
            if not text.startswith(ACTION_SEP, pos):
                self._mark(pos, stop, _OTHER, frame)
            else:
                self._mark(pos, pos + len(ACTION_SEP), _PUNCT, frame)
                start = pos + len(ACTION_SEP)
                arg = text.find(ARG_SEP, start, stop)
                source_end = stop if arg < 0 else arg
                self._mark(start, source_end, _ACTION, frame, self._unit("action", frame))
                if arg >= 0:
                    self._mark(arg, arg + len(ARG_SEP), _PUNCT, frame)
                    value = arg + len(ARG_SEP)
                    self._mark(value, stop, _RETURN, frame, self._unit("return_value", frame))
        if stop < n:
            self._mark(stop, stop + len(FRAME_SEP), _PUNCT, frame)
            return stop + len(FRAME_SEP)
        return n

    def _locals(self, start: int, end: int, frame: int, kind: str) -> None:
        """LOCALS between `start` and `end`: a JSON object, scanned for its keys and values."""
        text = self.text
        decoder = json.JSONDecoder()
        expect = "open"
        i = start
        try:
            while i < end:
                c = text[i]
                if c in _JSON_PUNCT:
                    if expect == "open" and c == "{":
                        expect = "key"
                    elif c == ":" and expect == "colon":
                        expect = "value"
                    elif c == "," and expect == "comma":
                        expect = "key"
                    elif c == "}" and expect in ("comma", "key"):
                        expect = "done"
                    elif not c.isspace():
                        raise ValueError(f"unexpected {c!r}")
                    self._mark(i, i + 1, _PUNCT, frame)
                    i += 1
                elif expect == "key":
                    _, after = decoder.raw_decode(text, i)
                    after = min(after, end)
                    self._mark(i, after, _KEY, frame)
                    expect, i = "colon", after
                elif expect == "value":
                    _, after = decoder.raw_decode(text, i)
                    after = min(after, end)
                    if text[i:after] == '".."':
                        self._mark(i, after, _UNCHANGED, frame)
                    else:
                        unit = self._unit("call_value" if kind == "call" else "value", frame)
                        self._mark(i, after, _CHANGED, frame, unit)
                    expect, i = "comma", after
                else:
                    raise ValueError(f"unexpected {c!r}")
        except ValueError:
            self._mark(i, end, _OTHER, frame)

    # -- reading ------------------------------------------------------------------------------
    def token_part(self, start: int, end: int) -> int:
        """The part of a token covering characters [start, end) (see the module docstring)."""
        parts = self.parts
        first = parts[start]
        if first != _PUNCT or start >= len(self.frames) or self.frames[start] < 0:
            return first
        for i in range(start + 1, min(end, len(parts))):
            part = parts[i]
            if part in (_KEY, _CHANGED, _UNCHANGED):
                return part
            if part != _PUNCT:
                break
        return first


def part_of_characters(text: str) -> list[str | None]:
    """The part of every character of a CWM sequence (None in the prompt): what the probe's
    token classification starts from."""
    layout = TextLayout(text)
    return [None if code == _NONE else _ALL[code] for code in layout.parts]


# -- the probe ------------------------------------------------------------------------------------
def _device(model):
    import torch

    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device("cpu")


def _context_length(model) -> int | None:
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

    limit = _context_length(model)
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

    part_tokens = [0] * len(_ALL)
    part_right = [0] * len(_ALL)
    part_loss = [0.0] * len(_ALL)
    n_frames = frames_right = 0
    unit_total = {"call_value": 0, "value": 0, "action": 0, "return_value": 0}
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
            for kind, ok in zip(layout.unit_kinds, unit_ok):
                unit_total[kind] += 1
                unit_right[kind] += ok

    n_tokens = sum(part_tokens)
    parts = {}
    for code, name in enumerate(_ALL):
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
        "line_values_exact": _share(unit_right["value"], unit_total["value"]),
        "line_values": unit_total["value"],
        "return_values_exact": _share(unit_right["return_value"], unit_total["return_value"]),
        "action_exact": _share(unit_right["action"], unit_total["action"]),
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
        from codewm.predict.registry import BUILTIN_CHECKPOINT

        return Path(BUILTIN_CHECKPOINT)
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


# -- the report -----------------------------------------------------------------------------------
def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_probe(result: dict) -> str:
    """A plain-text table of a `probe` result."""
    lines = [
        f"teacher-forced probe: {result['n_traces']} traces, {result['n_frames']} frames, {result['n_tokens']} tokens"
        + (f" ({result['skipped_too_long']} skipped: longer than the context)" if result.get("skipped_too_long") else ""),
        "",
        f"{'part':<18}{'tokens':>8}{'accuracy':>10}{'loss':>8}",
    ]
    for name, entry in result["parts"].items():
        lines.append(f"{name:<18}{entry['tokens']:>8}{_pct(entry['accuracy']):>10}{_num(entry['loss'], 2):>8}")
    lines.append(f"{'all':<18}{result['n_tokens']:>8}{_pct(result['token_accuracy']):>10}{_num(result['loss'], 2):>8}")
    first = result["first_wrong_frame"]
    histogram = "  ".join(f"{k}:{v}" for k, v in first["histogram"].items())
    lines += [
        "",
        f"whole-frame accuracy        {_pct(result['whole_frame_accuracy'])}",
        f"action exact                {_pct(result['action_exact'])}",
        f"call-frame values exact     {_pct(result['call_values_exact'])}  ({result['call_values']} values)",
        f"line-frame values exact     {_pct(result['line_values_exact'])}  ({result['line_values']} changed values)",
        f"return values exact         {_pct(result['return_values_exact'])}",
        f"<|end_of_text|> right       {_pct(result['end_right'])}",
        f"frame 2 right               {_pct(result['frame2_right'])}  ({result['frame2_traces']} traces)",
        "right by frame index        " + "  ".join(f"{i}:{_pct(v)}" for i, v in enumerate(result["frame_index_right"])),
        f"first wrong frame           mean {_num(first['mean'], 2)}  median {_num(first['median'], 1)}",
        f"  histogram (index: traces) {histogram}",
    ]
    induction = result.get("induction") or {}
    if induction:
        lines += ["", f"{'induction (L)':<18}{'1st copy':>10}{'2nd copy':>10}{'ratio':>8}{'uniform':>9}"]
        for length, entry in induction.items():
            lines.append(
                f"{length:<18}{_num(entry['first_copy_loss']):>10}{_num(entry['second_copy_loss']):>10}{_num(entry['ratio']):>8}{_num(entry['uniform']):>9}"
            )
    return "\n".join(lines)


# The gates the built-in model's recipe must pass (issue 13) before more compute is spent on
# it: copying has formed, actions and call-frame literals are copied, frame 2 comes out right.
GATES = (
    # (name, what it reads, threshold, "below" | "above")
    ("second copy loss below 30 % of the first", "copy_loss_ratio", 0.30, "below"),
    ("action tokens above 95 %", "action_tokens", 0.95, "above"),
    ("call-frame values above 90 % exact", "call_values_exact", 0.90, "above"),
    ("frame 2 right in at least 95 % of traces", "frame2_right", 0.95, "above_or_equal"),
)


def gate_figures(result: dict) -> dict:
    """The figures the gates read, from a `probe` result."""
    induction = next(iter(result.get("induction", {}).values()), {})
    return {
        "copy_loss_ratio": induction.get("ratio"),
        "action_tokens": result.get("parts", {}).get("action", {}).get("accuracy"),
        "call_values_exact": result.get("call_values_exact"),
        "frame2_right": result.get("frame2_right"),
    }


def check_gates(result: dict) -> list[dict]:
    """Each gate with its figure and whether it passes (a missing figure fails)."""
    figures = gate_figures(result)
    out = []
    for name, key, threshold, how in GATES:
        value = figures[key]
        if value is None:
            passed = False
        elif how == "below":
            passed = value < threshold
        elif how == "above":
            passed = value > threshold
        else:
            passed = value >= threshold
        out.append({"gate": name, "figure": key, "value": value, "threshold": threshold, "passed": passed})
    return out
