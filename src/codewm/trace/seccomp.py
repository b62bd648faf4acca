"""The system calls a sandboxed program may not make: a seccomp filter, in classic BPF.

Modelled on the intent of Docker's default profile, narrowed to what a traced program needs.
Denied calls fail with EPERM (clone3 with ENOSYS, so that libc falls back to clone, whose
flags a filter can read), so a program sees an ordinary error, never a kill:

- new namespaces (`unshare`, `setns`, `clone` with a CLONE_NEW* flag): a user namespace
  would give the program every capability inside it;
- mounts (`mount`, `umount2`, `pivot_root`, `chroot`, the fsopen/open_tree family);
- the kernel's less-trodden surfaces: keyrings, `ptrace` and cross-process memory access,
  `bpf`, `perf_event_open`, `userfaultfd`, io_uring, module and kexec loading,
  `open_by_handle_at`, clocks, swap, reboot, quotas, `syslog`, fanotify;
- memory the process's address-space limit does not count: `memfd_create` and System V
  shared memory and message queues (their pages outlive every mapping of them);
- sockets of families other than AF_UNIX, AF_INET and AF_INET6 (netlink, vsock, packet...);
  the network namespace has no interface but loopback anyway;
- with `allow_processes=False`, every new process (`fork`, `vfork`, `clone` without
  CLONE_THREAD): the program may still start threads.

A call made through another ABI than the native one (the 32-bit `int 0x80` entry on x86-64,
or x32 numbers) would bypass the numbers below: those kill the process.

The filter is installed by the sandbox's child on itself, after no_new_privs, and every
process the program starts inherits it.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import platform
import struct

from codewm.trace.system import PR_SET_NO_NEW_PRIVS, libc, prctl

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000

# classic BPF opcodes
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_NR_OFFSET = 0
_ARCH_OFFSET = 4
_ARG0_LOW_OFFSET = 16  # the low 32 bits of args[0] (both architectures are little-endian)

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
ALLOWED_SOCKET_FAMILIES = (AF_UNIX, AF_INET, AF_INET6)
CLONE_THREAD = 0x00010000
CLONE_NEW_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)
_X32_SYSCALL_BIT = 0x40000000

# The denied calls (EPERM) by name, and the numbers of each architecture (from the kernel's
# unistd headers: x86-64's own table, and the generic one arm64 uses).
DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "keyctl", "add_key", "request_key", "ptrace",
    "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "open_by_handle_at", "name_to_handle_at", "reboot", "swapon", "swapoff", "acct",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "quotactl", "quotactl_fd",
    "lookup_dcookie", "vhangup", "fanotify_init", "nfsservctl", "memfd_create", "shmget", "msgget",
    # x86-64 only
    "iopl", "ioperm", "uselib", "ustat", "sysfs", "_sysctl",
)


class Arch:
    def __init__(self, audit_arch: int, numbers: dict[str, int], x32: bool) -> None:
        self.audit_arch = audit_arch
        self.numbers = numbers
        self.x32 = x32  # whether numbers with the x32 bit reach this arch's table


ARCHES = {
    "x86_64": Arch(0xC000003E, dict(
        shmget=29, socket=41, socketpair=53, clone=56, fork=57, vfork=58, msgget=68, ptrace=101, syslog=103,
        uselib=134, ustat=136, sysfs=139, vhangup=153, pivot_root=155, _sysctl=156, adjtimex=159, chroot=161,
        acct=163, settimeofday=164, mount=165, umount2=166, swapon=167, swapoff=168, reboot=169, iopl=172,
        ioperm=173, init_module=175, delete_module=176, quotactl=179, nfsservctl=180, lookup_dcookie=212,
        clock_settime=227, kexec_load=246, add_key=248, request_key=249, keyctl=250, unshare=272,
        perf_event_open=298, fanotify_init=300, name_to_handle_at=303, open_by_handle_at=304, clock_adjtime=305,
        setns=308, process_vm_readv=310, process_vm_writev=311, finit_module=313, memfd_create=319,
        kexec_file_load=320, bpf=321, userfaultfd=323, io_uring_setup=425, io_uring_enter=426,
        io_uring_register=427, open_tree=428, move_mount=429, fsopen=430, fsconfig=431, fsmount=432, fspick=433,
        clone3=435, mount_setattr=442, quotactl_fd=443,
    ), x32=True),
    "aarch64": Arch(0xC00000B7, dict(
        lookup_dcookie=18, umount2=39, mount=40, pivot_root=41, nfsservctl=42, chroot=51, vhangup=58, quotactl=60,
        acct=89, unshare=97, kexec_load=104, init_module=105, delete_module=106, clock_settime=112, syslog=116,
        ptrace=117, reboot=142, settimeofday=170, adjtimex=171, msgget=186, shmget=194, socket=198,
        socketpair=199, add_key=217, request_key=218, keyctl=219, clone=220, swapon=224, swapoff=225,
        perf_event_open=241, fanotify_init=262, name_to_handle_at=264, open_by_handle_at=265, clock_adjtime=266,
        setns=268, process_vm_readv=270, process_vm_writev=271, finit_module=273, memfd_create=279, bpf=280,
        userfaultfd=282, kexec_file_load=294, io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
        open_tree=428, move_mount=429, fsopen=430, fsconfig=431, fsmount=432, fspick=433, clone3=435,
        mount_setattr=442, quotactl_fd=443,
    ), x32=False),
}


def native_arch() -> Arch | None:
    """This machine's architecture, or None where codewm has no filter for it."""
    return ARCHES.get(platform.machine())


