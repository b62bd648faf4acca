"""The built-in model's recipe: a tokenizer that copies, the curriculum's tiers, copy-span
rows, and the warmup-stable-decay schedule that a later run goes on from."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from codewm.format.cwm import ACTION_SEP, format_prompt
from codewm.model.data import IGNORE, mix_copy_spans, pack_rows
from codewm.model.train import wsd_lr
from codewm.programs.synthetic import SyntheticSource
from codewm.types import START_MARKER, build_context

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "codewm" / "examples"


def _bundled_contexts() -> list[str]:
    contexts = [path.read_text() for path in sorted(EXAMPLES.glob("*.py")) if path.name != "__init__.py"]
    for name in ("cruxeval_style.jsonl", "livecodebench_style.jsonl"):
        for line in (EXAMPLES / name).read_text().splitlines():
            row = json.loads(line)
            # CRUXEval rows give f's arguments; LiveCodeBench rows the whole call
            call = row["input"] if "function_name" in row else f"f({row['input']})"
            contexts.append(build_context(row["code"], call))
    return contexts


@pytest.fixture(scope="module")
def tokenizer():
    from codewm.model.tokenizer import train_tokenizer

    texts = [format_prompt(context) for context in _bundled_contexts()]
    texts += [format_prompt(build_context(case.source, case.call)) for case in SyntheticSource(count=200, seed=5).cases()]
    return train_tokenizer(texts, vocab_size=1024)


def test_every_bundled_line_has_the_same_tokens_in_the_context_and_as_an_action(tokenizer):
    contexts = _bundled_contexts()
    assert len(contexts) > 100
    checked = 0
    for context in contexts:
        prompt = format_prompt(context)
        encoding = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        start = prompt.index(context)
        for line in context.splitlines(keepends=True):
            end = start + len(line)
            if START_MARKER not in line and line.strip():
                inside = [i for i, (a, b) in enumerate(encoding["offset_mapping"]) if a < end and b > start]
                # no token crosses the line's edges...
                assert encoding["offset_mapping"][inside[0]][0] == start and encoding["offset_mapping"][inside[-1]][1] == end, line
                # ...and the line's tokens are the action's tokens
                action = tokenizer(ACTION_SEP + line, add_special_tokens=False)["input_ids"][1:]
                assert [encoding["input_ids"][i] for i in inside] == action, line
                checked += 1
            start = end
    assert checked > 500


def test_digits_are_one_token_each_and_special_tokens_are_single(tokenizer):
    assert tokenizer.tokenize("x = 12345") == ["x", "Ġ=", "Ġ", "1", "2", "3", "4", "5"]
    for token in ("<|frame_sep|>", "<|action_sep|>", "<|call_sep|>", "<|line_sep|>", "<|return_sep|>", "<|arg_sep|>"):
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1


def _functions(source: str) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}


def _statements(node) -> int:
    return sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1  # the def itself not counted


def test_the_simple_tier_is_straight_line_code_of_at_most_four_statements_in_f_alone():
    for case in SyntheticSource(count=300, seed=11, mode="simple").cases():
        functions = _functions(case.source)
        assert list(functions) == ["f"], case.source
        body = [s for s in functions["f"].body if not isinstance(s, ast.Return)]
        assert len(body) <= 4, case.source
        assert not any(isinstance(n, (ast.For, ast.While, ast.If, ast.Try)) for n in ast.walk(functions["f"])), case.source
        assert case.id.startswith("synthetic/simple/11/")


def test_the_loops_tier_has_small_loops_one_nesting_level_and_at_most_one_helper():
    loops = 0
    for case in SyntheticSource(count=300, seed=12, mode="loops").cases():
        functions = _functions(case.source)
        assert "f" in functions and len(functions) <= 2, case.source
        for fn in functions.values():
            for node in ast.walk(fn):
                if isinstance(node, (ast.For, ast.While, ast.If, ast.Try)):
                    # nesting 1: no block statement inside another (an elif sits at its if's column)
                    inner = [n for n in ast.walk(node) if isinstance(n, (ast.For, ast.While, ast.If, ast.Try)) and n.col_offset > node.col_offset]
                    assert not inner, case.source
                if isinstance(node, ast.For):
                    loops += 1
        assert _statements(functions["f"]) <= 6 + 6, case.source  # f's own body and its blocks
    assert loops > 100  # the tier does loop


def test_the_loops_tier_runs_at_most_four_iterations_per_loop():
    from collections import Counter

    from codewm.predict.oracle import OraclePredictor

    cases = list(SyntheticSource(count=40, seed=13, mode="loops").cases())
    oracle = OraclePredictor()
    try:
        traces = oracle.real_traces([build_context(c.source, c.call) for c in cases])
    finally:
        oracle.close()
    for case, trace in zip(cases, traces):
        assert trace.complete
        lines = case.source.splitlines()
        heads = {i + 1 for i, line in enumerate(lines) if line.lstrip().startswith(("for ", "while "))}
        calls = Counter(f.function for f in trace.frames if f.event == "call")
        runs = Counter((f.lineno, f.function) for f in trace.frames if f.event == "line" and f.lineno in heads)
        for (line, function), count in runs.items():
            # a loop head runs once per iteration and once more to leave, per call
            assert count <= 5 * calls[function], (case.source, line, count)


def test_copy_spans_make_about_their_fraction_of_the_tokens_and_are_learned_on_the_repeat_only():
    traces = [[1] + list(range(20, 20 + n)) + [2] for n in (300, 500, 800, 200) * 25]
    mixed = list(mix_copy_spans(iter(traces), 0.04, range(11, 1000), bos=1, eos=2, seed=3))
    assert mixed == list(mix_copy_spans(iter(traces), 0.04, range(11, 1000), bos=1, eos=2, seed=3))
    copies = [item for item in mixed if isinstance(item, tuple)]
    assert [item for item in mixed if not isinstance(item, tuple)] == traces  # traces untouched, in order
    copy_tokens = sum(len(ids) for ids, _ in copies)
    trace_tokens = sum(len(t) for t in traces)
    assert 0.035 < copy_tokens / (copy_tokens + trace_tokens) < 0.045
    for ids, prompt_end in copies:
        span = (len(ids) - 2) // 2
        assert ids[0] == 1 and ids[-1] == 2 and ids[1 : 1 + span] == ids[1 + span : 1 + 2 * span]
        assert 8 <= span <= 64 and prompt_end == 1 + span
    (row,) = list(pack_rows([copies[0]], 512, pad_id=0, frame_sep_id=99))
    ids, prompt_end = copies[0]
    learned = [i for i, label in enumerate(row.labels) if label != IGNORE]
    # position p predicts p + 1: the second copy and the end are learned, nothing before
    assert learned == list(range(prompt_end, len(ids) - 1))
    assert [row.labels[p] for p in learned] == ids[prompt_end + 1 :]


def test_wsd_schedule_warms_up_holds_the_peak_and_decays_only_at_the_end():
    peak = 1e-3
    assert wsd_lr(0, peak, 10, None, None) == pytest.approx(1e-4)
    assert wsd_lr(9, peak, 10, None, None) == pytest.approx(peak)
    assert wsd_lr(5000, peak, 10, None, None) == peak  # stable until a decay is set
    lrs = [wsd_lr(s, peak, 10, 100, 20, min_ratio=0.05) for s in range(100, 120)]
    assert lrs == sorted(lrs, reverse=True) and lrs[0] < peak
    assert lrs[-1] == pytest.approx(0.05 * peak)


def test_a_minutes_run_ends_decayed_and_the_next_goes_on_from_the_stable_phase(smoke_data, tmp_path):
    import torch

    from codewm.model.presets import get_preset
    from codewm.model.train import STABLE_DIR, STATE_FILE, TrainOptions, train

    preset = get_preset("smoke", eval_every=1000, save_every=1000, probe_texts=3)
    first = train(preset, tmp_path / "run", TrainOptions(data=str(smoke_data), device="cpu", minutes=0.15), log=None)
    stable = torch.load(tmp_path / "run" / STABLE_DIR / STATE_FILE, weights_only=False)
    decayed = torch.load(tmp_path / "run" / "checkpoint" / STATE_FILE, weights_only=False)
    assert stable["phase"] == "stable" and decayed["phase"] == "decayed"
    assert 0 < stable["step"] < decayed["step"] == first.steps
    provenance = json.loads((tmp_path / "run" / "checkpoint" / "codewm.json").read_text())
    assert provenance["schedule"] == "wsd" and provenance["decay"]["start"] == stable["step"]
    lrs = [r["lr"] for r in first.history if "lr" in r]
    assert lrs[-1] < preset.lr
    # the final validation carries the teacher-forced probe's headline figures
    (probed,) = [r for r in first.history if "probe" in r]
    assert probed["step"] == first.steps and probed["phase"] == "decay"
    assert 0 <= probed["probe"]["token_accuracy"] <= 1 and probed["probe"]["copy_loss_ratio"] > 0
    second = train(preset, tmp_path / "run", TrainOptions(data=str(smoke_data), device="cpu", minutes=0.15), log=None)
    assert second.resumed_from == stable["step"]  # not the decayed step
    assert second.steps > stable["step"]
    with pytest.raises(Exception, match="minutes must be a positive number"):
        train(preset, tmp_path / "bad", TrainOptions(data=str(smoke_data), device="cpu", minutes=0), log=None)
    # the stable state travels through the repository, compacted, and comes back whole
    import shutil

    from safetensors.torch import load_file

    from codewm.model.carry import restore_state, save_state

    stable_step = torch.load(tmp_path / "run" / STABLE_DIR / STATE_FILE, weights_only=False)["step"]
    state = tmp_path / "train-state" / "smoke"
    assert save_state(tmp_path / "run", state) == stable_step
    carried = torch.load(state / STATE_FILE, weights_only=False)
    moments = [v for slot in carried["optimizer"]["state"].values() for v in slot.values() if torch.is_tensor(v) and v.ndim > 0]
    assert moments and all(v.dtype == torch.bfloat16 for v in moments)
    assert (state / "metrics.jsonl").read_text() == (tmp_path / "run" / "metrics.jsonl").read_text()
    fresh_machine = tmp_path / "elsewhere"
    assert restore_state(state, fresh_machine) == stable_step
    restored, original = load_file(fresh_machine / STABLE_DIR / "model.safetensors"), load_file(tmp_path / "run" / STABLE_DIR / "model.safetensors")
    assert restored.keys() == original.keys() and all(torch.equal(restored[k], original[k]) for k in original)
    assert restore_state(state, fresh_machine) is None  # it is there already
    third = train(preset, fresh_machine, TrainOptions(data=str(smoke_data), device="cpu", minutes=0.1), log=None)
    assert third.resumed_from == stable_step
    # an earlier state never replaces a later one
    earlier = tmp_path / "earlier"
    shutil.copytree(tmp_path / "run" / STABLE_DIR, earlier / STABLE_DIR)
    provenance = json.loads((earlier / STABLE_DIR / "codewm.json").read_text())
    (earlier / STABLE_DIR / "codewm.json").write_text(json.dumps(dict(provenance, step=1)))
    with pytest.raises(Exception, match="holds a later state"):
        save_state(earlier, state)
