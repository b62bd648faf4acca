"""A pytest plugin that records the calls of a project's own functions while its tests run.

    CODEWM_CALLS_ROOT=/path/to/project CODEWM_CALLS_OUT=calls.jsonl \\
        python -m pytest -p codewm.repo.calls_plugin

(or `--codewm-calls-root` / `--codewm-calls-out`; without an output file the plugin does
nothing). It runs inside the process that runs the tests (in the sandbox under `codewm repo
trace`, `codewm.repo.trace_run`), so it keeps to what it must do there: watch
call events (a profile hook, never a line tracer), render the arguments of the project's
own functions as literal text, and write one JSONL file when the session ends. Everything
it writes is read back by `codewm.repo.traces.read_calls` as untrusted input.

Own functions are those defined in a `.py` file under the root that is not a test module
(`test_*.py`, `*_test.py`, `conftest.py`, a `test`/`tests` folder) nor inside an installed
package's folder (site-packages). A call is kept when every argument has a canonical
literal (`codewm.programs.miner.values.literal_text`) that reads back equal and is not too
large; for a method, the receiver counts as literal when it was made by its own class's
`__init__` with literal arguments (it is then rebuilt from them: `Parser('{}').parse('x')`),
and a classmethod's `cls` when it is that class. Each function keeps at most
`max_per_function` distinct argument texts; the other calls are counted by reason.

Each call is attributed to the test that made it (pytest's node id, from the start of its
set-up to the end of its tear-down; a call made while modules are collected belongs to no
test): every function line lists the tests that called it at all (`tests`, its reach), and
every kept call the tests that made that very call (duplicates included). A function at its
cap still renders up to `max_per_function` calls per test, so that a later test making a call
already kept is attributed to it; the rest are counted as `cap` unrendered.

The file (FORMAT, version VERSION): a header line, one line per function, a summary line
(with `test_ids`, the node ids that the `tests` lists index). Version 1 had no `tests`.
A problem inside the hook is swallowed and counted (`profiler_errors`): the tests'
outcomes never depend on the plugin.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import tempfile
import threading
import time
import weakref
from collections import Counter

from codewm.programs.miner.values import literal_text

FORMAT = "codewm-repo-calls"
VERSION = 2  # 2: `tests` per function and per call, `test_ids` in the summary
ENV_ROOT = "CODEWM_CALLS_ROOT"
ENV_OUT = "CODEWM_CALLS_OUT"
ENV_MAX_PER_FUNCTION = "CODEWM_CALLS_MAX_PER_FUNCTION"
ENV_MAX_ARGS_CHARS = "CODEWM_CALLS_MAX_ARGS_CHARS"
ENV_HOOK = "CODEWM_CALLS_HOOK"  # "profile" or "monitoring" (default: monitoring where Python has it)
HOOKS = ("profile", "monitoring")
DEFAULT_MAX_PER_FUNCTION = 64
DEFAULT_MAX_ARGS_CHARS = 400
MAX_FUNCTIONS = 20_000  # functions followed; later ones are only counted
MAX_ELEMENTS = 256  # elements of one argument looked at before it is "too_large"

_CO_OPTIMIZED = 0x1  # a function's code (class bodies and modules lack it)
_CO_VARARGS = 0x4
_CO_VARKEYWORDS = 0x8
_TEST_DIRS = frozenset({"test", "tests", "testing"})


def is_test_path(relative: str) -> bool:
    """Whether a path under the root is a test module (or in a test folder)."""
    parts = relative.replace(os.sep, "/").split("/")
    stem = parts[-1].removesuffix(".py")
    return any(p in _TEST_DIRS for p in parts[:-1]) or stem == "conftest" or stem.startswith("test_") or stem.endswith("_test")


def _small(value, budget: list[int]) -> bool:
    """Whether a value stays within MAX_ELEMENTS elements (strings count by 64 chars)."""
    budget[0] -= 1 + (len(value) // 64 if isinstance(value, (str, bytes)) else 0)
    if budget[0] < 0:
        return False
    if type(value) in (list, tuple, set, frozenset):
        return all(_small(item, budget) for item in value)
    if type(value) is dict:
        return all(_small(k, budget) and _small(v, budget) for k, v in value.items())
    return True


class Recorder:
    """The hook's state: what each own function was called with, and the counts."""

    def __init__(self, root: str, max_per_function: int = DEFAULT_MAX_PER_FUNCTION, max_args_chars: int = DEFAULT_MAX_ARGS_CHARS) -> None:
        self.root = os.path.realpath(root)
        self.max_per_function = max_per_function
        self.max_args_chars = max_args_chars
        self.own: dict[int, tuple] = {}  # id(code) -> (code, (file, qualname, line) or None)
        self.functions: dict[tuple, dict] = {}  # (file, qualname, line) -> entry
        self.receivers: dict[int, tuple] = {}  # id(instance) -> (weakref, class qualname, file, init args text)
        self.live: Counter = Counter()  # (file, class qualname) -> receivers alive
        self.dropped: Counter = Counter()  # reason -> calls, over all functions
        self.profiler_errors = 0
        self.calls_seen = 0
        self.hook = ""  # which hook watched the calls (set by `start`)
        self.test_ids: dict[str, int] = {}  # node id -> index, in the order the tests ran
        self.current: int | None = None  # the test running now (None: collection, or between tests)
        self.started = time.monotonic()

    # -- which code is the project's ------------------------------------------------------
    def classify(self, code) -> tuple | None:
        if not code.co_flags & _CO_OPTIMIZED or code.co_name.startswith("<"):
            return None  # module and class bodies, lambdas, comprehensions
        path = code.co_filename
        if not path.endswith(".py") or not os.path.isabs(path):
            return None
        real = os.path.realpath(path)
        if not real.startswith(self.root + os.sep):
            return None
        relative = os.path.relpath(real, self.root)
        if is_test_path(relative) or "site-packages" in relative or "dist-packages" in relative:
            return None
        qualname = getattr(code, "co_qualname", code.co_name)
        return (relative.replace(os.sep, "/"), qualname, code.co_firstlineno)

    # -- one call ---------------------------------------------------------------------------
    def on_call(self, frame) -> None:
        code = frame.f_code
        # Keyed by id: hashing a code object hashes its bytecode and constants, on every call
        # of every function. The code is kept in the value, so that its id is never reused.
        known = self.own.get(id(code))
        if known is None:
            known = self.own[id(code)] = (code, self.classify(code))
        key = known[1]
        if key is None:
            return
        self.calls_seen += 1
        entry = self.functions.get(key)
        if entry is None:
            if len(self.functions) >= MAX_FUNCTIONS:
                self.dropped["too_many_functions"] += 1
                return
            entry = self.functions[key] = {"calls": 0, "records": {}, "dropped": Counter(), "tests": set(), "rendered_at_cap": Counter()}
        entry["calls"] += 1
        test = self.current
        if test is not None:
            entry["tests"].add(test)
        # A function at its cap keeps nothing more: count the call without rendering it, unless
        # this test may still be making a call already kept (bounded per test and function).
        at_cap = len(entry["records"]) >= self.max_per_function and not key[1].endswith(".__init__")
        if at_cap and test is not None and entry["rendered_at_cap"][test] < self.max_per_function:
            entry["rendered_at_cap"][test] += 1
            at_cap = False
        try:
            if at_cap:
                reason = "cap"
            elif self.unrebuildable(code, key):
                reason = "receiver"  # known without materializing the frame's locals (the costly part)
            else:
                reason = self.record(code, key, frame.f_locals, entry)
        except Exception:  # e.g. str() of an int past Python's digit limit: counted, never raised
            self.profiler_errors += 1
            reason = "profiler_error"
        if reason is not None:
            entry["dropped"][reason] += 1
            self.dropped[reason] += 1

    def unrebuildable(self, code, key: tuple) -> bool:
        """A method whose class has no instance alive that was made from literals."""
        if not code.co_argcount or code.co_varnames[0] != "self" or key[1].endswith(".__init__"):
            return False
        owner = key[1].rpartition(".")[0]
        return bool(owner) and "<locals>" not in owner and not self.live[(key[0], owner)]

    def forget(self, ident: int) -> None:
        found = self.receivers.pop(ident, None)
        if found is not None:
            self.live[(found[2], found[1])] -= 1

    def record(self, code, key: tuple, values: dict, entry: dict) -> str | None:
        """Record one call's arguments in `entry`; the reason it was not kept, or None."""
        names = code.co_varnames
        positional = code.co_argcount
        keyword_only = code.co_kwonlyargcount
        first = names[0] if positional else None
        qualname = key[1]
        owner, _, method = qualname.rpartition(".")
        receiver: dict = {}
        skip = 0
        if first in ("self", "cls") and owner and "<locals>" not in qualname:
            subject = values.get(first)
            if first == "cls":
                if not (isinstance(subject, type) and subject.__qualname__ == owner):
                    return "receiver_class"
                receiver = {"on_class": True}
            elif method == "__init__":
                receiver = {"init": True}
            else:
                found = self.receivers.get(id(subject))
                if found is None or found[0]() is not subject:
                    return "receiver"
                if found[1] != owner or found[2] != key[0]:
                    return "receiver_subclass"
                receiver = {"instance": found[3]}
            skip = 1
        texts: list[str] = []
        budget = [MAX_ELEMENTS]
        for name in names[skip:positional]:
            if not _small(values.get(name), budget):
                return "too_large"
            text = literal_text(values.get(name))
            if text is None:
                return "non_literal"
            texts.append(text)
        flags = code.co_flags
        index = positional + keyword_only
        if flags & _CO_VARARGS:
            extra = values.get(names[index], ())
            if not _small(extra, budget):
                return "too_large"
            for item in extra:
                text = literal_text(item)
                if text is None:
                    return "non_literal"
                texts.append(text)
            index += 1
        for name in names[positional : positional + keyword_only]:
            if name in values:  # always bound at a call
                if not _small(values[name], budget):
                    return "too_large"
                text = literal_text(values[name])
                if text is None:
                    return "non_literal"
                texts.append(f"{name}={text}")
        if flags & _CO_VARKEYWORDS:
            extra = values.get(names[index], {})
            if not _small(extra, budget):
                return "too_large"
            for name, item in extra.items():
                text = literal_text(item)
                if text is None or not (isinstance(name, str) and name.isidentifier()):
                    return "non_literal"
                texts.append(f"{name}={text}")
        args = ", ".join(texts)
        if len(args) > self.max_args_chars:
            return "too_large"
        if receiver.get("init"):
            # Remember how this instance was made, so that its methods' calls can rebuild it
            # (only an instance of exactly this class, which can be referred to weakly).
            subject = values.get(first)
            if type(subject).__qualname__ == owner:
                try:
                    ref = weakref.ref(subject, lambda _, ident=id(subject): self.forget(ident))
                except TypeError:
                    pass
                else:
                    self.forget(id(subject))  # __init__ called again on the same object
                    self.receivers[id(subject)] = (ref, owner, key[0], args)
                    self.live[(key[0], owner)] += 1
        record = (receiver.get("instance"), bool(receiver.get("on_class")), bool(receiver.get("init")), args)
        records = entry["records"]
        if record in records:
            if self.current is not None:
                records[record].add(self.current)
            return "duplicate"
        if len(records) >= self.max_per_function:
            return "cap"
        if not _round_trips(texts, values, names, skip, positional, keyword_only, flags):
            return "non_literal"
        records[record] = set() if self.current is None else {self.current}
        return None

    def start_test(self, nodeid: str) -> None:
        self.current = self.test_ids.setdefault(nodeid, len(self.test_ids))

    def end_test(self) -> None:
        self.current = None

    # -- the file ---------------------------------------------------------------------------
    def lines(self, tests: dict) -> list[dict]:
        header = {"kind": "header", "format": FORMAT, "version": VERSION, "root": self.root, "python": sys.version.split()[0],
                  "hook": self.hook,
                  "max_per_function": self.max_per_function}
        body = []
        for (file, qualname, line), entry in sorted(self.functions.items()):
            calls = []
            for (instance, on_class, init, args), made_by in entry["records"].items():
                call = {"args": args, "tests": sorted(made_by)}
                if instance is not None:
                    call["instance"] = instance
                if on_class:
                    call["on_class"] = True
                if init:
                    call["init"] = True
                calls.append(call)
            body.append({"kind": "function", "file": file, "qualname": qualname, "line": line, "calls_seen": entry["calls"],
                         "calls": calls, "dropped": dict(sorted(entry["dropped"].items())), "tests": sorted(entry["tests"])})
        summary = {
            "kind": "summary", "tests": dict(sorted(tests.items())), "functions_seen": len(self.functions),
            "calls_seen": self.calls_seen, "calls_kept": sum(len(e["records"]) for e in self.functions.values()),
            "dropped": dict(sorted(self.dropped.items())), "profiler_errors": self.profiler_errors,
            "seconds": round(time.monotonic() - self.started, 3), "test_ids": list(self.test_ids),
        }
        return [header, *body, summary]


