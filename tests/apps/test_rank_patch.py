"""Speculative validation of patches: diffs of one function of a file, ranked and verified."""

from __future__ import annotations

import difflib

import pytest

from codewm.apps.rank.patch import PatchError, apply_patch, patched_candidates, rank_patches
from codewm.apps.rank.predictions import Predictions
from codewm.trace.sandbox import Sandbox

FILE = '''SEPARATOR = ","


def parse(text):
    """The integers of a separated list."""
    return [int(part) for part in text.split(SEPARATOR)]


def total(text):
    return sum(parse(text))
'''


def diff_to(new: str) -> str:
    return "".join(difflib.unified_diff(FILE.splitlines(keepends=True), new.splitlines(keepends=True), "a/m.py", "b/m.py"))


FIX = diff_to(FILE.replace("for part in text.split(SEPARATOR)]", "for part in text.split(SEPARATOR) if part.strip()]"))
WRONG = diff_to(FILE.replace("[int(part)", "[int(part) + 1"))
LOOPS = diff_to(FILE.replace("    return [int(part)", "    while True:\n        pass\n    return [int(part)"))
OUTSIDE = diff_to(FILE.replace('SEPARATOR = ","', 'SEPARATOR = ";"'))
TESTS = ['assert parse("1,2") == [1, 2]', 'assert parse("1,,2") == [1, 2]', 'assert parse("") == []', 'assert total("3,4") == 7']
HIDDEN = 'assert parse("5,,6,") == [5, 6]\nassert total("1,2,") == 3\n'


def test_a_diff_applies_or_says_which_hunk_does_not():
    patched, touched = apply_patch(FILE, FIX)
    assert "if part.strip()]" in patched and touched == [6, 7]  # line 6 removed, the new one inserted before 7
    with pytest.raises(PatchError, match="hunk 1 does not apply at line"):
        apply_patch(FILE.replace("text.split", "text.rsplit"), FIX)
    with pytest.raises(PatchError, match="no hunk"):
        apply_patch(FILE, "not a diff")


def test_a_diff_outside_the_function_is_left_out_with_the_reason():
    out = patched_candidates(FILE, "parse", [FIX, OUTSIDE, "@@ -1,1 +1,1 @@\n-nothing\n+x\n"])
    assert out[0].source is not None and out[0].error is None
    assert out[1].source is None and "outside 'parse'" in out[1].error
    assert out[2].source is None and "does not apply" in out[2].error


def test_patches_are_ranked_by_predicted_results_and_the_fix_is_verified_first(oracle):
    with Sandbox(workers=2) as sandbox:
        ranking, patched = rank_patches(FILE, "parse", [WRONG, LOOPS, FIX, OUTSIDE], TESTS, hidden=HIDDEN,
                                        predictions=Predictions(oracle, sandbox, per_test_seconds=0.2), verify=True)
    assert [p.source is not None for p in patched] == [True, True, True, False]
    fix = ranking.candidates.index(patched[2].source)
    assert ranking.order[0] == fix and ranking.winner == fix and len(ranking.runs) == 1
    assert ranking.order[-1] == ranking.candidates.index(patched[1].source)  # the endless loop passes nothing: last
