"""The debugger's commands that look without moving: print / pp / display of expressions
over the predicted locals, locals, args, where, up, down, list, longlist.

A mixin of `codewm.debugger.shell.DebuggerShell` (which gives it `session`, `say`, `error`,
`selected` and `where_text`). Expressions are evaluated in the sandbox on the predicted
values (`codewm.debugger.expressions`); a plain name shows the model's own text for it,
with the model's confidence.
"""

from __future__ import annotations

import keyword
import re

from codewm.debugger.expressions import ExpressionError
from codewm.debugger.listing import listing_lines
from codewm.debugger.session import DebuggerError, Step
from codewm.debugger.text import confidence_note


class InspectCommands:
    displays: list[str]

    # -- values -----------------------------------------------------------------------------
    def do_print(self, argument: str) -> None:
        """print EXPR | NAME [NAME ...]  (p): the predicted value of each local (at a return:
        __return__ is the value returned), with the model's confidence in it; or an
        expression over the predicted locals (p xs[0] + 1), evaluated in the sandbox."""
        if not argument.strip():
            raise DebuggerError("print needs a name or an expression: print NAME [NAME ...] or print EXPR")
        values, confidences, edited = self.session.visible_locals(self.selected_step())
        names = [name for name in re.split(r"[\s,]+", argument) if name]
        if all(name.isidentifier() and not keyword.iskeyword(name) for name in names) and (len(names) > 1 or names[0] in values):
            for name in names:
                if name not in values:
                    known = ", ".join(values) or "none"
                    self.error(f"{name!r} is not a local at this step (locals: {known})")
                    continue
                self.say(f"{name} = {values[name]}{confidence_note(confidences.get(name), name in edited)}")
            return
        self.say(self._evaluated(argument))

    def do_pp(self, argument: str) -> None:
        """pp EXPR: like print, the value pretty-printed (pprint), over the predicted locals."""
        if not argument.strip():
            raise DebuggerError("pp needs an expression: pp EXPR")
        self.say(self._evaluated(argument, pretty=True))

    def _evaluated(self, expression: str, pretty: bool = False) -> str:
        """The value of `expression` over the predicted locals, or a DebuggerError saying why
        there is none."""
        try:
            result = self.session.evaluate(expression, self.selected_step(), pretty=pretty)
        except ExpressionError as exc:
            raise DebuggerError(str(exc)) from None
        if not result.ok:
            hint = ""
            if result.error.startswith("NameError"):
                values, _, _ = self.session.visible_locals(self.selected_step())
                hint = f"; the locals at this step: {', '.join(values) or 'none'}"
            raise DebuggerError(f"{expression.strip()}: {result.error} (evaluated in the sandbox on the predicted values{hint})")
        return result.value

    def do_display(self, argument: str) -> None:
        """display [EXPR]: show EXPR's value (over the predicted locals) after every motion;
        without EXPR, the expressions displayed and their values now."""
        expression = argument.strip()
        if not expression:
            if not self.displays:
                self.say("no expressions displayed")
            self.show_displays()
            return
        try:
            from codewm.debugger.expressions import parse_expression

            parse_expression(expression)
        except ExpressionError as exc:
            raise DebuggerError(str(exc)) from None
        if expression not in self.displays:
            self.displays.append(expression)
        if self.session.current is not None:
            self.say(self._display_line(expression))

    def do_undisplay(self, argument: str) -> None:
        """undisplay [EXPR]: stop displaying EXPR; without EXPR, every expression."""
        expression = argument.strip()
        if not expression:
            count = len(self.displays)
            self.displays.clear()
            self.say(f"cleared {count} display{'s' if count != 1 else ''}")
            return
        if expression not in self.displays:
            raise DebuggerError(f"{expression!r} is not displayed (displayed: {', '.join(self.displays) or 'none'})")
        self.displays.remove(expression)

    def show_displays(self) -> None:
        if self.session.current is None:
            return
        for expression in self.displays:
            self.say(self._display_line(expression))

    def _display_line(self, expression: str) -> str:
        values, _, _ = self.session.visible_locals(self.selected_step())
        if expression in values:  # a plain name: the model's own text, no sandbox needed
            return f"display {expression}: {values[expression]}"
        try:
            return f"display {expression}: {self._evaluated(expression)}"
        except DebuggerError as exc:
            return f"display {expression}: ** {exc} **"

    def do_locals(self, argument: str) -> None:
        """locals: every local at this step, with the model's confidence in each."""
        self._no_argument(argument, "locals")
        values, confidences, edited = self.session.visible_locals(self.selected_step())
        if not values:
            self.say("(no locals)")
        for name, value in values.items():
            self.say(f"{name} = {value}{confidence_note(confidences.get(name), name in edited)}")

    def do_args(self, argument: str) -> None:
        """args  (a): the arguments of the current function (the names its call frame had),
        with their predicted values at this step."""
        self._no_argument(argument, "args")
        step = self.selected_step()
        call = self.session.call_of(step)
        if call is None or not call.frame.locals:
            self.say("(no arguments)")
            return
        values, confidences, edited = self.session.visible_locals(step)
        for name in call.frame.locals:
            value = values.get(name, call.frame.locals[name])
            self.say(f"{name} = {value}{confidence_note(confidences.get(name), name in edited)}")

    # -- the stack ----------------------------------------------------------------------------
    def do_where(self, argument: str) -> None:
        """where  (w, bt): the call stack, innermost last."""
        self._no_argument(argument, "where")
        stack = self.session.stack()
        chosen = len(stack) - 1 - min(self.selected, len(stack) - 1)
        for depth, step in enumerate(stack):
            marker = ">" if depth == chosen else " "
            self.say(f"{marker} {self.where_text(step)}")
            self.say(f"    {step.frame.source.strip()}")

    def selected_step(self) -> Step:
        """The step `print`, `locals` and `list` look at: the innermost frame's, or the one
        `up` chose (the caller's latest step: the line that made the call)."""
        stack = self.session.stack()
        self.selected = min(self.selected, len(stack) - 1)
        return stack[-1 - self.selected]

    def do_up(self, argument: str) -> None:
        """up [N]  (u): to the caller's frame (print, locals and list then show it)."""
        count = self._count(argument, "up")
        stack = self.session.stack()
        if self.selected >= len(stack) - 1:
            raise DebuggerError("already at the outermost frame")
        self.selected = min(self.selected + count, len(stack) - 1)
        self._show_selected()

    def do_down(self, argument: str) -> None:
        """down [N]  (d): back towards the frame of the current step."""
        count = self._count(argument, "down")
        self.session.stack()
        if self.selected == 0:
            raise DebuggerError("already at the innermost frame")
        self.selected = max(self.selected - count, 0)
        self._show_selected()

    def _show_selected(self) -> None:
        step = self.selected_step()
        self.say(f"> {self.where_text(step)}")
        self.say(f"-> {step.frame.source.strip()}")

    # -- the source ---------------------------------------------------------------------------
    def do_list(self, argument: str) -> None:
        """list [LINE | FIRST, LAST]  (l): the source around the current line (or LINE)."""
        total = len(self.session._lines)
        current = self.selected_step() if self.session.current is not None else None
        here = current.lineno if current is not None else 0
        if argument:
            parts = [part for part in re.split(r"[\s,]+", argument) if part]
            if not all(re.fullmatch(r"\d+", part) for part in parts) or len(parts) > 2:
                raise DebuggerError(f"list takes a line number or FIRST, LAST, got {argument!r}")
            numbers = [int(part) + self.program.offset for part in parts]
            if len(numbers) == 2:
                first, last = numbers
                if first > last:
                    raise DebuggerError(f"list {argument}: the first line comes after the last")
            else:
                first, last = numbers[0] - 5, numbers[0] + 5
        else:
            first, last = (here or 1) - 5, (here or 1) + 5
        first, last = max(first, 1 + self.program.offset), min(last, total)
        if first > last:
            raise DebuggerError(f"{self.program.name} has {self.program.source_lines} lines")
        self._listing(first, last, here)

    def do_longlist(self, argument: str) -> None:
        """longlist  (ll): the whole source of the current function."""
        self._no_argument(argument, "longlist")
        if self.session.current is None:
            raise DebuggerError("nothing is predicted yet")
        step = self.selected_step()
        call = self.session.call_of(step)
        whole = (1 + self.program.offset, len(self.session._lines))
        low, high = self.session._scopes.get(call.lineno, whole) if call is not None else whole
        self._listing(low, high, step.lineno)

    def _listing(self, first: int, last: int, here: int) -> None:
        lines = listing_lines(self.session._lines, first, last, here, self.session.breakpoints, self.program.offset, color=self.color)
        for line in lines:
            self.say(line, escaped=True)


__all__ = ["InspectCommands"]
