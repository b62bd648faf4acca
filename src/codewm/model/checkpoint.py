"""codewm's checkpoint format: a Hugging Face model directory plus provenance.

    checkpoint/
      config.json             LlamaConfig (AutoModelForCausalLM and vLLM load it as it is)
      model.safetensors       the weights
      tokenizer.json, tokenizer_config.json, special_tokens_map.json
      codewm.json             provenance: codewm version, format version, how it was made

Any directory `AutoModelForCausalLM.from_pretrained` reads is a valid `hf:PATH`; a codewm
checkpoint is one that also has `codewm.json`. Checkpoints are written to a temporary
directory and renamed into place, so a kill mid-save never leaves a half checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import codewm

FORMAT_VERSION = 1
PROVENANCE_FILE = "codewm.json"
BUILTIN_CHECKPOINT = Path(__file__).resolve().parent / "builtin"  # the model codewm ships (`--model builtin`)


@dataclass(frozen=True)
class ModelShape:
    """The size of a Llama-architecture model. Defaults: a tiny model for tests."""

    hidden_size: int = 64  # width of the residual stream
    intermediate_size: int = 128  # width of the MLP (SwiGLU)
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 4  # < num_attention_heads: grouped-query attention
    max_position_embeddings: int = 2048  # the context length in tokens
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = True  # input and output embeddings share weights (small models)


def llama_config(shape: ModelShape, tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **asdict(shape),
    )


def save_checkpoint(
    directory: str | Path,
    model,
    tokenizer,
    provenance: dict | None = None,
    extra: Callable[[Path], None] | None = None,
    max_shard_size: str | None = None,
) -> Path:
    """Write `model` and `tokenizer` to `directory` atomically (replacing what was there).

    `extra(staging_dir)` may add files (a trainer's state) before the directory is renamed
    into place; `max_shard_size` ("14MB") splits the weights into files of at most that size.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    with quiet_transformers():
        if max_shard_size:
            model.save_pretrained(staging, safe_serialization=True, max_shard_size=max_shard_size)
        else:
            model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
    record = {
        "format_version": FORMAT_VERSION,
        "codewm_version": codewm.__version__,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "parameters": sum(p.numel() for p in model.parameters()),
        **(provenance or {}),
    }
    (staging / PROVENANCE_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if extra is not None:
        extra(staging)
    _sync_directory(staging)
    old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def _sync_directory(directory: Path) -> None:
    # Flush every file before the rename, so a crash right after it never leaves empty files.
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def read_provenance(directory: str | Path) -> dict:
    path = Path(directory) / PROVENANCE_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def random_checkpoint(directory: str | Path, texts: list[str], shape: ModelShape | None = None, vocab_size: int = 512, seed: int = 0) -> Path:
    """A randomly initialized model with a tokenizer trained on `texts`, saved as a codewm
    checkpoint: what tests and smoke runs use where a trained model is not needed."""
    import torch
    from transformers import LlamaForCausalLM

    from codewm.model.tokenizer import train_tokenizer

    shape = shape or ModelShape()
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size, min_frequency=1)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(shape, tokenizer))
    return save_checkpoint(directory, model, tokenizer, {"made_by": "random_checkpoint", "seed": seed, "shape": asdict(shape)})


@contextlib.contextmanager
def quiet_transformers():
    """No progress bars from transformers while loading or saving a (small) model: codewm's
    own output stays readable. Restores the setting afterwards."""
    from transformers.utils import logging

    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            logging.enable_progress_bar()
