"""Fingerprints of programs and calls: what makes two cases the same, whatever their layout.

A program's digest is the sha256 of its compiled bytecode without line positions, so two
programs that differ only in formatting and comments are one program: the plan removes the
second as a duplicate and both land in the same split (`codewm.dataset.plan.assign_split`
places a program by its digest). A call's key is its bytecode's digest in the same way.
Both are computed from one compilation of the case's context, which the sandbox then runs
(`prepare_program`).
"""

from __future__ import annotations

import ast
import hashlib

from codewm.trace.tracer import compile_program, shippable_code
from codewm.types import build_context


def normalize_call(call: str) -> str:
    """A call's text in one form (as `ast.unparse` writes it); stripped where it does not parse."""
    try:
        return ast.unparse(ast.parse(call.strip(), mode="eval"))
    except (SyntaxError, ValueError, RecursionError):
        return call.strip()


def _code_fingerprint(code, out: list) -> None:
    """What a code object does, without where its lines are (formatting and comments)."""
    out.append(code.co_code)
    out.append(repr(code.co_names).encode())
    out.append(repr(code.co_varnames).encode())
    out.append(repr((code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount, code.co_flags, code.co_name)).encode())
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            _code_fingerprint(const, out)
        else:
            out.append(_stable_repr(const).encode())


def _stable_repr(const) -> str:
    """repr() of a constant, except that a frozenset's elements are sorted: its iteration
    order follows string hashes, which change with every process (PYTHONHASHSEED)."""
    if type(const) is frozenset:
        return "frozenset({" + ", ".join(sorted(_stable_repr(item) for item in const)) + "})"
    if type(const) is tuple and any(type(item) in (frozenset, tuple) for item in const):
        return "(" + ", ".join(_stable_repr(item) for item in const) + ("," if len(const) == 1 else "") + ")"
    return repr(const)


def _wrapper_line(source: str) -> int:
    """The line of the wrapper's `def main():` in `build_context(source, ...)`."""
    body = source.rstrip("\n")
    return body.count("\n") + 2 if body else 1


def _fingerprints(code, wrapper_line: int) -> tuple[str, str]:
    """(program digest, call digest) of a compiled function-level context: the program is
    everything but the entry wrapper's code, the call is that code (`return CALL`); each
    without line positions, so formatting and comments do not count."""
    program: list[bytes] = []
    call: list[bytes] = []
    program.append(code.co_code)
    program.append(repr(code.co_names).encode())
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            # the wrapper is the one function defined on its line (its name is not always main)
            if const.co_firstlineno == wrapper_line:
                _code_fingerprint(const, call)  # the call; the program only defines it
            else:
                _code_fingerprint(const, program)
        else:
            program.append(_stable_repr(const).encode())
    return hashlib.sha256(b"\x00".join(program)).hexdigest(), hashlib.sha256(b"\x00".join(call)).hexdigest()


def program_digest(source: str) -> str:
    """sha256 of the normalized program: its compiled bytecode without line positions, so
    formatting and comments do not count. (Compiled by this Python: like the traces
    themselves, splits are specific to the Python version.) Text that does not compile is
    hashed as written, stripped."""
    try:
        code = compile_program(build_context(source, "None"))
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return hashlib.sha256(b"text:" + source.strip().encode()).hexdigest()
    return _fingerprints(code, _wrapper_line(source))[0]


def prepare_program(source: str, call: str) -> tuple[str, bytes | None, str]:
    """What the plan needs of a case, from one compilation of its context: the program's
    digest (`program_digest`), the compiled context for the sandbox to run (see
    `codewm.trace.sandbox.Program.compiled`; None where it must compile it itself), and the
    deduplication key of the call (its bytecode's digest, or its normalized text where it
    does not compile)."""
    try:
        code = compile_program(build_context(source, call))
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return program_digest(source), None, "text:" + normalize_call(call)
    sha, call_sha = _fingerprints(code, _wrapper_line(source))
    return sha, shippable_code(code), "code:" + call_sha
