"""The line on stderr that says the model is at work (`codewm debug`, the demo).

Drawn only on a terminal, so piped and scripted transcripts stay byte for byte what they
were; `CODEWM_NO_SPINNER=1` turns it off.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from typing import IO, Callable


class Spinner:
    """A line on stderr saying that the model is at work, for work that takes a while.

    Drawn only on a terminal (never into piped or scripted output, whose transcripts stay
    byte for byte what they were) and only once the work has taken `delay` seconds, so quick
    commands print nothing more. It redraws every `interval` seconds with `text()` (called on
    its own thread: it should only read), and is erased (`\r`, clear line) when the work ends,
    however it ends (Ctrl-C included), before anything else is printed.

        with Spinner(lambda: f"predicting: {len(session.steps)} frames so far"):
            session.cont()
    """

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"  # rich's "dots" spinner
    ASCII_FRAMES = "|/-\\"
    ERASE = "\r\x1b[2K"  # to the line's start, clear the line
    ASCII_TEXT = str.maketrans({"━": "=", "╸": "-", "·": "."})  # a progress bar's, on an ASCII terminal

    def __init__(
        self, text: Callable[[], str], stream: IO[str] | None = None, delay: float = 1.0, interval: float = 0.1, enabled: bool = True
    ) -> None:
        self.text = text
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.interval = interval
        # CODEWM_NO_SPINNER=1 turns it off (scripted terminal sessions, screen recordings)
        # `enabled=False`: the user asked for quiet (-q)
        self.enabled = enabled and _is_terminal(self.stream) and not os.environ.get("CODEWM_NO_SPINNER")
        self.frames = self.FRAMES if _can_encode(self.stream, self.FRAMES) else self.ASCII_FRAMES
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def __enter__(self) -> "Spinner":
        if self.enabled:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="codewm-spinner", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop drawing and erase the line (if it was drawn)."""
        if self._thread is None:
            return
        self._stop.set()
        with self._lock:  # the drawing thread checks the flag under this lock: nothing is drawn after
            if self._drawn:
                self._write(self.ERASE)
                self._drawn = False
        self._thread.join(timeout=1.0)
        self._thread = None

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return  # done within the delay: nothing shown
        turn = 0
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    text = self.text()
                except Exception:  # what it reads changed under it: draw the next time
                    text = None
                if text is not None:
                    width = max(shutil.get_terminal_size((80, 24)).columns - 1, 10)
                    line = f"{self.frames[turn % len(self.frames)]} {text}"
                    if self.frames is self.ASCII_FRAMES:
                        line = line.translate(self.ASCII_TEXT).encode("ascii", "replace").decode("ascii")
                    self._write(self.ERASE + line[:width])
                    self._drawn = True
            turn += 1
            if self._stop.wait(self.interval):
                return

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken terminal: the work goes on without
            pass


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False


def _can_encode(stream, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


__all__ = ["Spinner"]
