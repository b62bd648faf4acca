"""Run a benchmark on a predictor: `evaluate(predictor, load_benchmark("cruxeval-style-o"))`.

Benchmarks are declarative files (`codewm/evaluate/benchmarks/*.toml`: what data, which task,
which mode); the task kinds below turn one into cases, ask the predictor, and score the
answers with the benchmark's own rules:

- `cruxeval` and `livecodebench`: an answer passes when the benchmark's assert runs cleanly in
  a fresh sandboxed process within 3 s (`codewm.evaluate.cruxeval`, `.livecodebench`). With
  `via = "trace"` the answer is the return value of the predicted trace, and the trace
  metrics against the real trace are reported too; with `via = "direct"` the predictor gets
  the benchmark's own prompt.
- `traces`: CWM's trace metrics (`codewm.evaluate.trace_metrics`) on real traces, from a
  built dataset's split (`data` = dataset directory) or a program source run in the sandbox.

Every result is a dict in the schema `codewm.evaluate.report` prints, writes and draws.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import codewm
from codewm.evaluate.cache import PredictionCache, prediction_key
from codewm.evaluate.run_name import PACKAGE_DIR, describe_data
from codewm.format.cwm import parse_trace
from codewm.predict.base import AnswerRequest, Predictor
from codewm.predict.decode import DecodeLimits, PredictedTrace, predict_traces
from codewm.types import Trace, build_context

BENCHMARK_DIR = Path(__file__).resolve().parent / "benchmarks"
KINDS = ("cruxeval", "livecodebench", "traces")
VIAS = ("trace", "direct")


class BenchmarkError(ValueError):
    """A benchmark that cannot be loaded or run as asked (names the benchmark and the field)."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    kind: str  # one of KINDS
    mode: str = "output"  # "output" or "input" (CRUXEval-I)
    via: str = "trace"  # "trace": answer through the predicted trace; "direct": the benchmark's prompt
    data: str | None = None  # a benchmark file, or a dataset directory (traces)
    split: str = "test"  # traces from a dataset: which split
    source: dict | None = None  # traces from a program source: {"kind": ..., options...}
    samples: int = 1  # generations per case (direct mode; pass@k for k <= samples)
    temperature: float = 0.0
    data_description: str = ""  # what the bundled data is (said in every result that reads it)
    data_hint: str = ""  # a benchmark without bundled data: where its data comes from
    description: str = ""
    path: str = ""  # the file it was loaded from


def benchmark_names() -> list[str]:
    return sorted(p.stem for p in BENCHMARK_DIR.glob("*.toml"))


