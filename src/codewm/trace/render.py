"""Render runtime values as the strings a trace stores: `repr`, bounded, without addresses.

CWM writes every local as the `repr()` of its value. Real programs hold values whose repr is
huge, recursive, slow, raising or never-ending, so codewm renders with these documented rules:

1. The text is `repr(value)` with memory addresses removed: `<list_iterator object at
   0x7f..>` becomes `<list_iterator object>` (as in CWM's traces); so are a module's file
   (`<module 'json'>`) and a thread's identifier (`<Thread(Thread-1, started)>`), which
   differ between machines and runs. Only reprs of other objects than built-in strings,
   bytes, numbers and containers lose them: the string `'located at 0xdeadbeef'` renders
   as itself.
2. A text longer than `max_chars` is cut to its first `max_chars` characters followed by
   `...` (three dots). Strings, bytes, ints and built-in containers are cut *before* the
   full repr is built, so a 100 MB list costs no more than a short one; the text is still
   exactly the full repr's first characters (same quotes).
3. A recursive container renders the way Python renders it (`[1, [...]]`). Built-in
   containers are printed without recursion, so one nested any number of levels deep
   renders as the first `max_chars` characters of its repr (`[[[[...`), where `repr`
   itself would raise RecursionError; rendering never raises into the traced program.
4. A repr that raises renders as `<unrepresentable TYPE: EXC_TYPE>`.
5. A repr that runs longer than about `repr_timeout` seconds renders as `<unrepresentable
   TYPE: repr timed out>` (while tracing on the main thread, see `ReprWatchdog`).
6. A repr that is exactly `..` (which would read as the CWM "unchanged" marker) renders
   as `<repr '..'>`.
7. An int too large for Python to print renders as `<int with N bits>`.

The rules are the same in every process, so two runs of the same program give the same text.
"""

from __future__ import annotations

import _signal  # the C functions behind `signal`, without its enum conversions (per-run cost)
import re
import signal
import threading
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 400
DEFAULT_REPR_TIMEOUT = 0.5

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MODULE_FILE = re.compile(r"""(<module (?:'[^']*'|"[^"]*")) from (?:'[^']*'|"[^"]*")>""")
_THREAD_IDENT = re.compile(r"(, (?:started|stopped)(?: daemon)?) \d+\)>")
# Values whose repr Python computes itself, quickly and safely.
ATOMIC_TYPES = frozenset({int, bool, float, complex, str, bytes, type(None), type(Ellipsis)})
_CONTAINERS = (list, tuple, set, frozenset, dict)
_BRACKETS = {list: ("[", "]"), tuple: ("(", ")"), dict: ("{", "}"), set: ("{", "}"), frozenset: ("frozenset({", "})")}
_EMPTY_TEXT = {set: "set()", frozenset: "frozenset()"}
_RECURSIVE_TEXT = {list: "[...]", tuple: "(...)", dict: "{...}", set: "{...}", frozenset: "{...}"}
_END = object()  # a container's tokens are exhausted
_DONE = (True, _END)
_COMMA = (True, ", ")
_COLON = (True, ": ")


def _tokens(value, is_dict: bool):
    """The pieces of a built-in container's repr between its brackets, in order: `(True,
    literal text)` or `(False, element to render)`."""
    first = True
    if is_dict:
        for key, item in value.items():
            if not first:
                yield _COMMA
            first = False
            yield False, key
            yield _COLON
            yield False, item
    else:
        for item in value:
            if not first:
                yield _COMMA
            first = False
            yield False, item


_SIGALRM = int(signal.SIGALRM)
_ITIMER_REAL = int(signal.ITIMER_REAL)

# Built-in types whose repr is the default `<NAME object at 0x...>` (or similar) computed in C:
# safe to repr in bulk, then strip the address.
OPAQUE_BUILTIN_TYPES = frozenset(
    type(obj)
    for obj in (
        iter([]), iter(()), iter(""), iter("\u00e9"), iter(range(0)), iter(set()), iter(b""), iter({}),
        iter({}.values()), iter({}.items()), reversed([]), enumerate([]), zip(), map(len, []),
        filter(None, []), (x for x in ()), len, [].append, (lambda: None),
    )
)


class ReprTimeout(BaseException):
    """Raised inside a `__repr__` that ran past its time budget (see `ReprWatchdog`)."""


@dataclass(frozen=True, slots=True)
class RenderOptions:
    max_chars: int = DEFAULT_MAX_CHARS  # longest rendered value before it is cut ("...")
    repr_timeout: float = DEFAULT_REPR_TIMEOUT  # seconds a user __repr__ may run


