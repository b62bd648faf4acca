"""Running a project's tests and reading their report: per-test outcomes of the fixture
project, the same ids run after run, and a report that the tests tampered with (or that is
malformed, a link, a FIFO, too large) is a clear ReportError, never a crash or a hang."""

from __future__ import annotations

import json
import os

import pytest
from repo_helpers import DATA, needs_bwrap, write_suite

from codewm.repo.project import local_project
from codewm.repo.suite import MAX_REPORT_BYTES, ReportError, parse_report, read_report, run_tests
from codewm.repo.workspace import Workspace

TINY_OUTCOMES = {
    "tests/test_shapes.py::test_perimeter[rect-sides1-6]": "passed",
    "tests/test_shapes.py::test_perimeter[square-sides0-8]": "passed",
    "tests/test_shapes.py::test_rect_area": "passed",
    "tests/test_shapes.py::test_rect_perimeter_wrong": "failed",
    "tests/test_shapes.py::test_square_area": "passed",
    "tests/test_shapes.py::test_triangle": "skipped",
    "tests/test_textutil.py::test_slug": "passed",
    "tests/test_textutil.py::test_with_broken_fixture": "error",
    "tests/test_textutil.py::test_words": "passed",
}


def _line(**record) -> bytes:
    return (json.dumps(record) + "\n").encode()


@needs_bwrap
def test_fixture_project_outcomes_are_exact_and_repeat():
    with Workspace(local_project(DATA / "tinypkg")) as workspace:
        first = run_tests(workspace, timeout=300)
        second = run_tests(workspace, timeout=300)
        chosen = run_tests(workspace, tests=["tests/test_textutil.py"], timeout=300)
        keyword = run_tests(workspace, keyword="area", timeout=300)
    # The project's own addopts ask for a plugin that is not installed: the default options clear them.
    assert first.outcomes == TINY_OUTCOMES, first.output[-3000:]
    assert second.outcomes == first.outcomes and list(second.outcomes) == list(first.outcomes)
    assert first.counts == {"passed": 6, "failed": 1, "error": 1, "skipped": 1} and first.tests_run == 9
    assert first.exit_code == 1 and not first.timed_out
    assert set(chosen.outcomes) == {k for k in TINY_OUTCOMES if k.startswith("tests/test_textutil.py")}
    assert set(keyword.outcomes) == {"tests/test_shapes.py::test_rect_area", "tests/test_shapes.py::test_square_area"}


@needs_bwrap
@pytest.mark.parametrize(
    "tamper, message",
    [
        ("open(path, 'w').write('not json at all\\n')", "line 1: not JSON"),
        ("os.unlink(path); os.symlink('/etc/passwd', path)", "cannot be opened safely"),
        ("os.unlink(path); os.mkfifo(path)", "not a regular file"),
        ("os.unlink(path); os.mkdir(path); open(path + '/x', 'w').close()", "not a regular file"),
    ],
)
def test_a_report_the_tests_tampered_with_is_a_clear_error(tmp_path, tamper, message):
    root = write_suite(tmp_path / "tamper", f"import os\n\npath = os.environ['CODEWM_TEST_REPORT']\n{tamper}\n\ndef test_x():\n    pass\n")
    with Workspace(local_project(root)) as workspace:
        with pytest.raises(ReportError, match=message):
            run_tests(workspace, timeout=300)
        with pytest.raises(ReportError, match=message):  # what the last run left does not break the next
            run_tests(workspace, timeout=300)


def test_parse_report_outcomes_and_precedence():
    data = b"".join([
        _line(nodeid="t.py::a", when="setup", outcome="passed"),
        _line(nodeid="t.py::a", when="call", outcome="passed"),
        _line(nodeid="t.py::a", when="teardown", outcome="failed"),  # an error in tear-down outranks the pass
        _line(nodeid="t.py::b", when="setup", outcome="skipped"),
        _line(nodeid="t.py::c", when="call", outcome="failed"),
        _line(nodeid="u.py", when="collect", outcome="failed"),
        _line(exitstatus=2),
    ])
    outcomes, status = parse_report(data)
    assert outcomes == {"t.py::a": "error", "t.py::b": "skipped", "t.py::c": "failed", "u.py": "error"}
    assert status == 2


@pytest.mark.parametrize(
    "data, message",
    [
        (b"{not json\n", "line 1: not JSON"),
        (b"[1, 2]\n", "line 1: expected an object"),
        (_line(nodeid="a", when="call", outcome="passed") + b"\xff\xfe\n", "line 2: not JSON"),
        (_line(nodeid=7, when="call", outcome="passed"), "'nodeid' must be a non-empty string"),
        (_line(nodeid="x" * 10_000, when="call", outcome="passed"), "'nodeid' must be"),
        (_line(nodeid="a", when="lunch", outcome="passed"), "'when' must be one of"),
        (_line(nodeid="a", when="call", outcome="great"), "'outcome' must be passed, failed or skipped"),
        (_line(exitstatus="0"), "malformed exit status"),
        (_line(exitstatus=0) + _line(nodeid="a", when="call", outcome="passed"), "line 2: a line after the exit status"),
        (_line(nodeid="a", when="call", outcome="passed") + b'{"nodeid": "b", "wh', "line 2: not JSON"),
    ],
)
def test_malformed_reports_are_clear_errors(data, message):
    with pytest.raises(ReportError, match=message):
        parse_report(data, where="report.jsonl")


def test_a_report_cut_short_by_the_wall_clock_keeps_its_whole_lines():
    data = _line(nodeid="a", when="call", outcome="passed") + b'{"nodeid": "b", "wh'
    assert parse_report(data, partial=True) == ({"a": "passed"}, None)


def test_read_report_refuses_links_fifos_and_huge_files(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(_line(exitstatus=0))
    assert read_report(str(good)) == _line(exitstatus=0)
    link = tmp_path / "link.jsonl"
    link.symlink_to(good)
    with pytest.raises(ReportError, match="cannot be opened safely"):
        read_report(str(link))
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ReportError, match="not a regular file"):
        read_report(str(fifo))  # no writer: a blocking open would hang here
    huge = tmp_path / "huge.jsonl"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_REPORT_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ReportError, match="more than the"):
        read_report(str(huge))
    with pytest.raises(FileNotFoundError):
        read_report(str(tmp_path / "missing.jsonl"))
