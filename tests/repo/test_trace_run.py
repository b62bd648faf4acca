"""Repository traces end to end (`codewm.repo.trace_run`): the suite runs in the sandboxed
workspace with the calls plugin, the calls file comes back as untrusted input, the episodes
are traced and written, and the report's counts agree with what was written."""

from __future__ import annotations

import json
import os
import socket
import textwrap
import tomllib
from pathlib import Path

import pytest
from repo_helpers import needs_bwrap, tree_snapshot

from codewm.format.cwm import format_trace, parse_trace
from codewm.programs.base import source_class
from codewm.repo.project import local_project
from codewm.repo.trace_run import CALLS_NAME, EPISODES_NAME, REPORT_NAME, SOURCE_NAME, UNCHECKED_NAME, SuiteTimedOut, TraceRunError, trace_project
from codewm.repo.traces import read_calls

pytestmark = needs_bwrap
MINI = Path(__file__).resolve().parents[1] / "data" / "repo_traces"
MINI_FUNCTIONS = 16  # the project's own functions its suite calls (tests/repo/test_repo_traces.py::OWN)


@pytest.fixture(scope="module")
def traced(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("traced")
    before = tree_snapshot(MINI)
    run = trace_project(local_project(MINI), out / "out", timeout=300)
    return {"run": run, "out": out / "out", "before": before}


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_suite_runs_in_the_sandbox_and_the_counts_are_right(traced):
    run, out = traced["run"], traced["out"]
    assert run.suite.counts == {"passed": 10, "failed": 1, "error": 1, "skipped": 1}  # xpassed: passed, xfailed: skipped
    assert run.suite.outcomes["tests/check_textops.py::test_fails_on_purpose"] == "failed"
    calls = read_calls(str(out / CALLS_NAME))
    # recorded inside the sandbox: the project was its private copy at /project
    assert calls.header["root"] == "/project"
    assert calls.summary["tests"] == {"error": 1, "failed": 1, "passed": 9, "xfailed": 1, "xpassed": 1}
    report = json.loads((out / REPORT_NAME).read_text())
    assert report == json.loads(json.dumps(run.to_dict()))
    assert report["tests"] == {"run": 13, "passed": 10, "failed": 1, "error": 1, "skipped": 1, "exit_code": 1}
    assert report["functions_seen"] == MINI_FUNCTIONS == len(calls.functions)
    assert report["calls_recorded"] == sum(len(f.calls) for f in calls.functions) == report["candidates"]
    episodes = rows(out / EPISODES_NAME)
    assert report["episodes_kept"] == len(episodes) == len(run.traces.kept)
    assert report["candidates"] == report["episodes_kept"] + sum(report["dropped"].values())
    assert report["dropped"] == {"nondeterministic": 1}  # where() reads the working directory
    assert report["functions_covered"] == len({row["meta"]["function"] for row in episodes})
    assert report["recorded_dropped"] == {"duplicate": 11, "non_literal": 1, "profiler_error": 1}
    assert set(report["seconds"]) == {"suite", "read", "build", "trace", "write"}
    assert report["episodes_per_second"] == pytest.approx(report["episodes_kept"] / sum(run.phases.values()), abs=0.01)
    assert not (out / UNCHECKED_NAME).exists()
    assert tree_snapshot(MINI) == traced["before"]  # the original was never written


def test_episodes_are_cwm_traces_of_their_calls_and_feed_the_sources(traced):
    out = traced["out"]
    episodes = rows(out / EPISODES_NAME)
    calls = {row["call"] for row in episodes}
    assert {"count_vowels('Banana')", "Box(3, 4).area()", "list(pairs(3))", "shout('hi', 2, mark='?')"} <= calls
    assert "where('x')" not in calls
    for row in episodes:
        parsed = parse_trace(row["trace"])
        assert parsed.ok and parsed.trace.complete and format_trace(parsed.trace) == row["trace"], row["id"]
        assert row["call"] in parsed.trace.context and row["id"].startswith("repo/repo_traces/")
    # the snippet is a ready [[sources]] block for the `repo` source
    [block] = tomllib.loads((out / SOURCE_NAME).read_text())["sources"]
    options = {key: value for key, value in block.items() if key != "kind"}
    assert block["kind"] == "repo" and Path(options["path"]) == (out / CALLS_NAME).resolve() and Path(options["root"]) == MINI
    source = source_class(block["kind"])(**options, verify=False)
    assert len(list(source.cases())) == traced["run"].traces.candidates


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_the_suite_cannot_touch_the_host(tmp_path):
    canary = tmp_path / "outside" / "canary.txt"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    project = write_project(tmp_path / "escape", {
        "escape.py": '''
            import os

            def leave_mark(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as handle:
                    handle.write("escaped")
                return path
        ''',
        "tests/test_escape.py": f'''
            import socket
            from escape import leave_mark

            def test_writes_outside_its_copy():
                assert leave_mark({str(canary)!r})

            def test_reaches_the_host_network():
                socket.create_connection(("127.0.0.1", {server.getsockname()[1]}), timeout=5).close()
        ''',
    })
    before = tree_snapshot(project)
    try:
        run = trace_project(local_project(project), tmp_path / "out", timeout=300)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody knocked
    finally:
        server.close()
    # the write landed in the sandbox's private /tmp: the test passed there, the host has no canary
    assert run.suite.outcomes == {"tests/test_escape.py::test_reaches_the_host_network": "failed", "tests/test_escape.py::test_writes_outside_its_copy": "passed"}
    assert not canary.exists() and not canary.parent.exists()
    assert tree_snapshot(project) == before
    # the call was recorded, and its episode, which writes a file, is reported and not kept
    assert run.traces.calls_recorded == 1 and run.traces.kept == [] and run.traces.dropped == {"touched": 1}


# What a project's code can leave where the plugin writes the calls: it runs in the same
# process, knows the path ($CODEWM_CALLS_OUT) and can act after the plugin (atexit).
def forged(*rows: dict) -> str:
    """The code that writes `rows` as the calls file."""
    return f"open(path, 'w').write({''.join(json.dumps(row) + chr(10) for row in rows)!r})"


HEADER = {"kind": "header", "format": "codewm-repo-calls", "version": 1}
SUMMARY = {"kind": "summary", "tests": {}}
FUNCTION = {"kind": "function", "file": "pkg.py", "qualname": "f", "line": 1, "calls_seen": 1, "calls": [], "dropped": {}}
HOSTILE = {
    "injected": (forged(HEADER, {**FUNCTION, "calls": [{"args": "__import__('os').system('touch /tmp/owned')"}]}, SUMMARY),
                 f"{UNCHECKED_NAME}:2, call 0: 'args' is not a list of literal arguments"),
    "outside": (forged(HEADER, {**FUNCTION, "file": "../../etc/x.py"}, SUMMARY),
                f"{UNCHECKED_NAME}:2: 'file' must be a relative path to a .py file inside the project"),
    "unknown": (forged(HEADER, {**FUNCTION, "file": "elsewhere.py", "calls": [{"args": "1"}]}, SUMMARY),
                "repo: elsewhere.py (named in the calls file) is not under"),
    "garbage": ("open(path, 'wb').write(bytes([255]) * 100)", f"{UNCHECKED_NAME}:1: not a JSON line"),
    "link": ("os.remove(path); os.symlink('/etc/passwd', path)", "the calls file cannot be opened safely"),
    "fifo": ("os.remove(path); os.mkfifo(path)", "the calls file is not a regular file"),
    "missing": ("os.remove(path)", "the suite wrote no calls file"),
}


@pytest.mark.parametrize("how", sorted(HOSTILE))
def test_a_calls_file_the_projects_code_wrote_is_refused(tmp_path, how):
    action, message = HOSTILE[how]
    body = "\n".join("    " + line for line in action.splitlines())
    project = write_project(tmp_path / "hostile", {
        "pkg.py": "def f(x):\n    return x\n",
        "tests/test_pkg.py": "from pkg import f\n\ndef test_f():\n    assert f(1) == 1\n",
        "tests/conftest.py": "",
    })
    (project / "tests" / "conftest.py").write_text(
        f"import atexit, os\n\n@atexit.register\ndef clobber():\n    path = os.environ['CODEWM_CALLS_OUT']\n{body}\n")
    with pytest.raises(TraceRunError) as caught:
        trace_project(local_project(project), tmp_path / "out", timeout=300)
    assert message in str(caught.value) and caught.value.suite.counts["passed"] == 1
    assert not (tmp_path / "out" / CALLS_NAME).exists() and not (tmp_path / "out" / EPISODES_NAME).exists()
    assert not Path("/tmp/owned").exists()


def test_a_suite_past_its_time_limit_is_stopped(tmp_path):
    project = write_project(tmp_path / "slow", {
        "slow.py": "def f(x):\n    return x\n",
        "tests/test_slow.py": "import time\nfrom slow import f\n\ndef test_quick():\n    assert f(1) == 1\n\ndef test_slow():\n    time.sleep(600)\n",
    })
    with pytest.raises(SuiteTimedOut, match=r"stopped at its time limit \(8 s\)") as caught:
        trace_project(local_project(project), tmp_path / "out", timeout=8)
    assert caught.value.suite.timed_out and not (tmp_path / "out" / CALLS_NAME).exists()


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="max_per_function must be at least 1"):
        trace_project(local_project(MINI), tmp_path, max_per_function=0)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        trace_project(local_project(MINI), tmp_path, workers=0)
    assert os.listdir(tmp_path) == []
