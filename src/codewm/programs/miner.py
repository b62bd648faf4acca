"""Mine real functions from a folder of Python source, with inputs that trace cleanly.

    source = MinedSource(modules=["textwrap", "colorsys"])   # default folder: the stdlib
    for case in source.cases(): ...                           # ProgramCase(origin="miner")
    print(mine(path, max_functions=40).to_table())           # what was found, kept, rejected

What is mined. Every ``.py`` file under the folder is a module, named by its path (a
folder that is itself a package is named from its package root). Skipped: test packages
(``test``, ``tests``, ``idle_test``; ``test_*.py``, ``*_test.py``, ``conftest.py``),
``site-packages``, ``dist-packages``, ``idlelib``, ``tkinter``, ``turtledemo``, ``lib2to3``,
``ensurepip``, ``venv``, ``__pycache__``, folders that are not identifiers, and modules with a
private name component (``_pydecimal``, ``_pyrepl/...``) unless ``include_private=True``. In each
module, the candidates are the *top-level* ``def`` statements; skipped (and counted under
``skipped`` in the report): private names, ``async def``, functions using ``global`` or
``nonlocal``, decorated functions (a decorator may change what the call does, and dropping
it would be a different function), and a function named ``main`` (the trace's entry point).
Generators are kept: their call is wrapped as ``list(f(...))``. Modules that fail to parse
are listed in ``MiningReport.parse_errors``. The host only *parses* modules, it never
imports or runs them.

The program (decided here). A world model must see the code it traces, and the tracer
records only code compiled from the program text, so the program is the function's own
source (``ast.get_source_segment``, docstring and comments inside it included) preceded by
what it needs from its module, nothing else:

- ``from __future__ import annotations`` when the module has it;
- for each name the function reads that the module binds at top level: the module's own
  import statement when the name comes from an unconditional, absolute top-level import
  (``import re``, ``from os import fspath as _fspath``), else ``from MODULE import NAME``
  (private names included), which imports the real module *inside the sandbox* and takes its
  constants and helpers from there (they run, untraced, at their own speed);
- when the module has a ``from X import *`` (or writes ``globals()``), also
  ``from MODULE import NAME`` for the free names it may have bound that way.

So the function's own body is traced (depth 1 under ``main``), its helpers are not. The
module must therefore be importable by its name inside the sandbox: true for the standard
library (a copy of a stdlib file resolves to the real stdlib module of that name), not for a
folder of arbitrary code, whose functions then fail with ImportError unless they need
nothing from their module but imports (they are rejected as ``exception``, never kept).

Inputs (``meta["input_from"]``), in this order of preference, deduplicated by call text, at
most ``max_calls_per_function`` from each source (hypothesis fills what budget is left) and
``3 * max_calls_per_function`` (at least 4) in all:

- ``doctest``: ``>>>`` examples in the function's or the module's docstring that call the
  function (``name(...)`` or ``module.name(...)``) with literal arguments (``ast.literal_eval``);
- ``call_site``: calls with literal arguments anywhere in the scanned modules: by name in
  the function's module, by an imported name (``from M import f``, relative imports resolved)
  or attribute (``M.f(...)``, ``import M as m; m.f(...)``) elsewhere;
- ``defaults``: for a function whose every parameter has a default (or that has none):
  ``f()``, and ``f(<the defaults, written out>)`` when they are literals;
- ``type_hints``: every required parameter annotated with a type the miner understands (int,
  float, bool, str, bytes, None, list/List/Sequence/Iterable[...], tuple[...], dict/Mapping
  [K, V], set[...], Optional/Union/``X | Y``, Literal[...], Any; string annotations too):
  values drawn from a ``random.Random`` seeded per (seed, module, function, parameter);
- ``hypothesis``: the same annotations as bounded hypothesis strategies (small ints, short
  ASCII text, lists of at most 5 items, floats with two decimals, ...); an unannotated
  parameter gets a type guessed from its name (``n``, ``width`` -> int; ``year``, ``month``,
  ``day`` -> a valid range; ``text``, ``name`` -> str; ``s``, ``data`` -> str or bytes;
  ``seq``, ``items`` -> list of ints), else a fixed mix of short strings, small ints, lists of
  ints and bytes. A function with unannotated parameters also gets draws where they all
  share one type (str, int, list of ints, bytes, float), offered in round robin with the
  guessed ones so each type is tried early; draws whose arguments are all empty or zero
  are offered last. Values are drawn
  with ``@given`` under ``@seed(...)`` (seed derived from seed, module and function), database
  off, generation phase only: deterministic for a given hypothesis version. Hypothesis also
  mixes constants taken from the calling process's own imported modules into about 5% of
  draws, which would make draws depend on what else that process imported; the miner
  switches that pool off while it draws (an internal hook: skipped if a hypothesis version
  lacks it). Without hypothesis installed, this source is silently absent
  (``MiningReport.hypothesis`` says so).

Arguments are written as canonical literals (``repr``, with set elements sorted), so the
call text does not depend on the host's hash seed; a call longer than 400 characters is
dropped.

Keeping a call. Every candidate runs in the sandbox with ``audit=True`` under tight limits
(``DEFAULT_LIMITS``: 2 s CPU and wall clock, 2000 steps, 512 MiB). A call is kept only if it
finished with status ``ok``, touched nothing (``RunResult.touched == []``: no file outside
Python's own, no network, no process), its trace has a ``call`` frame of the function at
depth 1, and a second run gives an equal trace (``==``). The second run starts in ``/``
instead of the program's private working directory (an untraced ``os.chdir`` after the
function's ``def``; the traces are compared as if that line were not there), so a call
whose result depends on its working directory (``posixpath.abspath``) is caught even when
the two runs get equally named private directories. Per call, the outcome is ``kept``
or its reason: ``touched``, a non-ok status (``exception``, ``timeout``, ``step_limit``,
...), ``not_traced`` or ``nondeterministic`` (``unchecked``: passed the first run, but the
function already had enough calls). A function without kept calls is rejected for one
reason: ``no_inputs`` when it had no candidate, else ``touched`` if any call touched
something, else ``nondeterministic`` if any call was, else its calls' most common reason.

Everything is deterministic for a given folder, options and seed (and hypothesis version):
modules in sorted order, functions in source order, calls in candidate order, ids
``miner/{module}.{function}#{n}`` numbered from 0 per function.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import doctest
import functools
import hashlib
import importlib.util
import math
import os
import random
import string
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from codewm.programs.base import ProgramCase, SourceConfigError
from codewm.trace.sandbox import STATUSES, Program, RunResult, Sandbox, SandboxError, SandboxLimits
from codewm.types import ENTRY_FUNCTION, Trace

INPUT_SOURCES = ("doctest", "call_site", "defaults", "type_hints", "hypothesis")
DEFAULT_LIMITS = SandboxLimits(cpu_seconds=2.0, wall_seconds=2.0, memory_bytes=512 << 20, max_steps=2000)
SKIP_DIRS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip", "venv", "__pycache__"}
)
MAX_CALL_CHARS = 400
# Per-call reasons besides the sandbox statuses, and the order ties are broken in.
REASONS = ("touched", "nondeterministic", *[s for s in STATUSES if s != "ok"], "not_traced", "no_inputs")

_BUILTIN_NAMES = frozenset(dir(builtins))
_TEXT_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " "
_WORD_ALPHABET = string.ascii_lowercase + " " * 5  # about one character in six a space


# -- reports --------------------------------------------------------------------------------------
@dataclass
class FunctionResult:
    """What happened to one function."""

    module: str
    function: str
    candidates: list[tuple[str, str]] = field(default_factory=list)  # (call, input_from) in order
    outcomes: list[str] = field(default_factory=list)  # per candidate: "kept" or the reason
    cases: list[ProgramCase] = field(default_factory=list)
    reason: str | None = None  # why no call was kept (None when some was)
    errors: list[str | None] = field(default_factory=list)  # per candidate: the first run's error, if any

    @property
    def kept(self) -> bool:
        return bool(self.cases)


@dataclass
class ModuleReport:
    module: str
    path: str
    found: int = 0  # eligible top-level functions
    with_inputs: int = 0  # ... that had at least one candidate call
    kept_functions: int = 0  # ... that kept at least one call
    kept_calls: int = 0
    rejected: Counter = field(default_factory=Counter)  # function-level reason -> functions
    outcomes: Counter = field(default_factory=Counter)  # call-level outcome -> calls
    skipped: Counter = field(default_factory=Counter)  # why top-level functions were not considered


@dataclass
class MiningReport:
    root: str
    modules: list[ModuleReport] = field(default_factory=list)
    functions: list[FunctionResult] = field(default_factory=list)
    parse_errors: dict[str, str] = field(default_factory=dict)  # module -> error
    cases: list[ProgramCase] = field(default_factory=list)
    hypothesis: bool = False  # whether the hypothesis source was available
    isolation: str = ""  # the sandbox's isolation mode

    def function(self, module: str, name: str) -> FunctionResult:
        for result in self.functions:
            if result.module == module and result.function == name:
                return result
        raise KeyError(f"{module}.{name}")

    def module(self, name: str) -> ModuleReport:
        for report in self.modules:
            if report.module == name:
                return report
        raise KeyError(name)

    @property
    def totals(self) -> dict[str, Any]:
        rejected: Counter = Counter()
        for report in self.modules:
            rejected.update(report.rejected)
        return {
            "modules": len(self.modules),
            "found": sum(r.found for r in self.modules),
            "with_inputs": sum(r.with_inputs for r in self.modules),
            "kept_functions": sum(r.kept_functions for r in self.modules),
            "kept_calls": sum(r.kept_calls for r in self.modules),
            "rejected": rejected,
        }

    def to_table(self) -> str:
        """Per-module counts and totals, as plain text."""
        rows = [r for r in self.modules if r.found]
        header = ("module", "found", "inputs", "traced", "calls", "rejected (functions)")
        body = [
            (r.module, str(r.found), str(r.with_inputs), str(r.kept_functions), str(r.kept_calls), _counts(r.rejected))
            for r in rows
        ]
        totals = self.totals
        footer = ("TOTAL", str(totals["found"]), str(totals["with_inputs"]), str(totals["kept_functions"]), str(totals["kept_calls"]), _counts(totals["rejected"]))
        widths = [max(len(row[i]) for row in [header, *body, footer]) for i in range(5)]

        def line(row: tuple[str, ...]) -> str:
            cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, 5)]
            return "  ".join(cells + [row[5]]).rstrip()

        rule = "-" * (sum(widths) + 2 * 5 + len(header[5]))
        out = [line(header), rule, *map(line, body), rule, line(footer)]
        quiet = len(self.modules) - len(rows)
        notes = [f"{len(self.modules) + len(self.parse_errors)} modules scanned under {self.root}"]
        if quiet:
            notes.append(f"{quiet} without eligible top-level functions (not listed)")
        if self.parse_errors:
            notes.append(f"{len(self.parse_errors)} failed to parse: {', '.join(sorted(self.parse_errors))}")
        out.append("; ".join(notes))
        skipped: Counter = Counter()
        for report in self.modules:
            skipped.update(report.skipped)
        if skipped:
            out.append("top-level functions skipped: " + " ".join(f"{k}={skipped[k]}" for k in sorted(skipped)))
        out.append("found = eligible functions; inputs = with candidate calls; traced = with kept calls; calls = kept calls")
        if not self.hypothesis:
            out.append("(hypothesis is not installed: no 'hypothesis' inputs)")
        return "\n".join(out) + "\n"


def _counts(counter: Counter) -> str:
    return " ".join(f"{key}={counter[key]}" for key in sorted(counter, key=_reason_order) if counter[key])


def _reason_order(reason: str) -> tuple[int, str]:
    return (REASONS.index(reason) if reason in REASONS else len(REASONS), reason)


# -- discovery --------------------------------------------------------------------------------------
def default_path() -> str:
    """The standard library's own folder."""
    return os.path.dirname(os.__file__)


