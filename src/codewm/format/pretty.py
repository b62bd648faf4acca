"""A readable terminal view of a traced run (rich): one row per step, changes only."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from codewm.format.cwm import reference_index

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
    title = Text.assemble((label, "bold"), "  ", status, f"  {len(trace.frames)} steps")
    if result.error:
        title.append(f"  ({result.error})", style="dim")
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("event")
    table.add_column("line", justify="right", style="dim")
    table.add_column("code", overflow="fold")
    table.add_column("state", overflow="fold")
    for index, frame in enumerate(trace.frames):
        code = "  " * frame.depth + frame.source.strip()
        if frame.locals is not None:
            state = Text("  ".join(f"{name}={value}" for name, value in changes(trace.frames, index)))
        else:
            arrow = "→ " if frame.event == "return" else "raise "
            state = Text(arrow + (frame.value or ""), style=_EVENT_STYLE[frame.event])
        table.add_row(str(index + 1), Text(frame.event, style=_EVENT_STYLE[frame.event]), str(frame.lineno or ""), code, state)
    return table


def print_result(result, label: str, console: Console | None = None) -> None:
    console = console or Console()
    console.print(result_table(result, label))
    if result.stdout:
        console.print(Text("stdout: ", style="dim") + Text(result.stdout.rstrip()[:2000]))
    console.print()
