"""The scripted explorer's reading of what it saw, without a sandbox: the observations are
given, and the actions it answers with are checked."""

from __future__ import annotations

import pytest

from codewm.apps.agent.explorer import ExplorerError, RepairTask, ScriptedExplorer
from codewm.apps.agent.trajectory import Step

MODULE = '''class Shape:
    def area(self):
        return 0


class Square(Shape):
    def __init__(self, side):
        self.side = side

    @property
    def area(self):
        return self.side * 3

    def scaled(self, k):
        return Square(self.side * k)
'''


def _view(path, text, start):
    lines = text.splitlines()
    body = "".join(f"{n:>2}| {line}\n" for n, line in enumerate(lines[start - 1 :], start))
    return f"{path}: lines {start}-{len(lines)} of {len(lines)}\n{body}"


def _drive(task, observations):
    explorer, history = ScriptedExplorer(task), []
    for number, observation in enumerate(observations, 1):
        action = explorer.next_action(history)
        history.append(Step(number, action.name, action.args, None, observation, 0, "", "", 0.0))
    return explorer, history


def test_a_method_is_found_in_its_own_class_with_its_decorator():
    fixed = "@property\ndef area(self):\n    return self.side * self.side\n"
    task = RepairTask(("tests/test_shapes.py::test_square",), "Square.area", fixed_text=fixed)
    grep = "./shapes.py:1:class Shape:\n./shapes.py:2:    def area(self):\n./shapes.py:6:class Square(Shape):\n./shapes.py:11:    def area(self):\n"
    observations = ["./shapes.py\n", "3:def test_square():\n", "tests/test_shapes.py: lines 1-4 of 4\n1| x\n", grep, _view("shapes.py", MODULE, 6), "1 tests: 0 passed, 1 failed"]
    explorer, history = _drive(task, observations)
    assert "class Square\\b" in history[3].args["command"]
    assert history[4].args == {"path": "shapes.py", "start": 6, "lines": 80}
    edit = explorer.next_action(history)
    # Lines 10-12: the decorator, the def and its body, re-indented to the method's margin.
    assert edit.args == {"path": "shapes.py", "start": 10, "end": 12, "text": "    @property\n    def area(self):\n        return self.side * self.side\n"}
    history.append(Step(7, "edit", edit.args, None, "shapes.py: replaced lines 10-12 with 3 lines", 0, "", "", 0.0))
    assert explorer.next_action(history).args == {}  # the whole suite
    history.append(Step(8, "run_tests", {}, None, "3 tests: 3 passed", 0, "", "", 0.0))
    assert explorer.next_action(history).name == "submit"


def test_the_explorer_says_when_the_function_is_not_there():
    task = RepairTask(("tests/t.py::test_x",), "missing", path="pkg/a.py", fixed_text="def missing():\n    pass\n")
    with pytest.raises(ExplorerError, match="no definition of missing found in pkg/a.py"):
        _drive(task, ["", "", "t.py: lines 1-1 of 1\n1| x\n", "./pkg/b.py:3:def missing():\n", ""])
    with pytest.raises(ValueError, match="exactly one of fixed_text and oracle"):
        RepairTask(("tests/t.py::test_x",), "f")


def test_a_view_cut_in_the_middle_is_read_again_from_the_gap():
    from codewm.apps.agent.computer import bounded

    body = "".join(f"    x{i} = '{'y' * 150}'\n" for i in range(70))
    module = f"def long():\n{body}    return 1\n\n\ndef after():\n    pass\n"
    task = RepairTask(("tests/t.py::test_long",), "long", fixed_text="def long():\n    return 2\n")
    first = bounded(_view("m.py", module, 1))
    assert "characters left out" in first
    explorer, history = _drive(task, ["./m.py\n", "1:def test_long():\n", "t.py: lines 1-1 of 1\n1| x\n", "./m.py:1:def long():\n", first])
    more = explorer.next_action(history)
    seen_last = max(n for n in range(1, 80) if f"\n{n:>2}| " in first.split("characters left out")[0])
    assert more.name == "view" and more.args["start"] == seen_last + 1
    history.append(Step(6, "view", more.args, None, _view("m.py", module, more.args["start"]), 0, "", "", 0.0))
    assert explorer.next_action(history).name == "run_tests"
    history.append(Step(7, "run_tests", {}, None, "1 failed", 1, "", "", 0.0))
    assert explorer.next_action(history).args == {"path": "m.py", "start": 1, "end": 72, "text": "def long():\n    return 2\n"}
