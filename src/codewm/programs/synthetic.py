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

Modes "simple" and "loops" are the curriculum's easy tiers (see `TIER_KNOBS`): straight-line
code of at most 4 statements, and small loops with at most one helper.

Mode "cruxeval" makes short functions `f` (75..300 characters) over strings, lists and dicts
in the style of CRUXEval: a few statements mixing str/list/dict methods, loops,
comprehensions and conditionals, and no helpers, classes, recursion or exceptions. It uses
only `count`, `seed`, `types`, `mutation` and `validate` of the knobs below.

`mutation=False` keeps in-place changes out of f and its helpers (classes still change their
own attributes). Generating 10,000 general programs takes about 3.5 s on one core, 10,000
CRUXEval-style ones about 1.5 s.
"""

from __future__ import annotations

import functools
import random
import re
import struct
from bisect import bisect_right
from itertools import filterfalse
from dataclasses import asdict, dataclass, fields
from typing import Iterator

from codewm.programs.base import ProgramCase, SourceConfigError

MODES = ("general", "cruxeval", "simple", "loops")
DATA_TYPES = ("int", "str", "list", "dict", "set", "tuple", "bool")
CRUX_MIN_CHARS, CRUX_MAX_CHARS = 75, 300
_MAX_ATTEMPTS = 64


@dataclass(frozen=True)
class SyntheticOptions:
    """The generator's knobs. Defaults give programs with traces of roughly 20-300 steps."""

    count: int = 1000  # programs to yield
    seed: int = 0  # base seed; case i uses its own sub-seed (see the module docstring)
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


class SyntheticSource:
    """Random programs with literal calls; see the module docstring."""

    name = "synthetic"
    batchable = True  # codewm's own programs: they may share a sandbox process (Sandbox.run_batch)

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


def generate_case(options: SyntheticOptions, index: int, knobs: dict | None = None) -> ProgramCase:
    mode, seed = options.mode, options.seed
    knobs = knobs if knobs is not None else options.knobs()
    base = f"codewm-synthetic/{mode}/{seed}/{index}"
    crux = mode == "cruxeval"
    program_options = _crux_options(options) if crux else _tier_options(options) if mode in TIER_KNOBS else options
    for attempt in range(_MAX_ATTEMPTS):
        rng = _Rng(f"{base}/{attempt}")
        try:
            program = _Program(rng, program_options, crux=crux)
            source, call = program.build()
        except _Reject:
            continue
        if crux and not _crux_shape_ok(source):
            continue
        if mode in TIER_KNOBS and _too_nested(source, TIER_KNOBS[mode]["max_depth"]):
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
    raise RuntimeError(f"synthetic: could not generate case {index} of seed {seed} in {_MAX_ATTEMPTS} attempts")


def _runs_cleanly(source: str, call: str) -> bool:
    namespace: dict = {"__name__": "__main__"}
    try:
        exec(compile(f"{source}_ = {call}\n", "<codewm-synthetic>", "exec", dont_inherit=True), namespace)
    except Exception:
        return False
    return True


@functools.lru_cache(maxsize=16)  # options are frozen (hashable); making them validates them again
def _crux_options(options: SyntheticOptions) -> SyntheticOptions:
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


def _too_nested(source: str, max_depth: int) -> bool:
    # a block statement at function-body depth d is indented 4 * (d + 1) spaces
    return any(len(indent) > 4 * max_depth for indent in _BLOCK.findall(source))


@functools.lru_cache(maxsize=16)
def _tier_options(options: SyntheticOptions) -> SyntheticOptions:
    return SyntheticOptions(count=options.count, seed=options.seed, mode="general", types=options.types,
                            mutation=options.mutation, validate=options.validate, **TIER_KNOBS[options.mode])


_CRUX_METHODS = frozenset(
    """upper lower strip lstrip rstrip title capitalize swapcase replace center ljust rjust zfill
    removeprefix removesuffix split partition rpartition join find rfind count startswith endswith
    isdigit isalpha isupper islower isalnum append extend insert pop sort reverse remove index copy
    clear get setdefault update keys values items""".split()
)


def _crux_shape_ok(source: str) -> bool:
    if not CRUX_MIN_CHARS <= len(source) <= CRUX_MAX_CHARS:
        return False
    return any(m in _CRUX_METHODS for m in re.findall(r"\.([a-z]+)\(", source))


# ---------------------------------------------------------------------------------------------
# Types, caps and pools
# ---------------------------------------------------------------------------------------------

INT, BOOL, STR, IL, SL, DICT, SET, TUP, OBJ, EXC = "int", "bool", "str", "ilist", "slist", "dict", "iset", "tuple", "obj", "exc"
_SIZED = frozenset({STR, IL, SL, DICT, SET, TUP})
_MUTABLE = frozenset({IL, SL, DICT, SET})
# Upper bounds on sizes (characters of a string, elements of a collection) that no value may pass.
_CAP = {STR: 48, IL: 20, SL: 14, DICT: 12, SET: 20, TUP: 12, OBJ: 16}
_ECAP = 24  # longest string inside a list of strings, or key of a dict
_INT_TEXT = 12  # characters assumed for str(int)
# Sizes a helper assumes of its parameters (callers may pass nothing larger).
_ALL_TYPES = (INT, BOOL, STR, IL, SL, DICT, SET, TUP, OBJ, EXC)
# (cap, is_tuple) of the size effects of each type whose size is tracked
_SIZE_LIMITS = {t: (_CAP[t], t == TUP) for t in _SIZED} | {OBJ: (_CAP[OBJ], False)}
_PARAM_SIZE = {STR: (16, 0), IL: (6, 0), SL: (5, 8), DICT: (5, 8), SET: (6, 0), TUP: (5, 0)}


class _Rng(random.Random):
    """random.Random with choice/randint/randrange drawn from one random() call each: about twice
    as fast as the rejection sampling of the originals, and just as deterministic."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def randrange(self, n: int) -> int:  # one argument only
        return int(self.random() * n)


class _Reject(Exception):
    """This statement (or program) breaks a cap or the step budget: generate something else."""


_WORDS = (
    "apple", "kiwi", "lemon", "mango", "pear", "plum", "fig", "lime", "cat", "dog", "owl", "fox",
    "bee", "ant", "yak", "red", "blue", "green", "gold", "sun", "moon", "star", "sky", "sea",
    "rain", "alpha", "beta", "gamma", "one", "two", "three", "hello", "world", "code", "data",
    "test", "node", "path", "key", "Ab", "xY", "QQ", "ok", "no", "yes", "abc", "xyz", "aaa", "zz",
    "a1", "42", "7", "007", "Tom", "Eve", "BOB",
)
_TEXTS = (
    "hello world", "abracadabra", "Mississippi", "a-b-c-d", "  padded  ", "123abc", "UPPER lower",
    "x,y,z", "racecar", "aaa bbb aaa", "The Quick Fox", "2024", "a1b2c3", "tic-tac-toe",
    "one two three", "banana", "Hello, World", "level up", "zigzag", "CamelCaseWord", "snake_case",
    "  x  ", "abc", "a", "", "11:30", "ab|cd|ef", "noon", "OpenAI", "data42", "cool beans",
)
_CHARS = ("a", "e", "o", "i", "s", "t", "l", "n", "x", "b", "1", "0", "A", "Z")
_SUBS = ("a", "e", "o", "i", "s", "l", "x", "ab", "an", "el", "lo", "-", " ", ",", "1", "0", "aa", "b")
_SEPS = (" ", ",", "-", ":", "|", "", ", ", "_", "+")
_SPLIT = (" ", ",", "-", ":", "|", "a", "e", "o")
_FILL = ("*", "-", "#", ".", "0", "_", "=")
_KEYS = ("a", "b", "c", "x", "y", "key", "one", "two", "red", "blue", "cat", "dog", "id", "n", "total")
_STR_METHODS0 = ("upper", "lower", "strip", "title", "capitalize", "swapcase", "lstrip", "rstrip")
_STR_PREDS = ("isdigit", "isalpha", "isupper", "islower", "isalnum")

_NAMES = {
    INT: ("total", "count", "acc", "n", "k", "m", "x", "y", "z", "idx", "step", "score", "val", "best",
          "low", "high", "diff", "prod", "carry", "num", "size", "pos", "left", "right", "delta", "limit"),
    BOOL: ("flag", "found", "ok", "done", "valid", "changed", "is_even", "hit", "active"),
    STR: ("s", "text", "word", "out", "prefix", "suffix", "name", "msg", "tag", "label", "line",
          "head", "tail", "buf", "res", "token", "joined", "note"),
    IL: ("xs", "nums", "vals", "items", "stack", "result", "evens", "odds", "buckets", "scores",
         "queue", "ys", "zs", "picked", "digits", "marks_l"),
    SL: ("words", "parts", "names", "tokens", "chunks", "keys", "letters", "pieces", "lines", "tags"),
    DICT: ("counts", "d", "table", "index", "freq", "mapping", "lookup", "totals", "tally", "reg"),
    SET: ("seen", "uniq", "marks", "pool", "visited", "bag", "ids"),
    TUP: ("pair", "t", "coords", "triple", "span", "bounds", "rec"),
    OBJ: ("obj", "acc_obj", "tracker", "box", "store", "keeper"),
}
_CRUX_NAMES = {
    INT: ("n", "k", "num", "count", "i", "res", "total", "m", "idx"),
    BOOL: ("flag", "found", "ok"),
    STR: ("text", "s", "string", "st", "char", "c", "sub", "prefix", "sep", "result", "out", "letter"),
    IL: ("nums", "array", "lst", "arr", "l", "result", "a", "values"),
    SL: ("strings", "words", "names", "parts", "items", "lst", "li"),
    DICT: ("dic", "d", "counts", "mapping", "result", "data"),
    SET: ("seen",),
    TUP: ("t", "pair"),
    OBJ: ("obj",),
}
_LOOP_INT = ("i", "j", "x", "v", "num", "item", "e", "a", "b")
_LOOP_STR = ("ch", "c", "w", "part", "letter", "token", "piece", "s2", "el")
_LOOP_KEY = ("k", "key", "name", "kk")
_LOOP_VAL = ("v", "cnt", "amount", "vv")
_HELPER_NAMES = ("combine", "normalize", "score", "merge", "build", "step", "transform", "pick",
                 "tally_up", "shift", "pack", "scan", "bump", "clip", "mix", "fold", "squash",
                 "measure", "extract", "weigh", "rotate", "compress", "collect", "adjust")
_REC_NAMES = ("walk", "descend", "rec", "climb", "unwind", "dig", "reduce_down", "go")
_EXC_TYPES = ("ValueError", "KeyError", "IndexError", "RuntimeError", "LookupError")
_CUSTOM_EXC = ("StopScan", "BadInput", "Overflow", "Halt", "Reject")
# Class names per template (accumulator, stack, point, word counter), and names for instances.
_CLASS_NAMES = (("Counter", "Tracker", "Ledger", "Meter", "Accumulator"), ("Stack", "Pile", "Tower", "Heap"),
                ("Point", "Walker", "Cursor", "Robot"), ("Bag", "Register", "Tally", "WordCount"))

_LITERAL_INTS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 100, -1, -2, -3)
_SMALL_POS = (2, 3, 4, 5)


def _p(r) -> str:
    """An expression's text, parenthesized unless atomic."""
    return r[0] if r[2] else f"({r[0]})"


def _const(n: int, e: int = 0):
    t = (n, e)
    return lambda S: t


def _ref(name: str):
    return lambda S: S[name]


# ---------------------------------------------------------------------------------------------
# Size/step interpretation
# ---------------------------------------------------------------------------------------------
# An effect list mirrors a function body: ("s", name, size_fn, cap, is_tuple) sets an upper bound
# on a variable's size (joined with the old bound: bounds only grow), ("c", steps) adds trace
# steps (an int or a function of the sizes), ("k", check) runs a check that may reject, and
# ("l", bound_fn, body) repeats a body at most bound_fn(sizes) times.


def _bound_size(node: tuple, S: dict) -> None:
    """Apply an ("s", name, size_fn, cap, is_tuple) effect to the sizes S."""
    n, e = node[2](S)
    if n > node[3] or (e > _ECAP and not node[4]):
        raise _Reject
    old = S.get(node[1])
    if old is not None:
        if old[0] > n:
            n = old[0]
        e = min(e, old[1]) if node[4] else max(e, old[1])
    S[node[1]] = (n, e)


def _run(effects: list, S: dict, ctx: "_Fn") -> None:
    budget = ctx.budget
    for node in effects:
        tag = node[0]
        if tag == "c":  # the commonest first
            steps = node[1]
            S["$c"] += steps if type(steps) is int else steps(S)
            if S["$c"] > budget:
                raise _Reject
        elif tag == "s":
            _bound_size(node, S)
        elif tag == "k":
            node[1](S)
        else:
            bound = node[1](S)
            if bound > ctx.max_loop:
                raise _Reject
            for i in range(bound):
                before = dict(S)
                c0 = S["$c"]
                _run(node[2], S, ctx)
                before["$c"] = S["$c"]
                if before == S:  # a fixpoint: the remaining iterations only add steps
                    S["$c"] += (bound - i - 1) * (S["$c"] - c0)
                    if S["$c"] > budget:
                        raise _Reject
                    break


# ---------------------------------------------------------------------------------------------
# Variables, helpers, classes
# ---------------------------------------------------------------------------------------------


class _Var:
    __slots__ = ("name", "type", "frozen", "char", "cls")

    def __init__(self, name: str, type_: str, char: bool = False, cls=None) -> None:
        self.name = name
        self.type = type_
        self.frozen = False
        self.char = char
        self.cls = cls


