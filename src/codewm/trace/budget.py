"""How a program's memory limit is shared out, so that it holds for everything the program
does together, not for one process alone.

A limit on one process's address space (RLIMIT_AS) counts neither the files a program writes
into a memory-backed file system (tmpfs) nor its other processes. So the sandbox splits
`memory_bytes` into:

- storage: every writable tmpfs the program can reach under bubblewrap, each with a fixed
  size (`storage_sizes`; the program's working directory lives in /tmp); and
- processes: the rest, divided equally among the `processes` the program may run at once
  (`process_memory_bytes`); each gets that much address space.

The storage sizes are fixed when a worker starts (a tmpfs cannot grow later without
privileges), from the sandbox's own limits; a run with other limits must still fit them.
"""

from __future__ import annotations

# The private, writable tmpfs mounts of a bubblewrap sandbox: largest size and share of the
# memory limit. /tmp holds the program's working directory (file_size_bytes caps each file,
# this caps them all); /dev/shm holds multiprocessing's locks and shared memory; /var/tmp is
# only there so that nothing of the host's shows through.
STORAGE = {
    "/tmp": (64 << 20, 8),  # at most 64 MiB, and an eighth of memory_bytes
    "/dev/shm": (16 << 20, 8),
    "/var/tmp": (1 << 20, 64),
}
MIN_TMPFS_BYTES = 1 << 20
MIN_PROCESS_BYTES = 48 << 20  # a forked Python child already maps about 30 MiB


def storage_sizes(memory_bytes: int) -> dict[str, int]:
    """The size of each writable tmpfs of a sandbox whose memory limit is `memory_bytes`."""
    return {path: max(MIN_TMPFS_BYTES, min(largest, memory_bytes // share)) for path, (largest, share) in STORAGE.items()}


def storage_bytes(memory_bytes: int) -> int:
    return sum(storage_sizes(memory_bytes).values())


def process_memory_bytes(memory_bytes: int, processes: int, storage: int) -> int:
    """The address space each of `processes` processes gets when `storage` bytes of the
    limit go to tmpfs. Raises ValueError when that is too little to run Python."""
    share = (memory_bytes - storage) // processes
    if share < MIN_PROCESS_BYTES:
        raise ValueError(
            f"memory_bytes={memory_bytes} leaves {max(share, 0) >> 20} MiB to each of {processes} processes once "
            f"{storage >> 20} MiB of writable storage is set aside (at least {MIN_PROCESS_BYTES >> 20} MiB needed): "
            "raise memory_bytes or lower processes"
        )
    return share


def task_limit(processes: int, threads: int) -> int:
    """The most processes and threads a program may have at once (RLIMIT_NPROC and a cgroup's
    pids.max count both): `processes` where it may start processes, so that no more address
    spaces exist than the memory limit was divided among; else (the seccomp filter then
    refuses new processes) `threads`."""
    return processes if processes > 1 else threads
