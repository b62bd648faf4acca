"""What synthetic programs are made of: their value types, size caps, names and literals.

Every pool here is drawn from by position (`rng.choice`), so the order of each tuple is part
of the generator's output: reordering one changes every program.
"""

from __future__ import annotations

import random

# The value types a generated variable may have (strings, as they key tables everywhere).
INT, BOOL, STR, INT_LIST, STR_LIST, DICT, SET, TUPLE, OBJECT, EXCEPTION = (
    "int", "bool", "str", "ilist", "slist", "dict", "iset", "tuple", "obj", "exc")
ALL_TYPES = (INT, BOOL, STR, INT_LIST, STR_LIST, DICT, SET, TUPLE, OBJECT, EXCEPTION)
SIZED = frozenset({STR, INT_LIST, STR_LIST, DICT, SET, TUPLE})  # sizes tracked (len() is defined)
MUTABLE = frozenset({INT_LIST, STR_LIST, DICT, SET})

# Upper bounds on sizes (characters of a string, elements of a collection) that no value may pass.
CAP = {STR: 48, INT_LIST: 20, STR_LIST: 14, DICT: 12, SET: 20, TUPLE: 12, OBJECT: 16}
ELEMENT_CAP = 24  # longest string inside a list of strings, or key of a dict
INT_TEXT = 12  # characters assumed for str(int)
# (cap, is_tuple) of the size effects of each type whose size is tracked
SIZE_LIMITS = {t: (CAP[t], t == TUPLE) for t in SIZED} | {OBJECT: (CAP[OBJECT], False)}
# Sizes a helper assumes of its parameters (callers may pass nothing larger).
PARAM_SIZE = {STR: (16, 0), INT_LIST: (6, 0), STR_LIST: (5, 8), DICT: (5, 8), SET: (6, 0), TUPLE: (5, 0)}

WORDS = (
    "apple", "kiwi", "lemon", "mango", "pear", "plum", "fig", "lime", "cat", "dog", "owl", "fox",
    "bee", "ant", "yak", "red", "blue", "green", "gold", "sun", "moon", "star", "sky", "sea",
    "rain", "alpha", "beta", "gamma", "one", "two", "three", "hello", "world", "code", "data",
    "test", "node", "path", "key", "Ab", "xY", "QQ", "ok", "no", "yes", "abc", "xyz", "aaa", "zz",
    "a1", "42", "7", "007", "Tom", "Eve", "BOB",
)
TEXTS = (
    "hello world", "abracadabra", "Mississippi", "a-b-c-d", "  padded  ", "123abc", "UPPER lower",
    "x,y,z", "racecar", "aaa bbb aaa", "The Quick Fox", "2024", "a1b2c3", "tic-tac-toe",
    "one two three", "banana", "Hello, World", "level up", "zigzag", "CamelCaseWord", "snake_case",
    "  x  ", "abc", "a", "", "11:30", "ab|cd|ef", "noon", "OpenAI", "data42", "cool beans",
)
CHARS = ("a", "e", "o", "i", "s", "t", "l", "n", "x", "b", "1", "0", "A", "Z")
SUBSTRINGS = ("a", "e", "o", "i", "s", "l", "x", "ab", "an", "el", "lo", "-", " ", ",", "1", "0", "aa", "b")
SEPARATORS = (" ", ",", "-", ":", "|", "", ", ", "_", "+")
SPLITTERS = (" ", ",", "-", ":", "|", "a", "e", "o")
FILLERS = ("*", "-", "#", ".", "0", "_", "=")
KEYS = ("a", "b", "c", "x", "y", "key", "one", "two", "red", "blue", "cat", "dog", "id", "n", "total")
STR_METHODS_NO_ARGS = ("upper", "lower", "strip", "title", "capitalize", "swapcase", "lstrip", "rstrip")
STR_PREDICATES = ("isdigit", "isalpha", "isupper", "islower", "isalnum")

