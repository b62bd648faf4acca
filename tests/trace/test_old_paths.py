"""Import paths kept after the renovation of issue 14 (the names now live elsewhere)."""

from __future__ import annotations

import codewm.types
from codewm.trace import sandbox, types, worker


def test_the_shared_types_keep_their_old_path():
    for name in ("Trace", "Frame", "RunResult", "STATUSES", "build_context", "script_context", "action_lines", "START_MARKER"):
        assert getattr(types, name) is getattr(codewm.types, name)


def test_the_sandbox_still_offers_its_result_type_and_the_worker_its_entry_point():
    assert sandbox.RunResult is codewm.types.RunResult and sandbox.STATUSES is codewm.types.STATUSES
    assert callable(worker.main) and callable(worker.Worker)
