"""Read programs with calls from JSONL files in the benchmarks' formats (.jsonl or .jsonl.gz).

One JSON object per line; blank lines are skipped. A bad row stops the read with a
ValueError that names the file and line (`path:LINE: what is wrong`).

- `CruxEvalFile` (origin "cruxeval"): rows `code` (defines `f`), `input` (the call's
  argument text, sometimes with keyword arguments such as `nums=[1], k=2`, or names defined
  in `code`), optional `output` (kept in meta) and `id`. The call is `f(<input>)`.
- `LiveCodeBenchFile` (origin "livecodebench"), the execution scenario: rows
  `question_id, id, function_name, code, input, output, ...` where `input` is the whole call,
  e.g. `performOperation(s = "hi")`. The program is `code`, preceded by the imports it needs
  (see `_LCB_IMPORTS`). When `code` defines `function_name` at top level, the call is `input`
  as written. When it is a method of `class Solution` instead (LeetCode style), the call
  becomes `Solution().<input>`: no wrapper function is added, so the trace shows the
  method's own frames under `main`.
- `CallsFile` (origin "jsonl"): codewm's plain rows `code`, `call` (the whole call text,
  e.g. `g(1, 2)`), optional `id`.

`read_call_rows` is the older, format-sniffing reader the CLI uses (`codewm trace -i`).
"""

from __future__ import annotations

import ast
import builtins
import gzip
import json
from pathlib import Path
from typing import Iterator

from codewm.programs.base import ProgramCase


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a .jsonl or .jsonl.gz file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        yield from enumerate(handle, start=1)


def read_json_rows(path: Path) -> Iterator[tuple[str, dict]]:
    """(where, row) per non-blank line; `where` is `path:LINE`."""
    for number, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        yield where, _parse_row(where, line)


def _parse_row(where: str, line: str) -> dict:
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(row, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


def read_call_rows(path: str | Path) -> list[tuple[str, str, str]]:
    """(label, source, call) per row of a CRUXEval-style or codewm file; ValueError naming file:line on bad rows."""
    path = Path(path)
    rows = []
    for where, row in read_json_rows(path):
        code = row.get("code")
        if not isinstance(code, str):
            raise ValueError(f"{where}: missing string field 'code'")
        if isinstance(row.get("call"), str):
            call = row["call"]
        elif isinstance(row.get("input"), str):
            call = f"f({row['input']})"
        else:
            raise ValueError(f"{where}: needs 'input' (CRUXEval) or 'call' (codewm), as a string")
        label = str(row.get("id", f"{path.name}:{where.rpartition(':')[2]}"))
        rows.append((label, code, call))
    return rows


# -- helpers shared by the sources ---------------------------------------------------------


def _field(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{where}: missing string field {key!r}")
    return value


def _parse_code(code: str, where: str) -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError as exc:
        raise ValueError(f"{where}: 'code' is not valid Python (line {exc.lineno}: {exc.msg})") from None


def _parse_call(call: str, where: str, what: str) -> ast.Call:
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"{where}: {what} is not a valid call ({exc.msg}): {call!r}") from None
    if not isinstance(node, ast.Call):
        raise ValueError(f"{where}: {what} is not a call: {call!r}")
    return node


def _row_id(row: dict, path: Path, where: str) -> str:
    value = row.get("id")
    if value is None:
        return f"{path.name}:{where.rpartition(':')[2]}"
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"{where}: 'id' must be a string or an int, got {type(value).__name__}")
    return str(value)


def _json_scalars(row: dict, keys: tuple[str, ...]) -> dict:
    return {key: row[key] for key in keys if isinstance(row.get(key), (str, int, float, bool))}


def _check_limit(limit: int | None) -> int | None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
    return limit


class _FileSource:
    """A JSONL file read row by row; subclasses turn a row into a case."""

    name = ""

    def __init__(self, path: str | Path, limit: int | None = None) -> None:
        self.path = Path(path)
        self.limit = _check_limit(limit)
        # A compressed file is read front to back only; a plain one also by row number.
        self.sequential = self.path.name.endswith(".gz")
        self._row_offsets: list[tuple[int, int]] | None = None

    def cases(self) -> Iterator[ProgramCase]:
        if self.limit == 0:
            return
        count = 0
        for where, row in read_json_rows(self.path):
            yield self._case(where, row)
            count += 1
            if self.limit is not None and count >= self.limit:
                return

    # -- random access (plain files): the builder then reads rows in several processes --------
    def _offsets(self) -> list[tuple[int, int]]:
        """(line number, byte offset) of every row (non-blank line) within the limit."""
        if self._row_offsets is None:
            if self.sequential:
                raise TypeError(f"{self.path}: a compressed file has no random access")
            offsets = []
            with open(self.path, "rb") as handle:
                at = 0
                for number, line in enumerate(handle, start=1):
                    if line.strip() and (self.limit is None or len(offsets) < self.limit):
                        offsets.append((number, at))
                    at += len(line)
            self._row_offsets = offsets
        return self._row_offsets

    def __len__(self) -> int:
        return len(self._offsets())

    def case(self, index: int) -> ProgramCase:
        """The index-th case of `cases()`."""
        number, offset = self._offsets()[index]
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            line = handle.readline().decode("utf-8")
        where = f"{self.path}:{number}"
        return self._case(where, _parse_row(where, line))

    def _case(self, where: str, row: dict) -> ProgramCase:
        raise NotImplementedError


