"""Statements that call, and the exceptions around them: helpers, the recursive function, a class, try and raise.

A helper is called only with arguments that fit the sizes it was made for, and one that may
raise only inside a try that catches what it raises. Statement functions as in statements.py.
"""

from __future__ import annotations

from codewm.programs.synthetic.budget import Reject, constant_size
from codewm.programs.synthetic.definitions import Helper
from codewm.programs.synthetic.expressions import expression, key_expression, literal
from codewm.programs.synthetic.function import Var
from codewm.programs.synthetic.vocabulary import (
    BOOL, DICT, EXCEPTION, INT, INT_LIST, MUTABLE, OBJECT, SET, SIZED, STR, STR_LIST, TUPLE, VARIABLE_NAMES,
    literal_text, literal_value,
)


def raise_statement(fn, exc: str | None = None):
    """`if cond: raise E(...)` where an enclosing try (or f's caller) catches E."""
    if not fn.catching:
        return False
    exc = exc or fn.rng.choice(fn.catching)
    cond = expression(fn, BOOL, 2)
    fn.emit(f"if {cond.text}:")
    fn.emit(f"    raise {exc}({message(fn)})")
    fn.spend(3)
    fn.charge_comprehensions()
    fn.count_statement("raise")
    fn.raised = exc


def message(fn) -> str:
    """An exception's message: an f-string of an int, a str variable, or a literal."""
    rng = fn.rng
    ints = fn.vars(INT)
    strs = [v for v in fn.vars(STR)]
    roll = rng.random()
    if roll < 0.35 and ints:
        return f"f'bad {{{rng.choice(ints).name}}}'"
    if roll < 0.5 and strs:
        return rng.choice(strs).name
    return repr(rng.choice(("negative", "too big", "missing", "empty", "stop", "bad value", "overflow", "not found")))


def try_statement(fn):
    """A try statement in f: around a call that raises, a risky statement, or a raise."""
    rng = fn.rng
    if fn.level != 0:
        return False
    raising = [helper for helper in fn.callees if helper.raises]
    roll = rng.random()
    if raising and roll < 0.5:
        return try_helper(fn, rng.choice(raising))
    if roll < 0.5:
        return try_natural(fn)
    return try_raise(fn)


def try_natural(fn):
    """A statement that may raise one specific exception, and its handler."""
    rng = fn.rng
    forms = []
    if fn.pick(DICT):
        forms.append("key")
    if any(v.type in (INT_LIST, STR_LIST, STR) for v in fn.env):
        forms.append("index")
    if fn.pick(STR):
        forms.append("int")
    forms.append("div")
    if fn.pick(INT_LIST, unfrozen=True) and fn.options.mutation:
        forms.append("remove")
    form = rng.choice(forms)
    target = fn.var_name(INT)
    fallback = rng.choice(("-1", "0"))
    ttype = INT
    tsize = None
    if form == "key":
        d = fn.pick(DICT)
        key = key_expression(fn)
        body, exc = f"{target} = {d.name}[{key.text}]", "KeyError"
    elif form == "index":
        v = rng.choice([v for v in fn.env if v.type in (INT_LIST, STR_LIST, STR)])
        i = rng.choice(("0", "-1", "3", "len({})".format(v.name)) + tuple(x.name for x in fn.vars(INT)[:2]))
        if v.type in (STR_LIST, STR):
            target = fn.var_name(STR)
            ttype = STR
            fallback = repr(rng.choice(("", "?", "none")))
            vn = v.name
            tsize = (lambda sizes: (max(sizes[vn][1], 6), 0)) if v.type == STR_LIST else constant_size(6)
        body, exc = f"{target} = {v.name}[{i}]", "IndexError"
    elif form == "int":
        s = fn.pick(STR)
        body, exc = f"{target} = int({s.name})", "ValueError"
    elif form == "div":
        a, b = expression(fn, INT, 1), expression(fn, INT, 1)
        body, exc = f"{target} = {a.operand} // {b.operand}", "ZeroDivisionError"
    else:
        xs = fn.pick(INT_LIST, unfrozen=True)
        e = expression(fn, INT, 1)
        target = None
        body, exc = f"{xs.name}.remove({e.text})", "ValueError"
        fn.mutated.append(xs.name)
    fn.emit("try:")
    fn.emit(f"    {body}")
    fn.emit(f"except {exc}:")
    fn.emit(f"    {target} = {fallback}" if target else "    pass")
    fn.spend(4)
    fn.charge_comprehensions()
    if target:
        fn.bind(Var(target, ttype))
        if ttype == STR:
            fn.set_size(target, STR, tsize)
    fn.count_statement("try")
    fn.feature("exception")


