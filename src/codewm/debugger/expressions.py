"""Expressions over the predicted state (`p EXPR`, `pp`, `display`, conditional breakpoints,
`set NAME = EXPR`), evaluated in the sandbox, never in codewm's process.

The predicted locals are the model's text: reprs, not objects. A value whose text is a
Python literal (`[1, 2]`, `{'a': 3}`, `'x'`) is rebuilt from it (`ast.literal_eval` checks
it is one); a value that is not (`<Node object at 0x...>`, a repr cut short) cannot be, and an
expression that uses it gets a message saying so. The expression runs in a small script:

    <the program's own definitions, for a function program>
    def __codewm_evaluate__(x, total):   # the names the expression uses, bound to the values
        return (EXPR)
    print(MARKER + repr(__codewm_evaluate__(x=[1, 2], total=3)))

run untraced in the sandbox, so that what the expression does (a call to a program's
function, a `__repr__`) happens where the program's own code would.
"""

from __future__ import annotations

import ast
import secrets
from dataclasses import dataclass
from typing import Callable

EVALUATOR = "__codewm_evaluate__"
MODULE_NAME = "codewm_evaluate"  # not "__main__": a program's `if __name__ == "__main__":` block stays asleep


class ExpressionError(ValueError):
    """An expression that cannot be evaluated over the predicted state (says why)."""


@dataclass(frozen=True)
class Evaluation:
    """What an expression gave: its repr, or the exception it raised (as `Type: message`)."""

    value: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_expression(text: str) -> ast.expr:
    """`text` as an expression's tree, or an ExpressionError that says why it is not one."""
    text = text.strip()
    if not text:
        raise ExpressionError("an expression is needed")
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"{text!r} is not a Python expression ({exc.msg})") from None


def literal_source(text: str) -> str | None:
    """The source of a predicted value rebuilt as a Python literal, or None when its text is
    not one (an object's default repr, a value cut short)."""
    try:
        ast.literal_eval(text)
        return ast.unparse(ast.parse(text.strip(), mode="eval").body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def names_used(tree: ast.AST) -> list[str]:
    """The names an expression reads, in order of first use."""
    return list(dict.fromkeys(node.id for node in ast.walk(tree) if isinstance(node, ast.Name)))


def evaluation_script(expression: str, values: dict[str, str], definitions: str = "", *, pretty: bool = False, truth: bool = False) -> tuple[str, str]:
    """The script that evaluates `expression` with the predicted `values` bound, and the
    marker its answer follows on stdout. Raises ExpressionError when the expression does
    not parse or uses a predicted value that is not a literal."""
    tree = parse_expression(expression)
    bound: dict[str, str] = {}
    for name in names_used(tree):
        if name not in values or not name.isidentifier():
            continue  # a global, a builtin or a typo: the sandbox says which
        source = literal_source(values[name])
        if source is None:
            raise ExpressionError(
                f"the predicted value of {name} ({_cut(values[name])}) is not a Python literal, so it cannot be rebuilt "
                f"to evaluate {expression.strip()!r} on; `p {name}` shows the model's text"
            )
        bound[name] = source
    body = ast.unparse(tree)
    if truth:
        body = f"bool({body})"
    marker = f"<codewm-value-{secrets.token_hex(8)}>"
    shown = "__import__('pprint').pformat(__codewm_value__)" if pretty else "repr(__codewm_value__)"
    arguments = ", ".join(f"{name}=({source})" for name, source in bound.items())
    lines = [
        definitions.rstrip("\n"),
        f"def {EVALUATOR}({', '.join(bound)}):",
        f"    return ({body})",
        f"__codewm_value__ = {EVALUATOR}({arguments})",
        f"print({marker!r} + {shown})",
    ]
    return "\n".join(lines) + "\n", marker


def evaluate_expression(
    expression: str,
    values: dict[str, str],
    run: Callable,
    definitions: str = "",
    *,
    pretty: bool = False,
    truth: bool = False,
) -> Evaluation:
    """Evaluate `expression` over the predicted `values` in the sandbox: `run(program)` runs a
    `codewm.trace.sandbox.Program` and returns its `RunResult`. With `pretty`, the value is
    `pprint.pformat`'s text; with `truth`, `bool(expression)`'s."""
    from codewm.trace.sandbox import Program

    script, marker = evaluation_script(expression, values, definitions, pretty=pretty, truth=truth)
    result = run(Program(script, script=True, traced=False, module_name=MODULE_NAME))
    if result.status != "ok":
        return Evaluation(None, _error_text(result))
    _, found, answer = result.stdout.rpartition(marker)
    if not found:
        return Evaluation(None, "the evaluation printed no value (its output was cut short)")
    return Evaluation(answer[:-1] if answer.endswith("\n") else answer)


def _error_text(result) -> str:
    error = result.error or result.status
    if result.status == "exception":
        # the sandbox gives the exception's repr (`NameError("name 'q' is not defined")`):
        # shown as Python prints it, `NameError: name 'q' is not defined`
        try:
            call = ast.parse(error, mode="eval").body
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and len(call.args) == 1 and not call.keywords:
                return f"{call.func.id}: {ast.literal_eval(call.args[0])}"
        except (SyntaxError, ValueError):
            pass
        return error
    return f"{result.status}: {error}"


def _cut(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


__all__ = ["Evaluation", "ExpressionError", "evaluate_expression", "evaluation_script", "literal_source", "names_used", "parse_expression"]
