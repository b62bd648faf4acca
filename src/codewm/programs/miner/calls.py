"""Call synthesis: the candidate calls of a function, from doctests, call sites, defaults, type hints and hypothesis."""

from __future__ import annotations

import ast
import doctest
import functools
import random
import warnings
from typing import Any, Iterable, Iterator

from codewm.programs.miner.discovery import ParsedFunction, ParsedModule
from codewm.programs.miner.values import (
    UNIFORM_SPECS, annotation_spec, guessed_spec, hypothesis_draws, hypothesis_strategy, literal_of, literal_text,
    random_value, stable_seed,
)

MAX_CALL_CHARS = 400  # a longer call is dropped


def _call_args(call: ast.Call) -> tuple[list[Any], dict[str, Any]] | None:
    """The literal arguments of a call, or None if one is not literal."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            return None
        ok, value = literal_of(arg)
        if not ok:
            return None
        args.append(value)
    for keyword in call.keywords:
        if keyword.arg is None:
            return None
        ok, value = literal_of(keyword.value)
        if not ok:
            return None
        kwargs[keyword.arg] = value
    return args, kwargs


def _call_text(function: ParsedFunction, args: list[Any], kwargs: dict[str, Any]) -> str | None:
    """The call text, or None if the arguments do not fit the signature or are not literals."""
    positional = [p for p in function.params if not p.keyword_only]
    if len(args) > len(positional) and not function.has_varargs:
        return None
    names = {p.name for p in function.params}
    given = {p.name for p in positional[: len(args)]}
    for key in kwargs:
        if key in given or (key not in names and not function.has_varkw):
            return None
    if any(p.required and p.name not in given and p.name not in kwargs for p in function.params):
        return None
    texts = [literal_text(a) for a in args] + [None if (t := literal_text(v)) is None else f"{k}={t}" for k, v in kwargs.items()]
    if any(t is None for t in texts):
        return None
    call = f"{function.name}({', '.join(texts)})"
    if function.generator:
        call = f"list({call})"
    return call if len(call) <= MAX_CALL_CHARS else None


# -- candidate inputs ------------------------------------------------------------------------------
def _calls_of(tree: ast.AST, accept) -> Iterator[ast.Call]:
    """The calls in `tree` whose callee `accept` accepts."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and accept(node.func):
            yield node


def _dotted(node: ast.expr) -> str | None:
    """The dotted name of a Name or Attribute chain (`a.b.c`), or None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def build_call_site_index(modules: list[ParsedModule]) -> dict[tuple[str, str], list[tuple[list, dict]]]:
    """(module, function) -> literal argument lists of calls to it, in scan order."""
    index: dict[tuple[str, str], list[tuple[list, dict]]] = {}
    for module in modules:
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call) or not node.args and not node.keywords:
                continue
            target = None
            if isinstance(node.func, ast.Name):
                name = node.func.id
                if name in module.top_functions:
                    target = (module.name, name)
                elif name in module.from_names:
                    target = module.from_names[name]
            elif isinstance(node.func, ast.Attribute):
                owner = _dotted(node.func.value)
                if owner is not None:
                    head, _, rest = owner.partition(".")
                    if head in module.module_aliases:
                        full = module.module_aliases[head] + ("." + rest if rest else "")
                        target = (full, node.func.attr)
            if target is None:
                continue
            args = _call_args(node)
            if args is not None:
                index.setdefault(target, []).append(args)
    return index


def _doctest_calls(function: ParsedFunction) -> Iterator[tuple[list, dict]]:
    """The literal arguments of the calls of `function` in the `>>>` examples of its or its module's docstring."""
    module = function.module
    qualifiers = {module.name, module.name.rpartition(".")[2]}

    def accept(func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id == function.name
        return isinstance(func, ast.Attribute) and func.attr == function.name and _dotted(func.value) in qualifiers

    for doc in (ast.get_docstring(function.node), ast.get_docstring(module.tree)):
        for tree in _doctest_trees(doc or ""):
            for call in _calls_of(tree, accept):
                args = _call_args(call)
                if args is not None:
                    yield args


@functools.lru_cache(maxsize=256)
def _doctest_trees(doc: str) -> tuple[ast.Module, ...]:
    """The parsed `>>>` examples of a docstring (those that parse)."""
    if ">>>" not in doc:
        return ()
    try:
        examples = doctest.DocTestParser().get_examples(doc)
    except ValueError:
        return ()
    trees = []
    for example in examples:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trees.append(ast.parse(example.source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return tuple(trees)


def candidate_calls(function: ParsedFunction, call_sites: dict, per_source: int, total: int, seed: int, use_hypothesis: bool) -> list[tuple[str, str]]:
    """(call text, input_from) candidates for a function, in order of preference."""
    chosen: dict[str, str] = {}

    def offer(source: str, arg_lists: Iterable[tuple[list, dict]], quota: int = per_source) -> None:
        taken = 0
        for args, kwargs in arg_lists:
            if taken >= quota or len(chosen) >= total:
                return
            text = _call_text(function, args, kwargs)
            if text is not None and text not in chosen:
                chosen[text] = source
                taken += 1

    module = function.module.name
    offer("doctest", _doctest_calls(function))
    offer("call_site", call_sites.get((module, function.name), []))

    params = function.params
    required = [p for p in params if p.required]
    if not required:
        calls: list[tuple[list, dict]] = [([], {})]
        if params:
            literal = [literal_of(p.default) for p in params]
            if all(ok for ok, _ in literal):
                args = [v for p, (_, v) in zip(params, literal) if not p.keyword_only]
                kwargs = {p.name: v for p, (_, v) in zip(params, literal) if p.keyword_only}
                calls.append((args, kwargs))
        offer("defaults", calls)
        return list(chosen.items())

    def arrange(values: dict[str, Any]) -> tuple[list, dict]:
        return [values[p.name] for p in required if not p.keyword_only], {p.name: values[p.name] for p in required if p.keyword_only}

    specs = {p.name: annotation_spec(p.annotation) for p in required}
    if all(spec is not None for spec in specs.values()):
        rngs = {p.name: random.Random(f"{seed}|{module}.{function.name}|{p.name}") for p in required}
        draws = [arrange({p.name: random_value(specs[p.name], rngs[p.name]) for p in required}) for _ in range(per_source * 2)]
        offer("type_hints", draws)

    if use_hypothesis and len(chosen) < total:
        from hypothesis import strategies as st

        branches = [st.tuples(*[hypothesis_strategy(guessed_spec(p)) for p in required])]
        unannotated = [annotation_spec(p.annotation) is None for p in required]
        if any(unannotated):
            # Also every unannotated parameter of one type at once (all strings, all ints, ...):
            # related parameters usually share a type, which a per-parameter mix seldom hits.
            branches += [
                st.tuples(*[hypothesis_strategy(spec if free else guessed_spec(p)) for p, free in zip(required, unannotated)])
                for spec in UNIFORM_SPECS
            ]
        rows = hypothesis_draws(st.tuples(*branches), per_source * 3, stable_seed(seed, module, function.name))
        columns = []
        for b in range(len(branches)):
            drawn = [row[b] for row in rows]
            # Draws whose every argument is empty or zero ('', 0, []) trace little: offer them last.
            columns.append([v for v in drawn if any(v)] + [v for v in drawn if not any(v)])
        # Round robin over the branches, so that each type is tried early.
        values = [column[n] for n in range(len(rows)) for column in columns]
        budget = max(per_source, total - len(chosen))
        offer("hypothesis", [arrange(dict(zip((p.name for p in required), drawn))) for drawn in values], budget)
    return list(chosen.items())
