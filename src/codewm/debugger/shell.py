"""The pdb-like prompt of `codewm debug`: commands, abbreviations, line editing and history.

Built on the standard library's `cmd` (as pdb is), so readline gives line editing, history
(kept between sessions in a file) and tab completion of command names. Commands take pdb's
names and abbreviations (s, n, c, b, cl, unt, p, w, l, ll, q, r for `out`), any unambiguous
prefix of a command's name, and an empty line repeats the last command. A command that
cannot be carried out says why, starting with `***` as pdb does, and the session goes on.

The same session runs from a list of commands (`-c`, `--commands FILE`) or from standard
input when it is not a terminal: each command is echoed after the prompt, so the transcript
reads like a terminal session.
"""

from __future__ import annotations

import cmd
import os
import re
import sys
from pathlib import Path
from typing import IO, Iterable

from codewm.debugger.confidence import RETURN_VALUE
from codewm.debugger.session import ENDED_COMPLETE, DebuggerError, DebugSession, Motion, Step
from codewm.debugger.spinner import Spinner
from codewm.debugger.text import LOW_CONFIDENCE, confidence_note, percent, truth_lines

COMMANDS = (
    "step", "next", "out", "back", "continue", "break", "clear", "until", "print", "locals",
    "where", "up", "down", "list", "longlist", "set", "truth", "restart", "quit", "help",
)
# pdb's abbreviations, and the names other debuggers use for the same command
ALIASES = {
    "s": "step", "n": "next", "o": "out", "r": "out", "return": "out", "finish": "out",
    "b": "break", "cl": "clear", "c": "continue", "cont": "continue", "unt": "until",
    "p": "print", "a": "locals", "args": "locals", "w": "where", "bt": "where", "l": "list",
    "u": "up", "d": "down",
    "ll": "longlist", "q": "quit", "exit": "quit", "h": "help", "?": "help", "run": "restart",
    "bk": "back", "rev": "back",
}
HISTORY_FILE = Path(os.environ.get("CODEWM_HISTORY", "~/.codewm_history")).expanduser()


