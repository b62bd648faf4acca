"""Program assembly: f and the module-level definitions it uses, put together into one source.

`Program.build` decides which features a program has (exceptions, a class, recursion, helpers),
makes the definitions, forces the statements that use them into f's body, and keeps only the
definitions f reaches.
"""

from __future__ import annotations

import functools
import random
from itertools import filterfalse

from codewm.programs.synthetic.budget import STEPS, Reject
from codewm.programs.synthetic.definitions import ClassSpec, Helper, make_class, make_helper, make_recursive
from codewm.programs.synthetic.function import FunctionBuilder
from codewm.programs.synthetic.grammar import CRUX, GENERAL
from codewm.programs.synthetic.options import SyntheticOptions
from codewm.programs.synthetic.statements import final_return
from codewm.programs.synthetic.vocabulary import (
    BOOL, CRUX_VARIABLE_NAMES, CUSTOM_EXCEPTION_NAMES, DICT, EXCEPTION_TYPES, INT, INT_LIST, SET, STR, STR_LIST,
    TUPLE, VARIABLE_NAMES,
)


@functools.lru_cache(maxsize=64)
def _program_types(data_types: tuple[str, ...], crux: bool) -> tuple[tuple, frozenset, tuple]:
    """(types a program uses, the same as a set, types of f's parameters) for the data types asked for."""
    types = set(data_types)
    allowed = [INT]
    if "bool" in types:
        allowed.append(BOOL)
    if "str" in types:
        allowed.append(STR)
    if "list" in types:
        allowed.append(INT_LIST)
        if "str" in types:
            allowed.append(STR_LIST)
    if "dict" in types:
        allowed.append(DICT)
    if "set" in types and not crux:
        allowed.append(SET)
    if "tuple" in types and not crux:
        allowed.append(TUPLE)
    # f's parameters only take the data types asked for (ints serve as counters anyway)
    param_types = [t for t in allowed if t != INT or "int" in types] or [INT]
    return tuple(allowed), frozenset(allowed), tuple(param_types)