def supported() -> bool:
    return native_arch() is not None


def _errno(code: int) -> int:
    return RET_ERRNO | code


def build_filter(arch: Arch, allow_processes: bool) -> bytes:
    """The filter as an array of `struct sock_filter` (8 bytes each), for `arch`."""
    program: list[tuple[int, int | str, int | str, int]] = []  # (code, jt, jf, k); jt/jf may be labels
    labels: dict[str, int] = {}

    def op(code: int, k: int = 0, jt: int | str = 0, jf: int | str = 0) -> None:
        program.append((code, jt, jf, k))

    def label(name: str) -> None:
        labels[name] = len(program)

    numbers = arch.numbers
    op(_LD_W_ABS, _ARCH_OFFSET)
    op(_JEQ_K, arch.audit_arch, jt=0, jf="kill")
    op(_LD_W_ABS, _NR_OFFSET)
    if arch.x32:
        op(_JGE_K, _X32_SYSCALL_BIT, jt="kill", jf=0)
    for name in DENIED:
        if name in numbers:
            op(_JEQ_K, numbers[name], jt="eperm", jf=0)
    op(_JEQ_K, numbers["clone3"], jt="enosys", jf=0)
    op(_JEQ_K, numbers["clone"], jt="clone", jf=0)
    op(_JEQ_K, numbers["socket"], jt="socket", jf=0)
    op(_JEQ_K, numbers["socketpair"], jt="socket", jf=0)
    if not allow_processes:
        for name in ("fork", "vfork"):
            if name in numbers:
                op(_JEQ_K, numbers[name], jt="eperm", jf=0)
    op(_RET_K, RET_ALLOW)
    label("clone")  # clone(flags, ...): no new namespace; no new process unless allowed
    op(_LD_W_ABS, _ARG0_LOW_OFFSET)
    op(_JSET_K, CLONE_NEW_FLAGS, jt="eperm", jf=0)
    if not allow_processes:
        op(_JSET_K, CLONE_THREAD, jt="allow", jf="eperm")
    op(_RET_K, RET_ALLOW)
    label("socket")  # socket(family, ...) and socketpair(family, ...)
    op(_LD_W_ABS, _ARG0_LOW_OFFSET)
    for family in ALLOWED_SOCKET_FAMILIES:
        op(_JEQ_K, family, jt="allow", jf=0)
    label("eperm")
    op(_RET_K, _errno(errno.EPERM))
    label("enosys")
    op(_RET_K, _errno(errno.ENOSYS))
    label("allow")
    op(_RET_K, RET_ALLOW)
    label("kill")
    op(_RET_K, RET_KILL_PROCESS)

    encoded = bytearray()
    for index, (code, jt, jf, k) in enumerate(program):
        offsets = []
        for target in (jt, jf):
            # Jumps are relative to the next instruction and only go forward (at most 255).
            offset = labels[target] - index - 1 if isinstance(target, str) else target
            if not 0 <= offset <= 255:
                raise ValueError(f"seccomp filter: jump of {offset} at instruction {index}")
            offsets.append(offset)
        encoded += struct.pack("=HBBI", code, offsets[0], offsets[1], k)
    return bytes(encoded)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


@functools.cache
def native_filter(allow_processes: bool) -> bytes:
    """The filter for this machine (built once: the worker builds both before it forks
    children, which then install them at no cost)."""
    arch = native_arch()
    if arch is None:
        raise RuntimeError(f"no seccomp filter for the architecture {platform.machine()!r}")
    return build_filter(arch, allow_processes)


def install(allow_processes: bool) -> None:
    """Install the filter on this process (and so on everything it starts). Raises OSError if
    the kernel refuses it, RuntimeError where the architecture has no filter."""
    code = native_filter(allow_processes)
    lib = libc()
    if lib is None:
        raise RuntimeError("the C library cannot be loaded to install the seccomp filter")
    buffer = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    # A filter needs no_new_privs (or CAP_SYS_ADMIN): set it here too, it is idempotent.
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if lib.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"installing the seccomp filter failed: {errno.errorcode.get(err, err)}")
