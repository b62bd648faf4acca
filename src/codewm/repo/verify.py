"""Keep the mutants some test catches: the verify half of mutate-and-verify (issue 18, item 2).

`verify_mutants` runs the project's suite once on a private copy (the baseline), then, for each
mutant, the tests that concern its file with that one file replaced, and keeps the mutant only
if at least one test that passed on the original now fails. It never touches `project_root`.

The runner is a parameter (`SuiteRunner`): whatever runs pytest in a folder and says how each
test ended. In production that is `codewm.repo.sandboxed_runner.SandboxedSuiteRunner`, since
the mutants and the tests are the project's code; `codewm.repo.pytest_runner` runs a plain
subprocess and is only for codewm's own tests on its fixture.

Results go to a versioned JSONL file, rewritten atomically after every mutant: a killed run
leaves the previous complete file, and a rerun with the same file resumes after the mutants
already recorded (the baseline is kept in its header, not run again). Each record names the
runner that verified it (`runner`: the runner's `name`; a record without one was verified by
the subprocess runner, which wrote the first files). A run resumed with another runner than
the baseline's runs the baseline again with it, and goes on only if the same tests pass.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Protocol, Sequence

from codewm.repo.mutate import Mutant, source_files

FORMAT = "codewm.repo.mutants"
VERSION = 1
PASSED = "passed"
# The runner of a header or record that names none: the subprocess runner wrote those files.
UNNAMED_RUNNER = "subprocess"
COPY_IGNORED = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".tox", "*.pyc")


class VerifyError(RuntimeError):
    """The baseline cannot be established, or a results file belongs to another run."""


@dataclass(frozen=True)
class SuiteRun:
    """How a pytest run ended: each test's outcome by node id ("passed", "failed", "error",
    "skipped", "xfailed"); `collection_error` non-empty when a test module did not import."""

    outcomes: dict[str, str]
    timed_out: bool = False
    collection_error: str = ""


class SuiteRunner(Protocol):
    """Run pytest in `project_dir` (all tests, or only these test files / node ids)."""

    def __call__(self, project_dir: Path, tests: Sequence[str] | None) -> SuiteRun: ...


@dataclass
class VerifyReport:
    """What the run kept and why it dropped the rest; `records` are the JSONL lines."""

    baseline_passed: int
    records: list[dict] = field(default_factory=list)
    baseline_seconds: float = 0.0  # the whole suite once, on the original

    def yield_by_operator(self) -> dict[str, dict]:
        table: dict[str, dict] = {}
        for record in self.records:
            row = table.setdefault(record["operator"], {"tried": 0, "kept": 0, "dropped": Counter()})
            row["tried"] += 1
            if record["status"] == "kept":
                row["kept"] += 1
            else:
                row["dropped"][record["reason"]] += 1
        return {op: {"tried": r["tried"], "kept": r["kept"], "dropped": dict(r["dropped"])}
                for op, r in sorted(table.items())}

    @property
    def kept(self) -> list[dict]:
        return [r for r in self.records if r["status"] == "kept"]


def module_test_files(file: str, test_ids: Iterable[str]) -> list[str] | None:
    """The test files named after the mutated module (`pkg/strutils.py` -> `test_strutils*.py`,
    `parse/__init__.py` -> `test_parse*.py`), or None (the whole suite) when there are none."""
    path = PurePosixPath(file)
    stem = path.parent.name if path.stem == "__init__" else path.stem
    files = sorted({t.split("::")[0] for t in test_ids
                    if PurePosixPath(t.split("::")[0]).name.startswith(f"test_{stem}")})
    return files or None


def fingerprint(root: Path) -> str:
    """A digest of the project's source files, so a results file is resumed only against the
    project it was made from."""
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write `content` (text as UTF-8) to a temporary file beside `path`, fsync, rename over
    it: readers and a crash see the old file or the new one, never a torn one."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_results(path: Path) -> tuple[dict, list[dict]]:
    """The header and records of a results file; a file of another format or version, or a
    damaged one, is a VerifyError naming the file and line."""
    header, records = None, []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise VerifyError(f"{path}:{number}: not JSON ({exc})") from None
            if number == 1:
                if not isinstance(item, dict) or item.get("format") != FORMAT:
                    raise VerifyError(f"{path}:1: not a {FORMAT} file")
                if item.get("version") != VERSION:
                    raise VerifyError(f"{path}:1: version {item.get('version')!r}, this codewm reads {VERSION}")
                header = item
            else:
                records.append(item)
    if header is None:
        raise VerifyError(f"{path}: empty")
    return header, records


def dump(header: dict, records: list[dict]) -> str:
    return "".join(json.dumps(item, sort_keys=True) + "\n" for item in [header] + records)


def drop_bytecode(path: Path) -> None:
    """Remove the cached bytecode of a replaced module: pyc files are keyed on mtime (whole
    seconds) and size, which a same-size mutant written within the second would share."""
    cache = path.parent / "__pycache__"
    if cache.is_dir():
        for pyc in cache.glob(f"{path.stem}.*.pyc"):
            pyc.unlink(missing_ok=True)


def runner_name(run_tests: SuiteRunner) -> str:
    """What the results file records as the runner: its `name` ("unnamed" if it has none)."""
    return str(getattr(run_tests, "name", "") or "unnamed")


def run_baseline(root: Path, copy: Path, run_tests: SuiteRunner) -> tuple[list[str], int, float]:
    """The tests that pass on the original project (sorted), how many ran, and the seconds."""
    started = time.monotonic()
    baseline = run_tests(copy, None)
    seconds = round(time.monotonic() - started, 3)
    if baseline.timed_out or baseline.collection_error:
        raise VerifyError(f"{root}: the test suite does not run on the original project "
                          f"({'timed out' if baseline.timed_out else baseline.collection_error})")
    passing = sorted(t for t, o in baseline.outcomes.items() if o == PASSED)
    if not passing:
        raise VerifyError(f"{root}: no test passes on the original project, nothing can catch a mutant")
    return passing, len(baseline.outcomes), seconds


def recheck_baseline(root: Path, copy: Path, run_tests: SuiteRunner, header: dict, out: Path) -> dict:
    """A results file resumed with a runner other than its baseline's: the same tests must
    pass with this one, else its verdicts would be read against another baseline."""
    runner = runner_name(run_tests)
    runners = header.get("baseline_runners") or [header.get("runner", UNNAMED_RUNNER)]
    if runner in runners:
        return header
    passing, _, _ = run_baseline(root, copy, run_tests)
    if passing != header["baseline_passed"]:
        recorded = set(header["baseline_passed"])
        only_new, only_old = sorted(set(passing) - recorded), sorted(recorded - set(passing))
        raise VerifyError(f"{out}: the {runner} runner's baseline differs from the recorded one "
                          f"({', '.join(runners)}): {len(only_new)} more passing (e.g. {only_new[:3]}), "
                          f"{len(only_old)} no longer passing (e.g. {only_old[:3]}); use a new file")
    return {**header, "baseline_runners": runners + [runner]}


def verify_mutants(project_root: Path, mutants: Sequence[Mutant], run_tests: SuiteRunner, *,
                   out: Path | None = None,
                   select_tests: Callable[[str, Iterable[str]], list[str] | None] = module_test_files,
                   on_result: Callable[[dict], None] | None = None,
                   options: dict | None = None) -> VerifyReport:
    """Run each mutant's tests on a private copy of the project and classify it: "kept" (some
    test that passed on the original fails: `failing_tests` lists them) or "dropped" with a
    `reason`: "no_test_fails", "timeout", "does_not_import". `options`: how the mutants were
    made, kept in the header; a file made with other options is not resumed."""
    root = Path(project_root).resolve()
    project = fingerprint(root)
    header: dict | None = None
    records: list[dict] = []
    if out is not None and Path(out).exists():
        header, records = read_results(Path(out))
        if header.get("project") != project:
            raise VerifyError(f"{out}: results of another project or version "
                              f"({header.get('project')} != {project}); use a new file")
        if options is not None and "options" in header and header["options"] != options:
            raise VerifyError(f"{out}: mutants made with other options ({header['options']}, "
                              f"now {options}); use the same ones to resume, or a new file")
    done = {r["id"] for r in records}
    with tempfile.TemporaryDirectory(prefix="codewm-mutate-") as scratch:
        copy = Path(scratch) / root.name
        shutil.copytree(root, copy, ignore=COPY_IGNORED)
        runner = runner_name(run_tests)
        if header is None:
            passing, tests, seconds = run_baseline(root, copy, run_tests)
            header = {"format": FORMAT, "version": VERSION, "project": project, "root": str(root),
                      "baseline_passed": passing, "baseline_tests": tests,
                      "baseline_seconds": seconds, "runner": runner}
            if options is not None:
                header["options"] = options
            if out is not None:
                write_atomically(Path(out), dump(header, records))
        elif any(mutant.id not in done for mutant in mutants):
            checked = recheck_baseline(root, copy, run_tests, header, Path(out))
            if checked is not header:
                header = checked
                write_atomically(Path(out), dump(header, records))
        passing_set = set(header["baseline_passed"])
        for mutant in mutants:
            if mutant.id in done:
                continue
            record = {**verify_one(copy, mutant, run_tests, passing_set, select_tests), "runner": runner}
            records.append(record)
            done.add(mutant.id)
            if out is not None:
                write_atomically(Path(out), dump(header, records))
            if on_result is not None:
                on_result(record)
    return VerifyReport(len(header["baseline_passed"]), records, header.get("baseline_seconds", 0.0))


def verify_one(copy: Path, mutant: Mutant, run_tests: SuiteRunner, passing: set[str],
               select_tests: Callable[[str, Iterable[str]], list[str] | None]) -> dict:
    target = copy / mutant.file
    if not target.is_file():
        raise VerifyError(f"mutant {mutant.id}: {mutant.file} is not a file of the project")
    original = target.read_bytes()
    selected = select_tests(mutant.file, sorted(passing))
    started = time.monotonic()
    try:
        target.write_bytes(mutant.source.encode("utf-8"))
        drop_bytecode(target)
        run = run_tests(copy, selected)
    finally:
        target.write_bytes(original)
        drop_bytecode(target)
    seconds = round(time.monotonic() - started, 3)
    considered = passing if selected is None else {
        t for t in passing if any(t == s or t.startswith(s.rstrip("/") + "::") or t.startswith(s.rstrip("/") + "/")
                                  for s in selected)}
    record = {**mutant.record(), "tests": selected or "all", "tests_run": len(run.outcomes),
              "seconds": seconds, "failing_tests": []}
    if run.timed_out:
        return {**record, "status": "dropped", "reason": "timeout"}
    if run.collection_error:
        return {**record, "status": "dropped", "reason": "does_not_import",
                "error": run.collection_error[-2000:]}
    failing = sorted(t for t in considered if run.outcomes.get(t, "missing") != PASSED)
    if not failing:
        return {**record, "status": "dropped", "reason": "no_test_fails"}
    return {**record, "status": "kept", "reason": "",
            "failing_tests": [{"id": t, "outcome": run.outcomes.get(t, "missing")} for t in failing]}
