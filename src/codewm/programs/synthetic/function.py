"""One function being generated: its lines, variables in scope, budget, and the loop that fills its body.

A `FunctionBuilder` holds the state that statements (statements.py, control.py, calls.py) and
expressions (expressions.py and the modules of productions) read and change: they are module
functions taking the builder as their first argument `fn`. The builder picks which kind of
statement comes next (`statement`), by weights that depend on where the body is now, and
undoes a statement that rejects (`attempt`).
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from itertools import filterfalse

from codewm.programs.synthetic.budget import STEPS, Reject, bound_size, run_effects
from codewm.programs.synthetic.vocabulary import (
    ALL_TYPES, DICT, INT, INT_LIST, SET, SIZED, SIZE_LIMITS, STR, STR_LIST, TUPLE, literal_text, literal_value,
    value_size,
)


class Var:
    """A variable in scope: its name and type; `frozen` ones may not change (loop variables, what a loop runs over)."""

    __slots__ = ("name", "type", "frozen", "char", "cls")

    def __init__(self, name: str, type_: str, char: bool = False, cls=None) -> None:
        self.name = name
        self.type = type_
        self.frozen = False
        self.char = char  # a single character (ord() of it is fine)
        self.cls = cls  # an instance's ClassSpec


class FunctionBuilder:
    """The state of one function being generated (f, a helper); see the module docstring."""

    def __init__(self, program, name: str, level: int, callees: list, use_exc: bool) -> None:
        self.program = program
        self.rng = program.rng
        self.options = program.options
        self.name = name
        self.level = level  # 0 for f, the call depth below f for helpers
        self.callees = callees  # helpers this function may call
        self.use_exc = use_exc
        self.lines: list[str] = []
        # The variables in scope: a stack, changed only through bind() and unbind_from(), which
        # keep the same variables by type in by_type (for vars()) and drop the lists that
        # sized_var() caches in _typed.
        self.env: list[Var] = []
        self.by_type: dict[str, list[Var]] = {t: [] for t in ALL_TYPES}
        self._typed: dict = {}
        self.sizes: dict = {STEPS: 2}  # the function's own call and return frames (see budget.py)
        self.effects: list = []
        self.used: set[str] = set(program.global_names)
        self.depth = 0
        self.loops: list[str] = []  # kinds of the enclosing loops, innermost last
        self.catching: list[str] = []  # exception types a raise here would be caught by
        self.remaining = 0  # statements still to make
        self.count = 0  # statements made
        self.forced: list[str] = []  # statement kinds that must appear
        self.mutated: list[str] = []
        self.raised: str | None = None
        self.arg_texts: list[str] = []
        # helpers get a third of the budget, halved again per level below (so callers can afford them)
        self.budget = self.options.max_steps if level == 0 else max(20, self.options.max_steps // (3 << (level - 1)))
        self.max_loop = self.options.max_loop_bound
        self.literal_len = min(4, self.max_loop)  # longest collection literal in an expression
        self.crux = program.crux
        self.statements = program.grammar.statements
        self.productions = program.grammar.expressions
        self.comprehensions: list = []  # steps of comprehensions not yet charged (see add_comprehension)
        self.refs = 0  # variable references made by expressions so far
        self.touched: list[str] = []  # variables in the order they were assigned or changed
        # what kind_table() depends on that does not change while the body is made
        self._kind_key = (self.crux, self.options.max_depth, use_exc, level, program.cls is not None)

    # -- lines, steps and sizes ----------------------------------------------------------------
    def emit(self, text: str) -> None:
        self.lines.append("    " * (self.depth + 1) + text)

    def feature(self, name: str) -> None:
        """Note a feature the program uses (program meta "features")."""
        self.program.feats.append(name)

    def add_effect(self, effect) -> None:
        """Record an effect (see budget.py) and apply it now."""
        self.effects.append(effect)
        run_effects((effect,), self.sizes, self.budget, self.max_loop)

    def spend(self, steps=1) -> None:
        """Add trace steps (an int or a function of the sizes); reject past the budget."""
        # add_effect(("steps", steps)) without the trip through run_effects: the commonest effect
        self.effects.append(("steps", steps))
        sizes = self.sizes
        sizes[STEPS] += steps if type(steps) is int else steps(sizes)
        if sizes[STEPS] > self.budget:
            raise Reject

    def set_size(self, name: str, type_: str, size_fn) -> None:
        """Bound a variable's size by size_fn (for types whose size is tracked)."""
        limits = SIZE_LIMITS.get(type_)
        if limits is not None:  # add_effect(("size", ...)) without the trip through run_effects
            effect = ("size", name, size_fn, limits[0], limits[1])
            self.effects.append(effect)
            bound_size(effect, self.sizes)

    def add_comprehension(self, size_fn, per: int = 2) -> None:
        """A comprehension over something of size size_fn: charged with the statement that holds it."""
        self.comprehensions.append(lambda sizes: 2 + per * size_fn(sizes)[0])
        self.feature("comprehension")

    def charge_comprehensions(self) -> None:
        if self.comprehensions:
            costs = list(self.comprehensions)
            self.comprehensions.clear()
            self.add_effect(("steps", lambda sizes: sum(cost(sizes) for cost in costs)))

    def count_statement(self, feature: str | None = None) -> None:
        """One statement made (and the feature it shows)."""
        self.remaining -= 1
        self.count += 1
        if feature:
            self.program.feats.append(feature)

    # -- variables -----------------------------------------------------------------------------
    def bind(self, var: Var) -> None:
        """Put a variable in scope."""
        self.env.append(var)
        self.by_type[var.type].append(var)
        if self._typed:
            self._typed.clear()

    def unbind_from(self, scope: int) -> None:
        """Take the variables bound since len(self.env) was `scope` out of scope."""
        env = self.env
        if len(env) > scope:
            by_type = self.by_type
            for v in env[scope:]:  # the latest of each type's list, as env is a stack
                by_type[v.type].pop()
            del env[scope:]
            self._typed.clear()

    def new_name(self, pool) -> str:
        """A name from `pool` not used yet in this function (or a numbered one)."""
        used = self.used
        free = pool if used.isdisjoint(pool) else list(filterfalse(used.__contains__, pool))
        name = free[int(self.rng.random() * len(free))] if free else f"{pool[0]}{len(used)}"  # rng.choice(free)
        used.add(name)
        return name

    def var_name(self, type_: str) -> str:
        return self.new_name(self.program.names[type_])

    def vars(self, type_: str, unfrozen: bool = False) -> list[Var]:
        """The variables of `type_` in scope, in binding order (a shared list: do not change it)."""
        if unfrozen:
            return [v for v in self.env if v.type == type_ and not v.frozen]
        return self.by_type[type_]

    def pick(self, type_: str, unfrozen: bool = False) -> Var | None:
        """A random variable of `type_` in scope (counted as a reference), or None."""
        vs = self.vars(type_, unfrozen)
        if not vs:
            return None
        self.refs += 1
        return self.rng.choice(vs)

    def choose(self, vs: list):
        """A random one of the variables `vs` (counted as a reference)."""
        self.refs += 1
        return self.rng.choice(vs)

    def sized_var(self, types=(STR, INT_LIST, STR_LIST, DICT, SET, TUPLE)) -> Var | None:
        """A random variable of one of `types` (counted as a reference), or None."""
        # cached until the next bind() or unbind_from()
        vs = self._typed.get(types)
        if vs is None:
            vs = self._typed[types] = [v for v in self.env if v.type in types]
        if not vs:
            return None
        self.refs += 1
        return vs[int(self.rng.random() * len(vs))]  # rng.choice(vs), inlined (hot)

    # -- parameters and literal arguments ------------------------------------------------------
    def make_params(self, count: int) -> list[Var]:
        """f's parameters, and the literal arguments of its call (in arg_texts)."""
        rng = self.rng
        params = []
        for i in range(count):
            if self.crux and i == 0:
                pool = [t for t in (STR, STR, STR, INT_LIST, STR_LIST, DICT) if t in self.program.has] or [INT]
                type_ = rng.choice(pool)
            elif self.crux:
                type_ = rng.choice([t for t in (STR, STR, INT, INT, INT_LIST) if t in self.program.has] or [INT])
            else:
                type_ = rng.choice(self.program.param_types)
            var = Var(self.var_name(type_), type_)
            value = literal_value(rng, type_, self.max_loop, self.crux)
            self.bind(var)
            if type_ in SIZED:
                self.sizes[var.name] = value_size(type_, value)
            self.arg_texts.append(literal_text(type_, value))
            params.append(var)
        return params

    # -- the body ------------------------------------------------------------------------------
    def attempt(self, statement) -> bool:
        """Run `statement(self)`; should it reject (raise Reject or return False), undo what it did."""
        # The snapshot leaves out what the statements restore themselves, in `finally` clauses,
        # before a rejection gets here: `depth` (nested, loop_body, try_raise, try_helper),
        # `loops` and `effects` (loop_body), `catching` (try_raise, try_helper) and the `frozen`
        # flags of the variables already bound (loop_body; the variables that statements freeze
        # themselves, loop variables and while counters, are unbound below).
        lines, effects, env, feats, mutated, comp = self.lines, self.effects, self.env, self.program.feats, self.mutated, self.comprehensions
        n_lines, n_effects, n_env, n_feats, n_mutated, n_comp = len(lines), len(effects), len(env), len(feats), len(mutated), len(comp)
        sizes, remaining, count, raised = dict(self.sizes), self.remaining, self.count, self.raised
        try:
            if statement(self) is not False:
                if comp:
                    self.charge_comprehensions()
                return True
        except Reject:
            pass
        del comp[n_comp:]
        del lines[n_lines:]
        del effects[n_effects:]
        self.sizes = sizes
        self.unbind_from(n_env)
        self.remaining, self.count, self.raised = remaining, count, raised
        del feats[n_feats:]
        del mutated[n_mutated:]
        return False

    def body(self) -> None:
        """Fill the body with `remaining` statements, the `forced` kinds among them."""
        tries = 0
        rng = self.rng
        while self.remaining > 0 and tries < 4 * self.options.max_statements + 12:
            tries += 1
            if self.forced and (rng.random() < 0.5 or len(self.forced) >= self.remaining):
                statement = self.statements[self.forced.pop(0)]
                for _ in range(4):
                    if self.attempt(statement):
                        break
                continue
            self.statement()
        for kind in self.forced:  # what must appear, even past the statement count
            statement = self.statements[kind]
            for _ in range(4):
                if self.attempt(statement):
                    break
        self.forced = []

    def statement(self) -> bool:
        """One statement of a random kind (a few tries); whether one was made."""
        statements, thresholds, total = self.kind_table()
        random_ = self.rng.random
        attempt = self.attempt
        for _ in range(6):
            # the kind weighted_index(weights, x) picks, found by bisection (see kind_thresholds)
            if attempt(statements[bisect_right(thresholds, random_() * total)]):
                return True
        return False

    def kind_table(self):
        """(statement functions, kind_thresholds of their weights, the weights' sum) for where the body is now."""
        # Tables are shared by all functions, keyed by everything make_kind_table() looks at.
        key = (self._kind_key, self.depth, bool(self.loops), bool(self.catching), len(self.by_type[INT]) >= 2,
               bool(self.callees))
        table = _KIND_TABLES.get(key)
        if table is None:
            kinds, weights = self.make_kind_table()
            total = sum(weights)
            table = _KIND_TABLES[key] = (tuple(self.statements[k] for k in kinds), kind_thresholds(weights, total), total)
        return table

    def make_kind_table(self):
        """(statement kinds, their weights) that may come next here."""
        crux = self.crux
        compound = self.depth < self.options.max_depth
        kinds: list[str] = ["new", "upd", "upd"]
        weights: list[float] = [3, 3, 3]
        if len(self.vars(INT)) >= 2 and not crux:
            kinds.append("unpack")
            weights.append(0.6)
        if compound:
            kinds += ["if", "for", "while"]
            if crux:
                weights += [2.2, 2.8, 0.4]
            elif self.depth == 0:
                weights += [1.6, 3.2, 1.2]
            else:
                weights += [2.0, 1.6, 0.6]
            if self.use_exc and not crux:
                kinds.append("try")
                weights.append(0.9)
        if self.loops:
            kinds.append("brk")
            weights.append(0.6)
        if self.catching and self.level == 0:
            kinds.append("raise")
            weights.append(1.2)
        if self.level == 0 and self.depth >= 1 and not crux:
            kinds.append("ret")
            weights.append(0.3)
        elif self.level == 0 and self.depth >= 1 and crux:
            kinds.append("ret")
            weights.append(0.6)
        if self.callees:
            kinds += ["call", "rec"]
            weights += [1.0, 0.6]
        if self.program.cls is not None and self.level == 0:
            kinds += ["obj_new", "obj_call"]
            weights += [0.2, 1.5]
        return kinds, weights

    def block(self, count: int) -> None:
        """Up to `count` statements in a block (at least one: an assignment, if need be)."""
        made = 0
        for _ in range(count):
            if self.remaining <= 0 and made:
                break
            if self.statement():
                made += 1
        if not made:
            for _ in range(4):
                if self.attempt(self.statements["new"]) or self.attempt(self.statements["upd"]):
                    made = 1
                    break
        if not made:
            raise Reject

    def nested(self, count: int) -> None:
        """A block one level deeper."""
        self.depth += 1
        try:
            self.block(count)
        finally:
            self.depth -= 1

    def body_size(self) -> int:
        """How many statements the next block gets."""
        return self.rng.randint(1 + (self.remaining > 3), max(1, min(3, self.remaining)))


_KIND_TABLES: dict = {}  # FunctionBuilder.kind_table()'s cache


def weighted_index(weights: list, x: float) -> int:
    """The index of a weighted choice, x being uniform in [0, sum(weights)): how kinds were always picked."""
    for index, weight in enumerate(weights):
        x -= weight
        if x < 0:
            return index
    return len(weights) - 1  # x rounded past the last weight


def kind_thresholds(weights: list, total: float) -> tuple:
    """T with bisect_right(T, x) == weighted_index(weights, x) for every float x in [0, total).

    T[i] is the least float x >= 0 that weighted_index maps past i (inf if none below total).
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
        if not (weighted_index(weights, real(lo)) <= i < weighted_index(weights, real(hi))):
            lo, hi = 0, bits(total)  # index(real(lo)) <= i (0.0 picks index 0); is index(real(hi)) > i?
            if weighted_index(weights, real(hi)) <= i:
                thresholds.append(float("inf"))
                continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if weighted_index(weights, real(mid)) > i:
                hi = mid
            else:
                lo = mid
        thresholds.append(real(hi))
    return tuple(thresholds)
