"""Long work is never silent on a terminal: the demo's bar over the programs with the current
program's predicted frames, the model loading, the debugger's motions; and -q turns it off."""

from __future__ import annotations

import io
import time

from codewm.debugger.demo import progress_text, run_demo
from codewm.debugger.session import DebugSession, Program
from codewm.debugger.shell import DebuggerShell
from codewm.debugger.spinner import Spinner
from codewm.examples import bundled_examples


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class SlowOracle:
    def __init__(self, oracle, seconds: float) -> None:
        self.oracle, self.seconds, self.name = oracle, seconds, "slow-oracle"

    def next_frames(self, requests):
        time.sleep(self.seconds)
        return self.oracle.next_frames(requests)


def test_the_progress_line_has_a_bar_over_the_programs_and_the_frames_so_far():
    assert progress_text("builtin", "fib.py", 1, 4, 0, None) == "············ builtin is predicting fib.py (1/4): 0 frames so far"
    assert progress_text("builtin", "fib.py", 2, 4, 10, 20) == "━━━━╸······· builtin is predicting fib.py (2/4): 10/20 frames"
    assert progress_text("m", "a.py", 4, 4, 30, 20) == "━" * 12 + " m is predicting a.py (4/4): 30/20 frames"
    assert progress_text("m", "a.py", 1, 1, 1, None).endswith("1 frame so far")


def test_the_demo_draws_the_bar_on_a_terminal_and_not_with_quiet(oracle, sandbox, monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("CODEWM_NO_SPINNER", raising=False)
    examples = bundled_examples(0)[:2]
    terminal = Terminal()
    run_demo(examples, SlowOracle(oracle, 0.08), sandbox=sandbox, out=io.StringIO(), status=terminal)
    drawn = terminal.getvalue()
    assert "━" in drawn and f"is predicting {examples[1].name}.py (2/2):" in drawn and " frames\r" in drawn
    quiet = Terminal()
    run_demo(examples[:1], SlowOracle(oracle, 0.08), sandbox=sandbox, out=io.StringIO(), status=quiet, progress=False)
    assert quiet.getvalue() == ""


def test_an_ascii_terminal_gets_an_ascii_bar():
    stream = Terminal()
    stream.encoding = "ascii"
    with Spinner(lambda: progress_text("m", "a.py", 2, 2, 5, 10), stream, delay=0.0, interval=0.01):
        time.sleep(0.05)
    drawn = stream.getvalue()
    assert drawn.encode("ascii") and "=========... m" in drawn and "is predicting a.py (2/2): 5/10 frames" in drawn


def test_the_debugger_is_quiet_with_quiet(oracle, monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("CODEWM_NO_SPINNER", raising=False)
    loop = "def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"

    def status_of(quiet: bool) -> str:
        status = Terminal()
        session = DebugSession(Program.function(loop, "f(10)", "loop.py"), SlowOracle(oracle, 0.05))
        DebuggerShell(session, stdout=io.StringIO(), status=status, quiet=quiet).run(["continue"], interactive=False)
        return status.getvalue()

    assert "predicting loop.py" in status_of(False)
    assert status_of(True) == ""


def test_demo_and_debug_take_quiet(tmp_path):
    from typer.testing import CliRunner

    from codewm.cli import app

    runner = CliRunner(env={"COLUMNS": "160", "NO_COLOR": "1"})
    result = runner.invoke(app, ["demo", "-q", "--model", "oracle", "--count", "0", "--report", str(tmp_path / "demo.html")])
    assert result.exit_code == 0, result.output
    assert "report:" in result.stdout
    program = tmp_path / "p.py"
    program.write_text("def f(x):\n    return x + 1\n")
    result = runner.invoke(app, ["debug", str(program), "--call", "f(1)", "--model", "oracle", "-q", "--command", "c"])
    assert result.exit_code == 0, result.output