def _is_test_name(stem: str) -> bool:
    return stem in SKIP_DIRS or stem == "conftest" or stem.startswith("test_") or stem.endswith("_test")


def _package_prefix(root: str) -> list[str]:
    """The package names above `root` when `root` is itself (inside) a package."""
    parts: list[str] = []
    here = os.path.abspath(root)
    while os.path.isfile(os.path.join(here, "__init__.py")):
        parts.insert(0, os.path.basename(here))
        here = os.path.dirname(here)
    return parts


def discover_modules(root: str, modules: Iterable[str] | None = None, include_private: bool = False) -> list[tuple[str, str]]:
    """(module name, file path) of every module to scan under `root`, sorted by name."""
    wanted = None if modules is None else list(modules)
    prefix = _package_prefix(root)
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        parts = prefix + ([] if rel == os.curdir else rel.split(os.sep))
        dirnames[:] = sorted(
            d for d in dirnames if d.isidentifier() and not _is_test_name(d) and (include_private or not d.startswith("_"))
        )
        for filename in sorted(filenames):
            stem, ext = os.path.splitext(filename)
            if ext != ".py" or not stem.isidentifier() or stem == "__main__" or _is_test_name(stem):
                continue
            name_parts = parts if stem == "__init__" else parts + [stem]
            if not name_parts or (not include_private and any(p.startswith("_") for p in name_parts)):
                continue
            name = ".".join(name_parts)
            if wanted is not None and not any(name == w or name.startswith(w + ".") for w in wanted):
                continue
            found.append((name, os.path.join(dirpath, filename)))
    found.sort()
    return found


