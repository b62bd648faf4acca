"""The dataset's pre-token count: a stand-in for a tokenizer until codewm trains one.

CWM special tokens, words, single punctuation characters and runs of whitespace each count
as one token. Dataset records store the count (`n_tokens`) and builds exclude traces over
the configured length by it, so the rule must not change.
"""

from __future__ import annotations

import re

try:  # the compiled counter (setup.py builds it); the pattern below counts the same
    from codewm.format import _cformat
except ImportError:  # pragma: no cover - a build without a C compiler
    _cformat = None

PRE_TOKEN = re.compile(r"<\|[a-z_]+\|>|\w+|\s+|[^\w\s]")


def count_pretokens(text: str) -> int:
    """How many pieces `PRE_TOKEN` finds in `text`."""
    if _cformat is not None:
        return _cformat.count_pretokens(text)
    return len(PRE_TOKEN.findall(text))
