"""Simple statements: assignments, updates of a variable, tuple unpacking, and the return.

Each statement is a function `statement(fn)` of the function being made (function.py): it emits
lines, spends steps and bounds sizes, and returns False (or raises Reject) when it does not
apply, in which case FunctionBuilder.attempt undoes it. grammar.py lists them by kind.
"""

from __future__ import annotations

from codewm.programs.synthetic.budget import size_of
from codewm.programs.synthetic.expressions import Expr, expression, key_expression, str_method
from codewm.programs.synthetic.function import Var
from codewm.programs.synthetic.vocabulary import (
    BOOL, DICT, EXCEPTION, INT, INT_LIST, OBJECT, SET, SMALL_POSITIVE, STR, STR_LIST, TUPLE,
)


def assign_new(fn):
    """A new variable of a random type, bound to an expression."""
    type_ = fn.rng.choice(fn.program.types)
    expr = expression(fn, type_, 2, fresh=True)
    name = fn.var_name(type_)
    fn.emit(f"{name} = {expr.text}")
    fn.spend(1)
    fn.charge_comprehensions()
    fn.bind(Var(name, type_))
    fn.set_size(name, type_, expr.size)
    fn.touched.append(name)
    fn.count_statement("assign")


def update(fn):
    """A change to a variable in scope (in place, or rebinding it when mutation is off)."""
    rng = fn.rng
    cands = [v for v in fn.env if not v.frozen and v.type not in (EXCEPTION, OBJECT)]
    if not cands:
        return False
    v = rng.choice(cands)
    if _UPDATES[v.type](fn, v) is False:
        return False
    fn.touched.append(v.name)
    fn.spend(1)
    fn.charge_comprehensions()
    fn.count_statement()


def update_int(fn, v: Var):
    """Arithmetic on an int variable."""
    rng = fn.rng
    expr = expression(fn, INT, 2)
    choice = rng.randrange(7)
    if choice == 0:
        fn.emit(f"{v.name} += {expr.text}")
    elif choice == 1:
        fn.emit(f"{v.name} -= {expr.operand}")
    elif choice == 2:
        fn.emit(f"{v.name} = {expr.text}")
    elif choice == 3:
        fn.emit(f"{v.name} = ({v.name} * {rng.choice(SMALL_POSITIVE)} + {expr.operand}) % {rng.choice((7, 10, 11, 97, 100, 1000))}")
    elif choice == 4:
        fn.emit(f"{v.name} = {rng.choice(('max', 'min'))}({v.name}, {expr.text})")
    elif choice == 5:
        fn.emit(f"{v.name} {rng.choice(('//=', '%='))} {rng.choice(SMALL_POSITIVE)}")
    else:
        if fn.loops:
            fn.emit(f"{v.name} = {v.name} * {rng.choice(SMALL_POSITIVE)} % {rng.choice((11, 97, 1000))}")
        else:
            fn.emit(f"{v.name} *= {rng.choice(SMALL_POSITIVE)}")
    fn.feature("arith")


def update_bool(fn, v: Var):
    """A new value for a bool variable."""
    expr = expression(fn, BOOL, 2)
    form = fn.rng.randrange(3)
    if form == 0:
        fn.emit(f"{v.name} = {expr.text}")
    elif form == 1:
        fn.emit(f"{v.name} = {v.name} {fn.rng.choice(('or', 'and'))} {expr.operand}")
    else:
        fn.emit(f"{v.name} = not {v.name}")


def update_str(fn, v: Var):
    """A new value for a str variable, built from it or not."""
    rng, name = fn.rng, v.name
    form = rng.randrange(5)
    if form == 0:
        expr = expression(fn, STR, 1)
        fn.emit(f"{name} += {expr.text}")
        size = expr.size
        fn.set_size(name, STR, lambda sizes: (sizes[name][0] + size(sizes)[0], 0))
    elif form == 1:
        expr = expression(fn, STR, 1)
        fn.emit(f"{name} = {expr.operand} + {name}")
        size = expr.size
        fn.set_size(name, STR, lambda sizes: (sizes[name][0] + size(sizes)[0], 0))
    elif form == 2:
        expr = str_method(fn, Expr(name, size_of(name), True))
        if expr is None:
            return False
        fn.emit(f"{name} = {expr.text}")
        fn.set_size(name, STR, expr.size)
    else:
        expr = expression(fn, STR, 2)
        fn.emit(f"{name} = {expr.text}")
        fn.set_size(name, STR, expr.size)
    fn.feature("string")


