"""Productions of int and bool expressions: `production(fn, depth)` -> Expr, or None where it does not apply.

The tables in grammar.py list them, with repeats as weights; expressions.py says how they are used.
"""

from __future__ import annotations

from codewm.programs.synthetic.budget import size_of
from codewm.programs.synthetic.expressions import Expr, expression, key_expression
from codewm.programs.synthetic.vocabulary import (
    BOOL, DICT, INT, INT_LIST, LOOP_INT_NAMES, LOOP_STR_NAMES, OBJECT, SET, SIZED, SMALL_POSITIVE, STR, STR_LIST,
    STR_PREDICATES, SUBSTRINGS, TUPLE, WORDS,
)


def int_arith(fn, depth):
    """a + b, a - b, or a * k."""
    a, b = expression(fn, INT, depth), expression(fn, INT, depth)
    if a.text == b.text:
        return None
    op = fn.rng.choice(("+", "-", "+", "*" if depth == 0 else "-"))
    if op == "*":
        return Expr(f"{a.operand} * {fn.rng.choice(SMALL_POSITIVE)}", None, False)
    return Expr(f"{a.operand} {op} {b.operand}", None, False)


def int_divmod(fn, depth):
    """a // k or a % k."""
    a = expression(fn, INT, depth)
    return Expr(f"{a.operand} {fn.rng.choice(('//', '%', '%'))} {fn.rng.choice((2, 3, 5, 7, 10))}", None, False)


def int_len(fn, depth):
    """len() of a variable or of an expression."""
    v = fn.sized_var()
    if v is not None and fn.rng.random() < 0.7:
        fn.feature("len")
        return Expr(f"len({v.name})", None, True)
    sized = [t for t in fn.program.types if t in SIZED]
    if not sized:
        return None
    expr = expression(fn, fn.rng.choice(sized), depth)
    return Expr(f"len({expr.text})", None, True)


def int_aggregate(fn, depth):
    """sum(), max() or min() of a collection of ints."""
    rng = fn.rng
    v = fn.sized_var((INT_LIST, SET, TUPLE))
    if v is None:
        return None
    form = rng.randrange(3)
    if form == 0:
        return Expr(f"sum({v.name})", None, True)
    return Expr(f"{rng.choice(('max', 'min'))}({v.name}, default={rng.choice((0, -1, 0))})", None, True)


def int_count(fn, depth):
    """A count or index in a list, tuple or string."""
    rng = fn.rng
    v = fn.sized_var((INT_LIST, TUPLE, STR, STR_LIST))
    if v is None:
        return None
    if v.type == STR:
        meth = rng.choice(("count", "find", "rfind", "count"))
        return Expr(f"{v.name}.{meth}({rng.choice(SUBSTRINGS)!r})", None, True)
    if v.type == STR_LIST:
        return Expr(f"{v.name}.count({rng.choice(WORDS)!r})", None, True)
    a = expression(fn, INT, 0)
    if rng.random() < 0.5:
        return Expr(f"{v.name}.count({a.text})", None, True)
    return Expr(f"{v.name}.index({a.text}) if {a.text} in {v.name} else -1", None, False)


def int_get(fn, depth):
    """A dict lookup with a default, its values' sum or its length."""
    v = fn.pick(DICT)
    if v is None:
        return None
    rng = fn.rng
    if rng.random() < 0.25:
        return Expr(f"sum({v.name}.values())" if rng.random() < 0.6 else f"len({v.name})", None, True)
    key = key_expression(fn)
    fn.feature("dict_get")
    return Expr(f"{v.name}.get({key.text}, {rng.choice((0, 0, 1, -1))})", None, True)


def int_subscript(fn, depth):
    """An item of a list or tuple, guarded against emptiness."""
    rng = fn.rng
    v = fn.sized_var((INT_LIST, TUPLE))
    if v is None:
        return None
    i = expression(fn, INT, 0)
    if v.type == TUPLE and rng.random() < 0.5:
        return Expr(f"{v.name}[{rng.choice((0, -1))}] if {v.name} else 0", None, False)
    return Expr(f"{v.name}[{i.operand} % len({v.name})] if {v.name} else 0", None, False)


def int_misc(fn, depth):
    """ord() of a character, int() of a digit string, abs(), min() or max()."""
    rng = fn.rng
    chars = [v for v in fn.env if v.char]
    roll = rng.random()
    if chars and roll < 0.3:
        return Expr(f"ord({fn.choose(chars).name})", None, True)
    s = fn.pick(STR)
    if s is not None and roll < 0.5:
        return Expr(f"int({s.name}) if {s.name}.isdigit() else {rng.choice((0, -1, 1))}", None, False)
    a = expression(fn, INT, depth)
    if roll < 0.7:
        return Expr(f"abs({a.text})", None, True)
    b = expression(fn, INT, depth)
    return Expr(f"{rng.choice(('min', 'max'))}({a.text}, {b.text})", None, True)


