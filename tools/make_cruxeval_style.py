#!/usr/bin/env python3
"""Generate ``src/codewm/examples/cruxeval_style.jsonl``.

A bundled set of short, original CRUXEval-style Python functions written for
codewm (none is copied from CRUXEval).  Each entry below is a ``### <input>``
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

# ---------------------------------------------------------------------------
# String functions
# ---------------------------------------------------------------------------
DATA_STRINGS = r"""
### 'UppEr', 0
def f(text, n):
    parts = []
    for i, ch in enumerate(text):
        if i % 2 == n:
            parts.append(ch.swapcase())
        else:
            parts.append(ch)
    return ''.join(parts)
### 'hello world foo', 'o'
def f(s, c):
    words = s.split()
    return [w.count(c) for w in words if c in w]
### 'a-b-c-d', '-', 2
def f(s, sep, k):
    head, _, tail = s.partition(sep)
    while k > 0 and tail:
        head, _, tail = tail.partition(sep)
        k -= 1
    return head + '|' + tail
### '  padded text   ', '*'
def f(s, fill):
    core = s.strip()
    width = len(s) + 2
    return core.center(width, fill)
### '42', 6
def f(num, width):
    if num.isdigit():
        return num.zfill(width)
    return num.rjust(width, '_')
### 'the quick brown fox'
def f(sentence):
    words = sentence.split(' ')
    words.reverse()
    return ' '.join(w.title() for w in words)
### 'abracadabra', 'a', 'A'
def f(s, old, new):
    first = s.find(old)
    if first == -1:
        return s
    return s[:first + 1] + s[first + 1:].replace(old, new)
### ''
def f(s):
    if not s:
        return 'empty'
    return s[0].upper() + s[1:].lower()
### 'mississippi'
def f(s):
    counts = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
### 'key=value;x=1;y=22'
def f(config):
    result = {}
    for pair in config.split(';'):
        k, _, v = pair.partition('=')
        result[k] = int(v) if v.isdigit() else v
    return result
### 'HeLLo', 'l'
def f(s, ch):
    low = s.lower().count(ch.lower())
    exact = s.count(ch)
    return low - exact, exact
### 'abc', 3
def f(s, times):
    out = ''
    for i in range(times):
        out += s[i % len(s):] + s[:i % len(s)]
    return out
### 'Python Is Fun'
def f(title):
    letters = [w[0] for w in title.split() if w[0].isupper()]
    return ''.join(letters).lower() + str(len(letters))
### '1,2,,3,', ','
def f(s, sep):
    items = s.split(sep)
    while '' in items:
        items.remove('')
    return [int(x) * 2 for x in items]
### 'banana', 'an'
def f(s, sub):
    positions = []
    start = s.find(sub)
    while start != -1:
        positions.append(start)
        start = s.find(sub, start + 1)
    return positions
### 'CamelCaseString'
def f(name):
    out = []
    for ch in name:
        if ch.isupper() and out:
            out.append('_')
        out.append(ch.lower())
    return ''.join(out)
### 'snake_case_here'
def f(name):
    parts = name.split('_')
    return parts[0] + ''.join(p.capitalize() for p in parts[1:])
### 'racecar'
def f(s):
    half = len(s) // 2
    left = s[:half]
    right = s[-half:] if half else ''
    return left == right[::-1], left, right
### 'aaabccddd'
def f(s):
    result = []
    for ch in s:
        if result and result[-1][0] == ch:
            result[-1] += ch
        else:
            result.append(ch)
    return result
### 'hello', 'xyz'
def f(a, b):
    merged = []
    for x, y in zip(a, b):
        merged.append(x + y)
    return ''.join(merged) + a[len(b):] + b[len(a):]
### 'a1b2c3d'
def f(s):
    digits = ''.join(c for c in s if c.isdigit())
    letters = ''.join(c for c in s if c.isalpha())
    return letters.upper() + digits[::-1]
### '   '
def f(s):
    if s.isspace() or not s:
        return s.replace(' ', '.')
    return s.strip().title()
### 'The end. The start. The middle.'
def f(text):
    sentences = [x.strip() for x in text.split('.') if x.strip()]
    return [s.split()[-1] for s in sentences]
### 'abcdef', 2
def f(s, n):
    chunks = [s[i:i + n] for i in range(0, len(s), n)]
    return '-'.join(c[::-1] for c in chunks)
### 'Hello World', 'o', 1
def f(s, ch, count):
    idx = s.rfind(ch)
    if idx == -1:
        return s
    return s[:idx] + ch * (count + 1) + s[idx + 1:]
### 'tEsT sTrInG'
def f(s):
    flipped = s.swapcase()
    if flipped.islower():
        return flipped
    return flipped.capitalize()
### 'x', 5, '~'
def f(s, width, fill):
    left = s.ljust(width, fill)
    right = s.rjust(width, fill)
    return left + '|' + right
### 'one two three two one'
def f(s):
    seen = []
    for w in s.split():
        if w not in seen:
            seen.append(w)
    return ' '.join(seen)
### 'prefix_body_suffix', 'prefix_', '_suffix'
def f(s, pre, suf):
    if s.startswith(pre):
        s = s[len(pre):]
    if s.endswith(suf):
        s = s[:-len(suf)]
    return s.upper()
### 'aeiou are vowels'
def f(s):
    vowels = 'aeiou'
    return ''.join(c if c not in vowels else str(vowels.index(c)) for c in s)
### '100', '25', '7'
def f(*nums):
    total = 0
    for n in nums:
        if n.isdigit():
            total += int(n)
    return str(total).zfill(5)
### 'abc'
def f(s):
    res = []
    for i in range(len(s) + 1):
        res.append(s[:i] + '*' + s[i:])
    return res
### 'ab,cd;ef gh'
def f(s):
    for sep in ',;':
        s = s.replace(sep, ' ')
    return s.split()
### 'hello world'
def f(s):
    table = {}
    for i, ch in enumerate(s):
        table.setdefault(ch, []).append(i)
    return table.get('o', []), table.get('l', [])
### 'level', 'e'
def f(s, ch):
    before, sep, after = s.rpartition(ch)
    return after + sep + before
### 'Mixed CASE words Here'
def f(s):
    words = s.split()
    upper = [w for w in words if w.isupper()]
    title = [w for w in words if w.istitle()]
    return len(upper), len(title), len(words)
### '0012300'
def f(s):
    stripped = s.strip('0')
    return stripped, s.lstrip('0'), s.rstrip('0'), len(s) - len(stripped)
### 'xyz', 4
def f(s, k):
    out = s
    while len(out) < k * len(s):
        out = out + out[-1].upper()
    return out
### 'abcde'
def f(s):
    result = ''
    for i in range(len(s)):
        result += s[i] * (i + 1)
    return result
### 'Hello, World!'
def f(s):
    clean = ''.join(c for c in s if c.isalnum() or c == ' ')
    return clean.lower().split()
### 'apple', 'p', 'b'
def f(s, a, b):
    n = s.count(a)
    if n > 1:
        return s.replace(a, b, n - 1)
    return s.replace(a, b)
### ['ab', 'cd', 'ef'], '+'
def f(parts, glue):
    joined = glue.join(parts)
    return joined.upper(), joined.count(glue)