def update_list(fn, v: Var):
    """A list variable grown, shrunk, sorted or rebound."""
    rng, name, t = fn.rng, v.name, v.type
    elem_t = INT if t == INT_LIST else STR
    if not fn.options.mutation:
        form = rng.randrange(4)
        if form == 0:
            expr = expression(fn, elem_t, 1)
            fn.emit(f"{name} = {name} + [{expr.text}]")
            size = expr.size
            fn.set_size(name, t, lambda sizes: (sizes[name][0] + 1, size(sizes)[0] if size else 0))
        elif form == 1:
            fn.emit(f"{name} = sorted({name})" if rng.random() < 0.7 else f"{name} = {name}[::-1]")
        elif form == 2:
            fn.emit(f"{name} = {name}[1:]")
        else:
            expr = expression(fn, t, 2, fresh=True)
            fn.emit(f"{name} = {expr.text}")
            fn.set_size(name, t, expr.size)
        return None
    fn.feature("mutation")
    fn.mutated.append(name)
    form = rng.randrange(12)
    if form in (0, 1, 2):
        expr = expression(fn, elem_t, 1)
        size = expr.size
        fn.emit(f"{name}.append({expr.text})")
        fn.set_size(name, t, lambda sizes: (sizes[name][0] + 1, size(sizes)[0] if size else 0))
        fn.feature("append")
    elif form == 3:
        expr = expression(fn, t, 1)
        size = expr.size
        fn.emit(f"{name}.extend({expr.text})" if rng.random() < 0.7 else f"{name} += {expr.text}")
        fn.set_size(name, t, lambda sizes: (sizes[name][0] + size(sizes)[0], size(sizes)[1]))
    elif form == 4:
        expr = expression(fn, elem_t, 1)
        size = expr.size
        fn.emit(f"{name}.insert({rng.choice((0, 0, 1, -1, 2))}, {expr.text})")
        fn.set_size(name, t, lambda sizes: (sizes[name][0] + 1, size(sizes)[0] if size else 0))
    elif form == 5:
        fn.emit(f"{name}.sort()" if rng.random() < 0.7 else f"{name}.sort(reverse=True)")
        fn.feature("sort")
    elif form == 6:
        fn.emit(f"{name}.reverse()")
    elif form == 7:
        fn.emit(f"if {name}:")
        fn.emit(f"    {name}.pop({rng.choice(('', '', '0', '-1'))})")
        fn.spend(1)
    elif form == 8:
        expr = expression(fn, elem_t, 1)
        fn.emit(f"if {expr.operand} in {name}:")
        fn.emit(f"    {name}.remove({expr.text})")
        fn.spend(1)
    elif form == 9:
        expr = expression(fn, elem_t, 1)
        size = expr.size
        i = expression(fn, INT, 1)
        fn.emit(f"if {name}:")
        fn.emit(f"    {name}[{i.operand} % len({name})] = {expr.text}")
        fn.spend(1)
        if size:
            fn.set_size(name, t, lambda sizes: (sizes[name][0], size(sizes)[0]))
    elif form == 10:
        fn.emit(f"if len({name}) > {rng.choice((1, 2, 3))}:")
        fn.emit(f"    del {name}[{rng.choice(('0', '-1', '1', ':2', '1:'))}]")
        fn.spend(1)
    else:
        fn.emit(f"{name}.clear()" if rng.random() < 0.3 else f"{name}.sort(key={rng.choice(('abs', 'str')) if t == INT_LIST else 'len'})")
    return None


def update_dict(fn, v: Var):
    """A dict variable's item set, changed or removed."""
    rng, name = fn.rng, v.name
    key = key_expression(fn)
    ksize = key.size
    grow = lambda sizes: (sizes[name][0] + 1, max(sizes[name][1], ksize(sizes)[0]))  # noqa: E731
    if not fn.options.mutation:
        expr = expression(fn, INT, 1)
        fn.emit(f"{name} = {{**{name}, {key.text}: {expr.text}}}")
        fn.set_size(name, DICT, grow)
        return None
    fn.feature("mutation")
    fn.mutated.append(name)
    form = rng.randrange(8)
    if form in (0, 1):
        expr = expression(fn, INT, 1)
        fn.emit(f"{name}[{key.text}] = {expr.text}")
        fn.set_size(name, DICT, grow)
    elif form == 2:
        expr = expression(fn, INT, 1)
        fn.emit(f"{name}[{key.text}] = {name}.get({key.text}, 0) + {expr.operand}")
        fn.set_size(name, DICT, grow)
    elif form == 3:
        expr = expression(fn, INT, 1)
        fn.emit(f"{name}.update({{{key.text}: {expr.text}}})")
        fn.set_size(name, DICT, grow)
        fn.feature("update")
    elif form == 4:
        other = expression(fn, DICT, 1)
        osize = other.size
        fn.emit(f"{name}.update({other.text})")
        fn.set_size(name, DICT, lambda sizes: (sizes[name][0] + osize(sizes)[0], max(sizes[name][1], osize(sizes)[1])))
        fn.feature("update")
    elif form == 5:
        fn.emit(f"{name}.pop({key.text}, None)")
    elif form == 6:
        expr = expression(fn, INT, 1)
        fn.emit(f"{name}.setdefault({key.text}, {expr.text})")
        fn.set_size(name, DICT, grow)
    else:
        fn.emit(f"if {key.operand} in {name}:")
        fn.emit(f"    {'del ' + name + '[' + key.text + ']' if rng.random() < 0.5 else name + '[' + key.text + '] += 1'}")
        fn.spend(1)
    return None


