"""Model names -> predictors. One string names any world model codewm can use:

    oracle                  real execution in the sandbox (the upper bound)
    builtin                 codewm's own checkpoint, shipped in the package
    builtin:DIR             a codewm checkpoint directory (what `codewm train` writes)
    hf:PATH                 any local Hugging Face causal LM directory (e.g. CWM's weights)
    openai:URL[#MODEL]      an OpenAI-compatible server (vLLM, `codewm serve`)
    empty                   a model that writes nothing (scores 0; for tests)
    package.module.Class    an import string: a Predictor, or a LanguageModel to wrap

Options for the Hugging Face backends: device, dtype, batch_size.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from codewm.predict.base import LanguageModel, Predictor

BUILTIN_CHECKPOINT = Path(__file__).resolve().parent.parent / "model" / "builtin"
KINDS = ("oracle", "builtin", "hf", "openai", "empty")


class ModelSpecError(ValueError):
    """A model name that names no model codewm can load."""


def load_language_model(spec: str, **options) -> LanguageModel:
    """The text-completion model behind `spec` (every kind but `oracle`)."""
    kind, _, rest = spec.partition(":")
    if kind == "empty" and not rest:
        from codewm.predict.fake import EmptyLanguageModel

        return EmptyLanguageModel()
    if kind == "builtin":
        from codewm.predict.transformers_lm import ModelLoadError, TransformersLanguageModel

        path = Path(rest) if rest else BUILTIN_CHECKPOINT
        if not rest and not (path / "config.json").is_file():
            raise ModelLoadError(
                f"codewm's built-in checkpoint is not in this installation ({path}); "
                "train one with `codewm train` and pass builtin:DIR, or use hf:PATH / openai:URL"
            )
        return TransformersLanguageModel(path, name="builtin" if not rest else f"builtin:{Path(rest).name}", **options)
    if kind == "hf":
        if not rest:
            raise ModelSpecError("hf: needs a path, e.g. hf:/models/cwm")
        from codewm.predict.transformers_lm import TransformersLanguageModel

        return TransformersLanguageModel(rest, name=f"hf:{Path(rest).name}", **options)
    if kind == "openai":
        if not rest:
            raise ModelSpecError("openai: needs a URL, e.g. openai:http://127.0.0.1:8000/v1#cwm")
        from codewm.predict.openai_lm import OpenAILanguageModel

        url, _, model = rest.partition("#")
        return OpenAILanguageModel(url, model or None)
    if kind == "oracle":
        raise ModelSpecError("the oracle runs programs; it is not a language model (it cannot be served or prompted)")
    obj = _import(spec)
    return obj(**options) if isinstance(obj, type) else obj


def load_predictor(spec: str, **options) -> Predictor:
    """The `Predictor` behind `spec` (see the module docstring)."""
    if not isinstance(spec, str) or not spec:
        raise ModelSpecError(f"a model name is a non-empty string, got {spec!r}")
    from codewm.predict.model_predictor import ModelPredictor

    if spec == "oracle":
        from codewm.predict.oracle import OraclePredictor

        return OraclePredictor(**options)
    kind = spec.partition(":")[0]
    if kind in KINDS:
        return ModelPredictor(load_language_model(spec, **options), name=spec)
    obj = _import(spec)
    instance = obj(**options) if isinstance(obj, type) else obj
    if isinstance(instance, Predictor):
        return instance
    if isinstance(instance, LanguageModel):
        return ModelPredictor(instance, name=spec)
    raise ModelSpecError(f"{spec!r} is neither a Predictor nor a LanguageModel")


def _import(spec: str):
    module_name, _, attribute = spec.rpartition(".")
    if not module_name or ":" in spec:
        raise ModelSpecError(f"unknown model {spec!r}; use one of: oracle, builtin, builtin:DIR, hf:PATH, openai:URL#MODEL, empty, or an import string")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ModelSpecError(f"cannot load model {spec!r}: {exc}") from None
