"""The actions an agent may take, checked before anything runs.

    Action("view", {"path": "pkg/mod.py", "start": 10, "lines": 40})

Each action's arguments are checked against `ACTIONS` (names, types, bounds); a bad one is
an ActionError saying which argument and why, which the agent sees as its observation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

MAX_VIEW_LINES = 200
MAX_TEXT_CHARS = 256 << 10  # of an edit's or a new file's text
MAX_COMMAND_CHARS = 16 << 10
MAX_TESTS = 500
# A policy that could not say what it wants (a reply with no action in it) takes this
# action: the observation tells it what was wrong, and nothing in the workspace changes.
FORMAT_ERROR = "format_error"

# name -> {argument: (type, required)}
ACTIONS: dict[str, dict[str, tuple[type, bool]]] = {
    "bash": {"command": (str, True)},
    "view": {"path": (str, True), "start": (int, False), "lines": (int, False)},
    "edit": {"path": (str, True), "start": (int, True), "end": (int, True), "text": (str, True)},
    "create": {"path": (str, True), "text": (str, True)},
    "run_tests": {"tests": (list, False)},
    "submit": {},
    FORMAT_ERROR: {"error": (str, True)},
}


class ActionError(ValueError):
    """An action that cannot be taken as given; the message says which argument and why."""


@dataclass(frozen=True)
class Action:
    """One action: its name, its arguments (JSON values), and, when a model chose it, the
    model's whole reply (what the assistant said)."""

    name: str
    args: dict = field(default_factory=dict)
    reply: str | None = None

    def as_json(self) -> str:
        return json.dumps({"action": self.name, **self.args}, ensure_ascii=False)


def check_action(action: Action) -> None:
    """Raise ActionError unless `action` is one of ACTIONS with well-formed arguments."""
    spec = ACTIONS.get(action.name)
    if spec is None:
        raise ActionError(f"unknown action {action.name!r:.80}; the actions are {', '.join(a for a in ACTIONS if a != FORMAT_ERROR)}")
    if not isinstance(action.args, dict):
        raise ActionError(f"{action.name}: the arguments must be an object")
    unknown = sorted(set(action.args) - set(spec))
    if unknown:
        raise ActionError(f"{action.name}: unknown argument {unknown[0]!r:.80}; it takes {', '.join(spec) or 'none'}")
    for name, (kind, required) in spec.items():
        if name not in action.args:
            if required:
                raise ActionError(f"{action.name}: argument {name!r} is missing")
            continue
        value = action.args[name]
        if type(value) is not kind:  # bool is not an int here
            raise ActionError(f"{action.name}: argument {name!r} must be {kind.__name__}, got {type(value).__name__}")
    _check_bounds(action.name, action.args)


def _check_bounds(name: str, args: dict) -> None:
    if name == "bash" and not 0 < len(args["command"]) <= MAX_COMMAND_CHARS:
        raise ActionError(f"bash: the command must hold 1 to {MAX_COMMAND_CHARS} characters")
    if name == "view":
        if args.get("start", 1) < 1:
            raise ActionError("view: 'start' is a line number, from 1")
        if not 1 <= args.get("lines", 100) <= MAX_VIEW_LINES:
            raise ActionError(f"view: 'lines' must be 1 to {MAX_VIEW_LINES}")
    if name == "edit" and not 1 <= args["start"] <= args["end"] + 1:
        raise ActionError("edit: lines 'start' to 'end' (inclusive, from 1; end = start - 1 inserts before start)")
    if name in ("edit", "create") and len(args["text"]) > MAX_TEXT_CHARS:
        raise ActionError(f"{name}: the text holds more than {MAX_TEXT_CHARS} characters")
    if name == "run_tests":
        tests = args.get("tests", [])
        if len(tests) > MAX_TESTS or not all(type(t) is str and t and not t.startswith("-") for t in tests):
            raise ActionError(f"run_tests: 'tests' must be at most {MAX_TESTS} test ids (strings not starting with '-')")