class Program:
    """One program being generated: f, the definitions it uses, and its features (see `build`)."""

    def __init__(self, rng: random.Random, options: SyntheticOptions, crux: bool) -> None:
        self.rng = rng
        self.options = options
        self.crux = crux
        self.grammar = CRUX if crux else GENERAL
        self.names = CRUX_VARIABLE_NAMES if crux else VARIABLE_NAMES
        self.types, self.has, self.param_types = _program_types(options.types, crux)
        self.feats: list[str] = []
        self.helpers: list[Helper] = []
        self.global_names: set[str] = {"f", "main"}
        self.cls: ClassSpec | None = None
        self.custom_exc: str | None = None
        self.statements = 0
        self.est_steps = 0

    # -- names -------------------------------------------------------------------------------
    def global_name(self, pool) -> str:
        free = list(filterfalse(self.global_names.__contains__, pool))
        name = self.rng.choice(free) if free else f"{pool[0]}{len(self.global_names)}"
        self.global_names.add(name)
        return name

    def feat(self, name: str) -> None:
        self.feats.append(name)

    def features(self) -> list[str]:
        return sorted(set(self.feats))

    def difficulty(self) -> int:
        """1 (easy) .. 5 (hard): estimated steps and the advanced constructs used."""
        feats = set(self.feats)
        advanced = len(feats & {"recursion", "exception", "class", "helper", "nested_loop", "while", "mutation"})
        score = 1 + (self.est_steps > 60) + (self.est_steps > 150) + (advanced >= 2) + (advanced >= 4)
        return int(score)

    # -- build -------------------------------------------------------------------------------
    def build(self) -> tuple[str, str]:
        """(source, call): the module's definitions and f, and a call of f on literal arguments; may raise Reject."""
        rng, options = self.rng, self.options
        use_exc = not self.crux and rng.random() < options.exception_prob
        use_cls = not self.crux and rng.random() < options.class_prob
        use_rec = not self.crux and options.recursion and options.max_recursion_depth >= 1 and rng.random() < options.recursion_prob
        use_help = not self.crux and options.max_call_depth >= 1 and options.max_helpers >= 1 and rng.random() < options.helper_prob
        self.exc_types = list(EXCEPTION_TYPES)
        if use_exc and rng.random() < 0.3:
            self.custom_exc = self.global_name(CUSTOM_EXCEPTION_NAMES)
            self.exc_types.append(self.custom_exc)
        if use_cls:
            self.cls = make_class(self)
        forced: list[str] = []
        top_helpers: list[Helper] = []
        if use_help:
            top_helpers = self.make_helpers(use_exc)
            forced += ["call"] * len(top_helpers)
        if use_rec:
            rec = make_recursive(self)
            self.helpers.append(rec)
            top_helpers.append(rec)
            forced.append("rec")
        if use_cls:
            forced += ["obj_new", "obj_call", "obj_call"]
        if use_exc:
            forced.append("try")
        rng.shuffle(forced)
        if use_cls:  # the instance first
            forced.remove("obj_new")
            forced.insert(0, "obj_new")
        fn = FunctionBuilder(self, "f", level=0, callees=top_helpers, use_exc=use_exc)
        params = fn.make_params(rng.randint(1, options.max_args) if not self.crux else rng.choice((1, 1, 2, 2, 2, 3)))
        if self.crux:
            fn.remaining = rng.randint(1, 4)
        else:
            fn.remaining = rng.randint(max(2, (2 * options.max_statements + 2) // 3), options.max_statements)
        fn.forced = forced
        fn.body()
        final_return(fn)
        if self.crux and fn.lines[-1].strip().startswith("return") and len(fn.lines) < 2:
            raise Reject
        self.statements = fn.count
        self.est_steps = fn.sizes[STEPS] + 4  # main's call, line and return frames
        header = f"def f({', '.join(p.name for p in params)}):"
        source = "\n".join(self.assemble(fn.lines) + [header] + fn.lines) + "\n"
        call = "f(" + ", ".join(fn.arg_texts) + ")"
        return source, call

    def make_helpers(self, use_exc: bool) -> list[Helper]:
        """Helper functions by level, the deepest first; returns those f may call."""
        rng, options = self.rng, self.options
        count = rng.randint(1, options.max_helpers)
        depth = rng.randint(1, min(options.max_call_depth, count))
        levels = list(range(1, depth + 1)) + [rng.randint(1, depth) for _ in range(count - depth)]
        levels.sort(reverse=True)
        by_level: dict[int, list[Helper]] = {}
        for level in levels:
            callees = by_level.get(level + 1, [])
            helper = make_helper(self, level, callees, use_exc)
            by_level.setdefault(level, []).append(helper)
            self.helpers.append(helper)
        return by_level.get(1, [])

    def assemble(self, body: list[str]) -> list[str]:
        """The module-level definitions that f uses, directly or through other helpers."""
        def calls(lines: list[str], name: str) -> bool:
            return any(name + "(" in line for line in lines)

        used: list[Helper] = []
        frontier = [body]
        while frontier:
            lines = frontier.pop()
            for helper in self.helpers:
                if helper not in used and calls(lines, helper.name):
                    used.append(helper)
                    frontier.append(helper.lines)
        out: list[str] = []
        everything = body + [line for helper in used for line in helper.lines]
        if self.custom_exc and any(self.custom_exc in line for line in everything):
            out += [f"class {self.custom_exc}(Exception):", "    pass"]
            self.feat("class")
        if self.cls is not None and calls(body, self.cls.name):
            out += self.cls.lines
        for helper in self.helpers:  # in definition order (callees first)
            if helper in used:
                out += helper.lines
                self.feats += helper.feats
                if helper.recursive:
                    self.feat("recursion")
                elif any(calls(helper.lines[1:], other.name) for other in used if other is not helper):
                    self.feat("helper_chain")
        return out
