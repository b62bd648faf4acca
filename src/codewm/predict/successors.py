"""What a trace of a program can say next, from the program alone: the static side of
structure-aware decoding (`codewm.predict.structured`).

`ProgramInfo(context)` compiles the context once and describes every code object in it
(functions, lambdas, comprehensions, generator expressions, class bodies, the module):

- **line successors**: after a line event at line L of code C, the next line event of the same
  frame is at one of `C.successors[L]`. They come from C's bytecode, with CPython 3.11's rule
  for when `sys.settrace` reports a line (the one the tracer sees): follow the control flow
  from every instruction of L (fall-through, both sides of conditional jumps, unconditional
  jumps, and the exception table's handler for every instruction inside a `try`); a line
  event fires at the first instruction reached whose line differs from L, at an instruction
  of L itself reached by a backward jump (a loop on one line, a comprehension) or reached
  through instructions that carry no line number (which reset the interpreter's last line).
  Returns, raises and yields leave the frame (a `return` frame follows, not a line). This
  covers the next statement, loop heads, both branches, `except`/`finally` lines, the
  continuation lines of a multi-line statement and the `with` line on exit. On another
  Python version a line reached by any jump is also its own successor (conservative).
- **entry successors**: the first line event after the frame is entered (the first
  instruction with a line after `RESUME 0`, even on the `def` line itself, as for
  `def f(x): return x`), and **resume successors** per `yield`/`await` line.
- **call lines**: where a `call` frame of C says it is: the line of C's `RESUME 0` (the `def`
  line, or the first decorator's line, the class line, the comprehension's or lambda's line;
  line 1, the marker line, for a script's module) and, for generators and coroutines, each
  line where it resumes (its `yield` lines).
- **names**: the order Python 3.11's `frame.f_locals` lists a function's locals in
  (`co_varnames`, then cell variables that are not arguments, then free variables), the
  parameters (a call frame's locals: the arguments, then the free variables, in that order;
  cells that are not arguments are still empty), and for a class body or a module the names
  its code stores (a module's dunder names left out, as the tracer leaves them out).

- **returns** and **calls**: the lines after which a `return` event can come with no line
  event between (a `return` or `yield` on the line, or reached through lineless
  instructions), and the lines with an instruction that can run a function of the program
  (a call, or anything that iterates: a `map` or `filter` object calls its function as it
  is consumed). A program with a class or a generator can run its code from any line
  (operators, attribute access, resumed generators), and then every line can call.

`Tracker` follows the frames of a trace (`feed`) with a stack of scopes (the code objects
that can be running, the lines it can be at, the keys it showed last) and answers what the
next frame may say:

- `events()`: the first frame is a `call`; after the entry point returned, only the end.
  Otherwise `exception` and the end always, `line` unless the current line has no
  successor, `call` where the current line can call, `return` where it can return or an
  exception was raised in the scope; right after a first entry's call frame neither `call`
  nor `return` (a line event comes first).
- `actions(event)`: a line frame's source is a successor of the scope's current line (of the
  entry, or of the `yield` it resumed at, right after a call); a return's or an exception's
  is the current line (right after a call frame: any line of the function, as when the
  debugger steps over a call); a call's is any function's call line (not the `main` wrapper
  of a function-level context, which only the tracer calls).
- `call_key_rule()`, `call_actions(keys)`: a call frame's keys are the parameters of one of
  the program's functions (any of a generator's names, when it resumes) and its source is
  the call line of a function whose parameters they are.
- `key_rule()`: a line frame's keys (see `KeyRule`).
- `unchanged_allowed(event, name)`: where `".."` may stand for a value (the format's rule).

These were checked against real traces: replaying 25,867 frames (the bundled examples, 347
CRUXEval-style functions, 400 synthetic programs, HumanEval's solutions and scripts with
classes, generators, coroutines, closures, `with`, `try`/`finally`, `del`) through the
tracker, every real event, key and source line is among its candidates, on average 1.4
candidate lines for a line frame, 1.0 for a return or an exception, 1.2 for a call once its
keys are written. Whatever the frames say, the tracker never fails: a frame it cannot place
widens the candidates (to every line of the function, or of the program) instead of
narrowing them wrongly.

The bytecode, the line-event rule and the order of locals are those of the running Python,
which is also the one the tracer records (the trace format is Python 3.11's: comprehensions
are frames of their own there, not on 3.12).
"""

