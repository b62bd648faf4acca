"""Speculative validation of patches: candidate diffs of one function inside a file.

    ranking, patched = rank_patches(source, "parse", diffs, tests, predictions=..., hidden=check_script, verify=True)

Each candidate is a unified diff of the file (as `git diff` or `diff -u` writes it, one file,
any number of hunks). It must apply cleanly (every context and removed line as in the file)
and change only lines inside the function `function` (its `def` to its last line, decorators
included); a diff that does not is left out of the ranking with the reason
(`PatchedCandidate.error`), never run. The tests are assert statements that call the
function by name (`assert parse("1,2") == [1, 2]`) and run in the patched module's namespace,
so they may use its other names too. The hidden test, when given, is a script run after the
patched file in the same namespace (or `def check(candidate)`, called with the function).
The ranking itself is `codewm.apps.rank.loop.rank` on the patched files.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Sequence

from codewm.apps.rank.loop import Ranking, rank
from codewm.apps.rank.pool import Task

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(ValueError):
    """A diff that does not apply to the file, or changes more than the function."""


@dataclass(frozen=True)
class PatchedCandidate:
    diff: str
    source: str | None  # the patched file; None when the diff was left out
    error: str | None = None


def apply_patch(source: str, diff: str) -> tuple[str, list[int]]:
    """The file after the unified `diff`, and the (1-based) lines of the original it removes
    or inserts before. Raises PatchError naming the hunk that does not apply."""
    old = source.splitlines(keepends=True)
    out: list[str] = []
    touched: list[int] = []
    at = 0  # lines of `old` copied so far
    lines = diff.splitlines(keepends=True)
    i, hunks = 0, 0
    while i < len(lines):
        match = _HUNK.match(lines[i])
        if not match:
            i += 1  # headers (---, +++, diff --git, index) and anything between hunks
            continue
        hunks += 1
        start = int(match.group(1)) - (0 if match.group(2) == "0" else 1)
        if start < at:
            raise PatchError(f"hunk {hunks} starts at line {start + 1}, inside an earlier hunk")
        out.extend(old[at:start])
        at = start
        i += 1
        while i < len(lines) and not _HUNK.match(lines[i]) and not lines[i].startswith(("--- ", "diff ")):
            line = lines[i]
            tag, text = line[:1], line[1:]
            if tag == "\\":  # "\ No newline at end of file"
                if out and out[-1].endswith("\n"):
                    out[-1] = out[-1][:-1]
            elif tag in (" ", "-"):
                if at >= len(old) or old[at].rstrip("\n") != text.rstrip("\n"):
                    found = old[at].rstrip("\n") if at < len(old) else "the end of the file"
                    raise PatchError(f"hunk {hunks} does not apply at line {at + 1}: expected {text.rstrip()!r}, the file has {found!r}")
                if tag == " ":
                    out.append(old[at])
                else:
                    touched.append(at + 1)
                at += 1
            elif tag == "+":
                touched.append(at + 1)
                out.append(text if text.endswith("\n") else text + "\n")
            elif line.strip() == "":
                pass  # a blank line some tools leave between hunks
            else:
                raise PatchError(f"hunk {hunks}: a line that is no diff line: {line.rstrip()!r}")
            i += 1
    if not hunks:
        raise PatchError("no hunk (@@ -a,b +c,d @@) in the diff")
    out.extend(old[at:])
    return "".join(out), touched


def function_lines(source: str, function: str) -> range:
    """The lines (1-based) of the top-level function `function`, decorators included."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise PatchError(f"the file does not parse: {exc}") from None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return range(first, (node.end_lineno or node.lineno) + 1)
    raise PatchError(f"no top-level function {function!r} in the file")


def patched_candidates(source: str, function: str, diffs: Sequence[str]) -> list[PatchedCandidate]:
    """Each diff applied, or left out with the reason."""
    span = function_lines(source, function)
    out = []
    for diff in diffs:
        try:
            patched, touched = apply_patch(source, diff)
            outside = [line for line in touched if line not in span and line != span.stop]
            if outside:
                raise PatchError(f"the diff changes line {outside[0]}, outside {function!r} (lines {span.start}-{span.stop - 1})")
            function_lines(patched, function)  # still there, and the file still parses
        except PatchError as exc:
            out.append(PatchedCandidate(diff, None, str(exc)))
            continue
        out.append(PatchedCandidate(diff, patched))
    return out


def rank_patches(source: str, function: str, diffs: Sequence[str], tests: Sequence[str], *, name: str = "patch", hidden: str = "", **options) -> tuple[Ranking, list[PatchedCandidate]]:
    """Rank the diffs that apply by `rank` (options: predictions or predictor and sandbox,
    verify, max_runs, ...). The ranking's candidates are the distinct patched files that
    apply; `patched[k].source` maps diff k to one of them (None: left out)."""
    patched = patched_candidates(source, function, diffs)
    files = [p.source for p in patched if p.source is not None]
    if not files:
        raise PatchError("no diff applies: " + "; ".join(p.error or "" for p in patched))
    task = Task(f"{name}::{function}", "", function, hidden)
    return rank(task, files, list(tests), **options), patched
