"""The `codewm` command: trace, every output format, and bad input (eval, serve, programs,
dataset, debug and demo: the other test_cli_*.py here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from typer.testing import CliRunner

from codewm.cli import app
from codewm.format.cwm import parse_trace

runner = CliRunner(env={"COLUMNS": "160"})
PROGRAM = "def f(string, encryption):\n    if encryption == 0:\n        return string\n    return string.upper()\n"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_trace_cwm_format_is_the_reference_trace(tmp_path):
    path = _write(tmp_path, "prog.py", PROGRAM)
    result = runner.invoke(app, ["trace", str(path), "--call", "f('UppEr', 0)", "--format", "cwm"])
    assert result.exit_code == 0, result.output
    parsed = parse_trace(result.stdout.strip())
    assert parsed.ok and parsed.trace.complete
    assert parsed.trace.output == "'UppEr'"
    assert "<|call_sep|>{\"string\": \"'UppEr'\", \"encryption\": \"0\"}" in result.stdout


def test_trace_json_format(tmp_path):
    path = _write(tmp_path, "prog.py", PROGRAM)
    result = runner.invoke(app, ["trace", str(path), "-c", "f('ab', 1)", "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "ok" and document["format"] == "codewm.trace"
    assert document["frames"][-1]["value"] == "'AB'"


def test_trace_pretty_format_shows_steps_and_values(tmp_path):
    path = _write(tmp_path, "prog.py", PROGRAM)
    result = runner.invoke(app, ["trace", str(path), "--call", "f('UppEr', 0)"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout and "7 steps" in result.stdout
    assert "encryption=0" in result.stdout and "→ 'UppEr'" in result.stdout


def test_trace_a_whole_script(tmp_path):
    path = _write(tmp_path, "script.py", "x = 1\ny = x + 1\nprint(y)\n")
    result = runner.invoke(app, ["trace", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "ok" and document["stdout"] == "2\n"


def test_trace_input_file_of_cruxeval_rows(tmp_path):
    rows = [
        {"id": "sample_0", "code": "def f(xs):\n    xs.sort()\n    return xs\n", "input": "[3, 1, 2]", "output": "[1, 2, 3]"},
        {"id": "sample_1", "code": "def f(s):\n    return s[::-1]\n", "input": "'abc'", "output": "'cba'"},
        {"id": "own", "code": "def g(a, b):\n    return a * b\n", "call": "g(6, 7)"},
    ]
    path = _write(tmp_path, "rows.jsonl", "\n".join(json.dumps(row) for row in rows) + "\n")
    result = runner.invoke(app, ["trace", "--input-file", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["id"] for d in documents] == ["sample_0", "sample_1", "own"]
    assert [d["frames"][-1]["value"] for d in documents] == ["[1, 2, 3]", "'cba'", "42"]
    limited = runner.invoke(app, ["trace", "-i", str(path), "-f", "json", "--limit", "1"])
    assert len(limited.stdout.splitlines()) == 1


def test_bad_input_file_names_the_line(tmp_path):
    path = _write(tmp_path, "rows.jsonl", '{"code": "def f():\\n    return 1\\n", "input": ""}\n{not json}\n')
    result = runner.invoke(app, ["trace", "-i", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2: not valid JSON" in result.output
    path = _write(tmp_path, "rows2.jsonl", '{"code": "x"}\n')
    result = runner.invoke(app, ["trace", "-i", str(path)])
    assert result.exit_code == 2 and "needs 'input' (CRUXEval) or 'call'" in result.output


def test_bad_arguments_get_clear_errors(tmp_path):
    result = runner.invoke(app, ["trace"])
    assert result.exit_code == 2 and "give a FILE" in result.output
    result = runner.invoke(app, ["trace", str(tmp_path / "missing.py"), "--call", "f()"])
    assert result.exit_code == 2 and "cannot read" in result.output
    path = _write(tmp_path, "prog.py", PROGRAM)
    result = runner.invoke(app, ["trace", str(path), "--call", "f()", "--format", "xml"])
    assert result.exit_code == 2 and "--format must be one of" in result.output


def test_program_failures_are_statuses_not_cli_errors(tmp_path):
    path = _write(tmp_path, "prog.py", "def f(:\n")
    result = runner.invoke(app, ["trace", str(path), "--call", "f()", "-f", "json"])
    assert result.exit_code == 3  # the program failed: a status, told apart from ok by the exit code
    assert json.loads(result.stdout)["status"] == "syntax_error"
    path = _write(tmp_path, "loop.py", "def f():\n    while True:\n        pass\n")
    result = runner.invoke(app, ["trace", str(path), "--call", "f()", "-f", "json", "--max-steps", "100"])
    document = json.loads(result.stdout)
    assert document["status"] == "step_limit" and len(document["frames"]) == 100 and not document["complete"]


def test_trace_call_does_not_run_the_main_block(tmp_path):
    # Issue 15, finding 12: with --call the file is a module whose functions are called.
    path = _write(tmp_path, "prog.py", 'def f(x):\n    return x * 2\nif __name__ == "__main__":\n    print("MAIN RAN")\n    raise SystemExit(5)\n')
    result = runner.invoke(app, ["trace", str(path), "--call", "f(21)", "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["status"], document["stdout"], document["frames"][-1]["value"]) == ("ok", "", "42")


def test_a_call_that_is_not_an_expression_is_a_usage_error(tmp_path):
    path = _write(tmp_path, "prog.py", PROGRAM)
    for call in ("f('a', 0); import os", "x = 1", "f(", ""):
        result = runner.invoke(app, ["trace", str(path), "--call", call, "-f", "json"])
        assert result.exit_code == 2, (call, result.output)
        assert "--call" in result.output and "syntax_error" not in result.output, result.output


def test_a_whole_script_shows_the_files_line_numbers(tmp_path):
    path = _write(tmp_path, "script.py", "x = 1\ny = x + 1\nprint(y)\n")
    result = runner.invoke(app, ["trace", str(path)])
    assert result.exit_code == 0, result.output
    numbers = {code: int(number) for number, code in re.findall(r"line\s*│\s*(\d+)\s*│\s*(x = 1|y = x \+ 1|print\(y\))", result.stdout)}
    assert numbers == {"x = 1": 1, "y = x + 1": 2, "print(y)": 3}, result.stdout
    path = _write(tmp_path, "broken.py", "x = 1\ny = (\n")
    result = runner.invoke(app, ["trace", str(path)])
    assert result.exit_code == 3 and "line 2, column" in result.stdout.replace("\n", " "), result.stdout


def test_exit_codes_tell_ok_from_exception_and_limits(tmp_path):
    cases = {
        "def f():\n    return 1\n": 0,
        "def f():\n    raise ValueError('no')\n": 3,
        "def f():\n    while True:\n        pass\n": 4,
    }
    for source, code in cases.items():
        path = _write(tmp_path, "prog.py", source)
        result = runner.invoke(app, ["trace", str(path), "--call", "f()", "-f", "json", "--max-steps", "50"])
        assert result.exit_code == code, (source, result.output)
    rows = [{"code": source, "call": "f()"} for source in cases]
    path = _write(tmp_path, "rows.jsonl", "\n".join(json.dumps(row) for row in rows) + "\n")
    result = runner.invoke(app, ["trace", "-i", str(path), "-f", "json", "--max-steps", "50"])
    assert result.exit_code == 4, result.output  # a limit outranks an exception
    help_text = runner.invoke(app, ["trace", "--help"]).output
    assert "exit" in help_text.lower() and "3" in help_text and "4" in help_text


def test_console_script_starts_without_heavy_imports():
    code = "import sys; from codewm.cli import app; print(sorted(m for m in ('torch', 'transformers', 'ray', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_text = subprocess.run(["codewm", "--help"], capture_output=True, text=True, check=True).stdout
    assert "trace" in help_text and "demo" in help_text


def test_trace_input_file_with_several_workers(tmp_path, monkeypatch):
    import codewm.cli.trace_command as trace_command

    pools = []

    def recording_open_sandbox(*args, **kwargs):
        sandbox = open_sandbox(*args, **kwargs)
        pools.append(sandbox)
        return sandbox

    open_sandbox = trace_command.open_sandbox
    monkeypatch.setattr(trace_command, "open_sandbox", recording_open_sandbox)
    # each row sleeps a little, so that the pool's threads all want a worker at once
    rows = [{"id": f"r{i}", "code": "import time\ndef f(n):\n    time.sleep(0.3)\n    return n * n\n", "input": str(i)} for i in range(6)]
    rows.append({"id": "boom", "code": "def f():\n    return 1 / 0\n", "call": "f()"})
    path = _write(tmp_path, "rows.jsonl", "\n".join(json.dumps(row) for row in rows) + "\n")
    one = runner.invoke(app, ["trace", "-i", str(path), "-f", "json"])
    three = runner.invoke(app, ["trace", "-i", str(path), "-f", "json", "--workers", "3"])
    assert one.exit_code == three.exit_code == 3, three.output  # one row raised
    parsed = [[json.loads(line) for line in r.stdout.splitlines()] for r in (one, three)]
    assert [d["id"] for d in parsed[1]] == [f"r{i}" for i in range(6)] + ["boom"]  # the rows' order
    assert [d["frames"][-1]["value"] for d in parsed[1][:6]] == [str(i * i) for i in range(6)]
    for a, b in zip(*parsed):
        assert {k: v for k, v in a.items() if k != "wall_seconds"} == {k: v for k, v in b.items() if k != "wall_seconds"}
    assert [p.size for p in pools] == [1, 3]
    assert pools[1].workers_started >= 2  # the rows really ran side by side
    bad = runner.invoke(app, ["trace", "-i", str(path), "--workers", "-1"])
    assert bad.exit_code == 2 and "--workers must be 0 (one per core) or more" in bad.output
