"""Preparing a plan's cases in helper processes: generate, compile and hash them in parallel.

Generating a synthetic program and compiling it (to hash it and to ship the compiled code to
the sandbox) cost about as much as tracing it, so on a build's driver alone they would cap
the whole build. For sources with random access (`codewm.programs.base.is_indexable`) the
driver instead hands out index ranges to a few helper processes and reads their results back
in order, a couple of ranges ahead; the plan is exactly the one the driver would make alone.

The helpers are plain `python -c` processes speaking pickle over their stdin/stdout (not
`multiprocessing`, whose spawn mode re-runs the caller's main script and whose fork mode is
unsafe in the threaded driver). Only codewm's own trusted code runs in them: the programs
are compiled, never executed.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import traceback
from collections import deque
from typing import Iterator

from codewm.programs.base import ProgramCase, make_source

CHUNK = 200  # cases per range handed to a helper
AHEAD = 2  # ranges queued per helper beyond the one it works on


def prepare(case: ProgramCase) -> tuple:
    """What the plan needs of a case that costs CPU: (case, digest, compiled context for
    the sandbox or None, call key); see `codewm.dataset.plan.prepare_program`."""
    from codewm.dataset.plan import prepare_program

    return (case, *prepare_program(case.source, case.call))


def _package_root() -> str:
    import codewm

    return os.path.dirname(os.path.dirname(os.path.abspath(codewm.__file__)))


class PreparePool:
    """`processes` helper processes that prepare index ranges of sources, in order."""

    def __init__(self, processes: int) -> None:
        bootstrap = f"import sys; sys.path.insert(0, {_package_root()!r}); from codewm.dataset.prepare import serve; serve()"
        self.helpers = [
            subprocess.Popen([sys.executable, "-c", bootstrap], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            for _ in range(processes)
        ]

    def prepared(self, kind: str, options: dict, count: int) -> Iterator[tuple]:
        """`prepare(source.case(i))` for i in range(count), in order, where source is
        `make_source(kind, **options)`."""
        ranges = [(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
        waiting: deque = deque()  # (helper, range), in the order results are read
        handed = 0

        def hand_out() -> None:
            # Round robin: each helper answers its ranges in the order it got them.
            nonlocal handed
            if handed < len(ranges):
                helper = self.helpers[handed % len(self.helpers)]
                pickle.dump((kind, options, *ranges[handed]), helper.stdin)
                helper.stdin.flush()
                waiting.append((helper, ranges[handed]))
                handed += 1

        for _ in range((AHEAD + 1) * len(self.helpers)):
            hand_out()
        while waiting:
            helper, (start, stop) = waiting.popleft()
            try:
                outcome, payload = pickle.load(helper.stdout)
            except (EOFError, pickle.UnpicklingError) as exc:
                raise RuntimeError(f"a helper preparing cases {start}..{stop} of source {kind!r} died ({exc!r})") from None
            if outcome == "error":
                raise RuntimeError(f"preparing cases {start}..{stop} of source {kind!r} failed:\n{payload}")
            hand_out()
            yield from payload

    def close(self) -> None:
        for helper in self.helpers:
            try:
                helper.stdin.close()
            except OSError:
                pass
            helper.kill()
            helper.wait()
            helper.stdout.close()


def serve() -> None:
    """A helper's loop: read (kind, options, start, stop), answer ("ok", prepared cases) or
    ("error", traceback), until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sources: dict = {}
    while True:
        try:
            kind, options, start, stop = pickle.load(stdin)
        except EOFError:
            return
        try:
            key = (kind, repr(sorted(options.items())))
            if key not in sources:
                sources[key] = make_source(kind, **options)
            answer = ("ok", [prepare(sources[key].case(index)) for index in range(start, stop)])
        except Exception:  # reported to the driver, which stops the build with it
            answer = ("error", traceback.format_exc())
        pickle.dump(answer, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()
