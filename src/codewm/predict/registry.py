"""Model names -> predictors. One string names any world model codewm can use:

    oracle                  real execution in the sandbox (the upper bound)
    builtin                 codewm's own checkpoint, shipped in the package
    builtin:DIR             a codewm checkpoint directory (what `codewm train` writes)
    hf:PATH                 any local Hugging Face causal LM directory (e.g. CWM's weights)
    openai:URL[#MODEL]      an OpenAI-compatible server (vLLM, `codewm serve`)
    empty                   a model that writes nothing (scores 0; for tests)
    package.module.Class    an import string: a Predictor, or a LanguageModel to wrap

Options for the Hugging Face backends: device, dtype, batch_size.

`structured` (a `load_predictor` option): structure-aware decoding
(`codewm.predict.structured`): the event, the keys and the source line of each frame chosen
among what the program allows, the values written freely. None (the default) means on for
codewm's own models (`builtin`, `builtin:DIR`) and off for `hf:PATH`; True asks for it
(only local Hugging Face models have it: an `openai:` server gives no prompt
log-probabilities); False decodes frames as free text.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from codewm.model.checkpoint import BUILTIN_CHECKPOINT
from codewm.predict.base import LanguageModel, Predictor

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


def load_predictor(spec: str, structured: bool | None = None, **options) -> Predictor:
    """The `Predictor` behind `spec` (see the module docstring)."""
    if not isinstance(spec, str) or not spec:
        raise ModelSpecError(f"a model name is a non-empty string, got {spec!r}")
    kind = spec.partition(":")[0]
    if structured and kind not in ("builtin", "hf") and kind in (*KINDS, "oracle"):
        raise ModelSpecError(
            f"structure-aware decoding needs a local Hugging Face model (builtin, builtin:DIR, hf:PATH), not {spec!r}"
            + (": an OpenAI-compatible server returns no prompt log-probabilities to choose with" if kind == "openai" else "")
        )
    if spec == "oracle":
        from codewm.predict.oracle import OraclePredictor

        return OraclePredictor(**options)
    if kind in KINDS:
        lm = load_language_model(spec, **options)
        if structured is None:  # the default: on for codewm's own models, where they can
            return _model_predictor(lm, spec, kind == "builtin", quiet=True)
        return _model_predictor(lm, spec, structured)
    obj = _import(spec)
    instance = obj(**options) if isinstance(obj, type) else obj
    if isinstance(instance, Predictor):
        if structured:
            raise ModelSpecError(f"{spec!r} is a Predictor: structure-aware decoding applies to language models")
        return instance
    if isinstance(instance, LanguageModel):
        return _model_predictor(instance, spec, bool(structured))
    raise ModelSpecError(f"{spec!r} is neither a Predictor nor a LanguageModel")


def _model_predictor(lm: LanguageModel, spec: str, structured: bool, quiet: bool = False) -> Predictor:
    """`lm` as a predictor, structure-aware if asked; `quiet`: free where the model cannot be
    (a checkpoint whose tokenizer lacks the trace tokens) instead of an error."""
    from codewm.predict.model_predictor import ModelPredictor

    if not structured:
        return ModelPredictor(lm, name=spec)
    from codewm.predict.structured import StructuredUnavailable

    try:
        return ModelPredictor(lm, name=spec, structured=True)
    except StructuredUnavailable as exc:
        if quiet:
            return ModelPredictor(lm, name=spec)
        raise ModelSpecError(f"{spec!r}: no structure-aware decoding: {exc}") from None


def _import(spec: str):
    module_name, _, attribute = spec.rpartition(".")
    if not module_name or ":" in spec:
        raise ModelSpecError(f"unknown model {spec!r}; use one of: oracle, builtin, builtin:DIR, hf:PATH, openai:URL#MODEL, empty, or an import string")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ModelSpecError(f"cannot load model {spec!r}: {exc}") from None