def _round_trips(texts, values, names, skip, positional, keyword_only, flags) -> bool:
    """Whether the texts read back as the values (a guard on literal_text's promise)."""
    try:
        call = ast.parse(f"f({', '.join(texts)})", mode="eval").body
        got = [ast.literal_eval(arg) for arg in call.args] + [ast.literal_eval(k.value) for k in call.keywords]
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    expected = [values.get(n) for n in names[skip:positional]]
    index = positional + keyword_only
    if flags & _CO_VARARGS:
        expected += list(values.get(names[index], ()))
        index += 1
    expected += [values[n] for n in names[positional : positional + keyword_only] if n in values]
    if flags & _CO_VARKEYWORDS:
        expected += list(values.get(names[index], {}).values())
    return len(got) == len(expected) and all(type(a) is type(b) and a == b for a, b in zip(got, expected))



# -- the hook and pytest's side ------------------------------------------------------------------
_state: dict = {}  # "recorder", "out", "tests": outcome -> tests


def _hook(frame, event, arg):
    if event != "call":
        return
    recorder = _state.get("recorder")
    if recorder is None:
        return
    try:
        recorder.on_call(frame)
    except Exception:  # never let the project's tests see the recorder fail
        recorder.profiler_errors += 1


def _option(config, name: str, env: str) -> str | None:
    value = config.getoption(name, default=None)
    return value if value else os.environ.get(env) or None


