"""The pretty terminal view: a program cannot drive the terminal through it (issue 15)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

from rich.console import Console
from typer.testing import CliRunner

from codewm.cli import app
from codewm.format.pretty import print_result, terminal_safe
from codewm.trace.tracer import trace_function

runner = CliRunner(env={"COLUMNS": "200"})
# A __repr__ and the program's stdout both carry terminal control sequences: clear screen,
# bell, a C1 CSI, a carriage return that would overwrite the line, and DEL.
PROGRAM = (
    "class Screen:\n"
    "    def __repr__(self):\n"
    "        return 'Screen\\x1b[2J\\x07'\n"
    "def f():\n"
    "    screen = Screen()\n"
    "    print('out\\x1b[31mred\\x9bX\\rover\\x7f\\ttab')\n"
    "    return screen\n"
)


def test_terminal_safe_escapes_control_characters_and_keeps_newlines_and_tabs():
    assert terminal_safe("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert terminal_safe("\x07\x9b\x7f\r\x00") == "\\x07\\x9b\\x7f\\r\\x00"
    assert terminal_safe("line\n\tnext é ☃") == "line\n\tnext é ☃"
    assert terminal_safe("one line\n", keep="") == "one line\\n"


def test_the_pretty_table_shows_control_characters_escaped():
    traced = trace_function(PROGRAM, "f()")
    result = SimpleNamespace(trace=traced.trace, status=traced.status, error="Boom('\x1b]0;title\x07')", stdout="out\x1b[31mred\n")
    console = Console(file=io.StringIO(), force_terminal=False, color_system=None, width=200)
    print_result(result, "label\x1b[2J", console)
    shown = console.file.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown
    assert "Screen\\x1b[2J\\x07" in shown and "out\\x1b[31mred" in shown and "label\\x1b[2J" in shown
    assert "Boom('\\x1b]0;title\\x07')" in shown


def test_codewm_trace_pretty_never_writes_raw_escapes(tmp_path):
    path = tmp_path / "screen.py"
    path.write_text(PROGRAM)
    result = runner.invoke(app, ["trace", str(path), "--call", "f()"])
    assert result.exit_code == 0, result.output
    for raw in ("\x1b", "\x07", "\x9b", "\r", "\x7f"):
        assert raw not in result.output
    assert "Screen\\x1b[2J\\x07" in result.output and "out\\x1b[31mred\\x9bX\\rover\\x7f" in result.output


def test_cwm_and_json_formats_keep_the_exact_text(tmp_path):
    path = tmp_path / "screen.py"
    path.write_text(PROGRAM)
    cwm = runner.invoke(app, ["trace", str(path), "--call", "f()", "--format", "cwm"])
    assert '"Screen\\u001b[2J\\u0007"' in cwm.output  # the JSON the format always wrote
    document = json.loads(runner.invoke(app, ["trace", str(path), "--call", "f()", "--format", "json"]).output)
    assert document["stdout"] == "out\x1b[31mred\x9bX\rover\x7f\ttab\n"
