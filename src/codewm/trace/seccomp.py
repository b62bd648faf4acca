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
- with the small filter stacked on it (`build_no_processes_filter`), every new process
  (`fork`, `vfork`, `clone` without CLONE_THREAD): the program may still start threads.

A call made through another ABI than the native one (the 32-bit `int 0x80` entry on x86-64,
or x32 numbers) would bypass the numbers below: those kill the process.

The worker installs the filter on itself once, before it forks any child, so every child
and everything a program starts inherits it (installing a filter in each child cost a few
milliseconds a child, most of it when the child exits). A child whose program may not start
processes stacks the second, small filter on it.
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


class _Assembler:
    """Classic BPF with symbolic forward jumps: `op(code, k, jt, jf)`, where a jump target is
    an offset or a label's name, then `label(name)`; `encode()` resolves them."""

    def __init__(self) -> None:
        self.program: list[tuple[int, int | str, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, k: int = 0, jt: int | str = 0, jf: int | str = 0) -> None:
        self.program.append((code, jt, jf, k))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.program)

    def check_arch(self, arch: Arch) -> None:
        """Kill a call made through another ABI, then load the call's number."""
        self.op(_LD_W_ABS, _ARCH_OFFSET)
        self.op(_JEQ_K, arch.audit_arch, jt=0, jf="kill")
        self.op(_LD_W_ABS, _NR_OFFSET)
        if arch.x32:
            self.op(_JGE_K, _X32_SYSCALL_BIT, jt="kill", jf=0)

    def returns(self) -> None:
        """The shared ends every jump goes to."""
        for name, value in (("eperm", _errno(errno.EPERM)), ("enosys", _errno(errno.ENOSYS)), ("allow", RET_ALLOW), ("kill", RET_KILL_PROCESS)):
            self.label(name)
            self.op(_RET_K, value)

    def encode(self) -> bytes:
        encoded = bytearray()
        for index, (code, jt, jf, k) in enumerate(self.program):
            offsets = []
            for target in (jt, jf):
                # Jumps are relative to the next instruction and only go forward (at most 255).
                offset = self.labels[target] - index - 1 if isinstance(target, str) else target
                if not 0 <= offset <= 255:
                    raise ValueError(f"seccomp filter: jump of {offset} at instruction {index}")
                offsets.append(offset)
            encoded += struct.pack("=HBBI", code, offsets[0], offsets[1], k)
        return bytes(encoded)


def build_filter(arch: Arch) -> bytes:
    """The whole filter as an array of `struct sock_filter` (8 bytes each), for `arch`."""
    bpf = _Assembler()
    numbers = arch.numbers
    bpf.check_arch(arch)
    for name in DENIED:
        if name in numbers:
            bpf.op(_JEQ_K, numbers[name], jt="eperm")
    bpf.op(_JEQ_K, numbers["clone3"], jt="enosys")
    bpf.op(_JEQ_K, numbers["clone"], jt="clone")
    bpf.op(_JEQ_K, numbers["socket"], jt="socket")
    bpf.op(_JEQ_K, numbers["socketpair"], jt="socket")
    bpf.op(_RET_K, RET_ALLOW)
    bpf.label("clone")  # clone(flags, ...): no new namespace
    bpf.op(_LD_W_ABS, _ARG0_LOW_OFFSET)
    bpf.op(_JSET_K, CLONE_NEW_FLAGS, jt="eperm")
    bpf.op(_RET_K, RET_ALLOW)
    bpf.label("socket")  # socket(family, ...) and socketpair(family, ...)
    bpf.op(_LD_W_ABS, _ARG0_LOW_OFFSET)
    for family in ALLOWED_SOCKET_FAMILIES:
        bpf.op(_JEQ_K, family, jt="allow")
    bpf.returns()  # another family falls through to the first of them: EPERM
    return bpf.encode()


def build_no_processes_filter(arch: Arch) -> bytes:
    """A small filter stacked on the whole one (the kernel applies the stricter answer):
    no new process; threads (clone with CLONE_THREAD) are fine."""
    bpf = _Assembler()
    numbers = arch.numbers
    bpf.check_arch(arch)
    for name in ("fork", "vfork"):
        if name in numbers:
            bpf.op(_JEQ_K, numbers[name], jt="eperm")
    bpf.op(_JEQ_K, numbers["clone"], jt=0, jf="allow")
    bpf.op(_LD_W_ABS, _ARG0_LOW_OFFSET)
    bpf.op(_JSET_K, CLONE_THREAD, jt="allow", jf="eperm")
    bpf.returns()
    return bpf.encode()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


@functools.cache
def native_filter() -> bytes:
    """The whole filter for this machine (built once)."""
    return build_filter(_native())


@functools.cache
def native_no_processes_filter() -> bytes:
    return build_no_processes_filter(_native())


def _native() -> Arch:
    arch = native_arch()
    if arch is None:
        raise RuntimeError(f"no seccomp filter for the architecture {platform.machine()!r}")
    return arch


def install(code: bytes) -> None:
    """Install a filter (`native_filter()`, `native_no_processes_filter()`) on this process,
    and so on everything it starts. Raises OSError if the kernel refuses it."""
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