def _int_option(config, name: str, env: str, default: int) -> int:
    value = _option(config, name, env)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} / {env} must be an integer, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} / {env} must be at least 1, got {number}")
    return number


def pytest_addoption(parser) -> None:
    group = parser.getgroup("codewm-calls", "codewm: record the calls of the project's own functions")
    group.addoption("--codewm-calls-out", default=None, help=f"write the calls here (JSONL; or ${ENV_OUT}); off without it")
    group.addoption("--codewm-calls-root", default=None, help=f"the project's root (or ${ENV_ROOT}; default: pytest's rootdir)")
    group.addoption("--codewm-calls-max-per-function", default=None, help=f"distinct calls kept per function (or ${ENV_MAX_PER_FUNCTION}; default {DEFAULT_MAX_PER_FUNCTION})")
    group.addoption("--codewm-calls-max-args-chars", default=None, help=f"longest argument text kept (or ${ENV_MAX_ARGS_CHARS}; default {DEFAULT_MAX_ARGS_CHARS})")


def pytest_configure(config) -> None:
    out = _option(config, "codewm_calls_out", ENV_OUT)
    if out is None:
        return
    root = _option(config, "codewm_calls_root", ENV_ROOT) or str(config.rootpath)
    if not os.path.isdir(root):
        raise ValueError(f"codewm calls plugin: the project root {root} is not a folder")
    per_function = _int_option(config, "codewm_calls_max_per_function", ENV_MAX_PER_FUNCTION, DEFAULT_MAX_PER_FUNCTION)
    args_chars = _int_option(config, "codewm_calls_max_args_chars", ENV_MAX_ARGS_CHARS, DEFAULT_MAX_ARGS_CHARS)
    hook = os.environ.get(ENV_HOOK) or ("monitoring" if hasattr(sys, "monitoring") else "profile")
    if hook not in HOOKS or (hook == "monitoring" and not hasattr(sys, "monitoring")):
        raise ValueError(f"${ENV_HOOK} must be one of {', '.join(HOOKS)} (monitoring: Python 3.12 or newer), got {hook!r}")
    recorder = Recorder(root, per_function, args_chars)
    _state.update(recorder=recorder, out=os.path.abspath(out), tests=Counter())
    start(recorder, hook)


