"""A `SuiteRunner` that runs pytest in a plain subprocess: NOT sandboxed.

For codewm's own tests (on its fixture project) only. The project's tests are its code, so
`codewm repo mutate` and the benchmark verify mutants with the sandboxed runner
(`codewm.repo.sandboxed_runner`). Results files written before that name no runner: this one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import codewm
from codewm.repo.verify import SuiteRun

CODEWM_HOME = str(Path(codewm.__file__).resolve().parents[1])


class SubprocessPytestRunner:
    """`python -m pytest` in the project folder (so the project imports from there), each
    test's outcome read from the `codewm.repo.pytest_outcomes` plugin; a run past `timeout`
    seconds is killed with its whole process group and reported as timed out."""

    name = "subprocess"

    def __init__(self, extra_args: Sequence[str] = (), timeout: float = 600.0, python: str = sys.executable):
        self.extra_args = list(extra_args)
        self.timeout = timeout
        self.python = python

    def __call__(self, project_dir: Path, tests: Sequence[str] | None) -> SuiteRun:
        with tempfile.TemporaryDirectory(prefix="codewm-pytest-") as tmp:
            report = Path(tmp) / "outcomes.json"
            # The plugin is codewm's: the folder holding this codewm must be importable from the
            # project folder, whatever PYTHONPATH says (a relative one would point elsewhere).
            path = os.pathsep.join(filter(None, [CODEWM_HOME, os.environ.get("PYTHONPATH", "")]))
            env = {**os.environ, "CODEWM_PYTEST_OUTCOMES": str(report), "PYTHONDONTWRITEBYTECODE": "1",
                   "PYTHONPATH": path}
            command = [self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       "-p", "codewm.repo.pytest_outcomes", *self.extra_args, *(tests or [])]
            process = subprocess.Popen(command, cwd=project_dir, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            try:
                output, _ = process.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                return SuiteRun({}, timed_out=True)
            if not report.exists():
                tail = output.decode("utf-8", "replace")[-2000:]
                return SuiteRun({}, collection_error=f"pytest exited {process.returncode} without a report: {tail}")
            data = json.loads(report.read_text(encoding="utf-8"))
        errors = "\n".join(data["collection_errors"])
        if not errors and data["exitstatus"] in (2, 3, 4):  # interrupted, internal or usage error
            errors = f"pytest exit status {data['exitstatus']}: {output.decode('utf-8', 'replace')[-2000:]}"
        return SuiteRun(data["outcomes"], collection_error=errors)