@dataclass
class _Module:
    name: str
    path: str
    source: str
    tree: ast.Module
    bindings: set[str] = field(default_factory=set)  # names bound at top level (any branch)
    imports: dict[str, list[str]] = field(default_factory=dict)  # name -> unconditional import statements
    star: bool = False  # a star import or a write to globals(): bindings are incomplete
    future_annotations: bool = False
    top_functions: set[str] = field(default_factory=set)
    from_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # local name -> (module, name)
    module_aliases: dict[str, str] = field(default_factory=dict)  # local name -> module

    @property
    def package(self) -> str:
        return self.name if os.path.basename(self.path) == "__init__.py" else self.name.rpartition(".")[0]

    def resolve(self, node: ast.ImportFrom) -> str | None:
        """The absolute module of a `from ... import`."""
        if not node.level:
            return node.module
        base = self.package.split(".") if self.package else []
        if node.level - 1 > len(base):
            return None
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else [])) or None


@dataclass
class _Param:
    name: str
    keyword_only: bool
    required: bool
    annotation: ast.expr | None
    default: ast.expr | None


@dataclass
class _Function:
    module: _Module
    node: ast.FunctionDef
    source: str
    params: list[_Param]
    generator: bool
    has_varargs: bool
    has_varkw: bool

    @property
    def name(self) -> str:
        return self.node.name