def start(recorder: Recorder, hook: str) -> None:
    """Watch calls with `hook`: "profile" (sys.setprofile, every thread) or "monitoring"
    (sys.monitoring's PY_START, where a code that is not the project's is disabled after
    its first call, so that the rest of the run pays nothing for it)."""
    _state["recorder"] = recorder
    _state["hook"] = recorder.hook = hook
    if hook == "profile":
        threading.setprofile(_hook)
        sys.setprofile(_hook)
        return
    monitoring = sys.monitoring
    tool = next((t for t in (monitoring.PROFILER_ID, 3, 4, 5) if monitoring.get_tool(t) is None), None)
    if tool is None:
        raise RuntimeError("codewm calls plugin: no free sys.monitoring tool id")
    monitoring.use_tool_id(tool, "codewm-calls")
    disable = monitoring.DISABLE
    getframe = sys._getframe

    def on_start(code, offset):
        try:
            known = recorder.own.get(id(code))
            if known is None:
                known = recorder.own[id(code)] = (code, recorder.classify(code))
            if known[1] is None:
                return disable
            recorder.on_call(getframe(1))
        except Exception:  # never let the project's tests see the recorder fail
            recorder.profiler_errors += 1
        return None

    monitoring.register_callback(tool, monitoring.events.PY_START, on_start)
    monitoring.set_events(tool, monitoring.events.PY_START)
    _state["tool"] = tool


