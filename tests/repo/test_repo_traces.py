"""Repository traces: the calls plugin on a tiny project's suite, the calls file read as
untrusted input, the program cases, and their episodes traced in the sandbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codewm.format.cwm import format_trace, parse_trace
from codewm.programs.base import make_source
from codewm.repo.calls_plugin import FORMAT, VERSION
from codewm.repo.traces import CallsFileError, RepoTraceSource, read_calls, trace_episodes

PROJECT = Path(__file__).resolve().parents[1] / "data" / "repo_traces"
SRC = Path(__file__).resolve().parents[2] / "src"

OWN = {
    ("minipkg/shapes.py", "Box.__init__"), ("minipkg/shapes.py", "Box.area"), ("minipkg/shapes.py", "Box.describe"),
    ("minipkg/shapes.py", "Box.grow"), ("minipkg/shapes.py", "Box.perimeter"), ("minipkg/shapes.py", "Box.square"),
    ("minipkg/textops.py", "_vowel"), ("minipkg/textops.py", "apply"), ("minipkg/textops.py", "count_vowels"),
    ("minipkg/textops.py", "digits"), ("minipkg/textops.py", "letters_only"), ("minipkg/textops.py", "pairs"),
    ("minipkg/textops.py", "scaled"), ("minipkg/textops.py", "shout"), ("minipkg/textops.py", "square"),
    ("minipkg/textops.py", "where"),
}


def run_suite(tmp: Path, plugin: bool, **env: str) -> tuple[subprocess.CompletedProcess, Path]:
    """The fixture project's suite in a subprocess, with or without the calls plugin."""
    out = tmp / "calls.jsonl"
    command = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"]
    if plugin:
        command += ["-p", "codewm.repo.calls_plugin"]
        env = {"CODEWM_CALLS_OUT": str(out), "CODEWM_CALLS_ROOT": str(PROJECT), **env}
    full_env = dict(os.environ, PYTHONPATH=str(SRC), **env)
    done = subprocess.run(command, cwd=PROJECT, env=full_env, capture_output=True, text=True, timeout=600)
    return done, out


def outcomes(stdout: str) -> dict[str, int]:
    last = stdout.strip().splitlines()[-1]
    return {kind.rstrip("s") if kind.startswith("error") else kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?)", last)}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("calls")
    baseline, _ = run_suite(tmp_path_factory.mktemp("baseline"), plugin=False)
    done, out = run_suite(tmp, plugin=True)
    return {"baseline": baseline, "run": done, "path": out, "lines": lines(out)}


def functions(rows: list[dict]) -> dict[str, dict]:
    return {row["qualname"]: row for row in rows if row["kind"] == "function"}


def test_records_the_projects_own_functions_only(recorded):
    rows = recorded["lines"]
    assert rows[0] == {**rows[0], "kind": "header", "format": FORMAT, "version": VERSION}
    assert rows[0]["hook"] == ("monitoring" if hasattr(sys, "monitoring") else "profile")
    assert rows[-1]["kind"] == "summary"
    seen = {(row["file"], row["qualname"]) for row in rows if row["kind"] == "function"}
    # not the tests' own helpers, not conftest's, not pytest's or the standard library's
    assert seen == OWN
    assert rows[-1]["functions_seen"] == len(OWN)


def without_tests(calls: list[dict]) -> list[dict]:
    return [{k: v for k, v in call.items() if k != "tests"} for call in calls]


def test_keeps_literal_arguments_and_rebuildable_receivers(recorded):
    found = functions(recorded["lines"])
    assert found["apply"]["calls"] == [] and found["apply"]["dropped"] == {"non_literal": 1}
    assert without_tests(found["shout"]["calls"]) == [{"args": "'hi', 1, mark='!'"}, {"args": "'hi', 2, mark='?'"}]
    assert without_tests(found["scaled"]["calls"]) == [{"args": "[1, 2], 2"}]
    assert {"args": "", "instance": "3, 4"} in without_tests(found["Box.area"]["calls"])
    assert without_tests(found["Box.perimeter"]["calls"]) == [{"args": "", "instance": "3, 4"}]
    assert without_tests(found["Box.square"]["calls"]) == [{"args": "2", "on_class": True}]
    assert without_tests(found["Box.describe"]["calls"]) == [{"args": "1, 2"}]
    assert {"args": "3, 4", "init": True} in without_tests(found["Box.__init__"]["calls"])


