"""Model-written tests read as (call, check): what to predict, and how a prediction passes.

A test is one assert statement, e.g. `assert add(2, 3) == 5`. Its *call* is the one call of
the entry point in it (`add(2, 3)`): the input a world model predicts the candidate's value
for. Its *check* is the statement with that call replaced by `VALUE_NAME`, which the real
run evaluates with the value bound (so the function runs once per test). A predicted value
passes when the check holds for it: for `== LITERAL` (either side), `assert CALL`,
`assert not CALL` and `CALL is True/False/None` that is decided here without running
anything; other checks (`abs(CALL - 1.5) < 1e-6`) cannot be decided from a prediction and
read as unknown. A test with no call of the entry point, or with more than one, has no call
(only real execution can say whether it passes).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from codewm.programs.humaneval import NotConstant, constant_value

VALUE_NAME = "__codewm_value__"

# TestCase.kind values: how a predicted value is checked
EQUALS = "equals"  # CALL == LITERAL (either side)
TRUTHY = "truthy"  # assert CALL
FALSY = "falsy"  # assert not CALL
IS = "is"  # CALL is True / False / None
OTHER = "other"  # anything else: undecidable from a prediction


@dataclass(frozen=True)
class TestCase:
    source: str  # the assert statement as written
    call: str | None  # the entry-point call it checks, or None
    check: str  # the statement with the call replaced by VALUE_NAME (source when no call)
    kind: str = OTHER
    expected: str | None = None  # the literal for EQUALS / IS

    def verdict(self, value: str | None) -> bool | None:
        """Whether the check holds for a predicted value (its repr), None when a prediction
        cannot decide it (no value, a value that is no literal, a check of kind OTHER)."""
        if value is None or self.call is None or self.kind == OTHER:
            return None
        try:
            got = _literal(value)
        except NotConstant:
            return None
        try:
            if self.kind == TRUTHY:
                return bool(got)
            if self.kind == FALSY:
                return not got
            expected = _literal(self.expected or "")
            if self.kind == IS:
                return got is expected
            return bool(got == expected)
        except NotConstant:
            return None
        except Exception:  # a comparison of odd literals (never user code: both are literals)
            return False


def _literal(text: str):
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise NotConstant("not an expression") from None
    if isinstance(node, ast.Name) and node.id in ("inf", "nan"):  # repr of float('inf'), float('nan')
        return float(node.id)
    return constant_value(node)


def _entry_calls(tree: ast.AST, entry_point: str) -> list[ast.Call]:
    """The outermost calls of `entry_point` in `tree` (calls inside them not counted)."""
    found: list[ast.Call] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point:
            found.append(node)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.Call) -> None:
        self.target = target

    def visit_Call(self, node: ast.Call):
        if node is self.target:
            return ast.copy_location(ast.Name(VALUE_NAME, ast.Load()), node)
        return self.generic_visit(node)


def parse_test(statement: str, entry_point: str) -> TestCase:
    """A test statement read as a TestCase (see the module docstring). A statement that is
    not one assert, or does not parse, is kept whole (call None): only a real run judges it."""
    try:
        tree = ast.parse(statement)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return TestCase(statement, None, statement)
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return TestCase(statement, None, statement)
    test = tree.body[0].test
    calls = _entry_calls(test, entry_point)
    if len(calls) != 1 or any(_entry_calls(arg, entry_point) for arg in calls[0].args + [k.value for k in calls[0].keywords]):
        return TestCase(statement, None, statement)  # f(a) == f(b), f(f(x)): no one input to predict
    call = calls[0]
    kind, expected = _kind(test, call)
    call_text = ast.unparse(call)
    check = ast.unparse(ast.fix_missing_locations(_Replace(call).visit(tree)))
    return TestCase(statement, call_text, check, kind, expected)


def _kind(test: ast.expr, call: ast.Call) -> tuple[str, str | None]:
    """How a predicted value of `call` is checked by the assertion `test`."""
    if test is call:
        return TRUTHY, None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and test.operand is call:
        return FALSY, None
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.Is)):
        left, right = test.left, test.comparators[0]
        other = right if left is call else left if right is call else None
        if other is not None:
            try:
                constant_value(other)
            except NotConstant:
                return OTHER, None
            except Exception:  # a constant expression that fails to evaluate (1 / 0)
                return OTHER, None
            return (EQUALS if isinstance(test.ops[0], ast.Eq) else IS), ast.unparse(other)
    return OTHER, None
