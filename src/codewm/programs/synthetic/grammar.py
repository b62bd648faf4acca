"""The grammar: which statement function makes each statement kind, and the productions of each type.

Statement kinds are the names that kind tables (FunctionBuilder.make_kind_table) and forced
lists use. A production listed twice is drawn twice as often. The order of every tuple here is
part of the generator's output (productions are drawn by position).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from codewm.programs.synthetic.calls import (
    call_statement, method_call, new_object, raise_statement, recursive_call, try_statement,
)
from codewm.programs.synthetic.containers import (
    dict_build, list_comprehension, list_concat, list_misc, list_sorted, list_zip, set_build, tuple_build,
)
from codewm.programs.synthetic.control import break_or_continue, early_return, for_loop, if_statement, while_loop
from codewm.programs.synthetic.scalars import (
    bool_any, bool_compare, bool_equal, bool_in, bool_len, bool_logic, bool_modulo, bool_str, int_aggregate,
    int_arith, int_attribute, int_conditional, int_count, int_divmod, int_get, int_len, int_misc, int_subscript,
)
from codewm.programs.synthetic.statements import assign_new, unpack, update
from codewm.programs.synthetic.texts import (
    str_at, str_concat, str_conditional, str_exception, str_format, str_join, str_method_call, str_pick, str_repeat,
    str_slice, words_comprehension, words_misc, words_split,
)
from codewm.programs.synthetic.vocabulary import BOOL, DICT, INT, INT_LIST, SET, STR, STR_LIST, TUPLE


class Grammar(NamedTuple):
    """What makes each statement kind, and each type's expressions."""

    statements: dict[str, Callable]  # statement kind -> statement(fn)
    expressions: dict[str, tuple]  # type -> productions(fn, depth)
    bool_leaves: tuple  # productions that make a bool of one variable (expressions.leaf)


STATEMENTS = {
    "new": assign_new,
    "upd": update,
    "unpack": unpack,
    "if": if_statement,
    "for": for_loop,
    "while": while_loop,
    "brk": break_or_continue,
    "ret": early_return,
    "raise": raise_statement,
    "try": try_statement,
    "call": call_statement,
    "rec": recursive_call,
    "obj_new": new_object,
    "obj_call": method_call,
}


def _str_list_sorted(fn, depth):
    """list_sorted for lists of strings."""
    return list_sorted(fn, depth, STR_LIST)


def _str_list_concat(fn, depth):
    """list_concat for lists of strings."""
    return list_concat(fn, depth, STR_LIST)


GENERAL_EXPRESSIONS = {
    INT: (int_arith, int_arith, int_divmod, int_len, int_len, int_aggregate, int_count, int_get,
          int_subscript, int_misc, int_conditional, int_attribute, int_attribute),
    BOOL: (bool_compare, bool_compare, bool_modulo, bool_in, bool_in, bool_str, bool_logic, bool_len,
           bool_any, bool_equal),
    STR: (str_method_call, str_method_call, str_slice, str_concat, str_repeat, str_join, str_format,
          str_at, str_pick, str_conditional, str_exception, str_exception),
    INT_LIST: (list_sorted, list_concat, list_comprehension, list_comprehension, list_misc, list_zip),
    STR_LIST: (_str_list_sorted, _str_list_concat, words_split, words_split, words_comprehension, words_misc),
    DICT: (dict_build, dict_build),
    SET: (set_build, set_build),
    TUPLE: (tuple_build, tuple_build),
}
CRUX_EXPRESSIONS = {
    INT: (int_arith, int_len, int_len, int_count, int_count, int_get, int_subscript, int_misc,
          int_aggregate),
    BOOL: (bool_compare, bool_modulo, bool_in, bool_in, bool_str, bool_str, bool_logic, bool_len,
           bool_any),
    STR: (str_method_call, str_method_call, str_method_call, str_slice, str_concat, str_join, str_join,
          str_format, str_at, str_pick),
    INT_LIST: (list_sorted, list_comprehension, list_comprehension, list_misc, list_concat),
    STR_LIST: (_str_list_sorted, words_split, words_split, words_comprehension, words_comprehension,
               words_misc),
    DICT: (dict_build,),
    SET: (set_build,),
    TUPLE: (tuple_build,),
}
BOOL_LEAVES = (bool_compare, bool_len, bool_in, bool_modulo)

GENERAL = Grammar(STATEMENTS, GENERAL_EXPRESSIONS, BOOL_LEAVES)
CRUX = Grammar(STATEMENTS, CRUX_EXPRESSIONS, BOOL_LEAVES)
