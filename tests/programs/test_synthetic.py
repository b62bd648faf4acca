"""The synthetic program generator: determinism, programs that always trace ok, coverage, knobs."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

import pytest

from patience import patience

from codewm.programs.base import ProgramCase, ProgramSource, SourceConfigError, make_source
from codewm.programs.synthetic import CRUX_MAX_CHARS, CRUX_MIN_CHARS, SyntheticOptions, SyntheticSource
from codewm.trace.sandbox import Program, Sandbox
from codewm.trace.tracer import trace_function

GENERAL_SAMPLE = 500
CRUX_SAMPLE = 300


# -- shared samples -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def general_cases() -> list[ProgramCase]:
    return list(SyntheticSource(count=GENERAL_SAMPLE, seed=12345).cases())


@pytest.fixture(scope="module")
def crux_cases() -> list[ProgramCase]:
    return list(SyntheticSource(count=CRUX_SAMPLE, seed=12345, mode="cruxeval").cases())


@pytest.fixture(scope="module")
def general_traces(general_cases):
    return [trace_function(case.source, case.call) for case in general_cases]


@pytest.fixture(scope="module")
def crux_traces(crux_cases):
    return [trace_function(case.source, case.call) for case in crux_cases]


def _digest(cases) -> str:
    h = hashlib.sha256()
    for case in cases:
        h.update(json.dumps([case.id, case.source, case.call], ensure_ascii=False).encode())
    return h.hexdigest()


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _method_names(node: ast.AST) -> set[str]:
    return {n.func.attr for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}


def _outside_classes(tree: ast.Module) -> list[ast.AST]:
    return [node for node in tree.body if not isinstance(node, ast.ClassDef)]


# -- the source itself ------------------------------------------------------------------------------


def test_is_a_registered_program_source():
    source = make_source("synthetic", count=3, seed=1)
    assert isinstance(source, SyntheticSource) and isinstance(source, ProgramSource)
    assert source.name == "synthetic"
    cases = list(source.cases())
    assert [case.id for case in cases] == ["synthetic/general/1/000000", "synthetic/general/1/000001", "synthetic/general/1/000002"]
    for case in cases:
        assert case.origin == "synthetic"
        assert case.call.startswith("f(") and "def f(" in case.source
        json.dumps(case.to_dict())  # JSON-able, meta included
        meta = case.meta
        assert meta["mode"] == "general" and meta["seed"] == 1
        assert meta["knobs"] == SyntheticOptions(count=3, seed=1).knobs()
        assert 1 <= meta["difficulty"] <= 5 and meta["est_steps"] > 0 and meta["statements"] >= 1
        assert meta["features"] == sorted(set(meta["features"]))


def test_bad_options_are_refused():
    with pytest.raises(SourceConfigError, match="mode"):
        SyntheticSource(mode="nope")
    with pytest.raises(SourceConfigError, match="data types"):
        SyntheticSource(types=("int", "float"))
    with pytest.raises(SourceConfigError, match="exception_prob"):
        SyntheticSource(exception_prob=1.5)
    with pytest.raises(SourceConfigError, match="max_steps"):
        SyntheticSource(max_steps=5)
    with pytest.raises(TypeError, match="max_nesting"):
        SyntheticSource(max_nesting=3)
    with pytest.raises(SourceConfigError, match="rejects its options"):
        make_source("synthetic", max_nesting=3)
    # a TOML config gives lists, not tuples
    assert SyntheticSource(types=["int", "list"]).options.types == ("int", "list")


# -- determinism --------------------------------------------------------------------------------------


def test_same_options_give_the_same_cases_and_prefixes_agree():
    first = list(SyntheticSource(count=60, seed=5).cases())
    again = list(SyntheticSource(count=60, seed=5).cases())
    longer = list(SyntheticSource(count=90, seed=5).cases())
    assert [c.to_dict() for c in first] == [c.to_dict() for c in again]
    assert [c.to_dict() for c in first] == [c.to_dict() for c in longer[:60]]
    assert SyntheticSource(count=90, seed=5).case(77).to_dict() == longer[77].to_dict()


def test_different_seeds_and_modes_give_different_programs():
    a = list(SyntheticSource(count=40, seed=1).cases())
    b = list(SyntheticSource(count=40, seed=2).cases())
    c = list(SyntheticSource(count=40, seed=1, mode="cruxeval").cases())
    assert len({case.source for case in a} & {case.source for case in b}) <= 1
    assert {case.source for case in a}.isdisjoint({case.source for case in c})
    assert len({case.source for case in a}) == 40  # no duplicates within a seed either


def test_validation_does_not_change_the_programs():
    # Programs are correct by construction, so executing them first changes nothing.
    plain = list(SyntheticSource(count=150, seed=8).cases())
    validated = list(SyntheticSource(count=150, seed=8, validate=True).cases())
    assert [(c.id, c.source, c.call) for c in plain] == [(c.id, c.source, c.call) for c in validated]
    assert all(c.meta["attempt"] == v.meta["attempt"] for c, v in zip(plain, validated))


_CHILD = """
import hashlib, json, sys
from codewm.programs.synthetic import SyntheticSource
from codewm.trace.tracer import trace_function
h = hashlib.sha256()
traces = hashlib.sha256()
for mode, count in (("general", 150), ("cruxeval", 100)):
    for i, case in enumerate(SyntheticSource(count=count, seed=99, mode=mode).cases()):
        h.update(json.dumps([case.id, case.source, case.call]).encode())
        if i < 100:
            result = trace_function(case.source, case.call)
            traces.update(json.dumps([result.status, result.trace.to_dict()]).encode())
