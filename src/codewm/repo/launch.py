"""The first process inside a workspace's sandbox: it confines itself, then becomes the
command (`codewm.repo.workspace` starts it through bubblewrap).

    python -s -B -c BOOTSTRAP LIMITS_JSON -- COMMAND ARG...

In order: resource limits (CPU, address space, file size, open files, no core files), an
unprivileged uid of its own when the host runs as root, the process limit for that uid,
no_new_privs and codewm's seccomp filter (`codewm.trace.seccomp`), then exec. Any step that
fails ends it with status 126 before the command runs: a command never runs half-confined.
"""

from __future__ import annotations

import json
import os
import resource
import sys

from codewm.trace import seccomp
from codewm.trace.system import PR_SET_NO_NEW_PRIVS, prctl

CONFINEMENT_FAILED = 126
NOT_FOUND = 127


def confine(limits: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"],) * 2)
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    uid = limits.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        nproc = limits["processes"]
    else:
        # The caller's own uid (in bubblewrap's user namespace): bwrap and this launcher count.
        nproc = limits["processes"] + _tasks_of_uid()
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if not prctl(PR_SET_NO_NEW_PRIVS, 1):
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS) failed")
    if limits.get("seccomp"):
        seccomp.install(seccomp.native_filter())


def _tasks_of_uid() -> int:
    uid, count = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as handle:
                    fields = dict(line.split(":", 1) for line in handle if ":" in line)
            except OSError:
                continue
            if int(fields.get("Uid", "-1").split()[0]) == uid:
                count += int(fields.get("Threads", "1"))
    return count


def main() -> None:
    limits = json.loads(sys.argv[1])
    command = sys.argv[3:]  # sys.argv[2] is "--"
    try:
        confine(limits)
    except Exception as exc:  # noqa: BLE001 - any failure means: do not run the command
        sys.stderr.write(f"codewm workspace: confining the command failed: {type(exc).__name__}: {exc}\n")
        os._exit(CONFINEMENT_FAILED)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write(f"codewm workspace: cannot run {command[0]!r}: {exc.strerror}\n")
        os._exit(NOT_FOUND)
