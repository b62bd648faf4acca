"""Productions of int-list, dict, set and tuple expressions: `production(fn, depth)` -> Expr, or None where it does not apply.

The tables in grammar.py list them, with repeats as weights; expressions.py says how they are used.
"""

from __future__ import annotations

from codewm.programs.synthetic.budget import constant_size, size_of
from codewm.programs.synthetic.expressions import Expr, expression
from codewm.programs.synthetic.vocabulary import (
    DICT, INT, INT_LIST, LOOP_INT_NAMES, LOOP_KEY_NAMES, LOOP_STR_NAMES, LOOP_VALUE_NAMES, SET, SMALL_POSITIVE, STR,
    STR_LIST, TUPLE,
)


def list_sorted(fn, depth, t=INT_LIST):
    """A sorted, reversed or sliced list of type `t`."""
    rng = fn.rng
    base = expression(fn, t, depth)
    form = rng.randrange(4)
    if form == 0:
        return Expr(f"sorted({base.text})", base.size, True)
    if form == 1:
        key = "" if t == INT_LIST else rng.choice(("", ", key=len"))
        return Expr(f"sorted({base.text}{key}, reverse=True)", base.size, True)
    if form == 2:
        a = rng.randint(0, 2)
        return Expr(f"{base.operand}[{a}:{a + rng.randint(1, 4)}]", base.size, True)
    return Expr(f"{base.operand}[::-1]", base.size, True)


def list_concat(fn, depth, t=INT_LIST):
    """a + b of two lists of type `t`."""
    a, b = expression(fn, t, depth), expression(fn, t, depth)
    sa, sb = a.size, b.size
    return Expr(f"{a.operand} + {b.operand}", lambda sizes: (sa(sizes)[0] + sb(sizes)[0], max(sa(sizes)[1], sb(sizes)[1])), False)


def list_comprehension(fn, depth):
    """A list comprehension of ints over a collection or string."""
    rng = fn.rng
    v = fn.sized_var((INT_LIST, SET, TUPLE, STR, STR_LIST))
    if v is None:
        return None
    vn = v.name
    size = size_of(vn)
    fn.add_comprehension(size)
    if v.type == STR:
        c = fn.new_name(("ch", "c"))
        fn.used.discard(c)
        return Expr(f"[ord({c}) for {c} in {vn}]" if rng.random() < 0.5 else f"[{vn}.count({c}) for {c} in {vn}]", size, True)
    if v.type == STR_LIST:
        w = fn.new_name(LOOP_STR_NAMES)
        fn.used.discard(w)
        return Expr(f"[len({w}) for {w} in {vn}]", size, True)
    x = fn.new_name(LOOP_INT_NAMES)
    fn.used.discard(x)
    src = f"sorted({vn})" if v.type == SET else vn
    form = rng.randrange(4)
    if form == 0:
        return Expr(f"[{x} * {rng.choice(SMALL_POSITIVE)} for {x} in {src}]", size, True)
    if form == 1:
        return Expr(f"[{x} for {x} in {src} if {x} % {rng.choice((2, 3))} {rng.choice(('==', '!='))} 0]", size, True)
    if form == 2:
        return Expr(f"[{x} + {rng.randint(1, 9)} for {x} in {src} if {x} > {rng.randint(-1, 5)}]", size, True)
    return Expr(f"[abs({x} - {rng.randint(0, 5)}) for {x} in {src}]", size, True)


def list_misc(fn, depth):
    """A range as a list, or a list of a set, dict, tuple or digit string."""
    rng = fn.rng
    roll = rng.random()
    if roll < 0.3:
        k = rng.randint(1, 6)
        if rng.random() < 0.5:
            return Expr(f"list(range({k}))", constant_size(k), True)
        a = rng.randint(0, 3)
        return Expr(f"list(range({a}, {a + 2 * k}, 2))", constant_size(k), True)
    v = fn.sized_var((SET, DICT, TUPLE, STR))
    if v is None:
        return None
    vn = v.name
    if v.type == SET:
        return Expr(f"sorted({vn})", size_of(vn), True)
    if v.type == DICT:
        return Expr(f"list({vn}.values())" if rng.random() < 0.6 else f"sorted({vn}.values())", size_of(vn), True)
    if v.type == STR:
        c = fn.new_name(("ch", "c", "char"))
        fn.used.discard(c)
        fn.add_comprehension(size_of(vn))
        return Expr(f"[int({c}) for {c} in {vn} if {c}.isdigit()]", size_of(vn), True)
    return Expr(f"list({vn})", size_of(vn), True)