def _prefix_repr(value: str | bytes | bytearray, size: int) -> str:
    """The repr of `value[:size]`, quoted the way `repr(value)` quotes: Python picks double
    quotes only for a text (str or bytes) that holds `'` and no `"`, which a prefix may not
    match."""
    text = repr(value[:size])
    close = len(text) - 2 if type(value) is bytearray else len(text) - 1  # bytearray(b'...')
    quote = text[close]
    start = text.index(quote)  # after the `b` of a bytes repr
    head, body, tail = text[:start], text[start + 1 : close], text[close + 1 :]
    single, double = ("'", '"') if type(value) is str else (b"'", b'"')
    full_double = single in value and double not in value  # type: ignore[operator]
    if quote == '"' and not full_double:  # the prefix chose "..." but the whole uses '...'
        if type(value) is not bytearray:  # a bytearray's repr escapes `'` in either quotes
            body = body.replace("'", "\\'")
        return head + "'" + body + "'" + tail
    if quote == "'" and full_double:  # the prefix has no quote at all: only the ends differ
        return head + '"' + body + '"' + tail
    return text


def _cut(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars] + "..."


def needs_tidying(text: str) -> bool:
    """Whether `tidy` may change `text` (a quick test before the regular expressions)."""
    return " at 0x" in text or "<module " in text or ", started " in text or ", stopped " in text


def tidy(text: str) -> str:
    """Remove what differs between runs and machines from a repr: memory addresses (` at
    0x7f...`), a module's file (`<module 'json' from '/usr/lib/...'>` -> `<module 'json'>`)
    and a thread's identifier (`<Thread(Thread-1, started 1403...)>` -> `<Thread(Thread-1,
    started)>`)."""
    if "0x" in text:
        text = _ADDRESS.sub("", text)
    if "<module " in text:
        text = _MODULE_FILE.sub(r"\1>", text)
    if ", started " in text or ", stopped " in text:
        text = _THREAD_IDENT.sub(r"\1)>", text)
    return text


class Renderer:
    """Renders values under one set of `RenderOptions`."""

    def __init__(self, options: RenderOptions | None = None, watchdog: "ReprWatchdog | None" = None) -> None:
        self.options = options or RenderOptions()
        self.max_chars = self.options.max_chars
        self.watchdog = watchdog  # when set (and started), user reprs run under it

    # -- public -----------------------------------------------------------------------
    def render(self, value: object) -> str:
        try:
            text = self._render(value, self.max_chars, set())
        except Exception as exc:  # never into the traced program (rule 4 for the whole value)
            return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
        if text == "..":
            return "<repr '..'>"
        return text

    # -- internals ---------------------------------------------------------------------
    def _render(self, value: object, budget: int, active: set[int]) -> str:
        kind = type(value)
        if kind is str:
            if len(value) > budget:  # type: ignore[arg-type]
                return _cut(_prefix_repr(value, budget + 1), budget)  # type: ignore[arg-type]
            return _cut(repr(value), budget)
        if kind is bytes or kind is bytearray:
            # Each byte prints as at least one character: a prefix's repr starts the same way,
            # once quoted as the whole value is.
            return _cut(_prefix_repr(value, budget + 1) if len(value) > budget else repr(value), budget)  # type: ignore[arg-type]
        if kind is int:
            try:
                return _cut(repr(value), budget)
            except ValueError:  # more digits than sys.get_int_max_str_digits() allows
                return f"<int with {value.bit_length()} bits>"  # type: ignore[union-attr]
        if kind in ATOMIC_TYPES:
            text = repr(value)
            if kind is bytes and len(text) > budget:
                return _cut(text, budget)
            return _cut(text, budget)
        if kind in _CONTAINERS:
            return self._render_container(value, budget, active)
        return self._render_other(value, budget)

    def _render_container(self, value, budget: int, active: set[int]) -> str:
        text = self._fast_container(value, budget)
        return text if text is not None else self._walk(value, budget, active)

    def _fast_container(self, value, budget: int) -> str | None:
        """Python's own repr of a small container of atomic values (exact and fastest), or
        None when the container must be walked."""
        kind = type(value)
        if len(value) <= budget // 2:
            if kind is dict:
                types = set(map(type, value)) | set(map(type, value.values()))
            else:
                types = set(map(type, value))
            if types <= ATOMIC_TYPES and str not in types and int not in types:
                return _cut(repr(value), budget)
            if types <= ATOMIC_TYPES and self._small(value, kind, budget):
                # str and int elements can be huge; their total size was checked cheaply first.
                return _cut(repr(value), budget)
        return None

    @staticmethod
    def _small(value, kind, budget: int) -> bool:
        items = list(value.items()) if kind is dict else value
        total = 0
        for item in items:
            for element in item if kind is dict else (item,):
                element_kind = type(element)
                if element_kind is str:
                    total += len(element) + 2  # type: ignore[arg-type]
                elif element_kind is int:
                    total += element.bit_length() // 3 + 2  # type: ignore[union-attr]
                else:
                    total += 8
            if total > 2 * budget:
                return False
        return True

    def _walk(self, root, budget: int, active: set[int]) -> str:
        """Render a built-in container piece by piece, stopping once `budget` is spent.

        Iterative, with an explicit stack of the containers being printed, so that a value
        nested any number of levels deep costs no Python or C recursion: the text is still
        exactly the first `budget` characters of the repr Python would print given enough
        stack (`[[[[...` for a list nested 10,000 deep)."""
        parts: list[str] = []
        used = 0  # characters in parts
        stack: list[tuple] = []  # (token iterator, closing text, id) of the containers open
        try:
            used += self._open(root, parts, stack, active)
            while stack and used <= budget:
                literal, item = next(stack[-1][0], _DONE)
                if literal:
                    if item is _END:
                        _, item, ident = stack.pop()  # the container's closing text
                        active.discard(ident)
                    parts.append(item)
                    used += len(item)
                    continue
                # enough for the element to run past the cut, so its own "..." is cut away
                remaining = budget - used + 1
                if type(item) in _CONTAINERS:
                    text = self._fast_container(item, remaining)
                    if text is None:  # a nested container: printed by this loop, not by recursion
                        used += self._open(item, parts, stack, active)
                        continue
                else:
                    text = self._render(item, remaining, active)
                parts.append(text)
                used += len(text)
        finally:
            for _, _, ident in stack:
                active.discard(ident)
        # Each piece is exact for the characters before the cut: the result is Python's repr,
        # cut at `budget` as rule 2 promises.
        return _cut("".join(parts), budget)

    @staticmethod
    def _open(value, parts: list[str], stack: list[tuple], active: set[int]) -> int:
        """Start printing container `value`: its opening text goes to `parts` and its tokens
        onto `stack`, or, when it is empty or already being printed, its whole text goes to
        `parts`. Returns the number of characters added."""
        kind = type(value)
        ident = id(value)
        if ident in active:
            text = _RECURSIVE_TEXT[kind]
        elif not value and kind in _EMPTY_TEXT:
            text = _EMPTY_TEXT[kind]
        else:
            open_, close = _BRACKETS[kind]
            if kind is tuple and len(value) == 1:
                close = ",)"
            active.add(ident)
            stack.append((_tokens(value, kind is dict), close, ident))
            text = open_
        parts.append(text)
        return len(text)

    def _render_other(self, value: object, budget: int) -> str:
        name = type(value).__name__
        watchdog = self.watchdog
        try:
            if watchdog is None:
                text = repr(value)
            else:
                watchdog.enter()
                try:
                    text = repr(value)
                finally:
                    watchdog.leave()
        except ReprTimeout:
            return f"<unrepresentable {name}: repr timed out>"
        except RecursionError:
            return f"<unrepresentable {name}: RecursionError>"
        except BaseException as exc:  # a user __repr__ may raise anything
            return f"<unrepresentable {name}: {type(exc).__name__}>"
        if type(text) is not str:
            return f"<unrepresentable {name}: repr returned {type(text).__name__}>"
        text = _cut(tidy(text), budget)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep the text writable as UTF-8
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        return text


