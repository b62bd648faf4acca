"""Repository traces, the host's side: the calls the plugin recorded become program cases,
and the cases traced in the sandbox become episodes in the CWM format.

    calls = read_calls("calls.jsonl")                       # untrusted: checked line by line
    source = RepoTraceSource(path="calls.jsonl", root="parse-1.22.4")
    report = trace_episodes(source.candidates(), project="parse")
    report.episodes[0]                                      # CWM trace text of one kept call

`codewm.repo.calls_plugin` writes the file inside the process that runs the project's tests;
nothing in it is trusted here: its size is capped, every line must have the expected shape,
every argument text must parse as literals, and every file it names must lie under the root.
docs/repo.md, "Repository traces", tells the whole story.
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from codewm.format.cwm import format_trace
from codewm.programs.base import ProgramCase, SourceConfigError
from codewm.programs.miner.source import DEFAULT_LIMITS
from codewm.repo.calls_plugin import FORMAT, VERSION
from codewm.repo.programs import ProgramError, Project
from codewm.trace.sandbox import Program, RunResult, Sandbox, SandboxError, SandboxLimits
from codewm.types import Trace

MAX_FILE_BYTES = 64 << 20
MAX_TEXT_CHARS = 4000  # an argument text longer than this is refused
READ_VERSIONS = (1, VERSION)  # version 1 files have no tests per call (`tests` is None)
MAX_TEST_ID_CHARS = 4000
_QUALNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.(<locals>|[A-Za-z_][A-Za-z0-9_]*))*$")


class CallsFileError(ValueError):
    """A calls file that is not what the plugin writes: the message names the line."""


@dataclass(frozen=True)
class RecordedCall:
    args: str  # the arguments' text: "'{:d}', '12', case_sensitive=True"
    instance: str | None = None  # a method's receiver: its class's constructor arguments
    on_class: bool = False  # a classmethod called on its class
    init: bool = False  # the constructor itself: the call is `Class(args)`
    tests: tuple[str, ...] | None = None  # the tests (node ids) that made this call; None: a version 1 file


@dataclass(frozen=True)
class RecordedFunction:
    file: str  # relative to the project's root, "/"-separated
    qualname: str
    line: int
    calls_seen: int
    calls: tuple[RecordedCall, ...]
    dropped: dict[str, int]
    tests: tuple[str, ...] | None = None  # the tests that called it at all (its reach); None: a version 1 file


@dataclass
class RecordedCalls:
    header: dict
    functions: list[RecordedFunction]
    summary: dict


def read_calls(path: str, max_bytes: int = MAX_FILE_BYTES) -> RecordedCalls:
    """Read a calls file the plugin wrote, checking everything (CallsFileError if not)."""
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise CallsFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise CallsFileError(f"{path}: {size} bytes, more than the {max_bytes} a calls file may have")
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise CallsFileError(f"{path}: empty (a calls file starts with a header line)")
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CallsFileError(f"{path}:{number}: not a JSON line ({exc})") from None
        if not isinstance(row, dict):
            raise CallsFileError(f"{path}:{number}: a line must be a JSON object, got {type(row).__name__}")
        rows.append(row)
    header = rows[0]
    if header.get("kind") != "header" or header.get("format") != FORMAT:
        raise CallsFileError(f"{path}:1: not a calls file (the first line must be a header with format {FORMAT!r})")
    version = header.get("version")
    if version not in READ_VERSIONS or type(version) is not int:
        raise CallsFileError(f"{path}:1: calls file version {version!r}; this codewm reads versions {', '.join(map(str, READ_VERSIONS))}")
    if rows[-1].get("kind") != "summary" or len(rows) < 2:
        raise CallsFileError(f"{path}:{len(rows)}: the last line must be the summary (the file is cut short?)")
    summary = rows[-1]
    if not isinstance(summary.get("tests"), dict):
        raise CallsFileError(f"{path}:{len(rows)}: the summary has no 'tests' counts")
    test_ids = _test_ids(summary, version, f"{path}:{len(rows)}")
    functions = [_function(row, f"{path}:{number}", test_ids) for number, row in enumerate(rows[1:-1], 2)]
    return RecordedCalls(header, functions, summary)


def _test_ids(summary: dict, version: int, where: str) -> tuple[str, ...] | None:
    """The summary's node ids (version 2), which the `tests` lists index; None for version 1."""
    ids = summary.get("test_ids")
    if version == 1:
        if ids is not None:
            raise CallsFileError(f"{where}: a version 1 file has no 'test_ids'")
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= MAX_TEST_ID_CHARS for i in ids) or len(set(ids)) != len(ids):
        raise CallsFileError(f"{where}: 'test_ids' must be a list of distinct test ids (non-empty strings)")
    return tuple(ids)


