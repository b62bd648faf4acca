"""What chooses the actions: a `Policy` looks at the steps so far and names the next one.

A policy has a `name` (recorded in the trajectory) and `next_action(history)`; it does not
inherit anything. `ScriptedExplorer` (codewm.apps.agent.explorer) needs no model;
`OpenAIChatPolicy` (codewm.apps.agent.llm_policy) asks an OpenAI-compatible server.
"""

from __future__ import annotations

from typing import Protocol

from codewm.apps.agent.actions import Action
from codewm.apps.agent.trajectory import Step


class Policy(Protocol):
    name: str

    def next_action(self, history: list[Step]) -> Action: ...
