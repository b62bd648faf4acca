"""The dataset builder: shards, splits, deduplication, limits, manifest, resumability, engines."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from patience import patience

from codewm.dataset.build import build_dataset
from codewm.dataset.config import ConfigError, config_from_dict, load_config
from codewm.dataset.read import read_jsonl_gz

LIMITS = {"wall_seconds": 10.0, "cpu_seconds": 10.0, "max_steps": 400}


def _calls_file(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _config(tmp_path: Path, sources: list[dict], **extra) -> Path:
    lines = [
        'name = "t"',
        'output = "out"',
        f"shard_size = {extra.pop('shard_size', 7)}",
        f"max_trace_tokens = {extra.pop('max_trace_tokens', 100000)}",
        "[limits]",
        *(f"{k} = {v}" for k, v in LIMITS.items()),
    ]
    for source in sources:
        lines.append("[[sources]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in source.items()]
    path = tmp_path / "build.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _tree(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


MIXED_ROWS = [
    {"id": "a", "code": "def f(x):\n    return x + 1\n", "call": "f(1)"},
    {"id": "a-again", "code": "def f(x):\n    # same program, other formatting\n    return x+1\n", "call": "f( 1 )"},
    {"id": "b", "code": "def f(x):\n    return x + 1\n", "call": "f(2)"},
    {"id": "loop", "code": "def g():\n    while True:\n        pass\n", "call": "g()"},
    {"id": "raise", "code": "def h():\n    raise ValueError('x')\n", "call": "h()"},
    {"id": "syntax", "code": "def k(:\n", "call": "k()"},
]


def test_build_writes_shards_manifest_and_counts(tmp_path):
    rows = _calls_file(tmp_path / "rows.jsonl", MIXED_ROWS)
    config = load_config(_config(tmp_path, [{"kind": "jsonl", "path": str(rows)}, {"kind": "synthetic", "count": 30, "seed": 3}]))
    summary = build_dataset(config, workers=2, progress=False)
    out = config.output
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["cases"] == 36 and counts["duplicates_removed"] == 1 and counts["records"] == 35
    assert manifest["source_mix"] == {"jsonl": 5, "synthetic": 30}
    assert manifest["statuses"]["step_limit"] == 1 and manifest["statuses"]["syntax_error"] == 1
    assert manifest["statuses"]["exception"] == 1
    # limits and failures are counted but kept out of the training text
    assert counts["excluded"] == {"status:step_limit": 1, "status:syntax_error": 1}
    assert counts["in_training"] == 33
    assert manifest["codewm_version"] and len(manifest["config_sha256"]) == 64
    records = [r for shard in manifest["shards"] for r in read_jsonl_gz(out / f"{shard['name']}.jsonl.gz")]
    assert len(records) == 35
    loop = next(r for r in records if r["id"] == "loop")
    assert loop["text"] is None and loop["excluded"] == "status:step_limit" and loop["n_frames"] == 400
    ok = next(r for r in records if r["id"] == "a")
    assert ok["text"].startswith("<|begin_of_text|><|trace_context_start|>") and ok["text"].endswith("<|end_of_text|>")
    # every file the manifest lists exists with the recorded hash; parquet holds the same rows
    import pyarrow.parquet as pq

    for shard in manifest["shards"]:
        for name, digest in shard["files"].items():
            assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
        table = pq.read_table(out / f"{shard['name']}.parquet")
        assert table.num_rows == shard["records"]
    assert summary.shards_built == len(manifest["shards"]) and summary.shards_reused == 0


def test_no_program_is_in_two_splits(tmp_path):
    rows = [{"id": f"p{i}#{j}", "code": f"def f(x):\n    return x * {i}\n", "call": f"f({j})"} for i in range(40) for j in range(3)]
    config = load_config(_config(tmp_path, [{"kind": "jsonl", "path": str(_calls_file(tmp_path / "r.jsonl", rows))}], shard_size=50))
    build_dataset(config, workers=2, progress=False)
    manifest = json.loads((config.output / "manifest.json").read_text())
    split_of: dict[str, set] = {}
    for shard in manifest["shards"]:
        for record in read_jsonl_gz(config.output / f"{shard['name']}.jsonl.gz"):
            split_of.setdefault(record["program_sha"], set()).add(record["split"])
            assert shard["name"].startswith(record["split"] + "/")
    assert len(split_of) == 40
    assert all(len(splits) == 1 for splits in split_of.values())
    assert {s for splits in split_of.values() for s in splits} == {"train", "validation", "test"}


def test_too_long_traces_are_counted_not_trained_on(tmp_path):
    rows = [{"id": "long", "code": "def f(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n", "call": "f(50)"},
            {"id": "short", "code": "def f(n):\n    return n\n", "call": "f(1)"}]
    config = load_config(_config(tmp_path, [{"kind": "jsonl", "path": str(_calls_file(tmp_path / "r.jsonl", rows))}], max_trace_tokens=300))
    build_dataset(config, workers=1, progress=False)
    manifest = json.loads((config.output / "manifest.json").read_text())
    assert manifest["counts"]["excluded"] == {"too_long": 1} and manifest["counts"]["in_training"] == 1


def test_bad_configs_get_clear_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 3\n")
    with pytest.raises(ConfigError, match="bad.toml: 'name' must be str"):
        load_config(bad)
    bad.write_text("nme = 'x'\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(bad)
    bad.write_text("[[sources]]\nkind = 'synthetic'\n[splits]\ntrain = 0.5\n")
    with pytest.raises(ConfigError, match="add up to 1"):
        load_config(bad)
    bad.write_text("[limits]\nwall_secs = 3\n[[sources]]\nkind = 'synthetic'\n")
    with pytest.raises(ConfigError, match="unknown limit"):
        load_config(bad)
    bad.write_text("this is not toml = = =\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    # sources are checked when the config is read, before a build writes anything
    # (tests/dataset/test_config_validation.py has the rest)
    with pytest.raises(ConfigError, match="sources\\[0\\] \\(nope\\): unknown program source 'nope'"):
        config_from_dict({"name": "x", "sources": [{"kind": "nope"}]}, base=tmp_path)
    with pytest.raises(ConfigError, match=r"sources\[1\]\.path: no such file or folder: .*no/such.jsonl"):
        config_from_dict({"name": "x", "sources": [{"kind": "synthetic", "count": 2}, {"kind": "jsonl", "path": "no/such.jsonl"}]}, base=tmp_path, output=tmp_path / "out2")
    # a file that goes away between reading the config and building is still named
    rows = _calls_file(tmp_path / "rows.jsonl", MIXED_ROWS)
    gone = config_from_dict({"name": "x", "sources": [{"kind": "synthetic", "count": 2}, {"kind": "jsonl", "path": str(rows)}]}, base=tmp_path, output=tmp_path / "out3")
    rows.unlink()
    from codewm.programs.base import SourceConfigError

    with pytest.raises(SourceConfigError, match=r"sources\[1\] \(jsonl\): cannot read: .*rows.jsonl"):
        build_dataset(gone, progress=False)


def test_an_output_folder_holds_one_config(tmp_path):
    config = load_config(_config(tmp_path, [{"kind": "synthetic", "count": 3, "seed": 1}]))
    build_dataset(config, workers=1, progress=False)
    other = load_config(_config(tmp_path, [{"kind": "synthetic", "count": 4, "seed": 1}]))
    with pytest.raises(ConfigError, match="holds a build of a different config"):
        build_dataset(other, workers=1, progress=False)


def test_a_second_run_reuses_every_shard(tmp_path):
    config = load_config(_config(tmp_path, [{"kind": "synthetic", "count": 20, "seed": 2}]))
    first = build_dataset(config, workers=2, progress=False)
    before = _tree(config.output)
    second = build_dataset(config, workers=2, progress=False)
    assert second.shards_built == 0 and second.shards_reused == first.shards_built
    assert _tree(config.output) == before


def _cli_build(config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "codewm.cli", "dataset", "build", str(config), "--quiet", "--workers", "2", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so that the kill takes the sandbox workers too
    )


def test_sigkill_at_random_moments_then_resume_gives_identical_bytes(tmp_path):
    from codewm.dataset.plan import PARALLEL_MIN_CASES

    # The first source is large enough to be prepared by helper processes, which a kill
    # must take down with the build; its programs each get a sandbox process of their own.
    sources = [{"kind": "synthetic", "count": PARALLEL_MIN_CASES, "seed": 11, "batch": False}, {"kind": "synthetic", "count": 300, "seed": 5, "mode": "cruxeval"}]
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    reference = load_config(_config(reference_dir, sources, shard_size=40))
    build_dataset(reference, workers=2, progress=False)
    expected = _tree(reference.output)
    assert len(expected) > 40

    killed_dir = tmp_path / "killed"
    killed_dir.mkdir()
    config = _config(killed_dir, sources, shard_size=40)
    rng = random.Random(1234)
    kills = 0
    for attempt in range(30):
        process = _cli_build(config)
        time.sleep(rng.uniform(1.0, 4.0))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
        else:
            assert process.returncode == 0, process.stderr.read().decode()
            break
        if kills >= 6:
            break
    final = _cli_build(config)
    assert final.wait(timeout=patience(1200)) == 0, final.stderr.read().decode()
    assert kills >= 3  # the test really interrupted the build
    assert _tree(killed_dir / "out") == expected


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.append((int(entry), command))
    return found


def test_killing_only_the_driver_leaves_no_process_behind(tmp_path):
    from codewm.dataset.plan import PARALLEL_MIN_CASES

    config = _config(tmp_path, [{"kind": "synthetic", "count": 4 * PARALLEL_MIN_CASES, "seed": 3}], shard_size=500)
    process = _cli_build(config)
    deadline = time.monotonic() + patience(300)
    started: list = []
    while time.monotonic() < deadline and not (any("prepare import serve" in c for _, c in started) and any("bwrap" in c for _, c in started)):
        time.sleep(0.05)
        started = _children(process.pid)
    assert any("prepare import serve" in c for _, c in started) and any("bwrap" in c for _, c in started)
    os.kill(process.pid, signal.SIGKILL)  # the driver alone, not its process group
    process.wait()
    deadline = time.monotonic() + patience(60)
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower() for pid, _ in started):
        time.sleep(0.1)
    left = [command for pid, command in started if os.path.exists(f"/proc/{pid}") and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]
    assert left == []


def test_gzip_shards_carry_no_timestamp(tmp_path):
    config = load_config(_config(tmp_path, [{"kind": "synthetic", "count": 5, "seed": 9}]))
    build_dataset(config, workers=1, progress=False)
    for path in config.output.rglob("*.jsonl.gz"):
        header = path.read_bytes()[:10]
        assert header[4:8] == b"\x00\x00\x00\x00"  # MTIME
        with gzip.open(path, "rt") as handle:
            assert all(json.loads(line)["id"] for line in handle)


def test_ray_engine_gives_the_same_bytes(tmp_path):
    import ray  # noqa: F401  (a test extra: its absence is an error, not a skip)
    sources = [{"kind": "synthetic", "count": 40, "seed": 21}]
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    local_dir.mkdir()
    ray_dir.mkdir()
    local = load_config(_config(local_dir, sources, shard_size=8))
    build_dataset(local, workers=2, progress=False)
    on_ray = load_config(_config(ray_dir, sources, shard_size=8))
    summary = build_dataset(on_ray, engine="ray", workers=2, progress=False)
    assert summary.engine == "ray"
    assert _tree(ray_dir / "out") == _tree(local_dir / "out")