print(h.hexdigest(), traces.hexdigest())
"""


def test_same_programs_and_traces_in_other_processes_and_hash_seeds():
    expected_cases = _digest(
        list(SyntheticSource(count=150, seed=99).cases()) + list(SyntheticSource(count=100, seed=99, mode="cruxeval").cases())
    )
    outputs = set()
    for hash_seed in ("1", "2", "random"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=patience(900))
        assert done.returncode == 0, done.stderr
        cases_digest, traces_digest = done.stdout.split()
        assert cases_digest == expected_cases
        outputs.add(traces_digest)
    assert len(outputs) == 1  # traces (sets, dict orders, reprs) do not depend on the hash seed


# -- every program runs cleanly -------------------------------------------------------------------


def test_general_programs_trace_ok(general_cases, general_traces):
    for case, result in zip(general_cases, general_traces):
        assert result.status == "ok", (case.source, case.call, result.error)
        assert result.trace.complete and not result.trace.raised
        assert result.trace.output is not None


def test_cruxeval_programs_trace_ok(crux_cases, crux_traces):
    for case, result in zip(crux_cases, crux_traces):
        assert result.status == "ok", (case.source, case.call, result.error)
        assert result.trace.complete and not result.trace.raised


def test_knob_extremes_still_give_programs_that_run():
    settings = [
        {"mutation": False}, {"types": ("int",)}, {"types": ("dict", "set", "tuple")}, {"max_depth": 0},
        {"max_depth": 4, "max_statements": 18}, {"max_loop_bound": 1}, {"max_loop_bound": 12},
        {"max_call_depth": 3, "max_helpers": 4, "helper_prob": 1.0}, {"recursion_prob": 1.0, "max_recursion_depth": 8},
        {"exception_prob": 1.0, "class_prob": 1.0, "helper_prob": 1.0, "recursion_prob": 1.0}, {"max_steps": 40},
        {"max_statements": 1}, {"mode": "cruxeval", "types": ("list",)}, {"mode": "cruxeval", "mutation": False},
    ]
    for knobs in settings:
        for case in SyntheticSource(count=40, seed=3, **knobs).cases():
            result = trace_function(case.source, case.call)
            assert result.status == "ok", (knobs, case.source, case.call, result.error)


def test_sandboxed_traces_equal_in_process_traces(general_cases, general_traces, crux_cases, crux_traces):
    # The sandbox runs programs with PYTHONHASHSEED=0, this process with another seed: the
    # programs must not depend on it.
    picked = list(zip(general_cases[:60], general_traces[:60])) + list(zip(crux_cases[:20], crux_traces[:20]))
    with Sandbox(workers=2) as sandbox:
        results = list(sandbox.map(Program.function(case.source, case.call) for case, _ in picked))
        batched = sandbox.run_batch([Program.function(case.source, case.call) for case, _ in picked[:40]])
    for (case, expected), result in zip(picked, results):
        assert result.status == "ok", (case.source, case.call, result.error)
        assert result.trace == expected.trace, case.source
    # trusted (batchable) programs may share one sandbox process: the traces stay the same
    assert SyntheticSource.batchable is True
    for (case, expected), result in zip(picked[:40], batched):
        assert result.status == "ok", (case.source, case.call, result.error)
        assert result.trace == expected.trace, case.source


def test_trace_lengths_are_reasonable(general_traces, crux_traces):
    lengths = sorted(len(result.trace.frames) for result in general_traces)
    median = statistics.median(lengths)
    p90 = lengths[int(0.9 * (len(lengths) - 1))]
    assert 15 <= median <= 400, median
    assert p90 <= 1000 and max(lengths) <= 3000, (p90, max(lengths))
    assert sum(20 <= n <= 300 for n in lengths) >= 0.6 * len(lengths)
    crux = statistics.median(len(result.trace.frames) for result in crux_traces)
    assert 5 <= crux <= 200


def test_estimated_steps_track_real_trace_lengths(general_cases, general_traces):
    ratios = [len(r.trace.frames) / case.meta["est_steps"] for case, r in zip(general_cases, general_traces)]
    assert statistics.median(ratios) <= 1.0
    assert sum(ratio <= 1.5 for ratio in ratios) >= 0.98 * len(ratios)


# -- what the programs contain --------------------------------------------------------------------------


FORBIDDEN_CALLS = {"print", "open", "input", "id", "hash", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "float"}


def test_programs_avoid_nondeterminism_and_io(general_cases, crux_cases):
    for case in general_cases + crux_cases:
        tree = ast.parse(case.source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Lambda)), case.source
            assert not (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Pow))), case.source
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), case.source
            if isinstance(node, ast.Set):  # sets only ever hold ints
                assert not any(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts), case.source
        assert not (_called_names(tree) & FORBIDDEN_CALLS), case.source
        assert "main" not in _functions(tree)
        call = ast.parse(case.call, mode="eval").body
        assert isinstance(call, ast.Call) and call.func.id == "f"
        for arg in call.args:
            ast.literal_eval(arg)  # literal inputs only


def test_cruxeval_programs_are_short_method_rich_functions_named_f(crux_cases):
    methods_used: set[str] = set()
    for case in crux_cases:
        assert CRUX_MIN_CHARS <= len(case.source) <= CRUX_MAX_CHARS, case.source
        tree = ast.parse(case.source)
        assert [type(node) for node in tree.body] == [ast.FunctionDef] and tree.body[0].name == "f", case.source
        methods = _method_names(tree)
        assert methods, case.source
        methods_used |= methods
        assert not any(isinstance(node, (ast.Try, ast.Raise, ast.ClassDef)) for node in ast.walk(tree))
    # str, list and dict methods all show up
    assert {"upper", "lower", "split", "replace", "join", "count", "find", "startswith"} & methods_used
    assert len(methods_used & {"append", "sort", "pop", "insert", "extend", "reverse", "remove", "index"}) >= 3
    assert len(methods_used & {"get", "items", "update", "setdefault", "values", "keys", "pop"}) >= 2
    assert len(methods_used) >= 25


def _constructs(case: ProgramCase) -> set[str]:
    tree = ast.parse(case.source)
    found: set[str] = set()
    functions = _functions(tree)
    for node in ast.walk(tree):
        kind = type(node).__name__
        if kind in ("For", "While", "If", "ListComp", "DictComp", "SetComp", "GeneratorExp", "Break", "Continue",
                    "List", "Dict", "Set", "Tuple", "JoinedStr", "IfExp", "AugAssign", "Subscript", "Slice"):
            found.add(kind)
        if isinstance(node, ast.Try):
            found.add("Try")
            if any(isinstance(n, ast.Raise) for stmt in node.body for n in ast.walk(stmt)):
                found.add("Try+Raise")
            if node.finalbody:
                found.add("Finally")
        if isinstance(node, ast.Raise):
            found.add("Raise")
        if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.FunctionDef) and b.name == "__init__" for b in node.body):
            found.add("ClassDef")
        if isinstance(node, ast.BinOp):
            found.add(type(node.op).__name__)
        if isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Store):
            found.add("Unpack")
    for name, fn in functions.items():
        called = _called_names(fn)
        if name in called:
            found.add("Recursion")
        if name == "f" and called & (set(functions) - {"f"}):
            found.add("HelperCall")
        if name != "f" and called & (set(functions) - {name, "f"}):
            found.add("HelperChain")
    found |= {f".{m}" for m in _method_names(tree)}
    if "sorted" in _called_names(tree):
        found.add("sorted()")
    return found


def test_every_construct_appears(general_cases):
    seen: dict[str, int] = {}
    for case in general_cases:
        for construct in _constructs(case):
            seen[construct] = seen.get(construct, 0) + 1
    wanted = [
        "For", "While", "If", "Try", "Try+Raise", "Raise", "Finally", "ClassDef", "Recursion", "HelperCall", "HelperChain",
        "List", "Dict", "Set", "Tuple", "ListComp", "DictComp", "SetComp", "GeneratorExp", "Break", "Continue", "IfExp",
        "AugAssign", "Unpack", "Subscript", "Slice", "JoinedStr", "Add", "Sub", "Mult", "Mod", "FloorDiv",
        ".append", ".sort", ".reverse", ".pop", ".update", ".insert", ".extend", ".remove", ".get", ".setdefault",
        ".items", ".add", ".discard", ".split", ".join", ".replace", ".upper", ".count", "sorted()",
    ]
    missing = [w for w in wanted if w not in seen]
    assert not missing, (missing, seen)
    # and not just once: the main constructs are common
    for construct in ("For", "If", "While", "Try", "ClassDef", "Recursion", "HelperCall", ".append"):
        assert seen[construct] >= 0.04 * len(general_cases), (construct, seen[construct])
    features = set()
    for case in general_cases:
        features |= set(case.meta["features"])
    assert {"for", "while", "if", "try", "raise", "exception", "class", "method", "helper", "recursion", "mutation"} <= features


def test_classes_are_built_and_used_by_f(general_cases):
    users = 0
    for case in general_cases:
        tree = ast.parse(case.source)
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and any(isinstance(b, ast.FunctionDef) for b in n.body)]
        if classes:
            users += 1
            f = _functions(tree)["f"]
            assert set(classes) <= _called_names(f), case.source  # f instantiates it
    assert users >= 0.08 * len(general_cases)


def test_helpers_defined_are_helpers_used(general_cases):
    for case in general_cases:
        tree = ast.parse(case.source)
        functions = _functions(tree)
        reached, frontier = {"f"}, ["f"]
        while frontier:
            for name in _called_names(functions[frontier.pop()]) & set(functions):
                if name not in reached:
                    reached.add(name)
                    frontier.append(name)
        assert reached == set(functions), case.source


# -- knobs -----------------------------------------------------------------------------------------------


def _sample(count=150, **knobs) -> list[ProgramCase]:
    return list(SyntheticSource(count=count, seed=21, **knobs).cases())


def test_more_statements_give_longer_programs():
    small = _sample(max_statements=3)
    large = _sample(max_statements=16)
    assert statistics.mean(c.meta["statements"] for c in large) > 2 * statistics.mean(c.meta["statements"] for c in small)
    assert statistics.mean(len(c.source) for c in large) > 1.3 * statistics.mean(len(c.source) for c in small)
    short = statistics.mean(len(trace_function(c.source, c.call).trace.frames) for c in small)
    long = statistics.mean(len(trace_function(c.source, c.call).trace.frames) for c in large)
    assert long > short


def test_recursion_knob():
    assert not any("Recursion" in _constructs(c) for c in _sample(recursion=False))
    always = _sample(recursion_prob=1.0, max_recursion_depth=3)
    assert sum("Recursion" in _constructs(c) for c in always) >= 0.9 * len(always)


def test_exception_and_class_knobs():
    none = _sample(exception_prob=0.0, class_prob=0.0)
    for case in none:
        tree = ast.parse(case.source)
        assert not any(isinstance(n, (ast.Try, ast.Raise, ast.ClassDef)) for n in ast.walk(tree)), case.source
    always = _sample(exception_prob=1.0, class_prob=1.0)
    assert sum("Try" in _constructs(c) for c in always) >= 0.95 * len(always)
    assert sum("ClassDef" in _constructs(c) for c in always) >= 0.9 * len(always)


def test_call_depth_knob():
    for case in _sample(max_call_depth=0, recursion=False):
        assert list(_functions(ast.parse(case.source))) == ["f"], case.source
    deep = _sample(max_call_depth=3, max_helpers=4, helper_prob=1.0, recursion=False)
    assert sum("HelperChain" in _constructs(c) for c in deep) >= 0.2 * len(deep)


def test_types_knob():
    for case in _sample(types=("int",), exception_prob=0.0, class_prob=0.0):
        tree = ast.parse(case.source)
        kinds = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp, ast.JoinedStr)
        assert not any(isinstance(n, kinds) for n in ast.walk(tree)), case.source
        assert not any(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in ast.walk(tree)), case.source
        for arg in ast.parse(case.call, mode="eval").body.args:
            assert type(ast.literal_eval(arg)) is int
    strings = _sample(types=("str",), exception_prob=0.0, class_prob=0.0)
    assert all(isinstance(ast.literal_eval(a), str) for c in strings for a in ast.parse(c.call, mode="eval").body.args)


MUTATORS = {"append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear", "update", "setdefault", "add", "discard", "popitem"}


def test_mutation_knob():
    for case in _sample(mutation=False, class_prob=0.0):
        tree = ast.parse(case.source)
        for node in _outside_classes(tree):
            assert not (_method_names(node) & MUTATORS), case.source
    mutating = _sample(mutation=True, class_prob=0.0)
    assert sum(bool(_method_names(ast.parse(c.source)) & MUTATORS) for c in mutating) >= 0.5 * len(mutating)


def test_loop_bound_knob():
    for bound in (1, 3):
        for case in _sample(count=80, max_loop_bound=bound):
            for node in ast.walk(ast.parse(case.source)):
                if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and getattr(node.iter.func, "id", "") == "range":
                    args = [ast.literal_eval(a) for a in node.iter.args]  # literal bounds only
                    assert len(range(*args)) <= bound, case.source
                if isinstance(node, ast.While) and isinstance(node.test, ast.Compare):
                    limit = node.test.comparators[0]
                    if isinstance(limit, ast.Constant) and isinstance(node.test.ops[0], ast.Lt):
                        assert limit.value <= bound, case.source
    few = statistics.mean(len(trace_function(c.source, c.call).trace.frames) for c in _sample(count=100, max_loop_bound=1))
    many = statistics.mean(len(trace_function(c.source, c.call).trace.frames) for c in _sample(count=100, max_loop_bound=10))
    assert many > few


def test_step_budget_knob():
    tight = [len(trace_function(c.source, c.call).trace.frames) for c in _sample(count=100, max_steps=40)]
    assert max(tight) <= 80 and statistics.median(tight) <= 40


# -- speed -----------------------------------------------------------------------------------------------


def test_generation_is_fast():
    started = time.perf_counter()
    cases = list(SyntheticSource(count=2000, seed=4).cases()) + list(SyntheticSource(count=1000, seed=4, mode="cruxeval").cases())
    elapsed = time.perf_counter() - started
    assert len(cases) == 3000
    # a budget on an idle core; CODEWM_TEST_TIMEOUT_SCALE widens it on a loaded machine
    assert elapsed < patience(8.0), f"3000 programs took {elapsed:.1f}s (budget: 10,000 well under 10s on one core)"
