"""The agent-computer interface: an agent's actions carried out in a `Workspace`.

    computer = AgentComputer(workspace)
    observation = computer.execute(Action("bash", {"command": "grep -n 'def area' -r ."}))
    observation.text, observation.exit_code, computer.diff()

`bash` and `run_tests` run in the workspace's sandbox; `view`, `edit` and `create` are done
by the host on the copy, through `files.confine` (nothing outside the copy is read or
written). Every observation is text of at most MAX_OBSERVATION_CHARS (head and tail kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from codewm.repo.suite import ReportError, run_tests
from codewm.repo.workspace import Workspace

from codewm.apps.agent.actions import FORMAT_ERROR, Action, ActionError, check_action
from codewm.apps.agent.files import PathError, confine, read_text, snapshot, tree_digest, unified_diff, write_text

MAX_OBSERVATION_CHARS = 10_000
COMMAND_TIMEOUT = 120.0
TESTS_TIMEOUT = 600.0
# Of pytest's own output, this much of the end goes into a run_tests observation.
TEST_OUTPUT_TAIL_CHARS = 3_000


@dataclass(frozen=True)
class Observation:
    """What an action gave back: text for the agent, an exit code where one applies (a
    command's, pytest's; 0 for a file action that worked, 1 for one refused), and whether
    the episode is over (`submit`)."""

    text: str
    exit_code: int | None
    done: bool = False


def bounded(text: str, limit: int = MAX_OBSERVATION_CHARS) -> str:
    """`text`, or its head and tail with a line saying how much was left out between them;
    cut at line ends where there are any, so no line shows only in part."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit // 2], text[-(limit // 2) :]
    if "\n" in head:
        head = head[: head.rindex("\n") + 1]
    if "\n" in tail:
        tail = tail[tail.index("\n") + 1 :]
    return f"{head.rstrip(chr(10))}\n[... {len(text) - len(head) - len(tail)} characters left out ...]\n{tail}"


def split_lines(text: str) -> list[str]:
    """The lines of `text`, each with its newline (the last may lack one), split at "\n"
    only, as grep -n and sed count them (str.splitlines also splits at form feeds, ...)."""
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


class AgentComputer:
    """Carries out actions in `workspace` and keeps the copy's original files, for the diff."""

    def __init__(self, workspace: Workspace, command_timeout: float = COMMAND_TIMEOUT, tests_timeout: float = TESTS_TIMEOUT) -> None:
        self.workspace = workspace
        self.command_timeout = command_timeout
        self.tests_timeout = tests_timeout
        self.original = snapshot(workspace.path)

    def execute(self, action: Action) -> Observation:
        try:
            check_action(action)
            if action.name == FORMAT_ERROR:
                return Observation(bounded(f"Your reply could not be read as an action: {action.args['error']}"), 1)
            return getattr(self, f"_{action.name}")(**action.args)
        except (ActionError, PathError) as exc:
            return Observation(bounded(f"error: {exc}"), 1)

    def files(self) -> dict[str, bytes]:
        return snapshot(self.workspace.path)

    def diff(self, files: dict[str, bytes] | None = None) -> str:
        """The copy's changes so far, as a unified diff against the original files."""
        return unified_diff(self.original, self.files() if files is None else files)

    def digest(self, files: dict[str, bytes] | None = None) -> str:
        return tree_digest(self.files() if files is None else files)

    # -- the actions ------------------------------------------------------------------------
    def _bash(self, command: str) -> Observation:
        result = self.workspace.shell(command, timeout=self.command_timeout)
        text = result.stdout + result.stderr
        if result.timed_out:
            text += f"\n[killed after {self.command_timeout:g} s]"
        elif result.output_truncated:
            text += "\n[output cut]"
        return Observation(bounded(text), result.exit_code)

    def _view(self, path: str, start: int = 1, lines: int = 100) -> Observation:
        content = [line.rstrip("\n") for line in split_lines(read_text(confine(self.workspace.path, path), path))]
        if start > max(len(content), 1):
            raise PathError(f"{path}: has {len(content)} lines; line {start} is past its end")
        window = content[start - 1 : start - 1 + lines]
        width = len(str(start + len(window)))
        shown = "".join(f"{number:>{width}}| {line}\n" for number, line in enumerate(window, start))
        header = f"{path}: lines {start}-{start + len(window) - 1} of {len(content)}\n"
        return Observation(bounded(header + shown), 0)

    def _edit(self, path: str, start: int, end: int, text: str) -> Observation:
        target = confine(self.workspace.path, path)
        content = read_text(target, path)
        lines = split_lines(content)
        if end > len(lines):
            raise PathError(f"{path}: has {len(lines)} lines; cannot replace up to line {end}")
        new = split_lines(text)
        if new and not new[-1].endswith("\n") and end < len(lines):
            new[-1] += "\n"  # the lines after the edit stay lines of their own
        write_text(target, "".join(lines[: start - 1] + new + lines[end:]), path, self.workspace.uid, new=False)
        return Observation(f"{path}: replaced lines {start}-{end} with {len(new)} line{'' if len(new) == 1 else 's'}", 0)

    def _create(self, path: str, text: str) -> Observation:
        target = confine(self.workspace.path, path)
        write_text(target, text, path, self.workspace.uid, new=True)
        return Observation(f"{path}: created ({len(split_lines(text))} lines)", 0)

    def _run_tests(self, tests: list[str] | None = None) -> Observation:
        try:
            report = run_tests(self.workspace, tests or None, timeout=self.tests_timeout)
        except ReportError as exc:
            return Observation(bounded(f"the tests could not be run: {exc}"), 1)
        counts = report.counts
        lines = [f"{report.tests_run} tests: {counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors, {counts['skipped']} skipped"]
        if report.timed_out:
            lines.append(f"stopped at the time limit ({self.tests_timeout:g} s)")
        for outcome in ("failed", "error"):
            lines += [f"{outcome.upper()} {nodeid}" for nodeid in report.with_outcome(outcome)]
        if counts["failed"] or counts["error"] or not report.tests_run:
            lines.append("--- pytest output (end) ---")
            lines.append(report.output[-TEST_OUTPUT_TAIL_CHARS:])
        return Observation(bounded("\n".join(lines)), report.exit_code)

    def _submit(self) -> Observation:
        return Observation("submitted", 0, done=True)