def test_each_call_names_the_tests_that_made_it(recorded):
    rows = recorded["lines"]
    ids = rows[-1]["test_ids"]
    found = functions(rows)

    def named(indices: list[int]) -> set[str]:
        return {ids[i] for i in indices}

    textops, shapes = "tests/check_textops.py::", "tests/check_shapes.py::"
    square = {call["args"]: named(call["tests"]) for call in found["square"]["calls"]}
    # 3 and 2 are kept from the loop of one test, and made again by the failing and the xfailing test
    assert square["3"] == {textops + "test_squares_with_duplicates", textops + "test_fails_on_purpose"}
    assert square["2"] == {textops + "test_squares_with_duplicates", textops + "test_xfails"}
    assert square["19"] == {textops + "test_squares_with_duplicates"}
    assert named(found["square"]["tests"]) == square["3"] | square["2"]
    # the function's reach counts calls that were not kept too (a non-literal argument)
    assert found["apply"]["calls"] == [] and named(found["apply"]["tests"]) == {textops + "test_not_literal_arguments"}
    area = {(call.get("instance"), call["args"]): named(call["tests"]) for call in found["Box.area"]["calls"]}
    assert area[("3, 4", "")] == {shapes + "test_box"}
    assert named(found["Box.__init__"]["tests"]) == {shapes + "test_box", shapes + "test_changed_instance", shapes + "test_xpasses"}
    # a failing fixture's test made no call of the project's
    assert all(shapes + "test_with_a_broken_fixture" not in named(f["tests"]) for f in found.values())
    calls = read_calls(str(recorded["path"]))
    read = {f.qualname: f for f in calls.functions}
    assert set(read["square"].tests) == square["3"] | square["2"]
    assert {c.args: set(c.tests) for c in read["square"].calls} == square


def test_deduplicates_and_caps_per_function(tmp_path):
    done, out = run_suite(tmp_path, plugin=True, CODEWM_CALLS_MAX_PER_FUNCTION="5")
    assert out.exists(), done.stdout + done.stderr
    square = functions(lines(out))["square"]
    # called with 1, 1, 1, then 0..19, then 3 and 2 by the failing and the xfailing test
    assert [call["args"] for call in square["calls"]] == ["1", "0", "2", "3", "4"]
    assert square["calls_seen"] == 25
    # at the cap, each test still renders up to 5 calls (5..9 of the loop: `cap`), so that
    # the failing test's 3 and the xfailing test's 2 count as duplicates, attributed to them
    assert square["dropped"] == {"duplicate": 5, "cap": 15}
    ids = lines(out)[-1]["test_ids"]
    assert [ids[i].rpartition("::")[2] for i in square["calls"][3]["tests"]] == ["test_squares_with_duplicates", "test_fails_on_purpose"]
    assert lines(out)[0]["max_per_function"] == 5


def test_the_tests_outcomes_do_not_change_and_a_recorder_error_fails_nothing(recorded):
    baseline, run = recorded["baseline"], recorded["run"]
    assert outcomes(baseline.stdout) == outcomes(run.stdout) == {"error": 1, "failed": 1, "passed": 9, "xfailed": 1, "xpassed": 1}
    assert re.findall(r"^FAILED (\S+)", run.stdout, re.MULTILINE) == ["tests/check_textops.py::test_fails_on_purpose"]
    assert "PASSED tests/check_textops.py::test_a_value_the_recorder_cannot_render" in run.stdout
    summary = recorded["lines"][-1]
    assert summary["tests"] == {"error": 1, "failed": 1, "passed": 9, "xfailed": 1, "xpassed": 1}
    # rendering the 5001-digit int raised inside the recorder: counted, swallowed
    assert summary["profiler_errors"] == 1
    assert functions(recorded["lines"])["digits"]["dropped"] == {"profiler_error": 1}


def test_a_bad_option_is_a_clear_error(tmp_path):
    done, out = run_suite(tmp_path, plugin=True, CODEWM_CALLS_MAX_PER_FUNCTION="lots")
    assert done.returncode != 0 and not out.exists()
    assert "CODEWM_CALLS_MAX_PER_FUNCTION must be an integer, got 'lots'" in done.stdout + done.stderr


def test_no_output_file_means_no_recording(tmp_path):
    done, out = run_suite(tmp_path, plugin=False)
    assert not out.exists() and outcomes(done.stdout)["passed"] == 9


# -- reading the file ---------------------------------------------------------------------------
def write(path: Path, rows: list) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


HEADER = {"kind": "header", "format": FORMAT, "version": VERSION}
SUMMARY = {"kind": "summary", "tests": {"passed": 1}, "test_ids": ["tests/t.py::a", "tests/t.py::b"]}
FUNCTION = {"kind": "function", "file": "minipkg/textops.py", "qualname": "square", "line": 22, "calls_seen": 1, "calls": [{"args": "3", "tests": [1]}], "dropped": {}, "tests": [0, 1]}
V1 = ({**HEADER, "version": 1}, {"kind": "summary", "tests": {"passed": 1}})
V1_FUNCTION = {"kind": "function", "file": "minipkg/textops.py", "qualname": "square", "line": 22, "calls_seen": 1, "calls": [{"args": "3"}], "dropped": {}}


