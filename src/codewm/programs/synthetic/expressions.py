"""Expressions: the `Expr` type and how an expression of a given type is made.

An expression is made by a production (a function `production(fn, depth)` in scalars.py,
texts.py or containers.py, listed by type in grammar.py), which returns an `Expr` or None when
it does not apply where the function is now; at depth 0 it is a leaf: a variable or a literal.
Comprehension and generator steps are collected in the function (`fn.add_comprehension`) and
charged with the statement that holds them.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from codewm.programs.synthetic.budget import constant_size, size_of
from codewm.programs.synthetic.vocabulary import (
    BOOL, CHARS, DICT, FILLERS, INT, INT_LIST, KEYS, LITERAL_INTS, MUTABLE, SEPARATORS, SET, SIZED, SPLITTERS, STR,
    STR_LIST, STR_METHODS_NO_ARGS, SUBSTRINGS, WORDS, literal_text, literal_value, value_size,
)


class Expr(NamedTuple):
    """An expression's text, its size function (None unless its type is sized) and whether it is atomic."""

    text: str
    size: Callable | None
    atomic: bool

    @property
    def operand(self) -> str:
        """The text, parenthesized unless atomic: safe as an operand of any operator."""
        return self.text if self.atomic else f"({self.text})"


def expression(fn, type_: str, depth: int, fresh: bool = False) -> Expr:
    """An expression of `type_`, nested at most `depth` deep; `fresh`: never a bare mutable variable."""
    if depth > 0:
        productions = fn.productions[type_]
        random_ = fn.rng.random
        comp, feats = fn.comprehensions, fn.program.feats
        for _ in range(3):
            refs, n_comp, n_feats = fn.refs, len(comp), len(feats)
            made = productions[int(random_() * len(productions))](fn, depth - 1)  # rng.choice(productions), inlined (hot)
            if made is None:
                continue
            if fn.refs == refs and random_() < 0.95:  # constants only: try again
                del comp[n_comp:]
                del feats[n_feats:]
                continue
            return made
    return leaf(fn, type_, fresh)


def leaf(fn, type_: str, fresh: bool = False) -> Expr:
    """A variable of `type_` (mostly) or a literal; a bool may be a comparison of one variable."""
    random_ = fn.rng.random  # rng.choice(seq) is inlined below as seq[int(random_() * len(seq))]
    vs = fn.by_type[type_]  # fn.vars(type_), inlined (hot)
    if type_ == BOOL and (not vs or random_() < 0.3):
        bool_leaves = fn.program.grammar.bool_leaves
        for _ in range(3):
            refs = fn.refs
            made = bool_leaves[int(random_() * len(bool_leaves))](fn, 0)
            if made is not None and fn.refs > refs:
                return made
    elif type_ == INT and not vs and random_() < 0.5:
        v = fn.sized_var()
        if v is not None:
            return Expr(f"len({v.name})", None, True)
    if vs and random_() < 0.75:
        fn.refs += 1
        name = vs[int(random_() * len(vs))].name
        if type_ not in SIZED:
            return Expr(name, None, True)
        if fresh and type_ in MUTABLE:
            copies = _COPIES[type_]
            return Expr(copies[int(random_() * len(copies))].format(name), size_of(name), True)
        return Expr(name, size_of(name), True)
    return literal(fn, type_)


def literal(fn, type_: str) -> Expr:
    """A small literal of `type_`."""
    # The commonest cases make the same draws as literal_value(small=True) but pick among
    # expressions made in advance (the same rng.choice, inlined).
    random_ = fn.rng.random
    if type_ == INT:
        return _INT_LITERALS[int(random_() * len(_INT_LITERALS))]
    if type_ == STR:
        exprs = _WORD_LITERALS if random_() < 0.5 else _CHAR_LITERALS
        return exprs[int(random_() * len(exprs))]
    if type_ == BOOL:
        return _TRUE if random_() < 0.5 else _FALSE
    value = literal_value(fn.rng, type_, fn.literal_len, fn.crux, small=True)
    text = literal_text(type_, value)
    return Expr(text, constant_size(*value_size(type_, value)) if type_ in SIZED else None, True)


def key_expression(fn) -> Expr:
    """A str expression for a dict key."""
    if fn.rng.random() < 0.55:
        key = fn.rng.choice(KEYS)
        return Expr(repr(key), constant_size(len(key)), True)
    return expression(fn, STR, 1)


def str_method(fn, base: Expr) -> Expr:
    """A str method applied to `base` (an expression of type str)."""
    rng = fn.rng
    b, size = base.operand, base.size
    form = rng.randrange(9)
    if form <= 2:
        return Expr(f"{b}.{rng.choice(STR_METHODS_NO_ARGS)}()", size, True)
    if form == 3:
        old, new = rng.choice(SUBSTRINGS), rng.choice(SUBSTRINGS + ("", "", "*"))
        grow = max(1, len(new))
        return Expr(f"{b}.replace({old!r}, {new!r})", lambda sizes: (size(sizes)[0] * grow, 0), True)
    if form == 4:
        width = rng.randint(3, 14)
        method = rng.choice(("center", "ljust", "rjust"))
        fill = f", {rng.choice(FILLERS)!r}" if rng.random() < 0.7 else ""
        return Expr(f"{b}.{method}({width}{fill})", lambda sizes: (max(size(sizes)[0], width), 0), True)
    if form == 5:
        width = rng.randint(3, 8)
        return Expr(f"{b}.zfill({width})", lambda sizes: (max(size(sizes)[0], width), 0), True)
    if form == 6:
        method = rng.choice(("strip", "rstrip", "lstrip", "removeprefix", "removesuffix"))
        return Expr(f"{b}.{method}({rng.choice(SUBSTRINGS)!r})", size, True)
    if form == 7:
        sep = rng.choice(SPLITTERS)
        index = rng.choice(("0", "-1"))
        if rng.random() < 0.5:
            return Expr(f"{b}.split({sep!r})[{index}]", size, True)
        return Expr(f"{b}.{rng.choice(('partition', 'rpartition'))}({sep!r})[{rng.choice(('0', '2'))}]", size, True)
    return Expr(f"{b}[::-1]", size, True)


# leaf(): the ways to copy a mutable variable
_COPIES = {INT_LIST: ("{}[:]", "list({})", "{}.copy()"), STR_LIST: ("{}[:]", "list({})", "{}.copy()"),
           DICT: ("dict({})", "{}.copy()"), SET: ("set({})", "{}.copy()")}
# literal(): small literals as expressions, in literal_value's order (a negative int is not atomic)
_INT_LITERALS = tuple(Expr(repr(n), None, n >= 0) for n in LITERAL_INTS)
_WORD_LITERALS = tuple(Expr(repr(w), constant_size(len(w)), True) for w in WORDS)
_CHAR_LITERALS = tuple(Expr(repr(c), constant_size(len(c)), True) for c in CHARS + SEPARATORS[:4])
_TRUE, _FALSE = Expr("True", None, True), Expr("False", None, True)
