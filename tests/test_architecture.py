"""The house rules of the source tree, checked on every run (issue 14).

- Imports go one way, down the stack of stages in the order of the data flow
  (docs: ../README.md "Layout"); the shared modules at the package root sit below all.
- No import circle between modules.
- No private name (`_x`) imported from another module, except a private extension module
  (`_ctracer`) by its own package.
- No source file over 600 lines unless its docstring says why (a line with "Longer than 600
  lines because").
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "codewm"

# Lowest first. A module may import from its own stage and from stages before it.
STAGES = ["(root)", "trace", "format", "programs", "repo", "examples", "dataset", "model", "predict", "evaluate", "debugger", "apps", "cli"]
MAX_LINES = 600
LONG_FILE_REASON = "Longer than 600 lines because"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted module name (a module or a package)
    name: str | None  # the name imported from it (`from target import name`), if any
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(dotted: str) -> bool:
    relative = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    base = PACKAGE / relative
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists() or any(base.parent.glob(base.name + ".*.so")) or base.with_suffix(".c").exists()


def imports_of(path: Path) -> list[Import]:
    importer = module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(importer, alias.name, None, node.lineno) for alias in node.names if alias.name.split(".")[0] == "codewm"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "codewm":
                continue
            for alias in node.names:
                # `from codewm.trace import sandbox` imports a module, not a name
                if is_module(f"{target}.{alias.name}"):
                    found.append(Import(importer, f"{target}.{alias.name}", None, node.lineno))
                else:
                    found.append(Import(importer, target, alias.name, node.lineno))
    return found


def stage_of(dotted: str) -> str:
    parts = dotted.split(".")
    if len(parts) == 1:
        return "(root)"
    if parts[1] == "__main__":  # `python -m codewm`: the command line, at the top of the stack
        return "cli"
    if len(parts) == 2 and (PACKAGE / f"{parts[1]}.py").exists() and parts[1] != "cli":
        return "(root)"
    return parts[1]


SOURCES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = [found for path in SOURCES for found in imports_of(path)]


def test_the_stages_cover_every_folder():
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert folders <= set(STAGES), f"a package without a place in the stack: {sorted(folders - set(STAGES))}"


def test_imports_go_down_the_stack():
    upward = [
        f"{found.importer} (line {found.line}) imports {found.target}"
        for found in IMPORTS
        if STAGES.index(stage_of(found.target)) > STAGES.index(stage_of(found.importer))
    ]
    assert not upward, "imports pointing up the stack:\n" + "\n".join(upward)


def test_no_private_name_crosses_a_module():
    crossing = []
    for found in IMPORTS:
        if found.name and found.name.startswith("_") and not found.name.startswith("__"):
            crossing.append(f"{found.importer} (line {found.line}) imports {found.target}.{found.name}")
        last = found.target.rpartition(".")[2]
        if found.name is None and last.startswith("_") and found.target.rpartition(".")[0] != found.importer.rpartition(".")[0]:
            crossing.append(f"{found.importer} (line {found.line}) imports the private module {found.target}")
    assert not crossing, "private names imported across modules:\n" + "\n".join(crossing)


def test_no_import_circle():
    graph: dict[str, set[str]] = {}
    for found in IMPORTS:
        if found.target != found.importer:
            graph.setdefault(found.importer, set()).add(found.target)
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(circle) for circle in circles)


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_source_files_stay_short_or_say_why(path):
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    if lines > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(text)) or ""
        assert LONG_FILE_REASON in docstring, f"{path.relative_to(PACKAGE)} has {lines} lines and its docstring does not say why ({LONG_FILE_REASON!r} ...)"
