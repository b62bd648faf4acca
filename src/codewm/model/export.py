"""Exporting a run's model: the weights, tokenizer and provenance without the trainer state.

    export_checkpoint("out/train/cpu/checkpoint", "src/codewm/model/builtin")

What ships as `builtin` or goes to a model hub (`codewm train --export DIR`).
"""

from __future__ import annotations

import json
from pathlib import Path

def export_checkpoint(source: str | Path, destination: str | Path, dtype: str | None = None, max_shard_size: str = "14MB") -> Path:
    """A copy of a run's checkpoint with the model only (no optimizer state): what ships as
    `builtin` or goes to a model hub. `dtype` ("bfloat16") converts the weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codewm.model.checkpoint import quiet_transformers, read_provenance, save_checkpoint

    source = Path(source)
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype) if dtype else torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(source)
    provenance = read_provenance(source)
    provenance.update({"exported_from": str(source), "dtype": dtype or "float32"})
    data = provenance.get("data") or {}
    manifest = Path(data.get("path") or "") / "manifest.json"
    if data and not data.get("config_sha") and manifest.is_file():  # runs before it was recorded
        data["config_sha"] = json.loads(manifest.read_text()).get("config_sha256")
    return save_checkpoint(destination, model, tokenizer, provenance, max_shard_size=max_shard_size)