def _parse_module(name: str, path: str) -> _Module:
    with open(path, "rb") as handle:
        data = handle.read()
    source = importlib.util.decode_source(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(source, filename=path)
    module = _Module(name, path, source, tree)
    _index_top_level(module, tree.body, unconditional=True)
    return module


def _target_names(target: ast.AST) -> Iterator[str]:
    """Names an assignment target binds (`a`, `a, (b, *c)`; not `d[k]` or `o.attr`)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _index_top_level(module: _Module, body: list[ast.stmt], unconditional: bool) -> None:
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            module.bindings.add(stmt.name)
            if isinstance(stmt, ast.FunctionDef):
                module.top_functions.add(stmt.name)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.partition(".")[0]
                module.bindings.add(bound)
                module.module_aliases[bound] = alias.name if alias.asname else bound
                if unconditional:
                    text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                    module.imports.setdefault(bound, []).append(text)
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.module == "__future__":
                if any(alias.name == "annotations" for alias in stmt.names):
                    module.future_annotations = True
                continue
            source_module = module.resolve(stmt)
            for alias in stmt.names:
                if alias.name == "*":
                    module.star = True
                    continue
                bound = alias.asname or alias.name
                module.bindings.add(bound)
                if source_module:
                    module.from_names[bound] = (source_module, alias.name)
                if unconditional and not stmt.level:
                    text = f"from {stmt.module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                    module.imports.setdefault(bound, []).append(text)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                module.bindings.update(_target_names(target))
        else:
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                module.bindings.update(_target_names(stmt.target))
            if isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        module.bindings.update(_target_names(item.optional_vars))
            for block in ("body", "orelse", "finalbody"):
                _index_top_level(module, getattr(stmt, block, None) or [], unconditional=False)
            for handler in getattr(stmt, "handlers", None) or []:
                _index_top_level(module, handler.body, unconditional=False)
            for case in getattr(stmt, "cases", None) or []:
                _index_top_level(module, case.body, unconditional=False)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in _walk_own_body(stmt):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "vars"):
                module.star = True
            if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
                module.bindings.add(node.target.id)


def _walk_own_body(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function's body, not descending into nested functions, lambdas or classes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(child))


def _eligible(module: _Module, node: ast.stmt) -> tuple[_Function | None, str | None]:
    """The function a top-level statement defines, or why it is skipped (None, None: no function)."""
    if isinstance(node, ast.AsyncFunctionDef):
        return None, None if node.name.startswith("_") else "async"
    if not isinstance(node, ast.FunctionDef):
        return None, None
    if node.name.startswith("_"):
        return None, "private"
    if node.name == ENTRY_FUNCTION:
        return None, "reserved_name"
    if node.decorator_list:
        return None, "decorated"
    if any(isinstance(n, (ast.Global, ast.Nonlocal)) for n in ast.walk(node)):
        return None, "global/nonlocal"
    source = ast.get_source_segment(module.source, node)
    if not source or not source.startswith("def "):
        return None, "no_source"
    args = node.args
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [_Param(a.arg, False, d is None, a.annotation, d) for a, d in zip(positional, defaults)]
    params += [_Param(a.arg, True, d is None, a.annotation, d) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    generator = any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _walk_own_body(node))
    return _Function(module, node, source, params, generator, args.vararg is not None, args.kwarg is not None), None


# -- the program ---------------------------------------------------------------------------------
def _local_names(node: ast.FunctionDef) -> set[str]:
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.arg):
            names.add(child.arg)
        elif isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
            names.add(child.id)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and child is not node:
            names.add(child.name)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            for alias in child.names:
                names.add(alias.asname or alias.name.partition(".")[0])
        elif isinstance(child, ast.ExceptHandler) and child.name:
            names.add(child.name)
        elif isinstance(child, (ast.MatchAs, ast.MatchStar)) and child.name:
            names.add(child.name)
        elif isinstance(child, ast.MatchMapping) and child.rest:
            names.add(child.rest)
    return names


def _read_names(function: _Function) -> list[str]:
    """Names the function reads, in order of first appearance (annotations skipped if lazy)."""
    node = function.node
    skip: set[int] = set()
    if function.module.future_annotations:
        for arg in ast.walk(node.args):
            if isinstance(arg, ast.arg) and arg.annotation is not None:
                skip.update(id(n) for n in ast.walk(arg.annotation))
        if node.returns is not None:
            skip.update(id(n) for n in ast.walk(node.returns))
    for child in ast.walk(node):  # local variable annotations are never evaluated
        if isinstance(child, ast.AnnAssign):
            skip.update(id(n) for n in ast.walk(child.annotation))
    seen: dict[str, None] = {}
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load) and id(child) not in skip:
            seen.setdefault(child.id, None)
    return list(seen)


def build_program(function: _Function) -> str:
    """The program text for a mined function (see the module docstring)."""
    module = function.module
    local = _local_names(function.node)
    statements: list[str] = []
    from_module: list[str] = []
    for name in _read_names(function):
        if name == function.name:
            continue
        if name in module.bindings:
            if name in local:
                continue
            if name in module.imports:
                for text in module.imports[name]:
                    if text not in statements:
                        statements.append(text)
            else:
                from_module.append(name)
        elif module.star and name not in local and name not in _BUILTIN_NAMES:
            from_module.append(name)
    header = ["from __future__ import annotations"] if module.future_annotations else []
    if module.package and any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(function.node)):
        # a relative import inside the function resolves against the program's __package__
        header.append(f"__package__ = {module.package!r}")
    header += statements
    if from_module:
        names = sorted(set(from_module))
        single = f"from {module.name} import {', '.join(names)}"
        if len(single) <= 88:
            header.append(single)
        else:
            header.append(f"from {module.name} import (\n" + "".join(f"    {n},\n" for n in names) + ")")
    prefix = "\n".join(header) + "\n\n" if header else ""
    return prefix + function.source.rstrip() + "\n"


# -- literals ---------------------------------------------------------------------------------
def literal_text(value: Any, _depth: int = 0) -> str | None:
    """Canonical literal text for a value (sets sorted), or None if it has none."""
    if _depth > 20:
        return None
    kind = type(value)
    if value is None or kind in (bool, int, str, bytes) or value is Ellipsis:
        return repr(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else None
    if kind is complex:
        return repr(value) if math.isfinite(value.real) and math.isfinite(value.imag) else None
    if kind in (list, tuple):
        items = [literal_text(item, _depth + 1) for item in value]
        if any(item is None for item in items):
            return None
        if kind is list:
            return "[" + ", ".join(items) + "]"
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if kind is set:
        items = [literal_text(item, _depth + 1) for item in value]
        if any(item is None for item in items):
            return None
        return "{" + ", ".join(sorted(items)) + "}" if items else "set()"
    if kind is dict:
        pairs = []
        for key, item in value.items():
            key_text, item_text = literal_text(key, _depth + 1), literal_text(item, _depth + 1)
            if key_text is None or item_text is None:
                return None
            pairs.append(f"{key_text}: {item_text}")
        return "{" + ", ".join(pairs) + "}"
    return None


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _call_args(call: ast.Call) -> tuple[list[Any], dict[str, Any]] | None:
    """The literal arguments of a call, or None if one is not literal."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            return None
        ok, value = _literal(arg)
        if not ok:
            return None
        args.append(value)
    for keyword in call.keywords:
        if keyword.arg is None:
            return None
        ok, value = _literal(keyword.value)
        if not ok:
            return None
        kwargs[keyword.arg] = value
    return args, kwargs


def _call_text(function: _Function, args: list[Any], kwargs: dict[str, Any]) -> str | None:
    """The call text, or None if the arguments do not fit the signature or are not literals."""
    positional = [p for p in function.params if not p.keyword_only]
    if len(args) > len(positional) and not function.has_varargs:
        return None
    names = {p.name for p in function.params}
    given = {p.name for p in positional[: len(args)]}
    for key in kwargs:
        if key in given or (key not in names and not function.has_varkw):
            return None
    if any(p.required and p.name not in given and p.name not in kwargs for p in function.params):
        return None
    texts = [literal_text(a) for a in args] + [None if (t := literal_text(v)) is None else f"{k}={t}" for k, v in kwargs.items()]
    if any(t is None for t in texts):
        return None
    call = f"{function.name}({', '.join(texts)})"
    if function.generator:
        call = f"list({call})"
    return call if len(call) <= MAX_CALL_CHARS else None


# -- type specs -------------------------------------------------------------------------------
# A spec is a small tuple describing a type: ("int",), ("list", spec), ("dict", k, v),
# ("tuple", [specs]), ("tuplevar", spec), ("set", spec), ("optional", spec),
# ("union", [specs]), ("literal", [values]), ("any",) ...
_ATOMS = {"int": ("int",), "float": ("float",), "bool": ("bool",), "str": ("str",), "bytes": ("bytes",), "None": ("none",), "NoneType": ("none",)}
_ANY = ("any",)
_LISTS = {"list", "List", "Sequence", "MutableSequence", "Iterable", "Iterator", "Collection", "Reversible"}
_SETS = {"set", "Set", "AbstractSet", "MutableSet"}
_DICTS = {"dict", "Dict", "Mapping", "MutableMapping"}
_TUPLES = {"tuple", "Tuple"}
_HASHABLE = {"int", "float", "bool", "str", "bytes", "none", "literal"}
_UNIFORM_SPECS = (("str",), ("int",), ("list", ("int",)), ("bytes",), ("float",))
_NAME_RANGES = {"year": (1900, 2100), "month": (1, 12), "day": (1, 28), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
_NAME_HINTS = {
    "int": {"n", "i", "j", "k", "m", "count", "num", "number", "width", "size", "length", "index", "start", "stop", "step",
            "level", "indent", "tabsize", "lo", "hi", "base", "depth", "offset", "pos", "maxsplit"},
    "str|bytes": {"s", "data"},
    "str": {"text", "string", "name", "word", "line", "prefix", "suffix", "sep", "pattern", "pat", "fmt", "char", "ch",
            "msg", "message", "filename", "url", "title", "label"},
    "list": {"seq", "items", "lst", "iterable", "heap", "values", "words", "lines", "elements", "array", "sequence", "xs"},
}


def annotation_spec(node: ast.expr | None) -> tuple | None:
    """The spec of a type annotation, or None if the miner does not understand it."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        if node.value is None:
            return ("none",)
        if isinstance(node.value, str):
            try:
                return annotation_spec(ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                return None
        return None
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = node.id if isinstance(node, ast.Name) else node.attr
        if name in _ATOMS:
            return _ATOMS[name]
        if name in ("Any", "object"):
            return _ANY
        if name in _LISTS:
            return ("list", _ANY)
        if name in _SETS:
            return ("set", ("int",))
        if name in _DICTS:
            return ("dict", ("str",), _ANY)
        if name in _TUPLES:
            return ("tuplevar", _ANY)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = annotation_spec(node.left), annotation_spec(node.right)
        return None if left is None or right is None else ("union", [left, right])
    if isinstance(node, ast.Subscript):
        base = node.value.id if isinstance(node.value, ast.Name) else node.value.attr if isinstance(node.value, ast.Attribute) else None
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Literal":
            values = []
            for item in items:
                ok, value = _literal(item)
                if not ok or literal_text(value) is None:
                    return None
                values.append(value)
            return ("literal", values)
        if base in _TUPLES and len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
            inner = annotation_spec(items[0])
            return None if inner is None else ("tuplevar", inner)
        specs = [annotation_spec(item) for item in items]
        if any(s is None for s in specs):
            return None
        if base in _LISTS and len(specs) == 1:
            return ("list", specs[0])
        if base in _SETS and len(specs) == 1 and specs[0][0] in _HASHABLE:
            return ("set", specs[0])
        if base in _DICTS and len(specs) == 2 and specs[0][0] in _HASHABLE:
            return ("dict", specs[0], specs[1])
        if base in _TUPLES:
            return ("tuple", specs)
        if base == "Optional" and len(specs) == 1:
            return ("optional", specs[0])
        if base == "Union":
            return ("union", specs)
        return None
    return None


def guessed_spec(param: _Param) -> tuple:
    """A spec for a parameter: its annotation's, else one guessed from its name, else a mix."""
    spec = annotation_spec(param.annotation)
    if spec is not None:
        return spec
    if param.name in _NAME_RANGES:
        return ("intrange", *_NAME_RANGES[param.name])
    for kind, names in _NAME_HINTS.items():
        if param.name in names:
            if kind == "list":
                return ("list", ("int",))
            return ("union", [("str",), ("bytes",)]) if kind == "str|bytes" else (kind,)
    return _ANY


def random_value(spec: tuple, rng: random.Random, depth: int = 0) -> Any:
    kind = spec[0]
    if kind == "int":
        return rng.choice((0, 1, 2, 3, 5, 7, 10, 42, -1)) if rng.random() < 0.5 else rng.randint(-20, 100)
    if kind == "intrange":
        return rng.randint(spec[1], spec[2])
    if kind == "float":
        return round(rng.uniform(-10.0, 10.0), 2)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "str":
        alphabet = string.ascii_lowercase + " " if rng.random() < 0.7 else _TEXT_ALPHABET
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 6)))
    if kind == "none":
        return None
    if kind == "literal":
        return rng.choice(spec[1])
    if kind == "optional":
        return None if rng.random() < 0.25 else random_value(spec[1], rng, depth)
    if kind == "union":
        return random_value(rng.choice(spec[1]), rng, depth)
    size = rng.randint(0, 4 if depth < 2 else 1)
    if kind == "list":
        return [random_value(spec[1], rng, depth + 1) for _ in range(size)]
    if kind == "set":
        return {random_value(spec[1], rng, depth + 1) for _ in range(size)}
    if kind == "dict":
        return {random_value(spec[1], rng, depth + 1): random_value(spec[2], rng, depth + 1) for _ in range(size)}
    if kind == "tuple":
        return tuple(random_value(s, rng, depth + 1) for s in spec[1])
    if kind == "tuplevar":
        return tuple(random_value(spec[1], rng, depth + 1) for _ in range(size))
    # any: a short string, a small int, a short list of ints or short bytes
    return random_value(rng.choice((("str",), ("int",), ("list", ("int",)), ("bytes",))), rng, depth)


