"""The Hugging Face backend (builtin:DIR, hf:PATH), the model registry and the oracle's answers."""

from __future__ import annotations

import json

import pytest

from codewm.format.cwm import END, FRAME_SEP, format_frames, format_prompt
from codewm.predict.base import FINISH_LENGTH, FINISH_STOP, AnswerRequest, FrameRequest, Predictor, Sampling
from codewm.predict.decode import DecodeLimits, predict_traces
from codewm.predict.model_predictor import ModelPredictor, frame_step
from codewm.predict.base import Completion, STEP_END, STEP_FRAME, STEP_LENGTH
from codewm.predict.registry import ModelSpecError, load_language_model, load_predictor
from codewm.predict.transformers_lm import ModelLoadError, TransformersLanguageModel


@pytest.fixture(scope="module")
def lm(checkpoint):
    return TransformersLanguageModel(checkpoint, batch_size=4)


def test_a_codewm_checkpoint_records_its_provenance(checkpoint):
    record = json.loads((checkpoint / "codewm.json").read_text())
    assert record["format_version"] == 1 and record["made_by"] == "random_checkpoint" and record["parameters"] > 0
    assert (checkpoint / "model.safetensors").is_file() and (checkpoint / "config.json").is_file()


def test_special_tokens_are_single_tokens(lm):
    for token in (FRAME_SEP, END, "<|action_sep|>", "<|trace_context_start|>"):
        assert lm.count_tokens(token) == 1
    assert lm.tokenizer.decode(lm.tokenizer("x = 1\n" + FRAME_SEP, add_special_tokens=False)["input_ids"]) == "x = 1\n" + FRAME_SEP


def test_greedy_completions_do_not_depend_on_batching(lm, contexts):
    prompts = [format_prompt(c) for c in contexts]
    sampling = Sampling(max_tokens=24, stop=(FRAME_SEP,))
    batched = lm.complete(prompts, sampling)
    single = [lm.complete([p], sampling)[0] for p in prompts]
    assert [c.text for c in batched] == [c.text for c in single]
    for c in batched:
        assert c.finish_reason in (FINISH_STOP, FINISH_LENGTH)
        assert c.completion_tokens <= 24 and c.prompt_tokens > 0
        assert FRAME_SEP not in c.text


def test_stop_strings_and_logprobs(lm, contexts):
    prompt = format_prompt(contexts[0])
    free = lm.complete([prompt], Sampling(max_tokens=30, logprobs=True))[0]
    assert len(free.tokens) == len(free.token_logprobs) == free.completion_tokens
    assert all(lp <= 0 for lp in free.token_logprobs)
    assert "".join(free.tokens) == free.text
    if len(free.text) > 6:  # a stop string inside the free text cuts it there
        stop = free.text[3:6]
        cut = lm.complete([prompt], Sampling(max_tokens=30, stop=(stop,)))[0]
        assert cut.finish_reason == FINISH_STOP and cut.stop_reason == stop
        assert cut.text == free.text[: free.text.index(stop)]


def test_a_prompt_that_fills_the_context_gets_an_empty_length_completion(lm):
    long_prompt = "x" * (lm.context_length * 4)
    c = lm.complete([long_prompt, "def f"], Sampling(max_tokens=4))
    assert c[0].text == "" and c[0].finish_reason == FINISH_LENGTH
    assert c[1].completion_tokens >= 1


def test_registry_names_every_backend(checkpoint, tmp_path):
    assert load_predictor("builtin:" + str(checkpoint)).name == "builtin:" + str(checkpoint)
    assert isinstance(load_predictor("hf:" + str(checkpoint)), Predictor)
    assert load_predictor("empty").next_frames([FrameRequest("x")])[0].finish == STEP_END
    assert load_predictor("oracle").name == "oracle"
    assert isinstance(load_predictor("codewm.predict.fake.EmptyLanguageModel"), ModelPredictor)
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_predictor(f"hf:{tmp_path}")
    with pytest.raises(ModelSpecError, match="unknown model"):
        load_predictor("gpt-17")
    with pytest.raises(ModelSpecError, match="needs a URL"):
        load_predictor("openai:")
    with pytest.raises(ModelSpecError, match="not a language model"):
        load_language_model("oracle")
    with pytest.raises(ModelSpecError, match="cannot load"):
        load_predictor("codewm.nothing.Here")


def test_the_table_says_which_options_each_backend_takes():
    from codewm.predict.registry import backend, backend_options

    offered = {"device": "cpu", "batch_size": 4, "dtype": None, "structured": None}
    assert backend_options("builtin", **offered) == backend_options("hf:/m", **offered) == {"device": "cpu", "batch_size": 4}
    for spec in ("oracle", "empty", "openai:http://x/v1", "codewm.predict.fake.EmptyLanguageModel"):
        assert backend_options(spec, **offered) == {}
        assert backend_options(spec, device="cpu", structured=False) == {"structured": False}
    assert backend("builtin:/m").local and backend("hf:/m").local and not backend("openai:u").local and not backend("a.b").local
    assert isinstance(load_predictor("codewm.predict.fake:EmptyLanguageModel"), ModelPredictor)
    with pytest.raises(ModelSpecError, match="unknown model 'nosuch:x'"):
        load_predictor("nosuch:x")


def test_the_builtin_name_says_what_is_missing(monkeypatch, tmp_path):
    import codewm.predict.registry as registry

    monkeypatch.setattr(registry, "BUILTIN_CHECKPOINT", tmp_path / "missing")
    with pytest.raises(ModelLoadError, match="built-in checkpoint is not in this installation"):
        load_predictor("builtin")


