"""Training data for codewm's models: dataset records -> texts -> token rows.

    texts = iter_texts("out/train-data/cpu", "train", target="trace", seed=0)   # endless, shuffled
    rows = pack_rows(tokenize(texts, tokenizer), seq_len=4096)                 # PackedRow, ...

Streaming: shards are read one at a time (their order and the records within a few shards
shuffled per epoch), so a dataset larger than memory trains as well as a small one.

Packing: every row holds whole sequences, each starting at its `<|begin_of_text|>`, placed
best-fit into a window of open rows and right-padded. A trace is never cut in two, so no row
starts in the middle of a trace without its program; right padding needs no attention mask,
so the fast causal attention kernels stay in use. Sequences may attend to earlier ones in the
same row, as in GPT/Llama pretraining; each starts with its own BOS and the model learns to
read from there. Sequences longer than a row are skipped and counted.

Targets: what the model learns to write after the program.

- `trace`: the whole CWM trace (CWM's scratchpad): every frame of every call.
- `direct`: only the entry point's own frames (`main`'s call, its one line, and its return
  or exception), as if the called function were opaque: the model writes the output
  directly. Same programs, same format, same decoding and scoring; the baseline for the
  claim that predicting the trace first gives better outputs.

The loss is on the model's part only (after the `<|frame_sep|>` that ends the prompt), which
is what a world model is asked to produce; the program text is context.

Copy spans (`copy_fraction` > 0): a few percent of the tokens are sequences of a random span
of ordinary tokens written twice, `<|begin_of_text|> SPAN SPAN <|end_of_text|>`, with the loss
on the repeat only. A world model mostly copies (source lines into actions, call literals
into locals); these rows make the induction heads that copy form early instead of after
tens of millions of tokens (Olsson et al. 2022; Aoyama et al. 2025).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from codewm.format.cwm import END, FRAME_SEP, format_frames, format_prompt, parse_trace

TARGETS = ("trace", "direct")
IGNORE = -100  # label of a position with no loss (padding, the prompt)


class TrainingDataError(ValueError):
    """Training data that cannot be used (names the dataset, split or record)."""


def direct_text(trace_text: str) -> str:
    """The direct-output version of a CWM trace text: the prompt and the entry point's own
    frames (depth 0) only, so the frames of the function it calls are never written."""
    parsed = parse_trace(trace_text)
    if not parsed.ok:
        raise TrainingDataError(f"not a complete CWM trace: {parsed.error}")
    frames = [frame for frame in parsed.trace.frames if frame.depth == 0]
    return format_prompt(parsed.trace.context) + format_frames(frames, complete=True)


def _shard_paths(directory: Path, split: str) -> list[Path]:
    from codewm.dataset.read import load_manifest

    manifest = load_manifest(directory)
    paths = [directory / f"{shard['name']}.jsonl.gz" for shard in manifest["shards"] if shard["name"].startswith(f"{split}/")]
    if not paths:
        splits = sorted({shard["name"].split("/")[0] for shard in manifest["shards"]})
        raise TrainingDataError(f"{directory}: no {split!r} shards (the dataset has {', '.join(splits) or 'none'})")
    return paths


def iter_texts(directory: str | Path, split: str, target: str = "trace", seed: int = 0, epochs: int | None = None, shuffle_shards: int = 4) -> Iterator[str]:
    """The training texts of a built dataset's split, shard by shard.

    With `epochs=None` it repeats forever. Each epoch reads the shards in a fresh order and
    shuffles the records of `shuffle_shards` consecutive shards together; the order depends
    only on `seed`, so a resumed run sees exactly the stream it would have seen.
    """
    from codewm.dataset.read import read_jsonl_gz

    if target not in TARGETS:
        raise TrainingDataError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    directory = Path(directory)
    paths = _shard_paths(directory, split)
    epoch = 0
    while epochs is None or epoch < epochs:
        rng = random.Random(f"codewm-train/{seed}/{split}/{epoch}")
        order = list(paths)
        if shuffle_shards > 1:
            rng.shuffle(order)
        usable = 0
        for start in range(0, len(order), max(1, shuffle_shards)):
            texts = []
            for path in order[start : start + max(1, shuffle_shards)]:
                if not path.exists():
                    raise TrainingDataError(f"{path}: missing (the manifest lists it)")
                for record in read_jsonl_gz(path):
                    if record.get("text"):
                        texts.append(record["text"] if target == "trace" else direct_text(record["text"]))
            if shuffle_shards > 1:
                rng.shuffle(texts)
            usable += len(texts)
            yield from texts
        if not usable:
            raise TrainingDataError(f"{directory}: the {split!r} split has no training texts")
        epoch += 1


def tokenize(texts: Iterable[str], tokenizer, chunk: int = 256) -> Iterator[list[int]]:
    """Token ids of each text (BOS included, as written in the text), ending in EOS."""
    eos = tokenizer.eos_token_id
    batch: list[str] = []

    def flush():
        for ids, text in zip(tokenizer(batch, add_special_tokens=False)["input_ids"], batch):
            yield ids if text.endswith(END) else ids + [eos]

    for text in texts:
        batch.append(text)
        if len(batch) == chunk:  # the tokenizer runs a whole chunk in Rust, in parallel
            yield from flush()
            batch = []
    if batch:
        yield from flush()


@dataclass
class PackedRow:
    input_ids: list[int]  # seq_len tokens, right-padded with pad_id
    labels: list[int]  # the next token at each position, IGNORE where nothing is learned
    sequences: int  # how many sequences it holds


@dataclass
class PackingStats:
    sequences: int = 0
    skipped_too_long: int = 0
    rows: int = 0
    tokens: int = 0  # real (non-pad) tokens in emitted rows
    loss_tokens: int = 0


def _labels(ids: list[int], prompt_end: int | None) -> list[int]:
    # Position p predicts token p + 1; nothing is learned inside the prompt or past the end.
    labels = ids[1:] + [IGNORE]
    if prompt_end is not None:
        for p in range(min(prompt_end, len(labels))):
            labels[p] = IGNORE
    return labels


def mix_copy_spans(sequences: Iterable[list[int]], fraction: float, vocab: Sequence[int], bos: int, eos: int, seed: int = 0, span: tuple[int, int] = (8, 64)) -> Iterator[list[int] | tuple[list[int], int]]:
    """`sequences` with copy-span sequences in between, so that about `fraction` of all tokens
    are theirs. A copy span is `(ids, prompt_end)`: `[bos] + s + s + [eos]` for a random `s`
    of `span` tokens drawn from `vocab`, learned from the second `s` on (see pack_rows).
    Deterministic in `seed` and the order of `sequences` (a resumed run sees the same stream)."""
    if not 0 <= fraction < 1:
        raise TrainingDataError(f"copy_fraction must be within 0..1, got {fraction!r}")
    rng = random.Random(f"codewm-copy-spans/{seed}")
    owed = 0.0  # copy tokens due, against the tokens seen so far
    for ids in sequences:
        yield ids
        if fraction <= 0:
            continue
        owed += len(ids) * fraction / (1 - fraction)
        while owed > 0:
            tokens = [vocab[int(rng.random() * len(vocab))] for _ in range(rng.randint(*span))]
            copy = [bos] + tokens + tokens + [eos]
            owed -= len(copy)
            yield copy, 1 + len(tokens)


def pack_rows(sequences: Iterable[list[int] | tuple[list[int], int]], seq_len: int, pad_id: int, frame_sep_id: int | None = None, window: int = 8, stats: PackingStats | None = None) -> Iterator[PackedRow]:
    """Whole sequences placed best-fit into `window` open rows of `seq_len` tokens; a row is
    emitted once nothing more fits in it (or the window overflows, the fullest first).

    With `frame_sep_id`, labels inside each sequence's prompt (up to and including its first
    `<|frame_sep|>`) are IGNORE. A sequence given as `(ids, prompt_end)` says itself where its
    prompt ends (copy spans: see mix_copy_spans).
    """
    stats = stats if stats is not None else PackingStats()
    open_rows: list[PackedRow] = []

    def emit(row: PackedRow) -> PackedRow:
        real = len(row.input_ids)
        stats.rows += 1
        stats.tokens += real
        stats.loss_tokens += sum(label != IGNORE for label in row.labels)
        row.input_ids = row.input_ids + [pad_id] * (seq_len - real)
        row.labels = row.labels + [IGNORE] * (seq_len - real)
        return row

    for ids in sequences:
        prompt_end = None
        if isinstance(ids, tuple):
            ids, prompt_end = ids
        elif frame_sep_id is not None:
            prompt_end = ids.index(frame_sep_id) if frame_sep_id in ids else len(ids)
        if len(ids) > seq_len:
            stats.skipped_too_long += 1
            continue
        stats.sequences += 1
        labels = _labels(ids, prompt_end)
        fits = [row for row in open_rows if seq_len - len(row.input_ids) >= len(ids)]
        if fits:
            row = min(fits, key=lambda r: seq_len - len(r.input_ids))  # best fit
            row.input_ids = row.input_ids + ids
            row.labels = row.labels + labels
            row.sequences += 1
        else:
            open_rows.append(PackedRow(list(ids), labels, 1))
            if len(open_rows) > window:
                fullest = max(open_rows, key=lambda r: len(r.input_ids))
                open_rows.remove(fullest)
                yield emit(fullest)
        # A row with no room for even a short sequence is done.
        for row in [r for r in open_rows if seq_len - len(r.input_ids) < 32]:
            open_rows.remove(row)
            yield emit(row)
    for row in sorted(open_rows, key=lambda r: -len(r.input_ids)):
        yield emit(row)


def ordinary_tokens(tokenizer):
    """The ids of the tokenizer's ordinary (non-special) tokens: a range where the special
    tokens come first (codewm's tokenizers), else a list."""
    special = set(tokenizer.all_special_ids)
    if special == set(range(len(special))):
        return range(len(special), len(tokenizer))
    return [i for i in range(len(tokenizer)) if i not in special]


def row_stream(directory: str | Path, split: str, tokenizer, seq_len: int, target: str = "trace", seed: int = 0, epochs: int | None = None, stats: PackingStats | None = None, copy_fraction: float = 0.0) -> Iterator[PackedRow]:
    """Packed rows of a dataset split, end to end (see the module docstring)."""
    frame_sep_id = tokenizer.convert_tokens_to_ids(FRAME_SEP)
    sequences = tokenize(iter_texts(directory, split, target=target, seed=seed, epochs=epochs), tokenizer)
    if copy_fraction:
        sequences = mix_copy_spans(sequences, copy_fraction, ordinary_tokens(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, seed=seed)
    return pack_rows(sequences, seq_len, tokenizer.pad_token_id, frame_sep_id, stats=stats)
