"""The probe's report: a plain-text table of its figures, and the gates a recipe must pass.

    print(format_probe(result))           # result: codewm.model.probe.probe(...)
    for gate in check_gates(result): ...

`probe_summary` is the handful of figures a training run logs at each validation.
"""

from __future__ import annotations


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_probe(result: dict) -> str:
    """A plain-text table of a `probe` result."""
    lines = [
        f"teacher-forced probe: {result['n_traces']} traces, {result['n_frames']} frames, {result['n_tokens']} tokens"
        + (f" ({result['skipped_too_long']} skipped: longer than the context)" if result.get("skipped_too_long") else ""),
        "",
        f"{'part':<18}{'tokens':>8}{'accuracy':>10}{'loss':>8}",
    ]
    for name, entry in result["parts"].items():
        lines.append(f"{name:<18}{entry['tokens']:>8}{_pct(entry['accuracy']):>10}{_num(entry['loss'], 2):>8}")
    lines.append(f"{'all':<18}{result['n_tokens']:>8}{_pct(result['token_accuracy']):>10}{_num(result['loss'], 2):>8}")
    first = result["first_wrong_frame"]
    histogram = "  ".join(f"{k}:{v}" for k, v in first["histogram"].items())
    lines += [
        "",
        f"whole-frame accuracy        {_pct(result['whole_frame_accuracy'])}",
        f"action exact                {_pct(result['action_exact'])}",
        f"  control-flow decisions    {_pct(result.get('decision_actions_exact'))}  ({result.get('decision_actions', 0)} lines after a for/while/if/elif header; always entering the body: {_pct(result.get('decision_always_enter'))})",
        f"  other actions             {_pct(result.get('other_actions_exact'))}",
        f"call-frame literals exact   {_pct(result.get('call_literals_exact'))}  ({result.get('call_literals', 0)} values copied from the calling line's literals)",
        f"call-frame values exact     {_pct(result['call_values_exact'])}  ({result['call_values']} values, computed arguments included)",
        f"line-frame values exact     {_pct(result['line_values_exact'])}  ({result['line_values']} changed values)",
        f"return values exact         {_pct(result['return_values_exact'])}",
        f"<|end_of_text|> right       {_pct(result['end_right'])}",
        f"frame 2 right               {_pct(result['frame2_right'])}  ({result['frame2_traces']} traces)",
        "right by frame index        " + "  ".join(f"{i}:{_pct(v)}" for i, v in enumerate(result["frame_index_right"])),
        f"first wrong frame           mean {_num(first['mean'], 2)}  median {_num(first['median'], 1)}",
        f"  histogram (index: traces) {histogram}",
    ]
    induction = result.get("induction") or {}
    if induction:
        lines += ["", f"{'induction (L)':<18}{'1st copy':>10}{'2nd copy':>10}{'ratio':>8}{'uniform':>9}"]
        for length, entry in induction.items():
            lines.append(
                f"{length:<18}{_num(entry['first_copy_loss']):>10}{_num(entry['second_copy_loss']):>10}{_num(entry['ratio']):>8}{_num(entry['uniform']):>9}"
            )
    return "\n".join(lines)


# The gates the built-in model's recipe must pass (issue 13) before more compute is spent on
# it: copying has formed, actions and call-frame literals are copied, frame 2 comes out right.
# The copy gate reads the call-frame values that copy a literal of the calling line (the issue:
# "values in call frames, which are pure copies of the call's literals"); a value the program
# computes (`f(n - 1)`) is a prediction, not a copy, and is reported apart (`call_values_exact`).
GATES = (
    # (name, what it reads, threshold, "below" | "above")
    ("second copy loss below 30 % of the first", "copy_loss_ratio", 0.30, "below"),
    ("action tokens above 95 %", "action_tokens", 0.95, "above"),
    ("call-frame literals above 90 % exact", "call_literals_exact", 0.90, "above"),
    ("frame 2 right in at least 95 % of traces", "frame2_right", 0.95, "above_or_equal"),
)


def gate_figures(result: dict) -> dict:
    """The figures the gates read, from a `probe` result."""
    induction = next(iter(result.get("induction", {}).values()), {})
    return {
        "copy_loss_ratio": induction.get("ratio"),
        "action_tokens": result.get("parts", {}).get("action", {}).get("accuracy"),
        "call_literals_exact": result.get("call_literals_exact"),
        "frame2_right": result.get("frame2_right"),
    }


def check_gates(result: dict) -> list[dict]:
    """Each gate with its figure and whether it passes (a missing figure fails)."""
    figures = gate_figures(result)
    out = []
    for name, key, threshold, how in GATES:
        value = figures[key]
        if value is None:
            passed = False
        elif how == "below":
            passed = value < threshold
        elif how == "above":
            passed = value > threshold
        else:
            passed = value >= threshold
        out.append({"gate": name, "figure": key, "value": value, "threshold": threshold, "passed": passed})
    return out


def probe_summary(result: dict) -> dict:
    """The probe's headline figures (what the gates of the built-in model's recipe read)."""
    parts = result.get("parts", {})
    induction = next(iter(result.get("induction", {}).values()), {})
    return {
        "token_accuracy": result.get("token_accuracy"),
        "action_tokens": parts.get("action", {}).get("accuracy"),
        "changed_value_tokens": parts.get("changed_values", {}).get("accuracy"),
        "return_value_tokens": parts.get("return_values", {}).get("accuracy"),
        "whole_frames": result.get("whole_frame_accuracy"),
        "action_exact": result.get("action_exact"),
        "decision_actions_exact": result.get("decision_actions_exact"),
        "call_literals_exact": result.get("call_literals_exact"),
        "call_values_exact": result.get("call_values_exact"),
        "frame2_right": result.get("frame2_right"),
        "copy_loss_ratio": induction.get("ratio"),
    }
