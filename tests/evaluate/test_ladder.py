"""The trace-or-direct ladder: programs that need exactly k dependent steps, McNemar's exact
test, and the paired bench end to end (oracle, scripted and empty models)."""

from __future__ import annotations

import json
import math
import re

import pytest
from bench_scripts import load_bench

from codewm.evaluate.ladder import (
    FAMILIES,
    HELD_OUT_SEED,
    LadderSource,
    checkpoint_info,
    compute_warnings,
    format_table,
    format_variants,
    holm,
    ladder_cell,
    ladder_program,
    mcnemar_exact,
    mcnemar_midp,
    paired_difference_ci,
    real_traces,
    run_ladder,
    summarize,
)
from codewm.format.cwm import format_frames, format_prompt
from codewm.predict.decode import DecodeLimits
from codewm.types import Frame

LIMITS = DecodeLimits(max_frames=64, max_tokens=4096, batch_size=8)


@pytest.fixture(scope="module")
def sandbox():
    from codewm.trace.sandbox import Sandbox

    with Sandbox(workers=1) as box:
        yield box


@pytest.fixture(scope="module")
def oracle():
    from codewm.predict.oracle import OraclePredictor

    predictor = OraclePredictor()
    yield predictor
    predictor.close()


# -- the programs -----------------------------------------------------------------------------
def _body_line(source: str) -> str:
    """The line right after the program's only `for` line (counted here, independently of the
    generator's own `step_line`)."""
    lines = source.splitlines()
    fors = [i for i, line in enumerate(lines) if line.lstrip().startswith("for ")]
    assert len(fors) == 1, source
    return lines[fors[0] + 1].strip()


def test_every_program_takes_exactly_k_dependent_steps(sandbox):
    programs = [p for family in FAMILIES for k in range(1, 9) for p in ladder_cell(family, k, 6)]
    for program, result in zip(programs, real_traces(programs, sandbox)):
        assert result.status == "ok" and result.trace.complete, (program.id, result.status, result.error)
        f_lines = [frame.source for frame in result.trace.frames if frame.event == "line" and frame.depth == 1]
        if program.family == "loop":
            body = _body_line(program.source)
            assert sum(line.strip() == body for line in f_lines) == program.k, program.source
            # the loop header runs once more than its body, and the body is one line
            header = next(line for line in program.source.splitlines() if line.lstrip().startswith("for "))
            assert sum(line.rstrip("\n") == header for line in f_lines) == program.k + 1
        else:
            assignments = [line for line in f_lines if re.match(r"^\s+x\d+ = ", line)]
            assert len(assignments) == program.k, program.source
            assert program.source.count(" = ") == program.k  # k assignment lines, each run once
            for j, line in enumerate(assignments, 1):  # x_j reads x_{j-1}: the steps depend on each other
                target, _, expr = line.strip().partition(" = ")
                assert target == f"x{j}" and re.search(rf"\bx{j - 1}\b", expr), line
        assert len(result.trace.frames) <= 30  # short traces
        assert len(result.trace.output) <= 40  # short values


def test_programs_are_deterministic_per_seed_and_differ_between_seeds():
    for family in FAMILIES:
        for k in (1, 4, 8):
            a = [ladder_program(family, k, i) for i in range(20)]
            b = [ladder_program(family, k, i, HELD_OUT_SEED) for i in range(20)]
            assert [(p.source, p.call) for p in a] == [(p.source, p.call) for p in b]
            other = [ladder_program(family, k, i, seed=7) for i in range(20)]
            assert sum((p.source, p.call) != (q.source, q.call) for p, q in zip(a, other)) >= 15
    assert HELD_OUT_SEED not in (0, 7, 90001)


def test_a_cell_holds_distinct_programs_and_the_first_of_a_larger_cell():
    cell = ladder_cell("chain", 1, 40)
    assert len({(p.source, p.call) for p in cell}) == len(cell) == 40
    assert ladder_cell("chain", 1, 60)[:40] == cell
    assert all(p.k == 1 and p.family == "chain" for p in cell)
    with pytest.raises(ValueError):
        ladder_program("loop", 9, 0)
    with pytest.raises(ValueError):
        ladder_program("while", 2, 0)
    cases = list(LadderSource(n=2, families=("loop",), ks=(1, 2)).cases())
    assert [c.meta["k"] for c in cases] == [1, 1, 2, 2] and cases[0].id == "ladder/loop/k1/91000/0"


