"""`codewm dataset stats` and `codewm dataset export --format hf` on a small build."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from codewm.cli import app
from codewm.dataset.build import build_dataset
from codewm.dataset.config import config_from_dict
from codewm.dataset.export import export_dataset
from codewm.dataset.read import DatasetError
from codewm.dataset.stats import compute_stats
from codewm.format.cwm import parse_trace

runner = CliRunner(env={"COLUMNS": "160"})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("built")
    rows = [{"id": f"r{i}", "code": f"def f(n):\n    t = 0\n    for i in range(n):\n        t += i * {i}\n    return t\n", "call": f"f({i % 7})"} for i in range(60)]
    rows.append({"id": "boom", "code": "def f():\n    raise ValueError('x')\n", "call": "f()"})
    rows.append({"id": "loop", "code": "def f():\n    while True:\n        pass\n", "call": "f()"})
    source = tmp / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = config_from_dict({"name": "small", "shard_size": 16, "limits": {"max_steps": 300}, "sources": [{"kind": "jsonl", "path": str(source)}]}, output=tmp / "out")
    build_dataset(config, workers=2, progress=False)
    return config.output


def test_stats_count_everything(built):
    stats = compute_stats(built)
    summary = stats.summary()
    assert summary["statuses"] == {"exception": 1, "ok": 60, "step_limit": 1}
    assert sum(p["n"] for p in summary["frames"].values()) == 62
    assert summary["events"]["call"] > 60 and summary["events"]["exception"] == 2
    assert summary["value_chars"]["max"] >= 1


def test_stats_command_prints_and_plots(built, tmp_path):
    png = tmp_path / "stats.png"
    result = runner.invoke(app, ["dataset", "stats", str(built), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert "frames (train)" in result.stdout and "statuses: exception 1, ok 60, step_limit 1" in result.stdout
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    as_json = runner.invoke(app, ["dataset", "stats", str(built), "--json"])
    assert json.loads(as_json.stdout)["statuses"]["ok"] == 60


def test_stats_of_a_folder_that_is_no_dataset(tmp_path):
    with pytest.raises(DatasetError, match="no manifest.json"):
        compute_stats(tmp_path)
    result = runner.invoke(app, ["dataset", "stats", str(tmp_path)])
    assert result.exit_code == 2 and "no manifest.json" in result.output


def test_export_hf_loads_in_pyarrow_and_datasets(built, tmp_path):
    import datasets
    import pyarrow.parquet as pq

    written = export_dataset(built, tmp_path / "hf")
    assert set(written) == {"train", "validation", "test"}
    total = 0
    for split, path in written.items():
        table = pq.read_table(path)
        total += table.num_rows
        assert table.column_names[0] == "text"
    assert total == 61  # the step-limited trace is counted, not exported
    loaded = datasets.load_dataset("parquet", data_files={s: str(p) for s, p in written.items()})
    row = loaded["train"][0]
    parsed = parse_trace(row["text"])
    assert parsed.ok and parsed.trace.complete
    assert len(row["events"]) == row["n_frames"] == len(parsed.trace.frames)
    assert row["events"][0] == "call" and row["depths"][0] == 0
    assert json.loads(row["locals_json"][0]) == {}


def test_export_command(built, tmp_path):
    result = runner.invoke(app, ["dataset", "export", str(built), "--out", str(tmp_path / "x"), "--format", "hf"])
    assert result.exit_code == 0 and "train:" in result.stdout
    bad = runner.invoke(app, ["dataset", "export", str(built), "--out", str(tmp_path / "y"), "--format", "csv"])
    assert bad.exit_code == 2 and "unknown export format" in bad.output