def hypothesis_strategy(spec: tuple):
    from hypothesis import strategies as st

    kind = spec[0]
    # Text from fixed alphabets (words and spaces, or any printable ASCII), without st.text,
    # which would cache Unicode tables in ./.hypothesis
    words = st.lists(st.sampled_from(_WORD_ALPHABET), max_size=16).map("".join)
    text = words | st.lists(st.sampled_from(_TEXT_ALPHABET), max_size=10).map("".join)
    ints = st.integers(min_value=-10, max_value=100)
    if kind == "int":
        return ints
    if kind == "intrange":
        return st.integers(min_value=spec[1], max_value=spec[2])
    if kind == "float":  # two decimals: 12.5, -0.37 (not 4.5e-136)
        return st.integers(min_value=-10_000, max_value=10_000).map(lambda n: n / 100)
    if kind == "bool":
        return st.booleans()
    if kind == "str":
        return text
    if kind == "bytes":
        return st.binary(max_size=8)
    if kind == "none":
        return st.none()
    if kind == "literal":
        return st.sampled_from(spec[1])
    if kind == "optional":
        return st.none() | hypothesis_strategy(spec[1])
    if kind == "union":
        return st.one_of([hypothesis_strategy(s) for s in spec[1]])
    if kind == "list":
        return st.lists(hypothesis_strategy(spec[1]), max_size=5)
    if kind == "set":
        return st.sets(hypothesis_strategy(spec[1]), max_size=5)
    if kind == "dict":
        return st.dictionaries(hypothesis_strategy(spec[1]), hypothesis_strategy(spec[2]), max_size=4)
    if kind == "tuple":
        return st.tuples(*[hypothesis_strategy(s) for s in spec[1]])
    if kind == "tuplevar":
        return st.lists(hypothesis_strategy(spec[1]), max_size=4).map(tuple)
    return st.one_of(text, ints, st.lists(ints, max_size=5), st.binary(max_size=6))


