"""The tokenizer of codewm's models: byte-level BPE (Hugging Face `tokenizers`) trained on
trace text, with every CWM special token a single token.

Byte-level means no text is ever out of vocabulary (any value a program prints can be
written); the special tokens are added before training so that merges never cross them and
a prompt written as a string (`"<|frame_sep|>"`) is read as the one token, as CWM's
tokenizer does.

It is made for copying, which is most of what a world model writes (source lines into
actions, call literals into locals):

- a newline ends its piece, so a source line has the same tokens in the program context
  (after the previous line's newline) as in an action (after `<|action_sep|>`); GPT-2's
  pre-tokenizer would glue the newline to the next line's indentation (`'\n   '`);
- digits are one per token, so `12345` is written digit by digit in any context instead of
  in chunks that depend on what surrounds it (`123`, `45`).
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from codewm.format.cwm import BEGIN, END, SPECIAL_TOKENS

PAD = "<|pad|>"  # padding for batches; never trained on, never generated
_SPECIAL = re.compile("|".join(re.escape(token) for token in SPECIAL_TOKENS))


def _pieces(texts: Iterable[str]) -> Iterator[str]:
    # Train BPE on the text between special tokens: a merge must never swallow one.
    for text in texts:
        for piece in _SPECIAL.split(text):
            if piece:
                yield piece


def copying_pre_tokenizer():
    """Lines end at their newline, digits stand alone, then GPT-2's byte-level split."""
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("\n"), behavior="merged_with_previous"),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2):
    """A `PreTrainedTokenizerFast` trained on `texts` (CWM trace sequences).

    The vocabulary holds the 256 byte symbols, the CWM special tokens, `<|pad|>`, and merges
    up to `vocab_size` in all. BOS is `<|begin_of_text|>`, EOS `<|end_of_text|>`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [*SPECIAL_TOKENS, PAD]
    if vocab_size < 256 + len(specials):
        raise ValueError(f"vocab_size must be at least {256 + len(specials)} (bytes and special tokens), got {vocab_size}")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = copying_pre_tokenizer()
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_pieces(texts), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BEGIN,
        eos_token=END,
        pad_token=PAD,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in (BEGIN, END)],
        padding_side="left",  # generation appends on the right
        clean_up_tokenization_spaces=False,
    )


def tokenizer_fingerprint(directory) -> str:
    """A digest of the tokenizer saved in `directory` (its `tokenizer.json`) that depends only
    on how it splits text: the vocabulary and merges, the added tokens, the normalizer and
    pre-tokenizer, not on how the file happens to be formatted. Two checkpoints with the same
    fingerprint count tokens in the same units. FileNotFoundError or ValueError (saying
    which file) when there is no readable tokenizer there."""
    import hashlib
    import json
    from pathlib import Path

    path = Path(directory) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (a tokenizer folder holds tokenizer.json, as save_pretrained writes it)")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a tokenizer file ({exc})") from None
    if not isinstance(saved, dict) or "model" not in saved:
        raise ValueError(f"{path}: not a tokenizer file (no 'model')")
    added = sorted((token.get("content"), bool(token.get("special"))) for token in saved.get("added_tokens") or [] if isinstance(token, dict))
    essence = {key: saved.get(key) for key in ("model", "normalizer", "pre_tokenizer")}
    essence["added_tokens"] = added
    return hashlib.sha256(json.dumps(essence, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