from __future__ import annotations

import dis
import inspect
import sys
from dataclasses import dataclass, field
from types import CodeType

from codewm.types import START_MARKER, Frame, action_lines

_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_EXITS = frozenset({"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE", "YIELD_VALUE"})
_LEAVES = frozenset({"RETURN_VALUE", "RETURN_CONST", "YIELD_VALUE"})  # a `return` event follows
# Instructions that can run a function of the program without a class or a generator in it:
# calls, and whatever iterates (a `map`/`filter` object calls its function as it is consumed).
# Operators, attribute access and `with` run program code only through a class.
_CALLS = ("CALL", "PRECALL", "SEND", "FOR_ITER", "GET_AWAITABLE", "BEFORE_WITH", "BEFORE_ASYNC_WITH",
          "CONTAINS_OP", "UNPACK_SEQUENCE", "UNPACK_EX", "LIST_EXTEND", "SET_UPDATE", "DICT_UPDATE", "DICT_MERGE")
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs) | frozenset(getattr(dis, "hasjump", ()))
_EXACT_LINE_RULE = sys.version_info[:2] == (3, 11)


@dataclass
class CodeInfo:
    """One code object of the program, as the trace sees it."""

    code: CodeType
    name: str
    kind: str  # "module", "class" or "function" (lambdas and comprehensions included)
    lines: frozenset[int]  # lines of its instructions
    entry_line: int  # the line of the call frame of a first entry
    resume_lines: frozenset[int]  # lines of the call frames of a resumption (generators)
    order: tuple[str, ...]  # the order its locals are listed in (see the module docstring)
    params: tuple[str, ...]  # the keys of a first entry's call frame, in order
    generator: bool
    successors: dict[int, frozenset[int]] = field(repr=False)
    returns: frozenset[int] = frozenset()  # lines from which the frame can return (or yield)
    calls: frozenset[int] = frozenset()  # lines with an instruction that can call
    entry_successors: frozenset[int] = frozenset()
    resume_successors: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)

    @property
    def call_lines(self) -> frozenset[int]:
        return self.resume_lines | {self.entry_line}


class ProgramInfo:
    """The static facts of one context (see the module docstring). Raises SyntaxError or
    ValueError where the context does not compile."""

    def __init__(self, context: str) -> None:
        self.context = context
        self.texts: list[str] = action_lines(context)  # line i + 1 as a frame's action writes it
        self.by_text: dict[str, list[int]] = {}
        for number, text in enumerate(self.texts, start=1):
            self.by_text.setdefault(text, []).append(number)
        module = compile(context, "<codewm-program>", "exec", dont_inherit=True, optimize=0)
        self.codes: list[CodeInfo] = []
        stack = [module]
        while stack:
            code = stack.pop(0)
            self.codes.append(_describe(code, top=code is module))
            stack.extend(c for c in code.co_consts if isinstance(c, CodeType))
        self.module = self.codes[0]
        if self.module.kind == "module":  # globals that functions store (`global x`) are the module's too
            stored = [n for info in self.codes[1:] for n in _stored_globals(info.code)]
            self.module.order = tuple(dict.fromkeys([*self.module.order, *(n for n in stored if n[:2] != "__")]))
        marked = [i for i, line in enumerate(context.split("\n"), start=1) if START_MARKER in line]
        self.entry_line = marked[0] if marked else 1
        self.script = context.startswith(START_MARKER)
        entry = [c for c in self.codes if c.entry_line == self.entry_line and (c.kind != "module") != self.script]
        self.entry: CodeInfo | None = entry[0] if entry else None
        # What a call frame after the first can enter: not the module, nor the `main` wrapper
        # of a function-level context (only the tracer calls it, once).
        self.callables = [c for c in self.codes if c.kind != "module" and (self.script or c is not self.entry)]
        # A class can run its methods from any operator or attribute access; a generator
        # resumes from any loop or call: then a call may follow any line.
        self.implicit_calls = any(c.kind == "class" or c.generator for c in self.codes)

    # -- lines and texts ----------------------------------------------------------------------
    def text(self, line: int) -> str:
        return self.texts[line - 1] if 0 < line <= len(self.texts) else ""

    def numbers(self, text: str) -> list[int]:
        """The line numbers whose action text is `text`."""
        return self.by_text.get(text, [])

    def texts_of(self, lines) -> list[str]:
        """The distinct action texts of `lines`, in line order."""
        return list(dict.fromkeys(self.text(n) for n in sorted(lines) if 0 < n <= len(self.texts)))

    def all_lines(self) -> frozenset[int]:
        return frozenset(range(1, len(self.texts) + 1))

    def call_sites(self, text: str, first: bool = False) -> list[tuple[CodeInfo, bool, bool]]:
        """The code objects whose call frame can have the action `text`: (code, as a first
        entry, as a resumption). `first`: the trace's first frame (the entry point's), which
        can be any code; later ones are `callables`."""
        numbers = set(self.numbers(text))
        out = []
        for info in self.codes if first else self.callables:
            fresh = info.entry_line in numbers
            resumed = bool(info.resume_lines & numbers)
            if fresh or resumed:
                out.append((info, fresh, resumed))
        return out


