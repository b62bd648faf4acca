"""A policy that asks a language model, through any OpenAI-compatible chat endpoint (vLLM,
a hosted API): `openai:URL#MODEL`.

It sends the episode so far as a chat (`messages.messages_for`: the system prompt says the
answer format) and reads one action from the reply: the one fenced block in it, holding a
JSON object with an "action" key. A reply without exactly one such block becomes a
`format_error` action, whose observation tells the model what was wrong (as mini-swe-agent
does), so a slip costs a step, not the episode. The connection (client, API key from
`OPENAI_API_KEY`, the served model when none is named) is codewm.predict's
`OpenAILanguageModel`.
"""

from __future__ import annotations

import json
import re

from codewm.predict.openai_lm import OpenAILanguageModel

from codewm.apps.agent.actions import FORMAT_ERROR, Action
from codewm.apps.agent.messages import messages_for
from codewm.apps.agent.trajectory import Step

BLOCK_RE = re.compile(r"```[A-Za-z]*[ \t]*\n(.*?)\n?```", re.DOTALL)
MAX_REPLY_TOKENS = 2048


def parse_reply(reply: str) -> Action:
    """The action in a model's reply (kept as the action's `reply`), or a FORMAT_ERROR action
    saying why there is none."""
    blocks = BLOCK_RE.findall(reply)
    if len(blocks) != 1:
        return Action(FORMAT_ERROR, {"error": f"found {len(blocks)} fenced blocks; write exactly one, holding the action as JSON"}, reply)
    try:
        value = json.loads(blocks[0])
    except ValueError as exc:
        return Action(FORMAT_ERROR, {"error": f"the block is not JSON ({exc})"}, reply)
    if not isinstance(value, dict) or type(value.get("action")) is not str:
        return Action(FORMAT_ERROR, {"error": 'the block must be a JSON object with an "action" string'}, reply)
    name = value.pop("action")
    if name == FORMAT_ERROR:
        return Action(FORMAT_ERROR, {"error": f"{FORMAT_ERROR!r} is not an action you can take"}, reply)
    return Action(name, value, reply)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """(base URL, model or None) of `openai:URL#MODEL`."""
    if not spec.startswith("openai:") or not spec[len("openai:") :].partition("#")[0]:
        raise ValueError(f"{spec!r:.200}: expected openai:URL#MODEL, e.g. openai:http://127.0.0.1:8000/v1#cwm")
    url, _, model = spec[len("openai:") :].partition("#")
    return url, model or None


class OpenAIChatPolicy:
    """A `Policy`: one chat completion per step. `instructions` is the task (the first user
    message); temperature 0 by default, so a served model's episode can be re-run."""

    def __init__(self, spec: str, instructions: str, *, temperature: float = 0.0, max_tokens: int = MAX_REPLY_TOKENS, timeout: float = 600.0) -> None:
        url, model = parse_spec(spec)
        self.connection = OpenAILanguageModel(url, model, timeout=timeout)
        self.name = self.connection.name
        self.instructions = instructions
        self.temperature = temperature
        self.max_tokens = max_tokens

    def next_action(self, history: list[Step]) -> Action:
        response = self.connection.client.chat.completions.create(
            model=self.connection.model,
            messages=messages_for(self.instructions, history),
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )
        if not response.choices:
            raise ConnectionError(f"{self.name}: the server answered with no choices")
        return parse_reply(response.choices[0].message.content or "")