def list_zip(fn, depth):
    """A comprehension over zip() of two int sequences."""
    vs = [v for v in fn.env if v.type in (INT_LIST, TUPLE)]
    if len(vs) < 2:
        return None
    a, b = fn.rng.sample(vs, 2)
    fn.refs += 1
    x, y = fn.new_name(LOOP_INT_NAMES), fn.new_name(LOOP_INT_NAMES)
    fn.used.discard(x)
    fn.used.discard(y)
    an = a.name
    fn.add_comprehension(size_of(an))
    return Expr(f"[{x} {fn.rng.choice(('+', '-', '*'))} {y} for {x}, {y} in zip({a.name}, {b.name})]", size_of(an), True)


def dict_build(fn, depth):
    """A dict built from a list of strings, a string's character counts, or another dict."""
    rng = fn.rng
    v = fn.sized_var((STR_LIST, STR, DICT))
    if v is None:
        return None
    vn = v.name
    if v.type == STR_LIST:
        w = fn.new_name(LOOP_STR_NAMES)
        fn.used.discard(w)
        form = rng.randrange(3)
        if form == 0:
            fn.add_comprehension(size_of(vn))
            return Expr(f"{{{w}: len({w}) for {w} in {vn}}}", size_of(vn), True)
        if form == 1:
            return Expr(f"dict.fromkeys({vn}, {rng.randint(0, 3)})", size_of(vn), True)
        ints = fn.vars(INT_LIST)
        if ints:
            return Expr(f"dict(zip({vn}, {rng.choice(ints).name}))", size_of(vn), True)
        return Expr(f"dict.fromkeys({vn}, 0)", size_of(vn), True)
    if v.type == STR:
        c = fn.new_name(("ch", "c", "char"))
        fn.used.discard(c)
        fn.add_comprehension(size_of(vn), per=3)
        return Expr(f"{{{c}: {vn}.count({c}) for {c} in {vn}}}", lambda sizes: (sizes[vn][0], 1), True)
    k, val = fn.new_name(LOOP_KEY_NAMES), fn.new_name(LOOP_VALUE_NAMES)
    fn.used.discard(k)
    fn.used.discard(val)
    fn.add_comprehension(size_of(vn))
    if rng.random() < 0.5:
        return Expr(f"{{{k}: {val} * {rng.choice(SMALL_POSITIVE)} for {k}, {val} in {vn}.items()}}", size_of(vn), True)
    if rng.random() < 0.5:
        return Expr(f"{{{k}: {val} for {k}, {val} in {vn}.items() if {val} {rng.choice(('>', '<', '!='))} {rng.randint(0, 3)}}}", size_of(vn), True)
    return Expr(f"dict(sorted({vn}.items()))", size_of(vn), True)


def set_build(fn, depth):
    """A set of a range, a list, a dict's values, or an operation on two sets."""
    rng = fn.rng
    roll = rng.random()
    if roll < 0.25:
        k = rng.randint(1, 6)
        return Expr(f"set(range({k}))", constant_size(k), True)
    v = fn.sized_var((INT_LIST, SET, DICT))
    if v is None:
        return None
    vn = v.name
    if v.type == INT_LIST:
        if roll < 0.6:
            return Expr(f"set({vn})", size_of(vn), True)
        x = fn.new_name(LOOP_INT_NAMES)
        fn.used.discard(x)
        fn.add_comprehension(size_of(vn))
        return Expr(f"{{{x} % {rng.choice((3, 4, 5))} for {x} in {vn}}}", size_of(vn), True)
    if v.type == DICT:
        return Expr(f"set({vn}.values())", size_of(vn), True)
    other = expression(fn, SET, 0)
    if other.text == vn:
        return None
    so = other.size
    op = rng.choice(("|", "&", "-", "^"))
    return Expr(f"{vn} {op} {other.operand}", lambda sizes: (sizes[vn][0] + so(sizes)[0], 0), False)


def tuple_build(fn, depth):
    """A pair, divmod(), a tuple of a list or set, or a tuple extended or reversed."""
    rng = fn.rng
    roll = rng.random()
    if roll < 0.3:
        a, b = expression(fn, INT, depth), expression(fn, INT, depth)
        return Expr(f"({a.text}, {b.text})", constant_size(2, 2), True)
    if roll < 0.45:
        a = expression(fn, INT, depth)
        return Expr(f"divmod({a.text}, {rng.choice((2, 3, 5, 7))})", constant_size(2, 2), True)
    v = fn.sized_var((INT_LIST, SET, TUPLE))
    if v is None:
        return None
    vn = v.name
    if v.type == INT_LIST:
        return Expr(f"tuple({vn})" if rng.random() < 0.5 else f"tuple(sorted({vn}))", lambda sizes: (sizes[vn][0], 0), True)
    if v.type == SET:
        return Expr(f"tuple(sorted({vn}))", lambda sizes: (sizes[vn][0], 0), True)
    a = expression(fn, INT, 0)
    if rng.random() < 0.5:
        return Expr(f"{vn} + ({a.text},)", lambda sizes: (sizes[vn][0] + 1, sizes[vn][1] + 1), False)
    return Expr(f"{vn}[::-1]", size_of(vn), True)