### 'Hello'
def f(s):
    codes = []
    for ch in s:
        codes.append(ord(ch) % 10)
    return codes
### 'abc', 'bcd'
def f(a, b):
    common = [c for c in a if c in b]
    only_a = [c for c in a if c not in b]
    return ''.join(common), ''.join(only_a)
### '2023-01-15'
def f(date):
    y, m, d = date.split('-')
    return d + '/' + m.lstrip('0') + '/' + y[2:]
### 'word'
def f(s):
    variants = [s, s.upper(), s.title(), s[::-1]]
    variants.sort()
    return variants
### 'aAbBcC'
def f(s):
    lower = ''
    upper = ''
    for ch in s:
        if ch.islower():
            lower += ch
        else:
            upper += ch
    return upper + lower
### 'this is a test', 4
def f(s, width):
    return [w.ljust(width, '.') if len(w) < width else w for w in s.split()]
### 'tab\tseparated\tvalues'
def f(s):
    fields = s.split('\t')
    return {i: field.upper() for i, field in enumerate(fields)}
### 'ab', 'cd', 'ef'
def f(x, y, z):
    s = x + y.upper() + z
    evens = s[::2]
    odds = s[1::2]
    return evens + '|' + odds
### 'hello', 3
def f(s, n):
    if n >= len(s):
        return s[::-1]
    return s[n:] + s[:n]
### 'a b  c   d'
def f(s):
    parts = s.split(' ')
    gaps = parts.count('')
    return [p for p in parts if p], gaps
### 'Programming'
def f(word):
    seen = ''
    for ch in word.lower():
        if ch not in seen:
            seen += ch
    return seen, len(word) - len(seen)
### 'x=1, y=2, z=3'
def f(s):
    d = dict(item.split('=') for item in s.split(', '))
    return {v: k for k, v in d.items()}
### 'ABC', 'abc'
def f(a, b):
    return [x == y.upper() for x, y in zip(a, b)] + [a.lower() == b]
### 'lorem ipsum dolor sit amet', 10
def f(text, limit):
    lines = []
    cur = ''
    for w in text.split():
        if len(cur) + len(w) + 1 > limit and cur:
            lines.append(cur)
            cur = w
        else:
            cur = (cur + ' ' + w).strip()
    lines.append(cur)
    return lines
### '12abc34'
def f(s):
    i = 0
    while i < len(s) and s[i].isdigit():
        i += 1
    j = len(s)
    while j > i and s[j - 1].isdigit():
        j -= 1
    return s[:i], s[i:j], s[j:]
### 'hello'
def f(s):
    return {ch: s.count(ch) for ch in s if s.count(ch) > 1} or {'none': 0}
### 'Alpha Beta Gamma'
def f(s):
    initials = ''
    for word in s.split():
        initials += word[0]
        initials += word[-1].upper()
    return initials
### 'aaa', 'a', 'bb'
def f(s, old, new):
    count = 0
    while old in s and count < 10:
        s = s.replace(old, new, 1)
        count += 1
    return s, count
### 'Some Text'
def f(s):
    mapping = str.maketrans('aeiouAEIOU', '**********')
    return s.translate(mapping)
### 'abcdef'
def f(s):
    pairs = []
    for i in range(0, len(s) - 1, 2):
        pairs.append(s[i + 1] + s[i])
    if len(s) % 2:
        pairs.append(s[-1])
    return ''.join(pairs)
### 'Hello World'
def f(s):
    return ''.join(ch.upper() if i % 3 == 0 else ch.lower() for i, ch in enumerate(s))
### 'one,two,three', 1
def f(csv, idx):
    cols = csv.split(',')
    taken = cols.pop(idx)
    cols.insert(0, taken.upper())
    return ','.join(cols)
### 'abc123def'
def f(s):
    out = []
    for ch in s:
        if ch.isdigit():
            out.append(str(9 - int(ch)))
        else:
            out.append(ch)
    return ''.join(out)
### 'zebra', 'apple', 'mango'
def f(*words):
    ordered = sorted(words, key=lambda w: w[-1])
    return [w.center(7, '-') for w in ordered]
### 'a.b.c.d', '.', 2
def f(s, sep, n):
    left = s.split(sep, n)
    right = s.rsplit(sep, n)
    return left[-1], right[0], len(left) + len(right)
### 'Hello World'
def f(s):
    words = s.split()
    return ' '.join(w[::-1] for w in words).swapcase()
### 'abcabcabc', 'abc'
def f(s, pat):
    n = 0
    while s.startswith(pat):
        s = s[len(pat):]
        n += 1
    return n, s
### 'xXyYzZ'
def f(s):
    res = ''
    for a, b in zip(s[::2], s[1::2]):
        res += b + a if a.islower() else a + b
    return res
### 'test'
def f(s):
    boxed = '+' + '-' * len(s) + '+'
    return [boxed, '|' + s + '|', boxed]
### '3 apples and 12 oranges'
def f(s):
    total = 0
    for token in s.split():
        if token.isdigit():
            total += int(token)
    return total
### 'aBcDeF'
def f(s):
    return sum(1 for c in s if c.isupper()) * 10 + sum(1 for c in s if c.islower())
### 'stop', 'pots'
def f(a, b):
    if sorted(a) == sorted(b):
        return 'anagram:' + ''.join(sorted(a))
    return 'different'
### 'hello world', 'world', 'there'
def f(s, target, repl):
    idx = s.find(target)
    if idx < 0:
        return s.upper()
    return s[:idx] + repl + s[idx + len(target):]
### 'aabbbcccc'
def f(s):
    best = ''
    for ch in s:
        run = ch * s.count(ch)
        if len(run) > len(best):
            best = run
    return best
### ''
def f(s):
    words = s.split()
    if not words:
        return []
    return [words[0].upper()] + words[1:]
### 'abc', ''
def f(a, b):
    if not b:
        return a * 2
    return a.replace(b, '') + b
### 'The Cat Sat'
def f(s):
    res = []
    for w in s.split():
        res.append(w.lower() if w[0] in 'CS' else w.upper())
    return '_'.join(res)
### 'hello', 'l', 2
def f(s, ch, n):
    i = -1
    for _ in range(n):
        i = s.find(ch, i + 1)
        if i == -1:
            break
    return i
### 'hello world', 'lo'
def f(s, chars):
    return ''.join(c for c in s if c not in chars), s.strip(chars)
### 'Hello', 'World'
def f(a, b):
    pairs = list(zip(a.lower(), b.lower()))
    same = [x for x, y in pairs if x == y]
    return pairs[:2], same
### 'a,b;c,d', ';', ','
def f(s, row_sep, col_sep):
    return [row.split(col_sep) for row in s.split(row_sep)]
### 'aBc', 3
def f(s, n):
    result = []
    for i in range(n):
        result.append(s if i % 2 == 0 else s.swapcase())
    return '/'.join(result)
### 'the cat and the hat'
def f(s):
    words = s.split()
    return {w: words.count(w) for w in words if len(w) == 3}
### 'ababab', 'ab', 'X'
def f(s, old, new):
    once = s.replace(old, new, 1)
    all_ = s.replace(old, new)
    return once, all_, once.count(new)
### 'Python'
def f(s):
    return [s[:i].lower() + s[i:].upper() for i in range(0, len(s), 2)]
