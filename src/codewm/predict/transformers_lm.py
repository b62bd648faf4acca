"""Hugging Face causal LMs as a `LanguageModel`: codewm's own checkpoints (`builtin`) and
any local model directory (`hf:PATH`, e.g. the released CWM weights).

Generation is `model.generate` (KV cache, left-padded batches, greedy or sampled). A stop
string that is one token of the model's vocabulary (CWM's `<|frame_sep|>`) stops its row
as an end-of-sequence token does, exactly and for free; other stop strings use
`generate`'s `stop_strings`. Nothing is downloaded: the directory must hold the model.
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from typing import Sequence

from codewm.model.checkpoint import quiet_transformers
from codewm.predict.base import FINISH_LENGTH, FINISH_STOP, Completion, Sampling


class ModelLoadError(ValueError):
    """A model directory is missing or is not a loadable Hugging Face causal LM."""


class TransformersLanguageModel:
    """`complete()` over a local Hugging Face model directory.

    device: "cpu", "cuda", ... (default: cuda when available); dtype: "float32",
    "bfloat16", ... (default: bfloat16 on cuda, float32 on cpu, where bf16 matmuls are slow);
    batch_size: prompts generated together; prefix_cache: keep the KV cache of a single
    prompt's generation for the next prompt that extends it (frame-by-frame decoding);
    chat_template: a Jinja chat template for `chat_prompt` (default: the tokenizer's own).
    """

    def __init__(self, path: str | Path, *, name: str | None = None, device: str | None = None, dtype: str | None = None, batch_size: int = 16, prefix_cache: bool = True, chat_template: str | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"{path}: not a Hugging Face model directory (no config.json)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.path = path
        self.name = name or path.name
        self.batch_size = batch_size
        self.prefix_cache = prefix_cache  # reuse the previous single prompt's KV cache (see _reusable_cache)
        self._cached = None  # (token ids, DynamicCache) of the last single-prompt call
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or ("bfloat16" if self.device.startswith("cuda") else "float32")
        try:
            with quiet_transformers():
                self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=getattr(torch, dtype))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"{path}: cannot load the model: {exc}") from None
        self.model.to(self.device).eval()
        # transformers 5 calls generate()'s cache argument `cache`; 4.x `past_key_values`
        self._cache_argument = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        tok = self.tokenizer
        tok.padding_side = "left"  # generation appends on the right
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        self.eos_ids = _as_list(self.model.generation_config.eos_token_id) or _as_list(tok.eos_token_id)
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 0) or tok.model_max_length)
        self.fingerprint = _fingerprint(path, dtype)
        self.special_tokens = tuple(tok.all_special_tokens)
        self.chat_template: str | None = chat_template or getattr(tok, "chat_template", None) or None

    # -- the LanguageModel interface ---------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def complete(self, prompts: Sequence[str], sampling: Sampling, cancel: threading.Event | None = None) -> list[Completion]:
        """`cancel`: once set, generation stops at the next token (the server sets it when
        a client goes away); what was written by then is returned."""
        out: list[Completion] = []
        for start in range(0, len(prompts), self.batch_size):
            out.extend(self._complete_batch(list(prompts[start : start + self.batch_size]), sampling, cancel))
        return out

    def chat_prompt(self, messages: list[dict]) -> str:
        """`messages` rendered by the tokenizer's chat template (or the one given as
        `chat_template`), ending where the assistant's answer starts."""
        if not self.chat_template:
            raise ValueError(f"{self.name} has no chat template")
        return self.tokenizer.apply_chat_template(messages, chat_template=self.chat_template, tokenize=False, add_generation_prompt=True)

    # -- generation ---------------------------------------------------------------------------
    def _token_stop(self, stop: str) -> int | None:
        ids = self.tokenizer(stop, add_special_tokens=False)["input_ids"]
        return ids[0] if len(ids) == 1 else None

    def _complete_batch(self, prompts: list[str], sampling: Sampling, cancel: threading.Event | None = None) -> list[Completion]:
        tok = self.tokenizer
        encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        results: list[Completion | None] = [None] * len(prompts)
        room = [self.context_length - len(ids) for ids in encoded]
        # Rows with room for max_tokens go together; a row near the end of the context is
        # generated alone with what fits, so that no row's result depends on its batch.
        full = [i for i, r in enumerate(room) if r >= sampling.max_tokens]
        groups = [(full, sampling.max_tokens)] if full else []
        groups += [([i], r) for i, r in enumerate(room) if 0 < r < sampling.max_tokens]
        for i, r in enumerate(room):
            if r <= 0:  # the prompt alone fills the context: nothing can be generated
                results[i] = Completion("", FINISH_LENGTH, None, len(encoded[i]), 0, [] if sampling.logprobs else None, [] if sampling.logprobs else None)
        for rows, max_new in groups:
            for i, completion in zip(rows, self._generate([encoded[i] for i in rows], max_new, sampling, cancel)):
                results[i] = completion
        return results  # type: ignore[return-value]

    def _generate(self, encoded: list[list[int]], max_new: int, sampling: Sampling, cancel: threading.Event | None = None) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

        tok = self.tokenizer
        token_stops: dict[int, str] = {}
        string_stops: list[str] = []
        for stop in sampling.stop:
            token = self._token_stop(stop)
            if token is None:
                string_stops.append(stop)
            else:
                token_stops[token] = stop
        ends = set(self.eos_ids) | set(token_stops)
        batch = tok.pad({"input_ids": encoded}, return_tensors="pt").to(self.device)
        config = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=sampling.temperature > 0,
            temperature=sampling.temperature if sampling.temperature > 0 else None,
            top_p=sampling.top_p if sampling.temperature > 0 else None,
            top_k=None,
            eos_token_id=sorted(ends),
            pad_token_id=tok.pad_token_id,
            stop_strings=string_stops or None,
            return_dict_in_generate=True,
            output_logits=sampling.logprobs,
        )
        if sampling.temperature > 0 and sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        cache = self._reusable_cache(encoded) if self.prefix_cache else None
        extra = {self._cache_argument: cache} if cache is not None else {}
        if cancel is not None:

            class Cancelled(StoppingCriteria):
                def __call__(self, input_ids, scores, **kwargs):
                    return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

            extra["stopping_criteria"] = StoppingCriteriaList([Cancelled()])
        with torch.inference_mode():
            generated = self.model.generate(**batch, generation_config=config, tokenizer=tok if string_stops else None, **extra)
        width = batch["input_ids"].shape[1]
        if self.prefix_cache and len(encoded) == 1:
            kept_cache = getattr(generated, "cache", None) or getattr(generated, "past_key_values", None)
            if kept_cache is not None:
                kept = kept_cache.get_seq_length()
                self._cached = (generated.sequences[0, :kept].tolist(), kept_cache)
        new_tokens = generated.sequences[:, width:].tolist()
        logprobs = None
        if sampling.logprobs:
            logits = torch.stack(generated.logits, dim=1).float()  # (batch, new, vocab)
            chosen = generated.sequences[:, width:].unsqueeze(-1)
            logprobs = torch.log_softmax(logits, dim=-1).gather(-1, chosen).squeeze(-1).tolist()
        return [
            self._completion(new_tokens[row], ends, token_stops, string_stops, len(encoded[row]), logprobs[row] if logprobs else None, sampling.logprobs)
            for row in range(len(encoded))
        ]

    def _reusable_cache(self, encoded: list[list[int]]):
        """The KV cache of the previous single-prompt call, cut to the prefix it shares with
        this prompt, or None.

        Frame-by-frame decoding sends the same program again with one more frame each time:
        without this, every frame would recompute the whole context (for a long trace, most
        of the work). Batches of several prompts start afresh (their rows change from call to
        call), which is why the cache holds one sequence only.
        """
        if len(encoded) != 1 or self._cached is None:
            return None
        ids, cache = self._cached
        self._cached = None  # generate() extends the cache in place: never reuse it twice
        prompt = encoded[0]
        shared = 0
        for a, b in zip(ids, prompt):
            if a != b:
                break
            shared += 1
        shared = min(shared, len(prompt) - 1)  # at least one prompt token must be fed
        if shared < 16:  # not worth it (a different program)
            return None
        length = cache.get_seq_length()
        if shared < length:
            cache.crop(shared - length)  # a negative count removes that many from the end
        return cache

    def _completion(self, ids, ends, token_stops, string_stops, prompt_tokens, logprobs, want_logprobs) -> Completion:
        tok = self.tokenizer
        kept, stop_reason, finish = ids, None, FINISH_LENGTH
        for position, token in enumerate(ids):
            if token in ends:
                kept, finish = ids[:position], FINISH_STOP
                stop_reason = token_stops.get(token)  # None: the model's end-of-sequence
                break
        text = tok.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if string_stops:
            hits = [(text.find(s), s) for s in string_stops if s in text]
            if hits:
                at, stop = min(hits)
                text, finish, stop_reason = text[:at], FINISH_STOP, stop
                # keep the tokens that make up the text (for counts and logprobs)
                while kept and len(tok.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)) > at:
                    kept = kept[:-1]
        completion = Completion(text, finish, stop_reason, prompt_tokens, len(kept))
        if want_logprobs:
            completion.tokens = [tok.decode([t], skip_special_tokens=False, clean_up_tokenization_spaces=False) for t in kept]
            completion.token_logprobs = list(logprobs[: len(kept)]) if logprobs else [0.0] * len(kept)
        return completion


def _as_list(value) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [int(value)]


def _fingerprint(path: Path, dtype: str) -> str:
    """What identifies these weights for saved predictions: the config and tokenizer files'
    bytes, each weight file's name, size and modification time, and the dtype."""
    import hashlib

    digest = hashlib.sha256(dtype.encode())
    for item in sorted(path.iterdir()):
        if item.suffix in (".json", ".txt", ".model"):
            digest.update(item.name.encode() + item.read_bytes())
        elif item.suffix in (".safetensors", ".bin"):
            stat = item.stat()
            digest.update(f"{item.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()