# -- the statistics ---------------------------------------------------------------------------
def test_mcnemar_exact_against_known_values():
    assert mcnemar_exact(10, 2) == pytest.approx(0.03857, abs=5e-5)  # 2 * 79 / 4096
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    assert mcnemar_exact(7, 7) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(0.0625)
    assert mcnemar_exact(1, 0) == 1.0
    assert mcnemar_exact(20, 5) == pytest.approx(2 * sum(math.comb(25, i) for i in range(6)) / 2**25)
    assert mcnemar_exact(300, 0) == pytest.approx(2 * 0.5**300, rel=1e-9)  # no float underflow on the way
    # mid-p: the exact p less the probability of the observed count
    assert mcnemar_midp(10, 2) == pytest.approx((2 * 79 - 66) / 4096)
    assert mcnemar_midp(4, 4) == 1.0 and mcnemar_midp(0, 0) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_paired_summary_and_holm():
    pairs = [(True, True)] * 5 + [(True, False)] * 10 + [(False, True)] * 2 + [(False, False)] * 3
    s = summarize(pairs)
    assert (s["n"], s["both"], s["b"], s["c"], s["neither"]) == (20, 5, 10, 2, 3)
    assert s["trace"]["accuracy"] == 75.0 and s["direct"]["accuracy"] == 35.0
    assert s["trace"]["ci"] == [pytest.approx(53.13, abs=0.01), pytest.approx(88.81, abs=0.01)]  # Wilson, 15 of 20
    assert s["p_exact"] == mcnemar_exact(10, 2)
    assert s["difference"]["points"] == 40.0
    low, high = paired_difference_ci(5, 10, 2, 3)
    assert low < 0.4 < high and low > 0  # the Agresti-Min interval around +40 points excludes 0
    assert summarize([])["n"] == 0 and summarize([])["p_exact"] == 1.0
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]


# -- end to end -------------------------------------------------------------------------------
def _scripted(texts: dict[str, str], name: str):
    """A model that writes, for each context, the frames text given for it."""
    from codewm.predict.fake import ScriptedLanguageModel
    from codewm.predict.model_predictor import ModelPredictor

    def script(prompt: str) -> str:
        for context, text in texts.items():
            if text.startswith(prompt) and prompt.startswith(format_prompt(context)):
                return text[len(prompt) :]
        return ""

    return ModelPredictor(ScriptedLanguageModel(script, name=name), name=name)


def _direct_script(oracle, contexts, wrong: bool):
    """A scripted direct model: it writes `main`'s frames only (call, line, return), the
    return value the real one, or (wrong=True) one that is not."""
    texts = {}
    for trace in oracle.real_traces(contexts):
        frames = [frame for frame in trace.frames if frame.depth == 0]
        if wrong:
            last = frames[-1]
            frames[-1] = Frame("return", last.source, 0, value="None" if last.value != "None" else "0")
        texts[trace.context] = format_prompt(trace.context) + format_frames(frames, complete=True)
    return _scripted(texts, "scripted-direct-wrong" if wrong else "scripted-direct")


def _contexts(n: int, ks) -> list[str]:
    return [p.context for family in FAMILIES for k in ks for p in ladder_cell(family, k, n)]


def test_oracle_in_both_arms_is_always_right(oracle, sandbox):
    result = run_ladder(oracle, oracle, FAMILIES, [1, 3], 3, limits=LIMITS, sandbox=sandbox)
    assert [(c["family"], c["k"]) for c in result["cells"]] == [("loop", 1), ("loop", 3), ("chain", 1), ("chain", 3)]
    for cell in [*result["cells"], *result["families"].values()]:
        assert cell["trace"]["accuracy"] == cell["direct"]["accuracy"] == 100.0
        assert (cell["b"], cell["c"], cell["p_exact"]) == (0, 0, 1.0)
        assert cell["trace"]["frames_exact"] == 100.0  # the oracle's trace is the real one
        assert cell["trace"]["steps_right"] == cell["trace"]["all_steps_right"] == 100.0
    assert all(r["trace"]["steps_right"] == r["k"] for r in result["rows"])
    assert result["families"]["loop"]["n"] == 6 and not result["partial"]
    assert len(result["rows"]) == 12 and all(r["trace"]["right"] and r["direct"]["right"] for r in result["rows"])
    table = format_table(result)
    assert "| loop | all | 6 |" in table and "| best constant % |" in table
    for cell in result["cells"]:  # three distinct programs per cell: the floor is their most frequent output
        outputs = [r["real_output"] for r in result["rows"] if (r["family"], r["k"]) == (cell["family"], cell["k"])]
        assert cell["constant"]["right"] == max(outputs.count(o) for o in outputs)
    variants = {(v["family"], v["variant"]): v["n"] for v in result["variants"]}
    assert sum(variants.values()) == 12 and ("chain", "chain") in variants
    assert f"| chain | chain | {variants['chain', 'chain']} |" in format_variants(result)


