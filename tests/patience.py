"""Hang guards for tests that do not fail a correct program on a slow machine.

A guard against a hang must not be a measure of speed. Every guard in the tests is either
generous and scaled by `CODEWM_TEST_TIMEOUT_SCALE` (`patience(s)`: s seconds on an ordinary
machine; set the variable to 4 on a loaded one, where everything may take four times as
long), or based on progress (`run_watched`: a command fails only when it writes nothing at
all for a long time, however long it runs in all).

Importable from every test module as `patience` (pytest puts tests/, the folder of the root
conftest.py, on sys.path).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Sequence


def _scale() -> float:
    raw = os.environ.get("CODEWM_TEST_TIMEOUT_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"CODEWM_TEST_TIMEOUT_SCALE must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"CODEWM_TEST_TIMEOUT_SCALE must be positive, got {raw!r}")
    return value


SCALE = _scale()


def patience(seconds: float) -> float:
    """`seconds`, scaled for this machine (CODEWM_TEST_TIMEOUT_SCALE)."""
    return seconds * SCALE


class Silent(AssertionError):
    """A watched command wrote nothing for longer than its quiet limit: it is taken as hung."""


def run_watched(command: Sequence[str], *, quiet: float = 600, **kw) -> subprocess.CompletedProcess:
    """`subprocess.run(command, capture_output=True, text=True, **kw)`, guarded by progress:
    the command is killed (and `Silent` raised, with what it wrote) only when it writes
    nothing on stdout or stderr for `patience(quiet)` seconds. A slow but working command,
    which keeps printing its progress, runs as long as it needs."""
    limit = patience(quiet)
    # bytes, read as they come: a progress bar redrawn with "\r" is progress too
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out: list[bytes] = []
    err: list[bytes] = []
    last = [time.monotonic()]

    def pump(stream, into: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read1(4096), b""):
            into.append(chunk)
            last[0] = time.monotonic()

    def text(chunks: list[bytes]) -> str:
        return b"".join(chunks).decode("utf-8", errors="replace")

    readers = [threading.Thread(target=pump, args=(process.stdout, out), daemon=True),
               threading.Thread(target=pump, args=(process.stderr, err), daemon=True)]
    for reader in readers:
        reader.start()
    while process.poll() is None:
        if time.monotonic() - last[0] > limit:
            process.kill()
            process.wait()
            raise Silent(f"{command[:6]} wrote nothing for {limit:g} s; killed.\nstdout:\n{text(out)[-2000:]}\nstderr:\n{text(err)[-2000:]}")
        time.sleep(0.2)
    for reader in readers:
        reader.join()
    return subprocess.CompletedProcess(process.args, process.returncode, text(out), text(err))