### 'abcdef', 'ace'
def f(s, keep):
    kept = ''
    dropped = ''
    for ch in s:
        if ch in keep:
            kept += ch
        else:
            dropped += ch
    return kept + dropped.upper()
### 'HELLO'
def f(s):
    if s.isupper():
        return s.lower().capitalize() + '!'
    return s.upper()
### 'file.tar.gz'
def f(name):
    base, dot, ext = name.partition('.')
    stem, _, last = name.rpartition('.')
    return base, ext, stem, last
### '    indented line', 4
def f(line, tab):
    stripped = line.lstrip(' ')
    level = (len(line) - len(stripped)) // tab
    return level, stripped.capitalize()
### 'a1b22c333'
def f(s):
    groups = []
    cur = ''
    for ch in s:
        if ch.isdigit():
            cur += ch
        elif cur:
            groups.append(int(cur))
            cur = ''
    if cur:
        groups.append(int(cur))
    return groups
### 'Hello World Again'
def f(s):
    words = s.split()
    return ' '.join(words[1:] + words[:1]).lower()
### 'abc', 'xyz', 1
def f(a, b, i):
    x = a[:i] + b[i:]
    y = b[:i] + a[i:]
    return x, y, x.upper() == y.upper()
### 'python', 2
def f(word, k):
    rotated = word[-k:] + word[:-k]
    return rotated, rotated.index(word[0])
### 'ee', 'e'
def f(s, ch):
    count = 0
    idx = s.find(ch)
    while idx != -1:
        count += 1
        s = s[:idx] + s[idx + 1:]
        idx = s.find(ch)
    return count, s
### 'The Rain In Spain'
def f(s):
    return s.lower().count('ain'), s.swapcase().find('AIN'), s.istitle()
### 'tic-tac-toe'
def f(s):
    parts = s.split('-')
    parts.insert(1, parts.pop())
    return '-'.join(parts).upper()
### 'aaa'
def f(s):
    step1 = s.replace('a', 'ab')
    step2 = step1.replace('b', 'ba')
    return step2, step2.count('a')
### 'a-b_c d', '-_ '
def f(s, seps):
    for sep in seps:
        s = '.'.join(s.split(sep))
    return s, s.count('.')
### '12345'
def f(digits):
    total = 0
    for i, d in enumerate(digits):
        if i % 2:
            total += int(d)
        else:
            total -= int(d)
    return total
### 'Hello', 7, '*'
def f(s, width, fill):
    return s.center(width, fill), s.ljust(width, fill)[::-1]
### 'apple banana cherry', 'a'
def f(s, ch):
    return [w for w in s.split() if w.startswith(ch) or w.endswith(ch)]
### 'aabbcc'
def f(s):
    out = s[0] if s else ''
    for ch in s[1:]:
        if ch != out[-1]:
            out += ch
    return out
### 'Hello, World'
def f(s):
    left, _, right = s.partition(', ')
    return right + ', ' + left, left.isalpha() and right.isalpha()
### 'ABCDEFG', 3
def f(s, n):
    heads = [s[i] for i in range(0, len(s), n)]
    return ''.join(heads).lower(), len(heads)
### 'xyz'
def f(s):
    result = []
    for i, ch in enumerate(s):
        result.append(ch * (len(s) - i))
    return '.'.join(result)
### 'welcome home'
def f(s):
    vowels = [c for c in s if c in 'aeiou']
    return s.replace(' ', ''), ''.join(vowels), len(vowels)
### 'ab cd ef', 'cd'
def f(s, word):
    words = s.split()
    if word in words:
        words.remove(word)
        words.append(word.upper())
    return ' '.join(words)
### '1a2b3c'
def f(s):
    return ''.join(ch * int(s[i - 1]) for i, ch in enumerate(s) if ch.isalpha())
### 'Test String', 't'
def f(s, ch):
    removed = s.replace(ch, '').replace(ch.upper(), '')
    return removed, len(s) - len(removed)
### 'abcd'
def f(s):
    pairs = []
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            pairs.append(s[i] + s[j])
    return pairs
### 'a b c', 'x y z'
def f(a, b):
    keys = a.split()
    vals = b.split()
    d = dict(zip(keys, vals[::-1]))
    return d, keys == sorted(keys)
