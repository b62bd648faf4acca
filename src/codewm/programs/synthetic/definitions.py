"""Module-level definitions a program's f may use: helper functions, a recursive function and a small class.

Helpers are generated like f (a FunctionBuilder with a smaller budget); the recursive function
and the class come from templates, with a base case and a shrinking argument for recursion.
"""

from __future__ import annotations

from codewm.programs.synthetic.budget import STEPS, Reject
from codewm.programs.synthetic.expressions import expression
from codewm.programs.synthetic.function import FunctionBuilder, Var
from codewm.programs.synthetic.vocabulary import (
    CAP, CLASS_NAMES, ELEMENT_CAP, HELPER_NAMES, INT, INT_LIST, MUTABLE, PARAM_SIZE, RECURSIVE_NAMES, SET, SIZED,
    SMALL_POSITIVE, STR, TUPLE,
)


class Helper:
    """A module-level function f may call: its parameters, what it returns and costs, what it mutates and raises."""

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
        self.arg_kinds = arg_kinds  # recursive functions: how to build each argument
        self.feats: list[str] = []
        self.depth_limit = 0  # recursive functions: the largest depth argument


class ClassSpec:
    """A small class: its source lines, how it is built and which methods f may call."""

    def __init__(self, name, lines, ctor, init_n, methods, int_attrs, size_attr):
        self.name = name
        self.lines = lines
        self.ctor = ctor  # argument types of __init__
        self.init_n = init_n
        self.methods = methods  # [(name, arg types, return type or None, growth per call, steps)]
        self.int_attrs = int_attrs
        self.size_attr = size_attr  # attribute holding its collection (len() of it is an int)


