"""The source as `list` and `longlist` show it: numbered lines, `B` at a breakpoint, `->` at
the current line, syntax-highlighted (pygments, which rich brings) when shown on a terminal.

The program's text is made terminal-safe first (`codewm.format.pretty.terminal_safe`): a
source line with an escape sequence in a string shows it as `\\x1b`, it does not drive the
terminal; the colours are added after, by codewm.
"""

from __future__ import annotations

import os

from codewm.format.pretty import terminal_safe


def color_wanted(stream) -> bool:
    """Whether to colour what goes to `stream`: a terminal, and neither NO_COLOR nor a dumb
    terminal says otherwise."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def highlighted(lines: list[str]) -> list[str]:
    """`lines` of Python with terminal colour codes (one output line per input line)."""
    try:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:  # pragma: no cover - rich depends on pygments
        return lines
    text = highlight("\n".join(lines) + "\n", PythonLexer(stripnl=False, ensurenl=False), TerminalFormatter())
    out = text.split("\n")[: len(lines)]
    return out if len(out) == len(lines) else lines


def listing_lines(source: list[str], first: int, last: int, here: int, breakpoints, offset: int, color: bool = False) -> list[str]:
    """Lines `first`..`last` (1-based, of the context `source`) as the listing shows them,
    numbered as the user's file (`offset`: context line minus file line)."""
    numbers = range(first, last + 1)
    code = [terminal_safe(source[number - 1].rstrip(), keep="\t") for number in numbers]
    if color:
        code = highlighted(code)
    out = []
    for number, text in zip(numbers, code):
        mark = ("B" if number in breakpoints else " ") + ("->" if number == here else "  ")
        out.append(f"{number - offset:4d} {mark} {text}")
    return out


__all__ = ["color_wanted", "highlighted", "listing_lines"]
