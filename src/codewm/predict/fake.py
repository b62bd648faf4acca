"""Deterministic language models for tests and smoke runs (no weights, no network).

- `EmptyLanguageModel` writes nothing: every prompt ends at once. Evaluating it must give
  0 everywhere without crashing anything (`--model empty`).
- `ScriptedLanguageModel` answers from a table `prompt -> text` (or a function), applying
  the stop strings and the token budget as a real backend does; a prompt it does not know
  gets an empty completion.

Tokens are counted as characters: these models have no tokenizer.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from codewm.predict.base import FINISH_LENGTH, FINISH_STOP, Completion, Sampling


class EmptyLanguageModel:
    name = "empty"
    context_length = 1 << 20

    def count_tokens(self, text: str) -> int:
        return len(text)

    def complete(self, prompts: Sequence[str], sampling: Sampling) -> list[Completion]:
        return [Completion("", FINISH_STOP, None, prompt_tokens=len(p), completion_tokens=0) for p in prompts]


class ScriptedLanguageModel:
    """Continues each prompt with `script[prompt]` (or `script(prompt)`), cut at the first
    stop string or after `max_tokens` characters, like a real backend would."""

    context_length = 1 << 20

    def __init__(self, script: Mapping[str, str] | Callable[[str], str], name: str = "scripted") -> None:
        self.script = script
        self.name = name
        self.calls: list[tuple[list[str], Sampling]] = []  # what was asked, for tests

    def count_tokens(self, text: str) -> int:
        return len(text)

    def _continuation(self, prompt: str) -> str:
        if callable(self.script):
            return self.script(prompt) or ""
        return self.script.get(prompt, "")

    def complete(self, prompts: Sequence[str], sampling: Sampling) -> list[Completion]:
        self.calls.append((list(prompts), sampling))
        out = []
        for prompt in prompts:
            text = self._continuation(prompt)
            cut, matched = len(text), None
            for stop in sampling.stop:
                at = text.find(stop)
                if 0 <= at < cut:
                    cut, matched = at, stop
            if cut > sampling.max_tokens:
                out.append(Completion(text[: sampling.max_tokens], FINISH_LENGTH, None, len(prompt), sampling.max_tokens))
                continue
            piece = text[:cut]
            tokens = list(piece) if sampling.logprobs else None
            logprobs = [0.0] * len(piece) if sampling.logprobs else None
            out.append(Completion(piece, FINISH_STOP, matched, len(prompt), len(piece), tokens, logprobs))
        return out
