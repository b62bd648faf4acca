"""What every program source yields, and the registry that names them.

A *source* is anything with a `name` and a `cases()` method yielding `ProgramCase`s in a
deterministic order (same options, same seed: same cases, same order). The dataset builder
only ever sees this Protocol; the registry maps short names used in build configs to import
strings, so `"mypackage.sources.MySource"` works in a config as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
}


class SourceConfigError(ValueError):
    """A source named in a config does not exist or rejects its options."""


def make_source(kind: str, **options) -> ProgramSource:
    """Instantiate a source by registry name or import string, with its options."""
    target = SOURCES.get(kind, kind)
    if not is_import_string(target):
        raise SourceConfigError(f"unknown program source {kind!r}; known: {', '.join(sorted(SOURCES))}, or an import string")
    try:
        cls = load_object(target)
    except LoadError as exc:
        raise SourceConfigError(f"cannot load program source {kind!r} ({target}): {exc.reason}") from None
    try:
        return cls(**options)
    except TypeError as exc:
        raise SourceConfigError(f"program source {kind!r} rejects its options {sorted(options)}: {exc}") from None
