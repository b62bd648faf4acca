"""Mutants of a project's functions, as SWE-smith makes them (issue 18, item 2).

Every function (method, nested function) whose cyclomatic complexity is at least
`min_complexity` is a unit; so is every class with such a method, for the class-level
operators (remove a base class, remove a method). Each operator of `mutate_operators` proposes
edits there; an edit is spliced over the smallest span it changes, so a mutant differs from its
file only inside the unit's lines, and formatting elsewhere is byte-identical.

Determinism: files are read in sorted order, units in source order, and each (file, unit,
operator) draws from its own `random.Random` seeded by a string, so the same project and seed
give the same mutants in the same order, whatever else changes in other files.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, TypeVar

from codewm.repo.mutate_operators import CLASS_OPERATORS, FUNCTION_OPERATORS, OPERATORS, Unit
from codewm.repo.mutate_text import Source, cyclomatic_complexity, split_lines

T = TypeVar("T")

# Folders and files that are not the project's own code: its tests, docs, build outputs.
SKIPPED_DIRS = {"tests", "test", "testing", "docs", "doc", "build", "dist", "examples",
                "benchmarks", "venv", "node_modules", "site-packages", "__pycache__"}
SKIPPED_FILES = re.compile(r"(test_.*|.*_test|conftest|setup|noxfile|fabfile)\.py")


class MutateError(ValueError):
    """A project or file that cannot be mutated (unreadable, not Python), with where."""


@dataclass(frozen=True)
class Mutant:
    """One broken version of one file. `source` is the whole new file text; `diff` a unified
    diff (`a/FILE`, `b/FILE`) that turns the original into it."""

    id: str
    file: str  # relative to the project root, with forward slashes
    qualname: str
    operator: str
    description: str
    line: int
    source: str
    diff: str

    def record(self) -> dict:
        """The mutant as data, without the full file text (the diff rebuilds it)."""
        return {"id": self.id, "file": self.file, "qualname": self.qualname,
                "operator": self.operator, "description": self.description, "line": self.line,
                "diff": self.diff}


def source_files(root: Path) -> list[Path]:
    """The project's own Python files (not its tests, docs or build folders), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise MutateError(f"{root}: not a folder")
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p in SKIPPED_DIRS or p.startswith(".") or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if not SKIPPED_FILES.fullmatch(parts[-1]):
            found.append(path)
    return found


