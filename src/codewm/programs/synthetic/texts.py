"""Productions of str and list-of-str expressions: `production(fn, depth)` -> Expr, or None where it does not apply.

The tables in grammar.py list them, with repeats as weights; expressions.py says how they are used.
"""

from __future__ import annotations

from codewm.programs.synthetic.budget import constant_size, size_of
from codewm.programs.synthetic.expressions import Expr, expression, str_method
from codewm.programs.synthetic.vocabulary import (
    BOOL, DICT, ELEMENT_CAP, EXCEPTION, INT, INT_LIST, INT_TEXT, LOOP_INT_NAMES, LOOP_STR_NAMES, SEPARATORS,
    SPLITTERS, STR, STR_LIST, STR_PREDICATES, SUBSTRINGS,
)


def str_method_call(fn, depth):
    """A str method applied to a str expression."""
    base = expression(fn, STR, depth)
    expr = str_method(fn, base)
    fn.feature("str_method")
    return expr


def str_slice(fn, depth):
    """A slice of a str expression."""
    rng = fn.rng
    base = expression(fn, STR, depth)
    size = base.size
    form = rng.randrange(4)
    if form == 0:
        a = rng.randint(0, 3)
        b = a + rng.randint(1, 5)
        return Expr(f"{base.operand}[{a}:{b}]", size, True)
    if form == 1:
        return Expr(f"{base.operand}[{rng.choice(('::-1', '::2', '1:', ':-1', '1::2'))}]", size, True)
    k = rng.randint(1, 4)
    return Expr(f"{base.operand}[{':' if form == 2 else ''}{k}{':' if form == 3 else ''}]", size, True)


def str_concat(fn, depth):
    """a + b of two strings."""
    a, b = expression(fn, STR, depth), expression(fn, STR, depth)
    sa, sb = a.size, b.size
    fn.feature("string")
    return Expr(f"{a.operand} + {b.operand}", lambda sizes: (sa(sizes)[0] + sb(sizes)[0], 0), False)


def str_repeat(fn, depth):
    """A string repeated 2 or 3 times."""
    a = expression(fn, STR, depth)
    k = fn.rng.choice((2, 3))
    sa = a.size
    return Expr(f"{a.operand} * {k}", lambda sizes: (sa(sizes)[0] * k, 0), False)


def str_join(fn, depth):
    """sep.join() of a list of strings, or of a string's sorted or reversed characters."""
    rng = fn.rng
    sep = rng.choice(SEPARATORS)
    if rng.random() < 0.7 and STR_LIST in fn.program.has:
        ws = expression(fn, STR_LIST, depth)
        size = ws.size
        if rng.random() < 0.3:
            w = fn.new_name(LOOP_STR_NAMES)
            fn.used.discard(w)
            fn.add_comprehension(size, per=3)
            m = rng.choice(("upper", "lower", "title", "strip"))
            return Expr(f"{sep!r}.join({w}.{m}() for {w} in {ws.text})", lambda sizes: (size(sizes)[0] * (size(sizes)[1] + len(sep)), 0), True)
        return Expr(f"{sep!r}.join({ws.text})", lambda sizes: (size(sizes)[0] * (size(sizes)[1] + len(sep)), 0), True)
    s = expression(fn, STR, depth)
    size = s.size
    return Expr(f"{sep!r}.join(sorted({s.text}))" if rng.random() < 0.6 else f"{sep!r}.join(reversed({s.text}))",
            lambda sizes: (size(sizes)[0] * (1 + len(sep)), 0), True)


def str_format(fn, depth):
    """str() of an int, or an f-string of a string and an int."""
    rng = fn.rng
    a = expression(fn, INT, depth)
    if rng.random() < 0.5:
        return Expr(f"str({a.text})", constant_size(INT_TEXT), True)
    s = expression(fn, STR, 0)
    ss = s.size
    sep = rng.choice(("-", ":", " ", "", "="))
    plain = not any(ch in s.text or ch in a.text for ch in "'\"{}\\")
    return Expr(f"f'{{{s.text}}}{sep}{{{a.text}}}'" if plain else f"str({a.text})",
            lambda sizes: (ss(sizes)[0] + len(sep) + INT_TEXT, 0), True)