def _tests(value: object, test_ids: tuple[str, ...] | None, where: str) -> tuple[str, ...] | None:
    """A `tests` list (increasing indices into test_ids) as node ids; absent in version 1."""
    if test_ids is None:
        if value is not None:
            raise CallsFileError(f"{where}: 'tests' in a version 1 file")
        return None
    if not isinstance(value, list) or not all(type(i) is int and 0 <= i < len(test_ids) for i in value) or any(a >= b for a, b in zip(value, value[1:])):
        raise CallsFileError(f"{where}: 'tests' must be increasing indices into the summary's {len(test_ids)} test_ids")
    return tuple(test_ids[i] for i in value)


def _function(row: dict, where: str, test_ids: tuple[str, ...] | None = None) -> RecordedFunction:
    if row.get("kind") != "function":
        raise CallsFileError(f"{where}: expected a function line, got kind {row.get('kind')!r}")
    file, qualname, line = row.get("file"), row.get("qualname"), row.get("line")
    if not isinstance(file, str) or not file.endswith(".py") or file.startswith("/") or ".." in file.split("/") or "\\" in file:
        raise CallsFileError(f"{where}: 'file' must be a relative path to a .py file inside the project, got {file!r}")
    if not isinstance(qualname, str) or not _QUALNAME.match(qualname):
        raise CallsFileError(f"{where}: 'qualname' must be a dotted name, got {qualname!r}")
    if type(line) is not int or line < 1:
        raise CallsFileError(f"{where}: 'line' must be a positive integer, got {line!r}")
    calls, seen, dropped = row.get("calls"), row.get("calls_seen"), row.get("dropped")
    if not isinstance(calls, list) or type(seen) is not int or not isinstance(dropped, dict):
        raise CallsFileError(f"{where}: a function line needs 'calls' (a list), 'calls_seen' (an int) and 'dropped' (an object)")
    if not all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in dropped.items()):
        raise CallsFileError(f"{where}: 'dropped' must map reasons to counts")
    tests = _tests(row.get("tests"), test_ids, where)
    made = tuple(_call(call, f"{where}, call {i}", test_ids) for i, call in enumerate(calls))
    if tests is not None and any(not set(call.tests or ()) <= set(tests) for call in made):
        raise CallsFileError(f"{where}: a call's tests must be among the function's 'tests'")
    return RecordedFunction(file, qualname, line, seen, made, dict(dropped), tests)


def _call(call: object, where: str, test_ids: tuple[str, ...] | None = None) -> RecordedCall:
    if not isinstance(call, dict) or set(call) - {"args", "instance", "on_class", "init", "tests"}:
        raise CallsFileError(f"{where}: a call must be an object with 'args' and optionally 'instance', 'on_class', 'init', 'tests'")
    args, instance = call.get("args"), call.get("instance")
    check_arguments(args, where, "args")
    if instance is not None:
        check_arguments(instance, where, "instance")
    on_class, init = call.get("on_class", False), call.get("init", False)
    if type(on_class) is not bool or type(init) is not bool or (instance is not None) + on_class + init > 1:
        raise CallsFileError(f"{where}: 'on_class' and 'init' are booleans, and a call has at most one of instance, on_class, init")
    return RecordedCall(args, instance, on_class, init, _tests(call.get("tests"), test_ids, where))