class CruxEvalFile(_FileSource):
    """CRUXEval rows (`code`, `input`, `output`, `id`): the call is `f(<input>)`.

    limit: yield at most this many rows (in file order); None: all.
    """

    name = "cruxeval"

    def _case(self, where: str, row: dict) -> ProgramCase:
        code = _field(row, "code", where)
        argument_text = _field(row, "input", where)
        _parse_code(code, where)
        call = f"f({argument_text})"
        _parse_call(call, where, "f(<input>)")
        if "output" in row and not isinstance(row["output"], str):
            raise ValueError(f"{where}: 'output' must be a string (the literal text of the value)")
        meta = _json_scalars(row, ("input", "output"))
        return ProgramCase(code, call, origin=self.name, id=_row_id(row, self.path, where), meta=meta)


# Names the LiveCodeBench execution scenario's code may use without importing them: its
# scorer prepends a fixed header of standard-library imports (lcb_runner BASE_IMPORTS; the
# numpy/pandas lines are left out). Only the lines for names the code actually uses and does
# not define are prepended, so the trace context stays short.
_LCB_FROM: dict[str, tuple[str, ...]] = {
    "typing": ("List", "Tuple", "Dict", "Set", "Optional", "Union", "Any", "Callable", "Iterable", "Iterator", "Generator"),
    "collections": ("defaultdict", "deque", "Counter", "OrderedDict"),
    "itertools": ("accumulate", "chain", "combinations", "count", "permutations", "product", "groupby", "islice", "repeat", "zip_longest", "cycle"),
    "math": ("floor", "log2", "log10", "sqrt", "comb", "gcd", "ceil", "inf", "isqrt", "log", "prod"),
    "bisect": ("bisect", "bisect_left", "bisect_right", "insort"),
    "heapq": ("heappush", "heappop", "heapify", "merge"),
    "functools": ("reduce", "cache", "lru_cache", "partial"),
    "copy": ("deepcopy",),
    "string": ("ascii_lowercase",),
    "random": ("randrange", "shuffle"),
    "operator": ("itemgetter", "sub", "iand"),
}
_LCB_MODULES = ("copy", "string", "math", "collections", "bisect", "heapq", "functools", "random", "itertools", "operator", "re", "sys")
# `bisect` names both a module and a function of it; LCB's header imports the module last,
# so the bare name is the module (the update below does the same).
_LCB_IMPORTS: dict[str, str] = {name: f"from {module} import {name}" for module, names in _LCB_FROM.items() for name in names}
_LCB_IMPORTS.update({module: f"import {module}" for module in _LCB_MODULES})
_LCB_IMPORTS.update({"re_search": "from re import search as re_search", "commonprefix": "from os.path import commonprefix"})


def _free_names(tree: ast.Module) -> set[str]:
    """Names the code reads but never binds anywhere (nor are builtins): an approximation that
    errs towards importing nothing when a name is both bound and read."""
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


def lcb_imports(tree: ast.Module) -> list[str]:
    """The import lines (sorted) that LiveCodeBench's header would supply to this code."""
    return sorted({_LCB_IMPORTS[name] for name in _free_names(tree) if name in _LCB_IMPORTS})


class LiveCodeBenchFile(_FileSource):
    """LiveCodeBench execution-scenario rows: `code`, `function_name`, `input` (the whole call).

    Plain functions are called as written; a method of `class Solution` as
    `Solution().<input>`. The imports the code relies on from LiveCodeBench's scorer header
    are prepended to the program.

    limit: yield at most this many rows (in file order); None: all.
    """

    name = "livecodebench"

    def _case(self, where: str, row: dict) -> ProgramCase:
        code = _field(row, "code", where)
        call = _field(row, "input", where).strip()
        tree = _parse_code(code, where)
        node = _parse_call(call, where, "'input'")
        if not isinstance(node.func, ast.Name):
            raise ValueError(f"{where}: 'input' must call a function by name, e.g. name(x = 1): {call!r}")
        function_name = row.get("function_name", node.func.id)
        if not isinstance(function_name, str):
            raise ValueError(f"{where}: 'function_name' must be a string")
        if node.func.id != function_name:
            raise ValueError(f"{where}: 'input' calls {node.func.id!r}, but 'function_name' is {function_name!r}")
        top_level = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        methods = {
            m.name
            for n in tree.body
            if isinstance(n, ast.ClassDef) and n.name == "Solution"
            for m in n.body
            if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        if function_name in top_level:
            kind = "function"
        elif function_name in methods:
            kind = "method"
            call = f"Solution().{call}"
        else:
            raise ValueError(f"{where}: 'code' defines no function {function_name!r} (at top level or in class Solution)")
        imports = lcb_imports(tree)
        source = "\n".join(imports) + "\n" + code if imports else code
        meta = _json_scalars(row, ("question_id", "function_name", "output", "difficulty", "contest_id", "contest_date", "problem_id", "numsteps"))
        meta["function_name"] = function_name
        meta["kind"] = kind
        return ProgramCase(source, call, origin=self.name, id=_row_id(row, self.path, where), meta=meta)


class CallsFile(_FileSource):
    """codewm's plain rows: `code`, `call` (the whole call text), optional `id`.

    The code is taken as it is, even when it does not parse: tracing it then ends with
    status syntax_error, which a dataset counts (the call must be a call, though).

    limit: yield at most this many rows (in file order); None: all.
    """

    name = "jsonl"

    def _case(self, where: str, row: dict) -> ProgramCase:
        code = _field(row, "code", where)
        call = _field(row, "call", where).strip()
        _parse_call(call, where, "'call'")
        return ProgramCase(code, call, origin=self.name, id=_row_id(row, self.path, where))