def stop() -> Recorder | None:
    """Stop watching; the recorder, or None if none was started."""
    recorder = _state.pop("recorder", None)
    hook = _state.pop("hook", None)
    if hook == "profile":
        sys.setprofile(None)
        threading.setprofile(None)
    elif hook == "monitoring":
        tool = _state.pop("tool")
        sys.monitoring.set_events(tool, 0)
        sys.monitoring.register_callback(tool, sys.monitoring.events.PY_START, None)
        sys.monitoring.free_tool_id(tool)
    return recorder


def pytest_runtest_logstart(nodeid, location) -> None:
    """The calls from here to the end of the test's tear-down are this test's."""
    recorder = _state.get("recorder")
    if recorder is not None:
        recorder.start_test(nodeid)


def pytest_runtest_logfinish(nodeid, location) -> None:
    recorder = _state.get("recorder")
    if recorder is not None:
        recorder.end_test()


def pytest_runtest_logreport(report) -> None:
    """Count each test's outcome as pytest's summary line does (passed, failed, skipped,
    xfailed, xpassed; error for a failing setup or teardown)."""
    tests = _state.get("tests")
    if tests is None:
        return
    expected_failure = getattr(report, "wasxfail", None) is not None
    if report.when == "call":
        outcome = ("xfailed" if report.outcome == "skipped" else "xpassed" if report.outcome == "passed" else report.outcome) if expected_failure else report.outcome
    elif report.outcome == "failed":
        outcome = "error"
    elif report.when == "setup" and report.outcome == "skipped":
        outcome = "xfailed" if expected_failure else "skipped"
    else:
        return
    tests[outcome] += 1


def pytest_unconfigure(config) -> None:
    recorder = stop()
    if recorder is None:
        return
    write_lines(_state.pop("out"), recorder.lines(_state.pop("tests")))


def write_lines(path: str, lines: list[dict]) -> None:
    """Write JSON lines to `path` atomically: a crash leaves the old file or none."""
    folder = os.path.dirname(path) or "."
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, prefix=".calls-", suffix=".tmp", delete=False)
    try:
        with handle:
            for line in lines:
                handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise
