"""The ladder's programs: functions that need exactly k dependent steps, in the families
`loop` and `chain`, each program made by its own seeded generator (the same in every
process), and `step_count`, which checks on a real trace that a program took its k steps.
`codewm.evaluate.ladder` describes the ladder and runs it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Iterator, Sequence

from codewm.programs.base import ProgramCase
from codewm.types import Trace, build_context

FAMILIES = ("loop", "chain")
HELD_OUT_SEED = 91000  # no training preset (7, 0) nor traces-synthetic (90001) uses it
MAX_K = 8


class LadderError(ValueError):
    """A ladder that cannot be made or run as asked."""


@dataclass(frozen=True)
class LadderProgram:
    """One program of the ladder: `f` defined by `source`, called as `call`."""

    family: str
    k: int  # dependent steps
    index: int  # position in the (family, k, seed) stream
    seed: int
    variant: str  # which shape of the family (e.g. "int-affine", "list-build", "chain")
    source: str
    call: str
    step_line: str = ""  # loop: the body line that runs k times (stripped); chain: ""

    @property
    def id(self) -> str:
        return f"ladder/{self.family}/k{self.k}/{self.seed}/{self.index}"

    @property
    def context(self) -> str:
        return build_context(self.source, self.call)

    def case(self) -> ProgramCase:
        meta = {"family": self.family, "k": self.k, "index": self.index, "seed": self.seed, "variant": self.variant}
        return ProgramCase(self.source, self.call, "ladder", self.id, meta)


def check_family_k(family: str, k: int) -> None:
    """Raise `LadderError` unless `family` is a ladder family and 1 <= k <= MAX_K."""
    if family not in FAMILIES:
        raise LadderError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise LadderError(f"k must be an int within 1..{MAX_K}, got {k!r}")


def ladder_program(family: str, k: int, index: int, seed: int = HELD_OUT_SEED) -> LadderProgram:
    """Program `index` of `(family, k, seed)`: the same in every process."""
    check_family_k(family, k)
    rng = random.Random(f"codewm-ladder/{family}/{k}/{seed}/{index}")
    make = _loop_program if family == "loop" else _chain_program
    variant, source, call, step_line = make(rng, k)
    return LadderProgram(family, k, index, seed, variant, source, call, step_line)


def ladder_cell(family: str, k: int, n: int, seed: int = HELD_OUT_SEED, max_tries: int | None = None) -> list[LadderProgram]:
    """The first `n` distinct programs of `(family, k, seed)` (indices 0, 1, 2, ..., skipping
    repeats of an earlier program). Fewer than `n` when `max_tries` (default 50 n + 100)
    indices give no more: the space of small-k programs is small."""
    check_family_k(family, k)
    if n < 0:
        raise LadderError(f"n must be >= 0, got {n}")
    tries = max_tries if max_tries is not None else 50 * n + 100
    seen: set[tuple[str, str]] = set()
    out: list[LadderProgram] = []
    index = 0
    while len(out) < n and index < tries:
        program = ladder_program(family, k, index, seed)
        index += 1
        key = (program.source, program.call)
        if key not in seen:
            seen.add(key)
            out.append(program)
    return out


_INT_BODIES = (
    ("int-affine", "acc = (acc * a + i) % m"),
    ("int-sum", "acc = (acc + a * i) % m"),
    ("int-square", "acc = (acc * acc + a) % m"),
)
_STR_BODIES = (
    ("str-flip", "s = c + s[::-1]"),
    ("str-append-flip", "s = (s + c)[::-1]"),
)
_LETTERS = "abcde"


def _loop_program(rng: random.Random, k: int) -> tuple[str, str, str, str]:
    shape = rng.choice(("int", "int", "list-fold", "list-build", "str"))
    m = rng.randint(5, 19)
    a = rng.randint(2, 9)
    if shape == "int":
        variant, body = rng.choice(_INT_BODIES)
        source = f"def f(acc, a, m):\n    for i in range({k}):\n        {body}\n    return acc\n"
        return variant, source, f"f({rng.randrange(m)}, {a}, {m})", body
    if shape == "list-fold":
        body = "acc = (acc * a + x) % m"
        xs = [rng.randint(0, 9) for _ in range(k)]
        source = f"def f(xs, a, m):\n    acc = {rng.randrange(m)}\n    for x in xs:\n        {body}\n    return acc\n"
        return "list-fold", source, f"f({xs!r}, {a}, {m})", body
    if shape == "list-build":
        body = "out.append((out[-1] * a + x) % m)"
        xs = [rng.randint(0, 9) for _ in range(k)]
        source = f"def f(xs, a, m):\n    out = [{rng.randrange(m)}]\n    for x in xs:\n        {body}\n    return out\n"
        return "list-build", source, f"f({xs!r}, {a}, {m})", body
    variant, body = rng.choice(_STR_BODIES)
    start = "".join(rng.choice(_LETTERS) for _ in range(rng.randint(1, 3)))
    text = "".join(rng.choice(_LETTERS) for _ in range(k))
    source = f"def f(s, t):\n    for c in t:\n        {body}\n    return s\n"
    return variant, source, f"f({start!r}, {text!r})", body


# Chain steps: (template, needs an older variable). p: the previous variable, q: an older one,
# c: a small constant, m: a small modulus. Values are kept within -99..99 (see _chain_program).
_CHAIN_STEPS = (
    ("{p} + {c}", False),
    ("{p} - {c}", False),
    ("{p} * {c2}", False),
    ("{p} % {m}", False),
    ("{p} // 2", False),
    ("abs({p} - {c})", False),
    ("{p} * 2 - {q}", True),
    ("{p} + {q}", True),
    ("{p} - {q}", True),
    ("({p} + {q}) % {m}", True),
)
_CHAIN_BOUND = 99


def _chain_program(rng: random.Random, k: int) -> tuple[str, str, str, str]:
    x0 = rng.randint(0, 20)
    values = [x0]  # only to keep the values small while choosing steps; never the reference
    lines = []
    for j in range(1, k + 1):
        options = [(t, q) for t, q in _CHAIN_STEPS if not q or j >= 2]
        for _ in range(20):
            template, needs_q = rng.choice(options)
            r = rng.randrange(j - 1) if needs_q else None
            c, c2, m = rng.randint(1, 9), rng.randint(2, 3), rng.randint(3, 11)
            expr = template.format(p=f"x{j - 1}", q=f"x{r}", c=c, c2=c2, m=m)
            value = _small_eval(template, values[j - 1], values[r] if r is not None else 0, c, c2, m)
            if -_CHAIN_BOUND <= value <= _CHAIN_BOUND:
                break
        else:  # nothing small came up: fall back on a step that is always small
            expr, value = f"x{j - 1} % {m}", values[j - 1] % m
        values.append(value)
        lines.append(f"    x{j} = {expr}\n")
    source = "def f(x0):\n" + "".join(lines) + f"    return x{k}\n"
    return "chain", source, f"f({x0})", ""


def _small_eval(template: str, p: int, q: int, c: int, c2: int, m: int) -> int:
    # The value of one chain step, for the bound only (the same Python operators).
    return {
        "{p} + {c}": lambda: p + c,
        "{p} - {c}": lambda: p - c,
        "{p} * {c2}": lambda: p * c2,
        "{p} % {m}": lambda: p % m,
        "{p} // 2": lambda: p // 2,
        "abs({p} - {c})": lambda: abs(p - c),
        "{p} * 2 - {q}": lambda: p * 2 - q,
        "{p} + {q}": lambda: p + q,
        "{p} - {q}": lambda: p - q,
        "({p} + {q}) % {m}": lambda: (p + q) % m,
    }[template]()


_ASSIGNMENT = re.compile(r"^\s+x\d+ = ")


def step_positions(program: LadderProgram, trace: Trace) -> list[int]:
    """Where the dependent steps run in a trace: the indices of the frames that are about to run
    a step line (the loop's body line, or a chain's `xj = ...` line, in `f`). The state after
    step j is the frame that follows index j."""

    def is_step(frame) -> bool:
        if program.family == "loop":
            return frame.source.strip() == program.step_line
        return bool(_ASSIGNMENT.match(frame.source))

    return [i for i, frame in enumerate(trace.frames) if frame.event == "line" and frame.depth == 1 and is_step(frame)]


def step_count(program: LadderProgram, trace: Trace) -> int:
    """How many dependent steps the real trace shows: for a loop, how many times the body
    line ran; for a chain, how many `xj = ...` lines of `f` ran."""
    return len(step_positions(program, trace))


class LadderSource:
    """The ladder as a program source (`codewm.programs.base.ProgramSource`), for the dataset
    builder or a `traces` benchmark: every family and k, `n` programs each, cell by cell."""

    name = "ladder"
    batchable = True  # codewm's own programs

    def __init__(self, n: int = 300, seed: int = HELD_OUT_SEED, families: Sequence[str] = FAMILIES, ks: Sequence[int] = tuple(range(1, MAX_K + 1))) -> None:
        self.n, self.seed, self.families, self.ks = n, seed, tuple(families), tuple(ks)
        for family in self.families:
            for k in self.ks:
                check_family_k(family, k)

    def cases(self) -> Iterator[ProgramCase]:
        for family in self.families:
            for k in self.ks:
                for program in ladder_cell(family, k, self.n, self.seed):
                    yield program.case()
