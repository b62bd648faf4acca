"""Compound statements: if, for and while loops, break/continue and early returns.

Loops stay bounded by construction: a for loop runs over a literal range or over a collection
its body may not change (frozen), a while loop is bounded by a counter, by popping a collection
the body may not refill, or by halving a small number; the body's effects are re-run as often
as the loop may repeat (budget.py). Statement functions as in statements.py.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from codewm.programs.synthetic.budget import Reject, constant_bound, constant_size, length_of
from codewm.programs.synthetic.expressions import expression
from codewm.programs.synthetic.function import Var
from codewm.programs.synthetic.statements import return_expression
from codewm.programs.synthetic.vocabulary import (
    BOOL, DICT, INT, INT_LIST, LOOP_INT_NAMES, LOOP_KEY_NAMES, LOOP_STR_NAMES, LOOP_VALUE_NAMES, MUTABLE, SET, STR,
    STR_LIST, TUPLE,
)


class LoopVar(NamedTuple):
    """A variable a loop binds: its name, type, size function (None for ints) and whether it is one character."""

    name: str
    type: str
    size: Callable | None
    char: bool


def if_statement(fn):
    """if/elif/else blocks."""
    rng = fn.rng
    cond = expression(fn, BOOL, 2)
    scope = len(fn.env)
    fn.emit(f"if {cond.text}:")
    fn.spend(1)
    fn.charge_comprehensions()
    fn.count_statement("if")
    fn.nested(fn.body_size())
    fn.unbind_from(scope)
    roll = rng.random()
    if roll < 0.25 and fn.remaining > 0:
        cond2 = expression(fn, BOOL, 2)
        fn.emit(f"elif {cond2.text}:")
        fn.spend(1)
        fn.charge_comprehensions()
        fn.nested(fn.body_size())
        fn.unbind_from(scope)
        fn.feature("elif")
    if roll < 0.25 or (roll < 0.65 and fn.remaining > 0):
        fn.emit("else:")
        fn.nested(fn.body_size())
        fn.unbind_from(scope)
        fn.feature("else")


def loop_header(fn):
    """(header text, bound_fn, [LoopVar], variables frozen in the body) of a for loop, or None."""
    rng = fn.rng
    max_loop = fn.max_loop
    forms = ["range", "range"]
    seqs = [v for v in fn.env if v.type in (STR, INT_LIST, STR_LIST, TUPLE)]
    if seqs or fn.vars(SET) or fn.vars(DICT):
        forms += ["coll", "coll", "coll"]
    if seqs:
        forms.append("enum")
    if len(seqs) >= 2:
        forms.append("zip")
    if fn.vars(DICT):
        forms.append("items")
    form = rng.choice(forms)
    iv = lambda: fn.new_name(LOOP_INT_NAMES)  # noqa: E731
    if form == "range":
        kind = rng.randrange(4)
        k = rng.randint(min(2, max_loop), max_loop)
        name = iv()
        if kind == 0 or kind == 1:
            return f"for {name} in range({k}):", constant_bound(k), [LoopVar(name, INT, None, False)], []
        if kind == 2:
            a = rng.randint(-2, 3)
            return f"for {name} in range({a}, {a + k}):", constant_bound(k), [LoopVar(name, INT, None, False)], []
        step = rng.choice((1, 2))
        return f"for {name} in range({k * step}, 0, -{step}):", constant_bound(k), [LoopVar(name, INT, None, False)], []
    if form in ("coll", "enum"):
        cands = [v for v in fn.env if v.type in (STR, INT_LIST, STR_LIST, SET, TUPLE, DICT) and not (form == "enum" and v.type in (SET, DICT))]
        if not cands:
            return None
        v = rng.choice(cands)
        elem = element_of(fn, v)
        if elem is None:
            return None
        bound = length_of(v.name)
        text = v.name
        frozen = [v] if v.type in MUTABLE else []
        if fn.sizes[v.name][0] > max_loop:  # too long to run through: a bounded slice of it
            if v.type in (SET, DICT):
                return None
            k = rng.randint(min(2, max_loop), max_loop)
            vn = v.name
            text, bound, frozen = f"{vn}[:{k}]", (lambda sizes: min(sizes[vn][0], k)), []
        elif v.type == SET:
            if rng.random() < 0.5:
                text = f"sorted({v.name})"
                frozen = []
        elif v.type in (INT_LIST, STR_LIST) and rng.random() < 0.2:
            text = f"sorted({v.name})" if rng.random() < 0.5 else f"{v.name}[::-1]"
            frozen = []
        if form == "enum":
            i = iv()
            return f"for {i}, {elem.name} in enumerate({text}):", bound, [LoopVar(i, INT, None, False), elem], frozen
        return f"for {elem.name} in {text}:", bound, [elem], frozen
    if form == "zip":
        a, b = rng.sample(seqs, 2)
        if min(fn.sizes[a.name][0], fn.sizes[b.name][0]) > max_loop:
            return None
        ea, eb = element_of(fn, a), element_of(fn, b)
        an, bn = a.name, b.name
        bound = lambda sizes: min(sizes[an][0], sizes[bn][0])  # noqa: E731
        frozen = [v for v in (a, b) if v.type in MUTABLE]
        return f"for {ea.name}, {eb.name} in zip({an}, {bn}):", bound, [ea, eb], frozen
    # dict items
    d = fn.pick(DICT)
    if d is None or fn.sizes[d.name][0] > max_loop:
        return None
    k, val = fn.new_name(LOOP_KEY_NAMES), fn.new_name(LOOP_VALUE_NAMES)
    dn = d.name
    return (f"for {k}, {val} in {dn}.items():", length_of(dn),
            [LoopVar(k, STR, lambda sizes: (sizes[dn][1], 0), False), LoopVar(val, INT, None, False)], [d])


def element_of(fn, v: Var):
    """The loop variable of a for loop over `v`, or None."""
    name = v.name
    if v.type in (INT_LIST, SET, TUPLE):
        return LoopVar(fn.new_name(LOOP_INT_NAMES), INT, None, False)
    if v.type == STR:
        return LoopVar(fn.new_name(("ch", "c", "letter", "char")), STR, constant_size(1), True)
    if v.type == STR_LIST:
        return LoopVar(fn.new_name(LOOP_STR_NAMES), STR, lambda sizes: (sizes[name][1], 0), False)
    if v.type == DICT:
        return LoopVar(fn.new_name(LOOP_KEY_NAMES), STR, lambda sizes: (sizes[name][1], 0), False)
    return None


def loop(fn, header: str, bound_fn, loop_vars, frozen, kind: str, pre=None, post=None) -> None:
    """Emit a loop: header, body repeated at most bound_fn(sizes) times."""
    if bound_fn(fn.sizes) > fn.max_loop:
        raise Reject
    fn.emit(header)
    fn.spend(1)
    fn.charge_comprehensions()
    fn.count_statement("while" if kind != "for" else "for")
    if fn.loops:
        fn.feature("nested_loop")
    entry = dict(fn.sizes)
    outer_effects = fn.effects
    body: list = []
    fn.effects = body
    scope = len(fn.env)
    was_frozen = [v.frozen for v in frozen]
    fn.depth += 1
    fn.loops.append(kind)
    try:
        for name, type_, size, char in loop_vars:
            var = Var(name, type_, char=char)
            var.frozen = True
            fn.bind(var)
            if size is not None:
                fn.set_size(name, type_, size)
        for v in frozen:
            v.frozen = True
        fn.spend(1)  # the header runs once more per iteration
        if pre:
            pre()
        fn.block(fn.body_size())
        if post:
            post()
    finally:
        fn.depth -= 1
        fn.loops.pop()
        fn.effects = outer_effects
        for v, fr in zip(frozen, was_frozen):
            v.frozen = fr
    fn.unbind_from(scope)
    fn.sizes = entry
    fn.add_effect(("loop", bound_fn, body))


def for_loop(fn):
    """A for loop over a range, a collection, enumerate(), zip() or a dict's items."""
    header = loop_header(fn)
    if header is None:
        return False
    text, bound, loop_vars, frozen = header
    loop(fn, text, bound, loop_vars, frozen, "for")


