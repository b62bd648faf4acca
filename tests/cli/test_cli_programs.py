"""`codewm programs sample|mine` and `codewm dataset build` from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from codewm.cli import app

runner = CliRunner(env={"COLUMNS": "160"})


def test_sample_prints_cases_of_a_source():
    result = runner.invoke(app, ["programs", "sample", "synthetic", "-n", "2", "-s", "seed=4", "-s", "mode=cruxeval"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("# synthetic/cruxeval/4/") == 2 and result.stdout.count("# call: f(") == 2


def test_sample_reports_bad_sources_and_options():
    result = runner.invoke(app, ["programs", "sample", "nope"])
    assert result.exit_code == 2 and "unknown program source 'nope'" in result.output
    result = runner.invoke(app, ["programs", "sample", "synthetic", "-s", "colour=3"])
    assert result.exit_code == 2 and "rejects its options" in result.output
    result = runner.invoke(app, ["programs", "sample", "synthetic", "-s", "noequals"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_mine_reports_per_module_counts():
    result = runner.invoke(app, ["programs", "mine", "--module", "colorsys", "--module", "fnmatch"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.split()}
    assert int(lines["colorsys"][3]) >= 5 and int(lines["fnmatch"][3]) >= 3  # functions traced
    assert "TOTAL" in lines


def test_dataset_build_command(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('name = "cli"\noutput = "out"\nshard_size = 10\n[[sources]]\nkind = "synthetic"\ncount = 12\nseed = 3\n')
    result = runner.invoke(app, ["dataset", "build", str(config), "--quiet", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "12 from sources" in result.stdout
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["records"] == 12
    again = runner.invoke(app, ["dataset", "build", str(config), "--quiet"])
    assert again.exit_code == 0 and "0 built" in again.stdout
    config.write_text("name = 5\n")
    bad = runner.invoke(app, ["dataset", "build", str(config)])
    assert bad.exit_code == 2 and "'name' must be str" in bad.output