def load_benchmark(name: str, **overrides) -> Benchmark:
    """A benchmark by name (`codewm eval list`) or by the path of a .toml file; keyword
    overrides (data=, via=, split=, samples=, temperature=) replace the file's values
    where they are not None."""
    path = Path(name)
    if path.suffix != ".toml":
        path = BENCHMARK_DIR / f"{name}.toml"
        if not path.is_file():
            raise BenchmarkError(f"unknown benchmark {name!r}; known: {', '.join(benchmark_names())}, or a path to a .toml file")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BenchmarkError(f"{path}: {exc}") from None
    known = {f for f in Benchmark.__dataclass_fields__ if f not in ("description", "path")}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise BenchmarkError(f"{path}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    description = "\n".join(line[1:].strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
    try:
        bench = Benchmark(**spec, description=description, path=str(path))
    except TypeError as exc:
        raise BenchmarkError(f"{path}: {exc}") from None
    bench = replace(bench, **{k: v for k, v in overrides.items() if v is not None})
    _check(bench)
    return bench


def _check(bench: Benchmark) -> None:
    where = f"benchmark {bench.name!r}"
    if bench.kind not in KINDS:
        raise BenchmarkError(f"{where}: kind must be one of {', '.join(KINDS)}, got {bench.kind!r}")
    if bench.via not in VIAS:
        raise BenchmarkError(f"{where}: via must be one of {', '.join(VIAS)}, got {bench.via!r}")
    if bench.mode not in ("output", "input"):
        raise BenchmarkError(f"{where}: mode must be 'output' or 'input', got {bench.mode!r}")
    if bench.mode == "input" and bench.via == "trace":
        raise BenchmarkError(f"{where}: input prediction has no trace scratchpad (a trace needs the input); use via = 'direct'")
    if bench.kind == "traces" and bench.via != "trace":
        raise BenchmarkError(f"{where}: trace benchmarks predict traces; via must be 'trace'")
    if bench.kind == "traces" and bench.data is None and not bench.source:
        raise BenchmarkError(f"{where}: a trace benchmark needs data (a dataset directory) or a [source]")
    if not isinstance(bench.samples, int) or bench.samples < 1:
        raise BenchmarkError(f"{where}: samples must be a positive int, got {bench.samples!r}")


def check_runnable(bench: Benchmark) -> None:
    """Raise unless `bench` has data to run on: the real benchmarks (CRUXEval, LiveCodeBench)
    ship none with codewm and need `data` (--data FILE)."""
    if bench.kind != "traces" and bench.data is None:
        hint = f": {bench.data_hint}" if bench.data_hint else ""
        raise BenchmarkError(f"benchmark {bench.name!r} needs its data, --data FILE{hint}")


def data_path(bench: Benchmark) -> Path:
    """The benchmark's data: an absolute path, a path relative to the working directory,
    or a path inside the codewm package (the bundled files)."""
    path = Path(bench.data or "")
    if path.is_absolute() or path.exists():
        return path
    bundled = PACKAGE_DIR / path
    if bundled.exists():
        return bundled
    raise BenchmarkError(f"benchmark {bench.name!r}: data {bench.data!r} not found (nor as {bundled})")


class Progress(Protocol):
    """What the runner reports; the CLI draws it as progress bars."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _Silent:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass
class _Case:
    id: str
    code: str
    call: str
    context: str
    output: str = ""  # the expected value's literal, where the benchmark has one
    input: str = ""  # CRUXEval's input text
    group: str = "-"  # difficulty label
    row: dict = field(default_factory=dict)
    real: Trace | None = None


def evaluate(
    predictor: Predictor,
    bench: Benchmark,
    *,
    limit: int | None = None,
    limits: DecodeLimits = DecodeLimits(),
    workers: int = 2,
    progress: Progress | None = None,
    cache: PredictionCache | None = None,
) -> dict:
    """Run `bench` on `predictor` (at most `limit` cases, in file order) and score it.

    With a `cache`, every prediction is saved as soon as it is finished, and predictions it
    already holds for the same model, case and settings are reused (a killed run goes on)."""
    from codewm.trace.sandbox import Sandbox

    progress = progress or _Silent()
    check_runnable(bench)
    if limit is not None and limit < 1:
        raise BenchmarkError(f"limit must be at least 1, got {limit}")
    started = time.perf_counter()
    with Sandbox(workers=workers) as sandbox:
        left_out: dict[str, int] = {}  # status -> programs whose real run did not finish
        data_rows: list[int] = []  # the data file's row count, where it is a file of rows
        cases = _load_cases(bench, limit, sandbox, progress, left_out, data_rows)
        if bench.kind == "traces":
            result = _run_traces(predictor, cases, limits, progress, cache)
        else:
            result = _run_execution(predictor, bench, cases, limits, sandbox, workers, progress, cache)
    result.update(
        {
            "model": getattr(predictor, "name", type(predictor).__name__),
            "bench": bench.name,
            "n": len(cases),
            "data": describe_data(bench, data_rows[0] if data_rows else None),
            "settings": {
                "kind": bench.kind,
                "mode": bench.mode,
                "via": bench.via,
                "data": bench.data,
                "split": bench.split if bench.kind == "traces" and bench.data else None,
                "source": bench.source if bench.kind == "traces" and not bench.data else None,
                "limit": limit,
                "samples": bench.samples,
                "temperature": bench.temperature,
                "max_frames": limits.max_frames,
                "max_frame_tokens": limits.max_frame_tokens,
                "max_tokens": limits.max_tokens,
                "decode_rules": limits.rules,
            },
            "seconds": round(time.perf_counter() - started, 3),
            # trace benchmarks compare with whole real traces: programs whose real run did
            # not finish (a timeout, a step limit, ...) are left out, and counted here
            "left_out": left_out,
            "reused_predictions": cache.reused if cache is not None else 0,
            "provenance": {
                "codewm_version": codewm.__version__,
                "model_fingerprint": _identity(predictor),
                "benchmark_file": bench.path,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        }
    )
    return result


# -- cases ------------------------------------------------------------------------------------
def _load_cases(bench: Benchmark, limit: int | None, sandbox, progress: Progress, left_out: dict[str, int], data_rows: list[int]) -> list[_Case]:
    if bench.kind == "cruxeval":
        from codewm.evaluate import cruxeval

        rows = cruxeval.load_rows(data_path(bench))
        data_rows.append(len(rows))
        rows = rows[:limit]
        cases = []
        for row in rows:
            call = f"f({row['input']})"
            cases.append(_Case(row["id"], row["code"], call, build_context(row["code"], call), row["output"], row["input"], row=row))
    elif bench.kind == "livecodebench":
        from codewm.evaluate import livecodebench
        from codewm.programs.files import LiveCodeBenchFile

        path = data_path(bench)
        rows = livecodebench.load_rows(path)
        data_rows.append(len(rows))
        rows = rows[:limit]
        programs = list(LiveCodeBenchFile(path, limit=len(rows)).cases())
        cases = [
            _Case(str(row.get("id", program.id)), program.source, program.call, build_context(program.source, program.call), row["output"], group=str(row.get("difficulty", "-")), row=row)
            for row, program in zip(rows, programs)
        ]
    else:
        return _trace_cases(bench, limit, sandbox, progress, left_out)
    _attach_real_traces(cases, sandbox, progress)
    return cases


def _attach_real_traces(cases: list[_Case], sandbox, progress: Progress) -> None:
    """The real trace of every case (a fresh sandboxed process each): the reference for
    trace metrics and the length axis of the report."""
    from codewm.trace.sandbox import Program

    progress.start("running the programs", len(cases))
    for case, result in zip(cases, sandbox.map([Program(c.context) for c in cases], batch_size=1)):
        case.real = result.trace
        progress.advance()


def _trace_cases(bench: Benchmark, limit: int | None, sandbox, progress: Progress, left_out: dict[str, int]) -> list[_Case]:
    if bench.data is not None:
        from codewm.dataset.records import record_trace
        from codewm.dataset.read import DatasetError, iter_records

        cases = []
        try:
            for record in iter_records(data_path(bench), split=bench.split):
                if not record.get("in_training"):  # no whole trace to compare with
                    reason = record.get("excluded") or f"status:{record.get('status')}"
                    left_out[reason] = left_out.get(reason, 0) + 1
                    continue
                real = record_trace(record)
                meta = record.get("meta") or {}
                cases.append(_Case(record["id"], record["source"], record["call"], real.context, group=_difficulty(meta), real=real))
                if limit is not None and len(cases) >= limit:
                    break
        except DatasetError as exc:
            raise BenchmarkError(f"benchmark {bench.name!r}: {exc}") from None
        if not cases:
            raise BenchmarkError(f"benchmark {bench.name!r}: {bench.data} has no whole traces in split {bench.split!r}")
        return cases
    from codewm.programs.base import SourceConfigError, make_source
    from codewm.trace.sandbox import Program

    options = dict(bench.source or {})
    kind = options.pop("kind", None)
    if kind is None:
        raise BenchmarkError(f"benchmark {bench.name!r}: [source] needs a kind")
    try:
        source = make_source(kind, **options)
    except SourceConfigError as exc:
        raise BenchmarkError(f"benchmark {bench.name!r}: {exc}") from None
    programs = []
    for case in source.cases():
        programs.append(case)
        if limit is not None and len(programs) >= limit:
            break
    progress.start("running the programs", len(programs))
    cases = []
    runs = sandbox.map([Program.function(p.source, p.call) for p in programs], batch_size=1)
    for program, result in zip(programs, runs):
        progress.advance()
        if result.status in ("ok", "exception") and result.trace.complete:
            cases.append(_Case(program.id, program.source, program.call, result.trace.context, group=_difficulty(program.meta), real=result.trace))
        else:
            left_out[f"status:{result.status}"] = left_out.get(f"status:{result.status}", 0) + 1
    return cases


def _difficulty(meta: dict) -> str:
    value = meta.get("difficulty")
    return str(value) if value is not None else "-"


# -- running ----------------------------------------------------------------------------------
def _identity(predictor: Predictor) -> str:
    return str(getattr(predictor, "fingerprint", None) or getattr(predictor, "name", type(predictor).__name__))


def _predict(predictor: Predictor, cases: list[_Case], limits: DecodeLimits, progress: Progress, cache: PredictionCache | None) -> list[PredictedTrace]:
    """The predicted trace of every case: saved ones from `cache`, the rest from the model
    (each saved to `cache` as soon as it is finished)."""
    progress.start("predicting traces", len(cases))
    identity = _identity(predictor)
    budget = (limits.max_frames, limits.max_frame_tokens, limits.max_tokens, limits.rules)
    keys = [prediction_key(identity, "trace", c.context, budget) for c in cases]
    predicted: list[PredictedTrace | None] = [None] * len(cases)
    todo = []
    for i, (case, key) in enumerate(zip(cases, keys)):
        saved = cache.get(key) if cache is not None else None
        if saved is None:
            todo.append(i)
            continue
        parsed = parse_trace(saved["text"], case.context)
        predicted[i] = PredictedTrace(case.context, saved["text"], parsed.trace, saved["stop"], saved["error"], saved["tokens"])
        progress.advance()

    def save(position: int, item: PredictedTrace) -> None:
        if cache is not None:
            cache.put(keys[todo[position]], {"text": item.text, "stop": item.stop, "error": item.error, "tokens": item.tokens})

    fresh = predict_traces(predictor, [cases[i].context for i in todo], limits, progress=progress.advance, on_finish=save)
    for i, item in zip(todo, fresh):
        predicted[i] = item
    return predicted  # type: ignore[return-value]


def _trace_rows(cases: list[_Case], predicted: list[PredictedTrace]) -> tuple[dict, dict, dict, list[dict]]:
    """Trace metrics overall, their 95 % intervals, per difficulty and per trace length, and
    per case."""
    from codewm.evaluate.trace_metrics import aggregate, by_group, confidence_intervals, length_bucket, score_trace

    scores = [score_trace(p.text, c.real) for c, p in zip(cases, predicted)]
    metrics = aggregate(scores)
    metrics.pop("n", None)
    intervals = confidence_intervals(scores)
    groups = {
        "difficulty": by_group(scores, [c.group for c in cases]),
        "length": by_group(scores, [length_bucket(len(c.real.frames)) for c in cases]),
    }
    rows = []
    for case, p, s in zip(cases, predicted, scores):
        rows.append(
            {
                "id": case.id,
                "n_frames": len(case.real.frames),
                "difficulty": case.group,
                "stop": p.stop,
                "error": p.error,
                "predicted_frames": s.n_predicted_frames,
                "first_divergence": s.first_divergence,
                "valid_format": s.valid_format,
                "action_exact_match": s.action_exact_match,
                "state_exact_match": s.state_exact_match,
                "key_match": s.key_match,
                "key_value_match": s.key_value_match,
                "valid_json": s.valid_json,
                "output_pass@1": s.output_pass_at_1,
            }
        )
    return metrics, intervals, groups, rows


def _stop_counts(predicted: list[PredictedTrace]) -> dict[str, int]:
    """How many predictions stopped for each reason (`codewm.predict.decode.STOPS`), most
    frequent first."""
    counts: dict[str, int] = {}
    for p in predicted:
        counts[p.stop] = counts.get(p.stop, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _run_traces(predictor: Predictor, cases: list[_Case], limits: DecodeLimits, progress: Progress, cache: PredictionCache | None) -> dict:
    predicted = _predict(predictor, cases, limits, progress, cache)
    metrics, intervals, groups, rows = _trace_rows(cases, predicted)
    return {"metrics": metrics, "ci": intervals, "stops": _stop_counts(predicted), "by_group": groups, "cases": rows}


def _run_execution(predictor, bench: Benchmark, cases: list[_Case], limits: DecodeLimits, sandbox, workers: int, progress: Progress, cache: PredictionCache | None) -> dict:
    from codewm.evaluate import cruxeval, livecodebench
    from codewm.evaluate.trace_metrics import length_bucket

    metrics: dict = {}
    intervals: dict = {}
    groups: dict = {}
    stops: dict | None = None
    rows: list[dict] = [{"id": c.id, "n_frames": len(c.real.frames) if c.real else 0, "difficulty": c.group} for c in cases]
    if bench.via == "trace":
        predicted = _predict(predictor, cases, limits, progress, cache)
        generations = {c.id: [p.output if p.output is not None else ""] for c, p in zip(cases, predicted)}
        raw = False
        metrics, intervals, groups, rows = _trace_rows(cases, predicted)
        stops = _stop_counts(predicted)
    else:
        answers = _answers(predictor, [_answer_request(bench, c) for c in cases], limits.batch_size, progress, cache)
        generations = {c.id: list(a) for c, a in zip(cases, answers)}
        raw = True
    progress.start("checking the answers", sum(len(g) for g in generations.values()))
    ks = tuple(k for k in (1, 5, 10) if k <= bench.samples) or (1,)
    rows_by_id = [c.row for c in cases]
    if bench.kind == "cruxeval":
        scored = cruxeval.score(rows_by_id, generations, bench.mode, ks=ks, workers=workers, sandbox=sandbox, progress=progress.advance, raw=raw)
    else:
        scored = livecodebench.score(rows_by_id, generations, workers=workers, sandbox=sandbox, progress=progress.advance, raw=raw)
    per_sample = scored.get("per_sample", {})
    for k in ks:
        if f"pass@{k}" in scored:
            metrics = {f"pass@{k}": scored[f"pass@{k}"], **metrics}
            intervals = {f"pass@{k}": _pass_at_k_interval(per_sample, k, bench.samples), **intervals}
    for row, case in zip(rows, cases):
        sample = per_sample.get(case.id, {})
        n, c = sample.get("n", 0), sample.get("c", 0)
        row["pass@1"] = (c / n) if n else 0.0
        row["answer"] = (generations[case.id][0] if generations[case.id] else "")[:200]
    groups = dict(groups)
    pass_groups: dict[str, dict[str, dict]] = {"difficulty": {}, "length": {}}
    for row, case in zip(rows, cases):
        for kind, label in (("difficulty", case.group), ("length", length_bucket(len(case.real.frames)) if case.real else "-")):
            bucket = pass_groups[kind].setdefault(label, {"n": 0, "_sum": 0.0})
            bucket["n"] += 1
            bucket["_sum"] += row["pass@1"]
    for kind, buckets in pass_groups.items():
        merged = groups.setdefault(kind, {})
        for label, bucket in buckets.items():
            entry = merged.setdefault(label, {"n": bucket["n"]})
            entry["pass@1"] = 100.0 * bucket["_sum"] / bucket["n"]
    result = {"metrics": metrics, "ci": intervals, "by_group": groups, "cases": rows}
    if stops is not None:
        result["stops"] = stops
    return result


def _pass_at_k_interval(per_sample: dict, k: int, samples: int) -> dict:
    """The 95 % interval of a pass@k: Wilson's when it is one pass/fail per case (k = 1, one
    generation each), else the bootstrap over cases of each case's pass@k."""
    from codewm.evaluate.cruxeval import sample_pass_at_k
    from codewm.evaluate.stats import mean_ci, proportion_ci

    values = [sample_pass_at_k(s["n"], s["c"], k) for s in per_sample.values()]
    if k == 1 and samples == 1 and all(v in (0.0, 1.0) for v in values):
        return proportion_ci(values)
    return mean_ci(values)


