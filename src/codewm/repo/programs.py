"""Self-contained programs for a project's functions: the function plus every top-level
statement of the project it needs, so that the program runs where the project is not installed.

The miner's program (`codewm.programs.miner.build_program`) imports what a function needs
from its module (`from textwrap import TextWrapper`): right for the standard library, which
every sandbox has, but a project's modules are not importable in the sandbox that confirms a
dataset record. So here a name the function reads is resolved the way Python would resolve
it at run time, and the statements that bind it are copied in, transitively:

- a top-level `def`, `class`, assignment or compound statement (`try: import x ...`,
  `if TYPE_CHECKING: ...`) of the module: copied as written (decorators included);
- an import from another module of the project (`from .typeutils import make_sentinel`,
  `from boltons.strutils import x`): the imported definition is copied from that module,
  and `alias = name` added when it is imported under another name;
- an import of anything else (the standard library): kept as written.

Modules come out dependencies first, statements in their order in the file. The host only
parses the project (`codewm.programs.miner.parse_module`), never imports it. A name the
program cannot bind this way (a star import, a module object of the project) is left out:
its run then fails in the sandbox and the call is dropped there, never kept wrong.
"""

from __future__ import annotations

import ast
import builtins
import os
from dataclasses import dataclass, field

from codewm.programs.miner.discovery import ParsedModule, parse_module

_BUILTINS = frozenset(dir(builtins))


class ProgramError(ValueError):
    """Why no program can be made for a function (`reason` is a short key)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def module_name(root: str, relative: str) -> str:
    """The importable name of a file under `root`: the packages above it (folders with an
    `__init__.py`), so that `src/pkg/mod.py` is `pkg.mod` and `parse/__init__.py` is `parse`."""
    parts = relative.replace(os.sep, "/").split("/")
    stem = parts[-1][:-3]
    names = [] if stem == "__init__" else [stem]
    folder = parts[:-1]
    while folder and os.path.isfile(os.path.join(root, *folder, "__init__.py")):
        names.insert(0, folder.pop())
    return ".".join(names) or stem


@dataclass
class IndexedModule:
    parsed: ParsedModule
    relative: str
    lines: list[str]
    binders: dict[str, list[int]] = field(default_factory=dict)  # name -> top-level statements binding it


class Project:
    """The project's modules, parsed on demand and indexed by file and by module name."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self._by_file: dict[str, IndexedModule | None] = {}
        self._names: dict[str, str] | None = None

    def module_files(self) -> dict[str, str]:
        """module name -> relative file, for every .py file under the root."""
        if self._names is None:
            self._names = {}
            for folder, dirs, files in os.walk(self.root):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
                for name in sorted(files):
                    if name.endswith(".py"):
                        relative = os.path.relpath(os.path.join(folder, name), self.root).replace(os.sep, "/")
                        self._names.setdefault(module_name(self.root, relative), relative)
        return self._names

    def module(self, relative: str) -> IndexedModule:
        if relative not in self._by_file:
            path = os.path.realpath(os.path.join(self.root, relative))
            if not path.startswith(self.root + os.sep):
                # a link out of the project: its target is no part of it (and may be any file)
                raise ProgramError("outside_root", f"{relative} leads outside {self.root}")
            try:
                parsed = parse_module(module_name(self.root, relative), path)
            except (SyntaxError, ValueError, UnicodeDecodeError, OSError, RecursionError, MemoryError) as exc:
                self._by_file[relative] = None
                raise ProgramError("unparsable", f"{relative}: {type(exc).__name__}: {exc}") from None
            module = IndexedModule(parsed, relative, parsed.source.splitlines())
            for index, statement in enumerate(parsed.tree.body):
                for name in bound_names(statement):
                    module.binders.setdefault(name, []).append(index)
            self._by_file[relative] = module
        module = self._by_file[relative]
        if module is None:
            raise ProgramError("unparsable", f"{relative} does not parse")
        return module

    def module_named(self, name: str) -> IndexedModule | None:
        relative = self.module_files().get(name)
        return None if relative is None else self.module(relative)

    def program(self, relative: str, top_name: str) -> str:
        """The program text that defines the top-level `top_name` of the file `relative`."""
        return _Closure(self).build(self.module(relative), top_name)


