"""Golden traces: each program in `programs/` traced in the sandbox, checked byte for byte.

Every `programs/NAME.py` starts with a line `# call: CALL` naming the call to trace; the rest
of the file is the program (the call line is not part of the traced context). The expected
outputs are

- `expected/NAME.cwm`: `format_trace(trace)`, the whole CWM sequence (prompt and frames);
- `expected/NAME.json`: `trace_to_json(trace, indent=1)`, lossless (line numbers, functions);

both written exactly, with no trailing newline added. The traces come from the sandboxed run
(`Sandbox().run_function`); the in-process tracer must give the same trace.

Regenerate the expected files after an intended change of the trace or the formats with

    CODEWM_REGEN_GOLDEN=1 python -m pytest tests/golden

then read the diff of `tests/golden/expected/` before committing it: a golden file only
records what the tracer did, and a wrong tracer must not be enshrined.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from codewm.format.cwm import format_trace
from codewm.format.json_trace import trace_to_json
from codewm.trace.sandbox import Sandbox
from codewm.trace.tracer import trace_function
from codewm.types import Trace

HERE = Path(__file__).parent
PROGRAMS = HERE / "programs"
EXPECTED = HERE / "expected"
REGEN = os.environ.get("CODEWM_REGEN_GOLDEN") == "1"
CALL_PREFIX = "# call: "

# Programs whose entry point is left by an exception; every other program returns normally.
EXPECTED_STATUS = {"exception_uncaught": "exception"}

NAMES = sorted(path.stem for path in PROGRAMS.glob("*.py"))


def load_program(name: str) -> tuple[str, str]:
    """(source, call) of `programs/NAME.py`: the first line names the call, the rest is the program."""
    text = (PROGRAMS / f"{name}.py").read_text(encoding="utf-8")
    first, _, source = text.partition("\n")
    assert first.startswith(CALL_PREFIX), f"{name}.py must start with '{CALL_PREFIX}...'"
    return source, first[len(CALL_PREFIX) :].strip()


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as box:
        yield box


def _check_or_write(path: Path, actual: str) -> None:
    data = actual.encode("utf-8")
    if REGEN:
        path.write_bytes(data)
        return
    assert path.exists(), f"{path} is missing; regenerate with CODEWM_REGEN_GOLDEN=1 python -m pytest tests/golden"
    expected = path.read_bytes()
    assert data == expected, f"{path.name} differs from the traced output (regenerate with CODEWM_REGEN_GOLDEN=1 if intended)"


def _check_shape(trace: Trace) -> None:
    """Properties every trace of a well-behaved program has, whatever the golden files say."""
    frames = trace.frames
    assert trace.complete
    assert frames[0].event == "call" and frames[0].depth == 0 and frames[0].source == "def main():\n"
    assert frames[0].locals == {}
    assert frames[-1].event == "return" and frames[-1].depth == 0
    context_lines = trace.context.splitlines(keepends=True)
    open_scopes = 0
    for frame in frames:
        # Depth follows the call/return nesting exactly.
        if frame.event == "call":
            assert frame.depth == open_scopes
            open_scopes += 1
        else:
            assert frame.depth == open_scopes - 1
            if frame.event == "return":
                open_scopes -= 1
        # Every action is a line of the program, found at the recorded line number.
        assert 1 <= frame.lineno <= len(context_lines)
        assert frame.source == context_lines[frame.lineno - 1].replace("  # << START_OF_TRACE", "")
        assert frame.function, "every frame names its code object"
        for text in list((frame.locals or {}).values()) + [frame.value or ""]:
            assert not re.search(r"0x[0-9a-fA-F]{6,}", text), f"a memory address leaked: {text!r}"
        for name in frame.locals or {}:
            assert not name.startswith("__"), f"an interpreter local leaked: {name!r}"
    assert open_scopes == 0


def test_there_are_enough_programs():
    assert len(NAMES) >= 18


def test_no_stale_expected_files():
    stems = {path.stem for path in EXPECTED.iterdir() if path.suffix in (".cwm", ".json")}
    assert stems <= set(NAMES), f"expected files without a program: {sorted(stems - set(NAMES))}"


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, sandbox: Sandbox) -> None:
    source, call = load_program(name)
    status = EXPECTED_STATUS.get(name, "ok")

    result = sandbox.run_function(source, call)
    assert result.status == status, result.error
    trace = result.trace
    _check_shape(trace)
    assert trace.raised == (status == "exception")

    # The in-process tracer sees the very same execution (frames and their metadata).
    local = trace_function(source, call)
    assert local.status == status, local.error
    assert local.trace == trace
    assert local.trace.to_dict() == trace.to_dict()

    _check_or_write(EXPECTED / f"{name}.cwm", format_trace(trace))
    # Where it was traced (Python version, hook) is the machine's, not the program's: the
    # golden JSON leaves it out (tests/trace/test_reproducibility.py checks it).
    assert trace.runtime is not None
    trace.runtime = None
    _check_or_write(EXPECTED / f"{name}.json", trace_to_json(trace, indent=1))
