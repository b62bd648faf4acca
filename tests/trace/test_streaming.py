"""A Recorder streams its steps to a sink in chunks. The sandbox's child reports a program cut
short by a limit from the limit's signal handler, which flushes too: a handler that ran in
the middle of a flush would resend the chunk being sent (or leave it half sent), and the
steps the worker hears would no longer be the ones the tracer signed."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from codewm.trace.tracer import Recorder, _ctracer, trace_in_process
from codewm.types import build_context

SOURCE = "def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
IMPLEMENTATIONS = [False] + ([True] if _ctracer is not None else [])


def _stream(use_c: bool, waits: bool) -> tuple[list, list]:
    """Trace f(40) in chunks of 8 steps; a signal arrives in the middle of the first chunk's
    sink, and its handler flushes, as the sandbox's limit handlers do (`waits`: first asking
    the recorder whether a flush is under way, as they do)."""
    chunks: list[list] = []

    def sink(steps: list) -> None:
        chunks.append(list(steps))
        if len(chunks) == 1:
            os.kill(os.getpid(), signal.SIGUSR1)  # its handler runs at the next bytecode
            chunks[-1] = list(chunks[-1])  # a few more bytecodes inside the sink

    def handler(*_):
        if not (waits and recorder.after_flush(recorder.flush)):
            recorder.flush()

    recorder = Recorder(sink=sink, flush_every=8, use_c=use_c)
    previous = signal.signal(signal.SIGUSR1, handler)
    # Another live thread, as a program may have: the kernel may hand it the signal (so
    # masking the signal on this thread would not hold it back); Python still runs the
    # handler here.
    idle = threading.Event()
    other = threading.Thread(target=idle.wait)
    other.start()
    try:
        trace_in_process(build_context(SOURCE, "f(40)"), recorder=recorder)
    finally:
        idle.set()
        other.join()
        signal.signal(signal.SIGUSR1, previous)
    recorder.flush()
    return [step for chunk in chunks for step in chunk], list(recorder.steps)


@pytest.mark.parametrize("use_c", IMPLEMENTATIONS)
def test_a_handler_that_flushes_during_a_flush_neither_repeats_nor_loses_steps(use_c):
    streamed, recorded = _stream(use_c, waits=True)
    assert len(recorded) > 16
    assert streamed == recorded


@pytest.mark.parametrize("use_c", IMPLEMENTATIONS)
def test_a_handler_that_does_not_wait_sends_the_chunk_twice(use_c):
    # The failure waiting prevents (this test shows the one above can fail).
    streamed, recorded = _stream(use_c, waits=False)
    assert len(streamed) > len(recorded)