def hypothesis_available() -> bool:
    return importlib.util.find_spec("hypothesis") is not None


@contextlib.contextmanager
def _without_local_constants():
    """Keep hypothesis from mixing the calling process's own constants into draws."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a hypothesis without this internal
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    constants = getattr(providers, "Constants", None)
    if original is None or constants is None:  # pragma: no cover
        yield
        return
    empty = constants()
    providers._get_local_constants = lambda: empty
    clear = getattr(getattr(cache, "cache", None), "clear", lambda: None)
    clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        clear()


def hypothesis_draws(strategy, count: int, seed: int) -> list[Any]:
    """`count` values drawn from a strategy, deterministically for a given seed."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seed_decorator

    drawn: list[Any] = []

    @seed_decorator(seed)
    @settings(
        database=None, max_examples=count, phases=[Phase.generate], deadline=None, derandomize=False,
        suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
    )
    @given(strategy)
    def collect(value):
        drawn.append(value)

    try:
        with _without_local_constants():
            collect()
    except Exception:  # a hypothesis error (health check, unsatisfiable): keep what was drawn
        pass
    return drawn


def _stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()[:8], "big")


# -- candidate inputs ------------------------------------------------------------------------------
def _calls_of(tree: ast.AST, accept) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and accept(node.func):
            yield node


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def build_call_site_index(modules: list[_Module]) -> dict[tuple[str, str], list[tuple[list, dict]]]:
    """(module, function) -> literal argument lists of calls to it, in scan order."""
    index: dict[tuple[str, str], list[tuple[list, dict]]] = {}
    for module in modules:
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call) or not node.args and not node.keywords:
                continue
            target = None
            if isinstance(node.func, ast.Name):
                name = node.func.id
                if name in module.top_functions:
                    target = (module.name, name)
                elif name in module.from_names:
                    target = module.from_names[name]
            elif isinstance(node.func, ast.Attribute):
                owner = _dotted(node.func.value)
                if owner is not None:
                    head, _, rest = owner.partition(".")
                    if head in module.module_aliases:
                        full = module.module_aliases[head] + ("." + rest if rest else "")
                        target = (full, node.func.attr)
            if target is None:
                continue
            args = _call_args(node)
            if args is not None:
                index.setdefault(target, []).append(args)
    return index


