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

import pickle
import queue
import subprocess
import sys
import threading
import traceback
from typing import Iterator

from codewm.dataset.fingerprint import prepare_program
from codewm.programs.base import ProgramCase, make_source
from codewm.trace.sandbox import package_root

CHUNK = 200  # cases per range handed to a helper
AHEAD = 3  # ranges queued per helper beyond the one it works on


def prepare(case: ProgramCase) -> tuple:
    """What the plan needs of a case that costs CPU: (case, digest, compiled context for
    the sandbox or None, call key); see `codewm.dataset.fingerprint.prepare_program`."""
    return (case, *prepare_program(case.source, case.call))


class PreparePool:
    """`processes` helper processes that prepare index ranges of sources, in order."""

    def __init__(self, processes: int) -> None:
        bootstrap = f"import sys; sys.path.insert(0, {package_root()!r}); from codewm.dataset.prepare import serve; serve()"
        self.helpers = [
            subprocess.Popen([sys.executable, "-c", bootstrap], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            for _ in range(processes)
        ]

    def prepared(self, kind: str, options: dict, count: int) -> Iterator[tuple]:
        """`prepare(source.case(i))` for i in range(count), in order, where source is
        `make_source(kind, **options)`."""
        ranges = [(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
        helpers = self.helpers
        # One reader thread per helper empties its pipe as soon as it answers, so that a
        # helper never waits for the driver (busy writing shards) to read its last range.
        answers = [queue.SimpleQueue() for _ in helpers]

        def read(helper, answered) -> None:
            while True:
                try:
                    answered.put(pickle.load(helper.stdout))
                except Exception as exc:  # EOF, or the pipe closed under us by close()
                    answered.put(("died", repr(exc)))
                    return

        readers = [threading.Thread(target=read, args=pair, daemon=True) for pair in zip(helpers, answers)]
        for reader in readers:
            reader.start()

        def hand_out(position: int) -> None:
            # Round robin: range i goes to helper i % n, which answers its ranges in order.
            if position < len(ranges):
                helper = helpers[position % len(helpers)]
                pickle.dump((kind, options, *ranges[position]), helper.stdin)
                helper.stdin.flush()

        for position in range((AHEAD + 1) * len(helpers)):
            hand_out(position)
        for position, (start, stop) in enumerate(ranges):
            outcome, payload = answers[position % len(helpers)].get()
            if outcome == "died":
                raise RuntimeError(f"a helper preparing cases {start}..{stop} of source {kind!r} died ({payload})")
            if outcome == "error":
                raise RuntimeError(f"preparing cases {start}..{stop} of source {kind!r} failed:\n{payload}")
            hand_out(position + (AHEAD + 1) * len(helpers))
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
