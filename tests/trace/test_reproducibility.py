"""Reproducible traces (docs/tracer.md, "Reproducibility"): every trace says which Python and
which hook recorded it, `random` starts from a documented seed per program in traced and
untraced runs alike, and reprs lose what differs between machines and runs (a module's file,
a thread's identifier) in both hooks."""

from __future__ import annotations

import json
import platform
import random

import pytest

from codewm.dataset.build import build_dataset
from codewm.dataset.config import load_config
from codewm.dataset.read import iter_records
from codewm.format.json_trace import TraceFormatError, trace_from_json, trace_to_json
from codewm.trace.render import render_value
from codewm.trace.sandbox import Program, Sandbox
from codewm.trace.tracer import Recorder, _ctracer, program_seed, trace_in_process
from codewm.types import build_context, script_context

needs_c = pytest.mark.skipif(_ctracer is None, reason="the C hook was not built")
HOOKS = [pytest.param(True, marks=needs_c, id="c"), pytest.param(False, id="python")]
RANDOM_PROGRAM = "import random\ndef f(n):\n    return [random.randint(0, 10**9) for _ in range(n)]\n"


@pytest.mark.parametrize("use_c", HOOKS)
def test_every_trace_says_which_python_and_hook_recorded_it(use_c):
    result = trace_in_process(build_context("def f(x):\n    return x\n", "f(1)"), recorder=Recorder(use_c=use_c))
    runtime = {"python": platform.python_version(), "hook": "c" if use_c else "python"}
    assert result.trace.runtime == runtime
    document = json.loads(trace_to_json(result.trace))
    assert document["runtime"] == runtime
    assert trace_from_json(trace_to_json(result.trace)).runtime == runtime


def test_a_trace_document_with_a_malformed_runtime_is_refused():
    document = {"context": "x = 1\n", "frames": [], "runtime": ["3.11", "c"]}
    with pytest.raises(TraceFormatError, match="'runtime' must be an object of strings"):
        trace_from_json(json.dumps(document))


def test_sandboxed_traces_say_where_they_were_recorded():
    with Sandbox() as sandbox:
        traced, checked = sandbox.run_batch([Program.function("def f():\n    return 1\n", "f()"), Program.check("assert 1 == 1\n")])
    expected = {"python": platform.python_version(), "hook": "c" if _ctracer is not None else "python"}
    assert traced.status == checked.status == "ok"
    assert traced.trace.runtime == checked.trace.runtime == expected
    assert traced.to_dict()["trace"]["runtime"] == expected


def _drawn(context: str) -> list[int]:
    """What the program draws, by the documented rule: random.seed(program_seed(context))."""
    rng = random.Random(program_seed(context))
    return [rng.randint(0, 10**9) for _ in range(3)]


@pytest.mark.parametrize("use_c", HOOKS)
def test_random_starts_from_the_programs_documented_seed(use_c):
    context = build_context(RANDOM_PROGRAM, "f(3)")
    random.seed(12345)
    callers_next = random.Random(12345).random()
    result = trace_in_process(context, recorder=Recorder(use_c=use_c))
    assert result.trace.output == repr(_drawn(context))
    assert random.random() == callers_next  # the caller's random state is put back
    again = trace_in_process(context, recorder=Recorder(use_c=not use_c if _ctracer is not None else use_c))
    assert again.trace.output == result.trace.output
    other = build_context(RANDOM_PROGRAM, "f(3 )")  # another program text: other numbers
    assert trace_in_process(other).trace.output == repr(_drawn(other)) != result.trace.output


def test_untraced_and_sandboxed_runs_draw_the_same_numbers_as_traced_ones():
    script = script_context("import random\nxs = [random.randint(0, 10**9) for _ in range(3)]\ndone = True\n")
    expected = _drawn(script)
    namespace: dict = {}
    untraced = trace_in_process(script, script=True, traced=False, namespace=namespace)
    assert untraced.status == "ok" and namespace["xs"] == expected
    traced = trace_in_process(script, script=True)
    assert traced.trace.frames[-2].locals["xs"] == repr(expected)
    context = build_context(RANDOM_PROGRAM, "f(3)")
    with Sandbox() as sandbox:
        (sandboxed,) = sandbox.run_batch([Program(context)])
    assert sandboxed.trace.output == repr(_drawn(context))


MODULE_PROGRAM = "import json, threading\ndef f():\n    m = json\n    ms = [json, 1]\n    t = threading.Thread(target=int, name='worker', daemon=True)\n    t.start()\n    t.join()\n    ts = (t, threading.main_thread())\n    return ms\n"


@pytest.mark.parametrize("use_c", HOOKS)
def test_module_files_and_thread_identifiers_are_left_out_by_both_hooks(use_c):
    result = trace_in_process(build_context(MODULE_PROGRAM, "f()"), recorder=Recorder(use_c=use_c))
    assert result.status == "ok", result.error
    last = [frame for frame in result.trace.frames if frame.event == "line"][-1].locals
    assert last["m"] == "<module 'json'>"
    assert last["ms"] == "[<module 'json'>, 1]"
    assert last["t"] == "<Thread(worker, stopped daemon)>"
    assert last["ts"] == "(<Thread(worker, stopped daemon)>, <_MainThread(MainThread, started)>)"
    assert result.trace.output == "[<module 'json'>, 1]"


def test_the_renderer_keeps_strings_and_builtin_modules_as_they_are():
    import sys

    assert render_value("<module 'json' from '/x/json.py'>") == repr("<module 'json' from '/x/json.py'>")
    assert render_value(sys) == "<module 'sys' (built-in)>"
    assert render_value(["<Thread(a, started 123)>"]) == "['<Thread(a, started 123)>']"


def test_the_dataset_manifest_and_records_say_where_they_were_traced(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "a", "code": "def f(x):\n    return x + 1\n", "call": "f(1)"}) + "\n")
    config_path = tmp_path / "build.toml"
    config_path.write_text(
        'name = "t"\noutput = "out"\nshard_size = 4\nmax_trace_tokens = 100000\n'
        f'[limits]\nwall_seconds = 10.0\ncpu_seconds = 10.0\nmax_steps = 400\n[[sources]]\nkind = "jsonl"\npath = {json.dumps(str(rows))}\n'
    )
    config = load_config(config_path)
    build_dataset(config, workers=1, progress=False)
    manifest = json.loads((config.output / "manifest.json").read_text())
    hook = "c" if _ctracer is not None else "python"
    assert manifest["runtimes"] == {f"python {platform.python_version()}, hook {hook}": 1}
    records = list(iter_records(config.output))
    assert [record["runtime"] for record in records] == [{"python": platform.python_version(), "hook": hook}]
