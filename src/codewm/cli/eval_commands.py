"""`codewm eval`, `eval list`, `eval score`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app, group
from codewm.cli.common import STRUCTURED_HELP, fail, key_values, print_json, progress_wanted

eval_app = group(help="Evaluate world models on execution benchmarks, scored as their authors score them.")
app.add_typer(eval_app, name="eval")


class _RichProgress:
    """The evaluation runner's stages as rich progress bars (on stderr)."""

    def __init__(self, console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bars = Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=console)
        self.task = None

    def start(self, stage: str, total: int) -> None:
        if self.task is not None:
            self.bars.update(self.task, completed=self.bars.tasks[-1].total)
        self.task = self.bars.add_task(stage, total=total)

    def advance(self, n: int = 1) -> None:
        self.bars.advance(self.task, n)


@eval_app.callback(invoke_without_command=True)
def eval_main(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="oracle | builtin | builtin:DIR | hf:PATH | openai:URL#MODEL | empty"),
    structured: Optional[bool] = typer.Option(None, "--structured/--free", help=STRUCTURED_HELP),
    bench: Optional[str] = typer.Option(None, "--bench", "-b", help="A benchmark name (`codewm eval list`) or a .toml file."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Evaluate the first N cases only."),
    data: Optional[str] = typer.Option(None, help="The benchmark's data: a file in its format, or a dataset directory (trace benchmarks)."),
    split: Optional[str] = typer.Option(None, help="Trace benchmarks on a dataset: the split (default: test)."),
    via: Optional[str] = typer.Option(None, help="trace (answer through the predicted trace) | direct (the benchmark's prompt)."),
    samples: Optional[int] = typer.Option(None, help="Generations per case in direct mode (pass@k for k <= samples)."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature in direct mode (0: greedy)."),
    source_option: list[str] = typer.Option([], "--source-option", "-s", help="KEY=VALUE: an option of a trace benchmark's program source (e.g. max_calls_per_task=1 for traces-humaneval)."),
    out: Path = typer.Option(Path("out/eval"), "--out", "-o", help="Folder for the JSON results and the PNG."),
    batch_size: int = typer.Option(16, help="Programs decoded together."),
    max_frames: int = typer.Option(2048, help="Frames per predicted trace, at most."),
    max_frame_tokens: int = typer.Option(512, help="Tokens per predicted frame, at most."),
    workers: int = typer.Option(2, help="Sandbox workers (running programs, checking answers)."),
    device: Optional[str] = typer.Option(None, help="Hugging Face backends: cpu, cuda, ... (default: cuda if available)."),
    resume: bool = typer.Option(False, "--resume", help="Reuse the predictions an earlier (killed) run of the same command saved (same benchmark, data, model and settings)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    as_json: bool = typer.Option(False, "--json", help="Print the result document (as written to OUT/NAME.json) on stdout instead of the table."),
) -> None:
    """`codewm eval --model M --bench B [--limit N]`: run a benchmark, print a table, write JSON and a PNG.

    A run's files are OUT/NAME.json, .png and .predictions.jsonl, NAME made of the benchmark,
    its data, the model, the route, the limit and a digest of all settings: runs that differ
    in anything never share a file. Every prediction is saved as soon as it is finished;
    `--resume` reuses the predictions of the same command, so a killed evaluation goes on
    where it stopped."""
    if ctx.invoked_subcommand is not None:
        return
    if model is None or bench is None:
        typer.echo(ctx.get_help())
        fail("codewm eval needs --model and --bench (or a sub-command: list, score)")
    from rich.console import Console

    from codewm.evaluate.report import draw_png, print_table, write_json
    from codewm.evaluate.run import BenchmarkError, check_runnable, evaluate, load_benchmark
    from codewm.evaluate.run_name import run_stem
    from codewm.predict.decode import DecodeLimits
    from codewm.predict.registry import ModelSpecError, backend_options, load_predictor

    try:
        benchmark = load_benchmark(bench, data=data, split=split, via=via, samples=samples, temperature=temperature)
        if source_option:
            if benchmark.source is None or data is not None:
                raise BenchmarkError(f"--source-option: benchmark {benchmark.name!r} reads no program source here (it reads {benchmark.data})")
            from dataclasses import replace as _replace

            benchmark = _replace(benchmark, source={**benchmark.source, **key_values(source_option, "--source-option")})
        check_runnable(benchmark)
        limits = DecodeLimits(max_frames=max_frames, max_frame_tokens=max_frame_tokens, batch_size=batch_size)
        predictor = load_predictor(model, **backend_options(model, device=device, batch_size=batch_size, structured=structured))
    except (BenchmarkError, ModelSpecError, ValueError, ConnectionError, OSError) as exc:
        fail(str(exc))
    from contextlib import nullcontext

    from codewm.evaluate.cache import PredictionCache

    console = Console(stderr=True)
    progress = None if quiet else _RichProgress(console)
    name = run_stem(benchmark, model, limit, limits)
    cache = PredictionCache(out / f"{name}.predictions.jsonl", resume=resume)
    try:
        with progress.bars if progress is not None else nullcontext():
            result = evaluate(predictor, benchmark, limit=limit, limits=limits, workers=workers, progress=progress, cache=cache)
    except (BenchmarkError, ValueError, OSError) as exc:
        fail(str(exc))
    except Exception as exc:  # a model server that went away, a backend that broke, ...
        fail(f"the evaluation stopped: {type(exc).__name__}: {exc}\n(the predictions finished so far are saved in {cache.path}; run again with --resume)")
    finally:
        cache.close()
        close = getattr(predictor, "close", None)
        if callable(close):
            close()
    result["run"] = name
    # The files first: a reader of stdout that goes away (`| head`) must not cost the results.
    json_path = write_json(result, out / f"{name}.json")
    png_path = draw_png(result, out / f"{name}.png")
    if as_json:
        print_json(result)
    else:
        print_table(result)
    if result["left_out"]:
        typer.echo(f"left out {sum(result['left_out'].values())} programs whose real run did not finish: {result['left_out']}", err=True)
    if resume:
        typer.echo(f"reused {result['reused_predictions']} saved predictions from {cache.path}", err=True)
    typer.echo(f"wrote {json_path} and {png_path}", err=True)


@eval_app.command("list")
def eval_list(
    as_json: bool = typer.Option(False, "--json", help="Print the benchmarks as JSON."),
) -> None:
    """The benchmarks and what each measures (the real CRUXEval and LiveCodeBench need --data)."""
    from dataclasses import asdict

    from codewm.evaluate.run import benchmark_names, load_benchmark

    benches = [load_benchmark(name) for name in benchmark_names()]
    if as_json:
        print_json([{key: value for key, value in asdict(bench).items() if key != "path"} for bench in benches])
        return
    for bench in benches:
        data = bench.data or bench.source or "required: --data FILE"
        typer.secho(f"{bench.name}  (kind={bench.kind}, mode={bench.mode}, via={bench.via}, data={data})", bold=True)
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
    scored_results: Optional[Path] = typer.Option(
        None, "--scored-results", help="Also write every generation's pass/fail here, as CRUXEval's evaluate_generations.py --scored_results_path does."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (there is none either when stderr is not a terminal)."),
) -> None:
    """Score someone else's generations with the benchmark's official rules."""
    from contextlib import nullcontext

    from rich.console import Console

    from codewm.evaluate import cruxeval, livecodebench
    from codewm.evaluate.report import write_json
    from codewm.evaluate.rows import load_generations

    if bench not in ("cruxeval", "livecodebench"):
        fail(f"--bench must be cruxeval or livecodebench, got {bench!r}")
    progress = _RichProgress(Console(stderr=True)) if progress_wanted(quiet) else None
    try:
        answers = load_generations(generations)
        with progress.bars if progress is not None else nullcontext():
            if progress is not None:
                progress.start("checking the answers", sum(len(texts) for texts in answers.values()))
            advance = progress.advance if progress is not None else None
            if bench == "cruxeval":
                result = cruxeval.score_file(rows, generations, mode, ks=tuple(k), timeout=timeout, workers=workers, raw=raw, progress=advance)
            else:
                result = livecodebench.score_file(rows, generations, timeout=timeout, workers=workers, raw=raw, progress=advance)
        if scored_results is not None:
            write_json(cruxeval.scored_results(answers, result), scored_results)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    if scored_results is not None:
        typer.echo(f"wrote {scored_results}", err=True)
    figures = {key: value for key, value in result.items() if key.startswith("pass@") or key.startswith("n_")}
    if as_json:
        print_json(figures)
    else:
        for key, value in figures.items():
            typer.echo(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")


