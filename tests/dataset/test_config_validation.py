"""A build config is checked whole (keys, types, ranges, each source's options) before
anything is written, and every error names the file and the key (issue 16, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from codewm.cli import app
from codewm.dataset.config import ConfigError, load_config

runner = CliRunner(env={"COLUMNS": "160"})

HEAD = 'name = "t"\noutput = "out"\nshard_size = 50\n[limits]\nwall_seconds = 10.0\nmax_steps = 400\n'


def _config(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    path = tmp_path / "build.toml"
    path.write_text(head + body)
    return path


@pytest.mark.parametrize(
    "body, expected",
    [
        ('[[sources]]\nkind = "synthetic"\ncuont = 200\n', r"build\.toml: sources\[0\] \(synthetic\): unknown option 'cuont'.*count"),
        ('[[sources]]\nkind = "synthetic"\ncount = "200"\n', r"build\.toml: sources\[0\]\.count must be an int, got str '200'"),
        ('[[sources]]\nkind = "synthetic"\ncount = -3\n', r"build\.toml: sources\[0\] \(synthetic\): .*count"),
        ('[[sources]]\nkind = "synthetic"\nhelper_prob = 2.0\n', r"build\.toml: sources\[0\] \(synthetic\): .*helper_prob"),
        ('[[sources]]\nkind = "synthetic"\nmode = 3\n', r"build\.toml: sources\[0\]\.mode must be a str, got int 3"),
        ('[[sources]]\nkind = "humaneval"\nlimit = "5"\n', r"build\.toml: sources\[0\]\.limit must be an int, got str '5'"),
        ('[[sources]]\nkind = "jsonl"\n', r"build\.toml: sources\[0\] \(jsonl\): missing option 'path'"),
        ('[[sources]]\nkind = "nosuch"\n', r"build\.toml: sources\[0\].*unknown program source 'nosuch'"),
        ('[[sources]]\nkind = "synthetic"\nbatch = "yes"\n', r"build\.toml: sources\[0\]\.batch must be a bool"),
    ],
)
def test_source_options_are_checked_on_loading(tmp_path, body, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(_config(tmp_path, body))


@pytest.mark.parametrize(
    "head, expected",
    [
        ('name = "t"\nseed = "1"\n', r"'seed' must be int"),
        ('name = "t"\nmax_trace_tokens = 0\n', r"'max_trace_tokens' must be at least 1"),
        ('name = "t"\n[limits]\nwall_seconds = "5"\n', r"limits\.wall_seconds must be a number, got str '5'"),
        ('name = "t"\n[limits]\nmax_steps = 0\n', r"limits\.max_steps must be at least 1"),
        ('name = "t"\n[limits]\nwall_seconds = -1\n', r"limits\.wall_seconds must be more than 0"),
        ('name = "t"\n[splits]\ntrain = "0.9"\ntest = 0.1\n', r"splits\.train must be a number"),
    ],
)
def test_top_level_values_are_checked(tmp_path, head, expected):
    with pytest.raises(ConfigError, match=r"build\.toml: " + expected):
        load_config(_config(tmp_path, '[[sources]]\nkind = "synthetic"\ncount = 2\n', head=head))


def test_a_typo_writes_nothing_and_the_fixed_config_builds(tmp_path):
    bad = _config(tmp_path, '[[sources]]\nkind = "synthetic"\ncuont = 4\n')
    result = runner.invoke(app, ["dataset", "build", str(bad), "-q", "--workers", "1"])
    assert result.exit_code == 2 and "cuont" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    result = runner.invoke(app, ["dataset", "build", str(_config(tmp_path, '[[sources]]\nkind = "synthetic"\ncount = "4"\n')), "-q", "--workers", "1"])
    assert result.exit_code == 2 and "sources[0].count must be an int" in result.output
    assert not (tmp_path / "out").exists()
    fixed = _config(tmp_path, '[[sources]]\nkind = "synthetic"\ncount = 4\n')
    result = runner.invoke(app, ["dataset", "build", str(fixed), "-q", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "manifest.json").exists()


def test_a_folder_a_failed_build_left_empty_is_not_locked(tmp_path):
    # build.json of another config, but no shard finished: nothing there to protect
    first = _config(tmp_path, '[[sources]]\nkind = "synthetic"\ncount = 4\nseed = 1\n')
    from codewm.dataset.build import build_dataset

    config = load_config(first)
    config.output.mkdir(parents=True)
    (config.output / "build.json").write_text('{"format": "codewm.dataset", "config_sha256": "0" }')
    summary = build_dataset(config, workers=1, progress=False)
    assert summary.manifest["counts"]["records"] >= 1
    # a folder holding finished shards of another config stays protected
    other = load_config(_config(tmp_path, '[[sources]]\nkind = "synthetic"\ncount = 4\nseed = 2\n'))
    with pytest.raises(ConfigError, match="different config"):
        build_dataset(other, workers=1, progress=False)