def int_conditional(fn, depth):
    """a if cond else b."""
    c, a, b = expression(fn, BOOL, depth), expression(fn, INT, depth), expression(fn, INT, depth)
    if a.text == b.text:
        return None
    return Expr(f"{a.operand} if {c.operand} else {b.operand}", None, False)


def int_attribute(fn, depth):
    """An int attribute of an instance, or the length of its collection."""
    objs = fn.vars(OBJECT)
    if not objs:
        return None
    o = fn.choose(objs)
    spec = o.cls
    if spec.int_attrs and fn.rng.random() < 0.6:
        return Expr(f"{o.name}.{fn.rng.choice(spec.int_attrs)}", None, True)
    return Expr(f"len({o.name}.{spec.size_attr})", None, True)


def bool_compare(fn, depth):
    """A comparison of two ints."""
    a, b = expression(fn, INT, depth), expression(fn, INT, depth)
    if a.text == b.text:
        return None
    return Expr(f"{a.operand} {fn.rng.choice(('<', '<=', '>', '>=', '==', '!='))} {b.operand}", None, False)


def bool_modulo(fn, depth):
    """a % k == r (or !=)."""
    a = expression(fn, INT, depth)
    k = fn.rng.choice((2, 2, 3, 5))
    return Expr(f"{a.operand} % {k} {fn.rng.choice(('==', '!='))} {fn.rng.randrange(k)}", None, False)


def bool_in(fn, depth):
    """Membership in a collection or string."""
    rng = fn.rng
    v = fn.sized_var()
    if v is None:
        return None
    if v.type in (INT_LIST, SET, TUPLE):
        a = expression(fn, INT, 0)
        return Expr(f"{a.operand} {rng.choice(('in', 'not in', 'in'))} {v.name}", None, False)
    if v.type == STR:
        return Expr(f"{rng.choice(SUBSTRINGS)!r} in {v.name}", None, False)
    if v.type == STR_LIST:
        a = expression(fn, STR, 0)
        return Expr(f"{a.operand} in {v.name}", None, False)
    return Expr(f"{key_expression(fn).operand} in {v.name}", None, False)


def bool_str(fn, depth):
    """startswith/endswith or an is...() predicate of a string."""
    if STR not in fn.program.has:
        return None
    rng = fn.rng
    s = expression(fn, STR, depth)
    if rng.random() < 0.5:
        return Expr(f"{s.operand}.{rng.choice(('startswith', 'endswith'))}({rng.choice(SUBSTRINGS)!r})", None, True)
    return Expr(f"{s.operand}.{rng.choice(STR_PREDICATES)}()", None, True)


def bool_logic(fn, depth):
    """not a, a and b, a or b."""
    rng = fn.rng
    if rng.random() < 0.3:
        a = expression(fn, BOOL, depth)
        return Expr(f"not {a.operand}", None, False)
    a, b = expression(fn, BOOL, depth), expression(fn, BOOL, depth)
    if a.text == b.text:
        return None
    return Expr(f"{a.operand} {rng.choice(('and', 'or'))} {b.operand}", None, False)


def bool_len(fn, depth):
    """Emptiness or a length comparison."""
    v = fn.sized_var()
    if v is None:
        return None
    if fn.rng.random() < 0.4:
        return Expr(f"not {v.name}", None, False)
    return Expr(f"len({v.name}) {fn.rng.choice(('>', '<', '>=', '=='))} {fn.rng.randint(0, 4)}", None, False)


def bool_any(fn, depth):
    """any() or all() over a generator."""
    v = fn.sized_var((INT_LIST, TUPLE, STR_LIST))
    if v is None:
        return None
    name = fn.new_name(LOOP_INT_NAMES if v.type != STR_LIST else LOOP_STR_NAMES)
    fn.used.discard(name)
    body = f"{name} > {fn.rng.randint(0, 5)}" if v.type != STR_LIST else f"{name}.{fn.rng.choice(STR_PREDICATES)}()"
    fn.add_comprehension(size_of(v.name), per=3)
    return Expr(f"{fn.rng.choice(('any', 'all'))}({body} for {name} in {v.name})", None, True)


def bool_equal(fn, depth):
    """A comparison of two strings."""
    if STR not in fn.program.has:
        return None
    a, b = expression(fn, STR, depth), expression(fn, STR, depth)
    if a.text == b.text:
        return None
    return Expr(f"{a.operand} {fn.rng.choice(('==', '!=', '<'))} {b.operand}", None, False)