def _describe(code: CodeType, top: bool) -> CodeInfo:
    instructions = list(dis.get_instructions(code))
    if top:
        kind = "module"
    elif code.co_flags & inspect.CO_OPTIMIZED:
        kind = "function"
    else:
        kind = "class"
    lines = frozenset(i.positions.lineno for i in instructions if i.positions and i.positions.lineno)
    resumes = [(k, i) for k, i in enumerate(instructions) if i.opname == "RESUME"]
    entry_line = code.co_firstlineno
    resume_lines: set[int] = set()
    for _, instruction in resumes:
        line = instruction.positions.lineno if instruction.positions else None
        if instruction.arg:
            if line:
                resume_lines.add(line)
        elif line:
            entry_line = line
    if kind == "module":
        entry_line = 1  # the tracer writes a module's call frame at line 1 (it starts at line 0)
    generator = bool(code.co_flags & _GENERATOR_FLAGS)
    if kind == "function":
        cells = [n for n in code.co_cellvars if n not in code.co_varnames]
        order = tuple(dict.fromkeys([*code.co_varnames, *cells, *code.co_freevars]))
        count = code.co_argcount + code.co_kwonlyargcount
        count += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
        bound = set(code.co_varnames[:count]) | set(code.co_freevars)
        params = tuple(n for n in order if n in bound)
    else:
        stored = [i.argval for i in instructions if i.opname in ("STORE_NAME", "STORE_GLOBAL", "DELETE_NAME")]
        if kind == "module":
            stored = [n for n in stored if n[:2] != "__"]
        order = tuple(dict.fromkeys(stored))
        params = ()
    flow = _Flow(instructions, code)
    successors = {line: flow.after_line(line) for line in lines}
    returns = frozenset(line for line in lines if flow.leaves(line))
    calls = frozenset(n for n, i in zip(flow.lines, instructions) if n and i.opname.startswith(_CALLS))
    entry_index = next((k for k, i in resumes if not i.arg), None)
    entry_successors = flow.after_index(entry_index, reset=True) if entry_index is not None else flow.first_lines()
    resume_successors: dict[int, frozenset[int]] = {}
    for k, instruction in resumes:
        line = instruction.positions.lineno if instruction.positions else None
        if instruction.arg and line:
            resume_successors[line] = resume_successors.get(line, frozenset()) | flow.after_index(k, reset=False)
    return CodeInfo(
        code=code,
        name=code.co_name,
        kind=kind,
        lines=lines,
        entry_line=entry_line,
        resume_lines=frozenset(resume_lines),
        order=order,
        params=params,
        generator=generator,
        successors=successors,
        returns=returns,
        calls=calls,
        entry_successors=entry_successors,
        resume_successors=resume_successors,
    )


def _stored_globals(code: CodeType) -> list[str]:
    return [i.argval for i in dis.get_instructions(code) if i.opname == "STORE_GLOBAL"]