class _Helper:
    def __init__(self, name, params, rtype, ret_size, cost, mutated, raises, lines, recursive=False, arg_kinds=None):
        self.name = name
        self.params = params  # [(name, type, (n, e))]
        self.rtype = rtype
        self.ret_size = ret_size  # (n, e) or None
        self.cost = cost
        self.mutated = mutated  # parameter indexes the helper mutates in place
        self.raises = raises  # exception class name or None
        self.lines = lines
        self.recursive = recursive
        self.arg_kinds = arg_kinds
        self.feats: list[str] = []
        self.depth_limit = 0  # recursive functions: how to build each argument


class _ClassSpec:
    """A small class: its source lines, how it is built and which methods f may call."""

    def __init__(self, name, lines, ctor, init_n, methods, int_attrs, size_attr):
        self.name = name
        self.lines = lines
        self.ctor = ctor  # argument types of __init__
        self.init_n = init_n
        self.methods = methods  # [(name, arg types, return type or None, growth per call, steps)]
        self.int_attrs = int_attrs
        self.size_attr = size_attr  # attribute holding its collection (len() of it is an int)


# ---------------------------------------------------------------------------------------------
# The program
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _program_types(data_types: tuple[str, ...], crux: bool) -> tuple[tuple, frozenset, tuple]:
    """(types a program uses, the same as a set, types of f's parameters) for the data types asked for."""
    types = set(data_types)
    allowed = [INT]
    if "bool" in types:
        allowed.append(BOOL)
    if "str" in types:
        allowed.append(STR)
    if "list" in types:
        allowed.append(IL)
        if "str" in types:
            allowed.append(SL)
    if "dict" in types:
        allowed.append(DICT)
    if "set" in types and not crux:
        allowed.append(SET)
    if "tuple" in types and not crux:
        allowed.append(TUP)
    # f's parameters only take the data types asked for (ints serve as counters anyway)
    param_types = [t for t in allowed if t != INT or "int" in types] or [INT]
    return tuple(allowed), frozenset(allowed), tuple(param_types)


