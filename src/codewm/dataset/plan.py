"""The build plan: every case, deduplicated, assigned to a split and a shard, in a fixed order.

The plan is a pure function of the config (sources are seeded), so a build that is killed
and started again computes the same plan and only redoes the shards that were not finished.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field

from codewm.dataset.config import BuildConfig
from codewm.dataset.prepare import PreparePool, prepare
from codewm.programs.base import ProgramCase, SourceConfigError, is_batchable, is_indexable, make_source


def assign_split(program_sha: str, splits: tuple[tuple[str, float], ...]) -> str:
    """The split of a program: a point in [0, 1) from its hash, placed among the fractions."""
    point = int(hashlib.sha256(f"codewm-split:{program_sha}".encode()).hexdigest()[:16], 16) / 2**64
    total = 0.0
    for name, fraction in splits:
        total += fraction
        if point < total:
            return name
    return splits[-1][0]


@dataclass(frozen=True)
class PlannedCase:
    case: ProgramCase
    program_sha: str
    split: str
    batchable: bool = False  # may share a sandbox process with other batchable cases
    compiled: bytes | None = field(default=None, repr=False, compare=False)  # the context, compiled while hashing


@dataclass(frozen=True)
class Shard:
    split: str
    index: int
    cases: tuple[PlannedCase, ...]

    @property
    def name(self) -> str:
        return f"{self.split}/shard-{self.index:05d}"


@dataclass
class Plan:
    """What `iter_plan` found, filled in as it goes. Shards themselves are not kept (a large
    build's programs need not all fit in memory), only their names, in build order."""

    shard_names: list[str] = field(default_factory=list)
    total_cases: int = 0  # as the sources yielded them
    duplicates_removed: int = 0
    kept_cases: int = 0
    by_origin: dict[str, int] = field(default_factory=dict)  # after deduplication


def _source_options(spec, index: int, config: BuildConfig) -> dict:
    from codewm.programs.base import SOURCES

    options = {k: v for k, v in spec.options.items() if k != "batch"}
    target = SOURCES.get(spec.kind, spec.kind)
    if "seed" not in options:
        # Give seeded sources a seed of their own derived from the build's.
        try:
            from codewm.load import load_object

            cls = load_object(target)
            if "seed" in inspect.signature(cls).parameters:
                options["seed"] = config.seed + index
        except (ImportError, AttributeError, ValueError, TypeError):
            pass  # make_source reports the real problem
    return options


# An indexable source at least this large is prepared by helper processes (see prepare.py).
PARALLEL_MIN_CASES = 2000


def _prepared_cases(source, kind: str, options: dict, processes: int):
    """(case, sha, compiled, call key) for every case of `source`, in order."""
    if processes <= 1 or not is_indexable(source) or len(source) < PARALLEL_MIN_CASES:
        for case in source.cases():
            yield prepare(case)
        return
    pool = PreparePool(processes)
    try:
        yield from pool.prepared(kind, options, len(source))
    finally:
        pool.close()


def _readable(prepared, index: int, kind: str):
    """The prepared cases of sources[index], with a missing or unreadable file reported as
    a problem of that source (not as a stray OSError from deep inside)."""
    try:
        yield from prepared
    except OSError as exc:
        raise SourceConfigError(f"sources[{index}] ({kind}): cannot read: {exc}") from None


def iter_plan(config: BuildConfig, plan: Plan, processes: int = 1):
    """Yield each shard as soon as it is full (the last, partial shard of every split at the
    end), while reading the sources; `plan` is filled in as it goes (`shards`, counts), and
    is complete once the iterator is exhausted. Tracing can start on the first shards while
    later programs are still being generated. `processes` > 1 lets large indexable sources
    be generated and hashed in that many processes (the plan is the same)."""
    seen: set[tuple[str, str]] = set()
    per_split: dict[str, list[PlannedCase]] = {name: [] for name, _ in config.splits}
    made: dict[str, int] = {name: 0 for name, _ in config.splits}

    def cut(split: str) -> Shard:
        cases = per_split[split]
        shard = Shard(split, made[split], tuple(cases))
        made[split] += 1
        per_split[split] = []
        plan.shard_names.append(shard.name)
        plan.kept_cases += len(cases)
        return shard

    for index, spec in enumerate(config.sources):
        options = _source_options(spec, index, config)
        try:
            source = make_source(spec.kind, **options)
        except SourceConfigError as exc:
            raise SourceConfigError(f"sources[{index}] ({spec.kind}): {exc}") from None
        # A config may say `batch = true` for a source it trusts, or false to forbid it.
        batchable = bool(spec.options.get("batch", is_batchable(source)))
        for case, sha, compiled, call_key in _readable(_prepared_cases(source, spec.kind, options, processes), index, spec.kind):
            plan.total_cases += 1
            key = (sha, call_key)
            if key in seen:
                plan.duplicates_removed += 1
                continue
            seen.add(key)
            split = assign_split(sha, config.splits)
            per_split[split].append(PlannedCase(case, sha, split, batchable, compiled))
            plan.by_origin[case.origin] = plan.by_origin.get(case.origin, 0) + 1
            if len(per_split[split]) == config.shard_size:
                yield cut(split)
    for split in list(per_split):
        if per_split[split]:
            yield cut(split)
    order = {name: position for position, (name, _) in enumerate(config.splits)}
    # Shard names sort by index within a split (shard-00000, shard-00001, ...).
    plan.shard_names.sort(key=lambda name: (order[name.split("/")[0]], name))