def bound_names(statement: ast.stmt) -> set[str]:
    """The names a top-level statement binds in its module (not inside functions or classes)."""
    names: set[str] = set()
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(alias.asname or alias.name.partition(".")[0] for alias in node.names if alias.name != "*")
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        if isinstance(node, ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return names


def free_names(statement: ast.stmt) -> set[str]:
    """Names a statement reads that none of its own scopes binds (an over-approximation of
    the module-level names it needs: a name bound anywhere inside counts as bound)."""
    loaded: set[str] = set()
    local: set[str] = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else local).add(node.id)
        elif isinstance(node, ast.arg):
            local.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not statement:
            local.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and node is not statement:
            local.update(alias.asname or alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            local.add(node.name)
    top = bound_names(statement) if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else set()
    return {name for name in loaded if name not in local or name in top}


class _Closure:
    """One program being gathered: the statements needed per module, and the module order."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.needed: dict[str, set[int]] = {}  # relative file -> statement indices
        self.renames: dict[str, list[str]] = {}  # relative file -> `alias = name` lines after its statements
        self.modules: dict[str, IndexedModule] = {}
        self.after: dict[str, set[str]] = {}  # file -> files that must come before it
        self.future = False

    def build(self, module: IndexedModule, top_name: str) -> str:
        indices = [i for i in module.binders.get(top_name, []) if isinstance(module.parsed.tree.body[i], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if not indices:
            raise ProgramError("not_top_level", f"{module.relative}: no top-level definition of {top_name!r}")
        self.resolve(module, top_name)
        return self.text()

    def resolve(self, module: IndexedModule, name: str) -> None:
        self.modules.setdefault(module.relative, module)
        for index in module.binders.get(name, []):
            self.need(module, index, name)

    def need(self, module: IndexedModule, index: int, name: str) -> None:
        statement = module.parsed.tree.body[index]
        if isinstance(statement, ast.ImportFrom) and self.import_from_project(module, statement, name):
            return
        done = self.needed.setdefault(module.relative, set())
        if index in done:
            return
        done.add(index)
        self.future = self.future or module.parsed.future_annotations
        for free in sorted(free_names(statement)):
            if free in module.binders:
                self.resolve(module, free)
            elif free not in _BUILTINS:
                continue  # unbound here: the run fails in the sandbox and the call is dropped

    def import_from_project(self, module: IndexedModule, statement: ast.ImportFrom, name: str) -> bool:
        """Inline `name` from a `from X import ...` of a project module; whether X is one."""
        target_name = module.parsed.resolve(statement)
        target = self.project.module_named(target_name) if target_name else None
        if target is None:
            return False
        for alias in statement.names:
            if (alias.asname or alias.name) != name:
                continue
            self.after.setdefault(module.relative, set()).add(target.relative)
            self.resolve(target, alias.name)
            if alias.name != name:
                self.renames.setdefault(target.relative, []).append(f"{name} = {alias.name}")
        return True

    def order(self) -> list[str]:
        placed: list[str] = []
        visiting: set[str] = set()

        def visit(relative: str) -> None:
            if relative in placed or relative in visiting:
                return  # a cycle: keep the order found
            visiting.add(relative)
            for first in sorted(self.after.get(relative, ())):
                visit(first)
            placed.append(relative)

        for relative in sorted(self.needed, key=lambda r: (r not in self.after, r)):
            visit(relative)
        return placed

    def text(self) -> str:
        header = ["from __future__ import annotations"] if self.future else []
        blocks: list[str] = []
        seen_imports: set[str] = set()
        bound_by: dict[str, str] = {}
        for relative in self.order():
            module = self.modules[relative]
            for index in sorted(self.needed.get(relative, ())):
                statement = module.parsed.tree.body[index]
                text = statement_text(module, statement)
                if isinstance(statement, (ast.Import, ast.ImportFrom)):
                    if text in seen_imports:
                        continue
                    seen_imports.add(text)
                else:
                    for name in bound_names(statement):
                        if bound_by.setdefault(name, relative) != relative:
                            raise ProgramError("name_clash", f"{name!r} is defined in both {bound_by[name]} and {relative}")
                blocks.append(text)
            blocks += self.renames.get(relative, [])
        body = "\n".join(header) + ("\n\n" if header else "")
        return body + "\n".join(blocks).rstrip() + "\n"


def statement_text(module: IndexedModule, statement: ast.stmt) -> str:
    """A top-level statement's text as written, decorators and all."""
    start = min([statement.lineno] + [d.lineno for d in getattr(statement, "decorator_list", [])])
    lines = module.lines[start - 1 : statement.end_lineno]
    if isinstance(statement, ast.ImportFrom) and statement.level:
        raise ProgramError("relative_import", f"{module.relative}:{statement.lineno}: a relative import of a module outside the project")
    text = "\n".join(lines)
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        text += "\n"  # a blank line after a definition, as in a module
    return text