def check_arguments(text: object, where: str, what: str) -> None:
    """That `text` is an argument list of literals only (`1, 'a', key=[2]`)."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
        raise CallsFileError(f"{where}: {what!r} must be a string of at most {MAX_TEXT_CHARS} characters")
    try:
        node = ast.parse(f"f({text})", mode="eval").body
        if not isinstance(node, ast.Call) or node.func.id != "f" or f"f({text})" != ast.get_source_segment(f"f({text})", node):
            raise ValueError("not one call")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ValueError("a starred argument")
            ast.literal_eval(arg)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise ValueError("a ** argument")
            ast.literal_eval(keyword.value)
    except (SyntaxError, ValueError, TypeError, AttributeError, MemoryError, RecursionError) as exc:
        raise CallsFileError(f"{where}: {what!r} is not a list of literal arguments: {text[:80]!r} ({exc})") from None


# -- cases --------------------------------------------------------------------------------------
@dataclass
class CaseBuild:
    """The cases made from a calls file, and why the rest were not made."""

    cases: list[ProgramCase] = field(default_factory=list)
    functions_seen: int = 0
    calls_recorded: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> calls recorded but not made into cases
    recorded_dropped: Counter = field(default_factory=Counter)  # the plugin's own reasons -> calls
    tests: dict = field(default_factory=dict)


def build_cases(calls: RecordedCalls, root: str, project: str) -> CaseBuild:
    """One ProgramCase per recorded call of a function whose program can be made, in a
    deterministic order (file, line, qualname; calls as recorded)."""
    tree = Project(root)
    build = CaseBuild(functions_seen=len(calls.functions), tests=dict(calls.summary.get("tests", {})))
    for function in sorted(calls.functions, key=lambda f: (f.file, f.line, f.qualname)):
        build.calls_recorded += len(function.calls)
        build.recorded_dropped.update(function.dropped)
        if not function.calls:
            continue
        parts = function.qualname.split(".")
        if "<locals>" in parts or len(parts) > 2:
            build.dropped["nested"] += len(function.calls)
            continue
        if not os.path.isfile(os.path.join(tree.root, function.file)):
            raise SourceConfigError(f"repo: {function.file} (named in the calls file) is not under {tree.root}")
        try:
            program = tree.program(function.file, parts[0])
        except ProgramError as exc:
            build.dropped[exc.reason] += len(function.calls)
            continue
        kind = _kind(tree, function, parts)
        if kind is None:
            build.dropped["async_or_setter"] += len(function.calls)
            continue
        for n, call in enumerate(function.calls):
            text = _call_text(parts, call, kind)
            if text is None:
                build.dropped["receiver"] += 1
                continue
            build.cases.append(ProgramCase(
                source=program, call=text, origin="repo", id=f"repo/{project}/{function.file}::{function.qualname}#{n}",
                meta={"project": project, "file": function.file, "function": function.qualname, "line": function.line,
                      "receiver": _receiver_kind(parts, call)},
            ))
    return build


def _kind(tree: Project, function: RecordedFunction, parts: list[str]) -> str | None:
    """"generator", "property", "plain", or None for what is not traced (async functions,
    property setters and deleters)."""
    module = tree.module(function.file)
    for node in ast.walk(module.parsed.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == parts[-1]:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if function.line not in (node.lineno, first):
                continue
            if isinstance(node, ast.AsyncFunctionDef):
                return None
            decorators = {ast.unparse(d).rpartition(".")[2] for d in node.decorator_list}
            if decorators & {"setter", "deleter"}:
                return None
            if decorators & {"property", "cached_property"}:
                return "property"  # read as an attribute: `Parser('{}')._match_re`
            own = [n for n in ast.walk(node) if isinstance(n, (ast.Yield, ast.YieldFrom))]
            return "generator" if own else "plain"
    return "plain"


def _receiver_kind(parts: list[str], call: RecordedCall) -> str:
    """What the call is made on: "function", "constructor", "instance" (rebuilt), "class"."""
    if len(parts) == 1:
        return "function"
    return "constructor" if call.init else "instance" if call.instance is not None else "class"


def _call_text(parts: list[str], call: RecordedCall, kind: str) -> str | None:
    if len(parts) == 1:
        text = f"{parts[0]}({call.args})"
    elif call.init:
        if parts[1] != "__init__":
            return None
        return f"{parts[0]}({call.args})"
    elif call.instance is not None:
        if kind == "property":
            return f"{parts[0]}({call.instance}).{parts[1]}" if call.args == "" else None
        text = f"{parts[0]}({call.instance}).{parts[1]}({call.args})"
    else:  # a classmethod on its class, or a staticmethod
        text = f"{parts[0]}.{parts[1]}({call.args})"
    return f"list({text})" if kind == "generator" else text


class RepoTraceSource:
    """The calls a project's test suite made to its own functions (recorded by
    `codewm.repo.calls_plugin`), as program cases; `verify` (default) keeps only those
    that trace `ok` in the sandbox. Not batchable: the project's code is untrusted."""

    name = "repo"

    def __init__(self, path: str, root: str, project: str | None = None, verify: bool = True, workers: int = 2) -> None:
        """`path`: the calls file; `root`: the project's folder the calls were recorded in
        (given, never taken from the file); `project`: the name in the cases' ids (default:
        the root's folder name); `workers`: sandbox workers for `verify`."""
        if not os.path.isfile(path):
            raise SourceConfigError(f"repo: calls file {path} does not exist")
        if not os.path.isdir(root):
            raise SourceConfigError(f"repo: project root {root} is not a folder")
        if workers < 1:
            raise SourceConfigError("repo: workers must be at least 1")
        self.path = path
        self.root = root
        self.project = project or os.path.basename(os.path.realpath(root))
        self.verify = verify
        self.workers = workers
        self._report: RepoTraceReport | None = None

    def candidates(self) -> CaseBuild:
        """Every case made from the file, before the sandbox has run any."""
        try:
            calls = read_calls(self.path)
        except CallsFileError as exc:
            raise SourceConfigError(f"repo: {exc}") from None
        return build_cases(calls, self.root, self.project)

    @property
    def report(self) -> RepoTraceReport:
        """The sandbox's verdict on every candidate (runs it on first use)."""
        if self._report is None:
            self._report = trace_episodes(self.candidates(), project=self.project, workers=self.workers)
        return self._report

    def cases(self) -> Iterator[ProgramCase]:
        yield from (self.report.kept if self.verify else self.candidates().cases)