def _answers(predictor: Predictor, requests: list[AnswerRequest], batch_size: int, progress: Progress, cache: PredictionCache | None) -> list[list[str]]:
    """Each request's generations: saved ones from `cache`, the rest asked in batches and
    saved batch by batch."""
    progress.start("asking for answers", len(requests))
    identity = _identity(predictor)
    keys = [prediction_key(identity, "answer", r.mode, r.prompt, r.call, r.output, r.samples, r.temperature, r.max_tokens, list(r.stop)) for r in requests]
    answers: list[list[str] | None] = [cache.get(key) if cache is not None else None for key in keys]
    progress.advance(sum(a is not None for a in answers))
    todo = [i for i, a in enumerate(answers) if a is None]
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        for i, generated in zip(chunk, predictor.answer([requests[i] for i in chunk])):
            answers[i] = list(generated)
            if cache is not None:
                cache.put(keys[i], answers[i])
        progress.advance(len(chunk))
    return answers  # type: ignore[return-value]


def _answer_request(bench: Benchmark, case: _Case) -> AnswerRequest:
    from codewm.evaluate import cruxeval, livecodebench

    if bench.kind == "cruxeval":
        prompt = cruxeval.output_prompt(case.code, case.input) if bench.mode == "output" else cruxeval.input_prompt(case.code, case.output)
    else:
        prompt = livecodebench.prompt(case.row)
    return AnswerRequest(
        mode=bench.mode,
        prompt=prompt,
        code=case.code,
        call=case.call,
        output=case.output,
        samples=bench.samples,
        temperature=bench.temperature,
    )
