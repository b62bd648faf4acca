"""Value drawing: argument types from annotations or parameter names, random values and hypothesis draws, and canonical literals."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import math
import random
import string
from typing import Any, Iterable, Iterator

from codewm.programs.miner.discovery import Parameter

_TEXT_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " "
_WORD_ALPHABET = string.ascii_lowercase + " " * 5  # about one character in six a space


# -- literals ---------------------------------------------------------------------------------
def literal_text(value: Any, _depth: int = 0) -> str | None:
    """Canonical literal text for a value (sets sorted), or None if it has none."""
    if _depth > 20:
        return None
    kind = type(value)
    if value is None or kind in (bool, int, str, bytes) or value is Ellipsis:
        return repr(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else None
    if kind is complex:
        return repr(value) if math.isfinite(value.real) and math.isfinite(value.imag) else None
    if kind in (list, tuple):
        items = [literal_text(item, _depth + 1) for item in value]
        if any(item is None for item in items):
            return None
        if kind is list:
            return "[" + ", ".join(items) + "]"
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if kind is set:
        items = [literal_text(item, _depth + 1) for item in value]
        if any(item is None for item in items):
            return None
        return "{" + ", ".join(sorted(items)) + "}" if items else "set()"
    if kind is dict:
        pairs = []
        for key, item in value.items():
            key_text, item_text = literal_text(key, _depth + 1), literal_text(item, _depth + 1)
            if key_text is None or item_text is None:
                return None
            pairs.append(f"{key_text}: {item_text}")
        return "{" + ", ".join(pairs) + "}"
    return None


def literal_of(node: ast.expr) -> tuple[bool, Any]:
    """(True, value) when a node is a literal, else (False, None)."""
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


# -- type specs -------------------------------------------------------------------------------
# A spec is a small tuple describing a type: ("int",), ("list", spec), ("dict", k, v),
# ("tuple", [specs]), ("tuplevar", spec), ("set", spec), ("optional", spec),
# ("union", [specs]), ("literal", [values]), ("any",) ...
_ATOMS = {"int": ("int",), "float": ("float",), "bool": ("bool",), "str": ("str",), "bytes": ("bytes",), "None": ("none",), "NoneType": ("none",)}
_ANY = ("any",)
_LISTS = {"list", "List", "Sequence", "MutableSequence", "Iterable", "Iterator", "Collection", "Reversible"}
_SETS = {"set", "Set", "AbstractSet", "MutableSet"}
_DICTS = {"dict", "Dict", "Mapping", "MutableMapping"}
_TUPLES = {"tuple", "Tuple"}
_HASHABLE = {"int", "float", "bool", "str", "bytes", "none", "literal"}
UNIFORM_SPECS = (("str",), ("int",), ("list", ("int",)), ("bytes",), ("float",))
_NAME_RANGES = {"year": (1900, 2100), "month": (1, 12), "day": (1, 28), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
_NAME_HINTS = {
    "int": {"n", "i", "j", "k", "m", "count", "num", "number", "width", "size", "length", "index", "start", "stop", "step",
            "level", "indent", "tabsize", "lo", "hi", "base", "depth", "offset", "pos", "maxsplit"},
    "str|bytes": {"s", "data"},
    "str": {"text", "string", "name", "word", "line", "prefix", "suffix", "sep", "pattern", "pat", "fmt", "char", "ch",
            "msg", "message", "filename", "url", "title", "label"},
    "list": {"seq", "items", "lst", "iterable", "heap", "values", "words", "lines", "elements", "array", "sequence", "xs"},
}


def annotation_spec(node: ast.expr | None) -> tuple | None:
    """The spec of a type annotation, or None if the miner does not understand it."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        if node.value is None:
            return ("none",)
        if isinstance(node.value, str):
            try:
                return annotation_spec(ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                return None
        return None
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = node.id if isinstance(node, ast.Name) else node.attr
        if name in _ATOMS:
            return _ATOMS[name]
        if name in ("Any", "object"):
            return _ANY
        if name in _LISTS:
            return ("list", _ANY)
        if name in _SETS:
            return ("set", ("int",))
        if name in _DICTS:
            return ("dict", ("str",), _ANY)
        if name in _TUPLES:
            return ("tuplevar", _ANY)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = annotation_spec(node.left), annotation_spec(node.right)
        return None if left is None or right is None else ("union", [left, right])
    if isinstance(node, ast.Subscript):
        base = node.value.id if isinstance(node.value, ast.Name) else node.value.attr if isinstance(node.value, ast.Attribute) else None
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Literal":
            values = []
            for item in items:
                ok, value = literal_of(item)
                if not ok or literal_text(value) is None:
                    return None
                values.append(value)
            return ("literal", values)
        if base in _TUPLES and len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
            inner = annotation_spec(items[0])
            return None if inner is None else ("tuplevar", inner)
        specs = [annotation_spec(item) for item in items]
        if any(s is None for s in specs):
            return None
        if base in _LISTS and len(specs) == 1:
            return ("list", specs[0])
        if base in _SETS and len(specs) == 1 and specs[0][0] in _HASHABLE:
            return ("set", specs[0])
        if base in _DICTS and len(specs) == 2 and specs[0][0] in _HASHABLE:
            return ("dict", specs[0], specs[1])
        if base in _TUPLES:
            return ("tuple", specs)
        if base == "Optional" and len(specs) == 1:
            return ("optional", specs[0])
        if base == "Union":
            return ("union", specs)
        return None
    return None


def guessed_spec(param: Parameter) -> tuple:
    """A spec for a parameter: its annotation's, else one guessed from its name, else a mix."""
    spec = annotation_spec(param.annotation)
    if spec is not None:
        return spec
    if param.name in _NAME_RANGES:
        return ("intrange", *_NAME_RANGES[param.name])
    for kind, names in _NAME_HINTS.items():
        if param.name in names:
            if kind == "list":
                return ("list", ("int",))
            return ("union", [("str",), ("bytes",)]) if kind == "str|bytes" else (kind,)
    return _ANY


def random_value(spec: tuple, rng: random.Random, depth: int = 0) -> Any:
    """A random value of a type spec."""
    kind = spec[0]
    if kind == "int":
        return rng.choice((0, 1, 2, 3, 5, 7, 10, 42, -1)) if rng.random() < 0.5 else rng.randint(-20, 100)
    if kind == "intrange":
        return rng.randint(spec[1], spec[2])
    if kind == "float":
        return round(rng.uniform(-10.0, 10.0), 2)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "str":
        alphabet = string.ascii_lowercase + " " if rng.random() < 0.7 else _TEXT_ALPHABET
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 6)))
    if kind == "none":
        return None
    if kind == "literal":
        return rng.choice(spec[1])
    if kind == "optional":
        return None if rng.random() < 0.25 else random_value(spec[1], rng, depth)
    if kind == "union":
        return random_value(rng.choice(spec[1]), rng, depth)
    size = rng.randint(0, 4 if depth < 2 else 1)
    if kind == "list":
        return [random_value(spec[1], rng, depth + 1) for _ in range(size)]
    if kind == "set":
        return {random_value(spec[1], rng, depth + 1) for _ in range(size)}
    if kind == "dict":
        return {random_value(spec[1], rng, depth + 1): random_value(spec[2], rng, depth + 1) for _ in range(size)}
    if kind == "tuple":
        return tuple(random_value(s, rng, depth + 1) for s in spec[1])
    if kind == "tuplevar":
        return tuple(random_value(spec[1], rng, depth + 1) for _ in range(size))
    # any: a short string, a small int, a short list of ints or short bytes
    return random_value(rng.choice((("str",), ("int",), ("list", ("int",)), ("bytes",))), rng, depth)