class _Program:
    def __init__(self, rng: random.Random, options: SyntheticOptions, crux: bool) -> None:
        self.rng = rng
        self.o = options
        self.crux = crux
        self.names = _CRUX_NAMES if crux else _NAMES
        self.types, self.has, self.param_types = _program_types(options.types, crux)
        self.feats: list[str] = []
        self.module_lines: list[str] = []
        self.helpers: list[_Helper] = []
        self.global_names: set[str] = {"f", "main"}
        self.cls: _ClassSpec | None = None
        self.custom_exc: str | None = None
        self.statements = 0
        self.est_steps = 0

    # -- names -------------------------------------------------------------------------------
    def global_name(self, pool) -> str:
        free = list(filterfalse(self.global_names.__contains__, pool))
        name = self.rng.choice(free) if free else f"{pool[0]}{len(self.global_names)}"
        self.global_names.add(name)
        return name

    def feat(self, name: str) -> None:
        self.feats.append(name)

    def features(self) -> list[str]:
        return sorted(set(self.feats))

    def difficulty(self) -> int:
        """1 (easy) .. 5 (hard): estimated steps and the advanced constructs used."""
        feats = set(self.feats)
        advanced = len(feats & {"recursion", "exception", "class", "helper", "nested_loop", "while", "mutation"})
        score = 1 + (self.est_steps > 60) + (self.est_steps > 150) + (advanced >= 2) + (advanced >= 4)
        return int(score)

    # -- build -------------------------------------------------------------------------------
    def build(self) -> tuple[str, str]:
        rng, o = self.rng, self.o
        use_exc = not self.crux and rng.random() < o.exception_prob
        use_cls = not self.crux and rng.random() < o.class_prob
        use_rec = not self.crux and o.recursion and o.max_recursion_depth >= 1 and rng.random() < o.recursion_prob
        use_help = not self.crux and o.max_call_depth >= 1 and o.max_helpers >= 1 and rng.random() < o.helper_prob
        self.exc_types = list(_EXC_TYPES)
        if use_exc and rng.random() < 0.3:
            self.custom_exc = self.global_name(_CUSTOM_EXC)
            self.exc_types.append(self.custom_exc)
        if use_cls:
            self.cls = _make_class(self)
        forced: list[str] = []
        top_helpers: list[_Helper] = []
        if use_help:
            top_helpers = self.make_helpers(use_exc)
            forced += ["call"] * len(top_helpers)
        if use_rec:
            rec = _make_recursive(self)
            self.helpers.append(rec)
            top_helpers.append(rec)
            forced.append("rec")
        if use_cls:
            forced += ["obj_new", "obj_call", "obj_call"]
        if use_exc:
            forced.append("try")
        rng.shuffle(forced)
        if use_cls:  # the instance first
            forced.remove("obj_new")
            forced.insert(0, "obj_new")
        fn = _Fn(self, "f", level=0, callees=top_helpers, use_exc=use_exc)
        params = fn.make_params(rng.randint(1, o.max_args) if not self.crux else rng.choice((1, 1, 2, 2, 2, 3)))
        if self.crux:
            fn.remaining = rng.randint(1, 4)
        else:
            fn.remaining = rng.randint(max(2, (2 * o.max_statements + 2) // 3), o.max_statements)
        fn.forced = forced
        fn.body()
        fn.final_return()
        if self.crux and fn.lines[-1].strip().startswith("return") and len(fn.lines) < 2:
            raise _Reject
        self.statements = fn.count
        self.est_steps = fn.S["$c"] + 4  # main's call, line and return frames
        header = f"def f({', '.join(p.name for p in params)}):"
        source = "\n".join(self.assemble(fn.lines) + [header] + fn.lines) + "\n"
        call = "f(" + ", ".join(fn.arg_texts) + ")"
        return source, call

    def make_helpers(self, use_exc: bool) -> list[_Helper]:
        """Helper functions by level, the deepest first; returns those f may call."""
        rng, o = self.rng, self.o
        count = rng.randint(1, o.max_helpers)
        depth = rng.randint(1, min(o.max_call_depth, count))
        levels = list(range(1, depth + 1)) + [rng.randint(1, depth) for _ in range(count - depth)]
        levels.sort(reverse=True)
        by_level: dict[int, list[_Helper]] = {}
        for level in levels:
            callees = by_level.get(level + 1, [])
            helper = _make_helper(self, level, callees, use_exc)
            by_level.setdefault(level, []).append(helper)
            self.helpers.append(helper)
        return by_level.get(1, [])

    def assemble(self, body: list[str]) -> list[str]:
        """The module-level definitions that f uses, directly or through other helpers."""
        def calls(lines: list[str], name: str) -> bool:
            return any(name + "(" in line for line in lines)

        used: list[_Helper] = []
        frontier = [body]
        while frontier:
            lines = frontier.pop()
            for h in self.helpers:
                if h not in used and calls(lines, h.name):
                    used.append(h)
                    frontier.append(h.lines)
        out: list[str] = []
        everything = body + [line for h in used for line in h.lines]
        if self.custom_exc and any(self.custom_exc in line for line in everything):
            out += [f"class {self.custom_exc}(Exception):", "    pass"]
            self.feat("class")
        if self.cls is not None and calls(body, self.cls.name):
            out += self.cls.lines
        for h in self.helpers:  # in definition order (callees first)
            if h in used:
                out += h.lines
                self.feats += h.feats
                if h.recursive:
                    self.feat("recursion")
                elif any(calls(h.lines[1:], other.name) for other in used if other is not h):
                    self.feat("helper_chain")
        return out


# ---------------------------------------------------------------------------------------------
# A function body
# ---------------------------------------------------------------------------------------------


class _Fn:
    def __init__(self, prog: _Program, name: str, level: int, callees: list, use_exc: bool) -> None:
        self.p = prog
        self.rng = prog.rng
        self.o = prog.o
        self.name = name
        self.level = level
        self.callees = callees
        self.use_exc = use_exc
        self.lines: list[str] = []
        # The variables in scope: a stack, changed only through bind() and unbind_from(), which
        # keep the same variables by type in _by_type (for vars()) and drop the lists that
        # sized_var() caches in _typed.
        self.env: list[_Var] = []
        self._by_type: dict[str, list[_Var]] = {t: [] for t in _ALL_TYPES}
        self._typed: dict = {}
        self.S: dict = {"$c": 2}  # the function's own call and return frames
        self.effects: list = []
        self.used: set[str] = set(prog.global_names)
        self.depth = 0
        self.loops: list[str] = []  # kinds of the enclosing loops, innermost last
        self.catching: list[str] = []  # exception types a raise here would be caught by
        self.remaining = 0
        self.count = 0
        self.forced: list[str] = []
        self.mutated: list[str] = []
        self.raised: str | None = None
        self.arg_texts: list[str] = []
        # helpers get a third of the budget, halved again per level below (so callers can afford them)
        self.budget = prog.o.max_steps if level == 0 else max(20, prog.o.max_steps // (3 << (level - 1)))
        self.max_loop = prog.o.max_loop_bound
        self.literal_len = min(4, self.max_loop)  # longest collection literal in an expression
        self.crux = prog.crux
        self.prods = _CRUX_PRODS if prog.crux else _PRODS
        self._comp: list = []
        self.refs = 0  # variable references made by expressions so far
        self.touched: list[str] = []  # variables in the order they were assigned or changed
        # what kind_table() depends on that does not change while the body is made
        self._kind_key = (self.crux, self.o.max_depth, use_exc, level, prog.cls is not None)

    # -- bookkeeping ---------------------------------------------------------------------------
    def emit(self, text: str) -> None:
        self.lines.append("    " * (self.depth + 1) + text)

    def eff(self, node) -> None:
        self.effects.append(node)
        _run((node,), self.S, self)

    def cost(self, steps=1) -> None:
        # eff(("c", steps)) without the trip through _run: this is the commonest effect
        self.effects.append(("c", steps))
        S = self.S
        S["$c"] += steps if type(steps) is int else steps(S)
        if S["$c"] > self.budget:
            raise _Reject

    def set_size(self, name: str, type_: str, size_fn) -> None:
        limits = _SIZE_LIMITS.get(type_)
        if limits is not None:  # eff(("s", ...)) without the trip through _run
            node = ("s", name, size_fn, limits[0], limits[1])
            self.effects.append(node)
            _bound_size(node, self.S)

    def bind(self, var: _Var) -> None:
        """Put a variable in scope."""
        self.env.append(var)
        self._by_type[var.type].append(var)
        if self._typed:
            self._typed.clear()

    def unbind_from(self, scope: int) -> None:
        """Take the variables bound since len(self.env) was `scope` out of scope."""
        env = self.env
        if len(env) > scope:
            by_type = self._by_type
            for v in env[scope:]:  # the latest of each type's list, as env is a stack
                by_type[v.type].pop()
            del env[scope:]
            self._typed.clear()

    def new_name(self, pool) -> str:
        used = self.used
        free = pool if used.isdisjoint(pool) else list(filterfalse(used.__contains__, pool))
        name = free[int(self.rng.random() * len(free))] if free else f"{pool[0]}{len(used)}"  # rng.choice(free)
        used.add(name)
        return name

    def var_name(self, type_: str) -> str:
        return self.new_name(self.p.names[type_])

    def vars(self, type_: str, unfrozen: bool = False) -> list[_Var]:
        """The variables of `type_` in scope, in binding order (a shared list: do not change it)."""
        if unfrozen:
            return [v for v in self.env if v.type == type_ and not v.frozen]
        return self._by_type[type_]

    def pick(self, type_: str, unfrozen: bool = False) -> _Var | None:
        vs = self.vars(type_, unfrozen)
        if not vs:
            return None
        self.refs += 1
        return self.rng.choice(vs)

    def choose(self, vs: list):
        self.refs += 1
        return self.rng.choice(vs)

    def attempt(self, statement) -> bool:
        """Run `statement(self)`; should it reject (raise _Reject or return False), undo what it did."""
        # The snapshot leaves out what the statements restore themselves, in `finally` clauses,
        # before a rejection gets here: `depth` (nested, loop_body, try_raise, try_helper),
        # `loops` and `effects` (loop_body), `catching` (try_raise, try_helper) and the `frozen`
        # flags of the variables already bound (loop_body; the variables that statements freeze
        # themselves, loop variables and while counters, are unbound below).
        lines, effects, env, feats, mutated, comp = self.lines, self.effects, self.env, self.p.feats, self.mutated, self._comp
        n_lines, n_effects, n_env, n_feats, n_mutated, n_comp = len(lines), len(effects), len(env), len(feats), len(mutated), len(comp)
        S, remaining, count, raised = dict(self.S), self.remaining, self.count, self.raised
        try:
            if statement(self) is not False:
                if comp:
                    self.comp_cost()
                return True
        except _Reject:
            pass
        del comp[n_comp:]
        del lines[n_lines:]
        del effects[n_effects:]
        self.S = S
        self.unbind_from(n_env)
        self.remaining, self.count, self.raised = remaining, count, raised
        del feats[n_feats:]
        del mutated[n_mutated:]
        return False

    # -- parameters and literal arguments ----------------------------------------------------
    def make_params(self, count: int) -> list[_Var]:
        rng = self.rng
        params = []
        for i in range(count):
            if self.crux and i == 0:
                pool = [t for t in (STR, STR, STR, IL, SL, DICT) if t in self.p.has] or [INT]
                type_ = rng.choice(pool)
            elif self.crux:
                type_ = rng.choice([t for t in (STR, STR, INT, INT, IL) if t in self.p.has] or [INT])
            else:
                type_ = rng.choice(self.p.param_types)
            var = _Var(self.var_name(type_), type_)
            value = _literal_value(rng, type_, self.max_loop, self.crux)
            self.bind(var)
            if type_ in _SIZED:
                self.S[var.name] = _value_size(type_, value)
            self.arg_texts.append(_literal_text(type_, value))
            params.append(var)
        return params

    # -- the body ------------------------------------------------------------------------------
    def body(self) -> None:
        tries = 0
        rng = self.rng
        while self.remaining > 0 and tries < 4 * self.o.max_statements + 12:
            tries += 1
            if self.forced and (rng.random() < 0.5 or len(self.forced) >= self.remaining):
                statement = _STATEMENTS[self.forced.pop(0)]
                for _ in range(4):
                    if self.attempt(statement):
                        break
                continue
            self.statement()
        for kind in self.forced:  # what must appear, even past the statement count
            statement = _STATEMENTS[kind]
            for _ in range(4):
                if self.attempt(statement):
                    break
        self.forced = []

    def statement(self) -> bool:
        statements, thresholds, total = self.kind_table()
        random_ = self.rng.random
        attempt = self.attempt
        for _ in range(6):
            # the kind _weighted_index(weights, x) picks, found by bisection (see _kind_thresholds)
            if attempt(statements[bisect_right(thresholds, random_() * total)]):
                return True
        return False

    def kind_table(self):
        """(statement functions, _kind_thresholds of their weights, the weights' sum) for where the body is now."""
        # Tables are shared by all functions, keyed by everything make_kind_table() looks at.
        key = (self._kind_key, self.depth, bool(self.loops), bool(self.catching), len(self._by_type[INT]) >= 2,
               bool(self.callees))
        table = _KIND_TABLES.get(key)
        if table is None:
            kinds, weights = self.make_kind_table()
            total = sum(weights)
            table = _KIND_TABLES[key] = (tuple(_STATEMENTS[k] for k in kinds), _kind_thresholds(weights, total), total)
        return table

    def make_kind_table(self):
        crux = self.crux
        compound = self.depth < self.o.max_depth
        k: list[str] = ["new", "upd", "upd"]
        w: list[float] = [3, 3, 3]
        if len(self.vars(INT)) >= 2 and not crux:
            k.append("unpack")
            w.append(0.6)
        if compound:
            k += ["if", "for", "while"]
            if crux:
                w += [2.2, 2.8, 0.4]
            elif self.depth == 0:
                w += [1.6, 3.2, 1.2]
            else:
                w += [2.0, 1.6, 0.6]
            if self.use_exc and not crux:
                k.append("try")
                w.append(0.9)
        if self.loops:
            k.append("brk")
            w.append(0.6)
        if self.catching and self.level == 0:
            k.append("raise")
            w.append(1.2)
        if self.level == 0 and self.depth >= 1 and not crux:
            k.append("ret")
            w.append(0.3)
        elif self.level == 0 and self.depth >= 1 and crux:
            k.append("ret")
            w.append(0.6)
        if self.callees:
            k += ["call", "rec"]
            w += [1.0, 0.6]
        if self.p.cls is not None and self.level == 0:
            k += ["obj_new", "obj_call"]
            w += [0.2, 1.5]
        return k, w

    def block(self, count: int) -> None:
        made = 0
        for _ in range(count):
            if self.remaining <= 0 and made:
                break
            if self.statement():
                made += 1
        if not made:
            for _ in range(4):
                if self.attempt(_Fn.st_new) or self.attempt(_Fn.st_upd):
                    made = 1
                    break
        if not made:
            raise _Reject

    def done(self, feature: str | None = None) -> None:
        self.remaining -= 1
        self.count += 1
        if feature:
            self.p.feats.append(feature)

    def body_size(self) -> int:
        return self.rng.randint(1 + (self.remaining > 3), max(1, min(3, self.remaining)))

    # -- simple statements ---------------------------------------------------------------------
    def st_new(self):
        type_ = self.rng.choice(self.p.types)
        r = self.ex(type_, 2, fresh=True)
        name = self.var_name(type_)
        self.emit(f"{name} = {r[0]}")
        self.cost(1)
        self.comp_cost()
        self.bind(_Var(name, type_))
        self.set_size(name, type_, r[1])
        self.touched.append(name)
        self.done("assign")

    def st_upd(self):
        rng = self.rng
        cands = [v for v in self.env if not v.frozen and v.type not in (EXC, OBJ)]
        if not cands:
            return False
        v = rng.choice(cands)
        if _UPDATES[v.type](self, v) is False:
            return False
        self.touched.append(v.name)
        self.cost(1)
        self.comp_cost()
        self.done()

    def upd_int(self, v: _Var):
        rng = self.rng
        r = self.ex(INT, 2)
        choice = rng.randrange(7)
        if choice == 0:
            self.emit(f"{v.name} += {r[0]}")
        elif choice == 1:
            self.emit(f"{v.name} -= {_p(r)}")
        elif choice == 2:
            self.emit(f"{v.name} = {r[0]}")
        elif choice == 3:
            self.emit(f"{v.name} = ({v.name} * {rng.choice(_SMALL_POS)} + {_p(r)}) % {rng.choice((7, 10, 11, 97, 100, 1000))}")
        elif choice == 4:
            self.emit(f"{v.name} = {rng.choice(('max', 'min'))}({v.name}, {r[0]})")
        elif choice == 5:
            self.emit(f"{v.name} {rng.choice(('//=', '%='))} {rng.choice(_SMALL_POS)}")
        else:
            if self.loops:
                self.emit(f"{v.name} = {v.name} * {rng.choice(_SMALL_POS)} % {rng.choice((11, 97, 1000))}")
            else:
                self.emit(f"{v.name} *= {rng.choice(_SMALL_POS)}")
        self.p.feats.append("arith")

    def upd_bool(self, v: _Var):
        r = self.ex(BOOL, 2)
        form = self.rng.randrange(3)
        if form == 0:
            self.emit(f"{v.name} = {r[0]}")
        elif form == 1:
            self.emit(f"{v.name} = {v.name} {self.rng.choice(('or', 'and'))} {_p(r)}")
        else:
            self.emit(f"{v.name} = not {v.name}")

    def upd_str(self, v: _Var):
        rng, name = self.rng, v.name
        form = rng.randrange(5)
        if form == 0:
            r = self.ex(STR, 1)
            self.emit(f"{name} += {r[0]}")
            size = r[1]
            self.set_size(name, STR, lambda S: (S[name][0] + size(S)[0], 0))
        elif form == 1:
            r = self.ex(STR, 1)
            self.emit(f"{name} = {_p(r)} + {name}")
            size = r[1]
            self.set_size(name, STR, lambda S: (S[name][0] + size(S)[0], 0))
        elif form == 2:
            r = self.str_method((f"{name}", _ref(name), True), 1)
            if r is None:
                return False
            self.emit(f"{name} = {r[0]}")
            self.set_size(name, STR, r[1])
        else:
            r = self.ex(STR, 2)
            self.emit(f"{name} = {r[0]}")
            self.set_size(name, STR, r[1])
        self.p.feats.append("string")

    def upd_list(self, v: _Var):
        rng, name, t = self.rng, v.name, v.type
        elem_t = INT if t == IL else STR
        if not self.o.mutation:
            form = rng.randrange(4)
            if form == 0:
                r = self.ex(elem_t, 1)
                self.emit(f"{name} = {name} + [{r[0]}]")
                size = r[1]
                self.set_size(name, t, lambda S: (S[name][0] + 1, size(S)[0] if size else 0))
            elif form == 1:
                self.emit(f"{name} = sorted({name})" if rng.random() < 0.7 else f"{name} = {name}[::-1]")
            elif form == 2:
                self.emit(f"{name} = {name}[1:]")
            else:
                r = self.ex(t, 2, fresh=True)
                self.emit(f"{name} = {r[0]}")
                self.set_size(name, t, r[1])
            return None
        self.p.feats.append("mutation")
        self.mutated.append(name)
        form = rng.randrange(12)
        if form in (0, 1, 2):
            r = self.ex(elem_t, 1)
            size = r[1]
            self.emit(f"{name}.append({r[0]})")
            self.set_size(name, t, lambda S: (S[name][0] + 1, size(S)[0] if size else 0))
            self.p.feats.append("append")
        elif form == 3:
            r = self.ex(t, 1)
            size = r[1]
            self.emit(f"{name}.extend({r[0]})" if rng.random() < 0.7 else f"{name} += {r[0]}")
            self.set_size(name, t, lambda S: (S[name][0] + size(S)[0], size(S)[1]))
        elif form == 4:
            r = self.ex(elem_t, 1)
            size = r[1]
            self.emit(f"{name}.insert({rng.choice((0, 0, 1, -1, 2))}, {r[0]})")
            self.set_size(name, t, lambda S: (S[name][0] + 1, size(S)[0] if size else 0))
        elif form == 5:
            self.emit(f"{name}.sort()" if rng.random() < 0.7 else f"{name}.sort(reverse=True)")
            self.p.feats.append("sort")
        elif form == 6:
            self.emit(f"{name}.reverse()")
        elif form == 7:
            self.emit(f"if {name}:")
            self.emit(f"    {name}.pop({rng.choice(('', '', '0', '-1'))})")
            self.cost(1)
        elif form == 8:
            r = self.ex(elem_t, 1)
            self.emit(f"if {_p(r)} in {name}:")
            self.emit(f"    {name}.remove({r[0]})")
            self.cost(1)
        elif form == 9:
            r = self.ex(elem_t, 1)
            size = r[1]
            i = self.ex(INT, 1)
            self.emit(f"if {name}:")
            self.emit(f"    {name}[{_p(i)} % len({name})] = {r[0]}")
            self.cost(1)
            if size:
                self.set_size(name, t, lambda S: (S[name][0], size(S)[0]))
        elif form == 10:
            self.emit(f"if len({name}) > {rng.choice((1, 2, 3))}:")
            self.emit(f"    del {name}[{rng.choice(('0', '-1', '1', ':2', '1:'))}]")
            self.cost(1)
        else:
            self.emit(f"{name}.clear()" if rng.random() < 0.3 else f"{name}.sort(key={rng.choice(('abs', 'str')) if t == IL else 'len'})")
        return None

    def key_expr(self):
        """A str expression for a dict key."""
        if self.rng.random() < 0.55:
            key = self.rng.choice(_KEYS)
            return (repr(key), _const(len(key)), True)
        return self.ex(STR, 1)

    def upd_dict(self, v: _Var):
        rng, name = self.rng, v.name
        key = self.key_expr()
        ksize = key[1]
        grow = lambda S: (S[name][0] + 1, max(S[name][1], ksize(S)[0]))  # noqa: E731
        if not self.o.mutation:
            r = self.ex(INT, 1)
            self.emit(f"{name} = {{**{name}, {key[0]}: {r[0]}}}")
            self.set_size(name, DICT, grow)
            return None
        self.p.feats.append("mutation")
        self.mutated.append(name)
        form = rng.randrange(8)
        if form in (0, 1):
            r = self.ex(INT, 1)
            self.emit(f"{name}[{key[0]}] = {r[0]}")
            self.set_size(name, DICT, grow)
        elif form == 2:
            r = self.ex(INT, 1)
            self.emit(f"{name}[{key[0]}] = {name}.get({key[0]}, 0) + {_p(r)}")
            self.set_size(name, DICT, grow)
        elif form == 3:
            r = self.ex(INT, 1)
            self.emit(f"{name}.update({{{key[0]}: {r[0]}}})")
            self.set_size(name, DICT, grow)
            self.p.feats.append("update")
        elif form == 4:
            other = self.ex(DICT, 1)
            osize = other[1]
            self.emit(f"{name}.update({other[0]})")
            self.set_size(name, DICT, lambda S: (S[name][0] + osize(S)[0], max(S[name][1], osize(S)[1])))
            self.p.feats.append("update")
        elif form == 5:
            self.emit(f"{name}.pop({key[0]}, None)")
        elif form == 6:
            r = self.ex(INT, 1)
            self.emit(f"{name}.setdefault({key[0]}, {r[0]})")
            self.set_size(name, DICT, grow)
        else:
            self.emit(f"if {_p(key)} in {name}:")
            self.emit(f"    {'del ' + name + '[' + key[0] + ']' if rng.random() < 0.5 else name + '[' + key[0] + '] += 1'}")
            self.cost(1)
        return None

    def upd_set(self, v: _Var):
        rng, name = self.rng, v.name
        if not self.o.mutation:
            r = self.ex(INT, 1)
            self.emit(f"{name} = {name} | {{{r[0]}}}")
            self.set_size(name, SET, lambda S: (S[name][0] + 1, 0))
            return None
        self.p.feats.append("mutation")
        self.mutated.append(name)
        form = rng.randrange(4)
        if form in (0, 1):
            r = self.ex(INT, 1)
            self.emit(f"{name}.add({r[0]})")
            self.set_size(name, SET, lambda S: (S[name][0] + 1, 0))
        elif form == 2:
            r = self.ex(INT, 1)
            self.emit(f"{name}.discard({r[0]})")
        else:
            r = self.ex(IL, 1)
            size = r[1]
            self.emit(f"{name}.update({r[0]})" if rng.random() < 0.5 else f"{name} |= set({r[0]})")
            self.set_size(name, SET, lambda S: (S[name][0] + size(S)[0], 0))
        return None

    def upd_tuple(self, v: _Var):
        name = v.name
        if self.rng.random() < 0.5:
            r = self.ex(INT, 1)
            self.emit(f"{name} = {name} + ({r[0]},)")
            self.set_size(name, TUP, lambda S: (S[name][0] + 1, S[name][1] + 1))
        else:
            r = self.ex(TUP, 2)
            self.emit(f"{name} = {r[0]}")
            self.set_size(name, TUP, r[1])
        return None

    def st_unpack(self):
        rng = self.rng
        ints = self.vars(INT, unfrozen=True)
        if rng.random() < 0.5 and len(ints) >= 2:
            a, b = rng.sample(ints, 2)
            form = rng.randrange(3)
            if form == 0:
                self.emit(f"{a.name}, {b.name} = {b.name}, {a.name}")
            elif form == 1:
                self.emit(f"{a.name}, {b.name} = {b.name}, {a.name} + {b.name}")
            else:
                self.emit(f"{a.name}, {b.name} = {b.name} % {rng.choice((7, 10, 97))}, {a.name} - {b.name}")
        else:
            r = self.ex(INT, 1)
            q, m = self.var_name(INT), self.var_name(INT)
            self.emit(f"{q}, {m} = divmod({r[0]}, {rng.choice((2, 3, 5, 7, 10))})")
            self.bind(_Var(q, INT))
            self.bind(_Var(m, INT))
        self.cost(1)
        self.comp_cost()
        self.done("tuple")

    # -- compound statements -------------------------------------------------------------------
    def nested(self, count: int) -> None:
        self.depth += 1
        try:
            self.block(count)
        finally:
            self.depth -= 1

    def st_if(self):
        rng = self.rng
        cond = self.ex(BOOL, 2)
        scope = len(self.env)
        self.emit(f"if {cond[0]}:")
        self.cost(1)
        self.comp_cost()
        self.done("if")
        self.nested(self.body_size())
        self.unbind_from(scope)
        roll = rng.random()
        if roll < 0.25 and self.remaining > 0:
            cond2 = self.ex(BOOL, 2)
            self.emit(f"elif {cond2[0]}:")
            self.cost(1)
            self.comp_cost()
            self.nested(self.body_size())
            self.unbind_from(scope)
            self.p.feats.append("elif")
        if roll < 0.25 or (roll < 0.65 and self.remaining > 0):
            self.emit("else:")
            self.nested(self.body_size())
            self.unbind_from(scope)
            self.p.feats.append("else")

    def loop_header(self):
        """(header text, bound_fn, [(loop var, type, size fn, char)], frozen vars)"""
        rng = self.rng
        o = self.max_loop
        forms = ["range", "range"]
        seqs = [v for v in self.env if v.type in (STR, IL, SL, TUP)]
        if seqs or self.vars(SET) or self.vars(DICT):
            forms += ["coll", "coll", "coll"]
        if seqs:
            forms.append("enum")
        if len(seqs) >= 2:
            forms.append("zip")
        if self.vars(DICT):
            forms.append("items")
        form = rng.choice(forms)
        iv = lambda: self.new_name(_LOOP_INT)  # noqa: E731
        if form == "range":
            kind = rng.randrange(4)
            k = rng.randint(min(2, o), o)
            name = iv()
            if kind == 0 or kind == 1:
                return f"for {name} in range({k}):", _const_int(k), [(name, INT, None, False)], []
            if kind == 2:
                a = rng.randint(-2, 3)
                return f"for {name} in range({a}, {a + k}):", _const_int(k), [(name, INT, None, False)], []
            step = rng.choice((1, 2))
            return f"for {name} in range({k * step}, 0, -{step}):", _const_int(k), [(name, INT, None, False)], []
        if form in ("coll", "enum"):
            cands = [v for v in self.env if v.type in (STR, IL, SL, SET, TUP, DICT) and not (form == "enum" and v.type in (SET, DICT))]
            if not cands:
                return None
            v = rng.choice(cands)
            elem = self.elem_of(v)
            if elem is None:
                return None
            ename, etype, esize, echar = elem
            bound = _len_of(v.name)
            text = v.name
            frozen = [v] if v.type in _MUTABLE else []
            if self.S[v.name][0] > o:  # too long to run through: a bounded slice of it
                if v.type in (SET, DICT):
                    return None
                k = rng.randint(min(2, o), o)
                vn = v.name
                text, bound, frozen = f"{vn}[:{k}]", (lambda S: min(S[vn][0], k)), []
            elif v.type == SET:
                if rng.random() < 0.5:
                    text = f"sorted({v.name})"
                    frozen = []
            elif v.type in (IL, SL) and rng.random() < 0.2:
                text = f"sorted({v.name})" if rng.random() < 0.5 else f"{v.name}[::-1]"
                frozen = []
            if form == "enum":
                i = iv()
                return f"for {i}, {ename} in enumerate({text}):", bound, [(i, INT, None, False), elem], frozen
            return f"for {ename} in {text}:", bound, [elem], frozen
        if form == "zip":
            a, b = rng.sample(seqs, 2)
            if min(self.S[a.name][0], self.S[b.name][0]) > o:
                return None
            ea, eb = self.elem_of(a), self.elem_of(b)
            an, bn = a.name, b.name
            bound = lambda S: min(S[an][0], S[bn][0])  # noqa: E731
            frozen = [v for v in (a, b) if v.type in _MUTABLE]
            return f"for {ea[0]}, {eb[0]} in zip({an}, {bn}):", bound, [ea, eb], frozen
        # dict items
        d = self.pick(DICT)
        if d is None or self.S[d.name][0] > o:
            return None
        k, val = self.new_name(_LOOP_KEY), self.new_name(_LOOP_VAL)
        dn = d.name
        return (f"for {k}, {val} in {dn}.items():", _len_of(dn),
                [(k, STR, lambda S: (S[dn][1], 0), False), (val, INT, None, False)], [d])

    def elem_of(self, v: _Var):
        name = v.name
        if v.type in (IL, SET, TUP):
            return (self.new_name(_LOOP_INT), INT, None, False)
        if v.type == STR:
            return (self.new_name(("ch", "c", "letter", "char")), STR, _const(1), True)
        if v.type == SL:
            return (self.new_name(_LOOP_STR), STR, lambda S: (S[name][1], 0), False)
        if v.type == DICT:
            return (self.new_name(_LOOP_KEY), STR, lambda S: (S[name][1], 0), False)
        return None

    def loop_body(self, header: str, bound_fn, loop_vars, frozen, kind: str, pre=None, post=None) -> None:
        """Emit a loop: header, body repeated at most bound_fn(sizes) times."""
        if bound_fn(self.S) > self.max_loop:
            raise _Reject
        self.emit(header)
        self.cost(1)
        self.comp_cost()
        self.done("while" if kind != "for" else "for")
        if self.loops:
            self.p.feats.append("nested_loop")
        entry = dict(self.S)
        outer_effects = self.effects
        body: list = []
        self.effects = body
        scope = len(self.env)
        was_frozen = [v.frozen for v in frozen]
        self.depth += 1
        self.loops.append(kind)
        try:
            for name, type_, size, char in loop_vars:
                var = _Var(name, type_, char=char)
                var.frozen = True
                self.bind(var)
                if size is not None:
                    self.set_size(name, type_, size)
            for v in frozen:
                v.frozen = True
            self.cost(1)  # the header runs once more per iteration
            if pre:
                pre()
            self.block(self.body_size())
            if post:
                post()
        finally:
            self.depth -= 1
            self.loops.pop()
            self.effects = outer_effects
            for v, fr in zip(frozen, was_frozen):
                v.frozen = fr
        self.unbind_from(scope)
        self.S = entry
        self.eff(("l", bound_fn, body))

    def st_for(self):
        header = self.loop_header()
        if header is None:
            return False
        text, bound, loop_vars, frozen = header
        self.loop_body(text, bound, loop_vars, frozen, "for")

    def st_while(self):
        rng = self.rng
        form = rng.randrange(4)
        if form <= 1:  # a counter
            k = rng.randint(1, self.max_loop)
            i = self.new_name(("i", "j", "steps", "tries", "turn", "rounds"))
            down = form == 1
            self.emit(f"{i} = {k if down else 0}")
            self.cost(1)
            counter = _Var(i, INT)
            counter.frozen = True
            self.bind(counter)
            cond = f"{i} > 0" if down else f"{i} < {k}"
            if rng.random() < 0.3:
                extra = self.ex(BOOL, 1)
                cond += f" and {_p(extra)}"
            incr = f"{i} -= 1" if down else f"{i} += 1"

            def post():
                self.emit(incr)
                self.cost(1)

            self.loop_body(f"while {cond}:", _const_int(k), [], [], "while", post=post)
            counter.frozen = False
            return None
        if form == 2:  # pop until empty
            cands = [v for v in self.env if v.type in (IL, SL, SET) and not v.frozen and self.o.mutation]
            if not cands:
                return False
            v = rng.choice(cands)
            elem = self.elem_of(v)
            name = elem[0]
            method = "pop()" if v.type == SET or rng.random() < 0.6 else "pop(0)"
            self.mutated.append(v.name)

            def pre():
                self.emit(f"{name} = {v.name}.{method}")
                self.cost(1)

            self.p.feats.append("mutation")
            self.loop_body(f"while {v.name}:", _len_of(v.name), [elem], [v], "while_pop", pre=pre)
            return None
        # halving
        bits = max(1, min(6, self.max_loop - 1))
        r = self.ex(INT, 1)
        n = self.new_name(("n", "m", "rem", "left", "num"))
        self.emit(f"{n} = abs({r[0]}) % {2 ** bits}")
        self.cost(1)
        self.comp_cost()
        var = _Var(n, INT)
        var.frozen = True
        self.bind(var)

        def post_half():
            self.emit(f"{n} //= 2")
            self.cost(1)

        self.loop_body(f"while {n} > 0:", _const_int(bits), [], [], "while", post=post_half)
        var.frozen = False

    def st_brk(self):
        if not self.loops:
            return False
        cond = self.ex(BOOL, 2)
        word = "break"
        if self.loops[-1] == "for" and self.rng.random() < 0.4:
            word = "continue"
        self.emit(f"if {cond[0]}:")
        self.emit(f"    {word}")
        self.cost(2)
        self.comp_cost()
        self.done(word)

    def st_ret(self):
        cond = self.ex(BOOL, 2)
        self.emit(f"if {cond[0]}:")
        self.cost(1)
        self.comp_cost()
        r = self.return_expr()
        self.emit(f"    return {r}")
        self.cost(1)
        self.comp_cost()
        self.done("early_return")

    def st_raise(self, exc: str | None = None):
        if not self.catching:
            return False
        exc = exc or self.rng.choice(self.catching)
        cond = self.ex(BOOL, 2)
        self.emit(f"if {cond[0]}:")
        self.emit(f"    raise {exc}({self.message()})")
        self.cost(3)
        self.comp_cost()
        self.done("raise")
        self.raised = exc

    def message(self) -> str:
        rng = self.rng
        ints = self.vars(INT)
        strs = [v for v in self.vars(STR)]
        roll = rng.random()
        if roll < 0.35 and ints:
            return f"f'bad {{{rng.choice(ints).name}}}'"
        if roll < 0.5 and strs:
            return rng.choice(strs).name
        return repr(rng.choice(("negative", "too big", "missing", "empty", "stop", "bad value", "overflow", "not found")))

    def st_try(self):
        rng = self.rng
        if self.level != 0:
            return False
        raising = [h for h in self.callees if h.raises]
        roll = rng.random()
        if raising and roll < 0.5:
            return self.try_helper(rng.choice(raising))
        if roll < 0.5:
            return self.try_natural()
        return self.try_raise()

    def try_natural(self):
        """A statement that may raise one specific exception, and its handler."""
        rng = self.rng
        forms = []
        if self.pick(DICT):
            forms.append("key")
        if any(v.type in (IL, SL, STR) for v in self.env):
            forms.append("index")
        if self.pick(STR):
            forms.append("int")
        forms.append("div")
        if self.pick(IL, unfrozen=True) and self.o.mutation:
            forms.append("remove")
        form = rng.choice(forms)
        target = self.var_name(INT)
        fallback = rng.choice(("-1", "0"))
        ttype = INT
        tsize = None
        if form == "key":
            d = self.pick(DICT)
            key = self.key_expr()
            body, exc = f"{target} = {d.name}[{key[0]}]", "KeyError"
        elif form == "index":
            v = rng.choice([v for v in self.env if v.type in (IL, SL, STR)])
            i = rng.choice(("0", "-1", "3", "len({})".format(v.name)) + tuple(x.name for x in self.vars(INT)[:2]))
            if v.type in (SL, STR):
                target = self.var_name(STR)
                ttype = STR
                fallback = repr(rng.choice(("", "?", "none")))
                vn = v.name
                tsize = (lambda S: (max(S[vn][1], 6), 0)) if v.type == SL else _const(6)
            body, exc = f"{target} = {v.name}[{i}]", "IndexError"
        elif form == "int":
            s = self.pick(STR)
            body, exc = f"{target} = int({s.name})", "ValueError"
        elif form == "div":
            a, b = self.ex(INT, 1), self.ex(INT, 1)
            body, exc = f"{target} = {_p(a)} // {_p(b)}", "ZeroDivisionError"
        else:
            xs = self.pick(IL, unfrozen=True)
            e = self.ex(INT, 1)
            target = None
            body, exc = f"{xs.name}.remove({e[0]})", "ValueError"
            self.mutated.append(xs.name)
        self.emit("try:")
        self.emit(f"    {body}")
        self.emit(f"except {exc}:")
        self.emit(f"    {target} = {fallback}" if target else "    pass")
        self.cost(4)
        self.comp_cost()
        if target:
            self.bind(_Var(target, ttype))
            if ttype == STR:
                self.set_size(target, STR, tsize)
        self.done("try")
        self.p.feats.append("exception")

    def try_raise(self):
        rng = self.rng
        exc = rng.choice(self.p.exc_types)
        scope = len(self.env)
        self.emit("try:")
        self.cost(1)
        self.done("try")
        self.p.feats.append("exception")
        self.depth += 1
        self.catching.append(exc)
        try:
            if rng.random() < 0.6:
                self.block(rng.randint(1, 2))
            if not self.attempt(lambda fn: fn.st_raise(exc)):
                raise _Reject
            if rng.random() < 0.4:
                self.block(1)
        finally:
            self.catching.pop()
            self.depth -= 1
        self.unbind_from(scope)
        self.handler(exc)

    def try_helper(self, helper: _Helper):
        self.emit("try:")
        self.cost(1)
        self.done("try")
        self.p.feats.append("exception")
        scope = len(self.env)
        self.depth += 1
        self.catching.append(helper.raises)
        try:
            if not self.call_helper(helper):
                raise _Reject
            if self.rng.random() < 0.4:
                self.block(1)
        finally:
            self.catching.pop()
            self.depth -= 1
        self.unbind_from(scope)
        self.handler(helper.raises)

    def handler(self, exc: str) -> None:
        rng = self.rng
        scope = len(self.env)
        if rng.random() < 0.5:
            err = self.new_name(("err", "exc", "e", "problem"))
            self.emit(f"except {exc} as {err}:")
            self.bind(_Var(err, EXC))
        else:
            self.emit(f"except {exc}:")
        self.cost(1)
        self.nested(rng.randint(1, 2))
        self.unbind_from(scope)
        roll = rng.random()
        if roll < 0.15:
            self.emit("else:")
            self.nested(1)
            self.unbind_from(scope)
        elif roll < 0.3:
            self.emit("finally:")
            self.nested(1)
            self.unbind_from(scope)
            self.p.feats.append("finally")

    # -- calls ---------------------------------------------------------------------------------
    def st_call(self):
        plain = [h for h in self.callees if not h.recursive and not h.raises]
        catchable = [h for h in self.callees if not h.recursive and h.raises and h.raises in self.catching]
        cands = plain + catchable
        if not cands:
            if any(h.raises for h in self.callees if not h.recursive) and self.use_exc and self.level == 0 and self.depth < max(1, self.o.max_depth):
                raising = [h for h in self.callees if h.raises and not h.recursive]
                return self.try_helper(self.rng.choice(raising))
            return False
        return self.call_helper(self.rng.choice(cands))

    def call_helper(self, h: _Helper) -> bool:
        args = []
        checks = []
        effects = []
        seen: list[str] = []
        for index, (pname, ptype, (pn, pe)) in enumerate(h.params):
            mutated = index in h.mutated
            if ptype in _MUTABLE and mutated:
                fits = [v for v in self.vars(ptype, unfrozen=True) if self.S[v.name][0] <= pn and self.S[v.name][1] <= pe]
                v = self.choose(fits) if fits else None
                if v is not None and v.name not in seen and self.rng.random() < 0.7:
                    args.append(v.name)
                    seen.append(v.name)
                    vn = v.name
                    checks.append(lambda S, vn=vn, pn=pn, pe=pe: S[vn][0] <= pn and S[vn][1] <= pe)
                    final = h.mutated[index]
                    effects.append((vn, ptype, final))
                    continue
            if ptype in _SIZED:
                for _ in range(3):
                    r = self.ex(ptype, 1, fresh=mutated)
                    n, e = r[1](self.S)
                    if n <= pn and (ptype == TUP or e <= pe):
                        break
                else:
                    r = self.literal(ptype)
            else:
                r = self.ex(ptype, 1)
            args.append(r[0])
            if ptype in _SIZED:
                size = r[1]
                checks.append(lambda S, size=size, pn=pn, pe=pe, tup=ptype == TUP: size(S)[0] <= pn and (tup or size(S)[1] <= pe))
        if any(args.count(name) > 1 for name in seen):  # a list mutated through two names at once
            return False

        def check(S):
            for c in checks:
                if not c(S):
                    raise _Reject
        self.eff(("k", check))
        call = f"{h.name}({', '.join(args)})"
        target = self.var_name(h.rtype)
        self.emit(f"{target} = {call}")
        self.cost(1 + h.cost)
        self.comp_cost()
        for vn, ptype, final in effects:
            self.set_size(vn, ptype, _const(*final))
            self.mutated.append(vn)
        self.bind(_Var(target, h.rtype))
        self.touched.append(target)
        if h.ret_size is not None:
            self.set_size(target, h.rtype, _const(*h.ret_size))
        self.done("helper")
        if h.raises and h.raises in self.catching:
            self.p.feats.append("exception")
            self.raised = h.raises
        return True

    def st_rec(self):
        recs = [h for h in self.callees if h.recursive]
        if not recs:
            return False
        h = recs[0]
        rng = self.rng
        D = self.o.max_recursion_depth
        args = []
        for kind in h.arg_kinds:
            if kind == "depth":
                limit = h.depth_limit
                choices = [str(rng.randint(0, limit))]
                ints = self.vars(INT)
                if ints:
                    choices.append(f"{rng.choice(ints).name} % {limit + 1}")
                seqs = [v for v in self.env if v.type in (IL, SL, STR, DICT, SET, TUP)]
                if seqs and limit >= 3:
                    choices.append(f"min(len({rng.choice(seqs).name}), {limit})")
                args.append(rng.choice(choices))
            elif kind == "int":
                args.append(self.ex(INT, 1)[0])
            elif kind == "small":
                v = self.pick(INT)
                args.append(f"abs({v.name}) % {rng.choice((20, 50, 100))}" if v and rng.random() < 0.6 else str(rng.randint(0, 60)))
            elif kind in (IL, STR):
                v = self.pick(kind)
                if v is not None and rng.random() < 0.8:
                    args.append(f"{v.name}[:{D}]")
                else:
                    value = _literal_value(rng, kind, D, False)
                    args.append(_literal_text(kind, value[:D]))
            else:
                args.append(self.ex(kind, 1)[0])
        target = self.var_name(h.rtype)
        self.emit(f"{target} = {h.name}({', '.join(args)})")
        self.cost(1 + h.cost)
        self.comp_cost()
        self.bind(_Var(target, h.rtype))
        self.touched.append(target)
        if h.ret_size is not None:
            self.set_size(target, h.rtype, _const(*h.ret_size))
        self.done("recursion")

    def st_obj_new(self):
        spec = self.p.cls
        if spec is None or self.level != 0:
            return False
        args = [self.ex(t, 1)[0] for t in spec.ctor]
        name = self.new_name((spec.name.lower(), spec.name.lower()[:3], "obj") + _NAMES[OBJ])
        self.emit(f"{name} = {spec.name}({', '.join(args)})")
        self.cost(1 + 2 + len(spec.ctor) + 2)
        self.comp_cost()
        self.bind(_Var(name, OBJ, cls=spec))
        self.set_size(name, OBJ, _const(spec.init_n, 0))
        self.done("class")

    def st_obj_call(self):
        objs = self.vars(OBJ)
        if not objs:
            return False
        v = self.rng.choice(objs)
        spec = v.cls
        mname, argtypes, rtype, growth, steps = self.rng.choice(spec.methods)
        args = [self.ex(t, 1)[0] for t in argtypes]
        call = f"{v.name}.{mname}({', '.join(args)})"
        vn = v.name
        if rtype is not None and self.rng.random() < 0.7:
            target = self.var_name(rtype)
            self.emit(f"{target} = {call}")
            self.bind(_Var(target, rtype))
            if rtype in _SIZED:
                self.set_size(target, rtype, lambda S: (S[vn][0] * 6 + 12, 0))
        else:
            self.emit(call)
        self.cost(1 + steps(self.S[vn][0]))
        self.comp_cost()
        if growth:
            self.set_size(vn, OBJ, lambda S: (S[vn][0] + growth, 0))
        self.done("method")

    # -- return --------------------------------------------------------------------------------
    def return_expr(self) -> str:
        rng = self.rng
        locals_ = [v for v in self.env if v.type not in (EXC, OBJ)]
        in_scope = {v.name: v for v in locals_}
        recent: list[_Var] = []  # the variables assigned or changed last, latest first
        for name in reversed(self.touched):
            v = in_scope.get(name)
            if v is not None and v not in recent:
                recent.append(v)
                if len(recent) == 3:
                    break
        recent = recent or locals_[-3:]
        roll = rng.random()
        if roll < 0.35 and recent:
            return recent[0].name
        if roll < 0.5 and recent:
            return rng.choice(recent).name
        if roll < 0.65 and len(recent) >= 2:
            a, b = recent[0], rng.choice(recent[1:])
            return f"{a.name}, {b.name}" if not self.crux else f"({a.name}, {b.name})"
        objs = self.vars(OBJ)
        if objs and roll < 0.75:
            o = rng.choice(objs)
            spec = o.cls
            parts = [f"{o.name}.{a}" for a in spec.int_attrs[:1]] + [f"len({o.name}.{spec.size_attr})"]
            return ", ".join(parts)
        if recent and rng.random() < 0.6:
            type_ = recent[0].type
        else:
            type_ = rng.choice([v.type for v in locals_] or [INT])
        return self.ex(type_, 2)[0]

    def final_return(self) -> None:
        self.emit(f"return {self.return_expr()}")
        self.cost(1)
        self.comp_cost()

    # -- expressions ---------------------------------------------------------------------------
    # An expression is (text, size_fn or None, atomic). Comprehension and generator steps are
    # collected in self._comp and charged by comp_cost() with the statement that holds them.
    def comp_cost(self) -> None:
        if self._comp:
            fns = list(self._comp)
            self._comp.clear()
            self.eff(("c", lambda S: sum(f(S) for f in fns)))

    def add_comp(self, size_fn, per: int = 2) -> None:
        self._comp.append(lambda S: 2 + per * size_fn(S)[0])
        self.p.feats.append("comprehension")

    def ex(self, type_: str, d: int, fresh: bool = False):
        """An expression of `type_`, nested at most `d` deep; `fresh`: never a bare mutable variable."""
        if d > 0:
            prods = self.prods[type_]
            random_ = self.rng.random
            comp, feats = self._comp, self.p.feats
            for _ in range(3):
                refs, n_comp, n_feats = self.refs, len(comp), len(feats)
                r = prods[int(random_() * len(prods))](self, d - 1)  # rng.choice(prods), inlined (hot)
                if r is None:
                    continue
                if self.refs == refs and random_() < 0.95:  # constants only: try again
                    del comp[n_comp:]
                    del feats[n_feats:]
                    continue
                return r
        return self.leaf(type_, fresh)

    def leaf(self, type_: str, fresh: bool = False):
        random_ = self.rng.random  # rng.choice(seq) is inlined below as seq[int(random_() * len(seq))]
        vs = self._by_type[type_]  # self.vars(type_)
        if type_ == BOOL and (not vs or random_() < 0.3):
            for _ in range(3):
                refs = self.refs
                r = _BOOL_LEAVES[int(random_() * len(_BOOL_LEAVES))](self, 0)
                if r is not None and self.refs > refs:
                    return r
        elif type_ == INT and not vs and random_() < 0.5:
            v = self.sized_var()
            if v is not None:
                return (f"len({v.name})", None, True)
        if vs and random_() < 0.75:
            self.refs += 1
            name = vs[int(random_() * len(vs))].name
            if type_ not in _SIZED:
                return (name, None, True)
            if fresh and type_ in _MUTABLE:
                copies = _COPIES[type_]
                return (copies[int(random_() * len(copies))].format(name), _ref(name), True)
            return (name, _ref(name), True)
        return self.literal(type_)

    def literal(self, type_: str):
        # The commonest cases make the same draws as _literal_value(small=True) but pick among
        # expressions made in advance (the same rng.choice, inlined).
        random_ = self.rng.random
        if type_ == INT:
            return _INT_LITERAL_EXPRS[int(random_() * len(_INT_LITERAL_EXPRS))]
        if type_ == STR:
            exprs = _WORD_LITERAL_EXPRS if random_() < 0.5 else _CHAR_LITERAL_EXPRS
            return exprs[int(random_() * len(exprs))]
        if type_ == BOOL:
            return _TRUE_EXPR if random_() < 0.5 else _FALSE_EXPR
        value = _literal_value(self.rng, type_, self.literal_len, self.crux, small=True)
        text = _literal_text(type_, value)
        return (text, _const(*_value_size(type_, value)) if type_ in _SIZED else None, True)

    def sized_var(self, types=(STR, IL, SL, DICT, SET, TUP)):
        # cached until the next bind() or unbind_from()
        vs = self._typed.get(types)
        if vs is None:
            vs = self._typed[types] = [v for v in self.env if v.type in types]
        if not vs:
            return None
        self.refs += 1
        return vs[int(self.rng.random() * len(vs))]  # rng.choice(vs), inlined (hot)

    def str_method(self, base, d):
        """A str method applied to `base` (an expression of type str)."""
        rng = self.rng
        b, size = _p(base), base[1]
        form = rng.randrange(9)
        if form <= 2:
            return (f"{b}.{rng.choice(_STR_METHODS0)}()", size, True)
        if form == 3:
            old, new = rng.choice(_SUBS), rng.choice(_SUBS + ("", "", "*"))
            grow = max(1, len(new))
            return (f"{b}.replace({old!r}, {new!r})", lambda S: (size(S)[0] * grow, 0), True)
        if form == 4:
            w = rng.randint(3, 14)
            m = rng.choice(("center", "ljust", "rjust"))
            fill = f", {rng.choice(_FILL)!r}" if rng.random() < 0.7 else ""
            return (f"{b}.{m}({w}{fill})", lambda S: (max(size(S)[0], w), 0), True)
        if form == 5:
            w = rng.randint(3, 8)
            return (f"{b}.zfill({w})", lambda S: (max(size(S)[0], w), 0), True)
        if form == 6:
            return (f"{b}.{rng.choice(('strip', 'rstrip', 'lstrip', 'removeprefix', 'removesuffix'))}({rng.choice(_SUBS)!r})", size, True)
        if form == 7:
            sep = rng.choice(_SPLIT)
            idx = rng.choice(("0", "-1"))
            if rng.random() < 0.5:
                return (f"{b}.split({sep!r})[{idx}]", size, True)
            return (f"{b}.{rng.choice(('partition', 'rpartition'))}({sep!r})[{rng.choice(('0', '2'))}]", size, True)
        return (f"{b}[::-1]", size, True)


def _weighted_index(weights: list, x: float) -> int:
    """The index of a weighted choice, x being uniform in [0, sum(weights)): how kinds were always picked."""
    for index, weight in enumerate(weights):
        x -= weight
        if x < 0:
            return index
    return len(weights) - 1  # x rounded past the last weight


def _kind_thresholds(weights: list, total: float) -> tuple:
    """T with bisect_right(T, x) == _weighted_index(weights, x) for every float x in [0, total).

    T[i] is the least float x >= 0 that _weighted_index maps past i (inf if none below total).
    It is exact, rounding included: each `x -= weight` is monotonic in x, so the index is
    too, and T[i] is found by bisecting the non-negative floats (ordered as their bit patterns),
    first within a few units in the last place of the sum of weights[:i + 1], where it lies.
    """
    def bits(x: float) -> int:
        return struct.unpack("<q", struct.pack("<d", x))[0]

    def real(b: int) -> float:
        return struct.unpack("<d", struct.pack("<q", b))[0]

    thresholds = []
    for i in range(len(weights) - 1):
        near = bits(sum(weights[: i + 1]))
        lo, hi = max(0, near - 64), near + 64
        if not (_weighted_index(weights, real(lo)) <= i < _weighted_index(weights, real(hi))):
            lo, hi = 0, bits(total)  # index(real(lo)) <= i (0.0 picks index 0); is index(real(hi)) > i?
            if _weighted_index(weights, real(hi)) <= i:
                thresholds.append(float("inf"))
                continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _weighted_index(weights, real(mid)) > i:
                hi = mid
            else:
                lo = mid
        thresholds.append(real(hi))
    return tuple(thresholds)


# Statement kinds (the names in kind tables and forced lists) and the methods that make them.
_STATEMENTS = {name[3:]: method for name, method in vars(_Fn).items() if name.startswith("st_")}
_KIND_TABLES: dict = {}  # _Fn.kind_table()'s cache
# st_upd(): how to change a variable of each type
_UPDATES = {INT: _Fn.upd_int, BOOL: _Fn.upd_bool, STR: _Fn.upd_str, IL: _Fn.upd_list, SL: _Fn.upd_list,
            DICT: _Fn.upd_dict, SET: _Fn.upd_set, TUP: _Fn.upd_tuple}


def _const_int(k: int):
    return lambda S: k


def _len_of(name: str):
    return lambda S: S[name][0]


# -- productions: each returns an expression or None when it does not apply --------------------


def _i_arith(fn: _Fn, d):
    a, b = fn.ex(INT, d), fn.ex(INT, d)
    if a[0] == b[0]:
        return None
    op = fn.rng.choice(("+", "-", "+", "*" if d == 0 else "-"))
    if op == "*":
        return (f"{_p(a)} * {fn.rng.choice(_SMALL_POS)}", None, False)
    return (f"{_p(a)} {op} {_p(b)}", None, False)


def _i_divmod(fn: _Fn, d):
    a = fn.ex(INT, d)
    return (f"{_p(a)} {fn.rng.choice(('//', '%', '%'))} {fn.rng.choice((2, 3, 5, 7, 10))}", None, False)


def _i_len(fn: _Fn, d):
    v = fn.sized_var()
    if v is not None and fn.rng.random() < 0.7:
        fn.p.feats.append("len")
        return (f"len({v.name})", None, True)
    sized = [t for t in fn.p.types if t in _SIZED]
    if not sized:
        return None
    r = fn.ex(fn.rng.choice(sized), d)
    return (f"len({r[0]})", None, True)


def _i_agg(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((IL, SET, TUP))
    if v is None:
        return None
    form = rng.randrange(3)
    if form == 0:
        return (f"sum({v.name})", None, True)
    return (f"{rng.choice(('max', 'min'))}({v.name}, default={rng.choice((0, -1, 0))})", None, True)


def _i_count(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((IL, TUP, STR, SL))
    if v is None:
        return None
    if v.type == STR:
        meth = rng.choice(("count", "find", "rfind", "count"))
        return (f"{v.name}.{meth}({rng.choice(_SUBS)!r})", None, True)
    if v.type == SL:
        return (f"{v.name}.count({rng.choice(_WORDS)!r})", None, True)
    a = fn.ex(INT, 0)
    if rng.random() < 0.5:
        return (f"{v.name}.count({a[0]})", None, True)
    return (f"{v.name}.index({a[0]}) if {a[0]} in {v.name} else -1", None, False)


def _i_get(fn: _Fn, d):
    v = fn.pick(DICT)
    if v is None:
        return None
    rng = fn.rng
    if rng.random() < 0.25:
        return (f"sum({v.name}.values())" if rng.random() < 0.6 else f"len({v.name})", None, True)
    key = fn.key_expr()
    fn.p.feats.append("dict_get")
    return (f"{v.name}.get({key[0]}, {rng.choice((0, 0, 1, -1))})", None, True)


def _i_sub(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((IL, TUP))
    if v is None:
        return None
    i = fn.ex(INT, 0)
    if v.type == TUP and rng.random() < 0.5:
        return (f"{v.name}[{rng.choice((0, -1))}] if {v.name} else 0", None, False)
    return (f"{v.name}[{_p(i)} % len({v.name})] if {v.name} else 0", None, False)


def _i_misc(fn: _Fn, d):
    rng = fn.rng
    chars = [v for v in fn.env if v.char]
    roll = rng.random()
    if chars and roll < 0.3:
        return (f"ord({fn.choose(chars).name})", None, True)
    s = fn.pick(STR)
    if s is not None and roll < 0.5:
        return (f"int({s.name}) if {s.name}.isdigit() else {rng.choice((0, -1, 1))}", None, False)
    a = fn.ex(INT, d)
    if roll < 0.7:
        return (f"abs({a[0]})", None, True)
    b = fn.ex(INT, d)
    return (f"{rng.choice(('min', 'max'))}({a[0]}, {b[0]})", None, True)


def _i_cond(fn: _Fn, d):
    c, a, b = fn.ex(BOOL, d), fn.ex(INT, d), fn.ex(INT, d)
    if a[0] == b[0]:
        return None
    return (f"{_p(a)} if {_p(c)} else {_p(b)}", None, False)


def _i_attr(fn: _Fn, d):
    objs = fn.vars(OBJ)
    if not objs:
        return None
    o = fn.choose(objs)
    spec = o.cls
    if spec.int_attrs and fn.rng.random() < 0.6:
        return (f"{o.name}.{fn.rng.choice(spec.int_attrs)}", None, True)
    return (f"len({o.name}.{spec.size_attr})", None, True)


def _b_cmp(fn: _Fn, d):
    a, b = fn.ex(INT, d), fn.ex(INT, d)
    if a[0] == b[0]:
        return None
    return (f"{_p(a)} {fn.rng.choice(('<', '<=', '>', '>=', '==', '!='))} {_p(b)}", None, False)


def _b_mod(fn: _Fn, d):
    a = fn.ex(INT, d)
    k = fn.rng.choice((2, 2, 3, 5))
    return (f"{_p(a)} % {k} {fn.rng.choice(('==', '!='))} {fn.rng.randrange(k)}", None, False)


def _b_in(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var()
    if v is None:
        return None
    if v.type in (IL, SET, TUP):
        a = fn.ex(INT, 0)
        return (f"{_p(a)} {rng.choice(('in', 'not in', 'in'))} {v.name}", None, False)
    if v.type == STR:
        return (f"{rng.choice(_SUBS)!r} in {v.name}", None, False)
    if v.type == SL:
        a = fn.ex(STR, 0)
        return (f"{_p(a)} in {v.name}", None, False)
    return (f"{_p(fn.key_expr())} in {v.name}", None, False)


def _b_str(fn: _Fn, d):
    if STR not in fn.p.has:
        return None
    rng = fn.rng
    s = fn.ex(STR, d)
    if rng.random() < 0.5:
        return (f"{_p(s)}.{rng.choice(('startswith', 'endswith'))}({rng.choice(_SUBS)!r})", None, True)
    return (f"{_p(s)}.{rng.choice(_STR_PREDS)}()", None, True)


def _b_logic(fn: _Fn, d):
    rng = fn.rng
    if rng.random() < 0.3:
        a = fn.ex(BOOL, d)
        return (f"not {_p(a)}", None, False)
    a, b = fn.ex(BOOL, d), fn.ex(BOOL, d)
    if a[0] == b[0]:
        return None
    return (f"{_p(a)} {rng.choice(('and', 'or'))} {_p(b)}", None, False)


def _b_len(fn: _Fn, d):
    v = fn.sized_var()
    if v is None:
        return None
    if fn.rng.random() < 0.4:
        return (f"not {v.name}", None, False)
    return (f"len({v.name}) {fn.rng.choice(('>', '<', '>=', '=='))} {fn.rng.randint(0, 4)}", None, False)


def _b_any(fn: _Fn, d):
    v = fn.sized_var((IL, TUP, SL))
    if v is None:
        return None
    name = fn.new_name(_LOOP_INT if v.type != SL else _LOOP_STR)
    fn.used.discard(name)
    body = f"{name} > {fn.rng.randint(0, 5)}" if v.type != SL else f"{name}.{fn.rng.choice(_STR_PREDS)}()"
    fn.add_comp(_ref(v.name), per=3)
    return (f"{fn.rng.choice(('any', 'all'))}({body} for {name} in {v.name})", None, True)


def _b_eq(fn: _Fn, d):
    if STR not in fn.p.has:
        return None
    a, b = fn.ex(STR, d), fn.ex(STR, d)
    if a[0] == b[0]:
        return None
    return (f"{_p(a)} {fn.rng.choice(('==', '!=', '<'))} {_p(b)}", None, False)


def _s_meth(fn: _Fn, d):
    base = fn.ex(STR, d)
    r = fn.str_method(base, d)
    fn.p.feats.append("str_method")
    return r


def _s_slice(fn: _Fn, d):
    rng = fn.rng
    base = fn.ex(STR, d)
    size = base[1]
    form = rng.randrange(4)
    if form == 0:
        a = rng.randint(0, 3)
        b = a + rng.randint(1, 5)
        return (f"{_p(base)}[{a}:{b}]", size, True)
    if form == 1:
        return (f"{_p(base)}[{rng.choice(('::-1', '::2', '1:', ':-1', '1::2'))}]", size, True)
    k = rng.randint(1, 4)
    return (f"{_p(base)}[{':' if form == 2 else ''}{k}{':' if form == 3 else ''}]", size, True)


def _s_concat(fn: _Fn, d):
    a, b = fn.ex(STR, d), fn.ex(STR, d)
    sa, sb = a[1], b[1]
    fn.p.feats.append("string")
    return (f"{_p(a)} + {_p(b)}", lambda S: (sa(S)[0] + sb(S)[0], 0), False)


def _s_mul(fn: _Fn, d):
    a = fn.ex(STR, d)
    k = fn.rng.choice((2, 3))
    sa = a[1]
    return (f"{_p(a)} * {k}", lambda S: (sa(S)[0] * k, 0), False)


def _s_join(fn: _Fn, d):
    rng = fn.rng
    sep = rng.choice(_SEPS)
    if rng.random() < 0.7 and SL in fn.p.has:
        ws = fn.ex(SL, d)
        size = ws[1]
        if rng.random() < 0.3:
            w = fn.new_name(_LOOP_STR)
            fn.used.discard(w)
            fn.add_comp(size, per=3)
            m = rng.choice(("upper", "lower", "title", "strip"))
            return (f"{sep!r}.join({w}.{m}() for {w} in {ws[0]})", lambda S: (size(S)[0] * (size(S)[1] + len(sep)), 0), True)
        return (f"{sep!r}.join({ws[0]})", lambda S: (size(S)[0] * (size(S)[1] + len(sep)), 0), True)
    s = fn.ex(STR, d)
    size = s[1]
    return (f"{sep!r}.join(sorted({s[0]}))" if rng.random() < 0.6 else f"{sep!r}.join(reversed({s[0]}))",
            lambda S: (size(S)[0] * (1 + len(sep)), 0), True)


def _s_str(fn: _Fn, d):
    rng = fn.rng
    a = fn.ex(INT, d)
    if rng.random() < 0.5:
        return (f"str({a[0]})", _const(_INT_TEXT), True)
    s = fn.ex(STR, 0)
    ss = s[1]
    sep = rng.choice(("-", ":", " ", "", "="))
    plain = not any(ch in s[0] or ch in a[0] for ch in "'\"{}\\")
    return (f"f'{{{s[0]}}}{sep}{{{a[0]}}}'" if plain else f"str({a[0]})",
            lambda S: (ss(S)[0] + len(sep) + _INT_TEXT, 0), True)


def _s_at(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((STR, SL))
    if v is None:
        return None
    i = fn.ex(INT, 0)
    vn = v.name
    size = _const(1) if v.type == STR else (lambda S: (max(S[vn][1], 1), 0))
    fb = rng.choice(("''", "'?'", "'-'"))
    if rng.random() < 0.4:
        return (f"{vn}[{rng.choice((0, -1))}] if {vn} else {fb}", size, False)
    return (f"{vn}[{_p(i)} % len({vn})] if {vn} else {fb}", size, False)


def _s_pick(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((SL, DICT))
    if v is None:
        return None
    vn = v.name
    return (f"{rng.choice(('max', 'min'))}({vn}, default={rng.choice(('', 'none'))!r})", lambda S: (S[vn][1], 0), True)


def _s_cond(fn: _Fn, d):
    c, a, b = fn.ex(BOOL, d), fn.ex(STR, d), fn.ex(STR, d)
    if a[0] == b[0]:
        return None
    sa, sb = a[1], b[1]
    return (f"{_p(a)} if {_p(c)} else {_p(b)}", lambda S: (max(sa(S)[0], sb(S)[0]), 0), False)


def _s_exc(fn: _Fn, d):
    errs = fn.vars(EXC)
    if not errs:
        return None
    fn.refs += 1
    return (f"str({errs[-1].name})", _const(_ECAP), True)


def _l_sorted(fn: _Fn, d, t=IL):
    rng = fn.rng
    base = fn.ex(t, d)
    form = rng.randrange(4)
    if form == 0:
        return (f"sorted({base[0]})", base[1], True)
    if form == 1:
        key = "" if t == IL else rng.choice(("", ", key=len"))
        return (f"sorted({base[0]}{key}, reverse=True)", base[1], True)
    if form == 2:
        a = rng.randint(0, 2)
        return (f"{_p(base)}[{a}:{a + rng.randint(1, 4)}]", base[1], True)
    return (f"{_p(base)}[::-1]", base[1], True)


def _l_concat(fn: _Fn, d, t=IL):
    a, b = fn.ex(t, d), fn.ex(t, d)
    sa, sb = a[1], b[1]
    return (f"{_p(a)} + {_p(b)}", lambda S: (sa(S)[0] + sb(S)[0], max(sa(S)[1], sb(S)[1])), False)


def _l_comp(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((IL, SET, TUP, STR, SL))
    if v is None:
        return None
    vn = v.name
    size = _ref(vn)
    fn.add_comp(size)
    if v.type == STR:
        c = fn.new_name(("ch", "c"))
        fn.used.discard(c)
        return (f"[ord({c}) for {c} in {vn}]" if rng.random() < 0.5 else f"[{vn}.count({c}) for {c} in {vn}]", size, True)
    if v.type == SL:
        w = fn.new_name(_LOOP_STR)
        fn.used.discard(w)
        return (f"[len({w}) for {w} in {vn}]", size, True)
    x = fn.new_name(_LOOP_INT)
    fn.used.discard(x)
    src = f"sorted({vn})" if v.type == SET else vn
    form = rng.randrange(4)
    if form == 0:
        return (f"[{x} * {rng.choice(_SMALL_POS)} for {x} in {src}]", size, True)
    if form == 1:
        return (f"[{x} for {x} in {src} if {x} % {rng.choice((2, 3))} {rng.choice(('==', '!='))} 0]", size, True)
    if form == 2:
        return (f"[{x} + {rng.randint(1, 9)} for {x} in {src} if {x} > {rng.randint(-1, 5)}]", size, True)
    return (f"[abs({x} - {rng.randint(0, 5)}) for {x} in {src}]", size, True)


def _l_misc(fn: _Fn, d):
    rng = fn.rng
    roll = rng.random()
    if roll < 0.3:
        k = rng.randint(1, 6)
        if rng.random() < 0.5:
            return (f"list(range({k}))", _const(k), True)
        a = rng.randint(0, 3)
        return (f"list(range({a}, {a + 2 * k}, 2))", _const(k), True)
    v = fn.sized_var((SET, DICT, TUP, STR))
    if v is None:
        return None
    vn = v.name
    if v.type == SET:
        return (f"sorted({vn})", _ref(vn), True)
    if v.type == DICT:
        return (f"list({vn}.values())" if rng.random() < 0.6 else f"sorted({vn}.values())", _ref(vn), True)
    if v.type == STR:
        c = fn.new_name(("ch", "c", "char"))
        fn.used.discard(c)
        fn.add_comp(_ref(vn))
        return (f"[int({c}) for {c} in {vn} if {c}.isdigit()]", _ref(vn), True)
    return (f"list({vn})", _ref(vn), True)


def _l_zip(fn: _Fn, d):
    vs = [v for v in fn.env if v.type in (IL, TUP)]
    if len(vs) < 2:
        return None
    a, b = fn.rng.sample(vs, 2)
    fn.refs += 1
    x, y = fn.new_name(_LOOP_INT), fn.new_name(_LOOP_INT)
    fn.used.discard(x)
    fn.used.discard(y)
    an = a.name
    fn.add_comp(_ref(an))
    return (f"[{x} {fn.rng.choice(('+', '-', '*'))} {y} for {x}, {y} in zip({a.name}, {b.name})]", _ref(an), True)


def _w_split(fn: _Fn, d):
    rng = fn.rng
    s = fn.ex(STR, d)
    size = s[1]
    fn.p.feats.append("str_method")
    if rng.random() < 0.5:
        return (f"{_p(s)}.split()", lambda S: ((size(S)[0] + 1) // 2, size(S)[0]), True)
    return (f"{_p(s)}.split({rng.choice(_SPLIT)!r})", lambda S: (size(S)[0] + 1, size(S)[0]), True)


def _w_comp(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((SL, IL, DICT, STR))
    if v is None:
        return None
    vn = v.name
    fn.add_comp(_ref(vn))
    w = fn.new_name(_LOOP_STR if v.type != IL else _LOOP_INT)
    fn.used.discard(w)
    if v.type == IL:
        return (f"[str({w}) for {w} in {vn}]", lambda S: (S[vn][0], _INT_TEXT), True)
    if v.type == DICT:
        return (f"[{w} for {w} in {vn} if {vn}[{w}] {rng.choice(('>', '<', '!='))} {rng.randint(0, 3)}]", lambda S: S[vn], True)
    if v.type == STR:
        return (f"[{w} for {w} in {vn} if {w}.{rng.choice(_STR_PREDS)}()]", lambda S: (S[vn][0], 1), True)
    if rng.random() < 0.5:
        m = rng.choice(("upper", "lower", "title", "strip", "capitalize"))
        return (f"[{w}.{m}() for {w} in {vn}]", lambda S: S[vn], True)
    if rng.random() < 0.5:
        return (f"[{w} for {w} in {vn} if {w}.{rng.choice(('startswith', 'endswith'))}({rng.choice(_SUBS)!r})]", lambda S: S[vn], True)
    return (f"[{w}[::-1] for {w} in {vn} if len({w}) > {rng.randint(0, 3)}]", lambda S: S[vn], True)


def _w_misc(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((STR, DICT))
    if v is None:
        return None
    vn = v.name
    if v.type == STR:
        return (f"list({vn})" if rng.random() < 0.5 else f"sorted({vn})", lambda S: (S[vn][0], 1), True)
    return (f"list({vn})" if rng.random() < 0.4 else f"sorted({vn}{rng.choice(('', '.keys()'))})", lambda S: S[vn], True)


def _d_build(fn: _Fn, d):
    rng = fn.rng
    v = fn.sized_var((SL, STR, DICT))
    if v is None:
        return None
    vn = v.name
    if v.type == SL:
        w = fn.new_name(_LOOP_STR)
        fn.used.discard(w)
        form = rng.randrange(3)
        if form == 0:
            fn.add_comp(_ref(vn))
            return (f"{{{w}: len({w}) for {w} in {vn}}}", lambda S: S[vn], True)
        if form == 1:
            return (f"dict.fromkeys({vn}, {rng.randint(0, 3)})", lambda S: S[vn], True)
        ints = fn.vars(IL)
        if ints:
            return (f"dict(zip({vn}, {rng.choice(ints).name}))", lambda S: S[vn], True)
        return (f"dict.fromkeys({vn}, 0)", lambda S: S[vn], True)
    if v.type == STR:
        c = fn.new_name(("ch", "c", "char"))
        fn.used.discard(c)
        fn.add_comp(_ref(vn), per=3)
        return (f"{{{c}: {vn}.count({c}) for {c} in {vn}}}", lambda S: (S[vn][0], 1), True)
    k, val = fn.new_name(_LOOP_KEY), fn.new_name(_LOOP_VAL)
    fn.used.discard(k)
    fn.used.discard(val)
    fn.add_comp(_ref(vn))
    if rng.random() < 0.5:
        return (f"{{{k}: {val} * {rng.choice(_SMALL_POS)} for {k}, {val} in {vn}.items()}}", lambda S: S[vn], True)
    if rng.random() < 0.5:
        return (f"{{{k}: {val} for {k}, {val} in {vn}.items() if {val} {rng.choice(('>', '<', '!='))} {rng.randint(0, 3)}}}", lambda S: S[vn], True)
    return (f"dict(sorted({vn}.items()))", lambda S: S[vn], True)


def _t_build(fn: _Fn, d):
    rng = fn.rng
    roll = rng.random()
    if roll < 0.25:
        k = rng.randint(1, 6)
        return (f"set(range({k}))", _const(k), True)
    v = fn.sized_var((IL, SET, DICT))
    if v is None:
        return None
    vn = v.name
    if v.type == IL:
        if roll < 0.6:
            return (f"set({vn})", _ref(vn), True)
        x = fn.new_name(_LOOP_INT)
        fn.used.discard(x)
        fn.add_comp(_ref(vn))
        return (f"{{{x} % {rng.choice((3, 4, 5))} for {x} in {vn}}}", _ref(vn), True)
    if v.type == DICT:
        return (f"set({vn}.values())", _ref(vn), True)
    other = fn.ex(SET, 0)
    if other[0] == vn:
        return None
    so = other[1]
    op = rng.choice(("|", "&", "-", "^"))
    return (f"{vn} {op} {_p(other)}", lambda S: (S[vn][0] + so(S)[0], 0), False)


def _p_build(fn: _Fn, d):
    rng = fn.rng
    roll = rng.random()
    if roll < 0.3:
        a, b = fn.ex(INT, d), fn.ex(INT, d)
        return (f"({a[0]}, {b[0]})", _const(2, 2), True)
    if roll < 0.45:
        a = fn.ex(INT, d)
        return (f"divmod({a[0]}, {rng.choice((2, 3, 5, 7))})", _const(2, 2), True)
    v = fn.sized_var((IL, SET, TUP))
    if v is None:
        return None
    vn = v.name
    if v.type == IL:
        return (f"tuple({vn})" if rng.random() < 0.5 else f"tuple(sorted({vn}))", lambda S: (S[vn][0], 0), True)
    if v.type == SET:
        return (f"tuple(sorted({vn}))", lambda S: (S[vn][0], 0), True)
    a = fn.ex(INT, 0)
    if rng.random() < 0.5:
        return (f"{vn} + ({a[0]},)", lambda S: (S[vn][0] + 1, S[vn][1] + 1), False)
    return (f"{vn}[::-1]", _ref(vn), True)


# leaf(): the productions that make a bool of one variable, and the ways to copy a mutable one
_BOOL_LEAVES = (_b_cmp, _b_len, _b_in, _b_mod)
_COPIES = {IL: ("{}[:]", "list({})", "{}.copy()"), SL: ("{}[:]", "list({})", "{}.copy()"),
           DICT: ("dict({})", "{}.copy()"), SET: ("set({})", "{}.copy()")}
# literal(): small literals as expressions, in _literal_value's order (a negative int is not atomic)
_INT_LITERAL_EXPRS = tuple((repr(n), None, n >= 0) for n in _LITERAL_INTS)
_WORD_LITERAL_EXPRS = tuple((repr(w), _const(len(w)), True) for w in _WORDS)
_CHAR_LITERAL_EXPRS = tuple((repr(c), _const(len(c)), True) for c in _CHARS + _SEPS[:4])
_TRUE_EXPR, _FALSE_EXPR = ("True", None, True), ("False", None, True)

_PRODS = {
    INT: (_i_arith, _i_arith, _i_divmod, _i_len, _i_len, _i_agg, _i_count, _i_get, _i_sub, _i_misc, _i_cond, _i_attr, _i_attr),
    BOOL: (_b_cmp, _b_cmp, _b_mod, _b_in, _b_in, _b_str, _b_logic, _b_len, _b_any, _b_eq),
    STR: (_s_meth, _s_meth, _s_slice, _s_concat, _s_mul, _s_join, _s_str, _s_at, _s_pick, _s_cond, _s_exc, _s_exc),
    IL: (_l_sorted, _l_concat, _l_comp, _l_comp, _l_misc, _l_zip),
    SL: (lambda fn, d: _l_sorted(fn, d, SL), lambda fn, d: _l_concat(fn, d, SL), _w_split, _w_split, _w_comp, _w_misc),
    DICT: (_d_build, _d_build),
    SET: (_t_build, _t_build),
    TUP: (_p_build, _p_build),
}
_CRUX_PRODS = {
    INT: (_i_arith, _i_len, _i_len, _i_count, _i_count, _i_get, _i_sub, _i_misc, _i_agg),
    BOOL: (_b_cmp, _b_mod, _b_in, _b_in, _b_str, _b_str, _b_logic, _b_len, _b_any),
    STR: (_s_meth, _s_meth, _s_meth, _s_slice, _s_concat, _s_join, _s_join, _s_str, _s_at, _s_pick),
    IL: (_l_sorted, _l_comp, _l_comp, _l_misc, _l_concat),
    SL: (lambda fn, d: _l_sorted(fn, d, SL), _w_split, _w_split, _w_comp, _w_comp, _w_misc),
    DICT: (_d_build,),
    SET: (_t_build,),
    TUP: (_p_build,),
}


# ---------------------------------------------------------------------------------------------
# Literal values
# ---------------------------------------------------------------------------------------------


def _literal_value(rng: random.Random, type_: str, max_len: int, crux: bool, small: bool = False):
    if type_ == INT:
        return rng.choice(_LITERAL_INTS) if small else rng.randint(-5, 30)
    if type_ == BOOL:
        return rng.random() < 0.5
    if type_ == STR:
        if small:
            roll = rng.random()
            if roll < 0.5:
                return rng.choice(_WORDS)
            return rng.choice(_CHARS + _SEPS[:4])
        roll = rng.random()
        if roll < 0.45:
            text = rng.choice(_TEXTS)
        elif roll < 0.8:
            words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 3))]
            text = rng.choice((" ", "-", ",", "", " ", "_")).join(words)
        else:
            text = "".join(rng.choice("abcdeABxyz0123 -") for _ in range(rng.randint(0, 10)))
        return text[: min(20, 4 * max_len)]
    if type_ == IL:
        n = rng.randint(0 if small or rng.random() < 0.1 else min(2, max_len), min(max_len, 6))
        if rng.random() < 0.7 and n:
            return [rng.randint(-3, 12) for _ in range(n)]
        return [rng.randint(0, 9) for _ in range(n)]
    if type_ == SL:
        n = rng.randint(0 if small else 1, min(max_len, 4))
        return [rng.choice(_WORDS) for _ in range(n)]
    if type_ == DICT:
        n = rng.randint(0 if small else 1, min(max_len, 4))
        keys = rng.sample(_KEYS, n)
        return {k: rng.randint(-2, 9) for k in keys}
    if type_ == SET:
        n = rng.randint(0, min(max_len, 5))
        return sorted(set(rng.randint(0, 12) for _ in range(n)))  # kept as a sorted list
    if type_ == TUP:
        n = rng.randint(1, min(max_len, 4))
        return tuple(rng.randint(-2, 9) for _ in range(n))
    raise ValueError(type_)


def _literal_text(type_: str, value) -> str:
    if type_ == SET:
        return "{" + ", ".join(map(str, value)) + "}" if value else "set()"
    return repr(value)


def _value_size(type_: str, value) -> tuple[int, int]:
    if type_ == SL:
        return (len(value), max((len(w) for w in value), default=0))
    if type_ == DICT:
        return (len(value), max((len(k) for k in value), default=0))
    if type_ == TUP:
        return (len(value), len(value))
    return (len(value), 0)


# ---------------------------------------------------------------------------------------------
# Helpers, recursion and classes
# ---------------------------------------------------------------------------------------------


def _make_helper(prog: _Program, level: int, callees: list[_Helper], use_exc: bool) -> _Helper:
    rng, o = prog.rng, prog.o
    name = prog.global_name(_HELPER_NAMES)
    feats_start = len(prog.feats)
    fn = _Fn(prog, name, level=level, callees=callees, use_exc=False)
    params = []
    for _ in range(rng.randint(1, 2)):
        type_ = rng.choice(prog.types)
        var = _Var(fn.var_name(type_), type_)
        fn.bind(var)
        size = _PARAM_SIZE.get(type_)
        if size is not None:
            fn.S[var.name] = size
        params.append((var.name, type_, size or (0, 0)))
    raises = None
    forced = ["call"] * len(callees)
    raising = [h.raises for h in callees if h.raises]
    if raising:  # let what a callee raises pass through (f catches it)
        fn.catching = [raising[0]]
        if rng.random() < 0.3:
            forced.append("raise")
    elif use_exc and rng.random() < 0.5:
        raises = rng.choice(prog.exc_types)
        fn.catching = [raises]
        forced.append("raise")
    fn.forced = forced
    fn.remaining = rng.randint(1, max(1, o.max_statements // 2))
    fn.body()
    returnable = [v.type for v in fn.env[len(params):] + fn.env[:len(params)] if v.type in prog.has and v.type not in (SET, TUP)]
    if returnable and rng.random() < 0.7:
        rtype = returnable[0] if rng.random() < 0.5 else rng.choice(returnable)
    else:
        rtype = rng.choice([t for t in prog.types if t not in (SET, TUP)] + [INT, INT])
    ret = fn.ex(rtype, 2, fresh=True)
    fn.emit(f"return {ret[0]}")
    fn.cost(1)
    fn.comp_cost()
    ret_size = None
    if rtype in _SIZED:
        ret_size = ret[1](fn.S)
        if ret_size[0] > _CAP[rtype] or (rtype != TUP and ret_size[1] > _ECAP):
            raise _Reject
    raises = fn.raised
    mutated = {}
    for index, (pname, ptype, _) in enumerate(params):
        if ptype in _MUTABLE and pname in fn.mutated:
            mutated[index] = fn.S[pname]
    header = f"def {name}({', '.join(p[0] for p in params)}):"
    helper = _Helper(name, params, rtype, ret_size, fn.S["$c"], mutated, raises, [header] + fn.lines)
    helper.feats = prog.feats[feats_start:] + ["helper"]
    del prog.feats[feats_start:]
    return helper


def _make_recursive(prog: _Program) -> _Helper:
    """A recursive function from a template, with a base case and a shrinking argument."""
    rng = prog.rng
    D = prog.o.max_recursion_depth
    name = prog.global_name(_REC_NAMES)
    has = prog.has
    forms = ["count", "count", "fact", "digits"]
    if IL in has:
        forms += ["list_sum", "list_build"]
    if STR in has:
        forms += ["str_rev"]
    if D >= 2:
        forms += ["gcd"]
    form = rng.choice(forms)
    k = rng.choice(_SMALL_POS)
    m = rng.choice((7, 10, 97, 1000))
    per_call = 4
    depth_limit = D
    if form == "count":
        acc_expr = rng.choice((f"acc + n * {k}", f"acc + n", f"(acc * {k} + n) % {m}", f"acc - n", f"acc + n % {k}"))
        base = rng.choice(("n <= 0", "n < 1", "n == 0 or n < 0"))
        lines = [f"def {name}(n, acc):", f"    if {base}:", "        return acc", f"    return {name}(n - 1, {acc_expr})"]
        arg_kinds = ["depth", "int"]
        rtype, ret_size = INT, None
    elif form == "fact":
        combine = rng.choice((f"n * {name}(n - 1)", f"{name}(n - 1) + n", f"({name}(n - 1) * {k} + n) % {m}", f"{name}(n - 1) + {name}(n - 2)"))
        if "n - 2" in combine:
            depth_limit = min(D, 4)
            per_call = 4
        lines = [f"def {name}(n):", f"    if n <= 1:", f"        return {rng.choice(('1', 'n', '0')) if 'n - 2' not in combine else 'n'}",
                 f"    return {combine}"]
        arg_kinds = ["depth"]
        rtype, ret_size = INT, None
    elif form == "digits":
        lines = [f"def {name}(n):", "    if n < 10:", "        return n",
                 f"    return {rng.choice(('n % 10 + ', 'n % 10 * 0 + 1 + ', '(n % 10) * 2 + '))}{name}(n // 10)"]
        arg_kinds = ["small"]
        rtype, ret_size = INT, None
        depth_limit = 3
    elif form == "gcd":
        lines = [f"def {name}(a, b):", "    if b == 0:", "        return a", f"    return {name}(b, a % b)"]
        arg_kinds = ["small", "small"]
        rtype, ret_size = INT, None
        depth_limit = 10
    elif form == "list_sum":
        combine = rng.choice((f"xs[0] + {name}(xs[1:])", f"max(xs[0], {name}(xs[1:]))", f"(xs[0] % 2) + {name}(xs[1:])",
                              f"{name}(xs[1:]) * 2 + xs[0]"))
        lines = [f"def {name}(xs):", "    if not xs:", f"        return {rng.choice(('0', '0', '-1'))}", f"    return {combine}"]
        arg_kinds = [IL]
        rtype, ret_size = INT, None
    elif form == "list_build":
        item = rng.choice(("n * n", "n", f"n % {k}", f"n * {k}", "-n"))
        order = rng.random() < 0.5
        tail = f"{name}(n - 1) + [{item}]" if order else f"[{item}] + {name}(n - 1)"
        lines = [f"def {name}(n):", "    if n <= 0:", "        return []", f"    return {tail}"]
        arg_kinds = ["depth"]
        rtype, ret_size = IL, (D + 1, 0)
    else:  # str_rev
        combine = rng.choice((f"{name}(s[1:]) + s[0]", f"s[0].upper() + {name}(s[1:])", f"{name}(s[1:]) + s[0] * 2",
                              f"s[-1] + {name}(s[:-1])"))
        lines = [f"def {name}(s):", "    if not s:", "        return ''", f"    return {combine}"]
        arg_kinds = [STR]
        rtype, ret_size = STR, (2 * D, 0)
    calls = (2 ** (depth_limit + 1)) if "n - 2" in lines[-1] else depth_limit + 2
    cost = calls * per_call
    h = _Helper(name, [], rtype, ret_size, cost, {}, None, lines, recursive=True, arg_kinds=arg_kinds)
    h.depth_limit = depth_limit
    return h


def _make_class(prog: _Program) -> _ClassSpec:
    rng = prog.rng
    with_repr = rng.random() < 0.5
    form = rng.randrange(4) if STR in prog.has else rng.randrange(3)
    name = prog.global_name(_CLASS_NAMES[form])
    m = rng.choice((10, 97, 100, 1000))
    if form == 0:  # an accumulator
        total, items = rng.choice((("total", "items"), ("value", "history"), ("score", "log")))
        op = rng.choice((f"self.{total} += x", f"self.{total} -= x", f"self.{total} = (self.{total} * 2 + x) % {m}"))
        meth, extra = rng.choice((("add", "largest"), ("push", "peak"), ("record", "top")))
        lines = [f"class {name}:", "    def __init__(self, start):", f"        self.{total} = start", f"        self.{items} = []",
                 f"    def {meth}(self, x):", f"        self.{items}.append(x)", f"        {op}", f"        return self.{total}",
                 f"    def {extra}(self):", f"        return max(self.{items}, default=self.{total})"]
        if with_repr:
            lines += ["    def __repr__(self):", f"        return f'{name}({{self.{total}}}, {{self.{items}}})'"]
        methods = [(meth, [INT], INT, 1, lambda n: 5), (extra, [], INT, 0, lambda n: 3)]
        return _ClassSpec(name, lines, [INT], 0, methods, [total], items)
    if form == 1:  # a stack
        data = rng.choice(("data", "stack", "slots"))
        lines = [f"class {name}:", "    def __init__(self):", f"        self.{data} = []",
                 "    def push(self, x):", f"        self.{data}.append(x)", f"        return len(self.{data})",
                 "    def pop(self):", f"        if self.{data}:", f"            return self.{data}.pop()", f"        return {rng.choice(('-1', '0'))}",
                 "    def peek(self):", f"        return self.{data}[-1] if self.{data} else 0"]
        if with_repr:
            lines += ["    def __repr__(self):", f"        return '{name}(' + str(self.{data}) + ')'"]
        methods = [("push", [INT], INT, 1, lambda n: 4), ("push", [INT], INT, 1, lambda n: 4), ("pop", [], INT, 0, lambda n: 5),
                   ("peek", [], INT, 0, lambda n: 3)]
        return _ClassSpec(name, lines, [], 0, methods, [], data)
    if form == 2:  # a point
        lines = [f"class {name}:", "    def __init__(self, x, y):", "        self.x = x", "        self.y = y", "        self.moves = []",
                 "    def move(self, dx, dy):", "        self.x += dx", "        self.y += dy", "        self.moves.append(dx + dy)",
                 f"        return {rng.choice(('abs(self.x) + abs(self.y)', 'self.x * self.y', 'max(self.x, self.y)'))}"]
        if with_repr:
            lines += ["    def __repr__(self):", f"        return f'{name}({{self.x}}, {{self.y}})'"]
        methods = [("move", [INT, INT], INT, 1, lambda n: 6)]
        return _ClassSpec(name, lines, [INT, INT], 0, methods, ["x", "y"], "moves")
    # a word counter (dict keyed by strings)
    lines = [f"class {name}:", "    def __init__(self, label):", "        self.label = label", "        self.counts = {}",
             "    def add(self, word):", "        self.counts[word] = self.counts.get(word, 0) + 1", "        return self.counts[word]",
             "    def total(self):", "        return sum(self.counts.values())",
             "    def report(self):", "        return self.label + ':' + ','.join(sorted(self.counts))"]
    if with_repr:
        lines += ["    def __repr__(self):", f"        return f'{name}({{self.label!r}}, {{len(self.counts)}})'"]
    methods = [("add", [STR], INT, 1, lambda n: 4), ("add", [STR], INT, 1, lambda n: 4), ("total", [], INT, 0, lambda n: 3),
               ("report", [], STR, 0, lambda n: 3)]
    return _ClassSpec(name, lines, [STR], 0, methods, [], "counts")