def test_steps_right_counts_the_steps_before_the_first_wrong_state(oracle, sandbox):
    # a scripted trace model that carries out a chain's first step and gets the second's value wrong
    from codewm.evaluate.ladder import step_positions

    programs = ladder_cell("chain", 3, 2)
    texts = {}
    for program, result in zip(programs, real_traces(programs, sandbox)):
        frames = list(result.trace.frames)
        after_second = step_positions(program, result.trace)[1] + 1
        wrong = dict(frames[after_second].locals)
        wrong["x2"] = repr(10**6)  # no chain of small numbers gets there
        frames[after_second] = Frame(frames[after_second].event, frames[after_second].source, frames[after_second].depth, locals=wrong)
        texts[program.context] = format_prompt(program.context) + format_frames(frames, complete=True)
    half_right = _scripted(texts, "one-step")
    result = run_ladder(half_right, oracle, ["chain"], [3], 2, limits=LIMITS, sandbox=sandbox)
    assert [r["trace"]["steps_right"] for r in result["rows"]] == [1, 1]
    cell = result["cells"][0]
    assert cell["trace"]["steps_right"] == pytest.approx(100 / 3, abs=0.01) and cell["trace"]["all_steps_right"] == 0.0
    assert cell["trace"]["frames_exact"] == 100.0  # the path was right, a value was not


def test_a_direct_answer_is_scored_like_a_trace(oracle, sandbox):
    # a model that writes only main's frames is right when its value is, wrong when not
    contexts = _contexts(2, [2])
    right = _direct_script(oracle, contexts, wrong=False)
    result = run_ladder(oracle, right, FAMILIES, [2], 2, limits=LIMITS, sandbox=sandbox)
    assert all(cell["direct"]["accuracy"] == 100.0 for cell in result["cells"])
    assert all(r["direct"]["frames"] == 3 and r["direct"]["stop"] == "complete" for r in result["rows"])
    wrong = _direct_script(oracle, contexts, wrong=True)
    result = run_ladder(oracle, wrong, FAMILIES, [2], 2, limits=LIMITS, sandbox=sandbox)
    for cell in result["cells"]:
        assert cell["direct"]["accuracy"] == 0.0 and (cell["b"], cell["c"]) == (2, 0)
        assert cell["p_exact"] == pytest.approx(0.5)
    assert all(r["direct"]["output"] is not None and r["direct"]["output"] != r["real_output"] for r in result["rows"])


def test_a_model_wrong_in_one_arm(oracle, sandbox, tmp_path):
    from codewm.evaluate.cache import PredictionCache
    from codewm.predict.registry import load_predictor

    empty = load_predictor("empty")
    log: list[str] = []
    with PredictionCache(tmp_path / "p.jsonl") as cache:
        result = run_ladder(oracle, empty, FAMILIES, [1, 2], 3, limits=LIMITS, sandbox=sandbox, cache=cache, log=log.append)
    assert log and "12/12 pairs" in log[-1]
    for cell in result["cells"]:
        assert (cell["n"], cell["b"], cell["c"]) == (3, 3, 0)
        assert cell["trace"]["accuracy"] == 100.0 and cell["direct"]["accuracy"] == 0.0
        assert cell["p_exact"] == pytest.approx(0.25)
    overall = result["families"]["chain"]
    assert (overall["b"], overall["c"]) == (6, 0) and overall["p_exact"] == pytest.approx(2 / 64)
    # the other way round: c counts the direct model's wins
    flipped = run_ladder(empty, oracle, ["loop"], [1], 4, limits=LIMITS, sandbox=sandbox)
    assert (flipped["cells"][0]["b"], flipped["cells"][0]["c"]) == (0, 4)
    assert flipped["cells"][0]["difference"]["points"] == -100.0
    assert flipped["cells"][0]["trace"]["frames_exact"] == 0.0  # an empty trace takes no path
    assert flipped["cells"][0]["trace"]["steps_right"] == 0.0
    # saved predictions are reused: the second run asks the model nothing
    with PredictionCache(tmp_path / "p.jsonl") as cache:
        again = run_ladder(oracle, empty, FAMILIES, [1, 2], 3, limits=LIMITS, sandbox=sandbox, cache=cache)
        assert cache.reused == 24
    assert [c["b"] for c in again["cells"]] == [c["b"] for c in result["cells"]]