def test_read_calls_still_reads_version_1_without_tests(tmp_path):
    calls = read_calls(str(write(tmp_path / "calls.jsonl", [V1[0], V1_FUNCTION, V1[1]])))
    assert calls.functions[0].tests is None and calls.functions[0].calls[0].tests is None
    calls = read_calls(str(write(tmp_path / "v2.jsonl", [HEADER, FUNCTION, SUMMARY])))
    assert calls.functions[0].tests == ("tests/t.py::a", "tests/t.py::b")
    assert calls.functions[0].calls[0].tests == ("tests/t.py::b",)


def test_read_calls_reads_what_the_plugin_wrote(recorded):
    calls = read_calls(str(recorded["path"]))
    assert {(f.file, f.qualname) for f in calls.functions} == OWN
    assert calls.summary["tests"] == {"error": 1, "failed": 1, "passed": 9, "xfailed": 1, "xpassed": 1}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([HEADER, "{not json", SUMMARY], r":2: not a JSON line"),
        ([{**HEADER, "version": 99}, SUMMARY], r":1: calls file version 99; this codewm reads versions 1, 2"),
        ([HEADER, {**FUNCTION, "tests": [0, 2]}, SUMMARY], r":2: 'tests' must be increasing indices into the summary's 2 test_ids"),
        ([HEADER, {**FUNCTION, "tests": [1, 0]}, SUMMARY], r":2: 'tests' must be increasing indices"),
        ([HEADER, {**FUNCTION, "tests": [0]}, SUMMARY], r":2: a call's tests must be among the function's 'tests'"),
        ([HEADER, {**FUNCTION, "calls": [{"args": "3", "tests": ["0"]}]}, SUMMARY], r":2, call 0: 'tests' must be increasing indices"),
        ([HEADER, {k: v for k, v in FUNCTION.items() if k != "tests"}, SUMMARY], r":2: 'tests' must be increasing indices"),
        ([HEADER, FUNCTION, {**SUMMARY, "test_ids": ["a", "a"]}], r":3: 'test_ids' must be a list of distinct test ids"),
        ([HEADER, FUNCTION, {"kind": "summary", "tests": {}}], r":3: 'test_ids' must be a list"),
        ([V1[0], {**V1_FUNCTION, "tests": [0]}, V1[1]], r":2: 'tests' in a version 1 file"),
        ([V1[0], V1_FUNCTION, SUMMARY], r":3: a version 1 file has no 'test_ids'"),
        ([{**HEADER, "format": "other"}, SUMMARY], r":1: not a calls file"),
        ([HEADER, FUNCTION], r":2: the last line must be the summary"),
        ([HEADER, {**FUNCTION, "calls": [{"args": "__import__('os').system('true')"}]}, SUMMARY], r":2, call 0: 'args' is not a list of literal arguments"),
        ([HEADER, {**FUNCTION, "calls": [{"args": "1), print(2"}]}, SUMMARY], r":2, call 0: 'args' is not a list of literal arguments"),
        ([HEADER, {**FUNCTION, "calls": [{"args": "*[1]"}]}, SUMMARY], r":2, call 0: 'args' is not a list of literal arguments"),
        ([HEADER, {**FUNCTION, "file": "../outside.py"}, SUMMARY], r":2: 'file' must be a relative path"),
        ([HEADER, {**FUNCTION, "file": "/etc/passwd.py"}, SUMMARY], r":2: 'file' must be a relative path"),
        ([HEADER, {**FUNCTION, "qualname": "f; import os"}, SUMMARY], r":2: 'qualname' must be a dotted name"),
        ([HEADER, {**FUNCTION, "line": "1"}, SUMMARY], r":2: 'line' must be a positive integer"),
        ([HEADER, {**FUNCTION, "calls": [{"args": "1", "instance": "2", "init": True}]}, SUMMARY], r"at most one of instance"),
        ([HEADER, [1, 2], SUMMARY], r":2: a line must be a JSON object"),
    ],
)
def test_read_calls_rejects_malformed_files(tmp_path, rows, message):
    path = write(tmp_path / "calls.jsonl", rows)
    with pytest.raises(CallsFileError) as caught:
        read_calls(str(path))
    assert str(caught.value).startswith(str(path) + ":") and re.search(message, str(caught.value)), str(caught.value)


def test_read_calls_caps_the_size(tmp_path):
    path = write(tmp_path / "calls.jsonl", [HEADER, FUNCTION, SUMMARY])
    with pytest.raises(CallsFileError, match="more than the 100 a calls file may have"):
        read_calls(str(path), max_bytes=100)
    with pytest.raises(CallsFileError, match="empty"):
        read_calls(str(write(tmp_path / "empty.jsonl", [])))


