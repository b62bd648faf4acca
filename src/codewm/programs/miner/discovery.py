"""Discovery: the modules under a folder, their eligible top-level functions, and each function's program text.

The host only parses modules, it never imports or runs them (docs/programs.md, "The miner").
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import os
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from codewm.programs.base import SourceConfigError
from codewm.types import ENTRY_FUNCTION

SKIP_DIRS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip", "venv", "__pycache__"}
)

_BUILTIN_NAMES = frozenset(dir(builtins))


def default_path() -> str:
    """The standard library's own folder."""
    return os.path.dirname(os.__file__)


def _is_test_name(stem: str) -> bool:
    """Whether a file or folder name marks tests (or a folder that is skipped)."""
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
    # A module asked for by name that is not there is a mistake, not an empty result.
    missing = [w for w in wanted or () if not any(name == w or name.startswith(w + ".") for name, _ in found)]
    if missing:
        private = "" if include_private else " (private modules, `_name`, are left out unless include_private is set)"
        raise SourceConfigError(f"miner: no module {', '.join(map(repr, missing))} under {root}{private}")
    return found


@dataclass
class ParsedModule:
    """A module as parsed: its source and tree, and what it binds and imports at top level."""

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
class Parameter:
    """One parameter of a mined function."""

    name: str
    keyword_only: bool
    required: bool
    annotation: ast.expr | None
    default: ast.expr | None


@dataclass
class ParsedFunction:
    """An eligible top-level function of a parsed module."""

    module: ParsedModule
    node: ast.FunctionDef
    source: str
    params: list[Parameter]
    generator: bool
    has_varargs: bool
    has_varkw: bool

    @property
    def name(self) -> str:
        return self.node.name


def parse_module(name: str, path: str) -> ParsedModule:
    """Parse a module (never import it) and index what it binds at top level."""
    with open(path, "rb") as handle:
        data = handle.read()
    source = importlib.util.decode_source(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(source, filename=path)
    module = ParsedModule(name, path, source, tree)
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


def _index_top_level(module: ParsedModule, body: list[ast.stmt], unconditional: bool) -> None:
    """Record what `body` binds and imports (imports as statements only when `unconditional`)."""
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


def eligible(module: ParsedModule, node: ast.stmt) -> tuple[ParsedFunction | None, str | None]:
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
    params = [Parameter(a.arg, False, d is None, a.annotation, d) for a, d in zip(positional, defaults)]
    params += [Parameter(a.arg, True, d is None, a.annotation, d) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    generator = any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _walk_own_body(node))
    return ParsedFunction(module, node, source, params, generator, args.vararg is not None, args.kwarg is not None), None


# -- the program ---------------------------------------------------------------------------------
def _local_names(node: ast.FunctionDef) -> set[str]:
    """The names a function binds itself: parameters, assignments, nested definitions, imports."""
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


def _read_names(function: ParsedFunction) -> list[str]:
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


def build_program(function: ParsedFunction) -> str:
    """The program text for a mined function (docs/programs.md, "The miner": the program)."""
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
