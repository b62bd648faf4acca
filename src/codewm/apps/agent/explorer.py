"""A policy with no model: works a repair task the way a careful engineer does.

    task = RepairTask(failing_tests=("tests/test_shapes.py::test_perimeter",), function="perimeter",
                      path="tinypkg/shapes.py", fixed_text=original_function_source)
    run_episode(workspace, ScriptedExplorer(task), max_steps=20)

It looks around (`find`), finds and reads the failing test (`grep -n`, `view`), finds the
function (`grep -n`) and reads it (`view`, more windows if it is long), runs the failing
test, replaces the function's lines with the fix, runs the whole suite and submits. Where
the function is and how long it is come from what it saw (the grep's and the view's
output), not from the task; the fix comes from the task: the original text of the function,
or an `oracle` that maps the broken function's text to the fixed one.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Callable

from codewm.apps.agent.actions import Action
from codewm.apps.agent.trajectory import Step

# Lines per view: 80 lines of code fit an observation whole (a longer view is cut in the middle).
VIEW_LINES = 80
VIEW_LINE_RE = re.compile(r"^ *(\d+)\| (.*)$")


class ExplorerError(RuntimeError):
    """The explorer cannot go on: what it looked for was not where the task said."""


@dataclass(frozen=True)
class RepairTask:
    """A project with one function broken: the tests that now fail, the function's name (a
    method's own name, or Class.method), the file it is in (optional: the grep finds it), and
    the fix: `fixed_text`, the function's correct source, or `oracle(broken_text) -> fixed`.

    `kind="class"` makes the unit to restore a class (`function` is then its name, or
    Outer.Inner): a mutant that removed a method or a base class has no broken function to
    find, so the whole class is replaced. `top_level=True` says a name without a dot is
    defined at the module's top level, not a method of the same name (`parse`, not
    `Parser.parse`)."""

    failing_tests: tuple[str, ...]
    function: str
    path: str | None = None
    fixed_text: str | None = None
    oracle: Callable[[str], str] | None = None
    kind: str = "function"
    top_level: bool = False

    def __post_init__(self) -> None:
        if (self.fixed_text is None) == (self.oracle is None):
            raise ValueError("a RepairTask needs exactly one of fixed_text and oracle")
        if not self.failing_tests:
            raise ValueError("a RepairTask needs the tests that fail")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", self.function):
            raise ValueError(f"not a function name: {self.function!r:.80}")
        if self.kind not in ("function", "class"):
            raise ValueError(f"kind must be 'function' or 'class', got {self.kind!r:.40}")

    def instructions(self) -> str:
        return repair_instructions(self.failing_tests)


def repair_instructions(failing_tests) -> str:
    """The task as a model is told it (the first user message)."""
    tests = "\n".join(f"- {t}" for t in failing_tests)
    return f"These tests fail:\n{tests}\nFind the bug in the repository's code (not in the tests), fix it, make sure the tests pass, then submit."


class ScriptedExplorer:
    """A `Policy`; one explorer per episode (it keeps what it found so far)."""

    name = "scripted"

    def __init__(self, task: RepairTask) -> None:
        self.task = task
        self.plan = ["look_around", "find_test", "read_test", "find_function", "read_function", "run_failing", "fix", "run_all", "submit"]
        self.done = 0
        self.function_file: str | None = None
        self.def_line = 0
        self.seen: dict[int, str] = {}  # line number -> text, of the function's file
        self.total_lines = 0
        self.phase: str | None = None

    def next_action(self, history: list[Step]) -> Action:
        if len(history) != self.done:
            raise ExplorerError(f"this explorer has taken {self.done} actions, the history holds {len(history)}: use one explorer per episode")
        if history:
            self._learn(history[-1])
        self.done += 1
        phase = self.plan.pop(0)
        self.phase = phase
        return getattr(self, f"_{phase}")()

    # -- what it learns from the observations ---------------------------------------------
    def _learn(self, step: Step) -> None:
        if self.phase == "find_test":
            self.test_line = _first_grep_line(step.observation)
        elif self.phase == "find_function":
            self.function_file, self.def_line = self._pick_definition(step.observation)
        elif self.phase in ("read_function", "read_more"):
            match = re.match(r"^\S.*: lines \d+-\d+ of (\d+)$", step.observation.split("\n", 1)[0])
            if step.exit_code != 0 or match is None:
                raise ExplorerError(f"could not view {self.function_file}: {step.observation[:300]}")
            self.total_lines = int(match.group(1))
            for line in step.observation.split("\n")[1:]:
                found = VIEW_LINE_RE.match(line)
                if found:
                    self.seen[int(found.group(1))] = found.group(2)
            if self._function_range() is None and self._first_unseen() <= self.total_lines:
                self.plan.insert(0, "read_more")

    def _pick_definition(self, output: str) -> tuple[str, int]:
        """The first definition the grep found in the task's file (any file but a test's if
        none is named); for Class.method, the first `def method` after `class Class` there;
        for a top-level name, the first one not indented."""
        wanted = self.task.path.removeprefix("./") if self.task.path else None
        *owner, target = self.task.function.rsplit(".", 1)
        owner_name = owner[0].rsplit(".", 1)[-1] if owner else None
        target_keyword = "class" if self.task.kind == "class" else "def"
        class_indent: dict[str, int] = {}  # file -> indentation of the owner's class line
        for line in output.splitlines():
            match = re.match(r"^(?:\./)?(.+?):(\d+):(\s*)(?:async\s+)?(\w+)\s+(\w+)", line)
            if match is None:
                continue
            path, number, indent, keyword, name = match.group(1), int(match.group(2)), len(match.group(3)), match.group(4), match.group(5)
            if not ((wanted is None and "test" not in path.split("/")[-1]) or path == wanted):
                continue
            if keyword == "class" and name == owner_name and not (target_keyword == "class" and name == target and class_indent.get(path, -1) < indent):
                class_indent[path] = indent
                continue
            if keyword != target_keyword or name != target:
                continue
            if owner_name is not None and not class_indent.get(path, indent) < indent:
                continue
            if owner_name is None and self.task.top_level and indent:
                continue
            return path, number
        raise ExplorerError(f"no definition of {self.task.function} found{f' in {wanted}' if wanted else ''}: {output[:300]}")

    def _function_range(self) -> tuple[int, int] | None:
        """(first, last) line of the function (with its decorators) from the lines seen, or
        None while its end has not been seen."""
        lines, start = self.seen, self.def_line
        indent = len(lines[start]) - len(lines[start].lstrip())
        while start - 1 in lines and lines[start - 1].strip().startswith("@") and len(lines[start - 1]) - len(lines[start - 1].lstrip()) == indent:
            start -= 1
        last_body = self.def_line
        number = self.def_line + 1
        while number in lines:
            text = lines[number]
            comment = text.lstrip().startswith("#")
            outdented = len(text) - len(text.lstrip()) <= indent
            if text.strip() and not comment and outdented and _parses(lines, self.def_line, number - 1, indent):
                return start, last_body
            # A comment as far left as the def belongs to what follows, unless code of this
            # function comes after it (then that code's line moves last_body past it).
            if text.strip() and not (comment and outdented):
                last_body = number
            number += 1
        return (start, last_body) if number > self.total_lines else None

    # -- the actions ------------------------------------------------------------------------
    def _look_around(self) -> Action:
        return Action("bash", {"command": "find . -name '*.py' -not -path '*/.*' | sort | head -n 200"})

    def _find_test(self) -> Action:
        path, name = _test_location(self.task.failing_tests[0])
        self.test_path = path
        return Action("bash", {"command": f"grep -n 'def {name}\\b' {path}"})

    def _read_test(self) -> Action:
        return Action("view", {"path": self.test_path, "start": max(1, (self.test_line or 1) - 3), "lines": 40})

    def _find_function(self) -> Action:
        *owner, name = self.task.function.rsplit(".", 1)
        pattern = f"class {name}\\b" if self.task.kind == "class" else f"(async\\s+)?def {name}\\("
        if owner:  # the class line too, to tell its method from others of the same name
            pattern = f"(class {owner[0].rsplit('.', 1)[-1]}\\b|{pattern})"
        return Action("bash", {"command": f"grep -rn --include='*.py' -E '^\\s*{pattern}' ."})

    def _read_function(self) -> Action:
        return Action("view", {"path": self.function_file, "start": max(1, self.def_line - 5), "lines": VIEW_LINES})

    def _read_more(self) -> Action:
        return Action("view", {"path": self.function_file, "start": self._first_unseen(), "lines": VIEW_LINES})

    def _first_unseen(self) -> int:
        """The first line from the def on not seen yet (a view cut short leaves a gap)."""
        number = self.def_line
        while number in self.seen:
            number += 1
        return number

    def _run_failing(self) -> Action:
        return Action("run_tests", {"tests": list(self.task.failing_tests)})

    def _fix(self) -> Action:
        span = self._function_range()
        if span is None:
            raise ExplorerError(f"the end of {self.task.function} in {self.function_file} was never seen")
        start, end = span
        broken = "".join(self.seen[n] + "\n" for n in range(start, end + 1))
        fixed = self.task.oracle(broken) if self.task.oracle is not None else self.task.fixed_text
        def_text = self.seen[self.def_line]
        margin = def_text[: len(def_text) - len(def_text.lstrip())]
        fixed = textwrap.indent(textwrap.dedent(fixed), margin, lambda line: bool(line.strip()))
        if not fixed.lstrip().startswith("@"):
            start = self.def_line  # the fix is the function without its decorators
        return Action("edit", {"path": self.function_file, "start": start, "end": end, "text": fixed if fixed.endswith("\n") else fixed + "\n"})

    def _run_all(self) -> Action:
        return Action("run_tests", {})

    def _submit(self) -> Action:
        return Action("submit", {})


def _test_location(nodeid: str) -> tuple[str, str]:
    """(file, function name) of a pytest id: 'tests/t.py::TestX::test_y[1-2]' -> ('tests/t.py', 'test_y')."""
    parts = nodeid.split("::")
    name = re.sub(r"\[.*$", "", parts[-1], flags=re.DOTALL)
    # Both go into a grep command: only a file path and an identifier are let through.
    if len(parts) < 2 or not re.fullmatch(r"[\w./-]+\.py", parts[0]) or parts[0].startswith("-") or not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ExplorerError(f"not a pytest test id: {nodeid!r:.200}")
    return parts[0], name


def _first_grep_line(output: str) -> int | None:
    match = re.match(r"^(\d+):", output)
    return int(match.group(1)) if match else None


def _parses(lines: dict[int, str], first: int, last: int, indent: int) -> bool:
    """Whether lines first..last (dedented) are a whole statement: a signature spread over
    lines ends with a line as far left as the def, which is not yet the function's end."""
    text = "".join(lines[n][indent:] + "\n" for n in range(first, last + 1))
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True
