"""Does a world model read a loop's bound? It predicts the trace of `for i in range(k):` with
a one-line body for k = 1..K, and counts how often it runs the body, against k.

    python bench/experiments/loop_bound.py [--model builtin | builtin:DIR | oracle] [--max-k 6]

A model that decides loops reads k; one that follows only the program's text runs every loop
the same number of times. The programs are written here, not drawn from a generator, so the
same ones can be asked of every checkpoint (the synthetic generator writes `range(k)` with
k >= 2, so k = 1 is a loop no training program has). Prints one row per body, then as its
last line a JSON object: body -> the predicted iteration counts for k = 1..K.
"""

from __future__ import annotations

import argparse
import json

BODIES = ("acc = acc + a", "acc = acc - i", "acc = (acc * a + i) % m")
CALL = "f(3, 7)"


def loop_program(body: str, k: int) -> str:
    return f"def f(a, m):\n    acc = 1\n    for i in range({k}):\n        {body}\n    return acc\n"


def predicted_iterations(predictor, body: str, max_k: int, max_frames: int) -> list[int]:
    """How many times the predicted trace runs `body`, for k = 1..max_k (one batch)."""
    from codewm.predict.decode import DecodeLimits, predict_traces
    from codewm.types import build_context

    contexts = [build_context(loop_program(body, k), CALL) for k in range(1, max_k + 1)]
    predicted = predict_traces(predictor, contexts, DecodeLimits(max_frames=max_frames))
    return [sum(1 for frame in p.trace.frames if frame.event == "line" and frame.source.strip() == body) for p in predicted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="builtin", help="any codewm model name (builtin, builtin:DIR, oracle, hf:..., openai:...)")
    parser.add_argument("--max-k", type=int, default=6, help="the largest loop bound asked (default 6)")
    parser.add_argument("--max-frames", type=int, default=60, help="frames a prediction may run to (default 60)")
    args = parser.parse_args(argv)
    if args.max_k < 1:
        parser.error(f"--max-k must be at least 1, got {args.max_k}")

    from codewm.predict.registry import load_predictor

    predictor = load_predictor(args.model)
    ks = list(range(1, args.max_k + 1))
    print(f"model: {args.model}; call {CALL}; iterations of the body predicted for range(k)")
    print(f"{'body':28} " + " ".join(f"k={k:<3}" for k in ks))
    result: dict[str, list[int]] = {}
    for body in BODIES:
        counts = predicted_iterations(predictor, body, args.max_k, args.max_frames)
        result[body] = counts
        print(f"{body:28} " + " ".join(f"{n:<5}" for n in counts))
    reads = sum(counts == ks for counts in result.values())
    print(f"bodies whose loop runs exactly k times for every k: {reads} of {len(BODIES)}")
    print(json.dumps({"model": args.model, "k": ks, "iterations": result, "bodies_reading_k": reads}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
