"""A trajectory as a chat: the mini-swe-agent message list, and the prompt that says how a
model must answer (one action per reply, as JSON in a fenced block).

    [{"role": "system", "content": SYSTEM_PROMPT},
     {"role": "user", "content": <the task>},
     {"role": "assistant", "content": <the reply with action 1>},
     {"role": "user", "content": <observation 1>}, ...]
"""

from __future__ import annotations

from codewm.apps.agent.actions import MAX_VIEW_LINES
from codewm.apps.agent.trajectory import Step, Trajectory

SYSTEM_PROMPT = f"""You are a careful software engineer working in a Python repository, at /project.
Each of your replies takes exactly one action, written as a JSON object in a fenced block:

```json
{{"action": "bash", "command": "grep -n 'def parse' -r ."}}
```

The actions:
- {{"action": "bash", "command": STR}}: run a shell command in the repository (no network)
- {{"action": "view", "path": STR, "start": LINE, "lines": N}}: show N (at most {MAX_VIEW_LINES}) numbered lines of a file
- {{"action": "edit", "path": STR, "start": LINE, "end": LINE, "text": STR}}: replace lines start..end (inclusive) with text
- {{"action": "create", "path": STR, "text": STR}}: create a new file
- {{"action": "run_tests", "tests": [TEST_ID, ...]}}: run those tests (or all, without "tests")
- {{"action": "submit"}}: you are done

Paths are relative to the repository. You may think before the block; the block is what is done."""


def task_prompt(instructions: str) -> str:
    return instructions


def render_observation(step: Step) -> str:
    code = "" if step.exit_code is None else f"[exit code {step.exit_code}]\n"
    return f"{code}{step.observation}"


def render_action(step: Step) -> str:
    """What the assistant said: the model's reply, or (a scripted policy's) the action as the
    block a model would have written."""
    return step.reply if step.reply is not None else f"```json\n{step.as_action().as_json()}\n```"


def messages_for(instructions: str, steps: list[Step]) -> list[dict]:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": task_prompt(instructions)}]
    for step in steps:
        messages.append({"role": "assistant", "content": render_action(step)})
        messages.append({"role": "user", "content": render_observation(step)})
    return messages


def to_messages(trajectory: Trajectory) -> list[dict]:
    """The trajectory as a chat (mini-swe-agent's message list): the system prompt, the
    task, then per step the action (assistant) and its observation (user)."""
    return messages_for(trajectory.info.get("instructions", trajectory.task), trajectory.steps)
