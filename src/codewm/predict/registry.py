"""Model names -> predictors. One string names any world model codewm can use:

    oracle                  real execution in the sandbox (the upper bound)
    builtin                 codewm's own checkpoint, shipped in the package
    builtin:DIR             a codewm checkpoint directory (what `codewm train` writes)
    hf:PATH                 any local Hugging Face causal LM directory (e.g. CWM's weights)
    openai:URL[#MODEL]      an OpenAI-compatible server (vLLM, `codewm serve`)
    empty                   a model that writes nothing (scores 0; for tests)
    package.module.Class    an import string: a Predictor, or a LanguageModel to wrap
                            (package.module:Class works too; see `codewm.load`)

The part before the first colon is the name's kind; `BACKENDS` holds one row per kind: how
its names are written, the options its loader takes (device, dtype, batch_size: the Hugging
Face backends only) and whether it has structure-aware decoding. `backend_options(spec, ...)`
keeps the options a name's backend takes, so a command line can offer --device and
--batch-size for every model.

`structured` (a `load_predictor` option): structure-aware decoding
(`codewm.predict.structured`): the event, the keys and the source line of each frame chosen
among what the program allows, the values written freely. None (the default) means on for
codewm's own models (`builtin`, `builtin:DIR`) and off for `hf:PATH`; True asks for it
(only local Hugging Face models have it: an `openai:` server gives no prompt
log-probabilities); False decodes frames as free text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from codewm.load import LoadError, is_import_string, load_object
from codewm.model.checkpoint import BUILTIN_CHECKPOINT
from codewm.predict.base import LanguageModel, Predictor


class ModelSpecError(ValueError):
    """A model name that names no model codewm can load."""


def _builtin(rest: str, **options) -> LanguageModel:
    from codewm.predict.transformers_lm import ModelLoadError, TransformersLanguageModel

    path = Path(rest) if rest else BUILTIN_CHECKPOINT
    if not rest and not (path / "config.json").is_file():
        raise ModelLoadError(
            f"codewm's built-in checkpoint is not in this installation ({path}); "
            "train one with `codewm train` and pass builtin:DIR, or use hf:PATH / openai:URL"
        )
    return TransformersLanguageModel(path, name="builtin" if not rest else f"builtin:{run_name(Path(rest))}", **options)


def run_name(checkpoint: Path) -> str:
    """A checkpoint's name: its folder's, or for a run's `checkpoint` folder (what `codewm
    train` writes: RUN/checkpoint) the run's, so that two trained models differ by name."""
    path = checkpoint.expanduser().resolve() if checkpoint.name in ("", ".", "..") else checkpoint.expanduser()
    if path.name == "checkpoint" and path.parent.name not in ("", ".", ".."):
        return path.parent.name
    if path.name == "checkpoint":
        return path.resolve().parent.name or path.name
    return path.name


def _hugging_face(rest: str, **options) -> LanguageModel:
    if not rest:
        raise ModelSpecError("hf: needs a path, e.g. hf:/models/cwm")
    from codewm.predict.transformers_lm import TransformersLanguageModel

    return TransformersLanguageModel(rest, name=f"hf:{Path(rest).name}", **options)


def _openai(rest: str, **options) -> LanguageModel:
    if not rest:
        raise ModelSpecError("openai: needs a URL, e.g. openai:http://127.0.0.1:8000/v1#cwm")
    from codewm.predict.openai_lm import OpenAILanguageModel

    url, _, model = rest.partition("#")
    return OpenAILanguageModel(url, model or None)


def _empty(rest: str, **options) -> LanguageModel:
    if rest:  # "empty:x" names no model
        raise ModelSpecError(_unknown_model(f"empty:{rest}"))
    from codewm.predict.fake import EmptyLanguageModel

    return EmptyLanguageModel()


LOCAL_MODEL_OPTIONS = frozenset({"device", "dtype", "batch_size"})  # what TransformersLanguageModel takes


@dataclass(frozen=True)
class Backend:
    """One kind of model name: how its names are written, how its language model is loaded
    (None: it is no language model), which loader options it takes, and whether it decodes
    structure-aware (and does so unless told not to)."""

    usage: str  # how its names are written, as the errors list them
    language_model: Callable[..., LanguageModel] | None  # (the text after "kind:", **options) -> the model
    options: frozenset[str] = frozenset()
    local: bool = False  # weights this machine loads (what `codewm serve` can serve)
    structured: bool = False  # structure-aware decoding available
    structured_by_default: bool = False
    no_structured_why: str = ""  # said after the error when structured decoding is asked for and missing


BACKENDS: dict[str, Backend] = {
    "oracle": Backend("oracle", None),
    "builtin": Backend("builtin, builtin:DIR", _builtin, LOCAL_MODEL_OPTIONS, local=True, structured=True, structured_by_default=True),
    "hf": Backend("hf:PATH", _hugging_face, LOCAL_MODEL_OPTIONS, local=True, structured=True),
    "openai": Backend("openai:URL#MODEL", _openai, no_structured_why=": an OpenAI-compatible server returns no prompt log-probabilities to choose with"),
    "empty": Backend("empty", _empty),
}
KINDS = tuple(BACKENDS)
# Any other name is tried as an import string; its object's constructor gets the options as given.
IMPORT_STRING = Backend("an import string", None)

# Options `load_predictor` itself takes for every backend.
PREDICTOR_OPTIONS = frozenset({"structured"})


def backend(spec: str) -> Backend:
    """The row of `BACKENDS` for `spec`'s kind, or `IMPORT_STRING` for any other name."""
    return BACKENDS.get(spec.partition(":")[0], IMPORT_STRING)


def backend_options(spec: str, **offered) -> dict:
    """The options among `offered` that the model `spec` takes, without those that are None:
    `structured` for every model, device, dtype and batch_size for the local Hugging Face
    ones (builtin, builtin:DIR, hf:PATH); the others are dropped, so a command line can offer
    them whatever the model. `load_predictor(spec, **backend_options(spec, ...))`."""
    takes = backend(spec).options | PREDICTOR_OPTIONS
    return {name: value for name, value in offered.items() if value is not None and name in takes}


def load_language_model(spec: str, **options) -> LanguageModel:
    """The text-completion model behind `spec` (every kind but `oracle`)."""
    kind, _, rest = spec.partition(":")
    if kind == "oracle":
        raise ModelSpecError("the oracle runs programs; it is not a language model (it cannot be served or prompted)")
    if kind in BACKENDS:
        return BACKENDS[kind].language_model(rest, **options)
    obj = _import(spec)
    return obj(**options) if isinstance(obj, type) else obj


def load_predictor(spec: str, structured: bool | None = None, **options) -> Predictor:
    """The `Predictor` behind `spec` (see the module docstring)."""
    if not isinstance(spec, str) or not spec:
        raise ModelSpecError(f"a model name is a non-empty string, got {spec!r}")
    kind = spec.partition(":")[0]
    row = BACKENDS.get(kind)
    if structured and row is not None and not row.structured:
        raise ModelSpecError(
            f"structure-aware decoding needs a local Hugging Face model (builtin, builtin:DIR, hf:PATH), not {spec!r}" + row.no_structured_why
        )
    if spec == "oracle":
        from codewm.predict.oracle import OraclePredictor

        return OraclePredictor(**options)
    if row is not None:
        lm = load_language_model(spec, **options)
        if structured is None:  # the default: on for codewm's own models, where they can
            return _model_predictor(lm, spec, row.structured_by_default, quiet=True)
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


def _unknown_model(spec: str) -> str:
    usages = ", ".join(row.usage for row in BACKENDS.values())
    return f"unknown model {spec!r}; use one of: {usages}, or an import string"


def _import(spec: str):
    """The object an import-string model name names. A name with a colon whose module cannot
    be loaded reads as a kind codewm does not know ("nosuch:x"), and is reported so."""
    if not is_import_string(spec):
        raise ModelSpecError(_unknown_model(spec))
    try:
        return load_object(spec)
    except LoadError as exc:
        if ":" in spec:
            raise ModelSpecError(_unknown_model(spec)) from None
        raise ModelSpecError(f"cannot load model {spec!r}: {exc.reason}") from None
