"""Mutants verified in the sandbox (`codewm.repo.sandboxed_runner`): the verdicts of real runs
on the fixture project, a mutant that loops forever, a mutant that breaks a test module's
import, and a mutant that tries to reach the host."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from repo_helpers import DATA, host_processes_with, needs_bwrap, tree_snapshot

from codewm.repo.mutate import Mutant, unified_diff
from codewm.repo.project import local_project
from codewm.repo.sandboxed_runner import SandboxedSuiteRunner, suite_run
from codewm.repo.suite import TestReport, collection_failures, parse_report
from codewm.repo.verify import read_results, verify_mutants

SHOP = DATA.parent / "repo_mutate"  # tinyshop: tests/check_pricing.py tests Basket.total and grade
PRICING = "tinyshop/pricing.py"
TIMEOUT = 300.0  # guards against a hang only: runs on a loaded machine take seconds


def shop_mutant(old: str, new: str, operator: str) -> Mutant:
    original = (SHOP / PRICING).read_text()
    source = original.replace(old, new, 1)
    assert source != original
    return Mutant(f"{operator}-{hashlib.sha256(new.encode()).hexdigest()[:8]}", PRICING, "q", operator,
                  f"{old!r} -> {new!r}", 1, source, unified_diff(original, source, PRICING))


# --- the adapter, without a sandbox ------------------------------------------------------------

def test_a_module_that_does_not_collect_is_a_collection_error():
    data = (b'{"nodeid": "tests/test_a.py", "when": "collect", "outcome": "failed", "duration": 0.0}\n'
            b'{"nodeid": "tests/test_b.py::test_x", "when": "setup", "outcome": "failed", "duration": 0.0}\n'
            b'{"exitstatus": 2}\n')
    outcomes, status = parse_report(data)
    assert collection_failures(data) == ("tests/test_a.py",)
    report = TestReport(outcomes, 1.0, status, False, output="E   ImportError: nowhere\n", collection_errors=("tests/test_a.py",))
    run = suite_run(report)
    assert run.collection_error.startswith("could not collect tests/test_a.py:") and "ImportError: nowhere" in run.collection_error
    # A test whose set-up errs is an outcome, not a collection error.
    plain = suite_run(TestReport({"tests/test_b.py::test_x": "error"}, 1.0, 1, False))
    assert plain.collection_error == "" and plain.outcomes == {"tests/test_b.py::test_x": "error"}
    assert suite_run(TestReport({}, 1.0, 4, False, output="usage")).collection_error.startswith("pytest exit status 4")
    assert suite_run(TestReport({"a::b": "passed"}, 9.0, None, True)).timed_out


def test_a_report_cut_by_the_clock_drops_its_partial_last_line():
    data = b'{"nodeid": "t.py", "when": "collect", "outcome": "failed", "duration": 0.0}\n{"nodeid": "u.py", "wh'
    assert collection_failures(data, partial=True) == ("t.py",)


def test_the_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout must be positive"):
        SandboxedSuiteRunner(timeout=0)


# --- real runs in the sandbox -----------------------------------------------------------------

@needs_bwrap
def test_verify_in_the_sandbox_keeps_and_drops_by_real_runs(tmp_path):
    before = tree_snapshot(SHOP)
    mutants = [shop_mutant("amount += price * quantity", "amount -= price * quantity", "kept"),
               shop_mutant("    return value\n", "    return low\n", "untested"),     # clamp: no test
               shop_mutant('"""Prices', 'import tinyshop.nowhere\n"""Prices', "import")]
    runner = SandboxedSuiteRunner(local_project(SHOP), timeout=TIMEOUT)
    out = tmp_path / "r.jsonl"
    report = verify_mutants(SHOP, mutants, runner, out=out)
    assert report.baseline_passed == 5
    status = {r["operator"]: (r["status"], r["reason"]) for r in report.records}
    assert status == {"kept": ("kept", ""), "untested": ("dropped", "no_test_fails"),
                      "import": ("dropped", "does_not_import")}
    kept = report.records[0]
    assert [f["id"] for f in kept["failing_tests"]] == [
        "tests/check_pricing.py::test_total_discounts_big_baskets",
        "tests/check_pricing.py::test_total_skips_empty_lines",
        "tests/check_pricing.py::test_total_sums_lines"]
    assert "tests/check_pricing.py" in report.records[2]["error"] and "nowhere" in report.records[2]["error"]
    header, records = read_results(out)
    assert header["runner"] == "sandbox" and {r["runner"] for r in records} == {"sandbox"}
    assert tree_snapshot(SHOP) == before


@needs_bwrap
def test_a_mutant_that_loops_forever_times_out_and_leaves_nothing_running(tmp_path):
    project = tmp_path / "shop"
    shutil.copytree(SHOP, project)
    mutant = shop_mutant("        return amount\n", "        while True:\n            pass\n", "loop")
    (project / PRICING).write_text(mutant.source)
    run = SandboxedSuiteRunner(timeout=5)(project, ["tests/check_pricing.py"])
    assert run.timed_out and run.collection_error == ""
    assert host_processes_with("tests/check_pricing.py") == []


@needs_bwrap
def test_a_mutant_that_reaches_for_the_host_does_not_get_there(tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    escape = tmp_path / "escaped.txt"
    # The mutant runs its attempts when the tests import it, then breaks a tested function, so
    # that verify keeps it: proof that it ran.
    attack = (f"import os\n"
              f"for attempt in (lambda: open({str(canary)!r}, 'w').write('reached'),\n"
              f"                lambda: open({str(escape)!r}, 'w').write('escaped'),\n"
              f"                lambda: open(os.path.join(os.path.dirname(__file__), 'left.txt'), 'w').write('x')):\n"
              f"    try:\n        attempt()\n    except OSError:\n        pass\n")
    original = (SHOP / PRICING).read_text()
    source = attack + original.replace('return "B"', 'return "b"')
    mutant = Mutant("reach", PRICING, "grade", "reach", "reach for the host", 1, source, unified_diff(original, source, PRICING))
    project = tmp_path / "shop"
    shutil.copytree(SHOP, project)
    before = tree_snapshot(project)
    report = verify_mutants(project, [mutant], SandboxedSuiteRunner(timeout=TIMEOUT))
    assert report.records[0]["status"] == "kept"  # it ran, and broke grade
    assert canary.read_text() == "untouched"
    assert not escape.exists()
    assert tree_snapshot(project) == before  # not even a file left in the project it was copied from


@needs_bwrap
def test_a_mutant_that_breaks_the_conftest_import_does_not_import(tmp_path):
    # pytest stops at a conftest that does not import, before any test report: still a verdict.
    project = tmp_path / "conf"
    (project / "pkg").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pkg" / "__init__.py").write_text("def half(x):\n    return x / 2\n")
    (project / "tests" / "conftest.py").write_text("import pkg\n")
    (project / "tests" / "test_pkg.py").write_text("from pkg import half\n\n\ndef test_half():\n    assert half(4) == 2\n")
    original = (project / "pkg" / "__init__.py").read_text()
    source = "import pkg.nowhere\n" + original
    mutant = Mutant("conf", "pkg/__init__.py", "half", "hand", "import nowhere", 1, source,
                    unified_diff(original, source, "pkg/__init__.py"))
    report = verify_mutants(project, [mutant], SandboxedSuiteRunner(timeout=TIMEOUT))
    record = report.records[0]
    assert (record["status"], record["reason"]) == ("dropped", "does_not_import")
    assert "pytest wrote no test report" in record["error"] and "nowhere" in record["error"]
