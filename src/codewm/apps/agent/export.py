"""A trajectory as training text in CWM's agentic chat format (issue 18, item 5).

    text = to_cwm_text(read_trajectory("t.jsonl"))
    messages = parse_cwm_text(text)          # [(role, content), ...], the inverse
    actions = cwm_actions(text)              # the trajectory's actions again

What CWM's public description fixes (facebookresearch/cwm, PROMPTING_GUIDE.md and its SWE-RL
environment, cwm/rl/envs/envs/swerl_tool.py), and is done so here:

- the text starts with `<|begin_of_text|>`; each message is
  `<|start_header_id|>ROLE<|end_header_id|>\\n\\nCONTENT<|eot_id|>`, ROLE one of system,
  user, assistant, `tool: NAME`;
- the system prompt is the description ("You are a helpful AI assistant.") then a
  `# Environment` section that announces every tool as `<tool: NAME>\\n[arguments]\\n</tool>`
  followed by what it does;
- an assistant turn calls one tool, `<tool: NAME>\\nCONTENT\\n</tool>`; the tool's output comes
  back as a message of role `tool: NAME`, wrapped in `<output>\\n...\\n</output>`; a reply
  without a tool call is answered by a `user` message saying what was wrong.

Where it is silent or does not fit, docs/repo.md ("Export as training text") says what was
decided: codewm's own tools keep their names and get a line format (`view`, `edit` by line
numbers, `run_tests`), the exit code follows the output, `submit` names the repository and
its output is the diff, there is no reasoning block and no budget notice.
"""

from __future__ import annotations

import re

from codewm.apps.agent.actions import FORMAT_ERROR, Action
from codewm.apps.agent.trajectory import Step, Trajectory

BEGIN = "<|begin_of_text|>"
HEADER_START, HEADER_END, END_OF_TURN = "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"
RESERVED = (BEGIN, "<|end_of_text|>", HEADER_START, HEADER_END, END_OF_TURN)
DESCRIPTION = "You are a helpful AI assistant."
REPOSITORY = "/project"
ALL_TESTS = "--all"  # a test id never starts with "-" (actions.check_action)
TOOL_CALL_RE = re.compile(r"<tool:\s([a-zA-Z_]+)>\n(.*?)\n</tool>", re.DOTALL)  # CWM's own pattern
BLOCK_RE = re.compile(r"```[A-Za-z]*[ \t]*\n(.*?)\n?```", re.DOTALL)
MESSAGE_RE = re.compile(re.escape(HEADER_START) + r"(.*?)" + re.escape(HEADER_END) + r"\n\n(.*?)" + re.escape(END_OF_TURN), re.DOTALL)

ENVIRONMENT = f"""You work in a sandboxed copy of a Python repository at {REPOSITORY} (no network). Each command runs in a fresh shell that starts in the repository root. Call exactly one tool in each reply, in this format:

<tool: bash>
[command]
</tool>
Runs [command] with bash in the repository and shows its output.

<tool: view>
[path]
start=[line] lines=[count]
</tool>
Shows [count] numbered lines of the file at [path] from line [line] (both optional: start=1 lines=100).

<tool: edit>
[path]
start=[line] end=[line]
[replacement_lines]
</tool>
Replaces lines [start] to [end] (inclusive, counted from 1) of the file at [path] with [replacement_lines]; end = start - 1 inserts them before line [start].

<tool: create>
[path]
[content]
</tool>
Creates a new file at [path] with [content]; [path] must not exist.

<tool: run_tests>
[test ids, one per line, or {ALL_TESTS}]
</tool>
Runs those tests of the repository's suite with pytest (every test with {ALL_TESTS}) and shows the counts, the tests that failed and the end of pytest's output.

<tool: submit>
[result]
</tool>
Submits the changes made to the repository at [result] ({REPOSITORY}) as your solution; this ends the episode."""


class ExportError(ValueError):
    """A step that cannot be written in the format (a text holding a tool tag), or a text
    that is not an export; the message says which step or message."""


def system_prompt() -> str:
    return f"{DESCRIPTION}\n\n# Environment\n\n{ENVIRONMENT}"


def message(role: str, content: str, where: str = "") -> str:
    """One chat message; its content must not hold a reserved token (it would end the
    message early, or start another, when read back)."""
    for token in RESERVED:
        if token in content:
            raise ExportError(f"{where or role}: the text holds the reserved token {token}, which the format cannot carry")
    return f"{HEADER_START}{role}{HEADER_END}\n\n{content}{END_OF_TURN}"


