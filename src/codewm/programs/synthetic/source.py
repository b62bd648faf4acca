"""The synthetic program source: `SyntheticSource` and how case `index` of a seed is made.

Case `index` of `(mode, seed)` is generated from its own random generator seeded with the
string "codewm-synthetic/{mode}/{seed}/{index}/{attempt}", trying the next attempt while a
program is rejected (see the package docstring).
"""

from __future__ import annotations

import random
from dataclasses import fields
from typing import Iterator

from codewm.programs.base import ProgramCase
from codewm.programs.synthetic.budget import Reject
from codewm.programs.synthetic.options import TIER_KNOBS, SyntheticOptions, crux_shape_ok, program_options, too_nested
from codewm.programs.synthetic.program import Program

MAX_ATTEMPTS = 64


class SyntheticSource:
    """Random programs with literal calls; see the package docstring."""

    name = "synthetic"
    batchable = True  # codewm's own programs: they may share a sandbox process (Sandbox.run_batch)

    @staticmethod
    def option_types() -> dict:
        """The knobs `**knobs` takes, with their types (for checking a config's options)."""
        import typing

        return typing.get_type_hints(SyntheticOptions)

    def __init__(self, count: int = 1000, seed: int = 0, mode: str = "general", **knobs) -> None:
        known = {f.name for f in fields(SyntheticOptions)}
        unknown = sorted(set(knobs) - known)
        if unknown:
            raise TypeError(f"SyntheticSource got unknown options {unknown}")
        self.options = SyntheticOptions(count=count, seed=seed, mode=mode, **knobs)
        self._knobs = self.options.knobs()

    def cases(self) -> Iterator[ProgramCase]:
        for index in range(self.options.count):
            yield self.case(index)

    def __len__(self) -> int:
        return self.options.count

    def case(self, index: int) -> ProgramCase:
        """Case `index` alone (the same as the `index`-th of `cases()`)."""
        return generate_case(self.options, index, self._knobs)


class Rng(random.Random):
    """random.Random with choice/randint/randrange drawn from one random() call each: about twice
    as fast as the rejection sampling of the originals, and just as deterministic."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def randrange(self, n: int) -> int:  # one argument only
        return int(self.random() * n)


def generate_case(options: SyntheticOptions, index: int, knobs: dict | None = None) -> ProgramCase:
    """Case `index` of `options` (the first attempt that makes a program of the mode's shape)."""
    mode, seed = options.mode, options.seed
    knobs = knobs if knobs is not None else options.knobs()
    base = f"codewm-synthetic/{mode}/{seed}/{index}"
    crux = mode == "cruxeval"
    knobs_used = program_options(options)
    for attempt in range(MAX_ATTEMPTS):
        rng = Rng(f"{base}/{attempt}")
        try:
            program = Program(rng, knobs_used, crux=crux)
            source, call = program.build()
        except Reject:
            continue
        if crux and not crux_shape_ok(source):
            continue
        if mode in TIER_KNOBS and too_nested(source, TIER_KNOBS[mode]["max_depth"]):
            continue  # the tiers count one-line guards (`if x in xs:`) as nesting too
        if options.validate and not _runs_cleanly(source, call):
            continue
        meta = {
            "mode": mode,
            "seed": seed,
            "index": index,
            "attempt": attempt,
            "knobs": {**knobs, "types": list(knobs["types"])},
            "features": program.features(),
            "statements": program.statements,
            "lines": source.count("\n"),
            "chars": len(source),
            "est_steps": program.est_steps,
            "difficulty": program.difficulty(),
        }
        return ProgramCase(source, call, origin="synthetic", id=f"synthetic/{mode}/{seed}/{index:06d}", meta=meta)
    raise RuntimeError(f"synthetic: could not generate case {index} of seed {seed} in {MAX_ATTEMPTS} attempts")


def _runs_cleanly(source: str, call: str) -> bool:
    """Whether the program's call runs without raising (executed once, untraced)."""
    namespace: dict = {"__name__": "__main__"}
    try:
        exec(compile(f"{source}_ = {call}\n", "<codewm-synthetic>", "exec", dont_inherit=True), namespace)
    except Exception:
        return False
    return True
