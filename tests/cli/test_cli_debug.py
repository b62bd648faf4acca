"""`codewm debug` without a terminal (commands from -c, --commands or stdin), its errors, and
`codewm demo`, the README's main command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from patience import patience
from typer.testing import CliRunner

from codewm.cli import app

runner = CliRunner(env={"COLUMNS": "160", "NO_COLOR": "1"})
PROGRAM = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"


@pytest.fixture()
def prog(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM)
    return path


def test_commands_from_c_run_in_order_and_are_echoed(prog):
    result = runner.invoke(app, ["debug", str(prog), "--call", "f([1, 2])", "--model", "oracle", "-e", "b 4", "-e", "c", "-e", "p total x", "-e", "c", "-e", "p x"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "codewm debug: prog.py, predicted by oracle" in out
    assert "(codewm) b 4\nbreakpoint at prog.py:4" in out
    assert "(codewm) p total x\ntotal = 0  (100%)\nx = 1  (100%)" in out
    assert out.rstrip().endswith("x = 2  (100%)")


def test_commands_from_a_file_with_comments_and_stdin(prog, tmp_path):
    script = tmp_path / "cmds.txt"
    script.write_text("# to the loop body, then out of the loop\nstep 5\n\nuntil\nlocals\n")
    result = runner.invoke(app, ["debug", str(prog), "--call", "f([1, 2])", "--model", "oracle", "--commands", str(script)])
    assert result.exit_code == 0, result.output
    assert "(codewm) until\n> prog.py:5 in f()" in result.stdout
    assert "xs = [1, 2]  (100%)\ntotal = 3  (100%)\nx = 2  (100%)" in result.stdout
    piped = runner.invoke(app, ["debug", str(prog), "--call", "f([1, 2])", "--model", "oracle"], input="s\ns\nnext\nnosuch\nq\nstep\n")
    assert piped.exit_code == 0, piped.output
    assert "(codewm) nosuch\n*** unknown command 'nosuch'" in piped.stdout
    assert "(codewm) step" not in piped.stdout.split("(codewm) q")[1]  # quit ends it


def test_a_whole_script_numbers_lines_as_the_file_does(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("a = 1\nb = a + 1\nprint(b)\n")
    result = runner.invoke(app, ["debug", str(script), "--model", "oracle", "-e", "s", "-e", "s", "-e", "l", "-e", "b 3", "-e", "c", "-e", "truth"])
    assert result.exit_code == 0, result.output
    assert "> script.py in <module>()" in result.stdout and "-> (the script starts)" in result.stdout
    assert "> script.py:1 in <module>()" in result.stdout
    assert "   2  -> b = a + 1" in result.stdout
    assert "> script.py:3 in <module>()" in result.stdout and "no divergence" in result.stdout


def test_the_report_option_writes_the_html(prog, tmp_path):
    report = tmp_path / "r" / "out.html"
    report.parent.mkdir()
    result = runner.invoke(app, ["debug", str(prog), "--call", "f([1, 2])", "--model", "oracle", "-e", "c", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert f"report: {report}" in result.stdout
    assert "<html" in report.read_text().lower()


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.py", "--call", "f()"], "cannot read missing.py"),
        (["{bad}", "--call", "f()"], "{bad}:1: invalid syntax"),
        (["{prog}", "--call", "f(1,"], "--call 'f(1,' is not a Python expression"),
        (["{prog}", "--call", "f([1])", "--model", "nosuch:x"], "unknown model 'nosuch:x'"),
        (["{prog}", "--call", "f([1])", "--model", "builtin:/nonexistent"], "not a Hugging Face model directory"),
        (["{prog}", "--call", "f([1])", "--model", "oracle", "--max-frames", "0"], "SessionLimits.max_frames must be a positive int"),
        (["{prog}", "--call", "f([1])", "--commands", "nothere.txt"], "cannot read --commands nothere.txt"),
    ],
)
def test_bad_input_is_a_clear_error(prog, tmp_path, args, message):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    args = [a.replace("{prog}", str(prog)).replace("{bad}", str(bad)) for a in args]
    result = runner.invoke(app, ["debug", *args])
    assert result.exit_code == 2
    assert message.replace("{bad}", str(bad)) in result.output


def test_demo_with_the_builtin_model_is_the_readme_main_command(tmp_path):
    """What `bash scripts/demo` runs: the built-in model predicts every bundled example,
    the terminal shows predicted against real, and the HTML report is written."""
    report = tmp_path / "demo.html"
    result = subprocess.run(
        [sys.executable, "-m", "codewm.cli", "demo", "--count", "1", "--report", str(report)],
        capture_output=True, text=True, timeout=patience(1200), env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "codewm demo: builtin predicts the traces of 5 bundled programs" in out
    for name in ("fibonacci", "safe_divide", "sort_vs_sorted", "word_count", "crux_style_0000"):
        assert f"== {name}.py:" in out
        assert name in report.read_text()
    assert out.count("truth: the real run (ok") == 5
    assert "steps agree" in out and f"report: {report}" in out


def test_demo_with_the_oracle_agrees_everywhere(tmp_path):
    result = runner.invoke(app, ["demo", "--model", "oracle", "--count", "2", "--report", str(tmp_path / "d.html")])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("no divergence: every step predicted so far is what really happens") == 6
    summary = result.stdout.split("program ")[-1]
    assert "all" in summary and "6/6" in summary and "DIFFERS" not in result.stdout
    assert "\x1b[2K" not in result.output and "is predicting" not in result.output  # no spinner when piped


def test_a_scripted_command_that_is_unknown_or_fails_exits_nonzero(prog):
    base = ["debug", str(prog), "--call", "f([1, 2])", "--model", "oracle"]
    good = runner.invoke(app, base + ["--command", "s 2", "--command", "p xs"])
    assert good.exit_code == 0, good.output
    unknown = runner.invoke(app, base + ["--command", "nosuch", "--command", "s"])
    assert unknown.exit_code == 1
    assert "(codewm) s\n" in unknown.stdout  # the commands after it still ran
    assert "error: 1 scripted command failed: 'nosuch'" in unknown.stderr
    failing = runner.invoke(app, base + ["--command", "p nosuch", "--command", "back"])
    assert failing.exit_code == 1 and "2 scripted commands failed: 'p nosuch', 'back'" in failing.stderr


def test_the_json_transcript_is_one_object_per_command(prog):
    import json

    result = runner.invoke(app, ["debug", str(prog), "--call", "f([1, 2])", "--model", "oracle", "--json", "--command", "b 4", "--command", "c", "--command", "p total + x", "--command", "nosuch"])
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["command"] for r in records] == [None, "b 4", "c", "p total + x", "nosuch"]
    assert records[0]["output"][0].startswith("codewm debug: prog.py, predicted by oracle")
    assert records[2]["step"] == {
        "step": 6, "steps": 6, "event": "line", "line": 4, "function": "f", "depth": 1, "source": "total += x",
        "locals": {"xs": "[1, 2]", "total": "0", "x": "1"}, "value": None,
        "confidence": {"xs": 1.0, "total": 1.0, "x": 1.0}, "set_by_you": [], "ended": None,
    }
    assert records[3]["ok"] and records[3]["output"] == ["1"]
    assert not records[4]["ok"] and records[4]["errors"] == ["unknown command 'nosuch'; type help for the list of commands"]
