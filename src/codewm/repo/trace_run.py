"""Repository traces end to end: a project's own test suite run in its sandboxed workspace
with the calls plugin, the calls read back, the episodes traced in codewm's sandbox.

    run = trace_project(resolve_project("parse==1.22.4", cache), out_dir=Path("parse-traces"))
    run.to_dict()   # tests and outcomes, functions seen/covered, episodes kept, seconds per phase

Where each part runs:

- the suite: `python -m pytest` in a `Workspace` (a private copy of the project, no
  network, bubblewrap + seccomp, CPU time, memory and wall-clock limits), with codewm's
  report plugin and `codewm.repo.calls_plugin`, which writes the calls into the workspace's
  output folder (not the project's copy);
- the calls file: read back on the host as untrusted input (never through a link, a regular
  file only, capped: `suite.read_report`; then every line checked: `traces.read_calls`);
- the programs: made from the project's original folder, which the suite never touched;
- the episodes: every case traced in codewm's sandbox (`traces.trace_episodes`).

What lands in `out_dir` (each file written atomically): CALLS_NAME, the checked calls file
(what the `repo` program source reads, with the project's root); EPISODES_NAME, one JSON line
per kept episode (`id`, `code`, `call`, `trace` in the CWM format, `meta`); REPORT_NAME; and
SOURCE_NAME, a `[[sources]]` block for a `codewm dataset build` config. A calls file that
does not pass the checks is left as UNCHECKED_NAME, the file the error message names.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codewm.programs.base import SourceConfigError
from codewm.trace.sandbox import SandboxLimits

from codewm.repo.calls_plugin import DEFAULT_MAX_PER_FUNCTION, ENV_MAX_PER_FUNCTION, ENV_OUT, ENV_ROOT
from codewm.repo.project import Project
from codewm.repo.suite import TestReport, read_report, run_tests
from codewm.repo.traces import MAX_FILE_BYTES, CallsFileError, RepoTraceReport, build_cases, read_calls, trace_episodes
from codewm.repo.verify import write_atomically
from codewm.repo.workspace import OUT_MOUNT, PROJECT_MOUNT, Workspace

CALLS_PLUGIN = "codewm.repo.calls_plugin"
CALLS_NAME = "calls.jsonl"
UNCHECKED_NAME = "calls.unchecked.jsonl"
EPISODES_NAME = "episodes.jsonl"
REPORT_NAME = "report.json"
SOURCE_NAME = "source.toml"


class TraceRunError(RuntimeError):
    """The suite ran but left nothing usable: no calls file, or one that fails the checks.
    The message says what and where; `suite` holds how the tests ended, when they ran."""

    def __init__(self, message: str, suite: TestReport | None = None) -> None:
        super().__init__(message)
        self.suite = suite


class SuiteTimedOut(TraceRunError):
    """The suite was still running at its time limit. The plugin writes the calls when the
    session ends, so a killed suite leaves none."""


@dataclass
class ProjectTraceRun:
    """One project traced end to end: how its suite ended, what the plugin saw, the episodes."""

    project: Project
    suite: TestReport
    recorded: dict  # the calls file's summary (the plugin's own counts: untrusted, shown as is)
    traces: RepoTraceReport
    phases: dict[str, float] = field(default_factory=dict)  # seconds: suite, read, build, trace, write
    out_dir: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.project.name} {self.project.version}".strip()

    @property
    def episodes_per_second(self) -> float:
        """Episodes kept per second of the whole run (suite, reading, building, tracing)."""
        total = sum(self.phases.values())
        return len(self.traces.kept) / total if total else 0.0

    def to_dict(self) -> dict:
        traces = self.traces.to_dict()
        return {
            "project": self.project.name, "version": self.project.version, "root": str(self.project.root),
            "tests": {"run": self.suite.tests_run, **self.suite.counts, "exit_code": self.suite.exit_code},
            "functions_seen": traces["functions_seen"], "functions_covered": traces["functions_covered"],
            "calls_seen": self.recorded.get("calls_seen"), "calls_recorded": traces["calls_recorded"],
            "candidates": traces["candidates"], "episodes_kept": traces["episodes_kept"],
            "dropped": traces["dropped"], "recorded_dropped": traces["recorded_dropped"],
            "kept_by_receiver": traces["kept_by_receiver"], "profiler_errors": self.recorded.get("profiler_errors"),
            "seconds": {name: round(value, 2) for name, value in self.phases.items()},
            "episodes_per_second": round(self.episodes_per_second, 2),
            "tracing_episodes_per_second": traces["episodes_per_second"], "isolation": traces["isolation"],
            "outputs": {name: str(self.out_dir / name) for name in (CALLS_NAME, EPISODES_NAME, REPORT_NAME, SOURCE_NAME)} if self.out_dir else {},
        }


def trace_project(
    project: Project, out_dir: Path, timeout: float = 600.0, max_per_function: int = DEFAULT_MAX_PER_FUNCTION, workers: int = 2,
    keyword: str | None = None, memory_bytes: int | None = None, limits: SandboxLimits | None = None, parent_dir: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ProjectTraceRun:
    """Run `project`'s suite sandboxed with the calls plugin, trace the calls it recorded, and
    write the outputs into `out_dir` (made if missing). `timeout`: seconds the suite may run;
    `memory_bytes`: address space of each process of the suite (default: the workspace's);
    `limits`: of each traced episode (default: the miner's). Raises SuiteTimedOut,
    TraceRunError (a missing or malformed calls file), WorkspaceError (no sandbox).
    `progress(message)` hears of each phase as it starts."""
    say = progress or (lambda message: None)
    if max_per_function < 1:
        raise ValueError(f"max_per_function must be at least 1, got {max_per_function}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    phases: dict[str, float] = {}
    started = time.monotonic()
    env = {ENV_OUT: f"{OUT_MOUNT}/{CALLS_NAME}", ENV_ROOT: PROJECT_MOUNT, ENV_MAX_PER_FUNCTION: str(max_per_function)}
    say(f"running the tests of {project.name} in a sandboxed copy, with the calls plugin")
    with Workspace(project, parent_dir=parent_dir) as workspace:
        suite = run_tests(workspace, timeout=timeout, keyword=keyword, memory_bytes=memory_bytes, plugins=(CALLS_PLUGIN,), env=env)
        phases["suite"] = time.monotonic() - started
        if suite.timed_out:
            raise SuiteTimedOut(f"{project.name}: the suite was stopped at its time limit ({timeout:g} s) before it wrote the calls "
                                f"({suite.tests_run} tests had finished); give it more time (--timeout)", suite)
        started = time.monotonic()
        try:
            data = read_report(str(workspace.out_dir / CALLS_NAME), MAX_FILE_BYTES, what="the calls file")
        except FileNotFoundError:
            tail = "\n".join(suite.output.strip().splitlines()[-15:])
            raise TraceRunError(f"{project.name}: the suite wrote no calls file (pytest exit code {suite.exit_code}); its last output:\n{tail}", suite) from None
        except ValueError as exc:  # ReportError: a link, a FIFO, too large
            raise TraceRunError(f"{project.name}: {exc}", suite) from None
    # Checked from a copy in out_dir, so that an error's "file:line" can be looked at.
    unchecked = out_dir / UNCHECKED_NAME
    write_atomically(unchecked, data)
    try:
        calls = read_calls(str(unchecked))
    except CallsFileError as exc:
        raise TraceRunError(f"{project.name}: the calls file the suite left is refused: {exc}", suite) from None
    phases["read"] = time.monotonic() - started
    started = time.monotonic()
    try:
        build = build_cases(calls, str(project.root), project.name)
    except SourceConfigError as exc:  # a file it names is not the project's
        raise TraceRunError(f"{project.name}: the calls file the suite left is refused: {exc}", suite) from None
    os.replace(unchecked, out_dir / CALLS_NAME)  # checked: it names only the project's own files
    phases["build"] = time.monotonic() - started
    started = time.monotonic()
    say(f"tracing {len(build.cases)} calls of {build.functions_seen} functions in the sandbox ({workers} workers, each call twice)")
    traces = trace_episodes(build, project=project.name, workers=workers, limits=limits)
    phases["trace"] = time.monotonic() - started
    started = time.monotonic()
    run = ProjectTraceRun(project, suite, dict(calls.summary), traces, phases, out_dir)
    write_episodes(out_dir / EPISODES_NAME, traces)
    write_atomically(out_dir / SOURCE_NAME, source_snippet(project, out_dir / CALLS_NAME, workers).encode())
    phases["write"] = time.monotonic() - started
    write_atomically(out_dir / REPORT_NAME, (json.dumps(run.to_dict(), indent=1, sort_keys=True) + "\n").encode())
    return run


def write_episodes(path: Path, traces: RepoTraceReport) -> None:
    """One JSON line per kept episode: `id`, `code` (the program), `call` (an expression:
    a property's is an attribute, `Box(3, 4).perimeter`), `trace` (CWM text), `meta`."""
    lines = (json.dumps({"id": case.id, "code": case.source, "call": case.call, "trace": episode, "meta": case.meta}, ensure_ascii=False, sort_keys=True)
             for case, episode in zip(traces.kept, traces.episodes))
    write_atomically(path, "".join(line + "\n" for line in lines).encode())


def source_snippet(project: Project, calls: Path, workers: int) -> str:
    """A `[[sources]]` block that mixes this project's episodes into a `codewm dataset build`
    config (absolute paths: it works from any config's folder)."""
    label = f"{project.name} {project.version}".strip()
    return (f"# {label}: the calls its suite made, traced again by the builder\n"
            + "[[sources]]\nkind = \"repo\"\n"
            + f"path = {json.dumps(str(Path(calls).resolve()))}\nroot = {json.dumps(str(Path(project.root).resolve()))}\n"
            + f"project = {json.dumps(project.name)}\nworkers = {workers}\n")
