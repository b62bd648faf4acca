"""The conventions users bring from pdb: p / pp of expressions over the predicted locals
(evaluated in the sandbox), !NAME = VALUE, conditional and temporary breakpoints, display,
args, highlighted listings; and the shell's output kept terminal-safe."""

from __future__ import annotations

import io
import os

import pytest

from codewm.debugger.session import DebugSession, Program
from codewm.debugger.shell import DebuggerShell

LOOP = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"
# its lines: 1 def, 2 total = 0, 3 for, 4 total += x, 5 return


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def transcript(oracle, sandbox, commands, source=LOOP, call="f([1, 2, 3])", stdout=None, **shell_options) -> str:
    out = stdout if stdout is not None else io.StringIO()
    session = DebugSession(Program.function(source, call, "prog.py"), oracle, sandbox=sandbox)
    shell = DebuggerShell(session, stdout=out, status=io.StringIO(), **shell_options)
    shell.run(commands, interactive=False)
    return out.getvalue()


def test_p_evaluates_an_expression_over_the_predicted_locals(oracle, sandbox):
    out = transcript(oracle, sandbox, ["b 4", "c", "c", "p total * 10 + x", "p [v * 2 for v in xs if v != x]", "p len(xs), max(xs)"])
    # at the second stop: total = 1, x = 2
    assert "(codewm) p total * 10 + x\n12\n" in out
    assert "(codewm) p [v * 2 for v in xs if v != x]\n[2, 6]\n" in out
    assert "(codewm) p len(xs), max(xs)\n(3, 3)\n" in out


def test_p_sees_the_values_you_set_not_the_real_ones(oracle, sandbox):
    out = transcript(oracle, sandbox, ["b 4", "c", "set total = 100", "p total + x"])
    assert "(codewm) p total + x\n101\n" in out


def test_expressions_run_in_the_sandbox_not_in_codewm(oracle, sandbox):
    out = transcript(oracle, sandbox, ["s 2", "p __import__('os').getpid()"])
    pid = out.split("(codewm) p __import__('os').getpid()\n")[1].splitlines()[0]
    assert pid.isdigit() and int(pid) != os.getpid()


def test_p_calls_the_programs_own_functions(oracle, sandbox):
    source = "def sq(v):\n    return v * v\n\ndef f(xs):\n    return [sq(x) for x in xs]\n"
    out = transcript(oracle, sandbox, ["s 2", "p sq(xs[1]) + 1"], source=source, call="f([3, 4])")
    assert "(codewm) p sq(xs[1]) + 1\n17\n" in out


def test_values_that_are_not_literals_say_so(oracle, sandbox):
    source = "class Node:\n    pass\n\ndef f():\n    n = Node()\n    return 1\n"
    out = transcript(oracle, sandbox, ["s 4", "p n", "p n.x"], source=source, call="f()")
    assert "n = <" in out  # the plain name: the model's text
    assert "*** the predicted value of n (<" in out and "is not a Python literal, so it cannot be rebuilt to evaluate 'n.x' on" in out


def test_bad_expressions_and_errors_in_them_say_why(oracle, sandbox):
    out = transcript(oracle, sandbox, ["s 2", "p xs[", "p xs[7]", "p nosuch"])
    assert "*** 'xs[' is not a Python expression" in out
    assert "*** xs[7]: IndexError: list index out of range (evaluated in the sandbox on the predicted values)" in out
    assert "*** nosuch: NameError: name 'nosuch' is not defined (evaluated in the sandbox on the predicted values; the locals at this step: xs)" in out


def test_pp_pretty_prints(oracle, sandbox):
    out = transcript(oracle, sandbox, ["s 2", "pp {'numbers': list(range(30)), 'xs': xs}"])
    value = out.split("(codewm) pp {'numbers': list(range(30)), 'xs': xs}\n")[1]
    assert value.startswith("{'numbers': [0,\n             1,\n")
    assert " 'xs': [1, 2, 3]}\n" in value


def test_bang_assignment_is_set_and_other_statements_are_refused(oracle, sandbox):
    out = transcript(oracle, sandbox, ["b 4", "c", "!total = 10", "p total", "!print('hi')", "!x ="])
    assert "(codewm) !total = 10\ntotal = 10 (set by you;" in out
    assert "(codewm) p total\ntotal = 10  (set by you)" in out
    assert "*** !print('hi'): only an assignment to a local (!NAME = VALUE, as `set`) can run here" in out
    assert "*** !x = is not a Python statement" in out


def test_the_oracle_says_it_goes_back_to_the_real_run_after_set(oracle, sandbox):
    out = transcript(oracle, sandbox, ["b 4", "c", "set total = 10", "n", "n"])
    assert "note: oracle replays the real run: from the next step on it shows the real values, not total = 10" in out
    assert "total = 1  (100%)" in out.split("(codewm) set total = 10")[1]  # what happened: the real value again


