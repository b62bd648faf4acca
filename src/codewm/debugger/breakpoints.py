"""The session's breakpoints: a set of line numbers, some with a condition (`b 7, x > 2`,
evaluated on the predicted locals in the sandbox) and some temporary (`tbreak`: deleted
where they first stop a motion)."""

from __future__ import annotations


class Breakpoints(set):
    """Context line numbers (a plain set to read and to `add` to), with each line's condition
    and the temporary ones; removing a line removes what it had."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.conditions: dict[int, str] = {}
        self.temporary: set[int] = set()

    def put(self, line: int, condition: str | None = None, temporary: bool = False) -> None:
        """Set a breakpoint at `line` (replacing one there, as pdb's `break` on a line adds)."""
        self.add(line)
        self.conditions.pop(line, None)
        if condition:
            self.conditions[line] = condition
        if temporary:
            self.temporary.add(line)
        else:
            self.temporary.discard(line)

    def discard(self, line: int) -> None:
        super().discard(line)
        self.conditions.pop(line, None)
        self.temporary.discard(line)

    def remove(self, line: int) -> None:
        if line not in self:
            raise KeyError(line)
        self.discard(line)

    def clear(self) -> None:
        super().clear()
        self.conditions.clear()
        self.temporary.clear()


__all__ = ["Breakpoints"]
