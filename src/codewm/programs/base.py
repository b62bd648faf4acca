"""What every program source yields, and the registry that names them.

A *source* is anything with a `name` and a `cases()` method yielding `ProgramCase`s in a
deterministic order (same options, same seed: same cases, same order). The dataset builder
only ever sees this Protocol; the registry maps short names used in build configs to import
strings, so `"mypackage.sources.MySource"` works in a config as well.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol, runtime_checkable

from codewm.load import LoadError, is_import_string, load_object


@dataclass(frozen=True)
class ProgramCase:
    """One program and one call to trace on it."""

    source: str  # program text defining the function(s) the call uses
    call: str  # the call, e.g. "f(1, [2, 3])"
    origin: str  # the source's name, e.g. "synthetic", "humaneval"
    id: str  # stable within the origin, e.g. "synthetic/00042", "HumanEval/0#3"
    meta: dict = field(default_factory=dict, compare=False)  # JSON-able extras (difficulty, task id, ...)

    def to_dict(self) -> dict:
        return {"source": self.source, "call": self.call, "origin": self.origin, "id": self.id, "meta": dict(self.meta)}


@runtime_checkable
class ProgramSource(Protocol):
    """`name` labels the cases; a source may also set `batchable = True` when its programs
    are codewm's own (generated, trusted not to tamper with the interpreter), which lets the
    builder run many of them in one sandbox process (see `Sandbox.run_batch`). A source
    with `__len__` and `case(index)` may be generated in several processes (`is_indexable`)."""

    name: str

    def cases(self) -> Iterator[ProgramCase]: ...


def is_batchable(source: object) -> bool:
    return bool(getattr(source, "batchable", False))


def is_indexable(source: object) -> bool:
    """Whether a source offers random access: `len(source)` and `source.case(index)` (the
    index-th case of `cases()`). The builder then generates its cases in several processes."""
    if getattr(source, "sequential", False):
        return False
    return callable(getattr(source, "case", None)) and callable(getattr(source, "__len__", None))


# Short names for build configs -> import strings ("module.Class"). A full import string works too.
SOURCES: dict[str, str] = {
    "synthetic": "codewm.programs.synthetic.SyntheticSource",
    "humaneval": "codewm.programs.humaneval.HumanEvalSource",
    "cruxeval": "codewm.programs.files.CruxEvalFile",
    "livecodebench": "codewm.programs.files.LiveCodeBenchFile",
    "jsonl": "codewm.programs.files.CallsFile",
    "miner": "codewm.programs.miner.MinedSource",
    "repo": "codewm.repo.traces.RepoTraceSource",
}


class SourceConfigError(ValueError):
    """A source named in a config does not exist or rejects its options."""


class SourceOptionError(SourceConfigError):
    """One option of a source has a value of the wrong type: `option` names it, `problem`
    says what it must be ("must be an int, got str '200'")."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option} {problem}")
        self.option = option
        self.problem = problem


def source_class(kind: str) -> type:
    """The class a registry name or import string names."""
    target = SOURCES.get(kind, kind)
    if not is_import_string(target):
        raise SourceConfigError(f"unknown program source {kind!r}; known: {', '.join(sorted(SOURCES))}, or an import string")
    try:
        return load_object(target)
    except LoadError as exc:
        raise SourceConfigError(f"cannot load program source {kind!r} ({target}): {exc.reason}") from None


def source_options(cls: type) -> tuple[dict[str, object], set[str]]:
    """(option name -> its annotation, the required ones) of a source class: the parameters
    of its constructor, or, for one that takes `**options`, what its `option_types()` says
    (SyntheticSource's knobs). An annotation that cannot be resolved is `typing.Any`."""
    parameters = inspect.signature(cls).parameters
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation naming what cannot be imported: check names only
        hints = {}
    accepted = {name: hints.get(name, typing.Any) for name, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    required = {name for name, p in parameters.items() if name in accepted and p.default is p.empty}
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        extra = getattr(cls, "option_types", None)
        if not callable(extra):
            return accepted | {"*": typing.Any}, required  # takes anything: its own check decides
        accepted.update(extra())
    return accepted, required


def describe_type(annotation) -> str:
    """'an int', 'a number', 'a list of str', 'a str or a path' ... for messages."""
    arms = [a for a in typing.get_args(annotation) if a is not type(None)] if _is_union(annotation) else [annotation]
    names = []
    for arm in arms:
        origin = typing.get_origin(arm)
        if origin in (list, tuple) or arm in (list, tuple):
            element = (typing.get_args(arm) or (None,))[0]
            names.append("a list" + (f" of {getattr(element, '__name__', element)}" if element not in (None, typing.Any) else ""))
        elif arm is bool:
            names.append("a bool (true or false)")
        elif arm is int:
            names.append("an int")
        elif arm is float:
            names.append("a number")
        elif arm is Path:
            names.append("a path")
        else:
            names.append(f"a {getattr(arm, '__name__', arm)}")
    return " or ".join(dict.fromkeys(names))


def _is_union(annotation) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def value_fits(value, annotation) -> bool:
    """Whether a config value (TOML: str, int, float, bool, list, table) fits `annotation`."""
    if annotation is typing.Any:
        return True
    if _is_union(annotation):
        return any(value_fits(value, arm) for arm in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is Path:
        return isinstance(value, (str, Path))
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, tuple, typing.Iterable) or (isinstance(origin, type) and origin.__module__ == "collections.abc"):
        if not isinstance(value, (list, tuple)):
            return False
        element = (typing.get_args(annotation) or (typing.Any,))[0]
        return all(value_fits(item, element) for item in value)
    if isinstance(origin, type):
        return isinstance(value, origin)
    return True


def check_source_options(kind: str, options: dict) -> ProgramSource:
    """The source `kind` made with `options`, after checking every option: known (a close
    name suggested for a typo), of its type (SourceOptionError naming it), the required
    ones given; then the source's own checks of ranges run as it is made."""
    cls = source_class(kind)
    accepted, required = source_options(cls)
    if "*" not in accepted:
        for option in options:
            if option not in accepted:
                close = difflib.get_close_matches(option, list(accepted), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SourceConfigError(f"unknown option {option!r}{hint}; known: {', '.join(sorted(accepted))}")
    for option in sorted(required - set(options)):
        raise SourceConfigError(f"missing option {option!r}")
    for option, value in options.items():
        annotation = accepted.get(option, typing.Any)
        if not value_fits(value, annotation):
            raise SourceOptionError(option, f"must be {describe_type(annotation)}, got {type(value).__name__} {value!r}")
    return make_source(kind, **options)


def make_source(kind: str, **options) -> ProgramSource:
    """Instantiate a source by registry name or import string, with its options."""
    cls = source_class(kind)
    try:
        return cls(**options)
    except TypeError as exc:
        raise SourceConfigError(f"program source {kind!r} rejects its options {sorted(options)}: {exc}") from None
    except SourceConfigError:
        raise
    except ValueError as exc:  # a source's own range checks
        raise SourceConfigError(str(exc)) from None