# -- the sandbox's verdict ----------------------------------------------------------------------
@dataclass
class RepoTraceReport:
    project: str
    functions_seen: int = 0
    functions_covered: int = 0  # functions with at least one kept episode
    calls_recorded: int = 0
    candidates: int = 0
    kept: list[ProgramCase] = field(default_factory=list)
    episodes: list[str] = field(default_factory=list)  # CWM trace text, one per kept case
    dropped: Counter = field(default_factory=Counter)  # reason -> calls (building and tracing)
    recorded_dropped: Counter = field(default_factory=Counter)  # the plugin's reasons -> calls
    tests: dict = field(default_factory=dict)
    seconds: float = 0.0
    isolation: str = ""

    @property
    def episodes_per_second(self) -> float:
        return len(self.kept) / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            "project": self.project, "tests": dict(self.tests), "functions_seen": self.functions_seen,
            "functions_covered": self.functions_covered, "calls_recorded": self.calls_recorded,
            "candidates": self.candidates, "episodes_kept": len(self.kept), "dropped": dict(sorted(self.dropped.items())),
            "recorded_dropped": dict(sorted(self.recorded_dropped.items())), "seconds": round(self.seconds, 2),
            "episodes_per_second": round(self.episodes_per_second, 1), "isolation": self.isolation,
            "kept_by_receiver": dict(sorted(Counter(case.meta["receiver"] for case in self.kept).items())),
        }


def classify_run(function: str, result: RunResult) -> str | None:
    """Why a run is not kept, or None: it must end ok, touch nothing outside itself, and
    call the function (by its name, directly from the entry point)."""
    if result.touched:
        return "touched"
    if result.status != "ok":
        return result.status
    if not any(f.event == "call" and f.depth == 1 and f.function == function for f in result.trace.frames):
        return "not_traced"
    return None


# The second run starts from another working directory (one untraced line after the program),
# so that a call whose trace depends on it, or on time, randomness or addresses, is caught.
_ELSEWHERE = "__import__('os').chdir('/')\n"


def trace_episodes(
    build: CaseBuild, project: str, workers: int = 2, limits: SandboxLimits | None = None, sandbox: Sandbox | None = None,
    rerun: bool = True,
) -> RepoTraceReport:
    """Trace every case in the sandbox (one fresh process each, audited), keep those that
    end ok (and, with `rerun`, trace the same again from another working directory, as the
    miner checks its calls), and format each kept one's trace as CWM text."""
    report = RepoTraceReport(project, functions_seen=build.functions_seen, calls_recorded=build.calls_recorded,
                             candidates=len(build.cases), dropped=Counter(build.dropped),
                             recorded_dropped=Counter(build.recorded_dropped), tests=dict(build.tests))
    started = time.monotonic()
    own = sandbox is None
    box = sandbox or Sandbox(limits=limits or DEFAULT_LIMITS, workers=workers)
    try:
        report.isolation = box.isolation
        results = list(box.map(Program.function(case.source, case.call, audit=True) for case in build.cases))
        if results and all(r.status == "sandbox_error" for r in results):
            raise SandboxError(f"repo: the sandbox failed on every run: {results[0].error}")
        passing = []
        for index, (case, result) in enumerate(zip(build.cases, results)):
            reason = classify_run(case.meta["function"].rpartition(".")[2], result)
            if reason is None:
                passing.append(index)
            else:
                report.dropped[reason] += 1
        if rerun:
            again = box.map(Program.function(build.cases[i].source + _ELSEWHERE, build.cases[i].call, audit=True) for i in passing)
            same = []
            for index, second in zip(passing, again):
                first = results[index].trace
                if second.status == "ok" and not second.touched and Trace(first.context, second.trace.frames, second.trace.complete) == first:
                    same.append(index)
                else:
                    report.dropped["nondeterministic"] += 1
            passing = same
    finally:
        if own:
            box.close()
    covered: set[str] = set()
    for index in passing:
        case = build.cases[index]
        report.kept.append(case)
        report.episodes.append(format_trace(results[index].trace))
        covered.add(f"{case.meta['file']}::{case.meta['function']}")
    report.functions_covered = len(covered)
    report.seconds = time.monotonic() - started
    return report
