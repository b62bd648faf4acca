"""Build configs: a small TOML file naming sources, counts, seeds, limits and the output.

    name = "tiny"
    output = "out/tiny"          # relative to the config file's folder
    seed = 0                     # passed to sources that take a seed and have none of their own
    shard_size = 500             # records per shard file
    formats = ["jsonl.gz", "parquet"]
    max_trace_tokens = 16384     # longer traces are counted but kept out of the training text
    batch_size = 256             # programs of a trusted source that share one sandbox process

    [splits]                     # fractions, by a hash of the normalized program
    train = 0.9
    validation = 0.05
    test = 0.05

    [limits]                     # codewm.trace.sandbox.SandboxLimits fields
    wall_seconds = 5
    max_steps = 2000

    [[sources]]
    kind = "synthetic"           # a name from codewm.programs.base.SOURCES, or an import string
    count = 1000                 # every other key is the source's own option, except
    # batch = true               # run this source's programs in shared processes (trust it)
    mode = "general"

Every error names the file and the offending key, and the whole config (each source's
options included: names, types, ranges) is checked on loading, before a build writes
anything.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from codewm.programs.base import SourceConfigError, SourceOptionError, check_source_options
from codewm.trace.sandbox import SandboxLimits

FORMATS = ("jsonl.gz", "parquet")
DEFAULT_SPLITS = {"train": 0.9, "validation": 0.05, "test": 0.05}


class ConfigError(ValueError):
    """A build config that cannot be used; the message says which file and key."""


@dataclass(frozen=True)
class SourceSpec:
    kind: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BuildConfig:
    name: str
    output: Path
    sources: tuple[SourceSpec, ...]
    seed: int = 0
    shard_size: int = 500
    formats: tuple[str, ...] = FORMATS
    splits: tuple[tuple[str, float], ...] = tuple(DEFAULT_SPLITS.items())
    max_trace_tokens: int = 16384
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    batch_size: int = 256  # programs of a batchable source that share one sandbox process (a fork per batch)

    def to_dict(self) -> dict:
        """The resolved config, as JSON-able data (the output path is left out: moving a
        build does not change what it is)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "shard_size": self.shard_size,
            "formats": list(self.formats),
            "splits": dict(self.splits),
            "max_trace_tokens": self.max_trace_tokens,
            "batch_size": self.batch_size,
            "limits": asdict(self.limits),
            "sources": [{"kind": s.kind, **s.options} for s in self.sources],
        }

    @property
    def digest(self) -> str:
        """sha256 of the resolved config: two builds with the same digest hold the same data."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_config(path: str | Path, output: str | Path | None = None) -> BuildConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_dict(data, base=path.parent, where=str(path), output=output)


def config_from_dict(data: dict, base: Path = Path("."), where: str = "config", output: str | Path | None = None) -> BuildConfig:
    known = {"name", "output", "seed", "shard_size", "formats", "splits", "max_trace_tokens", "limits", "sources", "batch_size"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")

    def need(key, kind, default=None):
        value = data.get(key, default)
        if value is None:
            raise ConfigError(f"{where}: missing '{key}'")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: '{key}' must be {kind.__name__}, got {type(value).__name__} {value!r}")
        return value

    name = need("name", str, Path(where).stem)
    out = Path(output) if output is not None else (base / need("output", str, f"out/{name}")).resolve()
    seed = need("seed", int, 0)
    shard_size = need("shard_size", int, 500)
    if shard_size < 1:
        raise ConfigError(f"{where}: 'shard_size' must be at least 1, got {shard_size}")
    formats = tuple(need("formats", list, list(FORMATS)))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"{where}: 'formats' must be a non-empty subset of {list(FORMATS)}, got {list(formats)}")
    splits = need("splits", dict, dict(DEFAULT_SPLITS))
    for split, fraction in splits.items():
        if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or fraction < 0:
            raise ConfigError(f"{where}: splits.{split} must be a number >= 0, got {fraction!r}")
    if abs(sum(splits.values()) - 1.0) > 1e-9:
        raise ConfigError(f"{where}: the split fractions must add up to 1, got {sum(splits.values())}")
    max_tokens = need("max_trace_tokens", int, 16384)
    if max_tokens < 1:
        raise ConfigError(f"{where}: 'max_trace_tokens' must be at least 1, got {max_tokens}")
    batch_size = need("batch_size", int, 256)
    if batch_size < 1:
        raise ConfigError(f"{where}: 'batch_size' must be at least 1, got {batch_size}")
    limits_data = need("limits", dict, {})
    limit_fields = {f.name for f in fields(SandboxLimits)}
    unknown_limits = sorted(set(limits_data) - limit_fields)
    if unknown_limits:
        raise ConfigError(f"{where}: unknown limit(s) {unknown_limits}; known: {sorted(limit_fields)}")
    _check_limits(limits_data, where)
    try:
        limits = SandboxLimits(**limits_data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: bad [limits]: {exc}") from None
    raw_sources = need("sources", list)
    if not raw_sources:
        raise ConfigError(f"{where}: 'sources' is empty: name at least one [[sources]] table")
    sources = []
    for index, raw in enumerate(raw_sources):
        if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
            raise ConfigError(f"{where}: sources[{index}] needs a string 'kind'")
        options = {k: v for k, v in raw.items() if k != "kind"}
        for key in ("path",):  # file paths in a config are relative to the config's folder
            if isinstance(options.get(key), str):
                options[key] = str((base / options[key]).resolve())
        _check_source(raw["kind"], options, f"{where}: sources[{index}]")
        sources.append(SourceSpec(raw["kind"], options))
    return BuildConfig(
        name=name,
        output=out,
        sources=tuple(sources),
        seed=seed,
        shard_size=shard_size,
        formats=formats,
        splits=tuple(splits.items()),
        max_trace_tokens=max_tokens,
        limits=limits,
        batch_size=batch_size,
    )


def _check_limits(limits: dict, where: str) -> None:
    """Every [limits] value a number of the field's kind, above 0."""
    for spec in fields(SandboxLimits):
        if spec.name not in limits:
            continue
        value = limits[spec.name]
        whole = spec.type in (int, "int")
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise ConfigError(f"{where}: limits.{spec.name} must be {'an int' if whole else 'a number'}, got {type(value).__name__} {value!r}")
        if whole and value < 1:
            raise ConfigError(f"{where}: limits.{spec.name} must be at least 1, got {value}")
        if not whole and value <= 0:
            raise ConfigError(f"{where}: limits.{spec.name} must be more than 0, got {value}")


def _check_source(kind: str, options: dict, where: str) -> None:
    """A source's options as the source itself would take them (ConfigError naming the
    source and the option); `batch` is the builder's own option."""
    if "batch" in options and not isinstance(options["batch"], bool):
        raise ConfigError(f"{where}.batch must be a bool (true or false), got {type(options['batch']).__name__} {options['batch']!r}")
    path = options.get("path")
    if isinstance(path, str) and not Path(path).exists():
        raise ConfigError(f"{where}.path: no such file or folder: {path}")
    try:
        check_source_options(kind, {k: v for k, v in options.items() if k != "batch"})
    except SourceOptionError as exc:
        raise ConfigError(f"{where}.{exc.option} {exc.problem}") from None
    except SourceConfigError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}") from None
