"""The spinner of long commands: on a terminal only, only after a second, erased when the work
ends (however it ends); and never in piped output, which must stay byte for byte the same."""

from __future__ import annotations

import io
import time

import pytest

from codewm.debugger.session import DebugSession, Program
from codewm.debugger.shell import DebuggerShell, Spinner


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def a_real_terminal_type(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")


def test_work_that_takes_a_while_shows_a_spinner_then_erases_it():
    stream = Terminal()
    count = [0]
    with Spinner(lambda: f"predicting prog.py: {count[0]} frames", stream, delay=0.05, interval=0.02):
        for _ in range(10):
            count[0] += 1
            time.sleep(0.03)
    text = stream.getvalue()
    assert "predicting prog.py:" in text
    assert text.count(Spinner.ERASE) >= 2  # every redraw clears the line first
    assert text.endswith(Spinner.ERASE)  # and the last thing written clears it
    assert any(frame in text for frame in Spinner.FRAMES)
    written = len(text)
    time.sleep(0.1)
    assert len(stream.getvalue()) == written  # nothing drawn after the end


def test_quick_work_and_piped_output_show_nothing():
    stream = Terminal()
    with Spinner(lambda: "predicting", stream, delay=1.0):
        time.sleep(0.05)
    assert stream.getvalue() == ""
    piped = io.StringIO()
    with Spinner(lambda: "predicting", piped, delay=0.0, interval=0.01):
        time.sleep(0.1)
    assert piped.getvalue() == ""


def test_a_dumb_terminal_or_an_ascii_one(monkeypatch):
    stream = Terminal()
    monkeypatch.setenv("TERM", "dumb")
    assert not Spinner(lambda: "x", stream).enabled
    monkeypatch.setenv("TERM", "xterm")
    ascii_stream = Terminal()
    ascii_stream.encoding = "ascii"
    with Spinner(lambda: "predicting", ascii_stream, delay=0.0, interval=0.01):
        time.sleep(0.05)
    assert ascii_stream.getvalue().encode("ascii")  # no braille on an ASCII terminal


def test_ctrl_c_during_the_work_still_erases_the_line():
    stream = Terminal()
    with pytest.raises(KeyboardInterrupt):
        with Spinner(lambda: "predicting", stream, delay=0.0, interval=0.01):
            time.sleep(0.05)
            raise KeyboardInterrupt
    assert "predicting" in stream.getvalue() and stream.getvalue().endswith(Spinner.ERASE)


class SlowOracle:
    """The oracle, a little slow per frame."""

    def __init__(self, oracle, seconds: float) -> None:
        self.oracle, self.seconds, self.name = oracle, seconds, "slow-oracle"

    def next_frames(self, requests):
        time.sleep(self.seconds)
        return self.oracle.next_frames(requests)

    def answer(self, requests):
        return self.oracle.answer(requests)


LOOP = "def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"


def test_the_shell_spins_on_a_terminal_and_its_transcript_does_not_change(oracle):
    """A long `continue` draws the spinner on the status stream; the transcript on stdout is
    what it is without one."""
    def transcript(status):
        out = io.StringIO()
        session = DebugSession(Program.function(LOOP, "f(12)", "loop.py"), SlowOracle(oracle, 0.06))
        shell = DebuggerShell(session, stdout=out, status=status)
        shell.run(["b 5", "continue", "p total", "continue"], interactive=False)
        return out.getvalue()

    terminal = Terminal()
    spun = transcript(terminal)
    assert "predicting loop.py: step" in terminal.getvalue() and terminal.getvalue().endswith(Spinner.ERASE)
    assert spun == transcript(io.StringIO())
    assert "predicting" not in spun and "total = 66" in spun


def test_the_demo_spins_on_a_terminal_only(oracle, sandbox):
    from codewm.debugger.demo import run_demo
    from codewm.examples import bundled_examples

    examples = bundled_examples(0)[:1]
    terminal, out = Terminal(), io.StringIO()
    run_demo(examples, SlowOracle(oracle, 0.06), sandbox=sandbox, out=out, status=terminal)
    assert f"is predicting {examples[0].name}.py (1/1):" in terminal.getvalue()
    assert terminal.getvalue().endswith(Spinner.ERASE) and "predicting" not in out.getvalue()
    piped = io.StringIO()
    run_demo(examples, oracle, sandbox=sandbox, out=io.StringIO(), status=piped)
    assert piped.getvalue() == ""