class _Flow:
    """The control-flow graph of one code object's instructions, for line events."""

    def __init__(self, instructions: list[dis.Instruction], code: CodeType) -> None:
        self.instructions = instructions
        self.lines = [i.positions.lineno if i.positions else None for i in instructions]
        index = {i.offset: k for k, i in enumerate(instructions)}
        handlers: list[tuple[int, int, int]] = []
        for entry in getattr(dis.Bytecode(code), "exception_entries", ()):
            if entry.target in index:
                handlers.append((entry.start, entry.end, index[entry.target]))
        self.edges: list[list[int]] = []
        for k, instruction in enumerate(instructions):
            out: list[int] = []
            name = instruction.opname
            if instruction.opcode in _JUMPS and isinstance(instruction.argval, int) and instruction.argval in index:
                out.append(index[instruction.argval])
                if not (name.startswith("JUMP") and "IF" not in name):  # conditional: falls through too
                    out.append(k + 1)
            elif name not in _EXITS:
                out.append(k + 1)
            out.extend(target for start, end, target in handlers if start <= instruction.offset < end)
            self.edges.append([j for j in out if j < len(instructions)])

    def leaves(self, line: int) -> bool:
        """Whether a return or a yield can follow a line event at `line` with no other line
        event between (an exit on the line, or one reached through lineless instructions)."""
        stack = [k for k, n in enumerate(self.lines) if n == line]
        seen: set[int] = set()
        while stack:
            k = stack.pop()
            if self.instructions[k].opname in _LEAVES:
                return True
            for j in self.edges[k]:
                if j not in seen and (self.lines[j] is None or self.lines[j] == line):
                    seen.add(j)
                    stack.append(j)
        return False

    def first_lines(self) -> frozenset[int]:
        return self.after_index(-1, reset=True) if self.instructions else frozenset()

    def after_line(self, line: int) -> frozenset[int]:
        starts = [k for k, n in enumerate(self.lines) if n == line]
        return self._walk(starts, line, reset=False)

    def after_index(self, index: int, reset: bool) -> frozenset[int]:
        if index < 0:  # before the first instruction
            return self._walk_from([(0, -1, True)], None)
        return self._walk([index], self.lines[index], reset)

    def _walk(self, starts: list[int], line: int | None, reset: bool) -> frozenset[int]:
        return self._walk_from([(j, k, reset) for k in starts for j in self.edges[k]], line)

    def _walk_from(self, stack: list[tuple[int, int, bool]], line: int | None) -> frozenset[int]:
        found: set[int] = set()
        seen: set[int] = set()
        offsets = [i.offset for i in self.instructions]
        while stack:
            j, came_from, through = stack.pop()
            number = self.lines[j]
            if number is None:  # no line: the interpreter's last line is reset
                if j not in seen:
                    seen.add(j)
                    stack.extend((k, j, True) for k in self.edges[j])
                continue
            backward = came_from >= 0 and offsets[j] <= offsets[came_from]
            if through or number != line or backward:
                found.add(number)
            elif not _EXACT_LINE_RULE and came_from >= 0 and j != came_from + 1:
                found.add(number)  # a jump within the line: another version may report it
        return frozenset(found)


# -- following a trace --------------------------------------------------------------------------
@dataclass
class Scope:
    """One open frame of the trace: which code objects it can be, where it is."""

    codes: list[CodeInfo]
    call_lines: frozenset[int]  # the line numbers its call frame can be at
    fresh: bool  # the call frame can be a first entry
    resumed: bool  # the call frame can be a resumption
    keys: tuple[str, ...] = ()  # the keys of its last call/line frame
    lines: frozenset[int] = frozenset()  # the line numbers it can be at now
    entered: bool = False  # a line (or exception) frame was seen since the call
    raised: bool = False  # the scope's last frame was an exception (it may return any time)


