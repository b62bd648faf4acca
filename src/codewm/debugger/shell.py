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

import ast
import cmd
import json
import os
import re
import sys
from pathlib import Path
from typing import IO, Iterable

from codewm.debugger.confidence import RETURN_VALUE
from codewm.debugger.expressions import ExpressionError, parse_expression
from codewm.debugger.inspect_commands import InspectCommands
from codewm.debugger.listing import color_wanted
from codewm.debugger.session import ENDED_COMPLETE, DebuggerError, DebugSession, Motion, Step
from codewm.debugger.spinner import Spinner
from codewm.debugger.text import LOW_CONFIDENCE, confidence_note, percent, truth_lines
from codewm.debugger.transcript import step_record
from codewm.format.pretty import terminal_safe

COMMANDS = (
    "step", "next", "out", "back", "continue", "break", "tbreak", "clear", "until", "print",
    "pp", "display", "undisplay", "locals", "args", "where", "up", "down", "list", "longlist",
    "set", "truth", "restart", "quit", "help",
)
# pdb's abbreviations, and the names other debuggers use for the same command
ALIASES = {
    "s": "step", "n": "next", "o": "out", "r": "out", "return": "out", "finish": "out",
    "b": "break", "cl": "clear", "c": "continue", "cont": "continue",
    "p": "print", "a": "args", "w": "where", "bt": "where", "l": "list",
    "u": "up", "d": "down",
    "ll": "longlist", "q": "quit", "exit": "quit", "h": "help", "?": "help", "run": "restart",
    "bk": "back", "rev": "back", "unt": "until", "tb": "tbreak",
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


def bang_assignment(statement: str) -> str:
    """pdb's `!NAME = VALUE` as `set`'s argument; the predicted state changes only by `set`, so
    any other statement is refused, saying so."""
    try:
        tree = ast.parse(statement.strip())
    except SyntaxError as exc:
        raise DebuggerError(f"!{statement.strip()} is not a Python statement ({exc.msg})") from None
    node = tree.body[0] if len(tree.body) == 1 else None
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
        raise DebuggerError(
            f"!{statement.strip()}: only an assignment to a local (!NAME = VALUE, as `set`) can run here: "
            "the program's state is the model's prediction, changed by `set`"
        )
    return f"{node.targets[0].id} = {ast.get_source_segment(statement.strip(), node.value)}"


class DebuggerShell(InspectCommands, cmd.Cmd):
    prompt = "(codewm) "
    doc_header = "Commands (help NAME for one; pdb's abbreviations work, and so does any unique prefix):"

    def __init__(
        self,
        session: DebugSession,
        stdout: IO[str] | None = None,
        stdin: IO[str] | None = None,
        history_file: Path | None = None,
        status: IO[str] | None = None,
        *,
        json_transcript: bool = False,
        quiet: bool = False,
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout or sys.stdout)
        self.session = session
        self.history_file = history_file
        self.status = status  # where the spinner of long motions goes (default: stderr, when a terminal)
        self.quiet = quiet  # no spinner, even on a terminal
        self.json_transcript = json_transcript  # one JSON object per command instead of the text
        self.color = not json_transcript and color_wanted(self.stdout)  # highlighted listings
        self.lastcmd = ""
        self.selected = 0  # frames up from the innermost (`up` / `down`); every motion resets it
        self.displays: list[str] = []  # expressions shown after every motion (`display`)
        self.failures: list[str] = []  # the scripted commands (-c, --commands) that failed
        self._output: list[str] = []  # the current command's lines (JSON transcript)
        self._errors: list[str] = []  # the current command's errors

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

        return Spinner(text, self.status, enabled=not self.quiet)

    # -- output ---------------------------------------------------------------------------
    def say(self, text: str = "", escaped: bool = False) -> None:
        """Print a line. Values, source lines and messages carry the program's and the model's
        text, so control characters are shown escaped (`\\x1b[2J`), never acted on by the
        terminal; `escaped`: the text is safe already (a highlighted listing)."""
        if not escaped:
            text = terminal_safe(text)
        if self.json_transcript:
            self._output.append(text)
        else:
            self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        self._errors.append(text)
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
        if motion.moved:
            self.show_displays()

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
            if line.startswith("!"):  # pdb's `!statement`: here, an assignment is a `set`
                word, argument = "set", bang_assignment(line[1:])
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
        """Tab after `print`, `pp`, `display` or `set`: the names of the locals at this step."""
        word = line.split()[0] if line.split() else ""
        try:
            if resolve_command(word) not in ("print", "pp", "display", "set") or self.session.current is None:
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
        self.show_displays()

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

    def do_break(self, argument: str, temporary: bool = False) -> None:
        """break [LINE | FUNC] [, COND]  (b): stop `continue` (and the other motions)
        at LINE, or where FUNCTION is called; with CONDITION (b 7, x > 2), only where it holds
        on the predicted locals (evaluated in the sandbox). Without an argument: the
        breakpoints set."""
        session = self.session
        if not argument:
            if not session.breakpoints:
                self.say("no breakpoints")
            for line in sorted(session.breakpoints):
                self.say(self._breakpoint_text(line))
            return
        where, comma, condition = argument.partition(",")
        condition = condition.strip()
        if comma and not condition:
            raise DebuggerError(f"break {argument}: a condition follows the comma (b 7, x > 2)")
        if condition:
            try:
                parse_expression(condition)
            except ExpressionError as exc:
                raise DebuggerError(f"the condition: {exc}") from None
        line = session.breakpoint_line(where)
        session.breakpoints.put(line, condition or None, temporary)
        self.say(self._breakpoint_text(line))

    def do_tbreak(self, argument: str) -> None:
        """tbreak [LINE | FUNC] [, COND]  (tb): a breakpoint that is deleted where it
        first stops a motion."""
        if not argument:
            raise DebuggerError("tbreak needs a line or a function: tbreak LINE [, CONDITION]")
        self.do_break(argument, temporary=True)

    def _breakpoint_text(self, line: int) -> str:
        breakpoints = self.session.breakpoints
        kind = "temporary breakpoint" if line in breakpoints.temporary else "breakpoint"
        condition = breakpoints.conditions.get(line)
        return f"{kind} at {self.program.name}:{self.program.shown(line)}" + (f", if {condition}" if condition else "")

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

    def do_set(self, argument: str) -> None:
        """set NAME = VALUE  (!NAME = VALUE): change a local at this step to a Python literal and
        let the model predict on from there ("what if x were 0?"). The frames after this step
        are dropped."""
        name, equals, value = argument.partition("=")
        name = name.strip()
        if self.selected:
            raise DebuggerError("set changes the current step's locals: go `down` to it first")
        if not equals or not name:
            raise DebuggerError("usage: set NAME = VALUE (VALUE a Python literal, e.g. set x = 0)")
        dropped = len(self.session.steps) - self.session.position - 1
        rendered = self.session.set_value(name, value)
        if dropped == 1:
            note = "; the 1 step predicted after this one is dropped"
        else:
            note = f"; the {dropped} steps predicted after this one are dropped" if dropped else ""
        self.say(f"{name} = {rendered} (set by you{note}; the model predicts on from here)")
        if getattr(self.session.predictor, "replays_real_run", False):
            self.say(f"note: {self.session.predictor.name} replays the real run: from the next step on it shows the real values, not {name} = {rendered}")

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
        self._begin()
        with self.working():
            motion = self.session.start()
        self.say(self.banner())
        self.report_motion(motion)
        self._end(None)
        for command in commands:
            if self.execute(command, scripted=True):
                return
        if interactive is None:
            interactive = self.stdin.isatty()
        if interactive:
            self._interactive()
        elif not commands:
            for raw in self.stdin:
                if self.execute(raw.rstrip("\n")):
                    return

    def execute(self, command: str, scripted: bool = False, echo: bool = True) -> bool:
        """Run one command (echoed after the prompt, unless typed at a terminal); True when it
        ends the session. A `scripted` one (-c, --commands) that fails is kept in `failures`."""
        self._begin()
        if echo and not self.json_transcript:
            self.say(f"{self.prompt}{command}")
        stop = self.onecmd(command)
        if scripted and self._errors:
            self.failures.append(command)
        self._end(command)
        return stop

    def _begin(self) -> None:
        self._output, self._errors = [], []

    def _end(self, command: str | None) -> None:
        """In a JSON transcript, write the command's object (see codewm.debugger.transcript)."""
        if not self.json_transcript:
            return
        record = {"command": command, "ok": not self._errors, "output": self._output, "errors": self._errors, "step": step_record(self.session)}
        self.stdout.write(json.dumps(record) + "\n")  # ASCII: no control character reaches the terminal
        self.stdout.flush()
        self._begin()

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
                if self.execute(line, echo=False):
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