VARIABLE_NAMES = {
    INT: ("total", "count", "acc", "n", "k", "m", "x", "y", "z", "idx", "step", "score", "val", "best",
          "low", "high", "diff", "prod", "carry", "num", "size", "pos", "left", "right", "delta", "limit"),
    BOOL: ("flag", "found", "ok", "done", "valid", "changed", "is_even", "hit", "active"),
    STR: ("s", "text", "word", "out", "prefix", "suffix", "name", "msg", "tag", "label", "line",
          "head", "tail", "buf", "res", "token", "joined", "note"),
    INT_LIST: ("xs", "nums", "vals", "items", "stack", "result", "evens", "odds", "buckets", "scores",
               "queue", "ys", "zs", "picked", "digits", "marks_l"),
    STR_LIST: ("words", "parts", "names", "tokens", "chunks", "keys", "letters", "pieces", "lines", "tags"),
    DICT: ("counts", "d", "table", "index", "freq", "mapping", "lookup", "totals", "tally", "reg"),
    SET: ("seen", "uniq", "marks", "pool", "visited", "bag", "ids"),
    TUPLE: ("pair", "t", "coords", "triple", "span", "bounds", "rec"),
    OBJECT: ("obj", "acc_obj", "tracker", "box", "store", "keeper"),
}
CRUX_VARIABLE_NAMES = {
    INT: ("n", "k", "num", "count", "i", "res", "total", "m", "idx"),
    BOOL: ("flag", "found", "ok"),
    STR: ("text", "s", "string", "st", "char", "c", "sub", "prefix", "sep", "result", "out", "letter"),
    INT_LIST: ("nums", "array", "lst", "arr", "l", "result", "a", "values"),
    STR_LIST: ("strings", "words", "names", "parts", "items", "lst", "li"),
    DICT: ("dic", "d", "counts", "mapping", "result", "data"),
    SET: ("seen",),
    TUPLE: ("t", "pair"),
    OBJECT: ("obj",),
}
LOOP_INT_NAMES = ("i", "j", "x", "v", "num", "item", "e", "a", "b")
LOOP_STR_NAMES = ("ch", "c", "w", "part", "letter", "token", "piece", "s2", "el")
LOOP_KEY_NAMES = ("k", "key", "name", "kk")
LOOP_VALUE_NAMES = ("v", "cnt", "amount", "vv")
HELPER_NAMES = ("combine", "normalize", "score", "merge", "build", "step", "transform", "pick",
                "tally_up", "shift", "pack", "scan", "bump", "clip", "mix", "fold", "squash",
                "measure", "extract", "weigh", "rotate", "compress", "collect", "adjust")
RECURSIVE_NAMES = ("walk", "descend", "rec", "climb", "unwind", "dig", "reduce_down", "go")
EXCEPTION_TYPES = ("ValueError", "KeyError", "IndexError", "RuntimeError", "LookupError")
CUSTOM_EXCEPTION_NAMES = ("StopScan", "BadInput", "Overflow", "Halt", "Reject")
# Class names per template (accumulator, stack, point, word counter).
CLASS_NAMES = (("Counter", "Tracker", "Ledger", "Meter", "Accumulator"), ("Stack", "Pile", "Tower", "Heap"),
               ("Point", "Walker", "Cursor", "Robot"), ("Bag", "Register", "Tally", "WordCount"))

LITERAL_INTS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 100, -1, -2, -3)
SMALL_POSITIVE = (2, 3, 4, 5)


def literal_value(rng: random.Random, type_: str, max_len: int, crux: bool, small: bool = False):
    """A random value of `type_` (a set as a sorted list), collections at most `max_len` long."""
    if type_ == INT:
        return rng.choice(LITERAL_INTS) if small else rng.randint(-5, 30)
    if type_ == BOOL:
        return rng.random() < 0.5
    if type_ == STR:
        if small:
            roll = rng.random()
            if roll < 0.5:
                return rng.choice(WORDS)
            return rng.choice(CHARS + SEPARATORS[:4])
        roll = rng.random()
        if roll < 0.45:
            text = rng.choice(TEXTS)
        elif roll < 0.8:
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 3))]
            text = rng.choice((" ", "-", ",", "", " ", "_")).join(words)
        else:
            text = "".join(rng.choice("abcdeABxyz0123 -") for _ in range(rng.randint(0, 10)))
        return text[: min(20, 4 * max_len)]
    if type_ == INT_LIST:
        n = rng.randint(0 if small or rng.random() < 0.1 else min(2, max_len), min(max_len, 6))
        if rng.random() < 0.7 and n:
            return [rng.randint(-3, 12) for _ in range(n)]
        return [rng.randint(0, 9) for _ in range(n)]
    if type_ == STR_LIST:
        n = rng.randint(0 if small else 1, min(max_len, 4))
        return [rng.choice(WORDS) for _ in range(n)]
    if type_ == DICT:
        n = rng.randint(0 if small else 1, min(max_len, 4))
        keys = rng.sample(KEYS, n)
        return {k: rng.randint(-2, 9) for k in keys}
    if type_ == SET:
        n = rng.randint(0, min(max_len, 5))
        return sorted(set(rng.randint(0, 12) for _ in range(n)))  # kept as a sorted list
    if type_ == TUPLE:
        n = rng.randint(1, min(max_len, 4))
        return tuple(rng.randint(-2, 9) for _ in range(n))
    raise ValueError(type_)


def literal_text(type_: str, value) -> str:
    """The Python literal for a value made by literal_value()."""
    if type_ == SET:
        return "{" + ", ".join(map(str, value)) + "}" if value else "set()"
    return repr(value)


def value_size(type_: str, value) -> tuple[int, int]:
    """(length, longest element or key) of a value made by literal_value(); a tuple's second is its length."""
    if type_ == STR_LIST:
        return (len(value), max((len(w) for w in value), default=0))
    if type_ == DICT:
        return (len(value), max((len(k) for k in value), default=0))
    if type_ == TUPLE:
        return (len(value), len(value))
    return (len(value), 0)
