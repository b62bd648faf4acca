"""What every `codewm` command shares (issue 16, items 3 and 5-8): one meaning per short flag,
--version, `python -m codewm`, completion, JSON on stdout, quiet exits on a closed pipe, help
and tables that show what they mean."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import typer
from typer.testing import CliRunner

import codewm
from codewm.cli import app

runner = CliRunner(env={"COLUMNS": "160"})


def _commands(command, path: str = "codewm"):
    """(path, command) for the application and every command and group under it (typer's
    own copy of click's classes, hence no isinstance on click's)."""
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}")


def _short_flags() -> dict[str, set[tuple[str, str]]]:
    """short flag -> {(its long name, command)} over every command of the app."""
    meanings: dict[str, set[tuple[str, str]]] = {}
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            if param.param_type_name != "option":
                continue
            names = [*param.opts, *param.secondary_opts]
            longs = sorted(n for n in names if n.startswith("--"))
            for short in (n for n in names if not n.startswith("--")):
                meanings.setdefault(short, set()).add((longs[0] if longs else short, path))
    return meanings


def test_one_meaning_per_short_flag_across_every_command():
    meanings = _short_flags()
    assert meanings, "no short flags found: the walk over the app is broken"
    clashes = {short: sorted(uses) for short, uses in meanings.items() if len({long for long, _ in uses}) > 1}
    assert not clashes, clashes


def test_debug_dash_c_is_the_call_as_in_trace():
    uses = _short_flags()["-c"]
    assert ("--call", "codewm debug") in uses and ("--call", "codewm trace") in uses


def test_version_and_python_dash_m(tmp_path):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"codewm {codewm.__version__}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-m", "codewm", "--version"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"codewm {codewm.__version__}", done.stderr


def test_shell_completion_is_offered():
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


def test_help_shows_no_value_beside_flags():
    result = runner.invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    flag_rows = [line for line in result.stdout.splitlines() if "--resume" in line or "--structured" in line or "--quiet" in line]
    assert len(flag_rows) == 3, result.stdout
    assert not any("<bool>" in row for row in flag_rows), flag_rows
    assert "<int>" in result.stdout  # options that take a value still say which
    for path, _ in _commands(typer.main.get_command(app)):  # every command, --help included
        shown = runner.invoke(app, [*path.split()[1:], "--help"])
        assert shown.exit_code == 0 and "<bool>" not in shown.stdout, (path, shown.stdout)


def _codewm(*args: str) -> list[str]:
    return [sys.executable, "-m", "codewm.cli", *args]


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(_codewm("programs", "sample", "synthetic", "-n", "5000"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    first = process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    stderr = process.stderr.read().decode()
    process.wait(timeout=300)
    assert first.startswith(b"# synthetic/")
    assert stderr == "", stderr
    assert process.returncode != 2


def test_mine_fails_on_a_module_that_is_not_there():
    result = runner.invoke(app, ["programs", "mine", "--module", "nosuchmod"])
    assert result.exit_code == 2 and "nosuchmod" in result.output


def test_mine_json():
    result = runner.invoke(app, ["programs", "mine", "--module", "colorsys", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["totals"]["modules"] == 1 and document["modules"][0]["module"] == "colorsys"
    assert document["totals"]["kept_calls"] >= 1


def test_eval_json_prints_the_result_document(tmp_path):
    result = runner.invoke(app, ["eval", "-m", "oracle", "-b", "cruxeval-style-o", "-n", "3", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["n"] == 3 and document["metrics"]["pass@1"] == 100.0
    assert document["bench"] == "cruxeval-style-o"


def test_eval_score_writes_scored_results_as_cruxeval_does(tmp_path, score_files):
    rows_path, generations = score_files
    scored = tmp_path / "scored.json"
    result = runner.invoke(app, ["eval", "score", str(rows_path), str(generations), "--scored-results", str(scored), "-k", "1", "-k", "2"])
    assert result.exit_code == 0, result.output
    document = json.loads(scored.read_text())
    assert document["raw_generations"] == json.loads(generations.read_text())
    # CRUXEval's evaluate_generations.py: one pass/fail per generation, per sample
    assert document["raw_scored_generations"] == {"sample_0": [True, False], "sample_1": [False, True]}
    assert document["skipped_generations"] == {"sample_1": [0]}
    assert document["pass_at_1"] == 75.0 and document["pass_at_2"] == 100.0


def test_eval_score_shows_no_progress_when_stderr_is_not_a_terminal(score_files):
    from codewm.cli.common import progress_wanted

    class Terminal:
        def isatty(self):
            return True

    assert progress_wanted(quiet=False, stream=Terminal())
    assert not progress_wanted(quiet=True, stream=Terminal())
    assert not progress_wanted(quiet=False, stream=open(os.devnull, "w"))
    rows_path, generations = score_files
    result = runner.invoke(app, ["eval", "score", str(rows_path), str(generations), "-q"])
    assert result.exit_code == 0 and "checking" not in result.output


def test_eval_keeps_its_results_when_the_reader_goes_away(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = tmp_path / "eval"
    process = subprocess.Popen(
        _codewm("eval", "-m", "oracle", "-b", "livecodebench-style", "-n", "2", "-q", "--out", str(out)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path
    )
    process.stdout.close()  # gone before the table is printed
    stderr = process.stderr.read().decode()
    process.wait(timeout=300)
    assert "Traceback" not in stderr and "Broken pipe" not in stderr, stderr
    [result] = out.glob("*.json")
    assert json.loads(result.read_text())["n"] == 2