def make_helper(prog, level: int, callees: list[Helper], use_exc: bool) -> Helper:
    """A helper function at call depth `level` that may call `callees` (and raise, given use_exc)."""
    rng, options = prog.rng, prog.options
    name = prog.global_name(HELPER_NAMES)
    feats_start = len(prog.feats)
    fn = FunctionBuilder(prog, name, level=level, callees=callees, use_exc=False)
    params = []
    for _ in range(rng.randint(1, 2)):
        type_ = rng.choice(prog.types)
        var = Var(fn.var_name(type_), type_)
        fn.bind(var)
        size = PARAM_SIZE.get(type_)
        if size is not None:
            fn.sizes[var.name] = size
        params.append((var.name, type_, size or (0, 0)))
    raises = None
    forced = ["call"] * len(callees)
    raising = [helper.raises for helper in callees if helper.raises]
    if raising:  # let what a callee raises pass through (f catches it)
        fn.catching = [raising[0]]
        if rng.random() < 0.3:
            forced.append("raise")
    elif use_exc and rng.random() < 0.5:
        raises = rng.choice(prog.exc_types)
        fn.catching = [raises]
        forced.append("raise")
    fn.forced = forced
    fn.remaining = rng.randint(1, max(1, options.max_statements // 2))
    fn.body()
    returnable = [v.type for v in fn.env[len(params):] + fn.env[:len(params)] if v.type in prog.has and v.type not in (SET, TUPLE)]
    if returnable and rng.random() < 0.7:
        rtype = returnable[0] if rng.random() < 0.5 else rng.choice(returnable)
    else:
        rtype = rng.choice([t for t in prog.types if t not in (SET, TUPLE)] + [INT, INT])
    ret = expression(fn, rtype, 2, fresh=True)
    fn.emit(f"return {ret.text}")
    fn.spend(1)
    fn.charge_comprehensions()
    ret_size = None
    if rtype in SIZED:
        ret_size = ret.size(fn.sizes)
        if ret_size[0] > CAP[rtype] or (rtype != TUPLE and ret_size[1] > ELEMENT_CAP):
            raise Reject
    raises = fn.raised
    mutated = {}
    for index, (pname, ptype, _) in enumerate(params):
        if ptype in MUTABLE and pname in fn.mutated:
            mutated[index] = fn.sizes[pname]
    header = f"def {name}({', '.join(param[0] for param in params)}):"
    helper = Helper(name, params, rtype, ret_size, fn.sizes[STEPS], mutated, raises, [header] + fn.lines)
    helper.feats = prog.feats[feats_start:] + ["helper"]
    del prog.feats[feats_start:]
    return helper


def make_recursive(prog) -> Helper:
    """A recursive function from a template, with a base case and a shrinking argument."""
    rng = prog.rng
    max_depth = prog.options.max_recursion_depth
    name = prog.global_name(RECURSIVE_NAMES)
    has = prog.has
    forms = ["count", "count", "fact", "digits"]
    if INT_LIST in has:
        forms += ["list_sum", "list_build"]
    if STR in has:
        forms += ["str_rev"]
    if max_depth >= 2:
        forms += ["gcd"]
    form = rng.choice(forms)
    k = rng.choice(SMALL_POSITIVE)
    m = rng.choice((7, 10, 97, 1000))
    per_call = 4
    depth_limit = max_depth
    if form == "count":
        acc_expr = rng.choice((f"acc + n * {k}", f"acc + n", f"(acc * {k} + n) % {m}", f"acc - n", f"acc + n % {k}"))
        base = rng.choice(("n <= 0", "n < 1", "n == 0 or n < 0"))
        lines = [f"def {name}(n, acc):", f"    if {base}:", "        return acc", f"    return {name}(n - 1, {acc_expr})"]
        arg_kinds = ["depth", "int"]
        rtype, ret_size = INT, None
    elif form == "fact":
        combine = rng.choice((f"n * {name}(n - 1)", f"{name}(n - 1) + n", f"({name}(n - 1) * {k} + n) % {m}", f"{name}(n - 1) + {name}(n - 2)"))
        if "n - 2" in combine:
            depth_limit = min(max_depth, 4)
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
        arg_kinds = [INT_LIST]
        rtype, ret_size = INT, None
    elif form == "list_build":
        item = rng.choice(("n * n", "n", f"n % {k}", f"n * {k}", "-n"))
        order = rng.random() < 0.5
        tail = f"{name}(n - 1) + [{item}]" if order else f"[{item}] + {name}(n - 1)"
        lines = [f"def {name}(n):", "    if n <= 0:", "        return []", f"    return {tail}"]
        arg_kinds = ["depth"]
        rtype, ret_size = INT_LIST, (max_depth + 1, 0)
    else:  # str_rev
        combine = rng.choice((f"{name}(s[1:]) + s[0]", f"s[0].upper() + {name}(s[1:])", f"{name}(s[1:]) + s[0] * 2",
                              f"s[-1] + {name}(s[:-1])"))
        lines = [f"def {name}(s):", "    if not s:", "        return ''", f"    return {combine}"]
        arg_kinds = [STR]
        rtype, ret_size = STR, (2 * max_depth, 0)
    calls = (2 ** (depth_limit + 1)) if "n - 2" in lines[-1] else depth_limit + 2
    cost = calls * per_call
    helper = Helper(name, [], rtype, ret_size, cost, {}, None, lines, recursive=True, arg_kinds=arg_kinds)
    helper.depth_limit = depth_limit
    return helper


def make_class(prog) -> ClassSpec:
    """A small class from one of four templates: an accumulator, a stack, a point, a word counter."""
    rng = prog.rng
    with_repr = rng.random() < 0.5
    form = rng.randrange(4) if STR in prog.has else rng.randrange(3)
    name = prog.global_name(CLASS_NAMES[form])
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
        return ClassSpec(name, lines, [INT], 0, methods, [total], items)
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
        return ClassSpec(name, lines, [], 0, methods, [], data)
    if form == 2:  # a point
        lines = [f"class {name}:", "    def __init__(self, x, y):", "        self.x = x", "        self.y = y", "        self.moves = []",
                 "    def move(self, dx, dy):", "        self.x += dx", "        self.y += dy", "        self.moves.append(dx + dy)",
                 f"        return {rng.choice(('abs(self.x) + abs(self.y)', 'self.x * self.y', 'max(self.x, self.y)'))}"]
        if with_repr:
            lines += ["    def __repr__(self):", f"        return f'{name}({{self.x}}, {{self.y}})'"]
        methods = [("move", [INT, INT], INT, 1, lambda n: 6)]
        return ClassSpec(name, lines, [INT, INT], 0, methods, ["x", "y"], "moves")
    # a word counter (dict keyed by strings)
    lines = [f"class {name}:", "    def __init__(self, label):", "        self.label = label", "        self.counts = {}",
             "    def add(self, word):", "        self.counts[word] = self.counts.get(word, 0) + 1", "        return self.counts[word]",
             "    def total(self):", "        return sum(self.counts.values())",
             "    def report(self):", "        return self.label + ':' + ','.join(sorted(self.counts))"]
    if with_repr:
        lines += ["    def __repr__(self):", f"        return f'{name}({{self.label!r}}, {{len(self.counts)}})'"]
    methods = [("add", [STR], INT, 1, lambda n: 4), ("add", [STR], INT, 1, lambda n: 4), ("total", [], INT, 0, lambda n: 3),
               ("report", [], STR, 0, lambda n: 3)]
    return ClassSpec(name, lines, [STR], 0, methods, [], "counts")