def try_raise(fn):
    """A try block that raises an exception it catches."""
    rng = fn.rng
    exc = rng.choice(fn.program.exc_types)
    scope = len(fn.env)
    fn.emit("try:")
    fn.spend(1)
    fn.count_statement("try")
    fn.feature("exception")
    fn.depth += 1
    fn.catching.append(exc)
    try:
        if rng.random() < 0.6:
            fn.block(rng.randint(1, 2))
        if not fn.attempt(lambda fn: raise_statement(fn, exc)):
            raise Reject
        if rng.random() < 0.4:
            fn.block(1)
    finally:
        fn.catching.pop()
        fn.depth -= 1
    fn.unbind_from(scope)
    handler(fn, exc)


def try_helper(fn, helper: Helper):
    """A try block around a call of a helper that may raise, and its handler."""
    fn.emit("try:")
    fn.spend(1)
    fn.count_statement("try")
    fn.feature("exception")
    scope = len(fn.env)
    fn.depth += 1
    fn.catching.append(helper.raises)
    try:
        if not call_helper(fn, helper):
            raise Reject
        if fn.rng.random() < 0.4:
            fn.block(1)
    finally:
        fn.catching.pop()
        fn.depth -= 1
    fn.unbind_from(scope)
    handler(fn, helper.raises)


def handler(fn, exc: str) -> None:
    """`except exc` (maybe `as err`) with a block, and maybe `else` or `finally`."""
    rng = fn.rng
    scope = len(fn.env)
    if rng.random() < 0.5:
        err = fn.new_name(("err", "exc", "e", "problem"))
        fn.emit(f"except {exc} as {err}:")
        fn.bind(Var(err, EXCEPTION))
    else:
        fn.emit(f"except {exc}:")
    fn.spend(1)
    fn.nested(rng.randint(1, 2))
    fn.unbind_from(scope)
    roll = rng.random()
    if roll < 0.15:
        fn.emit("else:")
        fn.nested(1)
        fn.unbind_from(scope)
    elif roll < 0.3:
        fn.emit("finally:")
        fn.nested(1)
        fn.unbind_from(scope)
        fn.feature("finally")


def call_statement(fn):
    """A call of a helper, its result bound to a new variable."""
    plain = [helper for helper in fn.callees if not helper.recursive and not helper.raises]
    catchable = [helper for helper in fn.callees if not helper.recursive and helper.raises and helper.raises in fn.catching]
    cands = plain + catchable
    if not cands:
        if any(helper.raises for helper in fn.callees if not helper.recursive) and fn.use_exc and fn.level == 0 and fn.depth < max(1, fn.options.max_depth):
            raising = [helper for helper in fn.callees if helper.raises and not helper.recursive]
            return try_helper(fn, fn.rng.choice(raising))
        return False
    return call_helper(fn, fn.rng.choice(cands))


def call_helper(fn, helper: Helper) -> bool:
    """A call of `helper` with arguments that fit the sizes it assumes; whether it was made."""
    args = []
    checks = []
    effects = []
    seen: list[str] = []
    for index, (pname, ptype, (pn, pe)) in enumerate(helper.params):
        mutated = index in helper.mutated
        if ptype in MUTABLE and mutated:
            fits = [v for v in fn.vars(ptype, unfrozen=True) if fn.sizes[v.name][0] <= pn and fn.sizes[v.name][1] <= pe]
            v = fn.choose(fits) if fits else None
            if v is not None and v.name not in seen and fn.rng.random() < 0.7:
                args.append(v.name)
                seen.append(v.name)
                vn = v.name
                checks.append(lambda sizes, vn=vn, pn=pn, pe=pe: sizes[vn][0] <= pn and sizes[vn][1] <= pe)
                final = helper.mutated[index]
                effects.append((vn, ptype, final))
                continue
        if ptype in SIZED:
            for _ in range(3):
                expr = expression(fn, ptype, 1, fresh=mutated)
                n, e = expr.size(fn.sizes)
                if n <= pn and (ptype == TUPLE or e <= pe):
                    break
            else:
                expr = literal(fn, ptype)
        else:
            expr = expression(fn, ptype, 1)
        args.append(expr.text)
        if ptype in SIZED:
            size = expr.size
            checks.append(lambda sizes, size=size, pn=pn, pe=pe, tup=ptype == TUPLE: size(sizes)[0] <= pn and (tup or size(sizes)[1] <= pe))
    if any(args.count(name) > 1 for name in seen):  # a list mutated through two names at once
        return False

    def check(sizes):
        for c in checks:
            if not c(sizes):
                raise Reject
    fn.add_effect(("check", check))
    call = f"{helper.name}({', '.join(args)})"
    target = fn.var_name(helper.rtype)
    fn.emit(f"{target} = {call}")
    fn.spend(1 + helper.cost)
    fn.charge_comprehensions()
    for vn, ptype, final in effects:
        fn.set_size(vn, ptype, constant_size(*final))
        fn.mutated.append(vn)
    fn.bind(Var(target, helper.rtype))
    fn.touched.append(target)
    if helper.ret_size is not None:
        fn.set_size(target, helper.rtype, constant_size(*helper.ret_size))
    fn.count_statement("helper")
    if helper.raises and helper.raises in fn.catching:
        fn.feature("exception")
        fn.raised = helper.raises
    return True


