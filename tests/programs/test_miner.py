"""The function miner: standard-library modules copied into a folder, plus impure fixtures."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from patience import patience

from codewm.programs.base import ProgramCase, make_source
from codewm.programs.miner import (
    DEFAULT_LIMITS,
    INPUT_SOURCES,
    MinedSource,
    build_program,
    default_path,
    discover_modules,
    literal_text,
    mine,
)
from codewm.trace.sandbox import Program, Sandbox

STDLIB = default_path()
# Modules with pure top-level functions (html is a package: html/__init__.py).
MODULES = ["base64", "bisect", "calendar", "colorsys", "fnmatch", "heapq", "html", "posixpath", "shlex", "stat", "string", "textwrap", "token"]

IMPURE = '''\
import random
import time


def read_config(path="/etc/hostname"):
    with open(path) as handle:
        return handle.read()


def list_here():
    import os
    return sorted(os.listdir("."))


def roll():
    return random.random()


def stamp():
    return time.time()


def double(x: int) -> int:
    return x * 2


def _private(x):
    return x


async def fetch(x):
    return x


def counter():
    global COUNT
    COUNT = 1
'''


def _copy_stdlib(folder) -> None:
    for name in MODULES:
        if name == "html":
            os.makedirs(folder / "html")
            shutil.copy(os.path.join(STDLIB, "html", "__init__.py"), folder / "html" / "__init__.py")
        else:
            shutil.copy(os.path.join(STDLIB, f"{name}.py"), folder / f"{name}.py")
    (folder / "fixture_impure.py").write_text(IMPURE)
    (folder / "broken.py").write_text("def f(:\n    pass\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("minedlib")
    _copy_stdlib(path)
    return path


@pytest.fixture(scope="module")
def report(folder):
    started = time.monotonic()
    result = mine(str(folder), seed=0)
    print(f"\nmined {folder} in {time.monotonic() - started:.1f}s\n" + result.to_table())
    return result


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(limits=DEFAULT_LIMITS, workers=2) as box:
        yield box


def test_mines_many_functions_across_modules(report):
    kept_modules = {case.meta["module"] for case in report.cases}
    assert len(report.cases) >= 80, report.to_table()
    assert len(kept_modules) >= 12, kept_modules
    assert report.totals["kept_functions"] >= 50
    for case in report.cases:
        assert isinstance(case, ProgramCase) and case.origin == "miner"
        assert case.id.startswith(f"miner/{case.meta['module']}.{case.meta['function']}#")
        assert case.meta["input_from"] in INPUT_SOURCES
    # every kind of input was used somewhere
    assert {case.meta["input_from"] for case in report.cases} == set(INPUT_SOURCES)
    # no function has more than max_calls_per_function calls, numbered from 0
    by_function: dict[str, list[str]] = {}
    for case in report.cases:
        by_function.setdefault(case.id.partition("#")[0], []).append(case.id.partition("#")[2])
    assert all(numbers == [str(n) for n in range(len(numbers))] and len(numbers) <= 3 for numbers in by_function.values())


def test_every_kept_call_traces_its_function_cleanly(report, sandbox):
    programs = [Program.function(case.source, case.call, audit=True) for case in report.cases]
    for case, result in zip(report.cases, sandbox.map(programs)):
        assert result.status == "ok", (case.id, result.error)
        assert result.touched == [], (case.id, result.touched)
        frames = result.trace.frames
        assert any(f.event == "call" and f.depth == 1 and f.function == case.meta["function"] for f in frames), case.id
        # the function's own body is in the program text, not imported
        assert f"def {case.meta['function']}(" in case.source


def test_programs_carry_what_the_function_needs(report):
    wrap = report.function("textwrap", "wrap").cases[0]
    assert wrap.source.startswith("from textwrap import TextWrapper\n\ndef wrap(")
    unescape = report.function("html", "unescape").cases[0]
    assert unescape.source.startswith("from html import _charref, _replace_charref\n\ndef unescape(s):\n")
    split = report.function("posixpath", "split").cases[0]  # the module's own import statements
    assert split.source.startswith("import os\nfrom posixpath import _get_sep\n\ndef split(p):\n")
    merge = report.function("heapq", "merge").cases[0]  # a generator, called through list()
    assert merge.call.startswith("list(merge(") and "from heapq import (\n    _heapify_max,\n" in merge.source
    roll = report.function("fixture_impure", "roll")
    assert roll.candidates == [("roll()", "defaults")]


def test_impure_functions_are_rejected_for_the_right_reason(report):
    assert report.function("fixture_impure", "read_config").reason == "touched"
    assert report.function("fixture_impure", "list_here").reason == "touched"
    assert report.function("fixture_impure", "roll").reason == "nondeterministic"
    assert report.function("fixture_impure", "stamp").reason == "nondeterministic"
    double = report.function("fixture_impure", "double")
    assert double.kept and {c.meta["input_from"] for c in double.cases} <= {"type_hints", "hypothesis"}
    assert report.function("posixpath", "abspath").reason == "nondeterministic"  # depends on the cwd
    module = report.module("fixture_impure")
    assert module.found == 5 and module.kept_functions == 1
    assert module.rejected == {"touched": 2, "nondeterministic": 2}
    assert module.skipped == {"private": 1, "async": 1, "global/nonlocal": 1}
    assert "broken" in report.parse_errors


def test_mining_is_deterministic(report, folder):
    again = mine(str(folder), seed=0)
    assert [c.to_dict() for c in again.cases] == [c.to_dict() for c in report.cases]
    assert again.to_table() == report.to_table()


def test_report_table_names_every_module(report):
    table = report.to_table()
    for name in MODULES + ["fixture_impure"]:
        assert any(line.split()[0] == name for line in table.splitlines() if line.strip()), name
    assert "TOTAL" in table and "touched=2" in table and "nondeterministic=" in table
    assert "failed to parse" in table


def test_source_protocol_registry_and_limits(folder):
    source = make_source("miner", path=str(folder), modules=["colorsys", "fixture_impure"], max_calls_per_function=1)
    assert isinstance(source, MinedSource) and source._report is None  # lazy
    cases = list(source.cases())
    assert cases and all(c.meta["module"] in ("colorsys", "fixture_impure") for c in cases)
    assert len({c.id.partition("#")[0] for c in cases}) == len(cases)  # one call per function
    assert [c.id for c in source.cases()] == [c.id for c in cases]  # mined once
    capped = mine(str(folder), modules=["textwrap"], max_functions=2)
    assert capped.totals["found"] == 2


def test_discovery_skips_tests_private_and_excluded_folders(tmp_path):
    for rel in ["a.py", "_private.py", "test_a.py", "pkg/__init__.py", "pkg/mod.py", "pkg/_hidden.py", "test/x.py",
                "tests/y.py", "site-packages/z.py", "idlelib/w.py", "_pkg/v.py", "not-a-package/u.py", "pkg/__main__.py"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("def f(x):\n    return x\n")
    names = [name for name, _ in discover_modules(str(tmp_path))]
    assert names == ["a", "pkg", "pkg.mod"]
    assert [n for n, _ in discover_modules(str(tmp_path), modules=["pkg"])] == ["pkg", "pkg.mod"]
    assert "_private" in [n for n, _ in discover_modules(str(tmp_path), include_private=True)]
    # a folder that is itself a package names its modules from the package root
    assert [n for n, _ in discover_modules(str(tmp_path / "pkg"))] == ["pkg", "pkg.mod"]


def test_literals_are_canonical():
    assert literal_text({"b", "a", "c"}) == "{'a', 'b', 'c'}"
    assert literal_text(set()) == "set()"
    assert literal_text((1,)) == "(1,)"
    assert literal_text({"k": [1, (2, b"x")]}) == "{'k': [1, (2, b'x')]}"
    assert literal_text(float("nan")) is None and literal_text(object()) is None


def test_inputs_from_every_source(tmp_path):
    (tmp_path / "demo.py").write_text(
        '"""\n>>> scale(3, 4)\n12\n"""\nimport math\n\nFACTOR = 2\n\n\n'
        "def scale(x, y):\n    return x * y * FACTOR\n\n\n"
        "def pad(text: str, width: int = 4) -> str:\n    return text.ljust(width)\n\n\n"
        "def greet(name='world', punct='!'):\n    return 'hi ' + name + punct\n\n\n"
        "def root(v):\n    return math.sqrt(v)\n\n\n"
        "def countdown(n):\n    while n > 0:\n        yield n\n        n -= 1\n\n\n"
        "def uses():\n    return scale(5, 6) + len(pad('ab', width=3))\n"
    )
    (tmp_path / "other.py").write_text("import demo\nfrom demo import root as r\n\nr(16.0)\ndemo.countdown(3)\n")
    result = mine(str(tmp_path), max_calls_per_function=2)
    scale = result.function("demo", "scale")
    assert scale.candidates[:2] == [("scale(3, 4)", "doctest"), ("scale(5, 6)", "call_site")]
    assert ("root(16.0)", "call_site") in result.function("demo", "root").candidates
    assert ("list(countdown(3))", "call_site") in result.function("demo", "countdown").candidates
    assert result.function("demo", "greet").candidates == [("greet()", "defaults"), ("greet('world', '!')", "defaults")]
    pad = result.function("demo", "pad")
    assert pad.candidates[0] == ("pad('ab', width=3)", "call_site")
    assert [src for _, src in pad.candidates].count("type_hints") == 2
    # demo is not importable inside the sandbox: functions needing module names fail, the rest run
    assert scale.reason == "exception" and result.function("demo", "root").kept  # root only needs `import math`
    assert result.function("demo", "countdown").cases[0].call == "list(countdown(3))"
    program = build_program(_function(result, "demo", "scale"))
    assert program == "from demo import FACTOR\n\ndef scale(x, y):\n    return x * y * FACTOR\n"


def _function(result, module, name):
    from codewm.programs import miner

    for module_name, path in discover_modules(result.root):
        if module_name == module:
            parsed = miner.parse_module(module_name, path)
            for node in parsed.tree.body:
                function, _ = miner.eligible(parsed, node)
                if function is not None and function.name == name:
                    return function
    raise KeyError(name)


@pytest.mark.slow
def test_mines_the_real_standard_library():
    started = time.monotonic()
    result = mine(max_functions=40, seed=0)
    elapsed = time.monotonic() - started
    print(f"\nreal stdlib ({STDLIB}), max_functions=40, {elapsed:.1f}s\n" + result.to_table())
    assert result.totals["found"] == 40
    assert len(result.cases) >= 10
    assert elapsed < patience(60)
