"""The plan: the same cases, digests, splits and shards whether it is prepared in the driver
or by helper processes."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest

from codewm.dataset import plan as plan_module
from codewm.dataset.config import config_from_dict
from codewm.dataset.fingerprint import prepare_program, program_digest
from codewm.dataset.plan import Plan, iter_plan
from codewm.dataset.prepare import PreparePool


def _config(sources: list[dict]):
    return config_from_dict({"name": "p", "shard_size": 40, "sources": sources}, output=Path("/nonexistent/out"))


def _code(compiled: bytes | None):
    # Compare code, not marshal's bytes: those depend on reference counts in the process.
    return None if compiled is None else marshal.loads(compiled)


def _planned(config, processes: int):
    plan = Plan()
    shards = [
        (shard.name, [(c.case, c.program_sha, c.split, c.batchable, _code(c.compiled)) for c in shard.cases])
        for shard in iter_plan(config, plan, processes=processes)
    ]
    return shards, plan


def test_helper_processes_make_the_same_plan(monkeypatch):
    config = _config([{"kind": "synthetic", "count": 450, "seed": 4}, {"kind": "synthetic", "count": 60, "seed": 4}])
    alone, alone_plan = _planned(config, processes=1)
    monkeypatch.setattr(plan_module, "PARALLEL_MIN_CASES", 100)  # the first source goes to helpers
    helped, helped_plan = _planned(config, processes=2)
    assert helped == alone
    assert (helped_plan.shard_names, helped_plan.total_cases, helped_plan.duplicates_removed, helped_plan.kept_cases) == (
        alone_plan.shard_names, alone_plan.total_cases, alone_plan.duplicates_removed, alone_plan.kept_cases)
    assert alone_plan.duplicates_removed == 60  # the second source repeats the first one's start
    cases = [case for _, shard in alone for case in shard]
    assert all(sha == program_digest(case.source) for case, sha, *_ in cases)
    # Set literals (frozenset constants, in the program or its call) keep about a fifth home.
    assert sum(compiled is not None for *_, compiled in cases) > 0.7 * len(cases)


def test_prepared_cases_match_preparing_in_the_driver():
    pool = PreparePool(1)
    try:
        prepared = list(pool.prepared("synthetic", {"count": 30, "seed": 9}, 30))
    finally:
        pool.close()
    assert len(prepared) == 30
    for case, sha, compiled, call_key in prepared:
        assert sha == program_digest(case.source)
        expected = prepare_program(case.source, case.call)
        assert (sha, _code(compiled), call_key) == (expected[0], _code(expected[1]), expected[2])


def test_a_failing_source_in_a_helper_stops_the_plan_with_its_error():
    pool = PreparePool(1)
    try:
        with pytest.raises(RuntimeError, match="unknown program source"):
            list(pool.prepared("no-such-source", {}, 10))
    finally:
        pool.close()


def test_digests_do_not_depend_on_the_hash_seed():
    # A set of strings iterates in an order that follows PYTHONHASHSEED; the digest (hence the
    # split) of a program must not, or a resumed build or a helper process would disagree.
    import os
    import subprocess
    import sys

    source = 'def f(x):\n    return x in {"a", "b", "c", "dd"} or x == (1, frozenset({"q", "r"}))\n'
    code = f"from codewm.dataset.fingerprint import program_digest; print(program_digest({source!r}))"
    seen = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(seen) == 1
    assert seen == {program_digest(source) + "\n"}


def test_the_program_digest_ignores_the_call_and_the_call_key_its_formatting():
    source = "def f(x, y=2):\n    return x * y\n"
    a = prepare_program(source, "f(1, y=3)")
    b = prepare_program(source, "f( 1 ,y = 3 )")
    c = prepare_program(source, "f(2)")
    assert a[0] == b[0] == c[0] == program_digest(source)
    assert a[2] == b[2] != c[2]
    # A call that does not compile: the program's digest all the same, the call as text.
    broken = prepare_program(source, "f(1,")
    assert broken[0] == program_digest(source) and broken[1] is None and broken[2].startswith("text:")
    # A program that defines its own main() is still told apart from the entry wrapper.
    own_main = "def main():\n    return 1\ndef f():\n    return main()\n"
    assert prepare_program(own_main, "f()")[0] == program_digest(own_main) != program_digest(own_main.replace("return 1", "return 2"))


def test_a_program_with_its_own_main_is_one_program_whatever_the_call():
    # The entry wrapper is renamed when the program defines main (issue 15, finding 9): the
    # fingerprint still finds it by its line, so the call stays out of the program's digest.
    source = "def main(x):\n    return x\ndef f(x):\n    return main(x)\n"
    (sha_1, _, call_1), (sha_2, _, call_2) = prepare_program(source, "f(1)"), prepare_program(source, "f(2)")
    assert sha_1 == sha_2 == program_digest(source) and call_1 != call_2
