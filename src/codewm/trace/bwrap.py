"""bubblewrap command lines: the read-only view of the host a sandbox gets, shared by the
tracer's workers (`codewm.trace.sandbox`) and by anything else codewm runs in bubblewrap (a
project's test suite, `codewm.repo.workspace`).
"""

from __future__ import annotations

import os
import secrets
import shutil

# The host's system folders, bound read-only (or recreated as the same symlink).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def system_binds() -> list[str]:
    """bwrap arguments that show the host's system folders read-only."""
    binds: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.lexists(path):
            if os.path.islink(path):
                binds += ["--symlink", os.readlink(path), path]
            else:
                binds += ["--ro-bind", path, path]
    return binds


def readonly_binds(paths: list[str], made: set[str]) -> list[str]:
    """bwrap arguments that bind `paths` (folders outside the system ones: a Python, a
    package) read-only. `made` holds folders that already exist in the sandbox; the ones
    created here are added to it.

    bwrap would create a missing parent (e.g. /root) with mode 0700, which an unprivileged
    uid could not cross: each is created world-traversable first."""
    binds: list[str] = []
    for path in paths:
        if any(path == top or path.startswith(top + "/") for top in SYSTEM_DIRS):
            continue
        parent = os.path.dirname(path)
        ancestors = []
        while parent not in ("/", "") and parent not in made:
            ancestors.append(parent)
            parent = os.path.dirname(parent)
        for ancestor in reversed(ancestors):
            binds += ["--perms", "0755", "--dir", ancestor]
            made.add(ancestor)
        binds += ["--ro-bind", path, path]
    return binds


def fresh_uid() -> int:
    """A fresh unprivileged uid for one sandbox's programs (used when codewm runs as root).

    The process limit (RLIMIT_NPROC) counts every process of a uid on the machine, so each
    sandbox gets a uid of its own: a fork bomb in one cannot starve the others.
    """
    return secrets.randbelow(1 << 30) + (1 << 30)