def tool_content(action: Action) -> str:
    """The text between `<tool: NAME>\\n` and `\\n</tool>` for one action."""
    args = action.args
    # A path or a test id takes one line of the call: one holding a newline would read back
    # as another call.
    for value in [args.get("path", "")] + list(args.get("tests", [])):
        if "\n" in value:
            raise ExportError(f"{action.name}: {value!r:.120} holds a newline, which the call's line format cannot carry")
    if action.name == "bash":
        return args["command"]
    if action.name == "view":
        window = " ".join(f"{key}={args[key]}" for key in ("start", "lines") if key in args)
        return args["path"] + (f"\n{window}" if window else "")
    if action.name == "edit":
        return f"{args['path']}\nstart={args['start']} end={args['end']}\n{args['text']}"
    if action.name == "create":
        return f"{args['path']}\n{args['text']}"
    if action.name == "run_tests":
        return "\n".join(args["tests"]) if args.get("tests") else ALL_TESTS
    if action.name == "submit":
        return REPOSITORY
    raise ExportError(f"no tool for the action {action.name!r}")


def prose(reply: str | None) -> str:
    """What a model said besides its action (the reply without its fenced block)."""
    return "" if reply is None else BLOCK_RE.sub("", reply).strip()


def assistant_turn(step: Step) -> str:
    if step.action == FORMAT_ERROR:
        return step.reply if step.reply is not None else ""
    try:
        content = tool_content(step.as_action())
    except ExportError as exc:
        raise ExportError(f"step {step.step} ({step.action}): {exc}") from None
    if "<tool:" in content or "</tool>" in content:
        raise ExportError(f"step {step.step} ({step.action}): its text holds a tool tag ('<tool:' or '</tool>'), which the format cannot carry")
    said = prose(step.reply)
    return (f"{said}\n\n" if said else "") + f"<tool: {step.action}>\n{content}\n</tool>"


def tool_output(step: Step) -> str:
    text = step.observation
    if step.action == "submit":
        text = f"The changes submitted:\n\n<submission>\n{step.diff}</submission>" if step.diff else "Nothing was changed: the submission is empty."
    code = "" if step.exit_code is None else f"\n[exit code {step.exit_code}]"
    return f"<output>\n{text}\n</output>{code}"


def to_cwm_text(trajectory: Trajectory) -> str:
    """The whole trajectory as one text: system prompt, the task, then per step the
    assistant's tool call and the tool's output."""
    parts = [BEGIN, message("system", system_prompt()), message("user", task_prompt(trajectory), "the task")]
    for step in trajectory.steps:
        where = f"step {step.step} ({step.action})"
        parts.append(message("assistant", assistant_turn(step), where))
        if step.action == FORMAT_ERROR:
            parts.append(message("user", step.observation, where))
        else:
            parts.append(message(f"tool: {step.action}", tool_output(step), where))
    return "".join(parts)


def task_prompt(trajectory: Trajectory) -> str:
    instructions = trajectory.info.get("instructions") or trajectory.task
    return f"{instructions}\n\nThe repository is at {REPOSITORY}; every command starts there."


def parse_cwm_text(text: str) -> list[tuple[str, str]]:
    """The (role, content) messages of an exported text; ExportError if it is not one."""
    if not text.startswith(BEGIN):
        raise ExportError(f"not a CWM text: it does not start with {BEGIN}")
    messages, at = [], len(BEGIN)
    while at < len(text):
        match = MESSAGE_RE.match(text, at)
        if match is None:
            raise ExportError(f"message {len(messages) + 1}, at character {at}: not {HEADER_START}ROLE{HEADER_END}\\n\\nCONTENT{END_OF_TURN}")
        messages.append((match.group(1), match.group(2)))
        at = match.end()
    return messages


def cwm_actions(text: str) -> list[Action]:
    """The actions the assistant turns of an exported text call (a turn without a tool
    call is a FORMAT_ERROR action), read back with CWM's tool-call pattern."""
    actions = []
    for role, content in parse_cwm_text(text):
        if role != "assistant":
            continue
        calls = TOOL_CALL_RE.findall(content)
        if not calls:
            actions.append(Action(FORMAT_ERROR, {}))
            continue
        if len(calls) != 1:
            raise ExportError(f"an assistant turn holds {len(calls)} tool calls, not one")
        actions.append(action_of(*calls[0]))
    return actions


def action_of(name: str, content: str) -> Action:
    """The Action a tool call's content stands for (the inverse of `tool_content`)."""
    if name == "bash":
        return Action("bash", {"command": content})
    if name == "view":
        path, _, window = content.partition("\n")
        return Action("view", {"path": path, **_numbers(window)})
    if name == "edit":
        path, _, rest = content.partition("\n")
        span, _, body = rest.partition("\n")
        return Action("edit", {"path": path, **_numbers(span), "text": body})
    if name == "create":
        path, _, body = content.partition("\n")
        return Action("create", {"path": path, "text": body})
    if name == "run_tests":
        return Action("run_tests", {} if content == ALL_TESTS else {"tests": content.split("\n")})
    if name == "submit":
        return Action("submit", {})
    raise ExportError(f"unknown tool {name!r}")


def _numbers(text: str) -> dict[str, int]:
    found = {}
    for item in text.split():
        key, _, value = item.partition("=")
        if not value.isdigit():
            raise ExportError(f"expected key=NUMBER, got {item!r:.80}")
        found[key] = int(value)
    return found