class ReprWatchdog:
    """Interrupts a `repr` that runs longer than `timeout` seconds, at almost no cost per repr.

    One periodic timer (SIGALRM every timeout/2) runs while the watchdog is active; code that
    calls user reprs brackets them with `enter()`/`leave()`. A tick that finds the same
    bracket open as the previous tick raises `ReprTimeout` inside the repr. Works on the main
    thread only (signals are delivered there); elsewhere it stays inactive.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.enabled = False  # between start() and stop() on the main thread
        self.active = False  # the timer is armed
        self._busy = 0  # number of the bracket in progress, 0 when none
        self._count = 0
        self._seen = 0
        self._previous_handler = None

    def enter(self) -> None:
        if self.enabled and not self.active:
            self._arm()  # first user repr of this run: only now pay for the timer
        self._count += 1
        self._busy = self._count

    def leave(self) -> None:
        self._busy = 0

    def _tick(self, signum, frame) -> None:
        busy = self._busy
        if busy and busy == self._seen:
            self._seen = 0
            self._busy = 0
            raise ReprTimeout()
        self._seen = busy

    def start(self) -> None:
        """Allow the timer for this run (armed lazily, on the first `enter`)."""
        self.enabled = self.timeout > 0 and threading.current_thread() is threading.main_thread()

    def _arm(self) -> None:
        self._previous_handler = _signal.signal(_SIGALRM, self._tick)
        _signal.setitimer(_ITIMER_REAL, self.timeout / 2, self.timeout / 2)
        self.active = True

    def stop(self) -> None:
        self.enabled = False
        if self.active:
            _signal.setitimer(_ITIMER_REAL, 0)
            previous = self._previous_handler
            _signal.signal(_SIGALRM, previous if previous is not None else _signal.SIG_DFL)
            self.active = False


_DEFAULT = Renderer()


def render_value(value: object, options: RenderOptions | None = None) -> str:
    """Render one value by the rules in this module's docstring."""
    return (_DEFAULT if options is None else Renderer(options)).render(value)
