"""The source text under a syntax tree: offsets of ast nodes, whole-line ownership, and blocks.

Mutants are made by splicing new text over the smallest changed span of the original file, so
everything outside that span (comments, blank lines, other functions) stays byte-identical.
ast positions are UTF-8 byte columns; `Source` turns them into character offsets.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Iterator

# Nested definitions are units of their own: a mutation inside one belongs to it, not its parent.
NESTED_UNITS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Edit:
    """Replace `text[start:end]` with `replacement` (character offsets into the file)."""

    start: int
    end: int
    replacement: str
    description: str
    line: int  # 1-based line of the change, for people reading the mutant


def split_lines(text: str) -> list[str]:
    """Lines as Python counts them (ends: \\n, \\r\\n, \\r), unlike str.splitlines, which also
    breaks at form feeds and other separators that ast does not count."""
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)", text)
    rest = text[sum(map(len, lines)):]
    return lines + [rest] if rest else lines


class Source:
    """One file's text with conversions from ast positions to character offsets."""

    def __init__(self, text: str):
        self.text = text
        self.lines = split_lines(text)
        self.line_starts = [0]
        for line in self.lines:
            self.line_starts.append(self.line_starts[-1] + len(line))

    def offset(self, lineno: int, col_bytes: int) -> int:
        line = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        col = len(line.encode("utf-8")[:col_bytes].decode("utf-8", errors="replace"))
        return self.line_starts[lineno - 1] + col

    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)

    def segment(self, node: ast.AST) -> str:
        return self.text[self.start(node):self.end(node)]

    def line_start(self, lineno: int) -> int:
        """Offset of the first character of line `lineno` (the file's end past the last line)."""
        return self.line_starts[min(lineno, len(self.lines) + 1) - 1]

    def indent(self, lineno: int) -> str:
        line = self.lines[lineno - 1]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def first_line(self, node: ast.AST) -> int:
        """The statement's first line, decorators included."""
        decorators = getattr(node, "decorator_list", None) or []
        return min([node.lineno] + [d.lineno for d in decorators])

    def owns_lines(self, node: ast.stmt) -> bool:
        """Whether the statement's lines hold nothing else: only indentation before it, only
        whitespace or a comment after it (no `a = 1; b = 2`), so whole lines can move."""
        first = self.first_line(node)
        if self.start_of(node) != self.line_start(first) + len(self.indent(first)):
            return False
        after = self.text[self.end(node):self.line_start(node.end_lineno + 1)]
        return after.strip() == "" or after.strip().startswith("#")

    def start_of(self, node: ast.stmt) -> int:
        first = self.first_line(node)
        if first != node.lineno:
            decorator = min(node.decorator_list, key=lambda d: d.lineno)
            # The decorator's `@` sits just before the expression.
            return self.text.rindex("@", self.line_start(first), self.start(decorator) + 1)
        return self.start(node)

    def lines_span(self, node: ast.stmt) -> tuple[int, int]:
        """Character span of the statement's whole lines, decorators and newline included."""
        return self.line_start(self.first_line(node)), self.line_start(node.end_lineno + 1)

    def is_parenthesized(self, node: ast.AST, within: ast.AST) -> tuple[int, int] | None:
        """The span of `(node)` when parentheses wrap the node inside `within`, else None."""
        lo, hi = self.start(node), self.end(node)
        floor, ceiling = self.start(within), self.end(within)
        left = self.text[floor:lo].rstrip()
        right_text = self.text[hi:ceiling]
        right = right_text.lstrip()
        if left.endswith("(") and right.startswith(")"):
            return floor + len(left) - 1, hi + (len(right_text) - len(right)) + 1
        return None


def mask_comments(text: str) -> str:
    """`text` (code between two operands: no strings) with each comment blanked out."""
    return re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), text)


def operator_span(source: Source, left_end: int, right_start: int) -> tuple[int, int]:
    """The span of the operator written between two operands (parentheses, spaces, line
    continuations and comments around it are not part of it)."""
    between = mask_comments(source.text[left_end:right_start])
    strip = " \t\r\n\\()"
    lo = len(between) - len(between.lstrip(strip))
    hi = len(between.rstrip(strip))
    return left_end + lo, left_end + hi


def own_nodes(unit: ast.AST) -> Iterator[ast.AST]:
    """Every node inside `unit`'s body that is not inside a nested function or class."""
    stack = list(reversed(getattr(unit, "body", [])))
    while stack:
        node = stack.pop()
        yield node
        # Positions inside f-strings are unreliable before Python 3.12: nothing there is edited.
        if isinstance(node, NESTED_UNITS + (ast.JoinedStr,)):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def is_elif(source: Source, node: ast.AST) -> bool:
    return isinstance(node, ast.If) and source.text.startswith("elif", source.start(node))


def blocks(source: Source, unit: ast.AST) -> Iterator[list[ast.stmt]]:
    """The indented statement blocks of `unit` itself (its body and those of its compound
    statements), not an `elif`'s hidden `orelse` list."""
    yield unit.body
    for node in own_nodes(unit):
        if isinstance(node, NESTED_UNITS):
            continue
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not block or not isinstance(block, list) or not isinstance(block[0], ast.stmt):
                continue
            if field == "orelse" and len(block) == 1 and is_elif(source, block[0]):
                continue
            yield block
        for handler in getattr(node, "handlers", []):
            yield handler.body
        for case in getattr(node, "cases", []):
            yield case.body


def remove_statement(source: Source, block: list[ast.stmt], stmt: ast.stmt, what: str) -> Edit | None:
    """Delete `stmt`'s lines; a block left empty gets a `pass` so the file still parses."""
    if not source.owns_lines(stmt):
        return None
    lo, hi = source.lines_span(stmt)
    replacement = ""
    if len(block) == 1:
        last = source.lines[stmt.end_lineno - 1]
        ending = last[len(last.rstrip("\r\n")):]  # the file's own line end
        replacement = source.indent(source.first_line(stmt)) + "pass" + ending
    return Edit(lo, hi, replacement, f"remove {what} at line {stmt.lineno}", stmt.lineno)


def has_multiline_string(nodes: list[ast.stmt]) -> bool:
    """Whether re-indenting these statements' lines would change a string's contents."""
    for stmt in nodes:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno != node.lineno:
                if isinstance(node, ast.JoinedStr) or isinstance(node.value, (str, bytes)):
                    return True
    return False


def dedent_lines(text: str, amount: int, floor: str) -> str:
    """Remove `amount` characters of indentation from each line; a line indented less (a
    comment) goes to the `floor` indentation instead."""
    out = []
    for line in text.splitlines(keepends=True):
        if not line.strip():
            out.append(line)
        elif line[:amount].strip() == "" and len(line) - len(line.lstrip(" \t")) >= amount:
            out.append(line[amount:])
        else:
            out.append(floor + line.lstrip(" \t"))
    return "".join(out)


def cyclomatic_complexity(function: ast.AST) -> int:
    """McCabe's number as radon counts it: 1 + one per decision point in the function's own
    body (nested functions and classes count for themselves): `if`/`elif`, a conditional
    expression, `for`, `while`, each `except`, each `case`, each `and`/`or` after the first
    operand, and each `for` and `if` of a comprehension."""
    count = 1
    for node in own_nodes(function):
        if isinstance(node, (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While,
                             ast.ExceptHandler, ast.match_case)):
            count += 1
        elif isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            count += 1 + len(node.ifs)
    return count