def hypothesis_strategy(spec: tuple):
    """A bounded hypothesis strategy for a type spec (hypothesis must be installed)."""
    from hypothesis import strategies as st

    kind = spec[0]
    # Text from fixed alphabets (words and spaces, or any printable ASCII), without st.text,
    # which would cache Unicode tables in ./.hypothesis
    words = st.lists(st.sampled_from(_WORD_ALPHABET), max_size=16).map("".join)
    text = words | st.lists(st.sampled_from(_TEXT_ALPHABET), max_size=10).map("".join)
    ints = st.integers(min_value=-10, max_value=100)
    if kind == "int":
        return ints
    if kind == "intrange":
        return st.integers(min_value=spec[1], max_value=spec[2])
    if kind == "float":  # two decimals: 12.5, -0.37 (not 4.5e-136)
        return st.integers(min_value=-10_000, max_value=10_000).map(lambda n: n / 100)
    if kind == "bool":
        return st.booleans()
    if kind == "str":
        return text
    if kind == "bytes":
        return st.binary(max_size=8)
    if kind == "none":
        return st.none()
    if kind == "literal":
        return st.sampled_from(spec[1])
    if kind == "optional":
        return st.none() | hypothesis_strategy(spec[1])
    if kind == "union":
        return st.one_of([hypothesis_strategy(s) for s in spec[1]])
    if kind == "list":
        return st.lists(hypothesis_strategy(spec[1]), max_size=5)
    if kind == "set":
        return st.sets(hypothesis_strategy(spec[1]), max_size=5)
    if kind == "dict":
        return st.dictionaries(hypothesis_strategy(spec[1]), hypothesis_strategy(spec[2]), max_size=4)
    if kind == "tuple":
        return st.tuples(*[hypothesis_strategy(s) for s in spec[1]])
    if kind == "tuplevar":
        return st.lists(hypothesis_strategy(spec[1]), max_size=4).map(tuple)
    return st.one_of(text, ints, st.lists(ints, max_size=5), st.binary(max_size=6))


def hypothesis_available() -> bool:
    """Whether hypothesis can be imported."""
    return importlib.util.find_spec("hypothesis") is not None


@contextlib.contextmanager
def _without_local_constants():
    """Keep hypothesis from mixing the calling process's own constants into draws."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a hypothesis without this internal
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    constants = getattr(providers, "Constants", None)
    if original is None or constants is None:  # pragma: no cover
        yield
        return
    empty = constants()
    providers._get_local_constants = lambda: empty
    clear = getattr(getattr(cache, "cache", None), "clear", lambda: None)
    clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        clear()


def hypothesis_draws(strategy, count: int, seed: int) -> list[Any]:
    """`count` values drawn from a strategy, deterministically for a given seed."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seed_decorator

    drawn: list[Any] = []

    @seed_decorator(seed)
    @settings(
        database=None, max_examples=count, phases=[Phase.generate], deadline=None, derandomize=False,
        suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
    )
    @given(strategy)
    def collect(value):
        drawn.append(value)

    try:
        with _without_local_constants():
            collect()
    except Exception:  # a hypothesis error (health check, unsatisfiable): keep what was drawn
        pass
    return drawn


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from the parts' text (the same in every process)."""
    return int.from_bytes(hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()[:8], "big")