def _doctest_calls(function: _Function) -> Iterator[tuple[list, dict]]:
    module = function.module
    qualifiers = {module.name, module.name.rpartition(".")[2]}

    def accept(func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id == function.name
        return isinstance(func, ast.Attribute) and func.attr == function.name and _dotted(func.value) in qualifiers

    for doc in (ast.get_docstring(function.node), ast.get_docstring(module.tree)):
        for tree in _doctest_trees(doc or ""):
            for call in _calls_of(tree, accept):
                args = _call_args(call)
                if args is not None:
                    yield args


@functools.lru_cache(maxsize=256)
def _doctest_trees(doc: str) -> tuple[ast.Module, ...]:
    """The parsed `>>>` examples of a docstring (those that parse)."""
    if ">>>" not in doc:
        return ()
    try:
        examples = doctest.DocTestParser().get_examples(doc)
    except ValueError:
        return ()
    trees = []
    for example in examples:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trees.append(ast.parse(example.source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return tuple(trees)


def candidate_calls(function: _Function, call_sites: dict, per_source: int, total: int, seed: int, use_hypothesis: bool) -> list[tuple[str, str]]:
    """(call text, input_from) candidates for a function, in order of preference."""
    chosen: dict[str, str] = {}

    def offer(source: str, arg_lists: Iterable[tuple[list, dict]], quota: int = per_source) -> None:
        taken = 0
        for args, kwargs in arg_lists:
            if taken >= quota or len(chosen) >= total:
                return
            text = _call_text(function, args, kwargs)
            if text is not None and text not in chosen:
                chosen[text] = source
                taken += 1

    module = function.module.name
    offer("doctest", _doctest_calls(function))
    offer("call_site", call_sites.get((module, function.name), []))

    params = function.params
    required = [p for p in params if p.required]
    if not required:
        calls: list[tuple[list, dict]] = [([], {})]
        if params:
            literal = [_literal(p.default) for p in params]
            if all(ok for ok, _ in literal):
                args = [v for p, (_, v) in zip(params, literal) if not p.keyword_only]
                kwargs = {p.name: v for p, (_, v) in zip(params, literal) if p.keyword_only}
                calls.append((args, kwargs))
        offer("defaults", calls)
        return list(chosen.items())

    def arrange(values: dict[str, Any]) -> tuple[list, dict]:
        return [values[p.name] for p in required if not p.keyword_only], {p.name: values[p.name] for p in required if p.keyword_only}

    specs = {p.name: annotation_spec(p.annotation) for p in required}
    if all(spec is not None for spec in specs.values()):
        rngs = {p.name: random.Random(f"{seed}|{module}.{function.name}|{p.name}") for p in required}
        draws = [arrange({p.name: random_value(specs[p.name], rngs[p.name]) for p in required}) for _ in range(per_source * 2)]
        offer("type_hints", draws)

    if use_hypothesis and len(chosen) < total:
        from hypothesis import strategies as st

        branches = [st.tuples(*[hypothesis_strategy(guessed_spec(p)) for p in required])]
        unannotated = [annotation_spec(p.annotation) is None for p in required]
        if any(unannotated):
            # Also every unannotated parameter of one type at once (all strings, all ints, ...):
            # related parameters usually share a type, which a per-parameter mix seldom hits.
            branches += [
                st.tuples(*[hypothesis_strategy(spec if free else guessed_spec(p)) for p, free in zip(required, unannotated)])
                for spec in _UNIFORM_SPECS
            ]
        rows = hypothesis_draws(st.tuples(*branches), per_source * 3, _stable_seed(seed, module, function.name))
        columns = []
        for b in range(len(branches)):
            drawn = [row[b] for row in rows]
            # Draws whose every argument is empty or zero ('', 0, []) trace little: offer them last.
            columns.append([v for v in drawn if any(v)] + [v for v in drawn if not any(v)])
        # Round robin over the branches, so that each type is tried early.
        values = [column[n] for n in range(len(rows)) for column in columns]
        budget = max(per_source, total - len(chosen))
        offer("hypothesis", [arrange(dict(zip((p.name for p in required), drawn))) for drawn in values], budget)
    return list(chosen.items())


# -- mining -------------------------------------------------------------------------------------
def _classify(function: str, result: RunResult) -> str | None:
    """Why a first run disqualifies a call, or None if it may be kept."""
    if result.touched:
        return "touched"
    if result.status != "ok":
        return result.status
    if not any(f.event == "call" and f.depth == 1 and f.function == function for f in result.trace.frames):
        return "not_traced"
    return None


def _function_reason(outcomes: list[str]) -> str:
    if not outcomes:
        return "no_inputs"
    counts = Counter(o for o in outcomes if o not in ("kept", "unchecked"))
    for strong in ("touched", "nondeterministic"):
        if counts[strong]:
            return strong
    return min(counts, key=lambda r: (-counts[r], _reason_order(r))) if counts else "unchecked"


def mine(
    path: str | None = None,
    modules: Iterable[str] | None = None,
    max_functions: int | None = None,
    max_calls_per_function: int = 3,
    seed: int = 0,
    workers: int = 2,
    include_private: bool = False,
    limits: SandboxLimits | None = None,
    sandbox: Sandbox | None = None,
) -> MiningReport:
    """Mine a folder (default: the standard library); see the module docstring."""
    root = os.path.abspath(path or default_path())
    if not os.path.isdir(root):
        raise SourceConfigError(f"miner: {root} is not a folder")
    if max_calls_per_function < 1:
        raise SourceConfigError("miner: max_calls_per_function must be at least 1")
    if max_functions is not None and max_functions < 0:
        raise SourceConfigError("miner: max_functions must not be negative")
    use_hypothesis = hypothesis_available()
    report = MiningReport(root=root, hypothesis=use_hypothesis)

    # 1. parse modules and collect eligible functions, up to max_functions
    parsed: list[_Module] = []
    functions: list[_Function] = []
    reports: dict[str, ModuleReport] = {}
    for name, file_path in discover_modules(root, modules, include_private):
        if max_functions is not None and len(functions) >= max_functions:
            break
        try:
            module = _parse_module(name, file_path)
        except (SyntaxError, ValueError, UnicodeDecodeError, OSError, RecursionError, MemoryError) as exc:
            report.parse_errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        parsed.append(module)
        module_report = reports[name] = ModuleReport(name, file_path)
        report.modules.append(module_report)
        for node in module.tree.body:
            if max_functions is not None and len(functions) >= max_functions:
                break
            function, skipped = _eligible(module, node)
            if skipped:
                module_report.skipped[skipped] += 1
            if function is not None:
                functions.append(function)
                module_report.found += 1

    # 2. candidate calls and programs
    call_sites = build_call_site_index(parsed)
    per_source = max_calls_per_function
    total = max(4, 3 * max_calls_per_function)
    results: list[FunctionResult] = []
    programs: list[str] = []
    for function in functions:
        result = FunctionResult(function.module.name, function.name)
        result.candidates = candidate_calls(function, call_sites, per_source, total, seed, use_hypothesis)
        results.append(result)
        programs.append(build_program(function))
        if result.candidates:
            reports[result.module].with_inputs += 1
    report.functions = results

    # 3. run: every candidate once; then the first passing ones of each function again
    runs = [(i, call) for i, result in enumerate(results) for call, _ in result.candidates]
    if runs:
        own = sandbox is None
        box = sandbox or Sandbox(limits=limits or DEFAULT_LIMITS, workers=workers)
        try:
            report.isolation = box.isolation
            first = list(box.map(Program.function(programs[i], call, audit=True) for i, call in runs))
            if all(r.status == "sandbox_error" for r in first):
                raise SandboxError(f"miner: the sandbox failed on every run: {first[0].error}")
            reruns: list[tuple[int, int]] = []  # (function index, candidate index)
            position = 0
            for i, result in enumerate(results):
                passing = 0
                for c, (call, _) in enumerate(result.candidates):
                    reason = _classify(functions[i].name, first[position + c])
                    result.errors.append(first[position + c].error)
                    if reason is None:
                        passing += 1
                        reason = "rerun" if passing <= max_calls_per_function else "unchecked"
                        if reason == "rerun":
                            reruns.append((i, c))
                    result.outcomes.append(reason)
                position += len(result.candidates)
            offsets = list(_offsets(results))
            # The second run starts from another working directory (one untraced line after
            # the function), so that a call depending on it cannot pass by chance, as it could
            # when both runs happen to get equally named private directories.
            second = list(
                box.map(Program.function(programs[i] + _ELSEWHERE, results[i].candidates[c][0], audit=True) for i, c in reruns)
            )
            for (i, c), again in zip(reruns, second):
                before = first[offsets[i] + c].trace
                # equal traces, but for that one line of program text
                same = again.status == "ok" and not again.touched and Trace(before.context, again.trace.frames, again.trace.complete) == before
                results[i].outcomes[c] = "kept" if same else "nondeterministic"
        finally:
            if own:
                box.close()

    # 4. cases and counts
    for i, result in enumerate(results):
        module_report = reports[result.module]
        for (call, input_from), outcome in zip(result.candidates, result.outcomes):
            module_report.outcomes[outcome] += 1
            if outcome == "kept":
                n = len(result.cases)
                result.cases.append(
                    ProgramCase(
                        source=programs[i],
                        call=call,
                        origin="miner",
                        id=f"miner/{result.module}.{result.function}#{n}",
                        meta={"module": result.module, "function": result.function, "input_from": input_from},
                    )
                )
        if result.cases:
            module_report.kept_functions += 1
            module_report.kept_calls += len(result.cases)
        else:
            result.reason = _function_reason(result.outcomes)
            module_report.rejected[result.reason] += 1
        report.cases.extend(result.cases)
    return report


_ELSEWHERE = "__import__('os').chdir('/')\n"


def _offsets(results: list[FunctionResult]) -> Iterator[int]:
    position = 0
    for result in results:
        yield position
        position += len(result.candidates)


class MinedSource:
    """Functions mined from a folder of Python source (default: the standard library)."""

    name = "miner"

    def __init__(
        self,
        path: str | None = None,
        modules: list[str] | None = None,
        max_functions: int | None = None,
        max_calls_per_function: int = 3,
        seed: int = 0,
        workers: int = 2,
        include_private: bool = False,
    ) -> None:
        if path is not None and not os.path.isdir(path):
            raise SourceConfigError(f"miner: {path} is not a folder")
        if isinstance(modules, str):
            modules = [modules]
        if max_calls_per_function < 1 or workers < 1:
            raise SourceConfigError("miner: max_calls_per_function and workers must be at least 1")
        self.path = path
        self.modules = None if modules is None else list(modules)
        self.max_functions = max_functions
        self.max_calls_per_function = max_calls_per_function
        self.seed = seed
        self.workers = workers
        self.include_private = include_private
        self._report: MiningReport | None = None

    @property
    def report(self) -> MiningReport:
        """The mining report (mines on first use)."""
        if self._report is None:
            self._report = mine(
                self.path, self.modules, self.max_functions, self.max_calls_per_function,
                self.seed, self.workers, self.include_private,
            )
        return self._report

    def cases(self) -> Iterator[ProgramCase]:
        yield from self.report.cases
