"""What the sandbox asks of Linux: prctl and unshare through libc, signals that tolerate a
process already gone, and where the worker's Python lives.

libc is loaded on first use, not at import, so that importing the sandbox's modules (the
host imports the wire protocol) loads nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNET = 0x40000000


@functools.cache
def libc():
    """The C library of this process, or None where ctypes cannot load it."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover
        return None


def prctl(option: int, arg: int) -> bool:
    """`prctl(option, arg)`; whether it succeeded."""
    lib = libc()
    return lib is not None and lib.prctl(option, arg, 0, 0, 0) == 0


def unshare_network() -> None:
    """Move this process into a new, empty network namespace, where it may (root); best
    effort: the caller's other limits hold either way."""
    lib = libc()
    if lib is not None:
        lib.unshare(CLONE_NEWNET)


def signal_process(pid: int, sig: int) -> None:
    """Send `sig` to `pid`, if it still exists and may be signalled."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def signal_group(pid: int, sig: int) -> None:
    """Send `sig` to the process group `pid` leads, if it still exists."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def python_dirs(package_root: str) -> list[str]:
    """The directories a worker needs to see: its Python and the codewm package.

    The host binds them into the sandbox read-only; the worker never wipes them."""
    found = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, package_root)}
    found.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(found)


def inside_bubblewrap() -> bool:
    """Whether this process runs in a PID namespace whose init is bubblewrap."""
    try:
        with open("/proc/1/comm") as handle:
            return handle.read().strip() == "bwrap"
    except OSError:
        return False
