"""A readable terminal view of a traced run (rich): one row per step, changes only.

Everything the program controls (values from its `__repr__`s, its source, its stdout, its
error) is shown with control characters escaped (`\\x1b[2J`), so a traced program cannot
move the cursor, clear the screen or retitle the terminal through this view. Only this view
escapes: the cwm and json formats keep the exact text.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from codewm.format.cwm import reference_index

# C0 controls, DEL and C1 controls: what a terminal may act on instead of showing.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def terminal_safe(text: str, keep: str = "\n\t") -> str:
    """`text` with every control character except those in `keep` written as a visible
    escape (`\\x1b`, `\\r`), so that printing it cannot drive the terminal."""

    def escape(match: re.Match) -> str:
        char = match.group()
        if char in keep:
            return char
        return _NAMED_ESCAPES.get(char) or f"\\x{ord(char):02x}"

    return _CONTROL.sub(escape, text)


_STATUS_STYLE = {"ok": "green", "exception": "yellow"}
_EVENT_STYLE = {"call": "cyan", "line": "", "return": "magenta", "exception": "red"}


def changes(frames, index: int) -> list[tuple[str, str]]:
    """The locals of `frames[index]` that differ from what the step before showed."""
    frame = frames[index]
    if frame.locals is None:
        return []
    ref = reference_index(frames, index)
    before = frames[ref].locals if ref is not None else {}
    return [(name, value) for name, value in frame.locals.items() if before.get(name) != value]


def result_table(result, label: str) -> Table:
    trace = result.trace
    status = Text(result.status, style=_STATUS_STYLE.get(result.status, "bold red"))
    title = Text.assemble((terminal_safe(label, keep=""), "bold"), "  ", status, f"  {len(trace.frames)} steps")
    if result.error:
        title.append(f"  ({terminal_safe(result.error, keep='')})", style="dim")
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("event")
    table.add_column("line", justify="right", style="dim")
    table.add_column("code", overflow="fold")
    table.add_column("state", overflow="fold")
    for index, frame in enumerate(trace.frames):
        code = terminal_safe("  " * frame.depth + frame.source.strip(), keep="")
        if frame.locals is not None:
            state = Text(terminal_safe("  ".join(f"{name}={value}" for name, value in changes(trace.frames, index)), keep=""))
        else:
            arrow = "→ " if frame.event == "return" else "raise "
            state = Text(arrow + terminal_safe(frame.value or "", keep=""), style=_EVENT_STYLE[frame.event])
        table.add_row(str(index + 1), Text(frame.event, style=_EVENT_STYLE[frame.event]), str(frame.lineno or ""), code, state)
    return table


def print_result(result, label: str, console: Console | None = None) -> None:
    console = console or Console()
    console.print(result_table(result, label))
    if result.stdout:
        console.print(Text("stdout: ", style="dim") + Text(terminal_safe(result.stdout.rstrip()[:2000])))
    console.print()