def test_the_constant_guess_floor_is_the_most_frequent_output_per_cell():
    from codewm.evaluate.ladder import constant_guess

    rows = [{"family": "loop", "k": 1, "real_output": out} for out in ("3", "3", "5", "3")]
    rows += [{"family": "loop", "k": 2, "real_output": out} for out in ("0", "1", "1", "'ab'")]
    assert constant_guess(rows[:4])["right"] == 3 and constant_guess(rows[:4])["accuracy"] == 75.0
    both = constant_guess(rows)  # each cell keeps its own answer: 3 of 4 and 2 of 4
    assert both["right"] == 5 and both["accuracy"] == 62.5 and both["ci"][0] < 62.5 < both["ci"][1]
    assert constant_guess([]) == {"right": 0, "accuracy": 0.0, "ci": [0.0, 100.0]}


def test_a_time_limit_gives_a_partial_result(oracle, sandbox):
    result = run_ladder(oracle, oracle, ["chain"], [1], 5, limits=LIMITS, sandbox=sandbox, limit_seconds=0)
    assert result["partial"] and result["cells"][0]["n"] == 0


def test_token_counts_are_read_and_unequal_compute_is_flagged(tmp_path):
    def checkpoint(name: str, tokens, target: str):
        directory = tmp_path / name
        directory.mkdir()
        (directory / "codewm.json").write_text(json.dumps({"tokens": tokens, "target": target, "steps": 10}))
        return f"builtin:{directory}"

    trace = checkpoint_info(checkpoint("t", 1_000_000, "trace"))
    same = checkpoint_info(checkpoint("d", 1_040_000, "direct"))
    more = checkpoint_info(checkpoint("d2", 1_200_000, "direct"))
    assert (trace["tokens"], trace["target"], trace["steps"]) == (1_000_000, "trace", 10)
    assert compute_warnings(trace, same) == []
    assert any("NOT trained on equal tokens" in w for w in compute_warnings(trace, more))
    assert any("target 'trace', not 'direct'" in w for w in compute_warnings(trace, trace))
    assert any("unknown" in w for w in compute_warnings(trace, checkpoint_info("oracle")))
    # a run with a time budget plans a cap of steps ("steps") and stops earlier ("step")
    timed = tmp_path / "timed"
    timed.mkdir()
    (timed / "codewm.json").write_text(json.dumps({"tokens": 5, "target": "trace", "steps": 100000, "step": 11340}))
    assert checkpoint_info(f"builtin:{timed}")["steps"] == 11340


def test_the_bench_prints_a_table_then_one_json_line(tmp_path, capsys):
    bench = load_bench("experiments/trace_or_direct.py")
    assert bench.parse_ks("1-3,8") == [1, 2, 3, 8]
    bench.main(["--trace-model", "oracle", "--direct-model", "empty", "--n", "2", "--k", "1", "--families", "chain", "--out", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()
    last = json.loads(lines[-1])
    assert [(c["family"], c["k"], c["b"], c["c"]) for c in last["cells"]] == [("chain", 1, 2, 0)]
    assert "rows" not in last and (tmp_path / "results.json").is_file()
    assert any(line.startswith("| chain | 1 | 2 |") for line in lines)
    assert any(line.startswith("| chain | chain | 2 |") for line in lines)  # the per-shape table
    assert any("equal compute NOT checked" in line for line in lines)