def str_at(fn, depth):
    """A character of a string or an item of a list of strings, guarded against emptiness."""
    rng = fn.rng
    v = fn.sized_var((STR, STR_LIST))
    if v is None:
        return None
    i = expression(fn, INT, 0)
    vn = v.name
    size = constant_size(1) if v.type == STR else (lambda sizes: (max(sizes[vn][1], 1), 0))
    fb = rng.choice(("''", "'?'", "'-'"))
    if rng.random() < 0.4:
        return Expr(f"{vn}[{rng.choice((0, -1))}] if {vn} else {fb}", size, False)
    return Expr(f"{vn}[{i.operand} % len({vn})] if {vn} else {fb}", size, False)


def str_pick(fn, depth):
    """max() or min() of a list of strings or of a dict's keys."""
    rng = fn.rng
    v = fn.sized_var((STR_LIST, DICT))
    if v is None:
        return None
    vn = v.name
    return Expr(f"{rng.choice(('max', 'min'))}({vn}, default={rng.choice(('', 'none'))!r})", lambda sizes: (sizes[vn][1], 0), True)


def str_conditional(fn, depth):
    """a if cond else b, of strings."""
    c, a, b = expression(fn, BOOL, depth), expression(fn, STR, depth), expression(fn, STR, depth)
    if a.text == b.text:
        return None
    sa, sb = a.size, b.size
    return Expr(f"{a.operand} if {c.operand} else {b.operand}", lambda sizes: (max(sa(sizes)[0], sb(sizes)[0]), 0), False)


def str_exception(fn, depth):
    """str() of the exception caught last."""
    errs = fn.vars(EXCEPTION)
    if not errs:
        return None
    fn.refs += 1
    return Expr(f"str({errs[-1].name})", constant_size(ELEMENT_CAP), True)


def words_split(fn, depth):
    """str.split() of a str expression."""
    rng = fn.rng
    s = expression(fn, STR, depth)
    size = s.size
    fn.feature("str_method")
    if rng.random() < 0.5:
        return Expr(f"{s.operand}.split()", lambda sizes: ((size(sizes)[0] + 1) // 2, size(sizes)[0]), True)
    return Expr(f"{s.operand}.split({rng.choice(SPLITTERS)!r})", lambda sizes: (size(sizes)[0] + 1, size(sizes)[0]), True)


def words_comprehension(fn, depth):
    """A list comprehension of strings over a collection or string."""
    rng = fn.rng
    v = fn.sized_var((STR_LIST, INT_LIST, DICT, STR))
    if v is None:
        return None
    vn = v.name
    fn.add_comprehension(size_of(vn))
    w = fn.new_name(LOOP_STR_NAMES if v.type != INT_LIST else LOOP_INT_NAMES)
    fn.used.discard(w)
    if v.type == INT_LIST:
        return Expr(f"[str({w}) for {w} in {vn}]", lambda sizes: (sizes[vn][0], INT_TEXT), True)
    if v.type == DICT:
        return Expr(f"[{w} for {w} in {vn} if {vn}[{w}] {rng.choice(('>', '<', '!='))} {rng.randint(0, 3)}]", size_of(vn), True)
    if v.type == STR:
        return Expr(f"[{w} for {w} in {vn} if {w}.{rng.choice(STR_PREDICATES)}()]", lambda sizes: (sizes[vn][0], 1), True)
    if rng.random() < 0.5:
        m = rng.choice(("upper", "lower", "title", "strip", "capitalize"))
        return Expr(f"[{w}.{m}() for {w} in {vn}]", size_of(vn), True)
    if rng.random() < 0.5:
        return Expr(f"[{w} for {w} in {vn} if {w}.{rng.choice(('startswith', 'endswith'))}({rng.choice(SUBSTRINGS)!r})]", size_of(vn), True)
    return Expr(f"[{w}[::-1] for {w} in {vn} if len({w}) > {rng.randint(0, 3)}]", size_of(vn), True)


def words_misc(fn, depth):
    """The characters of a string, or a dict's keys, as a list."""
    rng = fn.rng
    v = fn.sized_var((STR, DICT))
    if v is None:
        return None
    vn = v.name
    if v.type == STR:
        return Expr(f"list({vn})" if rng.random() < 0.5 else f"sorted({vn})", lambda sizes: (sizes[vn][0], 1), True)
    return Expr(f"list({vn})" if rng.random() < 0.4 else f"sorted({vn}{rng.choice(('', '.keys()'))})", size_of(vn), True)
