"""A resumed build checks every finished shard against the sha256 in its `.done.json` and
rebuilds the shards whose files are damaged; readers name a damaged file instead of
failing with a traceback; a full disk or a read-only output gets a short message."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from patience import patience
from typer.testing import CliRunner

from codewm.cli import app
from codewm.dataset import read as dataset_read
from codewm.dataset.build import build_dataset
from codewm.dataset.config import config_from_dict
from codewm.dataset.export import export_dataset
from codewm.dataset.read import DatasetError
from codewm.dataset.stats import compute_stats

runner = CliRunner(env={"COLUMNS": "200"})


def _config(output: Path, count: int = 24):
    return config_from_dict(
        {"name": "integrity", "shard_size": 4, "limits": {"max_steps": 300}, "sources": [{"kind": "synthetic", "count": count, "seed": 5}]},
        output=output,
    )


def _tree(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A finished small build and the hashes of all its files."""
    config = _config(tmp_path_factory.mktemp("pristine") / "out")
    build_dataset(config, workers=2, progress=False)
    return config.output, _tree(config.output)


def _copy(pristine, tmp_path: Path) -> Path:
    import shutil

    source, _ = pristine
    target = tmp_path / "out"
    shutil.copytree(source, target)
    return target


def _shard_files(output: Path, fmt: str) -> list[Path]:
    return sorted(output.rglob(f"shard-*.{fmt}"))


def _damage(output: Path) -> dict[str, str]:
    """Flip a byte, truncate a parquet file, delete one shard file and empty another;
    returns {file relative to output: what a resume should call it}."""
    gz = _shard_files(output, "jsonl.gz")
    parquet = _shard_files(output, "parquet")
    assert len(gz) >= 4, "the build needs at least four shards for this test"
    flipped = bytearray(gz[0].read_bytes())
    flipped[len(flipped) // 2] ^= 0x01
    gz[0].write_bytes(bytes(flipped))
    parquet[1].write_bytes(parquet[1].read_bytes()[:-100])
    gz[2].unlink()
    gz[3].write_bytes(b"")
    rel = lambda p: str(p.relative_to(output))  # noqa: E731
    return {rel(gz[0]): "checksum mismatch", rel(parquet[1]): "checksum mismatch", rel(gz[2]): "missing", rel(gz[3]): "empty"}


def test_resume_rebuilds_damaged_shards_to_the_same_bytes(pristine, tmp_path):
    output = _copy(pristine, tmp_path)
    damaged = _damage(output)
    summary = build_dataset(_config(output), workers=2, progress=False)
    assert summary.shards_built == 4
    assert summary.shards_reused == len(summary.manifest["shards"]) - 4
    reasons = dict(summary.shards_rebuilt)
    assert len(reasons) == 4
    for path, problem in damaged.items():
        shard = path.rsplit(".", 2)[0] if path.endswith(".jsonl.gz") else path.rsplit(".", 1)[0]
        assert problem in reasons[shard] and path in reasons[shard], reasons
    assert _tree(output) == pristine[1]


def test_resume_rebuilds_a_shard_whose_marker_is_unreadable(pristine, tmp_path):
    output = _copy(pristine, tmp_path)
    marker = sorted(output.rglob("*.done.json"))[0]
    marker.write_text("{not json")
    summary = build_dataset(_config(output), workers=1, progress=False)
    assert summary.shards_built == 1 and "marker" in summary.shards_rebuilt[0][1]
    assert _tree(output) == pristine[1]


def test_cli_build_summary_says_what_was_rebuilt(pristine, tmp_path):
    output = _copy(pristine, tmp_path)
    damaged = _damage(output)
    config_file = tmp_path / "build.toml"
    config_file.write_text(
        f'name = "integrity"\noutput = "{output}"\nshard_size = 4\n[limits]\nmax_steps = 300\n'
        '[[sources]]\nkind = "synthetic"\ncount = 24\nseed = 5\n'
    )
    result = runner.invoke(app, ["dataset", "build", str(config_file), "--quiet", "--workers", "2"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "4 rebuilt" in text and "checksum mismatch" in text
    assert next(iter(damaged)) in text


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "empty"])
def test_stats_and_export_name_the_damaged_file(pristine, tmp_path, damage):
    output = _copy(pristine, tmp_path)
    target = _shard_files(output, "jsonl.gz")[1]
    if damage == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x40
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:30])
    elif damage == "delete":
        target.unlink()
    else:
        target.write_bytes(b"")
    with pytest.raises(DatasetError, match=str(target)):
        compute_stats(output)
    with pytest.raises(DatasetError, match=str(target)):
        export_dataset(output, tmp_path / "export")
    for command in (["dataset", "stats", str(output)], ["dataset", "export", str(output), "--out", str(tmp_path / "export2")]):
        result = runner.invoke(app, command)
        assert result.exit_code != 0
        assert str(target) in result.output
        assert "Traceback" not in result.output and not isinstance(result.exception, (ValueError, OSError, EOFError))


