"""`codewm train --config run.toml` (flags win over the file; unknown keys and wrong types
are errors naming the file and the key), TensorBoard logs, and the loss curve's labels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codewm.cli import app
from codewm.model.options import TrainError, TrainResult, read_train_config

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def test_a_config_file_is_read_and_checked(tmp_path):
    good = tmp_path / "run.toml"
    good.write_text('preset = "smoke"\nsteps = 30\nbatch-size = 4\nlr = 1\nout = "runs/a"\nfresh = true\n')
    assert read_train_config(good) == {"preset": "smoke", "steps": 30, "batch_size": 4, "lr": 1.0, "out": Path("runs/a"), "fresh": True}
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("steps = 3\nlearning_rate = 0.1\n")
    with pytest.raises(TrainError, match=rf"{unknown}: unknown key 'learning_rate' \(known: batch_size, data, "):
        read_train_config(unknown)
    typed = tmp_path / "typed.toml"
    typed.write_text('steps = "ten"\n')
    with pytest.raises(TrainError, match=rf"{typed}: steps must be a whole number, got 'ten'"):
        read_train_config(typed)
    flag = tmp_path / "flag.toml"
    flag.write_text("fresh = 1\n")
    with pytest.raises(TrainError, match="fresh must be true or false, got 1"):
        read_train_config(flag)
    broken = tmp_path / "broken.toml"
    broken.write_text("steps = \n")
    with pytest.raises(TrainError, match=rf"{broken}: not valid TOML"):
        read_train_config(broken)
    with pytest.raises(TrainError, match="no such config file"):
        read_train_config(tmp_path / "missing.toml")


@pytest.fixture()
def captured(monkeypatch, tmp_path):
    """What `codewm train` asks the trainer for (the trainer itself is not run)."""
    calls = []

    def fake_train(preset, run_dir, options, log=None, console=None):
        calls.append((preset, Path(run_dir), options, log))
        return TrainResult(Path(run_dir), Path(run_dir) / "checkpoint", preset.steps, 0, 1.0, 0.0, None, 0)

    monkeypatch.setattr("codewm.model.train.train", fake_train)
    return calls


def test_flags_win_over_the_file(captured, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(f'preset = "smoke"\nsteps = 30\nbatch_size = 4\nout = "{tmp_path / "from-file"}"\ntarget = "direct"\nquiet = true\n')
    result = runner.invoke(app, ["train", "--config", str(config), "--steps", "7", "--target", "trace"])
    assert result.exit_code == 0, result.output
    [(preset, run_dir, options, log)] = captured
    assert preset.steps == 7 and preset.batch_size == 4  # the flag's steps, the file's batch size
    assert run_dir == tmp_path / "from-file" and options.target == "trace" and log is None  # quiet from the file
    assert "trained 7 steps" in result.stdout


def test_an_unknown_key_stops_before_training(captured, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("steps = 3\nwarmup = 10\n")
    result = runner.invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 2 and not captured
    assert f"error: {config}: unknown key 'warmup'" in result.stderr


class FakeWriter:
    """torch's SummaryWriter, as far as codewm uses it."""

    made: list["FakeWriter"] = []

    def __init__(self, log_dir: str) -> None:
        self.log_dir, self.scalars, self.closed = log_dir, [], False
        FakeWriter.made.append(self)

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


def test_a_run_writes_its_metrics_for_tensorboard(smoke_data, tmp_path, monkeypatch):
    from codewm.model.presets import get_preset
    from codewm.model.train import TrainOptions, train

    FakeWriter.made.clear()
    monkeypatch.setattr("codewm.model.runlog.summary_writer_class", lambda: FakeWriter)
    result = train(get_preset("smoke", steps=4, eval_every=4, log_every=2), tmp_path / "run", TrainOptions(data=str(smoke_data), device="cpu"), log=None)
    [writer] = FakeWriter.made
    assert writer.log_dir == str(tmp_path / "run" / "tensorboard") and writer.closed
    losses = [(step, value) for tag, value, step in writer.scalars if tag == "loss"]
    assert losses == [(r["step"], r["loss"]) for r in result.history if "loss" in r] and len(losses) == 2
    assert any(tag == "val_loss" and step == 4 for tag, _, step in writer.scalars)


def test_without_tensorboard_there_is_no_board(monkeypatch, tmp_path):
    from codewm.model.runlog import Board

    monkeypatch.setattr("codewm.model.runlog.summary_writer_class", lambda: None)
    assert Board.open(tmp_path) is None


def test_the_real_summary_writer_writes_event_files(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install tensorboard): the fake writer above checks the calls")
    from codewm.model.runlog import Board

    board = Board.open(tmp_path)
    board.write({"step": 1, "loss": 2.5, "tokens": 100})
    board.close()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_the_loss_curve_labels_are_plain_numbers(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from codewm.model import runlog

    seen = {}
    real_savefig = plt.Figure.savefig

    def savefig(figure, *args, **kwargs):
        figure.canvas.draw()
        axis = figure.axes[0].yaxis
        seen["labels"] = [t.get_text() for t in axis.get_majorticklabels() + axis.get_minorticklabels() if t.get_text()]
        return real_savefig(figure, *args, **kwargs)

    monkeypatch.setattr(plt.Figure, "savefig", savefig)
    history = [{"step": s, "loss": 4.4 - s * 0.4, "tokens": s * 1000} for s in range(1, 10)]
    assert runlog.draw_loss_curve(history, tmp_path / "loss.png", "t") == tmp_path / "loss.png"
    assert seen["labels"] and all("10^" not in label and "times" not in label and "$" not in label for label in seen["labels"])
    assert "4" in seen["labels"] or "1" in seen["labels"]