@dataclass
class KeyRule:
    """Which names a LOCALS object may list next.

    `sequences`: the key lists allowed as wholes (a first entry's call frame: its
    parameters). Otherwise the keys are some of `previous` (the keys last shown in this
    scope, whose order Python keeps), in that order, then new names: in the order of
    `order` (a function's locals), or in any order with `any_order` (class bodies, modules,
    resumed generators, a scope that could be more than one function).
    """

    sequences: tuple[tuple[str, ...], ...] | None = None
    previous: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    any_order: bool = False

    def options(self, chosen: list[str]) -> tuple[list[str], bool]:
        """The names that may come next after `chosen`, and whether the object may close."""
        if self.sequences is not None:
            size = len(chosen)
            names = [s[size] for s in self.sequences if len(s) > size and list(s[:size]) == chosen]
            return list(dict.fromkeys(names)), any(list(s) == chosen for s in self.sequences)
        taken = set(chosen)
        previous = self.previous
        position = -1  # how far into `previous` the chosen keys are
        new_phase_from = -1  # the last new name's place in `order`
        in_new_phase = False
        index_of = {n: i for i, n in enumerate(previous)}
        order_index = {n: i for i, n in enumerate(self.order)}
        for name in chosen:
            if not in_new_phase and name in index_of and index_of[name] > position:
                position = index_of[name]
            else:
                in_new_phase = True
                new_phase_from = max(new_phase_from, order_index.get(name, -1))
        names: list[str] = []
        if not in_new_phase:
            names.extend(n for n in previous[position + 1 :] if n not in taken)
        later_previous = set(previous[position + 1 :]) if not in_new_phase else set()
        for i, name in enumerate(self.order):
            if name in taken or name in later_previous:
                continue
            if self.any_order or i > new_phase_from:
                names.append(name)
        return list(dict.fromkeys(names)), True

    def admits(self, chosen: list[str]) -> bool:
        """Whether `chosen` can begin a LOCALS object under this rule."""
        return all(name in self.options(chosen[:i])[0] for i, name in enumerate(chosen))


@dataclass(frozen=True)
class KeyRules:
    """Several rules at once: a name may come next if one of the rules that admit the
    keys so far allows it."""

    rules: tuple[KeyRule, ...]

    def options(self, chosen: list[str]) -> tuple[list[str], bool]:
        names: list[str] = []
        close = False
        for rule in self.rules:
            if rule.admits(chosen):
                more, can_close = rule.options(chosen)
                names.extend(more)
                close = close or can_close
        return list(dict.fromkeys(names)), close