def while_loop(fn):
    """A while loop, bounded by a counter, by popping a collection, or by halving a number."""
    rng = fn.rng
    form = rng.randrange(4)
    if form <= 1:  # a counter
        k = rng.randint(1, fn.max_loop)
        i = fn.new_name(("i", "j", "steps", "tries", "turn", "rounds"))
        down = form == 1
        fn.emit(f"{i} = {k if down else 0}")
        fn.spend(1)
        counter = Var(i, INT)
        counter.frozen = True
        fn.bind(counter)
        cond = f"{i} > 0" if down else f"{i} < {k}"
        if rng.random() < 0.3:
            extra = expression(fn, BOOL, 1)
            cond += f" and {extra.operand}"
        incr = f"{i} -= 1" if down else f"{i} += 1"

        def post():
            fn.emit(incr)
            fn.spend(1)

        loop(fn, f"while {cond}:", constant_bound(k), [], [], "while", post=post)
        counter.frozen = False
        return None
    if form == 2:  # pop until empty
        cands = [v for v in fn.env if v.type in (INT_LIST, STR_LIST, SET) and not v.frozen and fn.options.mutation]
        if not cands:
            return False
        v = rng.choice(cands)
        elem = element_of(fn, v)
        name = elem.name
        method = "pop()" if v.type == SET or rng.random() < 0.6 else "pop(0)"
        fn.mutated.append(v.name)

        def pre():
            fn.emit(f"{name} = {v.name}.{method}")
            fn.spend(1)

        fn.feature("mutation")
        loop(fn, f"while {v.name}:", length_of(v.name), [elem], [v], "while_pop", pre=pre)
        return None
    # halving
    bits = max(1, min(6, fn.max_loop - 1))
    expr = expression(fn, INT, 1)
    n = fn.new_name(("n", "m", "rem", "left", "num"))
    fn.emit(f"{n} = abs({expr.text}) % {2 ** bits}")
    fn.spend(1)
    fn.charge_comprehensions()
    var = Var(n, INT)
    var.frozen = True
    fn.bind(var)

    def post_half():
        fn.emit(f"{n} //= 2")
        fn.spend(1)

    loop(fn, f"while {n} > 0:", constant_bound(bits), [], [], "while", post=post_half)
    var.frozen = False


def break_or_continue(fn):
    """`if cond: break` (or continue) in a loop."""
    if not fn.loops:
        return False
    cond = expression(fn, BOOL, 2)
    word = "break"
    if fn.loops[-1] == "for" and fn.rng.random() < 0.4:
        word = "continue"
    fn.emit(f"if {cond.text}:")
    fn.emit(f"    {word}")
    fn.spend(2)
    fn.charge_comprehensions()
    fn.count_statement(word)


def early_return(fn):
    """`if cond: return ...` in f."""
    cond = expression(fn, BOOL, 2)
    fn.emit(f"if {cond.text}:")
    fn.spend(1)
    fn.charge_comprehensions()
    returned = return_expression(fn)
    fn.emit(f"    return {returned}")
    fn.spend(1)
    fn.charge_comprehensions()
    fn.count_statement("early_return")
