"""SWE-smith's procedural bug operators, each a text edit over the smallest span it changes.

An operator takes the file's `Source`, a `Unit` (a function, or a class for the class-level
operators) and a seeded `random.Random`, and yields every `Edit` it can make there, in
source order. The caller samples and caps; an edit whose result does not parse is dropped
there too, so an operator may be optimistic about rare syntax.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

from codewm.repo.mutate_text import (
    Edit, NESTED_UNITS, Source, blocks, dedent_lines, has_multiline_string, is_elif,
    operator_span, own_nodes, remove_statement,
)


@dataclass(frozen=True)
class Unit:
    """Where mutations go: a function (kind "function") or a class ("class") whose methods
    listed in `methods` meet the complexity threshold."""

    node: ast.AST
    qualname: str
    kind: str
    methods: tuple = field(default=())


Operator = Callable[[Source, Unit, random.Random], Iterator[Edit]]

# Operands that need no parentheses wherever they move.
ATOMS = (ast.Name, ast.Constant, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Dict,
         ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.JoinedStr)

BINARY_SWAPS = {
    ast.Add: "-", ast.Sub: "+", ast.Mult: "/", ast.Div: "*", ast.FloorDiv: "*", ast.Mod: "//",
    ast.Pow: "*", ast.LShift: ">>", ast.RShift: "<<", ast.BitOr: "&", ast.BitAnd: "|",
    ast.BitXor: "|", ast.MatMult: "*",
}
COMPARE_SWAPS = {
    ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">", ast.Eq: "!=", ast.NotEq: "==",
    ast.Is: "is not", ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in",
}
# Swapping these operands gives the same value for the numbers and sets they mostly hold,
# so the mutant would survive every test: not worth a run.
SYMMETRIC = (ast.Mult, ast.BitOr, ast.BitAnd, ast.BitXor, ast.Eq, ast.NotEq, ast.Is, ast.IsNot)


def nodes_of(unit: Unit, *types) -> Iterator[ast.AST]:
    return (node for node in own_nodes(unit.node) if isinstance(node, types))


def invert_if_else(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """`if t: A else: B` -> `if t: B else: A`: the branches swap and the test stays, as in
    SWE-smith (swapping them and negating the test would be the same program, a mutant no test
    can catch). An `elif` chain is left alone."""
    for node in nodes_of(unit, ast.If):
        if not node.orelse or (len(node.orelse) == 1 and is_elif(source, node.orelse[0])):
            continue
        if not source.owns_lines(node) or node.body[0].lineno <= node.test.end_lineno:
            continue
        header_end = source.line_start(node.test.end_lineno + 1)
        if not re.fullmatch(r"[\s)]*:\s*(#.*)?\s*", source.text[source.end(node.test):header_end]):
            continue
        else_line = next((n for n in range(node.body[-1].end_lineno + 1, node.orelse[0].lineno)
                          if re.match(r"\s*else\s*:", source.lines[n - 1])), None)
        if else_line is None or node.orelse[0].lineno <= else_line:
            continue
        start = source.line_start(source.first_line(node))
        header = source.text[start:header_end]
        body = source.text[header_end:source.line_start(else_line)]
        else_text = source.lines[else_line - 1]
        orelse = source.text[source.line_start(else_line + 1):source.line_start(node.end_lineno + 1)]
        yield Edit(start, source.line_start(node.end_lineno + 1), header + orelse + else_text + body,
                   f"swap the if and else branches at line {node.lineno}", node.lineno)


def change_constant(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """A number n -> n+1 or n-1; True <-> False. Strings and f-string parts are left alone."""
    for node in nodes_of(unit, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            new = repr(not value)
        elif isinstance(value, int):
            new = repr(value + rng.choice((1, -1)))
        elif isinstance(value, float):
            new = repr(round(value + 1.0, 12))  # 3.14 -> 4.14, not 4.140000000000001
        else:
            continue
        old = source.segment(node)
        yield Edit(source.start(node), source.end(node), new,
                   f"change the constant {old} to {new} at line {node.lineno}", node.lineno)


def change_operator(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """An arithmetic, augmented, comparison or boolean operator -> a near one (+ -> -, < ->
    <=, == -> !=, in -> not in, and -> or, ...)."""
    for node in nodes_of(unit, ast.BinOp, ast.AugAssign, ast.Compare, ast.BoolOp):
        if isinstance(node, ast.BinOp) and type(node.op) in BINARY_SWAPS:
            pairs = [(node.left, node.right, BINARY_SWAPS[type(node.op)])]
        elif isinstance(node, ast.AugAssign) and type(node.op) in BINARY_SWAPS:
            pairs = [(node.target, node.value, BINARY_SWAPS[type(node.op)] + "=")]
        elif isinstance(node, ast.Compare):
            operands = [node.left] + node.comparators
            pairs = [(operands[i], operands[i + 1], COMPARE_SWAPS[type(op)])
                     for i, op in enumerate(node.ops)]
        elif isinstance(node, ast.BoolOp):
            new = "or" if isinstance(node.op, ast.And) else "and"
            pairs = [(a, b, new) for a, b in zip(node.values, node.values[1:])]
        else:
            continue
        for left, right, new in pairs:
            lo, hi = operator_span(source, source.end(left), source.start(right))
            old = source.text[lo:hi]
            if not old:
                continue
            yield Edit(lo, hi, new, f"change the operator {old} to {new} at line {left.end_lineno}",
                       left.end_lineno)


def operand_text(source: Source, node: ast.expr, parent: ast.expr) -> tuple[int, int, str]:
    """The operand's span (its own parentheses included) and its text, parenthesized when it
    could bind differently at the other side."""
    wrapped = source.is_parenthesized(node, parent)
    if wrapped:
        return wrapped[0], wrapped[1], source.text[wrapped[0]:wrapped[1]]
    text = source.segment(node)
    if not isinstance(node, ATOMS):
        text = f"({text})"
    return source.start(node), source.end(node), text


def swap_operands(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """`a - b` -> `b - a`, `a < b` -> `b < a` (operators where the swap usually changes the
    value; `==`, `*`, `|`, ... are skipped)."""
    for node in nodes_of(unit, ast.BinOp, ast.Compare):
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, SYMMETRIC):
                continue
            left, right = node.left, node.right
        else:
            if len(node.ops) != 1 or isinstance(node.ops[0], SYMMETRIC):
                continue
            left, right = node.left, node.comparators[0]
        l_lo, l_hi, l_text = operand_text(source, left, node)
        r_lo, r_hi, r_text = operand_text(source, right, node)
        yield Edit(l_lo, r_hi, r_text + source.text[l_hi:r_lo] + l_text,
                   f"swap the operands at line {node.lineno}", node.lineno)


def removals(source: Source, unit: Unit, types, what: str) -> Iterator[Edit]:
    for block in blocks(source, unit.node):
        for stmt in block:
            if isinstance(stmt, types):
                if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
                    continue  # a bare annotation assigns nothing
                edit = remove_statement(source, block, stmt, what)
                if edit:
                    yield edit


def remove_assignment(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """Delete an assignment statement (`=`, `+=`, annotated)."""
    yield from removals(source, unit, (ast.Assign, ast.AugAssign, ast.AnnAssign), "the assignment")


def remove_conditional(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """Delete an `if` statement with all its branches."""
    yield from removals(source, unit, (ast.If,), "the if statement")


def remove_loop(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """Delete a `for` or `while` loop."""
    yield from removals(source, unit, (ast.For, ast.AsyncFor, ast.While), "the loop")


def remove_wrapper(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """`with ...:` or `try: ... except ...` -> its body alone, dedented in place."""
    wrappers = (ast.With, ast.AsyncWith, ast.Try) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())
    for node in nodes_of(unit, *wrappers):
        body = node.body
        if not source.owns_lines(node) or body[0].lineno == node.lineno:
            continue
        if has_multiline_string(body) or not all(source.owns_lines(s) for s in (body[0], body[-1])):
            continue
        lo, hi = source.lines_span(node)
        text = source.text[source.line_start(source.first_line(body[0])):source.line_start(body[-1].end_lineno + 1)]
        indent = source.indent(node.lineno)
        amount = len(source.indent(source.first_line(body[0]))) - len(indent)
        kind = "with" if isinstance(node, (ast.With, ast.AsyncWith)) else "try"
        yield Edit(lo, hi, dedent_lines(text, amount, indent),
                   f"remove the {kind} wrapper at line {node.lineno}, keeping its body", node.lineno)


SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)


def shuffle_lines(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """Reorder a run of consecutive simple statements (assignments, calls) of one block so
    that some statement moves before one it depends on (reordering independent statements
    gives the same program, a mutant no test can catch). Control flow (`return`, `raise`,
    compound statements) stays where it is; blank lines and comments keep their places."""
    docstring = unit.node.body[0] if ast.get_docstring(unit.node, clean=False) is not None else None
    for block in blocks(source, unit.node):
        run: list[ast.stmt] = []
        for stmt in block + [None]:
            if stmt is not None and isinstance(stmt, SIMPLE) and stmt is not docstring and source.owns_lines(stmt):
                run.append(stmt)
                continue
            if len(run) >= 2:
                edit = shuffled(source, run, rng)
                if edit:
                    yield edit
            run = []


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return base and f"{base}.{node.attr}"
    return None


def effects(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """(names the statement writes, names it reads), names being `x` or `x.attr`; a method
    call writes its receiver (`items.append(x)` changes `items`)."""
    writes: set[str] = set()
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    for target in filter(None, targets):
        for node in ast.walk(target):
            name = dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
            if name and isinstance(getattr(node, "ctx", None), ast.Store):
                writes.add(name)
            if isinstance(node, ast.Subscript) and dotted(node.value):
                writes.add(dotted(node.value))
    reads = {dotted(n) for n in ast.walk(stmt)
             if isinstance(n, (ast.Name, ast.Attribute)) and isinstance(n.ctx, ast.Load) and dotted(n)}
    for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
        if isinstance(call.func, ast.Attribute) and dotted(call.func.value):
            writes.add(dotted(call.func.value))
    if isinstance(stmt, ast.AugAssign):
        reads |= writes
    return writes, reads


def shuffled(source: Source, run: list[ast.stmt], rng: random.Random) -> Edit | None:
    found = [effects(s) for s in run]
    ordered = {(i, j) for i in range(len(run)) for j in range(i + 1, len(run))
               if found[i][0] & (found[j][0] | found[j][1]) or found[j][0] & found[i][1]}
    if not ordered:
        return None
    order = list(range(len(run)))
    for _ in range(50):
        rng.shuffle(order)
        position = {s: k for k, s in enumerate(order)}
        if any(position[i] > position[j] for i, j in ordered):
            break
    else:
        return None
    chunks = [source.text[slice(*source.lines_span(s))] for s in run]
    gaps = [source.text[source.lines_span(a)[1]:source.lines_span(b)[0]] for a, b in zip(run, run[1:])]
    if [chunks[i] for i in order] == chunks:
        return None  # identical statements: the shuffle changes nothing
    text = "".join(chunks[i] + (gaps[k] if k < len(gaps) else "") for k, i in enumerate(order))
    lo, hi = source.lines_span(run[0])[0], source.lines_span(run[-1])[1]
    return Edit(lo, hi, text, f"shuffle the statements of lines {run[0].lineno}-{run[-1].end_lineno}",
                run[0].lineno)


def break_chain(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """`a.b().c()` -> `a.b()` (drop the last link) or `a.c()` (drop the one before)."""
    for node in nodes_of(unit, ast.Call):
        inner = node.func.value if isinstance(node.func, ast.Attribute) else None
        if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)):
            continue
        last, before = node.func.attr, inner.func.attr
        yield Edit(source.start(node), source.end(node), source.segment(inner),
                   f"break the call chain at line {node.lineno}: drop .{last}()", node.lineno)
        yield Edit(source.start(inner), source.end(inner), source.segment(inner.func.value),
                   f"break the call chain at line {node.lineno}: drop .{before}()", node.lineno)


def remove_base_class(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """`class A(B, C):` -> `class A(C):` / `class A(B):`; a lone base leaves `class A:`."""
    node = unit.node
    items = sorted(node.bases + [k for k in node.keywords], key=source.start)
    if not node.bases or getattr(node, "type_params", None):
        return
    for base in node.bases:
        i = items.index(base)
        if len(items) == 1:
            opening = source.text.rindex("(", source.start(node), source.start(base))
            closing = source.text.index(")", source.end(base))
            lo, hi = opening, closing + 1
        elif i + 1 < len(items):
            lo, hi = source.start(base), source.start(items[i + 1])
        else:
            lo, hi = source.end(items[i - 1]), source.end(base)
        yield Edit(lo, hi, "", f"remove the base class {source.segment(base)} of {node.name}",
                   base.lineno)


def remove_method(source: Source, unit: Unit, rng: random.Random) -> Iterator[Edit]:
    """Delete a method (one of the class's functions that meet the complexity threshold)."""
    for method in unit.methods:
        edit = remove_statement(source, unit.node.body, method, f"the method {method.name}")
        if edit:
            yield edit


FUNCTION_OPERATORS: dict[str, Operator] = {
    "invert_if_else": invert_if_else,
    "change_constant": change_constant,
    "change_operator": change_operator,
    "swap_operands": swap_operands,
    "remove_assignment": remove_assignment,
    "remove_conditional": remove_conditional,
    "remove_loop": remove_loop,
    "remove_wrapper": remove_wrapper,
    "shuffle_lines": shuffle_lines,
    "break_chain": break_chain,
}
CLASS_OPERATORS: dict[str, Operator] = {
    "remove_base_class": remove_base_class,
    "remove_method": remove_method,
}
OPERATORS: dict[str, Operator] = {**FUNCTION_OPERATORS, **CLASS_OPERATORS}