def units(tree: ast.Module, min_complexity: int) -> list[Unit]:
    """Functions of complexity >= min_complexity, and classes holding such a method, in
    source order, with their qualified names (`Class.method`, `outer.<locals>.inner`)."""
    found: list[Unit] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                if cyclomatic_complexity(child) >= min_complexity:
                    found.append(Unit(child, name, "function"))
                visit(child, name + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                name = prefix + child.name
                methods = tuple(m for m in child.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                                and cyclomatic_complexity(m) >= min_complexity)
                if methods:
                    found.append(Unit(child, name, "class", methods))
                visit(child, name + ".")
            elif not isinstance(child, ast.Lambda):
                visit(child, prefix)

    visit(tree, "")
    return sorted(found, key=lambda u: (u.node.lineno, u.node.col_offset, u.kind))


def unified_diff(original: str, new: str, file: str, context: int = 3) -> str:
    """difflib's unified diff, with the `\\ No newline at end of file` marker patch expects.

    Only the window around the change is compared (difflib is quadratic-ish in the file's
    lines and a mutant changes one function); hunk line numbers are shifted back."""
    a, b = split_lines(original), split_lines(new)
    same_head = 0
    while same_head < min(len(a), len(b)) and a[same_head] == b[same_head]:
        same_head += 1
    same_tail = 0
    while same_tail < min(len(a), len(b)) - same_head and a[-1 - same_tail] == b[-1 - same_tail]:
        same_tail += 1
    lo, cut = max(0, same_head - context), max(0, same_tail - context)
    out = []
    for line in difflib.unified_diff(a[lo:len(a) - cut], b[lo:len(b) - cut], f"a/{file}", f"b/{file}", n=context):
        if line.startswith("@@"):
            line = re.sub(r"([-+])(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) + lo}", line, count=2)
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def apply_diff(original: str, diff: str) -> str:
    """Apply a one-file unified diff made by `unified_diff`; a hunk that does not match the
    text is a MutateError (the diff is for another version of the file)."""
    lines = split_lines(original)
    out: list[str] = []
    at = 0
    diff_lines = split_lines(diff)
    i = 0
    while i < len(diff_lines):
        header = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", diff_lines[i])
        i += 1
        if not header:
            continue
        start = int(header.group(1)) - (0 if header.group(2) == "0" else 1)
        out.extend(lines[at:start])
        at = start
        while i < len(diff_lines) and not diff_lines[i].startswith("@@"):
            tag, text = diff_lines[i][:1], diff_lines[i][1:]
            if i + 1 < len(diff_lines) and diff_lines[i + 1].startswith("\\"):
                text = text[:-1] if text.endswith("\n") else text
            if tag in " -":
                if at >= len(lines) or lines[at] != text:
                    raise MutateError(f"diff does not apply at line {at + 1}: expected {text!r}")
                at += 1
            if tag in " +":
                out.append(text)
            i += 2 if i + 1 < len(diff_lines) and diff_lines[i + 1].startswith("\\") else 1
    out.extend(lines[at:])
    return "".join(out)


def mutants_of_file(root: Path, path: Path, *, seed: int = 0, min_complexity: int = 3,
                    per_operator: int = 2, per_function: int = 6,
                    operators: Sequence[str] | None = None) -> list[Mutant]:
    """The mutants of one file: per unit, at most `per_operator` of each operator (a seeded
    sample of all its edits) and `per_function` in all, taking operators in turn."""
    rel = path.relative_to(root).as_posix()
    try:
        with open(path, encoding="utf-8", newline="") as handle:  # keep \r\n as written
            text = handle.read()
        tree = ast.parse(text, filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        raise MutateError(f"{path}: cannot read as Python ({type(exc).__name__}: {exc})") from None
    source = Source(text)
    names = list(operators) if operators is not None else list(OPERATORS)
    unknown = [n for n in names if n not in OPERATORS]
    if unknown:
        raise MutateError(f"unknown mutation operator(s) {unknown}; known: {list(OPERATORS)}")
    mutants: list[Mutant] = []
    seen: set[str] = set()
    for unit in units(tree, min_complexity):
        # The unit's whole lines: every edit must fall inside them, and only they are re-parsed
        # (the rest of the file is unchanged and parsed already).
        lo, hi = source.line_start(source.first_line(unit.node)), source.line_start(unit.node.end_lineno + 1)
        table = FUNCTION_OPERATORS if unit.kind == "function" else CLASS_OPERATORS
        per_op: list[list[Mutant]] = []
        for name in (n for n in names if n in table):
            rng = random.Random(f"{seed}:{rel}:{unit.qualname}:{name}")
            edits = list(table[name](source, unit, rng))
            rng.shuffle(edits)
            chosen: list[Mutant] = []
            for edit in edits:
                if len(chosen) >= per_operator:
                    break
                if not lo <= edit.start <= edit.end <= hi:
                    continue
                region = text[lo:edit.start] + edit.replacement + text[edit.end:hi]
                new = text[:lo] + region + text[hi:]
                if new == text or new in seen or not parses(region, indented=bool(source.indent(unit.node.lineno))):
                    continue
                seen.add(new)
                digest = hashlib.sha256(f"{rel}\0{new}".encode()).hexdigest()[:16]
                chosen.append(Mutant(digest, rel, unit.qualname, name, edit.description, edit.line,
                                     new, unified_diff(text, new, rel)))
            per_op.append(chosen)
        taken = 0
        for round_ in range(per_operator):
            for chosen in per_op:
                if round_ < len(chosen) and taken < per_function:
                    mutants.append(chosen[round_])
                    taken += 1
    return mutants


def parses(text: str, indented: bool = False) -> bool:
    """Whether `text` parses; an indented block (a method's lines) is parsed as the body of an
    `if` statement, which accepts any indentation."""
    try:
        ast.parse("if 1:\n" + text if indented else text)
    except (SyntaxError, ValueError):
        return False
    return True


def generate_mutants(root: Path, *, seed: int = 0, min_complexity: int = 3, per_operator: int = 2,
                     per_function: int = 6, operators: Sequence[str] | None = None) -> list[Mutant]:
    """Every file's mutants (`mutants_of_file`), files in sorted order."""
    root = Path(root)
    mutants: list[Mutant] = []
    for path in source_files(root):
        mutants.extend(mutants_of_file(root, path, seed=seed, min_complexity=min_complexity,
                                       per_operator=per_operator, per_function=per_function,
                                       operators=operators))
    return mutants


def sample_mutants(mutants: Iterable[Mutant], limit: int, seed: int = 0) -> list[Mutant]:
    """At most `limit` mutants, the operators taken in turn (each one's mutants in a seeded
    shuffle), so a small budget still measures every operator's yield."""
    by_operator: dict[str, list[Mutant]] = defaultdict(list)
    for mutant in mutants:
        by_operator[mutant.operator].append(mutant)
    return operators_in_turn(by_operator, OPERATORS, limit, seed)


def operators_in_turn(by_operator: Mapping[str, Sequence[T]], order: Iterable[str], limit: int, seed: int = 0) -> list[T]:
    """At most `limit` items, one of each operator in `order` in turn, each operator's items
    in a shuffle seeded by (`seed`, its name): a small budget still covers every operator, and
    the pick for a larger budget starts with the pick for a smaller one."""
    queues = []
    for name in order:
        queue = list(by_operator.get(name, []))
        random.Random(f"{seed}:{name}").shuffle(queue)
        queues.append(queue)
    picked: list[T] = []
    while len(picked) < limit and any(queues):
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked
