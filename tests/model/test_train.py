"""`codewm train`: the smoke preset end to end, resuming, fine-tuning, multi-token heads,
the gpu preset as far as a CPU goes, and the errors a user can run into."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from patience import patience, run_watched

from codewm.model.presets import PRESETS, PresetError, get_preset
from codewm.model.train import STATE_FILE, TrainError, TrainOptions, train

PROGRAMS = [
    ("def f(x):\n    y = x * 2\n    return y + 1\n", "f(20)"),
    ("def g(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n", "g(3)"),
]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_watched([sys.executable, "-m", "codewm.cli", *args])


def _weights(checkpoint: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(checkpoint / "model.safetensors"))


# -- the smoke preset -------------------------------------------------------------------------
def test_smoke_run_writes_a_checkpoint_with_provenance_metrics_and_a_loss_curve(smoke_run):
    checkpoint = smoke_run / "checkpoint"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "codewm.json", STATE_FILE):
        assert (checkpoint / name).is_file(), name
    provenance = json.loads((checkpoint / "codewm.json").read_text())
    assert provenance["preset"] == "smoke" and provenance["step"] == provenance["steps"] == 120
    assert provenance["made_by"] == "codewm train" and provenance["target"] == "trace"
    assert 1e5 < provenance["parameters"] < 1e6  # "a few hundred thousand parameters"
    assert provenance["data"]["config_sha"]
    history = [json.loads(line) for line in (smoke_run / "metrics.jsonl").read_text().splitlines()]
    validations = [r["val_loss"] for r in history if "val_loss" in r]
    assert len(validations) == 3  # every 40 steps
    assert validations[-1] < validations[0] < 8  # it learns
    train_losses = [r["loss"] for r in history if "loss" in r]
    assert train_losses[-1] < train_losses[0] / 2
    assert (smoke_run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = json.loads((smoke_run / "run.json").read_text())
    assert run["step"] == 120 and run["packing"]["rows"] >= 480


def test_smoke_checkpoint_loads_through_every_predictor(smoke_run, tmp_path):
    """builtin:DIR, hf:DIR and openai: (served by `codewm serve`) predict the same traces;
    transformers' own AutoModelForCausalLM reads the checkpoint as it is."""
    import openai
    from transformers import AutoModelForCausalLM

    from codewm.predict.decode import DecodeLimits, predict_traces
    from codewm.predict.registry import load_predictor
    from codewm.types import build_context

    checkpoint = smoke_run / "checkpoint"
    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    assert model.config.model_type == "llama"
    contexts = [build_context(source, call) for source, call in PROGRAMS]
    limits = DecodeLimits(max_frames=30, max_frame_tokens=96, batch_size=2)
    builtin = predict_traces(load_predictor(f"builtin:{checkpoint}", device="cpu", structured=False), contexts, limits)
    hf = predict_traces(load_predictor(f"hf:{checkpoint}", device="cpu"), contexts, limits)
    assert [p.text for p in hf] == [p.text for p in builtin]
    # structure-aware decoding is the default for codewm's own checkpoints, an option for hf:
    structured = predict_traces(load_predictor(f"builtin:{checkpoint}", device="cpu"), contexts, limits)
    assert [p.text for p in predict_traces(load_predictor(f"hf:{checkpoint}", device="cpu", structured=True), contexts, limits)] == [p.text for p in structured]
    # even a 120-step model has learned how a trace starts: main's call frame
    assert all(p.trace.frames and p.trace.frames[0].event == "call" and p.trace.frames[0].source == "def main():\n" for p in builtin)

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "codewm.cli", "serve", "--model", f"builtin:{checkpoint}", "--port", str(port), "--name", "smoke", "--batch-size", "2", "--device", "cpu", "--no-access-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/v1"
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=5)
        deadline = time.monotonic() + patience(300)
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                assert time.monotonic() < deadline, "codewm serve did not start"
                time.sleep(0.3)
        served = predict_traces(load_predictor(f"openai:{url}#smoke"), contexts, limits)
        assert [p.text for p in served] == [p.text for p in builtin]
    finally:
        server.terminate()
        server.wait(timeout=patience(60))


def test_a_killed_run_resumes_and_ends_where_an_uninterrupted_run_ends(smoke_data, tmp_path):
    args = ["train", "--preset", "smoke", "--data", str(smoke_data), "--steps", "24", "--save-every", "8", "--eval-every", "8", "--device", "cpu", "--threads", "1"]
    straight = _cli(*args, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr[-2000:]

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "codewm.cli", *args, "--out", str(killed_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = killed_dir / "checkpoint" / STATE_FILE
    deadline = time.monotonic() + patience(600)
    while not state.exists():  # the first checkpoint (step 8) is on disk: kill it now
        assert process.poll() is None, process.stderr.read()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    import torch

    killed_at = torch.load(state, weights_only=False)["step"]
    assert 8 <= killed_at < 24
    resumed = _cli(*args, "--out", str(killed_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming {killed_dir} at step {killed_at} of 24" in resumed.stderr
    a, b = _weights(tmp_path / "straight" / "checkpoint"), _weights(killed_dir / "checkpoint")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name
    history = [json.loads(line) for line in (killed_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in history if "loss" in r] == list(range(10, 25, 10)) + [24]  # no step logged twice
    # run again: nothing left to do
    again = _cli(*args, "--out", str(killed_dir))
    assert again.returncode == 0 and "nothing to do" in again.stderr


def test_resuming_with_other_settings_is_refused_and_fresh_starts_over(smoke_data, tmp_path):
    args = ["train", "--preset", "smoke", "--data", str(smoke_data), "--steps", "4", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert _cli(*args).returncode == 0
    other = _cli(*args[:-2], "--lr", "0.01", "--out", str(tmp_path / "run"))
    assert other.returncode == 2
    assert "preset.lr" in other.stderr and "--fresh" in other.stderr
    fresh = _cli(*args[:-2], "--lr", "0.01", "--fresh", "--out", str(tmp_path / "run"))
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "checkpoint" / "codewm.json").read_text())["settings"]["lr"] == 0.01


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "huge"], "unknown preset 'huge'; presets: smoke, cpu, gpu"),
        (["--steps", "-3"], "steps must be a positive integer"),
        (["--target", "answers"], "target must be one of trace, direct"),
        (["--lora", "4"], "--lora adapts a pretrained model: give --init hf:PATH too"),
        (["--init", "hf:/no/such/model"], "/no/such/model is not a directory"),
        (["--init", "openai:x"], "--init takes hf:PATH"),
        (["--device", "tpu"], "--device must be cpu or cuda"),
        (["--tokenizer", "/no/such/checkpoint"], "--tokenizer /no/such/checkpoint: /no/such/checkpoint/tokenizer.json: no such file"),
    ],
)
def test_bad_options_get_clear_errors(smoke_data, tmp_path, args, message):
    done = _cli("train", "--data", str(smoke_data), "--out", str(tmp_path / "run"), *args)
    assert done.returncode == 2
    assert message in done.stderr.replace("\n", " ")


def test_a_dataset_without_a_validation_split_is_named(smoke_data, tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(smoke_data, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["shards"] = [s for s in manifest["shards"] if not s["name"].startswith("validation/")]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="no 'validation' shards"):
        train(get_preset("smoke", steps=1), tmp_path / "run", TrainOptions(data=str(copy), device="cpu"), log=None)


# -- options ----------------------------------------------------------------------------------
def test_direct_target_trains_on_the_entry_points_frames_only(smoke_data, tmp_path):
    result = train(get_preset("smoke", steps=6, eval_every=6), tmp_path / "direct", TrainOptions(data=str(smoke_data), target="direct", device="cpu"), log=None)
    provenance = json.loads((result.checkpoint / "codewm.json").read_text())
    assert provenance["target"] == "direct"
    run = json.loads((tmp_path / "direct" / "run.json").read_text())
    # direct texts are short: many more of them per row than traces
    assert run["packing"]["sequences"] / run["packing"]["rows"] > 4


def test_a_direct_model_can_share_the_trace_models_tokenizer(smoke_run, smoke_data, tmp_path):
    """--tokenizer: the new model writes with another run's tokenizer (so the two runs' token
    counts are in the same units, as the trace-or-direct ladder needs), its provenance says
    whose, resuming needs the same one, and --init does not go with it."""
    from codewm.evaluate.ladder import checkpoint_info, compute_warnings
    from codewm.model.tokenizer import tokenizer_fingerprint

    trace_checkpoint = smoke_run / "checkpoint"
    options = TrainOptions(data=str(smoke_data), target="direct", device="cpu", tokenizer=str(trace_checkpoint))
    result = train(get_preset("smoke", steps=4, eval_every=4), tmp_path / "direct", options, log=None)
    assert tokenizer_fingerprint(result.checkpoint) == tokenizer_fingerprint(trace_checkpoint)
    provenance = json.loads((result.checkpoint / "codewm.json").read_text())
    assert provenance["tokenizer_from"] == {"path": str(trace_checkpoint), "fingerprint": tokenizer_fingerprint(trace_checkpoint)}
    assert not any("tokenizers" in w for w in compute_warnings(checkpoint_info(f"builtin:{trace_checkpoint}"), checkpoint_info(f"builtin:{result.checkpoint}")))

    own = train(get_preset("smoke", steps=2, eval_every=2), tmp_path / "own", TrainOptions(data=str(smoke_data), target="direct", device="cpu"), log=None)
    assert tokenizer_fingerprint(own.checkpoint) != tokenizer_fingerprint(trace_checkpoint)
    warnings = compute_warnings(checkpoint_info(f"builtin:{trace_checkpoint}"), checkpoint_info(f"builtin:{own.checkpoint}"))
    assert any("different tokenizers" in w for w in warnings)

    with pytest.raises(TrainError, match="tokenizer differ"):
        train(get_preset("smoke", steps=6, eval_every=6), tmp_path / "direct", TrainOptions(data=str(smoke_data), target="direct", device="cpu"), log=None)
    with pytest.raises(TrainError, match="--init brings its own"):
        train(get_preset("smoke", steps=2), tmp_path / "x", TrainOptions(data=str(smoke_data), device="cpu", tokenizer=str(trace_checkpoint), init="smollm2"), log=None)


def test_tokenizer_fingerprints_ignore_formatting_and_see_the_vocabulary(smoke_run, tmp_path):
    from codewm.model.tokenizer import tokenizer_fingerprint

    saved = json.loads((smoke_run / "checkpoint" / "tokenizer.json").read_text())
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "tokenizer.json").write_text(json.dumps(saved, indent=None, sort_keys=True))
    assert tokenizer_fingerprint(tmp_path / "a") == tokenizer_fingerprint(smoke_run / "checkpoint")
    vocab = saved["model"]["vocab"]
    first, second = sorted(vocab, key=vocab.get)[300:302]
    vocab[first], vocab[second] = vocab[second], vocab[first]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "tokenizer.json").write_text(json.dumps(saved))
    assert tokenizer_fingerprint(tmp_path / "b") != tokenizer_fingerprint(smoke_run / "checkpoint")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "tokenizer.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a tokenizer file"):
        tokenizer_fingerprint(tmp_path / "c")


def test_multi_token_heads_train_save_and_measure(smoke_data, tmp_path):
    from transformers import AutoModelForCausalLM

    from codewm.model.data import row_stream
    from codewm.model.mtp import HEADS_FILE, load_heads, speculative_accept_rate

    result = train(get_preset("smoke", steps=8, eval_every=8, log_every=4), tmp_path / "mtp", TrainOptions(data=str(smoke_data), mtp=2, device="cpu"), log=None)
    assert (result.checkpoint / HEADS_FILE).is_file()
    logged = [r for r in result.history if "loss" in r]
    assert {"loss_ahead_2", "loss_ahead_3"} <= set(logged[-1])
    # the model stays a plain Llama; the heads load next to it
    model = AutoModelForCausalLM.from_pretrained(result.checkpoint)
    heads = load_heads(result.checkpoint, model.config.hidden_size)
    assert heads is not None and heads.extra_heads == 2
    from transformers import AutoTokenizer

    import torch

    tokenizer = AutoTokenizer.from_pretrained(result.checkpoint)
    row = next(row_stream(smoke_data, "validation", tokenizer, 1024, epochs=1))
    rate = speculative_accept_rate(model, heads, torch.tensor([row.input_ids]), torch.tensor([row.labels]))
    assert 0.0 <= rate <= 1.0
    # self-speculative decoding writes what plain greedy writes, in no more passes
    from codewm.format.cwm import END, format_prompt
    from codewm.model.mtp import greedy_generate
    from codewm.types import build_context

    stop = {tokenizer.convert_tokens_to_ids(END)}
    for source, call in PROGRAMS:
        prompt = tokenizer(format_prompt(build_context(source, call)), add_special_tokens=False)["input_ids"]
        plain, plain_passes = greedy_generate(model, prompt, 60, stop)
        drafted, passes = greedy_generate(model, prompt, 60, stop, heads)
        assert drafted == plain and plain_passes == len(plain) and passes <= len(plain)
        assert plain == model.generate(torch.tensor([prompt]), max_new_tokens=60, do_sample=False, eos_token_id=list(stop), pad_token_id=tokenizer.pad_token_id)[0, len(prompt):].tolist()
    # heads that draft badly: every rejected draft is dropped from the KV cache, and the text is still plain greedy's
    torch.manual_seed(0)
    for parameter in heads.parameters():
        torch.nn.init.normal_(parameter, std=1.0)
    prompt = tokenizer(format_prompt(build_context(*PROGRAMS[0])), add_special_tokens=False)["input_ids"]
    plain, _ = greedy_generate(model, prompt, 60, stop)
    drafted, passes = greedy_generate(model, prompt, 60, stop, heads)
    assert drafted == plain and passes > len(plain) // 2 + 1  # some drafts were rejected
    # a longer run resumes from it, heads included (a run without the heads is refused)
    with pytest.raises(TrainError, match="mtp"):
        train(get_preset("smoke", steps=8, eval_every=8), tmp_path / "mtp", TrainOptions(data=str(smoke_data), device="cpu"), log=None)


def _tiny_pretrained_model(directory: Path) -> Path:
    """A tiny randomly initialized Llama with a byte-level BPE tokenizer that knows nothing of
    the CWM format, saved as a Hugging Face model directory (a stand-in for a code model)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator([source for source, _ in PROGRAMS] * 10, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, bos_token_id=0, eos_token_id=1)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("lora", [0, 4])
def test_fine_tuning_a_pretrained_model_with_and_without_lora(smoke_data, tmp_path, lora):
    from safetensors.torch import load_file

    from codewm.format.cwm import SPECIAL_TOKENS
    from codewm.predict.decode import DecodeLimits, predict_traces
    from codewm.predict.registry import load_predictor
    from codewm.types import build_context

    base = _tiny_pretrained_model(tmp_path / "base")
    result = train(get_preset("smoke", steps=6, eval_every=6, log_every=2), tmp_path / "run", TrainOptions(data=str(smoke_data), init=f"hf:{base}", lora=lora, device="cpu"), log=None)
    provenance = json.loads((result.checkpoint / "codewm.json").read_text())
    assert provenance["init"] == f"hf:{base}" and provenance["lora"] == lora
    before, after = load_file(str(base / "model.safetensors")), _weights(result.checkpoint)
    assert set(after) <= set(before) | {"lm_head.weight"}  # a plain model: adapters merged
    # the CWM tokens were added, each one token, and the embeddings grew to hold them
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(result.checkpoint)
    for token in SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1, token
    assert after["model.embed_tokens.weight"].shape[0] == len(tokenizer) > before["model.embed_tokens.weight"].shape[0]
    attention = "model.layers.0.self_attn.q_proj.weight"
    assert not (after[attention] == before[attention]).all()  # trained (merged LoRA or full)
    norm = "model.layers.0.input_layernorm.weight"
    if lora:
        assert (after[norm] == before[norm]).all()  # LoRA leaves everything else as it was
        assert (result.checkpoint / "adapter" / "adapter_model.safetensors").is_file()
    else:
        assert not (after[norm] == before[norm]).all()
    # and the result is a world model every predictor loads
    (trace,) = predict_traces(load_predictor(f"builtin:{result.checkpoint}", device="cpu"), [build_context(*PROGRAMS[0])], DecodeLimits(max_frames=3, max_frame_tokens=16))
    assert trace.stop in ("complete", "end", "unparseable", "max_frames", "max_tokens", "frame_too_long")
    # resuming a LoRA run restores its adapters
    more = train(get_preset("smoke", steps=8, eval_every=6, log_every=2), tmp_path / "run", TrainOptions(data=str(smoke_data), init=f"hf:{base}", lora=lora, device="cpu"), log=None)
    assert more.resumed_from == 6 and more.steps == 8


def test_the_gpu_preset_as_far_as_a_cpu_goes(smoke_data, tmp_path):
    """The gpu preset's model (its size, its tokenizer, one optimizer step, a checkpoint)
    on a CPU, with small rows; its schedule and data are checked without running them."""
    preset = get_preset("gpu", steps=1, batch_size=2, micro_batch=1, seq_len=512, eval_rows=1)
    assert preset.shape.max_position_embeddings == PRESETS["gpu"].shape.max_position_embeddings > 512  # rows were shortened, the model was not
    result = train(preset, tmp_path / "gpu", TrainOptions(data=str(smoke_data), device="cpu"), log=None)
    provenance = json.loads((result.checkpoint / "codewm.json").read_text())
    assert 20e6 < provenance["parameters"] < 24.5e6  # fits the 48 MB budget in bf16
    full = PRESETS["gpu"]
    assert full.batch_size % full.micro_batch == 0
    assert full.seq_len * full.batch_size * full.steps > 100e6  # a real run: >100M tokens
    assert sum(source["count"] for source in full.data["sources"]) >= 100000  # made on the GPU machine's CPUs first
    assert all(source.get("seed", full.data["seed"]) != 90001 for source in full.data["sources"])


def test_presets_reject_unknown_overrides():
    with pytest.raises(PresetError, match="cannot override"):
        get_preset("smoke", vocab_size=10)
    with pytest.raises(PresetError, match="not a multiple"):
        get_preset("smoke", batch_size=6, micro_batch=4)


def test_multi_process_training_with_torchrun(smoke_data, tmp_path):
    """Two processes (gloo on CPU; the same code runs NCCL on GPUs) share each step's rows
    and write one checkpoint."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = run_watched(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "codewm.cli", "train", "--preset", "smoke", "--data", str(smoke_data), "--steps", "4", "--eval-every", "4", "--device", "cpu", "--out", str(tmp_path / "ddp")],
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es)" in done.stderr.replace("\n", " ")
    run = json.loads((tmp_path / "ddp" / "run.json").read_text())
    assert run["processes"] == 2 and run["step"] == 4


def test_export_writes_the_model_only_in_small_files(smoke_run, tmp_path):
    """What ships as `builtin`: no optimizer state, weights split into files under a size
    limit, optionally converted to bf16, and still loaded by every loader."""
    import torch
    from transformers import AutoModelForCausalLM

    from codewm.model.train import export_checkpoint
    from codewm.predict.registry import load_predictor

    exported = export_checkpoint(smoke_run / "checkpoint", tmp_path / "builtin", dtype="bfloat16", max_shard_size="300KB")
    names = sorted(p.name for p in exported.iterdir())
    assert STATE_FILE not in names
    shards = [p for p in exported.iterdir() if p.suffix == ".safetensors"]
    assert len(shards) >= 2 and all(p.stat().st_size <= 300_000 for p in shards)
    provenance = json.loads((exported / "codewm.json").read_text())
    assert provenance["dtype"] == "bfloat16" and provenance["preset"] == "smoke"
    model = AutoModelForCausalLM.from_pretrained(exported)
    assert next(model.parameters()).dtype == torch.bfloat16
    original = AutoModelForCausalLM.from_pretrained(smoke_run / "checkpoint")
    for (name, a), (_, b) in zip(original.state_dict().items(), model.state_dict().items()):
        assert torch.allclose(a, b.float(), rtol=1e-2, atol=1e-2), name
    load_predictor(f"builtin:{exported}", device="cpu")
