"""Where a build's tracing runs: local worker processes (default) or a Ray cluster.

Both engines take the cases of one shard and return their records in the same order, so
the files a build writes do not depend on the engine. Registry: ENGINES.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Iterator, Protocol

from codewm.dataset.records import make_record
from codewm.format.cwm import DESCRIBE_STEPS, parse_trace
from codewm.trace.confirm import confirm
from codewm.trace.sandbox import Program, Sandbox, SandboxLimits
from codewm.types import RunResult


class Engine(Protocol):
    def records(self, shards: list, max_trace_tokens: int) -> Iterator[tuple[object, list[dict]]]:
        """Yield (shard, records) for every shard, in the order given."""
        ...

    def close(self) -> None: ...


def _programs(cases) -> list[Program]:
    return [Program.function(planned.case.source, planned.case.call, compiled=planned.compiled) for planned in cases]


def _batches(cases, batch_size: int) -> list[tuple[list[Program], bool]]:
    """Consecutive batchable cases share a sandbox process, up to `batch_size`; every
    other case gets a process of its own. Each batch comes with whether its programs are
    trusted: batchable ones are (codewm's own generator, or a source the config marks
    `batch = true`: batching already trusts them not to tamper with codewm)."""
    batches: list[tuple[list[Program], bool]] = []
    open_batch: list[Program] | None = None
    for planned, program in zip(cases, _programs(cases)):
        if planned.batchable and batch_size > 1:
            if open_batch is None or len(open_batch) >= batch_size:
                open_batch = []
                batches.append((open_batch, True))
            open_batch.append(program)
        else:
            open_batch = None
            batches.append(([program], bool(planned.batchable)))
    return batches


def trace_batch(sandbox: Sandbox, batch: list[Program], trusted: bool = False) -> list[RunResult]:
    """Trace one batch, described for records, and (unless its programs are trusted)
    confirm each finished run by an untraced, sealed re-run (`codewm.trace.confirm`): a
    record is only as good as its ground truth, and a program can forge what its own process
    reports (docs/tracer.md, "Trust boundary")."""
    results = sandbox.run_batch(batch, DESCRIBE_STEPS)
    if trusted:
        return results
    return confirm(sandbox, batch, results, [_text_return(result) for result in results])


def _text_return(result: RunResult) -> str | None:
    """What the described trace says the entry point returned."""
    if result.status != "ok" or not isinstance(result.formatted, dict) or not isinstance(result.formatted.get("text"), str):
        return None
    return parse_trace(result.formatted["text"]).trace.output


class LocalEngine:
    """A pool of warm sandbox workers on the machine that runs the build."""

    def __init__(self, limits: SandboxLimits, workers: int = 2, on_result=None, batch_size: int = 256) -> None:
        self.sandbox = Sandbox(limits=limits, workers=workers)
        self.on_result = on_result  # called once per traced case (progress)
        self.batch_size = batch_size

    @property
    def isolation(self) -> str:
        return self.sandbox.isolation

    def records(self, shards, max_trace_tokens, lookahead: int = 3):
        """Shards are traced `lookahead` at a time: while the workers trace the ones in
        flight, this thread reads the next shard from the plan and writes finished ones."""
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        window: deque = deque()

        def finish(shard, futures):
            records = []
            for planned, result in zip(shard.cases, (r for future in futures for r in future.result())):
                records.append(make_record(planned, result, max_trace_tokens))
                if self.on_result:
                    self.on_result(result.status)
            return shard, records

        with ThreadPoolExecutor(max_workers=self.sandbox.size) as pool:
            for shard in shards:
                futures = [pool.submit(trace_batch, self.sandbox, batch, trusted) for batch, trusted in _batches(shard.cases, self.batch_size)]
                window.append((shard, futures))
                while len(window) > lookahead or (window and all(f.done() for f in window[0][1])):
                    yield finish(*window.popleft())
            while window:
                yield finish(*window.popleft())

    def close(self) -> None:
        self.sandbox.close()


_RAY_SANDBOX: Sandbox | None = None  # one warm sandbox per Ray worker process


def _ray_trace_chunk(cases, limits_data: dict, max_trace_tokens: int, batch_size: int) -> list[dict]:
    global _RAY_SANDBOX
    if _RAY_SANDBOX is None:
        _RAY_SANDBOX = Sandbox(limits=SandboxLimits(**limits_data), workers=1)
    results = [result for batch, trusted in _batches(cases, batch_size) for result in trace_batch(_RAY_SANDBOX, batch, trusted)]
    return [make_record(planned, result, max_trace_tokens) for planned, result in zip(cases, results)]


class RayEngine:
    """Ray tasks of `chunk_size` cases each; every Ray worker keeps one warm sandbox.

    `address=None` starts a local Ray instance with `workers` CPUs (what the tests use);
    `address="auto"` or `"ray://host:10001"` joins a cluster.
    """

    def __init__(self, limits: SandboxLimits, workers: int = 2, address: str | None = None, chunk_size: int = 64, on_result=None, batch_size: int = 256) -> None:
        import ray

        if not ray.is_initialized():
            kwargs = {"address": address} if address else {"num_cpus": workers}
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
            self._started_ray = True
        else:
            self._started_ray = False
        self.ray = ray
        self.limits = asdict(limits)
        self.chunk_size = chunk_size
        self.batch_size = batch_size
        self.on_result = on_result
        self._remote = ray.remote(num_cpus=1)(_ray_trace_chunk)
        self.isolation = "ray"

    def records(self, shards, max_trace_tokens):
        # Submit everything at once, collect in order: Ray schedules across the cluster.
        pending = []
        for shard in shards:
            chunks = [shard.cases[i : i + self.chunk_size] for i in range(0, len(shard.cases), self.chunk_size)]
            pending.append((shard, [self._remote.remote(chunk, self.limits, max_trace_tokens, self.batch_size) for chunk in chunks]))
        for shard, refs in pending:
            records = []
            for ref in refs:
                chunk_records = self.ray.get(ref)
                records.extend(chunk_records)
                if self.on_result:
                    for record in chunk_records:
                        self.on_result(record["status"])
            yield shard, records

    def close(self) -> None:
        if self._started_ray:
            self.ray.shutdown()


ENGINES = ("local", "ray")


def make_engine(name: str, limits: SandboxLimits, workers: int, address: str | None = None, on_result=None, batch_size: int = 256):
    if name == "local":
        return LocalEngine(limits, workers, on_result=on_result, batch_size=batch_size)
    if name == "ray":
        return RayEngine(limits, workers, address=address, on_result=on_result, batch_size=batch_size)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
