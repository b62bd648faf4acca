"""Repair tasks from the mutants `codewm repo mutate` kept (issue 18, item 3).

    header, kept = read_kept_mutants("parse-1.22.4.mutants.jsonl")
    for record in select_mutants(kept, 100):
        with mutant_project(project, record) as broken:      # a private copy, the diff applied
            task = repair_task(project, record)               # the failing tests and the fix
            run_episode(Workspace(broken), ScriptedExplorer(task), ...)

A kept mutant is one file's diff that makes some tests fail. The task's starting project is a
copy of the project with that diff applied; its instructions are the failing tests; the
scripted explorer's fix is the unit's text in the unmutated file. The unit is the mutated
function, or, for the class operators (a removed method, a removed base class), the whole
class: the function to restore does not exist in the mutant, so the explorer finds the
class and replaces its lines.
"""

from __future__ import annotations

import ast
import dataclasses
import shutil
import tempfile
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Iterator

from codewm.repo.mutate import MutateError, apply_diff, operators_in_turn
from codewm.repo.mutate_operators import CLASS_OPERATORS, OPERATORS
from codewm.repo.mutate_text import Source, split_lines
from codewm.repo.project import Project
from codewm.repo.verify import COPY_IGNORED, VerifyError, read_results

from codewm.apps.agent.explorer import RepairTask

RECORD_KEYS = ("id", "file", "qualname", "operator", "diff", "status", "failing_tests")


class MutantTaskError(ValueError):
    """A mutant that cannot become a task (its unit is not in the file, its diff does not
    apply, a record lacks a field); the message names the mutant."""


def read_kept_mutants(path: str | Path) -> tuple[dict, list[dict]]:
    """The header and the kept records of a `codewm repo mutate` results file, in file order;
    a record without the fields a task needs is a MutantTaskError naming its line."""
    try:
        header, records = read_results(Path(path))
    except (OSError, VerifyError) as exc:
        raise MutantTaskError(f"{path}: {exc}") from None
    kept = []
    for number, record in enumerate(records, 2):
        missing = [key for key in RECORD_KEYS if key not in record] if isinstance(record, dict) else list(RECORD_KEYS)
        if missing:
            raise MutantTaskError(f"{path}:{number}: a mutant record needs {', '.join(missing)}")
        if record["status"] == "kept":
            if not record["failing_tests"]:
                raise MutantTaskError(f"{path}:{number}: mutant {record['id']} is kept but names no failing test")
            kept.append(record)
    return header, kept


def supported(record: dict) -> bool:
    """Whether the explorer can be told where the unit is: a function, method or class by
    its dotted name (not a function nested in another: `outer.<locals>.inner`)."""
    return "<locals>" not in record["qualname"]


def select_mutants(records: list[dict], count: int, seed: int = 0) -> list[dict]:
    """`count` records, the operators taken in turn (each one's records in a seeded shuffle of
    their id order), so a small count still covers every operator. Deterministic; the
    selection for a larger count starts with the selection for a smaller one."""
    if count < 0:
        raise ValueError(f"count must be at least 0, got {count}")
    by_operator: dict[str, list[dict]] = defaultdict(list)
    for record in sorted((r for r in records if supported(r)), key=lambda r: r["id"]):
        by_operator[record["operator"]].append(record)
    order = list(OPERATORS) + sorted(set(by_operator) - set(OPERATORS))  # operators this codewm does not know come last
    return operators_in_turn(by_operator, order, count, seed)


def unit_text(source: str, qualname: str) -> str:
    """The whole lines of the function or class `qualname` (`Class.method`, decorators
    included) in `source`; MutantTaskError if there is none."""
    tree = ast.parse(source)
    node = find_unit(tree, qualname)
    if node is None:
        raise MutantTaskError(f"no function or class {qualname!r} in the original file")
    lines = split_lines(source)
    return "".join(lines[Source(source).first_line(node) - 1 : node.end_lineno])


def find_unit(tree: ast.Module, qualname: str) -> ast.AST | None:
    """The first definition whose qualified name, as codewm.repo.mutate writes it
    (`Class.method`, `outer.<locals>.inner`), is `qualname`."""
    pending: list[tuple[ast.AST, str]] = [(tree, "")]
    while pending:
        node, prefix = pending.pop(0)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if name == qualname:
                    return child
                inner = ".<locals>." if not isinstance(child, ast.ClassDef) else "."
                pending.append((child, name + inner))
            elif not isinstance(child, ast.Lambda):
                pending.append((child, prefix))
    return None


def project_file(root: Path, record: dict) -> Path:
    """The mutant's file inside `root`; MutantTaskError for a path that leads elsewhere (the
    mutants file is input: `../x` or `/etc/x` must not be read or written)."""
    name = record["file"]
    parts = PurePosixPath(name).parts if isinstance(name, str) else ()
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name:
        raise MutantTaskError(f"mutant {record.get('id')}: {name!r:.200} is not a path inside the project")
    path = Path(root) / name
    if Path(root).resolve() not in path.resolve().parents:
        raise MutantTaskError(f"mutant {record.get('id')}: {name!r:.200} leads outside the project")
    return path


def repair_task(project_root: Path, record: dict) -> RepairTask:
    """The scripted explorer's task for one kept mutant: its failing tests, the unit (the
    function; the class for a class operator) and that unit's text in the unmutated file."""
    try:
        original = project_file(project_root, record).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MutantTaskError(f"mutant {record['id']}: {record['file']}: {exc}") from None
    kind = "class" if record["operator"] in CLASS_OPERATORS else "function"
    try:
        fixed = unit_text(original, record["qualname"])
    except (SyntaxError, MutantTaskError) as exc:
        raise MutantTaskError(f"mutant {record['id']}: {record['file']}: {exc}") from None
    tests = tuple(t["id"] if isinstance(t, dict) else t for t in record["failing_tests"])
    try:
        return RepairTask(tests, record["qualname"], path=record["file"], fixed_text=fixed,
                          kind=kind, top_level="." not in record["qualname"])
    except ValueError as exc:
        raise MutantTaskError(f"mutant {record['id']}: {exc}") from None


@contextmanager
def mutant_project(project: Project, record: dict, parent_dir: str | None = None) -> Iterator[Project]:
    """A private copy of `project` with the mutant's diff applied (deleted on exit): the
    task's starting project, the same files every time (for the replay)."""
    with tempfile.TemporaryDirectory(prefix="codewm-mutant-", dir=parent_dir) as scratch:
        root = Path(scratch) / project.root.name
        shutil.copytree(project.root, root, ignore=COPY_IGNORED, symlinks=True)
        target = project_file(root, record)
        try:
            with open(target, encoding="utf-8", newline="") as handle:
                text = handle.read()
            mutated = apply_diff(text, record["diff"])
        except (OSError, UnicodeDecodeError, MutateError) as exc:
            raise MutantTaskError(f"mutant {record['id']}: {record['file']}: {exc}") from None
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(mutated)
        yield dataclasses.replace(project, root=root)