### 'NoSpacesHere'
def f(s):
    if ' ' not in s:
        return [s[:len(s) // 2], s[len(s) // 2:]]
    return s.split()
### 'madam', 'adam'
def f(a, b):
    return a.endswith(b), a.find(b), a.rfind('a'), a.count(b[0])
### 'UPPER lower', '_'
def f(s, fill):
    out = []
    for ch in s:
        out.append(ch if ch.isupper() else fill)
    return ''.join(out).strip(fill)
### 'hello', [0, 2, 4]
def f(s, idxs):
    chars = list(s)
    for i in idxs:
        chars[i] = chars[i].upper()
    return ''.join(chars)
### 'one two three four', 2
def f(s, n):
    words = s.split()
    return ' '.join(words[:n]).title(), ' '.join(words[n:]).upper()
### 'abcabcab'
def f(s):
    for size in range(1, len(s) + 1):
        unit = s[:size]
        if (unit * len(s))[:len(s)] == s:
            return unit
    return s
### '9876'
def f(s):
    nums = [int(c) for c in s]
    nums.sort()
    return int(''.join(str(n) for n in nums)), sum(nums)
### 'This is fine', 'is'
def f(text, word):
    tokens = text.split()
    exact = tokens.count(word)
    partial = sum(1 for t in tokens if word in t)
    return exact, partial
### 'hello', 'world'
def f(a, b):
    return ''.join(sorted(a + b)), ''.join(sorted(set(a) & set(b)))
### 'abcdefgh'
def f(s):
    left = s[:len(s) // 2]
    right = s[len(s) // 2:]
    return ''.join(a + b for a, b in zip(left, right[::-1]))
### 'x,y', 'z'
def f(s, extra):
    parts = s.split(',')
    parts.append(extra)
    return ','.join(parts), len(parts), parts.index(extra)
### 'zzaazz', 'z'
def f(s, ch):
    left = s.lstrip(ch)
    right = s.rstrip(ch)
    return left, right, s.strip(ch).count(ch)
### 'ABCabc123'
def f(s):
    kinds = {'upper': 0, 'lower': 0, 'digit': 0}
    for c in s:
        if c.isupper():
            kinds['upper'] += 1
        elif c.islower():
            kinds['lower'] += 1
        elif c.isdigit():
            kinds['digit'] += 1
    return kinds
### 'hello world'
def f(s):
    idx = s.find(' ')
    return s[idx + 1:].capitalize() + ' ' + s[:idx].upper() if idx >= 0 else s
### 'a b c d e', 2
def f(s, n):
    words = s.split()
    for _ in range(n):
        words.insert(0, words.pop())
    return ' '.join(words)
### '10 20 30'
def f(s):
    nums = [int(x) for x in s.split()]
    nums.append(sum(nums))
    return ' '.join(str(n).rjust(3) for n in nums)
### 'quick'
def f(s):
    out = ''
    for i in range(len(s) - 1, -1, -1):
        out += s[i] if i % 2 else s[i].upper()
    return out
### 'abc', 'abd'
def f(a, b):
    prefix = ''
    for x, y in zip(a, b):
        if x != y:
            break
        prefix += x
    return prefix, a[len(prefix):], b[len(prefix):]
### 'hello', 'HELLO'
def f(a, b):
    return a == b, a.upper() == b, a.swapcase() == b, a.title() == b.title()
### 'banana', 'a', 2
def f(s, ch, n):
    parts = s.split(ch, n)
    return parts, ch.join(parts[:-1]), parts[-1]
### ' x y '
def f(s):
    forms = [s.strip(), s.lstrip(), s.rstrip(), s.replace(' ', '')]
    return [len(x) for x in forms], forms[0]
### 'abc', 'def', 'ghi'
def f(*words):
    cols = []
    for i in range(len(words[0])):
        cols.append(''.join(w[i] for w in words))
    return cols
### 'hello world'
def f(s):
    words = s.split()
    return ' '.join(w[0].upper() + w[1:-1] + w[-1].upper() for w in words)
### 'some_long_name', 8
def f(name, limit):
    if len(name) <= limit:
        return name
    return name[:limit - 3] + '...'
"""

# ---------------------------------------------------------------------------
# List functions
# ---------------------------------------------------------------------------
DATA_LISTS = r"""
### [3, 1, 4, 1, 5, 9, 2, 6]
def f(nums):
    nums.sort()
    mid = len(nums) // 2
    return nums[:mid], nums[mid:]
### [1, 2, 3, 4, 5], 2
def f(items, k):
    for _ in range(k):
        items.append(items.pop(0))
    return items
### [5, 3, 8, 1]
def f(nums):
    result = []
    while nums:
        result.append(max(nums))
        nums.remove(max(nums))
    return result
### [1, 2, 3], [4, 5]
def f(a, b):
    c = a.copy()
    c.extend(b)
    c.reverse()
    return c, a
### [10, 20, 30, 40], 25
def f(nums, x):
    for i, n in enumerate(nums):
        if n > x:
            nums.insert(i, x)
            return nums
    nums.append(x)
    return nums
### [1, 1, 2, 3, 3, 3]
def f(nums):
    out = []
    for n in nums:
        if nums.count(n) > 1 and n not in out:
            out.append(n)
    return out
### []
def f(nums):
    if not nums:
        return 0, 0
    return min(nums), max(nums)
### [4, 7, 2, 9], 7
def f(nums, target):
    if target in nums:
        i = nums.index(target)
        return nums[i + 1:] + nums[:i]
    return nums
### [1, 2, 3, 4, 5, 6]
def f(nums):
    evens = [n for n in nums if n % 2 == 0]
    odds = [n for n in nums if n % 2]
    return evens + odds[::-1]
### [3, 6, 9, 10], 3
def f(nums, d):
    q = [n // d for n in nums if n % d == 0]
    r = [n for n in nums if n % d]
    return q + [len(r)]
### [1, 2, 3, 4]
def f(nums):
    total = 0
    out = []
    for n in nums:
        total += n
        out.append(total)
    return out
### [5, 1, 4], 0
def f(nums, val):
    nums.insert(len(nums) // 2, val)
    nums.insert(0, val)
    return nums
### [1, 2, 3, 2, 1]
def f(nums):
    return nums == nums[::-1] and len(nums) > 2, nums.count(nums[0])
### [[1, 2], [3], [4, 5, 6]]
def f(lists):
    flat = []
    for sub in lists:
        flat.extend(sub)
    return flat, [len(s) for s in lists]
### ['b', 'a', 'c'], 'a'
def f(letters, x):
    letters.remove(x)
    letters.sort(reverse=True)
    letters.append(x)
    return letters
### [2, 4, 6, 8], 5
def f(nums, limit):
    kept = []
    for n in nums:
        if n > limit:
            break
        kept.append(n)
    return kept, nums[len(kept):]
### [7, 3, 5]
def f(nums):
    a = nums.copy()
    a.sort()
    b = nums[:]
    b.reverse()
    return a == b, a, b
### [1, 2, 3, 4, 5, 6, 7], 3
def f(nums, n):
    groups = []
    while nums:
        groups.append(nums[:n])
        nums = nums[n:]
    return groups
### [0, 1, 0, 2, 0, 3]
def f(nums):
    zeros = nums.count(0)
    while 0 in nums:
        nums.remove(0)
    nums.extend([0] * zeros)
    return nums
### [3, 1, 2]
def f(nums):
    idx = sorted(range(len(nums)), key=lambda i: nums[i])
    return idx, [nums[i] for i in idx]
### [1, 2, 3, 4, 5]
def f(nums):
    while len(nums) > 1:
        a = nums.pop()
        b = nums.pop()
        nums.insert(0, a - b)
    return nums
### [10, 5, 7, 3]
def f(nums):
    diffs = [b - a for a, b in zip(nums, nums[1:])]
    return diffs, sum(d for d in diffs if d > 0)
### ['x', 'y', 'z'], 5
def f(items, n):
    result = []
    i = 0
    while len(result) < n:
        result.append(items[i % len(items)])
        i += 1
    return result
### [1, 2, 3], 0
def f(nums, i):
    popped = nums.pop(i)
    nums.append(popped * 10)
    nums.insert(i, -popped)
    return nums
### [[3, 'c'], [1, 'a'], [2, 'b']]
def f(pairs):
    pairs.sort()
    return ''.join(p[1] for p in pairs), [p[0] for p in pairs]
### [5, 5, 5], 5
def f(nums, x):
    c = nums.count(x)
    nums.clear()
    nums.append(c)
    return nums
### [1, 3, 5, 7, 9]
def f(nums):
    lo, hi = 0, len(nums) - 1
    out = []
    while lo <= hi:
        out.append(nums[lo])
        if lo != hi:
            out.append(nums[hi])
        lo += 1
        hi -= 1
    return out
### [4, -2, 0, -7, 3]
def f(nums):
    neg = [n for n in nums if n < 0]
    pos = [n for n in nums if n > 0]
    return len(neg), len(pos), nums.count(0)
### [2, 3], 4
def f(base, n):
    out = base.copy()
    for i in range(n):
        out.append(out[-1] + out[-2])
    return out
### ['apple', 'kiwi', 'banana', 'fig']
def f(words):
    words.sort(key=len)
    return [w[0] + str(len(w)) for w in words]
### [1, 2, 3, 4]
def f(nums):
    for i in range(len(nums)):
        nums[i] = nums[i] * nums[-1 - i]
    return nums
### [9, 8, 7], 1, 5
def f(nums, i, v):
    old = nums[i]
    nums[i] = v
    return nums, old, nums.index(v)
### []
def f(items):
    items.append('start')
    items.extend(items)
    return items, len(items)
### [1, 2, 3, 4, 5, 6]
def f(nums):
    return [nums[i] + nums[i + 1] for i in range(0, len(nums) - 1, 2)]
### [3, 3, 1, 2, 1]
def f(nums):
    uniq = []
    for n in reversed(nums):
        if n not in uniq:
            uniq.insert(0, n)
    return uniq
### [1, 2, 3, 4, 5, 6, 7, 8]
def f(nums):
    removed = nums[::3]
    del nums[::3]
    return nums, removed, sum(nums) - sum(removed)
### [5, 2, 8], [1, 9]
def f(a, b):
    merged = sorted(a + b)
    return merged[0], merged[-1], merged[len(merged) // 2]
### ['a', 'b', 'c', 'd']
def f(items):
    out = []
    for i, x in enumerate(items):
        out.insert(i // 2, x)
    return out
### [1, 0, 2, 0, 3]
def f(nums):
    i = 0
    while i < len(nums):
        if nums[i] == 0:
            nums.pop(i)
        else:
            nums[i] += 1
            i += 1
    return nums
### [4, 1, 3], True
def f(nums, desc):
    ordered = sorted(nums, reverse=desc)
    ranks = [ordered.index(n) for n in nums]
    return ranks
### [2, 4, 6]
def f(nums):
    prod = 1
    for n in nums:
        prod *= n
    return prod, prod // len(nums) if nums else 0
### [1, 2, 3, 4, 5]
def f(nums):
    left = nums[:len(nums) // 2]
    right = nums[len(nums) // 2:]
    left.reverse()
    right.reverse()
    return left + right
### [[1, 2, 3], [4, 5, 6]]
def f(matrix):
    cols = [list(col) for col in zip(*matrix)]
    return cols, [sum(c) for c in cols]
### [1, 2, 3], [1, 2, 4]
def f(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i, x, y
    return -1, None, None
### ['c', 'a', 'b']
def f(letters):
    snapshot = letters.copy()
    letters.sort()
    moved = [i for i, (x, y) in enumerate(zip(snapshot, letters)) if x != y]
    return moved
### [0, 0, 0], 5
def f(nums, n):
    for i in range(n):
        nums[i % len(nums)] += i
    return nums
### [8, 6, 7, 5, 3, 0, 9]
def f(nums):
    best = nums[0]
    for n in nums[1:]:
        if n % 2 == 0 and n > best:
            best = n
    return best
### [1, 2, 3, 4], 7
def f(nums, cap):
    acc = []
    total = 0
    for n in nums:
        if total + n > cap:
            break
        total += n
        acc.append(n)
    return acc, total
### [3, 1, 2], 'x'
def f(nums, tag):
    return [tag * n for n in sorted(nums)] + [tag.upper() * len(nums)]
### ['a', 'b', 'c']
def f(items):
    copy = items.copy()
    copy.reverse()
    return [x + y for x, y in zip(items, copy)]
### [1, 5, 2, 5, 3], 5
def f(nums, x):
    idxs = [i for i, n in enumerate(nums) if n == x]
    for i in reversed(idxs):
        nums.pop(i)
    return nums, idxs
### [6, 2, 9, 4]
def f(nums):
    a = nums.pop()
    b = nums.pop(0)
    nums.append(b)
    nums.insert(0, a)
    return nums
### [[1], [2, 3], []]
def f(lists):
    lists.sort(key=len)
    lists[0].append(0)
    return lists
### [1, 2, 3, 4, 5, 6]
def f(nums):
    odd_pos = nums[1::2]
    even_pos = nums[::2]
    return odd_pos + even_pos, nums[-2::-2]
### [3, 8, 1], 2
def f(nums, k):
    nums.sort(reverse=True)
    top = nums[:k]
    rest = nums[k:]
    return top, sum(rest)
### [1, 2, 2, 3, 3, 3]
def f(nums):
    counts = {}
    for n in nums:
        counts[n] = counts.get(n, 0) + 1
    return max(counts, key=counts.get)
### ['hi', 'there', 'you']
def f(words):
    lengths = [len(w) for w in words]
    longest = words[lengths.index(max(lengths))]
    return longest, lengths
### [1, 2, 3]
def f(nums):
    out = []
    for i in range(len(nums)):
        out.append(nums[:i] + nums[i + 1:])
    return out
### [4, 3, 2, 1]
def f(nums):
    swaps = 0
    for i in range(len(nums)):
        for j in range(len(nums) - 1 - i):
            if nums[j] > nums[j + 1]:
                nums[j], nums[j + 1] = nums[j + 1], nums[j]
                swaps += 1
    return nums, swaps
### [2, 7, 11, 15], 9
def f(nums, target):
    seen = {}
    for i, n in enumerate(nums):
        if target - n in seen:
            return [seen[target - n], i]
        seen[n] = i
    return []
### [1, 2, 3, 4, 5]
def f(nums):
    nums[1:3] = []
    nums[0:0] = [nums[-1]]
    return nums, len(nums)
### [5, 10, 15], 2
def f(nums, factor):
    scaled = [n * factor for n in nums]
    scaled.append(sum(nums))
    return scaled, scaled.index(max(scaled))
### ['a', 'b', 'c', 'd', 'e']
def f(items):
    items[::2] = [x.upper() for x in items[::2]]
    return items
### [3, 7, 1, 9, 4]
def f(nums):
    peaks = []
    for i in range(1, len(nums) - 1):
        if nums[i] > nums[i - 1] and nums[i] > nums[i + 1]:
            peaks.append(i)
    return peaks
### [1, 2, 3], 3
def f(nums, n):
    out = []
    for x in nums:
        out.extend([x] * n)
    return out[::n + 1]
### [2, 2, 3, 3, 3, 4]
def f(nums):
    runs = []
    for n in nums:
        if runs and runs[-1][0] == n:
            runs[-1][1] += 1
        else:
            runs.append([n, 1])
    return runs
### [1, 2, 3, 4, 5, 6], 3
def f(nums, k):
    windows = [sum(nums[i:i + k]) for i in range(len(nums) - k + 1)]
    return windows, max(windows)
### [4, 5, 6], [1, 2, 3]
def f(a, b):
    a.extend(b)
    a.sort()
    b.clear()
    return a, b, len(a) - len(b)
### ['x', 'y', 'z'], 1, 'w'
def f(items, i, new):
    old = items[i]
    items.remove(old)
    items.insert(i, new)
    items.append(old)
    return items
### [10, 20, 30, 40, 50]
def f(nums):
    a = nums.pop(1)
    b = nums.pop(-2)
    return nums, a + b
### [1, 3, 2, 3, 1], 3
def f(nums, x):
    first = nums.index(x)
    last = len(nums) - 1 - nums[::-1].index(x)
    return first, last, nums[first:last + 1]
### [5, 4, 3, 2, 1]
def f(nums):
    result = []
    for n in nums:
        result.insert(0, n) if n % 2 else result.append(n)
    return result
### [[1, 2], [3, 4], [5, 6]]
def f(pairs):
    firsts = []
    seconds = []
    for a, b in pairs:
        firsts.append(a)
        seconds.insert(0, b)
    return firsts + seconds
### [1, 2, 3, 4, 5, 6, 7, 8, 9], 4
def f(nums, pivot):
    low = [n for n in nums if n < pivot]
    high = [n for n in nums if n > pivot]
    return high[:2] + [pivot] + low[-2:]
### ['b', 'c', 'a'], ['z', 'y', 'x']
def f(keys, vals):
    pairs = sorted(zip(keys, vals))
    return [v for _, v in pairs], [k for k, _ in pairs]
### [0, 1, 2, 3, 4, 5]
def f(nums):
    nums.reverse()
    nums.pop(0)
    nums.sort(key=lambda x: x % 3)
    return nums
### [1, 4, 9, 16], 2
def f(nums, step):
    picked = nums[::step]
    rest = nums[1::step]
    return sum(picked) - sum(rest), picked
### [3, 5, 7]
def f(nums):
    prods = [nums[i - 1] * nums[i] for i in range(len(nums))]
    return prods, prods.count(prods[0])
### ['hello', 'world'], 'o'
def f(words, ch):
    idx = [w.find(ch) for w in words]
    return idx, sum(w.count(ch) for w in words)
### [1, 2, 3, 4, 5, 6]
def f(nums):
    i = 0
    while i < len(nums):
        if nums[i] % 3 == 0:
            nums.insert(i, 0)
            i += 1
        i += 1
    return nums
### [9, 1, 8, 2, 7, 3]
def f(nums):
    asc = sorted(nums)
    out = []
    while asc:
        out.append(asc.pop())
        if asc:
            out.append(asc.pop(0))
    return out
### [1, 2, 3]
def f(nums):
    nums.append(nums[:])
    return len(nums), nums[-1], nums[0]
### [2, 3, 4], 5
def f(nums, mod):
    rems = [n * n % mod for n in nums]
    return rems, rems.count(max(rems)), rems.index(min(rems))
### ['a', 'bb', 'ccc', 'dd']
def f(words):
    by_len = {}
    for w in words:
        by_len[len(w)] = w
    return sorted(by_len.items())
### [1, 2, 3, 4]
def f(nums):
    result = []
    for i, n in enumerate(nums):
        result.append(n ** 2 if i % 2 else -n)
    return result
### [4, 8, 15, 16, 23, 42]
def f(nums):
    return [n for n in nums if n % 2 == 0 and n % 4], [n for n in nums if n % 4 == 0]
### [1, 1, 1], [2]
def f(a, b):
    while len(a) > len(b):
        b.append(a.pop())
    return a, b
### [7, 2, 5, 1]
def f(nums):
    lo = min(nums)
    hi = max(nums)
    return [(n - lo) * 10 // (hi - lo) for n in nums]
### ['x', 'y'], 3
def f(items, n):
    grid = []
    for i in range(n):
        grid.append([x + str(i) for x in items])
    return grid
### [3, 1, 2], ['a', 'b', 'c']
def f(perm, vals):
    out = [None] * len(perm)
    for p, v in zip(perm, vals):
        out[p - 1] = v
    return out
### [5, 3, 4, 1]
def f(nums):
    nums.sort()
    gaps = []
    for a, b in zip(nums, nums[1:]):
        if b - a > 1:
            gaps.append(a + 1)
    return gaps
### [1, 2, 3, 4, 5], 1, 3
def f(nums, i, j):
    nums[i], nums[j] = nums[j], nums[i]
    nums[i + 1:j] = nums[i + 1:j][::-1]
    return nums
### ['apple', 'Banana', 'cherry']
def f(words):
    words.sort(key=str.lower)
    caps = [w for w in words if w[0].isupper()]
    return words, caps
### [0, 0, 1, 1, 0]
def f(bits):
    value = 0
    for b in bits:
        value = value * 2 + b
    return value, bits.count(1)
### [1, 2, 3, 4, 5, 6, 7]
def f(nums):
    chunks = []
    while len(nums) >= 2:
        chunks.append(nums.pop(0) * nums.pop())
    return chunks, nums
### ['a', 'b'], ['c'], ['d', 'e', 'f']
def f(*lists):
    longest = max(lists, key=len)
    out = []
    for l in lists:
        out.extend(l + ['-'] * (len(longest) - len(l)))
    return out
### [10, 9, 8, 7], 8
def f(nums, x):
    i = nums.index(x)
    before = nums[:i]
    before.reverse()
    return before + nums[i:]
### [1, 2, 3]
def f(nums):
    alias = nums
    snapshot = nums.copy()
    alias.append(4)
    return nums, snapshot, len(alias) - len(snapshot)
### [3, 6, 2, 8], 5
def f(nums, threshold):
    flags = [n > threshold for n in nums]
    return flags, flags.count(True), flags.index(True)
### []
def f(nums):
    nums.extend(range(3))
    nums.reverse()
    nums.insert(1, 'mid')
    return nums
"""

# ---------------------------------------------------------------------------
# Dict functions
# ---------------------------------------------------------------------------
DATA_DICTS = r"""
### {'a': 1, 'b': 2, 'c': 3}
def f(d):
    inv = {v: k for k, v in d.items()}
    return inv, sorted(inv.values(), reverse=True)
### {'x': 10, 'y': 20}, 'z'
def f(d, key):
    val = d.get(key, 0)
    d[key] = val + len(d)
    return d
### {'a': 3, 'b': 1, 'c': 2}
def f(d):
    items = list(d.items())
    items.sort(key=lambda kv: kv[1])
    return [k for k, _ in items]
### {'k1': 'v1', 'k2': 'v2'}, {'k2': 'new', 'k3': 'v3'}
def f(a, b):
    merged = a.copy()
    merged.update(b)
    return merged, len(a), len(merged)
### {'apple': 5, 'pear': 0, 'fig': 3}
def f(stock):
    for k in list(stock.keys()):
        if stock[k] == 0:
            stock.pop(k)
    return stock
### ['red', 'green', 'blue']
def f(colors):
    d = dict.fromkeys(colors, 0)
    for c in colors:
        d[c] += len(c)
    return d
### {'a': 1, 'b': 2}
def f(d):
    last = d.popitem()
    d[last[0].upper()] = last[1] * 2
    return d
### 'a bb cc ddd e'
def f(s):
    groups = {}
    for w in s.split():
        groups.setdefault(len(w), []).append(w)
    return groups
### {'a': [1, 2], 'bb': [3]}
def f(d):
    total = 0
    for key, vals in d.items():
        total += sum(vals) * len(key)
    return total
### {}, 'x'
def f(d, key):
    d.setdefault(key, [])
    d[key].append(len(d))
    d.setdefault(key, 'ignored')
    return d
### {1: 'one', 2: 'two', 3: 'three'}
def f(d):
    return [v for k, v in d.items() if k % 2], list(d.keys())[-1]
### {'b': 2, 'a': 1, 'c': 3}
def f(d):
    keys = sorted(d)
    ordered = {k: d[k] for k in keys[::-1]}
    return ordered, keys[0]
### {'x': 1, 'y': 2, 'z': 3}
def f(d):
    out = {}
    while d:
        k, v = d.popitem()
        out[k * v] = v
    return out
### ['a', 'b', 'a', 'c', 'b', 'a']
def f(items):
    counts = dict.fromkeys(items, 0)
    for x in items:
        counts[x] += 1
    return [k for k in counts if counts[k] > 1]
### {'name': 'Ann', 'age': 30}, ['name', 'city']
def f(record, fields):
    found = [record.get(k, 'N/A') for k in fields]
    missing = [k for k in fields if k not in record]
    return found, missing
### {'a': 1, 'b': 2}
def f(d):
    c = d.copy()
    c.clear()
    c['size'] = len(d)
    return c, d
### {'one': 1, 'two': 2, 'three': 3}, 2
def f(d, threshold):
    big = {k: v for k, v in d.items() if v >= threshold}
    small = [k for k in d if k not in big]
    return big, small
### {'a': 'x', 'b': 'y'}, 'b'
def f(d, key):
    val = d.pop(key, None)
    d['popped'] = val
    return list(d.items())
### ['k1', 'k2', 'k3'], [1, 2]
def f(keys, vals):
    d = {}
    for i, k in enumerate(keys):
        d[k] = vals[i] if i < len(vals) else None
    return d
### {'x': 5, 'y': 3}
def f(d):
    for k in d:
        d[k] = d[k] * 2 - 1
    return sum(d.values()), d
### {'a': 1}, {'a': 2, 'b': 3}
def f(d1, d2):
    conflicts = [k for k in d1 if k in d2 and d1[k] != d2[k]]
    d1.update(d2)
    return d1, conflicts
### 'banana'
def f(s):
    last = {}
    for i, ch in enumerate(s):
        last[ch] = i
    return last
### {'a': 3, 'b': 0, 'c': 2}
def f(d):
    result = []
    for k, v in d.items():
        result.extend([k] * v)
    return ''.join(result)
### {}
def f(d):
    if not d:
        return {'empty': True}
    return {k: not v for k, v in d.items()}
### {'a': 1, 'b': 2, 'c': 3}
def f(d):
    keys = list(d.keys())
    vals = list(d.values())
    vals.reverse()
    return dict(zip(keys, vals))
### [('a', 1), ('b', 2), ('a', 3)]
def f(pairs):
    d = {}
    for k, v in pairs:
        d[k] = d.get(k, []) + [v]
    return d
### {'x': 1, 'y': 2}, 'y', 10
def f(d, key, value):
    if key in d:
        d[key + '_old'] = d.pop(key)
    d[key] = value
    return d
### {'a': 'apple', 'b': 'banana'}
def f(d):
    short = {k.upper(): v[:3] for k, v in d.items()}
    lengths = [len(v) for v in d.values()]
    return short, lengths
### {'a': 1, 'b': 2, 'c': 3}, ['a', 'c']
def f(d, remove):
    for k in remove:
        d.pop(k)
    d.update({k: 0 for k in remove})
    return d
### 'abcabc'
def f(s):
    first = {}
    for i, ch in enumerate(s):
        first.setdefault(ch, i)
    return list(first.values())
### {'b': 1, 'a': 2}
def f(d):
    keys = list(d)
    keys.sort()
    d.clear()
    for i, k in enumerate(keys):
        d[k] = i
    return d
### {'x': [1, 2, 3], 'y': [4]}
def f(d):
    tails = {k: v.pop() for k, v in d.items()}
    empty = [k for k, v in d.items() if not v]
    return tails, empty, d
### {'a': 2, 'b': 3}
def f(d):
    total = 1
    for v in d.values():
        total *= v
    d['product'] = total
    return d
### ['x', 'y'], 7
def f(keys, default):
    d = dict.fromkeys(keys, default)
    d[keys[0]] += 1
    return d, sum(d.values())
### {'a': 1, 'b': 1, 'c': 2}
def f(d):
    groups = {}
    for k, v in d.items():
        groups.setdefault(v, '')
        groups[v] += k
    return groups
### {1: 2, 2: 3, 3: 1}, 1, 4
def f(mapping, start, steps):
    path = [start]
    for _ in range(steps):
        path.append(mapping.get(path[-1], start))
    return path
### {'a': 10, 'b': 20}, 'c'
def f(d, key):
    if key not in d:
        d.update({key: sum(d.values())})
    return d.get(key), len(d)
### {'q': 1, 'w': 2, 'e': 3}
def f(d):
    items = list(d.items())
    first = items[0]
    last = items[-1]
    return {first[0]: last[1], last[0]: first[1]}
### 'a=1&b=2&a=3'
def f(query):
    params = {}
    for part in query.split('&'):
        k, v = part.split('=')
        params.setdefault(k, []).append(v)
    return params
### {}
def f(d):
    d.update(a=1)
    d.setdefault('b', d['a'] + 1)
    d.update(a=5)
    return d
### {'a': 1, 'b': 2, 'c': 3}
def f(d):
    keys = list(d)
    for k in keys[::2]:
        d[k + k] = d.pop(k)
    return d
### {'x': 'abc', 'y': 'de'}
def f(d):
    out = {}
    for k, v in d.items():
        for i, ch in enumerate(v):
            out[ch] = k + str(i)
    return out
### {'a': 5, 'b': 7, 'c': 5}
def f(d):
    rev = {}
    for k, v in d.items():
        rev.setdefault(v, []).append(k)
    return {v: ks for v, ks in rev.items() if len(ks) > 1}
### {'one': 1}, 'two', 2
def f(d, k, v):
    c = d.copy()
    c[k] = v
    c.update(d)
    return c == d, c
### {'z': 26, 'a': 1, 'm': 13}
def f(d):
    smallest = min(d, key=d.get)
    largest = max(d.values())
    return smallest, largest, sorted(d)[1]
### {'a': 1, 'b': 2}, {'b': 3, 'c': 4}
def f(x, y):
    shared = [k for k in x if k in y]
    only_x = [k for k in x if k not in y]
    return shared, only_x, {k: x[k] + y[k] for k in shared}
### {'a': [1], 'b': []}
def f(d):
    for k, v in d.items():
        if not v:
            v.append(k)
        else:
            v.append(len(v))
    return d
### 'aabbbc'
def f(s):
    d = {}
    for ch in s:
        d[ch] = d.setdefault(ch, 0) + 1
    return d.popitem(), d
### {'a': 1, 'b': 2, 'c': 3}
def f(d):
    removed = []
    while len(d) > 1:
        removed.append(d.popitem()[0])
    return d, removed
### ['x', 'y', 'x', 'z'], 0
def f(keys, start):
    d = {}
    for k in keys:
        if k not in d:
            d[k] = start
            start += 1
    return d
### {'a': 'b', 'b': 'c', 'c': 'a'}, 'a', 4
def f(links, start, n):
    cur = start
    seen = [cur]
    for _ in range(n):
        cur = links[cur]
        seen.append(cur)
    return ''.join(seen)
### {'a': 1, 'b': 2}
def f(d):
    d2 = dict.fromkeys(d.keys())
    for k in d2:
        d2[k] = d[k] * 100
    return d2, list(d2.values())
### {'k': 'v'}
def f(d):
    items = list(d.items())
    d.clear()
    for k, v in items:
        d[v] = k
    d['count'] = len(items)
    return d
### {'x': 3, 'y': 1}, 2
def f(d, n):
    for _ in range(n):
        for k in d:
            d[k] += d[k] % 2
    return d
### {}, 'abca'
def f(d, s):
    for i, ch in enumerate(s):
        d[ch] = d.get(ch, '') + str(i)
    return d, ''.join(d.values())
### {'a': 1, 'b': 2, 'c': 3}, 'b'
def f(d, key):
    keys = list(d.keys())
    i = keys.index(key)
    return keys[i - 1], keys[(i + 1) % len(keys)], d.get(key)
### {'apple': 3, 'banana': 5}
def f(d):
    return {k[:3]: v for k, v in d.items()}, {v: len(k) for k, v in d.items()}
### {'a': 1}
def f(d):
    d.setdefault('a', 100)
    d.setdefault('b', 200)
    return d.pop('a') + d.pop('b'), d
### [('x', 1), ('y', 2)], {'z': 3}
def f(pairs, extra):
    d = dict(pairs)
    d.update(extra)
    d.update([('x', 9)])
    return d
### {'b': [2, 1], 'a': [3]}
def f(d):
    for v in d.values():
        v.sort()
    return sorted(d.items()), d
"""

# ---------------------------------------------------------------------------
# Integers, tuples, booleans, None and edge cases (empty inputs)
# ---------------------------------------------------------------------------
DATA_MISC = r"""
### (1, 2, 3), 2
def f(tup, x):
    lst = list(tup)
    lst.remove(x)
    lst.append(x * x)
    return tuple(lst), tup.count(x)
### True, 'yes', 'no'
def f(flag, a, b):
    chosen = a if flag else b
    other = b if flag else a
    return chosen.upper() + other.lower()
### None, 5
def f(value, default):
    if value is None:
        value = default
    return [value] * 3, value == default
### 17
def f(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps
### 1234
def f(n):
    digits = []
    while n:
        digits.append(n % 10)
        n //= 10
    return digits, sum(digits)
### 10
def f(n):
    result = []
    for i in range(1, n + 1):
        if n % i == 0:
            result.append(i)
    return result
### 5, 3
def f(a, b):
    out = []
    while b:
        out.append(a % b)
        a, b = b, a % b
    return a, out
### 6
def f(n):
    rows = []
    for i in range(n):
        rows.append('#' * (i + 1) + '.' * (n - i - 1))
    return rows[::2]
### 255
def f(n):
    bits = ''
    while n > 0:
        bits = str(n % 2) + bits
        n //= 2
    return bits.zfill(10), bits.count('1')
### 3, 4
def f(rows, cols):
    grid = [[r * cols + c for c in range(cols)] for r in range(rows)]
    return grid[-1], [row[0] for row in grid]
### 'cab', True
def f(s, rev):
    chars = list(s)
    chars.sort(reverse=rev)
    return ''.join(chars).center(len(s) + 2, '|')
### 12, 18
def f(a, b):
    common = [d for d in range(1, min(a, b) + 1) if a % d == 0 and b % d == 0]
    return common[-1], len(common)
### 7
def f(n):
    s = ''
    for i in range(n):
        s += 'ab'[i % 2]
    return s, s.count('a') - s.count('b')
### (3, 'x'), (1, 'y')
def f(*pairs):
    ordered = sorted(pairs)
    return [p[1] * p[0] for p in ordered]
### 0
def f(n):
    if n == 0:
        return 'zero', []
    return 'positive', list(range(n))
### [True, False, True]
def f(flags):
    out = ''
    for i, b in enumerate(flags):
        out += str(i) if b else '-'
    return out, all(flags), any(flags)
### 2020
def f(year):
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return str(year)[2:] + ('L' if leap else 'N')
### 100, 7
def f(total, parts):
    base = total // parts
    extra = total % parts
    return [base + 1] * extra + [base] * (parts - extra)
### 'abc', 2, False
def f(s, n, upper):
    out = s * n
    if upper:
        out = out.upper()
    return out.replace(s[-1], '', 1)
### [4, 2, 3, 1], None
def f(nums, limit):
    if limit is None:
        return nums[::-1]
    return [n for n in nums if n <= limit]
### 'a', 'b', 'c'
def f(*args):
    out = []
    for i, a in enumerate(args):
        out.append(a * (i + 1))
    out.reverse()
    return '-'.join(out)
### '', 3
def f(s, n):
    if len(s) < n:
        return s.ljust(n, '#')
    return s[:n]
### []
def f(nums):
    total = 0
    for n in nums:
        total += n
    return total, len(nums), nums
### '', ','
def f(s, sep):
    parts = s.split(sep) if s else []
    return len(parts), [p.strip() for p in parts]
### [], 5
def f(nums, default):
    if nums:
        return nums[-1]
    nums.append(default)
    return nums
### {}, []
def f(d, keys):
    for k in keys:
        d[k] = d.get(k, 0) + 1
    return d or 'nothing'
### ''
def f(s):
    top = s.upper().center(4, '*')
    bottom = s.zfill(2)
    return top + '/' + bottom
### [[], [1], []]
def f(lists):
    count = 0
    for sub in lists:
        if not sub:
            sub.append(count)
            count += 1
    return lists
### '   ', ' '
def f(s, ch):
    parts = s.split(ch)
    return parts, len(parts), s.strip(ch) == ''
### [], []
def f(a, b):
    merged = a + b
    merged.sort()
    return merged if merged else [None]
### '', ''
def f(a, b):
    if a == b:
        return a.startswith(b), b.endswith(a), a.find(b)
    return None
### [0]
def f(nums):
    while nums and nums[-1] == 0:
        nums.pop()
    return nums, len(nums)
### 'a'
def f(s):
    out = []
    for i in range(len(s)):
        out.append(s[i:] + s[:i])
    return out, len(set(out))
### {}, 'missing'
def f(d, key):
    found = d.get(key)
    if found is None:
        d[key] = []
    return d, found
### '', 'abc'
def f(s, chars):
    for c in chars:
        s = s + c if c not in s else s
    return s.title()
### ['', 'a', '', 'b']
def f(items):
    cleaned = [x for x in items if x]
    blanks = items.count('')
    return cleaned, blanks
### [1], 0
def f(nums, k):
    if k <= 0:
        return nums.copy()
    return nums[k:] + nums[:k]
### '0000'
def f(s):
    stripped = s.lstrip('0')
    return stripped or '0', len(s) - len(stripped)
### [[]], 2
def f(grid, n):
    for _ in range(n):
        grid.append(grid[-1] + [len(grid)])
    return grid
### ''
def f(s):
    vowels = sum(1 for c in s if c in 'aeiou')
    return vowels, len(s) - vowels, s.isalpha()
### [], 'x'
def f(items, fill):
    while len(items) < 3:
        items.insert(0, fill * (len(items) + 1))
    return items
### ''
def f(s):
    result = []
    for word in s.split(','):
        result.append(word.strip() or '<blank>')
    return result
### [], ''
def f(items, sep):
    joined = sep.join(str(x) for x in items)
    return joined, len(joined), joined == ''
### {}
def f(d):
    d.setdefault('count', 0)
    d['count'] += 1
    return d, list(d.items())
### [[], []]
def f(lists):
    lists[0].append(1)
    lists[1].extend(lists[0] * 2)
    return lists
### ''
def f(s):
    first, sep, rest = s.partition(':')
    return [first, sep, rest], bool(sep)
### ['a'], 0
def f(items, i):
    items.pop(i)
    return items, len(items) == 0, items.copy() or ['default']
### 'z'
def f(s):
    out = s.zfill(3) + s.center(3) + s.ljust(3, '-')
    return out, len(out)
### 0, []
def f(n, acc):
    while n < 5:
        acc.append(n * n)
        n += 2
    return acc, n
### 'aaa', ''
def f(s, prefix):
    if s.startswith(prefix):
        return s[len(prefix):], True
    return s, False
"""

SECTIONS = [DATA_STRINGS, DATA_LISTS, DATA_DICTS, DATA_MISC]


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
    entries = [e for section in SECTIONS for e in parse_entries(section)]
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