def test_a_conditional_breakpoint_stops_where_its_condition_holds(oracle, sandbox):
    out = transcript(oracle, sandbox, ["b 4, x > 1", "c", "p x total", "c", "p x", "b"], call="f([1, 2, 3])")
    assert "(codewm) b 4, x > 1\nbreakpoint at prog.py:4, if x > 1\n" in out
    first, second = out.split("(codewm) c\n")[1:3]
    assert "x = 2  (100%)\ntotal = 1  (100%)" in first
    assert "(codewm) p x\nx = 3" in second
    assert "breakpoint at prog.py:4, if x > 1" in out.split("(codewm) b\n")[1]


def test_a_condition_that_cannot_be_evaluated_stops_and_says_why(oracle, sandbox):
    out = transcript(oracle, sandbox, ["b 4, nosuch > 1", "c"])
    assert "note: the condition 'nosuch > 1' of the breakpoint at line 4 could not be evaluated (NameError: name 'nosuch' is not defined): stopped there" in out
    assert "(breakpoint at line 4)" in out
    assert "*** the condition: 'x >' is not a Python expression" in transcript(oracle, sandbox, ["b 4, x >"])


def test_tbreak_stops_once(oracle, sandbox):
    out = transcript(oracle, sandbox, ["tbreak 4", "c", "c", "b"])
    assert "(codewm) tbreak 4\ntemporary breakpoint at prog.py:4\n" in out
    first, second = out.split("(codewm) c\n")[1:3]
    assert "note: deleted the temporary breakpoint at prog.py:4" in first and "(breakpoint at line 4)" in first
    assert "the whole run is predicted" in second
    assert out.endswith("(codewm) b\nno breakpoints\n")


def test_display_shows_expressions_after_each_motion(oracle, sandbox):
    out = transcript(oracle, sandbox, ["s 4", "display total", "display total * 2 + 1", "n", "n", "undisplay total", "n", "display"])
    assert "(codewm) display total\ndisplay total: 0\n" in out
    after_next = out.split("(codewm) n\n")[1]
    assert "display total: 0\ndisplay total * 2 + 1: 1\n" in after_next
    last_next = out.split("(codewm) n\n")[3]
    assert "display total:" not in last_next and "display total * 2 + 1: 3" in last_next


def test_a_shows_the_arguments_only(oracle, sandbox):
    source = "def f(a, b):\n    c = a + b\n    return c * 2\n"
    out = transcript(oracle, sandbox, ["s 4", "a", "locals"], source=source, call="f(2, 3)")
    assert "(codewm) a\na = 2  (100%)\nb = 3  (100%)\n(codewm) locals" in out
    assert "c = 5" in out.split("(codewm) locals")[1]


def test_listings_are_highlighted_on_a_terminal_only(oracle, sandbox, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    coloured = transcript(oracle, sandbox, ["s 2", "l"], stdout=Terminal())
    plain = transcript(oracle, sandbox, ["s 2", "l"])
    listing = coloured.split("(codewm) l\n")[1]
    assert "\x1b[" in listing and "total" in listing
    assert "\x1b[" not in plain and "   4             total += x\n" in plain.split("(codewm) l\n")[1]


HOSTILE = (
    "class Screen:\n"
    "    def __repr__(self):\n"
    "        return '\\x1b[2J\\x1b]0;pwned\\x07'\n"
    "\n"
    "def f():\n"
    "    s = Screen()\n"
    "    t = '\\x1b[2J'\n"
    "    return s\n"
)


def test_the_shell_escapes_what_the_program_controls(oracle, sandbox):
    out = transcript(oracle, sandbox, ["s 5", "locals", "p t", "l", "c", "truth"], source=HOSTILE, call="f()")
    assert "\x1b" not in out and "\x07" not in out
    assert "s = \\x1b[2J\\x1b]0;pwned\\x07" in out
    assert "returns \\x1b[2J\\x1b]0;pwned\\x07" in out


def test_the_json_transcript_escapes_too(oracle, sandbox):
    import json

    out = transcript(oracle, sandbox, ["s 5", "p s"], source=HOSTILE, call="f()", json_transcript=True)
    assert "\x1b" not in out
    records = [json.loads(line) for line in out.splitlines()]
    assert records[-1]["command"] == "p s" and records[-1]["step"]["locals"]["s"] == "\x1b[2J\x1b]0;pwned\x07"


def test_the_demo_escapes_what_the_program_controls(oracle, sandbox):
    from types import SimpleNamespace

    from codewm.debugger.demo import run_demo, summary_lines

    out = io.StringIO()
    results = run_demo([SimpleNamespace(name="screen", source=HOSTILE, call="f()")], oracle, sandbox=sandbox, out=out, status=io.StringIO())
    assert "\x1b" not in out.getvalue() and "\\x1b[2J" in out.getvalue()
    assert all("\x1b" not in line for line in summary_lines(results))


def test_plurals(oracle, sandbox):
    out = transcript(oracle, sandbox, ["truth", "s 2", "back", "set xs = [5]"])
    assert "against the 1 step predicted so far" in out
    assert "the 1 step predicted after this one is dropped" in out
    assert "1 of 1 step agrees" in out
