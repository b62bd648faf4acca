"""The teacher-forced probe of a world model (codewm.model.probe): which parts of a frame the
model predicts right when it is always shown the real trace, how soon in a trace it first
slips, and whether it can copy a repeated random span (induction).

    python bench/experiments/probe.py [--model builtin | builtin:DIR | DIR] [--data DIR --split test] [--n 30] [--seed 0] [--mode simple]

Without --data the texts are the real traces of held-out synthetic programs (seed 90001,
mode general: the programs of the traces-synthetic benchmark, which no training preset
uses), traced in the sandbox the way the dataset builder traces (`Sandbox.run_batch(...,
formatter=DESCRIBE_STEPS)`); programs whose run does not finish by itself are left out and
counted. With --data the first N texts of a built dataset's split are probed.

Prints a table and the recipe's gates (codewm.model.probe_report.GATES: copying formed,
actions and call-frame literals copied, frame 2 right), then as its last line a JSON object
with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin", help="builtin, builtin:DIR or a checkpoint directory")
    parser.add_argument("--data", default=None, help="a built codewm dataset (default: held-out synthetic programs, traced now)")
    parser.add_argument("--split", default="test", help="the dataset split with --data")
    parser.add_argument("--n", type=int, default=30, help="traces to probe")
    parser.add_argument("--seed", type=int, default=0, help="the induction spans' seed (and the dataset order with --data)")
    parser.add_argument("--copy-length", type=int, action="append", default=None, help="induction span length (repeatable; default 20)")
    parser.add_argument("--copy-trials", type=int, default=32)
    parser.add_argument("--mode", default="general", help="the held-out programs' synthetic mode (general, simple, loops, cruxeval)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()

    import torch

    from codewm.model.probe import HELD_OUT_SEED, held_out_texts, load_model, probe, resolve_model_dir
    from codewm.model.probe_report import check_gates, format_probe

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.monotonic()
    left_out: dict[str, int] = {}
    if args.data:
        from codewm.model.probe import dataset_texts

        texts = dataset_texts(args.data, args.split, args.n, args.seed)
        source = {"data": args.data, "split": args.split}
    else:
        texts, left_out = held_out_texts(args.n, mode=args.mode)
        source = {"synthetic_seed": HELD_OUT_SEED, "mode": args.mode, "programs": args.n, "left_out": left_out}
    traced = time.monotonic()
    model, tokenizer = load_model(args.model)
    result = probe(model, tokenizer, texts, copy_lengths=tuple(args.copy_length or (20,)), copy_trials=args.copy_trials, seed=args.seed)
    finished = time.monotonic()
    result["source"] = source
    result["model"] = str(resolve_model_dir(args.model))
    result["seconds"] = {"texts": round(traced - started, 3), "probe": round(finished - traced, 3)}

    print(f"model: {args.model} ({result['model']})")
    if args.data:
        print(f"texts: the first {len(texts)} of {args.data} split {args.split}")
    else:
        print(f"texts: {len(texts)} held-out synthetic programs ({args.mode}, seed {HELD_OUT_SEED})" + (f"; left out: {left_out}" if left_out else ""))
    print(format_probe(result))
    result["gates"] = check_gates(result)
    print("\ngates (issue 13: pass them before spending more compute)")
    for gate in result["gates"]:
        value = "-" if gate["value"] is None else f"{gate['value']:.3f}"
        print(f"  {'PASS' if gate['passed'] else 'fail'}  {gate['gate']:<45} {value}")
    print(f"({result['seconds']['texts']:.1f} s getting the texts, {result['seconds']['probe']:.1f} s loading and probing)")
    sys.stdout.flush()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
