"""Mutate-and-verify tasks: the operators, formatting kept outside the mutated unit, diffs,
determinism, and verification with a fake runner and one real pytest run on a fixture copy."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from codewm.repo.mutate import (
    MutateError, Mutant, apply_diff, generate_mutants, mutants_of_file, sample_mutants, unified_diff, units,
)
from codewm.repo.mutate_text import Source, cyclomatic_complexity
from codewm.repo.verify import SuiteRun, VerifyError, read_results, module_test_files, verify_mutants

FIXTURE = Path(__file__).parent.parent / "data" / "repo_mutate"

SAMPLE = '''"""A module to mutate."""
import os

# A comment before the function, kept as is.


def f(a, b):  # three decisions
    if a > b:
        x = a - b  # keep me
    else:
        x = (b - a) * 2
    with open(a) as fh:
        fh.write("x")
        y = 1
    for i in range(3):
        x += i
    s = a.strip().lower()
    return x if a and b else -1


def simple(a):
    # complexity 2: never mutated
    if a:
        return 1
    return 2


class Shape(Base, Mixin):
    """A class with one complex method."""

    def area(self, kind):
        if kind == "square":
            return self.side ** 2
        elif kind == "circle":
            return 3.14 * self.r ** 2
        return 0

    def name(self):
        return "shape"
'''


def mutants_of(text: str, tmp_path: Path, **options) -> list[Mutant]:
    (tmp_path / "mod.py").write_text(text)
    return mutants_of_file(tmp_path, tmp_path / "mod.py", per_operator=50, per_function=500, **options)


def only(mutants, operator, description_part=""):
    found = [m for m in mutants if m.operator == operator and description_part in m.description]
    assert found, f"no {operator} mutant with {description_part!r}: {[m.description for m in mutants]}"
    return found[0]


def function_text(mutant: Mutant, name: str) -> str:
    tree = ast.parse(mutant.source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
    lines = mutant.source.splitlines(keepends=True)
    return "".join(lines[node.lineno - 1:node.end_lineno])


def test_cyclomatic_complexity_counts_decision_points():
    tree = ast.parse(
        "def g(xs):\n"
        "    for x in xs:\n"                      # +1
        "        if x and x > 1 or x < -1:\n"      # +1 if, +1 and, +1 or
        "            pass\n"
        "    try:\n        pass\n"
        "    except ValueError:\n        pass\n"  # +1
        "    ys = [y for y in xs if y]\n"          # +2 (for, if)
        "    def inner():\n"                       # nested: counts for itself
        "        if xs: pass\n"
        "    return 1 if xs else 2\n")             # +1
    assert cyclomatic_complexity(tree.body[0]) == 9
    assert cyclomatic_complexity(tree.body[0].body[3]) == 2


def test_only_units_at_the_complexity_threshold_are_mutated(tmp_path):
    mutants = mutants_of(SAMPLE, tmp_path)
    assert {m.qualname for m in mutants} == {"f", "Shape", "Shape.area"}
    assert not [m for m in mutants if m.qualname == "simple"]
    tree = ast.parse(SAMPLE)
    assert [u.qualname for u in units(tree, 3)] == ["f", "Shape", "Shape.area"]
    assert "simple" in [u.qualname for u in units(tree, 2)]


def test_invert_if_else_swaps_the_branches_and_keeps_the_test(tmp_path):
    mutant = only(mutants_of(SAMPLE, tmp_path), "invert_if_else")
    assert function_text(mutant, "f").startswith(
        "def f(a, b):  # three decisions\n"
        "    if a > b:\n"
        "        x = (b - a) * 2\n"
        "    else:\n"
        "        x = a - b  # keep me\n"
        "    with open(a) as fh:\n")


def test_elif_chains_are_not_inverted(tmp_path):
    assert not [m for m in mutants_of(SAMPLE, tmp_path) if m.operator == "invert_if_else" and m.qualname == "Shape.area"]


@pytest.mark.parametrize("operator, part, old, new", [
    ("change_constant", "3 to 4", "for i in range(3):", "for i in range(4):"),
    ("change_constant", "3.14 to 4.14", "return 3.14 * self.r ** 2", "return 4.14 * self.r ** 2"),
    ("change_operator", "> to >=", "if a > b:", "if a >= b:"),
    ("change_operator", "+= to -=", "x += i", "x -= i"),
    ("change_operator", "and to or", "return x if a and b else -1", "return x if a or b else -1"),
    ("change_operator", "* to /", "x = (b - a) * 2", "x = (b - a) / 2"),
    ("change_operator", "== to !=", 'if kind == "square":', 'if kind != "square":'),
    ("break_chain", "drop .lower()", "s = a.strip().lower()", "s = a.strip()"),
    ("break_chain", "drop .strip()", "s = a.strip().lower()", "s = a.lower()"),
])
def test_expression_operators_change_one_span(tmp_path, operator, part, old, new):
    mutant = only(mutants_of(SAMPLE, tmp_path), operator, part)
    assert mutant.source == SAMPLE.replace(old, new, 1)


def test_swap_operands_keeps_the_meaning_of_parentheses(tmp_path):
    mutants = [m for m in mutants_of(SAMPLE, tmp_path) if m.operator == "swap_operands"]
    sources = {m.source for m in mutants}
    assert SAMPLE.replace("if a > b:", "if b > a:") in sources
    assert SAMPLE.replace("x = a - b  #", "x = b - a  #") in sources
    assert SAMPLE.replace("(b - a) * 2", "(a - b) * 2") in sources
    nested = mutants_of("def g(a, b, c):\n    if a: pass\n    if b: pass\n    return a - (b - c)\n", tmp_path)
    assert only(nested, "swap_operands").source.endswith("    return (b - c) - a\n")
    chained = mutants_of("def g(a, b, c):\n    if a: pass\n    if b: pass\n    return a - b - c\n", tmp_path)
    assert any(m.source.endswith("    return c - (a - b)\n") for m in chained if m.operator == "swap_operands")


def test_statement_removals(tmp_path):
    mutants = mutants_of(SAMPLE, tmp_path)
    assert only(mutants, "remove_assignment", "line 17").source == SAMPLE.replace("    s = a.strip().lower()\n", "")
    # A block left empty gets `pass`, so the mutant still parses.
    assert only(mutants, "remove_assignment", "line 9").source == SAMPLE.replace("x = a - b  # keep me", "pass")
    assert only(mutants, "remove_loop").source == SAMPLE.replace("    for i in range(3):\n        x += i\n", "")
    assert only(mutants, "remove_conditional", "line 8").source == SAMPLE.replace(
        "    if a > b:\n        x = a - b  # keep me\n    else:\n        x = (b - a) * 2\n", "")


def test_remove_wrapper_keeps_the_body_dedented(tmp_path):
    assert only(mutants_of(SAMPLE, tmp_path), "remove_wrapper").source == SAMPLE.replace(
        '    with open(a) as fh:\n        fh.write("x")\n        y = 1\n', '    fh.write("x")\n    y = 1\n')
    text = ("def g(a):\n    if a: pass\n    if not a: pass\n    try:\n        a = int(a)\n"
            "        # parsed\n    except ValueError:\n        a = 0\n    finally:\n        pass\n    return a\n")
    assert only(mutants_of(text, tmp_path), "remove_wrapper").source == (
        "def g(a):\n    if a: pass\n    if not a: pass\n    a = int(a)\n    return a\n")


def test_shuffle_lines_moves_a_statement_before_one_it_depends_on(tmp_path):
    text = ("def g(a):\n    if a: pass\n    if not a: pass\n    x = 1\n    y = x + 1  # why\n\n"
            "    z = y * 2\n    return x + y + z\n")
    mutant = only(mutants_of(text, tmp_path), "shuffle_lines")
    body = mutant.source.splitlines()[3:7]
    lines = ["    x = 1", "    y = x + 1  # why", "", "    z = y * 2"]
    assert sorted(body) == sorted(lines) and body[2] == "" and body != lines
    assert mutant.source.endswith("    return x + y + z\n")
    # Independent statements (and calls on different objects) in any order are the same program.
    same = ("def g(a, out, log):\n    if a: pass\n    if not a: pass\n    x = 1\n    y = 2\n"
            "    out.append(a)\n    log.write(a)\n    return x + y\n")
    assert not [m for m in mutants_of(same, tmp_path) if m.operator == "shuffle_lines"]
    calls = "def g(a, out):\n    if a: pass\n    if not a: pass\n    out.append(1)\n    out.append(2)\n"
    assert only(mutants_of(calls, tmp_path), "shuffle_lines").source.endswith("out.append(2)\n    out.append(1)\n")


def test_class_operators(tmp_path):
    mutants = mutants_of(SAMPLE, tmp_path)
    bases = {m.source for m in mutants if m.operator == "remove_base_class"}
    assert bases == {SAMPLE.replace("class Shape(Base, Mixin):", "class Shape(Mixin):"),
                     SAMPLE.replace("class Shape(Base, Mixin):", "class Shape(Base):")}
    lone = mutants_of("class A(B):\n    def m(self, a):\n        if a: pass\n        if not a: pass\n", tmp_path)
    assert only(lone, "remove_base_class").source.startswith("class A:\n")
    method = only(mutants, "remove_method")
    assert "def area" not in method.source and "def name(self):" in method.source
    assert [m for m in mutants if m.operator == "remove_method"] == [method]  # `name` is too simple


def test_formatting_outside_the_unit_is_byte_identical(tmp_path):
    mutants = mutants_of(SAMPLE, tmp_path)
    assert len(mutants) > 25
    tree = ast.parse(SAMPLE)
    regions = {}
    for unit in units(tree, 3):
        source = Source(SAMPLE)
        regions[unit.qualname] = (source.line_start(source.first_line(unit.node)),
                                  source.line_start(unit.node.end_lineno + 1))
    for mutant in mutants:
        lo, hi = regions[mutant.qualname]
        tail = len(SAMPLE) - hi
        assert mutant.source[:lo] == SAMPLE[:lo], mutant.description
        assert mutant.source[len(mutant.source) - tail:] == SAMPLE[hi:], mutant.description
        assert mutant.source != SAMPLE


def test_every_mutant_parses_and_its_diff_applies(tmp_path):
    for mutant in mutants_of(SAMPLE, tmp_path) + generate_mutants(FIXTURE, per_operator=50, per_function=500):
        ast.parse(mutant.source)
        original = SAMPLE if mutant.file == "mod.py" else (FIXTURE / mutant.file).read_text()
        assert apply_diff(original, mutant.diff) == mutant.source
        assert mutant.diff.startswith(f"--- a/{mutant.file}\n+++ b/{mutant.file}\n")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git apply")
def test_diffs_apply_with_git(tmp_path):
    project = tmp_path / "p"
    shutil.copytree(FIXTURE, project)
    mutants = generate_mutants(project, per_operator=50, per_function=500)
    for mutant in mutants[:: max(1, len(mutants) // 6)]:
        patch = tmp_path / "m.diff"
        patch.write_text(mutant.diff)
        subprocess.run(["git", "apply", str(patch)], cwd=project, check=True)
        assert (project / mutant.file).read_text() == mutant.source
        subprocess.run(["git", "apply", "-R", str(patch)], cwd=project, check=True)


def test_apply_diff_refuses_another_version_of_the_file(tmp_path):
    mutant = mutants_of(SAMPLE, tmp_path)[0]
    with pytest.raises(MutateError, match="does not apply"):
        apply_diff(SAMPLE.replace("if a > b:", "if a > c:").replace("x = a - b", "x = a - c"), mutant.diff)


def test_generation_is_deterministic_and_capped(tmp_path):
    first = mutants_of(SAMPLE, tmp_path, seed=3)
    assert first == mutants_of(SAMPLE, tmp_path, seed=3)
    assert len({m.id for m in first}) == len(first)
    (tmp_path / "mod.py").write_text(SAMPLE)
    capped = mutants_of_file(tmp_path, tmp_path / "mod.py", per_operator=1, per_function=4)
    by_unit = {}
    for m in capped:
        by_unit.setdefault(m.qualname, []).append(m.operator)
    assert all(len(ops) <= 4 and len(ops) == len(set(ops)) for ops in by_unit.values())
    assert len(by_unit["f"]) == 4
    picked = sample_mutants(first, 5)
    assert picked == sample_mutants(first, 5) and len(picked) == 5
    assert len({m.operator for m in picked}) == 5  # operators in turn


def test_bad_input_is_named(tmp_path):
    (tmp_path / "bad.py").write_text("def f(:\n")
    with pytest.raises(MutateError, match="bad.py"):
        generate_mutants(tmp_path)
    with pytest.raises(MutateError, match="unknown mutation operator"):
        mutants_of(SAMPLE, tmp_path, operators=["explode"])


def test_tests_for_module_maps_by_name():
    ids = ["tests/test_strutils.py::a", "tests/test_strutils_extra.py::b", "tests/test_parse.py::c"]
    assert module_test_files("boltons/strutils.py", ids) == ["tests/test_strutils.py", "tests/test_strutils_extra.py"]
    assert module_test_files("parse/__init__.py", ids) == ["tests/test_parse.py"]
    assert module_test_files("boltons/iterutils.py", ids) is None


# --- verification -------------------------------------------------------------------------

class FakeRunner:
    """Judges a mutant by reading the replaced file, as a real suite would by running it."""

    def __init__(self):
        self.calls = []

    def __call__(self, project_dir, tests):
        text = (project_dir / "tinyshop" / "pricing.py").read_text()
        self.calls.append((text, tests))
        if "while True" in text:
            return SuiteRun({}, timed_out=True)
        if "import nowhere" in text:
            return SuiteRun({}, collection_error="ModuleNotFoundError: nowhere")
        outcomes = {"t.py::test_grade": "passed" if 'return "B"' in text else "failed",
                    "t.py::test_total": "passed" if "amount - discount" in text else "failed",
                    "t.py::test_flaky": "failed", "t.py::test_skip": "skipped"}
        return SuiteRun(outcomes)


def fixture_mutant(old: str, new: str, operator: str = "hand") -> Mutant:
    original = (FIXTURE / "tinyshop" / "pricing.py").read_text()
    source = original.replace(old, new, 1)
    assert source != original
    return Mutant(f"{operator}-{hashlib.sha256(new.encode()).hexdigest()[:8]}", "tinyshop/pricing.py", "q",
                  operator, old + " -> " + new, 1, source, unified_diff(original, source, "tinyshop/pricing.py"))


def test_verify_keeps_only_mutants_that_break_a_passing_test(tmp_path):
    before = {p: p.read_bytes() for p in FIXTURE.rglob("*") if p.is_file()}
    mutants = [fixture_mutant('return "B"', 'return "b"', "a"),
               fixture_mutant("amount - discount", "discount - amount", "b"),
               fixture_mutant("return low", "return high", "c"),      # no test looks at it
               fixture_mutant("return value", "while True: pass", "d"),
               fixture_mutant('"""Prices', 'import nowhere\n"""Prices', "e")]
    runner = FakeRunner()
    report = verify_mutants(FIXTURE, mutants, runner, out=tmp_path / "r.jsonl")
    assert report.baseline_passed == 2
    status = {r["operator"]: (r["status"], r["reason"], [f["id"] for f in r["failing_tests"]]) for r in report.records}
    assert status == {"a": ("kept", "", ["t.py::test_grade"]), "b": ("kept", "", ["t.py::test_total"]),
                      "c": ("dropped", "no_test_fails", []), "d": ("dropped", "timeout", []),
                      "e": ("dropped", "does_not_import", [])}
    assert report.yield_by_operator()["c"] == {"tried": 1, "kept": 0, "dropped": {"no_test_fails": 1}}
    # The project itself is never written to; the runner saw each mutant, then the original again.
    assert before == {p: p.read_bytes() for p in FIXTURE.rglob("*") if p.is_file()}
    assert [text == mutants[i].source for i, (text, _) in enumerate(runner.calls[1:])] == [True] * 5
    header, records = read_results(tmp_path / "r.jsonl")
    assert header["version"] == 1 and header["baseline_passed"] == ["t.py::test_grade", "t.py::test_total"]
    assert records == report.records
    assert all(apply_diff((FIXTURE / r["file"]).read_text(), r["diff"]) for r in records)


def test_verify_resumes_a_killed_run_and_never_leaves_a_torn_file(tmp_path):
    mutants = [fixture_mutant('return "B"', 'return "b"', "a"), fixture_mutant("return low", "return high", "c"),
               fixture_mutant("amount - discount", "discount - amount", "b")]

    class Killed(FakeRunner):
        def __call__(self, project_dir, tests):
            if len(self.calls) == 2:
                raise KeyboardInterrupt
            return super().__call__(project_dir, tests)

    out = tmp_path / "r.jsonl"
    with pytest.raises(KeyboardInterrupt):
        verify_mutants(FIXTURE, mutants, Killed(), out=out)
    header, records = read_results(out)
    assert [r["operator"] for r in records] == ["a"]
    assert not list(tmp_path.glob("*.tmp"))
    again = FakeRunner()
    report = verify_mutants(FIXTURE, mutants, again, out=out)
    assert [r["operator"] for r in report.records] == ["a", "c", "b"]
    assert len(again.calls) == 2  # no second baseline, no rerun of the recorded mutant
    assert [json.loads(line)["operator"] for line in out.read_text().splitlines()[1:]] == ["a", "c", "b"]


def test_verify_refuses_a_results_file_of_another_project(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps({"format": "codewm.repo.mutants", "version": 1, "project": "0" * 16,
                               "baseline_passed": ["x"]}) + "\n")
    with pytest.raises(VerifyError, match="another project"):
        verify_mutants(FIXTURE, [], FakeRunner(), out=out)
    out.write_text('{"format": "codewm.repo.mutants", "version": 99}\n')
    with pytest.raises(VerifyError, match="version 99"):
        verify_mutants(FIXTURE, [], FakeRunner(), out=out)


def test_verify_names_a_mutant_of_a_file_the_project_lacks(tmp_path):
    stray = fixture_mutant('return "B"', 'return "b"')
    stray = dataclasses.replace(stray, file="tinyshop/gone.py")
    with pytest.raises(VerifyError, match="tinyshop/gone.py is not a file of the project"):
        verify_mutants(FIXTURE, [stray], FakeRunner())


def test_verify_needs_a_passing_baseline():
    with pytest.raises(VerifyError, match="no test passes"):
        verify_mutants(FIXTURE, [], lambda project, tests: SuiteRun({"t.py::x": "failed"}))
    with pytest.raises(VerifyError, match="does not run"):
        verify_mutants(FIXTURE, [], lambda project, tests: SuiteRun({}, timed_out=True))


@pytest.mark.slow
def test_verify_end_to_end_with_real_pytest(tmp_path):
    # A plain subprocess runner on a copy of the fixture: the fixture is codewm's own code.
    from codewm.repo.pytest_runner import SubprocessPytestRunner

    project = tmp_path / "repo_mutate"
    shutil.copytree(FIXTURE, project)
    mutants = generate_mutants(project, per_operator=1, per_function=3)
    expected = {  # grade(95), grade(80), grade(10) are tested; 75 and 90 themselves are not
        ("grade", "change the constant 75 to 76 at line 22"): [],
        ("grade", "change the operator >= to > at line 20"): [],
        ("grade", "swap the operands at line 20"): ["tests/check_pricing.py::test_grade"],
        ("clamp", "swap the operands at line 29"): [],  # clamp is not tested at all
        ("Basket.total", "change the operator += to -= at line 13"): [
            "tests/check_pricing.py::test_total_discounts_big_baskets",
            "tests/check_pricing.py::test_total_skips_empty_lines",
            "tests/check_pricing.py::test_total_sums_lines"],
    }
    chosen = [m for m in mutants if (m.qualname, m.description) in expected]
    assert len(chosen) == len(expected)
    report = verify_mutants(project, chosen, SubprocessPytestRunner(timeout=300), out=tmp_path / "r.jsonl")
    assert report.baseline_passed == 5
    for record in report.records:
        failing = expected[record["qualname"], record["description"]]
        assert [f["id"] for f in record["failing_tests"]] == failing
        assert (record["status"], record["reason"]) == (("kept", "") if failing else ("dropped", "no_test_fails"))
        assert all(f["outcome"] == "failed" for f in record["failing_tests"])
        assert record["tests"] == "all"  # check_pricing.py is not named test_pricing*.py


@pytest.mark.parametrize("text", [
    "import os\n\x0c\n# a form feed above: str.splitlines sees a line there, Python does not\n"
    "def f(a):\n    if a:\n        b = 1\n    if not a:\n        b = 2\n    return a + b\n",
    "def f(a):\r\n    if a:\r\n        b = 1\r\n    if not a:\r\n        b = 2\r\n    return a + b\r\n",
])
def test_line_ends_and_form_feeds_as_python_counts_them(tmp_path, text):
    (tmp_path / "mod.py").write_bytes(text.encode())
    mutants = mutants_of_file(tmp_path, tmp_path / "mod.py", per_operator=50, per_function=500)
    assert only(mutants, "change_operator", "+ to -").source == text.replace("a + b", "a - b")
    assert only(mutants, "remove_assignment", "line").source == text.replace("b = 1", "pass")
    for mutant in mutants:
        assert apply_diff(text, mutant.diff) == mutant.source
        ast.parse(mutant.source)


def test_a_resume_with_another_runner_rechecks_the_baseline(tmp_path):
    class Named(FakeRunner):
        def __init__(self, name, broken_baseline=False):
            super().__init__()
            self.name, self.broken_baseline = name, broken_baseline

        def __call__(self, project_dir, tests):
            run = super().__call__(project_dir, tests)
            if self.broken_baseline and tests is None:
                return SuiteRun({**run.outcomes, "t.py::test_total": "failed"})
            return run

    mutants = [fixture_mutant('return "B"', 'return "b"', "a"), fixture_mutant("return low", "return high", "c")]
    out = tmp_path / "r.jsonl"
    verify_mutants(FIXTURE, mutants[:1], Named("first"), out=out)
    with pytest.raises(VerifyError, match="the other runner's baseline differs from the recorded one"):
        verify_mutants(FIXTURE, mutants, Named("other", broken_baseline=True), out=out)
    second = Named("second")
    report = verify_mutants(FIXTURE, mutants, second, out=out)
    assert [tests for _, tests in second.calls] == [None, None]  # the baseline again, then the new mutant
    header, records = read_results(out)
    assert header["runner"] == "first" and header["baseline_runners"] == ["first", "second"]
    assert [r["runner"] for r in records] == ["first", "second"] == [r["runner"] for r in report.records]
    # A file from before runners were recorded was the subprocess runner's.
    header.pop("runner"), header.pop("baseline_runners")
    out.write_text("".join(json.dumps(item) + "\n" for item in [header] + records[:1]))
    again = Named("subprocess")
    verify_mutants(FIXTURE, mutants, again, out=out)
    assert len(again.calls) == 1  # the new mutant only: same runner, no second baseline


def test_a_resume_with_other_generation_options_is_refused(tmp_path):
    out = tmp_path / "r.jsonl"
    mutants = [fixture_mutant('return "B"', 'return "b"', "a")]
    verify_mutants(FIXTURE, mutants, FakeRunner(), out=out, options={"seed": 0})
    with pytest.raises(VerifyError, match="mutants made with other options"):
        verify_mutants(FIXTURE, mutants, FakeRunner(), out=out, options={"seed": 1})
    assert read_results(out)[0]["options"] == {"seed": 0}
