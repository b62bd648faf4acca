"""scripts/train-gpu end to end on a CPU, with the smoke preset and a one-minute budget: the
same steps the GPU command runs, and everything back in pieces of at most 16 MB."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from patience import run_watched

ROOT = Path(__file__).resolve().parents[2]


def _installed_from() -> str | None:
    """Where pip's record says the installed codewm comes from (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        return distribution("codewm").read_text("direct_url.json")
    except PackageNotFoundError:
        return None


def test_train_gpu_runs_on_a_budget_and_archives_everything_in_small_pieces(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), PRESET="smoke", WORK=str(tmp_path / "work"))
    # the checkout under test is what Python imports, so the script must leave the installation alone
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["PIP_REQUIRE_VIRTUALENV"] = "1"  # outside a virtualenv, a pip install by the script fails the run
    installed = _installed_from()
    done = run_watched(["bash", str(ROOT / "scripts" / "train-gpu"), "1"], cwd=ROOT, env=env)  # guarded by its progress
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _installed_from() == installed
    pieces = sorted(out.glob("train-gpu.tar.gz.part-*"))
    assert pieces and all(p.stat().st_size <= 16 * 1024 * 1024 for p in pieces)
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in pieces]  # nothing else to fetch
    archive = tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in pieces)), mode="r:gz")
    names = set(archive.getnames())
    for name in ("model/codewm.json", "model/model.safetensors", "stable/model.safetensors", "metrics.jsonl", "loss.png", "run.json", "train.log", "bench-train.txt"):
        assert f"train-gpu/{name}" in names, name
    provenance = json.load(archive.extractfile("train-gpu/model/codewm.json"))
    assert provenance["dtype"] == "bfloat16" and provenance["schedule"] == "wsd" and provenance["phase"] == "decayed"
    log = archive.extractfile("train-gpu/train.log").read().decode()
    assert "decay starts" in log and "wall-clock" in log
    bench = archive.extractfile("train-gpu/bench-train.txt").read().decode()
    assert '"mfu' in bench.splitlines()[-1] or "mfu" in bench  # tokens/s and MFU against a measured peak
    # nothing was evaluated there: no benchmark results in the archive
    assert not any("results" in name for name in names)