def update_set(fn, v: Var):
    """A set variable grown or shrunk."""
    rng, name = fn.rng, v.name
    if not fn.options.mutation:
        expr = expression(fn, INT, 1)
        fn.emit(f"{name} = {name} | {{{expr.text}}}")
        fn.set_size(name, SET, lambda sizes: (sizes[name][0] + 1, 0))
        return None
    fn.feature("mutation")
    fn.mutated.append(name)
    form = rng.randrange(4)
    if form in (0, 1):
        expr = expression(fn, INT, 1)
        fn.emit(f"{name}.add({expr.text})")
        fn.set_size(name, SET, lambda sizes: (sizes[name][0] + 1, 0))
    elif form == 2:
        expr = expression(fn, INT, 1)
        fn.emit(f"{name}.discard({expr.text})")
    else:
        expr = expression(fn, INT_LIST, 1)
        size = expr.size
        fn.emit(f"{name}.update({expr.text})" if rng.random() < 0.5 else f"{name} |= set({expr.text})")
        fn.set_size(name, SET, lambda sizes: (sizes[name][0] + size(sizes)[0], 0))
    return None


def update_tuple(fn, v: Var):
    """A tuple variable extended or rebound."""
    name = v.name
    if fn.rng.random() < 0.5:
        expr = expression(fn, INT, 1)
        fn.emit(f"{name} = {name} + ({expr.text},)")
        fn.set_size(name, TUPLE, lambda sizes: (sizes[name][0] + 1, sizes[name][1] + 1))
    else:
        expr = expression(fn, TUPLE, 2)
        fn.emit(f"{name} = {expr.text}")
        fn.set_size(name, TUPLE, expr.size)
    return None


def unpack(fn):
    """A tuple assignment: a swap, a Fibonacci step, or divmod()."""
    rng = fn.rng
    ints = fn.vars(INT, unfrozen=True)
    if rng.random() < 0.5 and len(ints) >= 2:
        a, b = rng.sample(ints, 2)
        form = rng.randrange(3)
        if form == 0:
            fn.emit(f"{a.name}, {b.name} = {b.name}, {a.name}")
        elif form == 1:
            fn.emit(f"{a.name}, {b.name} = {b.name}, {a.name} + {b.name}")
        else:
            fn.emit(f"{a.name}, {b.name} = {b.name} % {rng.choice((7, 10, 97))}, {a.name} - {b.name}")
    else:
        expr = expression(fn, INT, 1)
        q, m = fn.var_name(INT), fn.var_name(INT)
        fn.emit(f"{q}, {m} = divmod({expr.text}, {rng.choice((2, 3, 5, 7, 10))})")
        fn.bind(Var(q, INT))
        fn.bind(Var(m, INT))
    fn.spend(1)
    fn.charge_comprehensions()
    fn.count_statement("tuple")


def return_expression(fn) -> str:
    """What to return: mostly the variables changed last."""
    rng = fn.rng
    locals_ = [v for v in fn.env if v.type not in (EXCEPTION, OBJECT)]
    in_scope = {v.name: v for v in locals_}
    recent: list[Var] = []  # the variables assigned or changed last, latest first
    for name in reversed(fn.touched):
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
        return f"{a.name}, {b.name}" if not fn.crux else f"({a.name}, {b.name})"
    objs = fn.vars(OBJECT)
    if objs and roll < 0.75:
        obj = rng.choice(objs)
        spec = obj.cls
        parts = [f"{obj.name}.{a}" for a in spec.int_attrs[:1]] + [f"len({obj.name}.{spec.size_attr})"]
        return ", ".join(parts)
    if recent and rng.random() < 0.6:
        type_ = recent[0].type
    else:
        type_ = rng.choice([v.type for v in locals_] or [INT])
    return expression(fn, type_, 2).text


def final_return(fn) -> None:
    """The return statement that ends the function."""
    fn.emit(f"return {return_expression(fn)}")
    fn.spend(1)
    fn.charge_comprehensions()


# update(): how to change a variable of each type
_UPDATES = {INT: update_int, BOOL: update_bool, STR: update_str, INT_LIST: update_list, STR_LIST: update_list,
            DICT: update_dict, SET: update_set, TUPLE: update_tuple}