def test_frame_steps_from_completions():
    assert frame_step(Completion("a", FINISH_STOP, FRAME_SEP)).finish == STEP_FRAME
    assert frame_step(Completion("a", FINISH_STOP, FRAME_SEP)).text == "a" + FRAME_SEP
    assert frame_step(Completion("", FINISH_STOP, None)).finish == STEP_END
    assert frame_step(Completion("x" + END + "junk", FINISH_STOP, None)).text == "x"
    assert frame_step(Completion("abc", FINISH_LENGTH, None)).finish == STEP_LENGTH
    # a server that does not say which stop matched: a non-empty text is a frame
    assert frame_step(Completion("abc", FINISH_STOP, None)).finish == STEP_FRAME


def test_a_random_model_decodes_to_a_clear_stop_on_every_program(lm, contexts):
    predicted = predict_traces(ModelPredictor(lm), contexts, DecodeLimits(max_frame_tokens=32, max_frames=8))
    for p in predicted:
        assert p.stop in ("unparseable", "frame_too_long", "end", "max_frames", "complete", "max_tokens")
        if p.stop == "unparseable":
            assert p.error


def test_the_oracle_answers_outputs_and_inputs():
    from codewm.predict.oracle import OraclePredictor

    oracle = OraclePredictor()
    try:
        code = "def f(a, b):\n    return a * b\n"
        answers = oracle.answer(
            [
                AnswerRequest("output", "", code, "f(3, 4)", "12", samples=2),
                AnswerRequest("input", "", code, "f(3, 4)", "12"),
                AnswerRequest("input", "", code, "f(3, 5)", "12"),  # the call does not give the output
                AnswerRequest("output", "", "def f():\n    raise KeyError\n", "f()", ""),
            ]
        )
    finally:
        oracle.close()
    assert answers == [["12", "12"], ["f(3, 4)"], [""], [""]]


def test_a_row_near_the_end_of_the_context_does_not_change_its_batch(lm, contexts):
    near = "y" * 5000  # byte-level BPE: well over the 2048-token context
    tokens = lm.count_tokens(near)
    cut = near[: len(near) * (lm.context_length - 3) // tokens]  # a prompt with a few tokens of room
    room = lm.context_length - lm.count_tokens(cut)
    assert 0 < room < 24
    prompts = [format_prompt(contexts[0]), cut, format_prompt(contexts[1])]
    sampling = Sampling(max_tokens=24)
    together = lm.complete(prompts, sampling)
    alone = [lm.complete([p], sampling)[0] for p in prompts]
    assert [c.text for c in together] == [c.text for c in alone]
    assert together[1].completion_tokens <= room and together[1].finish_reason in (FINISH_LENGTH, FINISH_STOP)


def test_frame_by_frame_decoding_reuses_the_kv_cache_without_changing_the_text(checkpoint, contexts, real_traces):
    limits = DecodeLimits(max_frames=4, max_frame_tokens=24, batch_size=1)
    plain = TransformersLanguageModel(checkpoint, batch_size=1, prefix_cache=False)
    cached = TransformersLanguageModel(checkpoint, batch_size=1, prefix_cache=True)
    reused = []
    original = cached._reusable_cache

    def spy(encoded):
        cache = original(encoded)
        reused.append(cache is not None)
        return cache

    cached._reusable_cache = spy
    # the frames the model writes are garbage, so feed it real frames: a prompt that extends
    # the previous one by a frame must reuse the cache and still give the uncached text
    prompts = [format_prompt(contexts[1])]
    pieces = format_frames(real_traces[1].frames).split(FRAME_SEP)
    for k in range(1, 4):
        prompts.append(prompts[0] + FRAME_SEP.join(pieces[:k]) + FRAME_SEP)
    sampling = Sampling(max_tokens=12, stop=(FRAME_SEP,))
    assert [cached.complete([p], sampling)[0].text for p in prompts] == [plain.complete([p], sampling)[0].text for p in prompts]
    assert reused == [False, True, True, True]
    # whole traces too
    a = predict_traces(ModelPredictor(plain), contexts, limits)
    b = predict_traces(ModelPredictor(cached), contexts, limits)
    assert [p.text for p in a] == [p.text for p in b]


def test_an_hf_model_without_the_cwm_tokens_still_decodes(tmp_path, real_traces, contexts):
    """hf:PATH takes any causal LM: where `<|frame_sep|>` is not one token of its vocabulary,
    the stop is matched on the text instead."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from codewm.format.cwm import format_trace

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator([format_trace(t) for t in real_traces], trainers.BpeTrainer(vocab_size=300, special_tokens=["</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="</s>")
    assert len(tokenizer(FRAME_SEP, add_special_tokens=False)["input_ids"]) > 1
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, eos_token_id=tokenizer.eos_token_id, max_position_embeddings=1024)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    predictor = load_predictor(f"hf:{tmp_path}", device="cpu")
    lm = predictor.lm
    free = lm.complete([format_prompt(contexts[0])], Sampling(max_tokens=20))[0]
    if len(free.text) > 6:
        stop = free.text[2:6]
        cut = lm.complete([format_prompt(contexts[0])], Sampling(max_tokens=20, stop=(stop,)))[0]
        assert cut.stop_reason == stop and cut.text == free.text[: free.text.index(stop)]
    for p in predict_traces(predictor, contexts, DecodeLimits(max_frames=3, max_frame_tokens=12)):
        assert p.stop in ("unparseable", "frame_too_long", "end", "max_frames", "complete")
