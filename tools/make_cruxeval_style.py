#!/usr/bin/env python3
"""Generate ``src/codewm/examples/cruxeval_style.jsonl``.

A bundled set of short, original CRUXEval-style Python functions written for
codewm (none is copied from CRUXEval).  They live in the data files
``tools/cruxeval_style/{strings,lists,dicts,misc}.txt``: each entry is a ``### <input>``
header line followed by the source of one function ``f``.  The script runs
every function on its input in a fresh namespace, records ``repr()`` of the
result, checks the mechanical rules, and writes the JSONL file
deterministically (one ``json.dumps(obj, sort_keys=True)`` per line).

Usage::

    python tools/make_cruxeval_style.py            # write the file
    python tools/make_cruxeval_style.py --check    # validate only, write nothing
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT_PATH = REPO / "src" / "codewm" / "examples" / "cruxeval_style.jsonl"

MIN_LEN, MAX_LEN = 75, 300
MIN_COUNT = 320
TIME_LIMIT_S = 0.1
FORBIDDEN_NAMES = {
    "print", "input", "open", "eval", "exec", "compile", "__import__",
    "globals", "locals", "vars", "id", "hash", "exit", "quit", "breakpoint",
}

DATA_DIR = Path(__file__).resolve().parent / "cruxeval_style"
# The functions, in the order their ids are given: strings, lists, dicts, then ints, tuples,
# booleans, None and edge cases (empty inputs).
SECTIONS = ["strings", "lists", "dicts", "misc"]


def read_section(name: str) -> str:
    """The text of one data file, tools/cruxeval_style/<name>.txt."""
    return (DATA_DIR / f"{name}.txt").read_text(encoding="utf-8")


def parse_entries(text: str) -> list[tuple[str, str]]:
    """Split a ``### <input>`` / code block section into (code, input) pairs."""
    entries: list[tuple[str, str]] = []
    inp: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if inp is not None:
            while lines and not lines[-1].strip():
                lines.pop()
            entries.append(("\n".join(lines) + "\n", inp))

    for line in text.splitlines():
        if line.startswith("### "):
            flush()
            inp = line[4:].strip()
            lines = []
        elif inp is not None:
            lines.append(line)
        elif line.strip():
            raise ValueError(f"text before the first entry header: {line!r}")
    flush()
    return entries


class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):  # pragma: no cover - only on runaway code
    raise _Timeout()


def _contains_float(value) -> bool:
    if isinstance(value, float) or isinstance(value, complex):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_contains_float(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_float(k) or _contains_float(v) for k, v in value.items())
    return False


def check_code(code: str) -> list[str]:
    """Static checks on a function's source; returns a list of problems."""
    problems = []
    if not MIN_LEN <= len(code) <= MAX_LEN:
        problems.append(f"length {len(code)} not in [{MIN_LEN}, {MAX_LEN}]")
    if not code.endswith("\n"):
        problems.append("code does not end with a newline")
    if "\t" in code:
        problems.append("tab character in code (use 4-space indentation)")
    if "import" in code:
        problems.append("mentions 'import'")
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return problems + [f"syntax error: {exc}"]
    body = tree.body
    if len(body) != 1 or not isinstance(body[0], ast.FunctionDef) or body[0].name != "f":
        problems.append("must define exactly one top-level function named f")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            problems.append("import statement")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (float, complex)):
            problems.append(f"float/complex literal {node.value!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            problems.append("true division '/' (produces floats)")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            problems.append(f"forbidden name {node.id!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "f":
            problems.append("recursive call to f")
    for i, line in enumerate(code.splitlines()[1:], 2):
        indent = len(line) - len(line.lstrip(" "))
        if line.strip() and indent % 4:
            problems.append(f"line {i}: indentation not a multiple of 4")
    return problems


def check_input(inp: str) -> list[str]:
    try:
        ast.literal_eval("(" + inp + ",)")
    except (ValueError, SyntaxError) as exc:
        return [f"input is not a tuple of literals: {exc}"]
    return []


def run_one(code: str, inp: str):
    """Execute ``f(<inp>)`` in a fresh namespace; returns (value, seconds)."""
    namespace: dict = {}
    exec(compile(code, "<cruxeval_style>", "exec"), namespace)
    use_alarm = hasattr(signal, "setitimer")
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        start = time.perf_counter()
        value = eval("f(" + inp + ")", namespace)
        elapsed = time.perf_counter() - start
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    return value, elapsed


def build_rows() -> tuple[list[dict], list[str]]:
    entries = [e for section in SECTIONS for e in parse_entries(read_section(section))]
    rows: list[dict] = []
    errors: list[str] = []
    seen_code: dict[str, int] = {}
    for idx, (code, inp) in enumerate(entries):
        ident = f"crux_style_{idx:04d}"
        problems = check_code(code) + check_input(inp)
        normalized = ast.dump(ast.parse(code)) if not problems else code
        if normalized in seen_code:
            problems.append(f"duplicate of crux_style_{seen_code[normalized]:04d}")
        seen_code.setdefault(normalized, idx)
        output = None
        if not problems:
            try:
                value, elapsed = run_one(code, inp)
            except _Timeout:
                problems.append("timed out")
            except Exception as exc:  # noqa: BLE001 - report any failure
                problems.append(f"raised {type(exc).__name__}: {exc}")
            else:
                if elapsed > TIME_LIMIT_S:
                    problems.append(f"too slow: {elapsed:.3f}s")
                if _contains_float(value):
                    problems.append("output contains a float")
                output = repr(value)
                try:
                    if ast.literal_eval(output) != value:
                        problems.append("output does not round-trip")
                except (ValueError, SyntaxError):
                    problems.append(f"output repr is not a literal: {output}")
        if problems:
            errors.append(f"{ident}: " + "; ".join(problems) + "\n" + code)
            continue
        rows.append({"id": ident, "code": code, "input": inp, "output": output})
    return rows, errors


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=True) + "\n" for r in rows)


def check_hash_seed_independence(text: str) -> list[str]:
    """Re-run the generator under two fixed hash seeds and compare the output."""
    problems = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--emit"],
            env=env, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0 or proc.stdout != text:
            problems.append(f"output differs under PYTHONHASHSEED={seed}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="validate only; do not write")
    ap.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=OUT_PATH, help="output JSONL path")
    args = ap.parse_args(argv)

    rows, errors = build_rows()
    text = render(rows)
    if args.emit:
        sys.stdout.write(text)
        return 1 if errors else 0
    if errors:
        print(f"{len(errors)} invalid entries:", file=sys.stderr)
        for e in errors:
            print(e, file=sys.stderr)
        return 1
    if len(rows) < MIN_COUNT:
        print(f"only {len(rows)} rows; need at least {MIN_COUNT}", file=sys.stderr)
        return 1
    seed_problems = check_hash_seed_independence(text)
    if seed_problems:
        print("\n".join(seed_problems), file=sys.stderr)
        return 1

    lengths = [len(r["code"]) for r in rows]
    if not args.check:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    where = "(check only)" if args.check else f"-> {args.out}"
    print(
        f"{len(rows)} functions {where}; code length mean "
        f"{sum(lengths) / len(lengths):.1f}, min {min(lengths)}, max {max(lengths)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