# -- cases and episodes -------------------------------------------------------------------------
def test_the_source_yields_deterministic_self_contained_cases(recorded):
    source = make_source("repo", path=str(recorded["path"]), root=str(PROJECT), verify=False)
    first, again = list(source.cases()), list(source.cases())
    assert first == again and [c.id for c in first] == [c.id for c in again]
    by_call = {case.call: case for case in first}
    assert {"Box(3, 4)", "Box(3, 4).area()", "Box(3, 4).perimeter", "Box.square(2)", "Box.describe(1, 2)", "list(pairs(3))", "scaled([1, 2], 2)"} <= set(by_call)
    assert by_call["square(0)"].id == "repo/repo_traces/minipkg/textops.py::square#1"
    assert all(case.origin == "repo" for case in first)
    # the project is not importable where the cases run: what they need is copied in
    for case in first:
        assert "minipkg" not in case.source and "from ." not in case.source
    assert "UNIT = 2\nBASE_UNIT = UNIT\n" in by_call["scaled([1, 2], 2)"].source
    assert 'VOWELS = set("aeiou")' in by_call["count_vowels('sky')"].source and "def _vowel" in by_call["count_vowels('sky')"].source
    assert "import string" in by_call["letters_only('object')"].source
    assert not getattr(source, "batchable", False)


def test_episodes_trace_ok_in_the_sandbox_in_the_cwm_format(recorded):
    source = RepoTraceSource(str(recorded["path"]), str(PROJECT), project="mini", workers=2)
    build = source.candidates()
    report = trace_episodes(build, project="mini", workers=2)
    kept = {case.call for case in report.kept}
    assert {"count_vowels('Banana')", "scaled([1, 2], 2)", "Box(3, 4).area()", "Box(3, 4).perimeter", "list(pairs(3))", "shout('hi', 2, mark='?')"} <= kept
    # where() reads the working directory, which the second run changes
    assert "where('x')" not in kept and report.dropped["nondeterministic"] == 1
    assert report.candidates == len(build.cases) == len(report.kept) + sum(report.dropped.values())
    assert report.functions_covered == len({case.meta["function"] for case in report.kept})
    assert report.to_dict()["episodes_kept"] == len(report.episodes) == len(report.kept)
    on = {kind: {case.call for case in report.kept if case.meta["receiver"] == kind} for kind in ("class", "constructor", "instance")}
    assert on == {
        "class": {"Box.square(2)", "Box.describe(1, 2)"},
        "constructor": {"Box(3, 4)", "Box(2, 2)", "Box(1, 1)", "Box(2, 1)"},
        "instance": {"Box(3, 4).area()", "Box(2, 2).area()", "Box(1, 1).area()", "Box(1, 1).grow(2)", "Box(3, 4).perimeter", "Box(2, 1).area()"},
    }
    assert report.to_dict()["kept_by_receiver"] == {"class": 2, "constructor": 4, "function": len(report.kept) - 12, "instance": 6}
    for case, episode in zip(report.kept, report.episodes):
        parsed = parse_trace(episode)
        assert parsed.ok, (case.id, parsed.error)
        assert parsed.trace.complete and format_trace(parsed.trace) == episode
        assert case.call in parsed.trace.context
    assert [c.id for c in source.cases()] == [c.id for c in report.kept]


def test_a_module_linked_from_outside_the_project_is_not_read(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def f(x):\n    return x\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "mod.py").symlink_to(outside / "secret.py")
    calls = write(tmp_path / "calls.jsonl", [HEADER, {**FUNCTION, "file": "mod.py", "qualname": "f", "line": 1}, SUMMARY])
    build = RepoTraceSource(str(calls), str(project), verify=False).candidates()
    assert build.cases == [] and build.dropped == {"outside_root": 1}


def test_a_dataset_build_mixes_the_repo_source_with_another(recorded, tmp_path):
    from codewm.dataset.build import build_dataset
    from codewm.dataset.config import config_from_dict

    (tmp_path / "calls.jsonl").write_bytes(recorded["path"].read_bytes())
    config = config_from_dict(
        {"name": "mix", "output": "out", "shard_size": 50, "sources": [
            {"kind": "synthetic", "count": 5, "seed": 1},
            {"kind": "repo", "path": "calls.jsonl", "root": str(PROJECT), "project": "mini", "workers": 1},
        ]},
        base=tmp_path,
    )
    build_dataset(config, workers=2, progress=False)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    kept = len(list(RepoTraceSource(str(tmp_path / "calls.jsonl"), str(PROJECT), project="mini").cases()))
    assert manifest["source_mix"] == {"repo": kept, "synthetic": 5}
    assert manifest["statuses"] == {"ok": kept + 5}
