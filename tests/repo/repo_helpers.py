"""Helpers of the workspace tests (imported by name: a module name no other test folder
uses): the fixture projects, and a look at the host's process table (what a sandboxed run
may have left running)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codewm.trace.sandbox import probe_bwrap

DATA = Path(__file__).resolve().parents[1] / "data" / "repo"
BWRAP_USABLE, BWRAP_WHY = probe_bwrap()
needs_bwrap = pytest.mark.skipif(not BWRAP_USABLE, reason=f"needs bubblewrap: {BWRAP_WHY}")


def host_processes_with(argument: str) -> list[int]:
    """Pids of the host's processes whose command line holds `argument`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if argument.encode() in handle.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def tree_snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry under root: (mode, mtime in ns, content or link target)."""
    snapshot = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if os.path.islink(path):
                content = os.readlink(path).encode()
            elif os.path.isfile(path):
                content = Path(path).read_bytes()
            else:
                content = b""
            snapshot[os.path.relpath(path, root)] = (info.st_mode, info.st_mtime_ns, content)
    return snapshot


def write_suite(root: Path, tests: str) -> Path:
    """A one-file project: `tests` as tests/test_it.py."""
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_it.py").write_text(tests)
    return root