class Tracker:
    """The state of a trace, frame by frame (see the module docstring)."""

    def __init__(self, program: ProgramInfo) -> None:
        self.program = program
        self.stack: list[Scope] = []
        self.frames = 0
        self.ended = False  # the entry point returned
        self.previous: Frame | None = None  # the last frame
        self.reference: dict[str, str] | None = None  # what `".."` refers to in the next line frame

    # -- reading frames ---------------------------------------------------------------------
    def feed(self, frame: Frame) -> None:
        program = self.program
        event = frame.event
        if event == "call":
            sites = program.call_sites(frame.source, first=self.frames == 0)
            if self.frames == 0 and program.entry is not None:
                sites = [s for s in sites if s[0] is program.entry] or sites
            if not sites:
                codes = program.callables or program.codes
                scope = Scope(codes, frozenset(program.numbers(frame.source)), True, True)
            else:
                keys = tuple(frame.locals or {})
                fitting = [s for s in sites if not (s[1] and not s[2]) or s[0].params == keys]
                sites = fitting or sites
                numbers = set(program.numbers(frame.source))
                scope = Scope(
                    [s[0] for s in sites],
                    frozenset(n for s in sites for n in s[0].call_lines & numbers),
                    any(s[1] for s in sites),
                    any(s[2] for s in sites),
                )
            scope.keys = tuple(frame.locals or {})
            self.stack.append(scope)
            self.reference = dict(frame.locals or {})
        elif event == "line":
            if self.stack:
                scope = self.stack[-1]
                expected = self._line_candidates(scope) or frozenset()
                numbers = set(program.numbers(frame.source)) & self._code_lines(scope)
                scope.lines = frozenset(numbers & expected or numbers)
                scope.entered = True
                scope.raised = False
                scope.keys = tuple(frame.locals or {})
            self.reference = dict(frame.locals or {})
        elif event == "exception":
            if self.stack:
                scope = self.stack[-1]
                numbers = set(program.numbers(frame.source)) & self._code_lines(scope)
                if numbers and not numbers & scope.lines:
                    scope.lines = frozenset(numbers)
                elif numbers:
                    scope.lines = frozenset(numbers & scope.lines)
                scope.entered = True
                scope.raised = True
        else:  # return
            if self.stack:
                self.stack.pop()
            if not self.stack and self.frames:
                self.ended = True
            self.reference = None
        self.frames += 1
        self.previous = frame

    # -- what may come next -------------------------------------------------------------------
    def events(self) -> list[str]:
        """The events the next frame may have ("end": the trace ends)."""
        if self.frames == 0:
            return ["call"]
        if self.ended or not self.stack:
            return ["end"]
        scope = self.stack[-1]
        known = scope.entered and bool(scope.lines)  # where the scope is
        events = []
        if self.program.implicit_calls or not known or any(scope.lines & info.calls for info in scope.codes):
            if scope.entered or scope.resumed:  # a first entry starts with a line event
                events.append("call")
        if self._line_candidates(scope) != frozenset():  # none after a `return` statement
            events.append("line")
        if scope.raised or not known or any(scope.lines & info.returns for info in scope.codes):
            if scope.entered or scope.resumed:
                events.append("return")
        return events + ["exception", "end"]

    def actions(self, event: str) -> list[str]:
        """The source lines (action texts) the next frame may have, for its event."""
        program = self.program
        if event == "call":
            if self.frames == 0 and program.entry is not None:
                return [program.text(program.entry.entry_line)]
            lines: set[int] = set()
            for info in program.callables:
                lines |= info.call_lines
            return program.texts_of(lines) or program.texts_of(program.all_lines())
        if not self.stack:
            return program.texts_of(program.all_lines())
        scope = self.stack[-1]
        if event == "line":
            lines = set(self._line_candidates(scope) or ())
        elif scope.entered:
            lines = set(scope.lines)
        else:  # a return or an exception straight after the call (stepping over a call)
            lines = set(scope.call_lines)
            if scope.fresh:
                lines |= self._code_lines(scope)
        if not lines:
            lines = set(self._code_lines(scope)) or set(program.all_lines())
        return program.texts_of(lines)

    def call_key_rule(self) -> "KeyRules":
        """The rule for the keys of the next frame if it is a call: the parameters of any
        function of the program (its first entry), or any names of a generator (resumed)."""
        program = self.program
        if self.frames == 0 and program.entry is not None:
            return KeyRules((KeyRule(sequences=(program.entry.params,)),))
        codes = program.callables or program.codes
        rules = [KeyRule(sequences=tuple(dict.fromkeys(info.params for info in codes)))]
        rules += [KeyRule(order=info.order, any_order=True) for info in codes if info.generator]
        return KeyRules(tuple(rules))

    def call_actions(self, keys: list[str]) -> list[str]:
        """The action texts of a call frame whose keys are `keys`: the entry line of each
        function whose parameters they are, and the resume lines of each generator that
        has all these names."""
        program = self.program
        if self.frames == 0 and program.entry is not None:
            return [program.text(program.entry.entry_line)]
        lines: set[int] = set()
        names = set(keys)
        for info in program.callables:
            if tuple(keys) == info.params:
                lines.add(info.entry_line)
            if info.generator and names <= set(info.order):
                lines |= info.resume_lines
        return program.texts_of(lines) or self.actions("call")

    def key_rule(self) -> KeyRule:
        """The rule for the keys of the next frame if it is a line frame."""
        program = self.program
        if not self.stack:
            return KeyRule(order=_union_order(program.codes), any_order=True)
        scope = self.stack[-1]
        codes = scope.codes
        any_order = len(codes) != 1 or codes[0].kind != "function"
        return KeyRule(previous=scope.keys, order=_union_order(codes), any_order=any_order)

    def unchanged_allowed(self, event: str, name: str) -> bool:
        """Whether the value of `name` may be written `".."` in the next frame (the format's
        reference rule: a line frame, right after a call or line frame that has `name`)."""
        return event == "line" and self.reference is not None and name in self.reference

    # -- helpers --------------------------------------------------------------------------
    def _code_lines(self, scope: Scope) -> frozenset[int]:
        lines: frozenset[int] = frozenset()
        for info in scope.codes:
            lines |= info.lines
        return lines

    def _line_candidates(self, scope: Scope) -> frozenset[int] | None:
        """The lines the scope's next line event can be at: empty where none can follow (the
        current line only leaves the frame), None where the scope's place is unknown."""
        if scope.entered and not scope.lines:
            return None
        found: set[int] = set()
        for info in scope.codes:
            if not scope.entered:
                if scope.fresh and info.entry_line in scope.call_lines:
                    found |= info.entry_successors
                for line in scope.call_lines:
                    found |= info.resume_successors.get(line, frozenset())
                if not scope.call_lines:
                    found |= info.entry_successors
            else:
                for line in scope.lines:
                    found |= info.successors.get(line, frozenset())
        if not found and not scope.entered:
            return None
        return frozenset(found)


def _union_order(codes: list[CodeInfo]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for info in codes for n in info.order))
