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


PARSER_MODULE = '''class Parser:
    def parse(self, s):
        return s


def parse(s):
    return Parser().parse(s) + "!"
'''


def test_a_top_level_function_is_not_taken_for_a_method_of_the_same_name():
    # Regression: with no owner, the first `def parse` of the grep (Parser.parse, line 2) was
    # replaced by the module-level function's fix.
    fixed = 'def parse(s):\n    return Parser().parse(s)\n'
    task = RepairTask(("tests/test_p.py::test_parse",), "parse", path="p.py", fixed_text=fixed, top_level=True)
    grep = "./p.py:2:    def parse(self, s):\n./p.py:6:def parse(s):\n"
    observations = ["./p.py\n", "3:def test_parse():\n", "tests/test_p.py: lines 1-4 of 4\n1| x\n", grep, _view("p.py", PARSER_MODULE, 1), "1 tests: 0 passed, 1 failed"]
    explorer, history = _drive(task, observations)
    assert history[4].args == {"path": "p.py", "start": 1, "lines": 80}
    edit = explorer.next_action(history)
    assert edit.args == {"path": "p.py", "start": 6, "end": 7, "text": fixed}


def test_a_class_is_the_unit_when_a_method_was_removed():
    # The mutant lost Square.scaled: there is no function to find, the whole class is replaced.
    broken = MODULE.replace("\n    def scaled(self, k):\n        return Square(self.side * k)\n", "")
    fixed_class = MODULE[MODULE.index("class Square"):]
    task = RepairTask(("tests/test_shapes.py::test_scaled",), "Square", path="shapes.py", fixed_text=fixed_class, kind="class", top_level=True)
    explorer, history = _drive(task, ["./shapes.py\n", "3:def test_scaled():\n", "tests/test_shapes.py: lines 1-4 of 4\n1| x\n"])
    find = explorer.next_action(history)
    assert "class Square\\b" in find.args["command"] and "def " not in find.args["command"]
    history.append(Step(4, find.name, find.args, None, "./shapes.py:1:class Shape:\n./shapes.py:6:class Square(Shape):\n", 0, "", "", 0.0))
    view = explorer.next_action(history)
    assert view.args == {"path": "shapes.py", "start": 1, "lines": 80}
    history.append(Step(5, view.name, view.args, None, _view("shapes.py", broken, 1), 0, "", "", 0.0))
    run = explorer.next_action(history)
    history.append(Step(6, run.name, run.args, None, "1 tests: 0 passed, 1 failed", 1, "", "", 0.0))
    edit = explorer.next_action(history)
    assert edit.args == {"path": "shapes.py", "start": 6, "end": len(broken.splitlines()), "text": fixed_class}


def test_a_comment_after_the_function_is_not_part_of_it():
    # Regression: a column-0 comment between the function and the next definition was taken
    # as the function's last line, so the fix deleted it.
    module = "def f(x):\n    return x + 1\n# helpers below\n\ndef g():\n    pass\n"
    task = RepairTask(("tests/test_m.py::test_f",), "f", path="m.py", fixed_text="def f(x):\n    return x\n", top_level=True)
    observations = ["./m.py\n", "3:def test_f():\n", "tests/test_m.py: lines 1-4 of 4\n1| x\n", "./m.py:1:def f(x):\n", _view("m.py", module, 1), "1 tests: 0 passed, 1 failed"]
    explorer, history = _drive(task, observations)
    assert explorer.next_action(history).args == {"path": "m.py", "start": 1, "end": 2, "text": "def f(x):\n    return x\n"}
    # A comment as far left inside the body, with code after it, still belongs to the function.
    inside = "def f(x):\n    y = x\n# note\n    return y\n\ndef g():\n    pass\n"
    observations[4] = _view("m.py", inside, 1)
    explorer, history = _drive(task, observations)
    assert explorer.next_action(history).args["end"] == 4


@pytest.mark.parametrize("nodeid", ["tests/t.py::x';touch /tmp/p;'", "tests/t.py::", "-rf.py::test_a", "tests/t.py::test a"])
def test_a_test_id_that_is_not_an_identifier_is_refused(nodeid):
    # Regression: the test's name went into the grep command as it was written.
    explorer, history = _drive(RepairTask((nodeid,), "f", fixed_text="def f(): pass\n"), ["./t.py\n"])
    with pytest.raises(ExplorerError, match="not a pytest test id"):
        explorer.next_action(history)
