"""`codewm debug` driven through a real terminal (a pty, with pexpect), as a person drives it:
every command and its abbreviation, bad commands and bad values (a clear message, and the
session goes on), line editing, history across sessions, Ctrl-C and Ctrl-D."""

from __future__ import annotations

import os
import sys
import time

import pexpect
import pytest

from patience import patience

PROGRAM = """def square(x):
    return x * x

def total(xs):
    s = 0
    for x in xs:
        s += square(x)
    return s
"""
PROMPT = r"\(codewm\) "
UP = "\x1b[A"
CTRL_A = "\x01"


@pytest.fixture()
def terminal(tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    children = []

    def start(*extra: str) -> pexpect.spawn:
        env = dict(os.environ, NO_COLOR="1", TERM="xterm", CODEWM_HISTORY=str(tmp_path / "history"), COLUMNS="160", CODEWM_NO_SPINNER="1")
        child = pexpect.spawn(
            sys.executable,
            ["-m", "codewm.cli", "debug", str(tmp_path / "prog.py"), "--call", "total([1, 2, 3])", "--model", "oracle", *extra],
            env=env, cwd=str(tmp_path), encoding="utf-8", timeout=patience(300), dimensions=(50, 160),
        )
        children.append(child)
        child.expect("predicted by oracle")
        child.expect(PROMPT)
        return child

    yield start
    for child in children:
        child.close(force=True)


def run(child: pexpect.spawn, command: str, *expected: str) -> str:
    """Type a command, wait for each expected pattern in order and the next prompt; return
    everything printed in between."""
    child.sendline(command)
    seen = []
    for pattern in expected:
        child.expect(pattern)
        seen.append(child.before + child.after)
    child.expect(PROMPT)
    seen.append(child.before)
    return "".join(seen)


def test_every_command_through_a_terminal(terminal):
    child = terminal()
    run(child, "step", r"prog\.py:10 in main\(\)", r"return total\(\[1, 2, 3\]\)")
    run(child, "s", r"prog\.py:4 in total\(\)", r"xs = \[1, 2, 3\]  \(100%\)")
    run(child, "n", r"prog\.py:5 in total\(\)", r"-> s = 0")  # at a call frame: its first line
    run(child, "", r"prog\.py:6 in total\(\)")  # an empty line repeats `n`
    run(child, "p xs", r"xs = \[1, 2, 3\]  \(100%\)")
    run(child, "print s x", r"s = 0", r"\*\*\* 'x' is not a local at this step \(locals: xs, s\)")
    run(child, "locals", r"xs = \[1, 2, 3\]", r"s = 0")
    run(child, "next", r"prog\.py:7 in total\(\)", r"x = 1")
    out = run(child, "next", r"prog\.py:6 in total\(\)", r"s = 1")
    assert "square" not in out  # stepped over: the model predicted square(1) without its body
    run(child, "break square", r"breakpoint at prog\.py:1")
    run(child, "b 8", r"breakpoint at prog\.py:8")
    run(child, "break", r"breakpoint at prog\.py:1", r"breakpoint at prog\.py:8")
    run(child, "continue", r"prog\.py:1 in square\(\)", r"x = 2", r"\(breakpoint at line 1\)")
    run(child, "where", r"main\(\)", r"total\(\)", r"> prog\.py:1 in square\(\)")
    run(child, "up", r"> prog\.py:7 in total\(\)", r"-> s \+= square\(x\)")
    run(child, "p s", r"s = 1  \(100%\)")  # the caller's locals, as the call was made
    run(child, "w", r"  prog\.py:10 in main\(\)", r"> prog\.py:7 in total\(\)", r"  prog\.py:1 in square\(\)")
    run(child, "down", r"> prog\.py:1 in square\(\)")
    run(child, "out", r"<- square\(\) returns 4  \(100%\)")
    run(child, "cl 1", r"cleared the breakpoint at prog\.py:1")
    run(child, "c", r"prog\.py:8 in total\(\)", r"-> return s", r"\(breakpoint at line 8\)")
    run(child, "p s", r"s = 14  \(100%\)")
    run(child, "clear", r"cleared 1 breakpoint")
    run(child, "list", r"  4     def total\(xs\):", r"  8  ->     return s")
    run(child, "ll", r"  4     def total\(xs\):", r"  8  ->     return s")
    run(child, "back", r"prog\.py:6 in total\(\)")
    run(child, "until 8", r"prog\.py:8 in total\(\)")
    run(child, "set s = 100", r"s = 100 \(set by you; .*the model predicts on from here\)")
    run(child, "p s", r"s = 100  \(set by you\)")
    run(child, "step", r"<- total\(\) returns 14")  # the oracle goes on with the real run
    out = run(child, "truth", r"truth: the real run \(ok; \d+ steps, returned 14\)", r"no divergence", r"what-if", r"of \d+ steps agree")
    assert "DIFFERS" not in out
    run(child, "restart", r"restarted \(breakpoints kept\)", r"prog\.py:9 in main\(\)")
    run(child, "help", r"step \[N\]", r"truth", r"quit")
    run(child, "help n", r"next \[N\] \(n\): on to the next line of this function")
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize(
    "command, message",
    [
        ("frobnicate", r"\*\*\* unknown command 'frobnicate'; type help for the list of commands"),
        ("lo", r"\*\*\* 'lo' is ambiguous: locals, longlist"),
        ("step -1", r"\*\*\* step takes a count \(a positive whole number\), got '-1'"),
        ("next x", r"\*\*\* next takes a count"),
        ("back", r"\*\*\* already at the first step"),
        ("up", r"\*\*\* already at the outermost frame"),
        ("d", r"\*\*\* already at the innermost frame"),
        ("print xs[", r"\*\*\* 'xs\[' is not a Python expression"),
        ("break 99", r"\*\*\* line 99 is not in prog\.py \(it has 8 lines\)"),
        ("break 3", r"\*\*\* line 3 of prog\.py has no code \(blank or a comment\); the next line with code is 4"),
        ("break nosuch", r"\*\*\* no function named 'nosuch' in prog\.py"),
        ("clear 2", r"\*\*\* there is no breakpoint at line 2"),
        ("until abc", r"\*\*\* until takes a line number, got 'abc'"),
        ("print", r"\*\*\* print needs a name"),
        ("set s", r"\*\*\* usage: set NAME = VALUE"),
        ("set 9 = 1", r"\*\*\* '9' is not a variable name"),
        ("set xs = open('/etc/passwd')", r"\*\*\* .* is not a Python literal"),
        ("list 9, 2", r"\*\*\* list 9, 2: the first line comes after the last"),
        ("out now", r"\*\*\* out takes no argument, got 'now'"),
        ("help nosuch", r"\*\*\* unknown command 'nosuch'"),
    ],
)
def test_bad_commands_and_values_say_why_and_the_session_goes_on(terminal, command, message):
    child = terminal()
    run(child, command, message)
    run(child, "step", r"prog\.py:10 in main\(\)")  # still alive, still where it was
    child.sendline("q")
    child.expect(pexpect.EOF)


def test_line_editing_history_ctrl_c_and_ctrl_d(terminal, tmp_path):
    child = terminal()
    # line editing: type "rint xs" after stepping, go to the start of the line, add the "p"
    run(child, "step 2", r"prog\.py:4 in total\(\)")
    child.send("rint xs")
    child.send(CTRL_A + "p\r")
    child.expect(r"xs = \[1, 2, 3\]")
    child.expect(PROMPT)
    # a typo fixed with backspace
    child.send("whree\b\b\b\bhere\r")
    child.expect(r"> prog\.py:4 in total\(\)")
    child.expect(PROMPT)
    # tab completes command names, and the names of the locals after print
    child.send("pri\tx\t\r")
    child.expect(r"xs = \[1, 2, 3\]  \(100%\)")
    child.expect(PROMPT)
    # the up arrow brings back the previous command
    child.send("whe\t\r")
    child.expect(r"> prog\.py:4 in total\(\)")
    child.expect(PROMPT)
    child.send(UP + "\r")
    child.expect(r"> prog\.py:4 in total\(\)")
    child.expect(PROMPT)
    # Ctrl-C at the prompt does not end the session
    child.sendintr()
    child.expect(r"\^C")
    child.expect(PROMPT)
    run(child, "s", r"prog\.py:5 in total\(\)")
    child.sendeof()  # Ctrl-D ends it
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "where" in (tmp_path / "history").read_text()
    # the history outlives the session: the up arrow in a new one recalls the last command
    child = terminal()
    child.send(UP + "\r")
    child.expect(r"prog\.py:10 in main\(\)")  # `s`
    child.expect(PROMPT)
    child.sendline("q")
    child.expect(pexpect.EOF)


def test_a_report_is_written_when_the_session_ends(terminal, tmp_path):
    child = terminal("--report", str(tmp_path / "out.html"))
    run(child, "continue", r"returns 14")
    child.sendline("quit")
    child.expect(r"report: .*out\.html")
    child.expect(pexpect.EOF)
    html = (tmp_path / "out.html").read_text()
    assert "total([1, 2, 3])" in html and "square" in html


def test_ctrl_c_stops_a_long_motion_where_it_got_to(tmp_path):
    """A model that is slow to write each frame; Ctrl-C during `continue` stops it, shows
    the step it reached, and the session goes on."""
    (tmp_path / "slow_model.py").write_text(
        "import time\n"
        "from codewm.predict.oracle import OraclePredictor\n"
        "class SlowOracle(OraclePredictor):\n"
        "    name = 'slow-oracle'\n"
        "    def next_frames(self, requests):\n"
        "        time.sleep(0.2)\n"
        "        return super().next_frames(requests)\n"
    )
    (tmp_path / "loop.py").write_text("def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n")
    env = dict(os.environ, NO_COLOR="1", TERM="xterm", CODEWM_HISTORY=str(tmp_path / "history"), PYTHONPATH=str(tmp_path))
    child = pexpect.spawn(
        sys.executable, ["-m", "codewm.cli", "debug", str(tmp_path / "loop.py"), "--call", "f(1000)", "--model", "slow_model.SlowOracle"],
        env=env, cwd=str(tmp_path), encoding="utf-8", timeout=patience(300),
    )
    try:
        child.expect(PROMPT)
        child.sendline("continue")
        time.sleep(1.5)
        child.sendintr()
        child.expect(r"\*\*\* interrupted")
        child.expect(r"> loop\.py:\d in f\(\)   \[step (\d+),")
        reached = int(child.match.group(1))
        assert 3 < reached < 100  # it got some way, and no further
        child.expect(PROMPT)
        run(child, "p total", r"total = \d+  \(100%\)")
        out = run(child, "truth", r"no divergence")
        assert f"{reached} of {reached} steps agree" in out
        child.sendline("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_a_long_motion_shows_a_spinner_that_is_erased_before_the_result(tmp_path):
    """On a terminal, a motion that takes more than a second shows that the model is at work
    (on stderr), and the line is cleared before the result is printed; quick commands show
    nothing more than before."""
    (tmp_path / "slow_model.py").write_text(
        "import time\n"
        "from codewm.predict.oracle import OraclePredictor\n"
        "class SlowOracle(OraclePredictor):\n"
        "    name = 'slow-oracle'\n"
        "    def next_frames(self, requests):\n"
        "        time.sleep(0.1)\n"
        "        return super().next_frames(requests)\n"
    )
    (tmp_path / "loop.py").write_text("def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n")
    env = dict(os.environ, NO_COLOR="1", TERM="xterm", CODEWM_HISTORY=str(tmp_path / "history"), PYTHONPATH=str(tmp_path))
    child = pexpect.spawn(
        sys.executable, ["-m", "codewm.cli", "debug", str(tmp_path / "loop.py"), "--call", "f(15)", "--model", "slow_model.SlowOracle"],
        env=env, cwd=str(tmp_path), encoding="utf-8", timeout=patience(300), dimensions=(50, 160),
    )
    try:
        child.expect(PROMPT)
        out = run(child, "continue", r"predicting loop\.py: step \d+, \d+ new frames \(Ctrl-C stops here\)", r"--- the program returns 105")
        last = out.rindex("predicting loop.py")
        erased = out.find("\r\x1b[2K", last)
        assert last < erased < out.index("> loop.py:7 in main()", last)  # cleared before the result
        assert "predicting" not in out[erased:]
        for command in ("back", "step", "p __return__"):  # quick: no spinner
            assert "predicting" not in run(child, command)
        child.sendline("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
