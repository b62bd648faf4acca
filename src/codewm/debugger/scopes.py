"""Where a frame is in the program's text: the function a `def` line names, and the lines
each function spans (the debugger places a repeated line in the function the frame is in)."""

from __future__ import annotations

import ast
import re

from codewm.types import START_MARKER


def function_name(line: str) -> str:
    match = re.match(r"\s*(?:async\s+)?def\s+(\w+)", line)
    if match:
        return match.group(1)
    if START_MARKER in line or not line.strip():
        return "<module>"
    if "lambda" in line:
        return "<lambda>"
    if " for " in line:
        return "<comprehension>"
    return "?"


def function_ranges(context: str) -> dict[int, tuple[int, int]]:
    """def line -> (first, last) line of each function, lambda and comprehension scope."""
    try:
        tree = ast.parse(context)
    except (SyntaxError, ValueError):
        return {}
    ranges: dict[int, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            ranges.setdefault(node.lineno, (first, node.end_lineno or node.lineno))
    return ranges


__all__ = ["function_name", "function_ranges"]