def _fail_writes_with(monkeypatch, code: int) -> None:
    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):  # the data write, not the folder's fsync
            raise OSError(code, os.strerror(code))
        return real_fsync(fd)

    monkeypatch.setattr(dataset_read.os, "fsync", fsync)


@pytest.mark.parametrize("code,words", [(errno.ENOSPC, "disk full"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_a_write_that_fails_gets_a_short_message_naming_the_path(tmp_path, monkeypatch, code, words):
    config = _config(tmp_path / "out", count=6)
    _fail_writes_with(monkeypatch, code)
    with pytest.raises(DatasetError, match=words) as caught:
        build_dataset(config, workers=1, progress=False)
    assert str(tmp_path / "out") in str(caught.value)
    assert not list((tmp_path / "out").rglob("*.tmp")), "a failed write leaves no temporary file"


def test_cli_build_on_a_full_disk_prints_one_line(tmp_path, monkeypatch):
    config_file = tmp_path / "build.toml"
    config_file.write_text(f'name = "x"\noutput = "{tmp_path / "out"}"\n[[sources]]\nkind = "synthetic"\ncount = 4\nseed = 1\n')
    _fail_writes_with(monkeypatch, errno.ENOSPC)
    result = runner.invoke(app, ["dataset", "build", str(config_file), "--quiet", "--workers", "1"])
    assert result.exit_code != 0
    assert "disk full" in result.output and str(tmp_path / "out") in result.output.replace("\n", "")
    assert not isinstance(result.exception, OSError)


def test_cli_build_into_a_read_only_directory(tmp_path):
    """A real read-only directory: chmod for a user; for root (who writes through chmod) a
    read-only bind mount made by bwrap, which gives EROFS."""
    import shutil
    import subprocess
    import sys

    locked = tmp_path / "locked"
    locked.mkdir()
    config_file = tmp_path / "build.toml"
    config_file.write_text(f'name = "x"\noutput = "{locked / "out"}"\n[[sources]]\nkind = "synthetic"\ncount = 4\nseed = 1\n')
    command = [sys.executable, "-m", "codewm.cli", "dataset", "build", str(config_file), "--quiet", "--workers", "1"]
    if os.geteuid() == 0:
        if shutil.which("bwrap") is None:
            pytest.skip("root writes through chmod and bwrap is not there to mount read-only")
        command = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(locked), str(locked), *command]
    locked.chmod(0o555)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=patience(900))
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert f"cannot write {locked / 'out'}" in result.stderr and "Traceback" not in result.stderr


def test_cli_export_into_a_read_only_output(pristine, tmp_path, monkeypatch):
    output = _copy(pristine, tmp_path)
    _fail_writes_with(monkeypatch, errno.EROFS)
    result = runner.invoke(app, ["dataset", "export", str(output), "--out", str(tmp_path / "export")])
    assert result.exit_code != 0 and "read-only" in result.output
    assert not isinstance(result.exception, OSError)