def resolve_command(word: str) -> str:
    """The command a typed word names: an exact name, an alias, or a unique prefix."""
    word = word.lower()
    if word in COMMANDS:
        return word
    if word in ALIASES:
        return ALIASES[word]
    matches = [name for name in COMMANDS if name.startswith(word)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DebuggerError(f"{word!r} is ambiguous: {', '.join(matches)}")
    raise DebuggerError(f"unknown command {word!r}; type help for the list of commands")


class DebuggerShell(cmd.Cmd):
    prompt = "(codewm) "
    doc_header = "Commands (help NAME for one; pdb's abbreviations work, and so does any unique prefix):"

    def __init__(
        self,
        session: DebugSession,
        stdout: IO[str] | None = None,
        stdin: IO[str] | None = None,
        history_file: Path | None = None,
        status: IO[str] | None = None,
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout or sys.stdout)
        self.session = session
        self.history_file = history_file
        self.status = status  # where the spinner of long motions goes (default: stderr, when a terminal)
        self.lastcmd = ""
        self.selected = 0  # frames up from the innermost (`up` / `down`); every motion resets it

    def working(self, doing: str | None = None) -> Spinner:
        """The spinner shown while the model predicts (or, with `doing`, something else runs)
        for more than a second: what it is doing, to which program, and how far it got."""
        session = self.session
        name = self.program.name
        before = session.predicted_frames

        def text() -> str:
            if doing is not None:
                return doing
            new = session.predicted_frames - before
            return f"predicting {name}: step {len(session.steps)}, {new} new frame{'s' if new != 1 else ''} (Ctrl-C stops here)"

        return Spinner(text, self.status)

    # -- output ---------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        self.say(f"*** {text}")

    @property
    def program(self):
        return self.session.program

    def where_text(self, step: Step) -> str:
        line = self.program.shown(step.lineno)
        if line:
            place = f"{self.program.name}:{line}"
        elif self.program.script and step.event == "call" and not step.frame.source.strip():
            place = self.program.name  # a script's opening frame stands on the marker line, not a line of the file
        else:
            place = f"{self.program.name}:?"
        return f"{place} in {step.function}()"

    def show_step(self, step: Step | None = None) -> None:
        """The frame at the cursor, pdb-style: where, the line about to run, what changed."""
        session = self.session
        step = step or session.current
        if step is None:
            return
        index = session.steps.index(step)
        confidence = step.confidence
        action = confidence.action if confidence is not None else None
        tag = {"call": "call", "line": "line", "return": "return", "exception": "exception"}[step.event]
        self.say(f"> {self.where_text(step)}   [step {index + 1}, {tag}, depth {step.depth}]")
        code = step.frame.source.rstrip("\n") or "(the script starts)"
        note = f"  (line {percent(action)})" if action is not None and step.event in ("call", "line") else ""
        self.say(f"-> {code.strip()}{note}")
        if step.event in ("call", "line"):
            names = session.changed(index)
            if step.event == "call" and not names:
                self.say("   (no arguments)")
            for name in names:
                self.say(f"   {name} = {step.frame.locals[name]}{confidence_note(confidence.of(name) if confidence else None, name in step.edited)}")
        else:
            value = step.frame.value
            probability = confidence.of(RETURN_VALUE) if confidence else None
            verb = "returns" if step.event == "return" else "raises"
            extra = "  [predicted without simulating the body]" if step.skipped_body else ""
            self.say(f"<- {step.function}() {verb} {value}{confidence_note(probability)}{extra}")

    def report_motion(self, motion: Motion) -> None:
        session = self.session
        self.selected = 0
        for note in session.notes:
            self.say(f"note: {note}")
        session.notes.clear()
        if motion.moved:
            self.show_step()
        if motion.reason == "breakpoint":
            step = session.current
            self.say(f"(breakpoint at line {self.program.shown(step.lineno)})")
        if motion.reason in ("end", "ended"):
            self.say_ended()

    def say_ended(self) -> None:
        session = self.session
        if session.ended == ENDED_COMPLETE:
            last = session.steps[-1]
            self.say(f"--- the program returns {last.frame.value} (predicted); the whole run is predicted. back, restart or truth")
        elif session.ended:
            self.say(f"--- the prediction stops here: {session.ended}")

    # -- dispatch -------------------------------------------------------------------------
    def onecmd(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return self.emptyline()
        if line == "EOF":
            self.say()
            return True
        self.lastcmd = line
        word, _, argument = line.partition(" ")
        try:
            name = resolve_command(word)
            return bool(getattr(self, f"do_{name}")(argument.strip()))
        except DebuggerError as exc:
            self.error(str(exc))
        except KeyboardInterrupt:  # Ctrl-C during a long motion: stay where it got to
            self.error("interrupted")
            self.show_step()
        except Exception as exc:  # a model or server failure must not end the session
            self.error(f"{type(exc).__name__}: {exc}")
        return False

    def emptyline(self) -> bool:
        if self.lastcmd:
            return self.onecmd(self.lastcmd)
        return False

    def completenames(self, text, *ignored):
        # with the space after it (Python's readline adds none), so a name can follow at once
        return [name + " " for name in COMMANDS if name.startswith(text)]

    def completedefault(self, text, line, begidx, endidx):
        """Tab after `print` or `set`: the names of the locals at this step."""
        word = line.split()[0] if line.split() else ""
        try:
            if resolve_command(word) not in ("print", "set") or self.session.current is None:
                return []
        except DebuggerError:
            return []
        values, _, _ = self.session.visible_locals()
        return [name for name in values if name.startswith(text)]

    # -- commands -------------------------------------------------------------------------
    def _count(self, argument: str, command: str) -> int:
        if not argument:
            return 1
        if not re.fullmatch(r"\d+", argument) or int(argument) < 1:
            raise DebuggerError(f"{command} takes a count (a positive whole number), got {argument!r}")
        return int(argument)

    def do_step(self, argument: str) -> None:
        """step [N]  (s): on to the next frame the model predicts, into calls."""
        count = self._count(argument, "step")
        with self.working():
            motion = self.session.step(count)
        self._move(motion)

    def do_next(self, argument: str) -> None:
        """next [N]  (n): on to the next line of this function. A call on the way is stepped
        over: the model predicts its return value without simulating its body."""
        count = self._count(argument, "next")
        with self.working():
            motion = self.session.next(count)
        self._move(motion)

    def do_out(self, argument: str) -> None:
        """out  (o, r, return, finish): on to the return of the current function."""
        self._no_argument(argument, "out")
        with self.working():
            motion = self.session.out()
        self._move(motion)

    def do_back(self, argument: str) -> None:
        """back [N]  (bk): back to the previous frame (the timeline is kept: stepping on again
        replays it; `set` changes it)."""
        self.session.back(self._count(argument, "back"))
        self.selected = 0
        self.show_step()

    def do_continue(self, argument: str) -> None:
        """continue  (c, cont): on to the next breakpoint, or the end of the prediction."""
        self._no_argument(argument, "continue")
        with self.working():
            motion = self.session.cont()
        self._move(motion)

    def do_until(self, argument: str) -> None:
        """until [LINE]  (unt): on to a line numbered LINE or more in this function (without
        LINE: a line after the current one; use it to leave a loop), or its return."""
        if argument:
            if not re.fullmatch(r"\d+", argument):
                raise DebuggerError(f"until takes a line number, got {argument!r}")
            line = int(argument)
            if not 1 <= line <= self.program.source_lines + (0 if self.program.script else 2):
                raise DebuggerError(f"line {line} is not in {self.program.name}")
            with self.working():
                motion = self.session.until(line + self.program.offset)
        else:
            with self.working():
                motion = self.session.until()
        self._move(motion)

    def _move(self, motion: Motion) -> None:
        if motion.moved == 0 and motion.reason in ("end", "ended"):
            session = self.session
            if session.ended == ENDED_COMPLETE:
                raise DebuggerError("the whole run is predicted: nothing follows this step (back, restart or truth)")
            raise DebuggerError(f"the prediction cannot go further: {session.ended}")
        self.report_motion(motion)

    def _no_argument(self, argument: str, command: str) -> None:
        if argument:
            raise DebuggerError(f"{command} takes no argument, got {argument!r}")

    def do_break(self, argument: str) -> None:
        """break [LINE | FUNCTION]  (b): stop `continue` (and the other motions) at LINE, or
        where FUNCTION is called. Without an argument: the breakpoints set."""
        session = self.session
        if not argument:
            if not session.breakpoints:
                self.say("no breakpoints")
            for line in sorted(session.breakpoints):
                self.say(f"breakpoint at {self.program.name}:{self.program.shown(line)}")
            return
        line = session.breakpoint_line(argument)
        session.breakpoints.add(line)
        self.say(f"breakpoint at {self.program.name}:{self.program.shown(line)}")

    def do_clear(self, argument: str) -> None:
        """clear [LINE | FUNCTION]  (cl): remove a breakpoint; without an argument, all."""
        session = self.session
        if not argument:
            count = len(session.breakpoints)
            session.breakpoints.clear()
            self.say(f"cleared {count} breakpoint{'s' if count != 1 else ''}")
            return
        line = session.breakpoint_line(argument)
        if line not in session.breakpoints:
            raise DebuggerError(f"there is no breakpoint at line {self.program.shown(line)}")
        session.breakpoints.discard(line)
        self.say(f"cleared the breakpoint at {self.program.name}:{self.program.shown(line)}")

    def do_print(self, argument: str) -> None:
        """print NAME [NAME ...]  (p): the predicted value of each local (at a return:
        __return__ is the value returned), with the model's confidence in it."""
        names = [name for name in re.split(r"[\s,]+", argument) if name]
        if not names:
            raise DebuggerError("print needs a name: print NAME [NAME ...]")
        values, confidences, edited = self.session.visible_locals(self.selected_step())
        for name in names:
            if not name.isidentifier():
                self.error(f"print shows locals by name, not expressions ({name!r}): the values are the model's text, not objects")
                continue
            if name not in values:
                known = ", ".join(values) or "none"
                self.error(f"{name!r} is not a local at this step (locals: {known})")
                continue
            self.say(f"{name} = {values[name]}{confidence_note(confidences.get(name), name in edited)}")

    def do_locals(self, argument: str) -> None:
        """locals  (a): every local at this step, with the model's confidence in each."""
        self._no_argument(argument, "locals")
        values, confidences, edited = self.session.visible_locals(self.selected_step())
        if not values:
            self.say("(no locals)")
        for name, value in values.items():
            self.say(f"{name} = {value}{confidence_note(confidences.get(name), name in edited)}")

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
        lines = self.session._lines
        for number in range(first, last + 1):
            mark = ("B" if number in self.session.breakpoints else " ") + ("->" if number == here else "  ")
            self.say(f"{self.program.shown(number):4d} {mark} {lines[number - 1].rstrip()}")

    def do_set(self, argument: str) -> None:
        """set NAME = VALUE: change a local at this step to a Python literal and let the model
        predict on from there ("what if x were 0?"). The frames after this step are dropped."""
        name, equals, value = argument.partition("=")
        name = name.strip()
        if self.selected:
            raise DebuggerError("set changes the current step's locals: go `down` to it first")
        if not equals or not name:
            raise DebuggerError("usage: set NAME = VALUE (VALUE a Python literal, e.g. set x = 0)")
        dropped = len(self.session.steps) - self.session.position - 1
        rendered = self.session.set_value(name, value)
        note = f"; the {dropped} step{'s' if dropped != 1 else ''} predicted after this one are dropped" if dropped else ""
        self.say(f"{name} = {rendered} (set by you{note}; the model predicts on from here)")

    def do_truth(self, argument: str) -> None:
        """truth: run the real program in the sandbox and show real against predicted for the
        steps so far, with the first divergence marked."""
        self._no_argument(argument, "truth")
        with self.working(f"running {self.program.name} in the sandbox (the real run)"):
            truth = self.session.truth()
        for line in truth_lines(self.session, truth):
            self.say(line)

    def do_restart(self, argument: str) -> None:
        """restart  (run): predict again from the first step (breakpoints are kept, edits are
        dropped)."""
        self._no_argument(argument, "restart")
        with self.working():
            self.session.restart()
        self.selected = 0
        self.say("restarted (breakpoints kept)")
        self.show_step()

    def do_quit(self, argument: str) -> bool:
        """quit  (q, exit, Ctrl-D): end the session."""
        return True

    def do_help(self, argument: str) -> None:
        """help [COMMAND]  (h, ?): the commands, or what one does."""
        if not argument:
            self.say(self.doc_header)
            for name in COMMANDS:
                usage, _, what = " ".join((getattr(self, f"do_{name}").__doc__ or name).split()).partition(": ")
                first_sentence = what.split(". ")[0].rstrip(".")
                self.say(f"  {usage:32s} {first_sentence}")
            return
        name = resolve_command(argument.split()[0])
        self.say(" ".join((getattr(self, f"do_{name}").__doc__ or name).split()))

    # -- running ----------------------------------------------------------------------------
    def run(self, commands: Iterable[str] = (), interactive: bool | None = None) -> None:
        """Start the session, run `commands`, then read more: from the terminal (line
        editing, history) when `interactive`, else from stdin lines, echoed."""
        commands = list(commands)
        with self.working():
            motion = self.session.start()
        self.say(self.banner())
        self.report_motion(motion)
        for command in commands:
            self.say(f"{self.prompt}{command}")
            if self.onecmd(command):
                return
        if interactive is None:
            interactive = self.stdin.isatty()
        if interactive:
            self._interactive()
        elif not commands:
            for raw in self.stdin:
                command = raw.rstrip("\n")
                self.say(f"{self.prompt}{command}")
                if self.onecmd(command):
                    return

    def banner(self) -> str:
        session = self.session
        name = getattr(session.predictor, "name", "the model")
        return f"codewm debug: {self.program.name}, predicted by {name} (nothing runs until `truth`; help lists the commands)"

    def _interactive(self) -> None:
        try:
            import readline
        except ImportError:  # pragma: no cover - no readline on this platform
            readline = None
        if readline is not None and self.history_file is not None:
            try:
                readline.read_history_file(self.history_file)
            except (OSError, ValueError):
                pass
            readline.set_history_length(1000)
        if readline is not None:
            readline.set_completer(self.complete)
            readline.set_completer_delims(" \t\n,=")
            readline.parse_and_bind("tab: complete")
        try:
            while True:
                try:
                    line = input(self.prompt)
                except EOFError:
                    self.say()
                    return
                except KeyboardInterrupt:
                    self.say("^C")
                    continue
                if self.onecmd(line):
                    return
        finally:
            if readline is not None and self.history_file is not None:
                try:
                    self.history_file.parent.mkdir(parents=True, exist_ok=True)
                    readline.write_history_file(self.history_file)
                except OSError:
                    pass


# Spinner, truth_lines, percent, confidence_note and LOW_CONFIDENCE live in spinner.py and
# text.py; they are named here too, where they were first imported from.
__all__ = [
    "ALIASES",
    "COMMANDS",
    "HISTORY_FILE",
    "LOW_CONFIDENCE",
    "DebuggerShell",
    "Spinner",
    "confidence_note",
    "percent",
    "resolve_command",
    "truth_lines",
]