def recursive_call(fn):
    """A call of the recursive function, with arguments within its depth limit."""
    recs = [helper for helper in fn.callees if helper.recursive]
    if not recs:
        return False
    helper = recs[0]
    rng = fn.rng
    max_recursion = fn.options.max_recursion_depth
    args = []
    for kind in helper.arg_kinds:
        if kind == "depth":
            limit = helper.depth_limit
            choices = [str(rng.randint(0, limit))]
            ints = fn.vars(INT)
            if ints:
                choices.append(f"{rng.choice(ints).name} % {limit + 1}")
            seqs = [v for v in fn.env if v.type in (INT_LIST, STR_LIST, STR, DICT, SET, TUPLE)]
            if seqs and limit >= 3:
                choices.append(f"min(len({rng.choice(seqs).name}), {limit})")
            args.append(rng.choice(choices))
        elif kind == "int":
            args.append(expression(fn, INT, 1).text)
        elif kind == "small":
            v = fn.pick(INT)
            args.append(f"abs({v.name}) % {rng.choice((20, 50, 100))}" if v and rng.random() < 0.6 else str(rng.randint(0, 60)))
        elif kind in (INT_LIST, STR):
            v = fn.pick(kind)
            if v is not None and rng.random() < 0.8:
                args.append(f"{v.name}[:{max_recursion}]")
            else:
                value = literal_value(rng, kind, max_recursion, False)
                args.append(literal_text(kind, value[:max_recursion]))
        else:
            args.append(expression(fn, kind, 1).text)
    target = fn.var_name(helper.rtype)
    fn.emit(f"{target} = {helper.name}({', '.join(args)})")
    fn.spend(1 + helper.cost)
    fn.charge_comprehensions()
    fn.bind(Var(target, helper.rtype))
    fn.touched.append(target)
    if helper.ret_size is not None:
        fn.set_size(target, helper.rtype, constant_size(*helper.ret_size))
    fn.count_statement("recursion")


def new_object(fn):
    """An instance of the program's class."""
    spec = fn.program.cls
    if spec is None or fn.level != 0:
        return False
    args = [expression(fn, t, 1).text for t in spec.ctor]
    name = fn.new_name((spec.name.lower(), spec.name.lower()[:3], "obj") + VARIABLE_NAMES[OBJECT])
    fn.emit(f"{name} = {spec.name}({', '.join(args)})")
    fn.spend(1 + 2 + len(spec.ctor) + 2)
    fn.charge_comprehensions()
    fn.bind(Var(name, OBJECT, cls=spec))
    fn.set_size(name, OBJECT, constant_size(spec.init_n, 0))
    fn.count_statement("class")


def method_call(fn):
    """A method call on an instance."""
    objs = fn.vars(OBJECT)
    if not objs:
        return False
    v = fn.rng.choice(objs)
    spec = v.cls
    mname, argtypes, rtype, growth, steps = fn.rng.choice(spec.methods)
    args = [expression(fn, t, 1).text for t in argtypes]
    call = f"{v.name}.{mname}({', '.join(args)})"
    vn = v.name
    if rtype is not None and fn.rng.random() < 0.7:
        target = fn.var_name(rtype)
        fn.emit(f"{target} = {call}")
        fn.bind(Var(target, rtype))
        if rtype in SIZED:
            fn.set_size(target, rtype, lambda sizes: (sizes[vn][0] * 6 + 12, 0))
    else:
        fn.emit(call)
    fn.spend(1 + steps(fn.sizes[vn][0]))
    fn.charge_comprehensions()
    if growth:
        fn.set_size(vn, OBJECT, lambda sizes: (sizes[vn][0] + growth, 0))
    fn.count_statement("method")
