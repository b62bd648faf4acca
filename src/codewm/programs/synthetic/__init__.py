"""Synthetic programs: random Python functions with literal inputs, made to be traced.

    source = SyntheticSource(count=1000, seed=0)                    # mode="general"
    source = SyntheticSource(count=500, seed=3, mode="cruxeval")    # short CRUXEval-style `f`
    source = SyntheticSource(max_statements=14, max_depth=3, recursion=False, types=("int", "list"))
    for case in source.cases():
        case.source, case.call        # 'def f(xs, s):\\n ...', "f([3, 1, 4], 'abc')"

Every program defines `f` (and, in general mode, maybe helper functions, a recursive
function, a small class and an exception class) and comes with one call of `f` on literal
arguments. By construction the call

- always terminates quickly: `for` loops run over literal ranges or over collections that the
  loop body may not change, `while` loops are bounded by a counter, by popping a collection
  the body may not refill, or by halving a small number, and recursion has a base case and a
  depth argument that decreases towards it;
- never raises an uncaught exception: indexing, `.pop()`, `.remove()`, `.index()`, `int()`
  and division are guarded or sit in a `try` that catches exactly what they may raise, and
  every `raise` is inside a `try` (or a helper only called inside a `try`) that catches it;
- does the same thing in every process: no floats from division, no randomness, imports, I/O,
  `id()`/`hash()`, and no set of strings (whose order depends on PYTHONHASHSEED); sets only
  ever hold ints.

Sizes are tracked while generating (an upper bound on the length of every string and
collection, through loops, branches and calls), so that nothing grows past small caps, and so
is an estimate of the trace length (`max_steps`, kept in `meta["est_steps"]`); a statement
that would break either is not generated. Aliasing is avoided too: a list, dict or set is
never bound to a second name (copies are made), and a collection a loop runs over is frozen
for the loop's body. With `validate=True` each program is also executed once, untraced, and
regenerated from the next sub-seed should it raise; this is off by default since it doubles
the generation time and the programs are correct by construction (the tests trace thousands).

Determinism: case `index` of `(mode, seed)` is generated from its own random generator seeded
with the string "codewm-synthetic/{mode}/{seed}/{index}/{attempt}" (string seeds are hashed
with SHA-512, not with `hash()`), so the same options give byte-identical cases in the same
order in any process, and the first n cases of a larger `count` are the same n cases.
`case(i)` makes one case alone.

Modes "simple" and "loops" are the curriculum's easy tiers (see `TIER_KNOBS` in options.py): straight-line
code of at most 4 statements, and small loops with at most one helper.

Mode "cruxeval" makes short functions `f` (75..300 characters) over strings, lists and dicts
in the style of CRUXEval: a few statements mixing str/list/dict methods, loops,
comprehensions and conditionals, and no helpers, classes, recursion or exceptions. It uses
only `count`, `seed`, `types`, `mutation` and `validate` of the knobs below.

`mutation=False` keeps in-place changes out of f and its helpers (classes still change their
own attributes). Generating 10,000 general programs takes about 3.5 s on one core, 10,000
CRUXEval-style ones about 1.5 s.

The package, lowest first: vocabulary.py (types, caps, names, literals), options.py (the knobs
and the modes' fixed knobs), budget.py (size and step bounds), function.py (one function being
made), expressions.py with the productions in scalars.py, texts.py and containers.py,
statements.py, control.py and calls.py (statements), definitions.py (helpers, recursion, a
class), grammar.py (which function makes each statement kind and expression), program.py
(assembly) and source.py (`SyntheticSource`). docs/programs.md shows what it makes.
"""

from codewm.programs.synthetic.function import kind_thresholds, weighted_index
from codewm.programs.synthetic.options import CRUX_MAX_CHARS, CRUX_MIN_CHARS, DATA_TYPES, MODES, TIER_KNOBS, SyntheticOptions
from codewm.programs.synthetic.source import SyntheticSource, generate_case

__all__ = [
    "CRUX_MAX_CHARS", "CRUX_MIN_CHARS", "DATA_TYPES", "MODES", "TIER_KNOBS", "SyntheticOptions", "SyntheticSource",
    "generate_case", "kind_thresholds", "weighted_index",
]
