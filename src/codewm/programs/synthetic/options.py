"""The synthetic generator's knobs: `SyntheticOptions`, the modes, and the fixed knobs of each tier.

Modes "cruxeval", "simple" and "loops" fix most knobs (`program_options`); the shape checks
here (`crux_shape_ok`, `too_nested`) reject a generated program that misses its mode's shape.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

from codewm.programs.base import SourceConfigError

MODES = ("general", "cruxeval", "simple", "loops")
DATA_TYPES = ("int", "str", "list", "dict", "set", "tuple", "bool")
CRUX_MIN_CHARS, CRUX_MAX_CHARS = 75, 300


@dataclass(frozen=True)
class SyntheticOptions:
    """The generator's knobs. Defaults give programs with traces of roughly 20-300 steps."""

    count: int = 1000  # programs to yield
    seed: int = 0  # base seed; case i uses its own sub-seed (see the package docstring)
    mode: str = "general"  # "general", "cruxeval", or a curriculum tier: "simple", "loops"
    max_statements: int = 10  # statements in f's body, nested ones included (helpers get about half)
    max_depth: int = 2  # nesting of if/for/while/try blocks in a function (one-line guards excluded)
    max_loop_bound: int = 6  # most iterations of any one loop (literal ranges, lengths iterated)
    max_call_depth: int = 2  # longest chain of helper calls below f (0: no helper functions)
    max_helpers: int = 2  # helper functions besides a recursive one
    helper_prob: float = 0.5  # chance that a program has helper functions
    recursion: bool = True  # may define a bounded recursive function
    recursion_prob: float = 0.3  # chance that a program uses recursion (when allowed)
    max_recursion_depth: int = 5  # deepest recursion (depth argument, or length recursed over)
    types: tuple[str, ...] = DATA_TYPES  # data types used; ints are always used for counting
    exception_prob: float = 0.3  # chance that a program raises and catches exceptions
    class_prob: float = 0.2  # chance that a program defines and uses a small class
    mutation: bool = True  # in-place mutation (append, sort, update, ...); False rebinds instead
    max_args: int = 3  # most parameters of f
    max_steps: int = 300  # estimated trace steps that a program may take (a budget, not a target)
    validate: bool = False  # also execute each program once, untraced, and regenerate it if it raises (~2x slower)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SourceConfigError(f"synthetic: mode must be one of {MODES}, got {self.mode!r}")
        if isinstance(self.types, str):
            object.__setattr__(self, "types", (self.types,))
        object.__setattr__(self, "types", tuple(self.types))
        unknown = [t for t in self.types if t not in DATA_TYPES]
        if unknown:
            raise SourceConfigError(f"synthetic: unknown data types {unknown}; known: {', '.join(DATA_TYPES)}")
        for name in ("count", "max_statements", "max_loop_bound", "max_args", "max_steps"):
            if int(getattr(self, name)) < (0 if name == "count" else 1):
                raise SourceConfigError(f"synthetic: {name} must be positive, got {getattr(self, name)!r}")
        if int(self.max_steps) < 20:
            raise SourceConfigError(f"synthetic: max_steps must be at least 20, got {self.max_steps!r}")
        for name in ("max_depth", "max_call_depth", "max_helpers", "max_recursion_depth"):
            if int(getattr(self, name)) < 0:
                raise SourceConfigError(f"synthetic: {name} must not be negative, got {getattr(self, name)!r}")
        for name in ("helper_prob", "recursion_prob", "exception_prob", "class_prob"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise SourceConfigError(f"synthetic: {name} must be within 0..1, got {getattr(self, name)!r}")

    def knobs(self) -> dict:
        """The options that shape programs (everything but count), JSON-able."""
        out = asdict(self)
        out.pop("count")
        out["types"] = list(self.types)
        return out


@functools.lru_cache(maxsize=16)  # options are frozen (hashable); making them validates them again
def _crux_options(options: SyntheticOptions) -> SyntheticOptions:
    """The fixed knobs of mode "cruxeval", with the caller's count, seed, types (those it can use), mutation and validate."""
    types = tuple(t for t in options.types if t in ("int", "str", "list", "dict", "bool")) or ("str",)
    return SyntheticOptions(
        count=options.count, seed=options.seed, mode="cruxeval", max_statements=4, max_depth=2,
        max_loop_bound=12, max_call_depth=0, max_helpers=0, helper_prob=0.0, recursion=False,
        types=types, exception_prob=0.0, class_prob=0.0, mutation=options.mutation, max_args=3,
        max_steps=200, validate=options.validate,
    )


# The curriculum's easy tiers (the training presets mix them with "cruxeval" and "general"):
# "simple" is straight-line code of at most 4 statements in `f` alone; "loops" adds loops of
# at most 4 iterations, one level of nesting and at most one helper, in at most 6 statements.
# Their knobs are fixed, as "cruxeval"'s are: only count, seed, types, mutation and validate
# of the caller's options apply.
TIER_KNOBS = {
    "simple": dict(max_statements=4, max_depth=0, max_loop_bound=4, max_call_depth=0, max_helpers=0, helper_prob=0.0,
                   recursion=False, exception_prob=0.0, class_prob=0.0, max_args=2, max_steps=40),
    "loops": dict(max_statements=6, max_depth=1, max_loop_bound=4, max_call_depth=1, max_helpers=1, helper_prob=0.5,
                  recursion=False, exception_prob=0.0, class_prob=0.0, max_args=2, max_steps=80),
}


_BLOCK = re.compile(r"^( +)(?:if|elif|else|for|while|try|except|with)\b", re.M)


def too_nested(source: str, max_depth: int) -> bool:
    """Whether a block statement (one-line guards too) sits deeper in a function than `max_depth`."""
    # a block statement at function-body depth d is indented 4 * (d + 1) spaces
    return any(len(indent) > 4 * max_depth for indent in _BLOCK.findall(source))


@functools.lru_cache(maxsize=16)
def _tier_options(options: SyntheticOptions) -> SyntheticOptions:
    """A tier's fixed knobs (TIER_KNOBS), with the caller's count, seed, types, mutation and validate."""
    return SyntheticOptions(count=options.count, seed=options.seed, mode="general", types=options.types,
                            mutation=options.mutation, validate=options.validate, **TIER_KNOBS[options.mode])


_CRUX_METHODS = frozenset(
    """upper lower strip lstrip rstrip title capitalize swapcase replace center ljust rjust zfill
    removeprefix removesuffix split partition rpartition join find rfind count startswith endswith
    isdigit isalpha isupper islower isalnum append extend insert pop sort reverse remove index copy
    clear get setdefault update keys values items""".split()
)


def crux_shape_ok(source: str) -> bool:
    """Whether a program has CRUXEval's shape: 75..300 characters, calling a str/list/dict method."""
    if not CRUX_MIN_CHARS <= len(source) <= CRUX_MAX_CHARS:
        return False
    return any(m in _CRUX_METHODS for m in re.findall(r"\.([a-z]+)\(", source))


def program_options(options: SyntheticOptions) -> SyntheticOptions:
    """The knobs a program of `options.mode` is made with (a mode's fixed knobs replace the caller's)."""
    if options.mode == "cruxeval":
        return _crux_options(options)
    if options.mode in TIER_KNOBS:
        return _tier_options(options)
    return options
