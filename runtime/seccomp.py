"""Docker's default seccomp profile, compiled with libseccomp once per capability set and loaded before execve.

The rules are moby's ``profiles/seccomp/default.json`` (the profile docker run and BuildKit's RUN get):
syscalls outside an allowlist fail with EPERM; some are allowed only with particular arguments (clone
without namespace flags, personality with a few values, socket except AF_VSOCK) or only when the
container keeps a capability (mount/unshare/setns with CAP_SYS_ADMIN, chroot with CAP_SYS_CHROOT, ...).
As runc does, names this libseccomp or architecture does not know are skipped, and syscalls newer
than every one the profile names fail with ENOSYS instead of EPERM, so a libc probing a new syscall
(glibc's fchmodat2, clone3) falls back to the old one.

pybuild compiles the filter with libseccomp (through ctypes: ``libseccomp.so.2`` comes with apt on
every Debian system) and exports it as a classic BPF program; the container's main process loads
those bytes with one ``seccomp()`` call just before it drops capabilities. No ``no_new_privs``: Docker
does not set it, so setuid programs such as ``su`` keep working in a RUN. Loading a filter without it
needs CAP_SYS_ADMIN, which the main process still has at that point.

``PYBUILD_SECCOMP=unconfined`` runs every container without the filter (docker's
``--security-opt seccomp=unconfined``), e.g. on a host without libseccomp; without that opt-out a
missing libseccomp is an error (fail closed).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import platform
import threading
from dataclasses import dataclass

from runtime.errors import ContainerStartError

OPT_OUT_VARIABLE = "PYBUILD_SECCOMP"
OPT_OUT_VALUE = "unconfined"

# libseccomp's action and comparison encodings (seccomp.h)
_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_CMP_NE, _CMP_EQ, _CMP_MASKED_EQ = 1, 4, 7
_FILTER_ATTR_OPTIMIZE, _OPTIMIZE_BINARY_TREE = 8, 2  # SCMP_FLTATR_CTL_OPTIMIZE (libseccomp 2.5+)
_NR_SCMP_ERROR = -1

# the kernel's
_SECCOMP_SET_MODE_FILTER = 1
_SYSCALL_NUMBERS = {"x86_64": 317, "i386": 354, "i686": 354, "aarch64": 277, "armv7l": 383, "riscv64": 277,
                    "s390x": 348, "ppc64le": 358, "mips64": 5312}
_ENOSYS_SPAN = 64  # how many syscall numbers past the profile's newest get ENOSYS
_SOCK_FILTER_SIZE = 8  # struct sock_filter: u16 code, u8 jt, u8 jf, u32 k
_SECCOMP_SYSCALL = _SYSCALL_NUMBERS.get(platform.machine())  # looked up now: load() runs after pivot_root
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

CAP_DAC_READ_SEARCH, CAP_SYS_CHROOT, CAP_SYS_MODULE, CAP_SYS_RAWIO = 2, 18, 16, 17
CAP_SYS_PTRACE, CAP_SYS_PACCT, CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_NICE = 19, 20, 21, 22, 23
CAP_SYS_TIME, CAP_SYS_TTY_CONFIG, CAP_SYSLOG, CAP_PERFMON, CAP_BPF = 25, 26, 34, 38, 39

# clone() flags that create namespaces: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
_NAMESPACE_CLONE_FLAGS = 0x7E020000
_AF_VSOCK = 40

ALWAYS_ALLOWED = """
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32
getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register
io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal
pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink
readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send
sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink
symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask
uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write
writev
process_vm_readv process_vm_writev ptrace
""".split()  # the last line: moby allows them from kernel 4.8 on (older ones let ptrace bypass seccomp)


@dataclass(frozen=True, slots=True)
class ArgumentCheck:
    """``args[index] <op> value``; for MASKED_EQ, ``args[index] & value == second``."""

    index: int
    op: int
    value: int
    second: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    """Syscalls given ``action`` when every condition holds; arches use Go's names, as moby's profile does."""

    names: tuple[str, ...]
    action: int = _ACT_ALLOW
    args: tuple[ArgumentCheck, ...] = ()
    with_capability: int | None = None  # only when the container keeps this capability
    without_capability: int | None = None  # only when it does not
    arches: tuple[str, ...] = ()  # only on these native architectures
    not_arches: tuple[str, ...] = ()

    def applies(self, capabilities: frozenset[int], arch: str) -> bool:
        return ((self.with_capability is None or self.with_capability in capabilities)
                and (self.without_capability is None or self.without_capability not in capabilities)
                and (not self.arches or arch in self.arches)
                and arch not in self.not_arches)


def _personality(value: int) -> Rule:
    return Rule(("personality",), args=(ArgumentCheck(0, _CMP_EQ, value),))


CONDITIONAL_RULES: tuple[Rule, ...] = (
    Rule(("socket",), args=(ArgumentCheck(0, _CMP_NE, _AF_VSOCK),)),
    # PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and the 0xffffffff query
    *(_personality(value) for value in (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)),
    Rule(("sync_file_range2", "swapcontext"), arches=("ppc64le",)),
    Rule(("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"),
         arches=("arm", "arm64")),
    Rule(("arch_prctl",), arches=("amd64", "x32")),
    Rule(("modify_ldt",), arches=("amd64", "x32", "x86")),
    Rule(("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"), arches=("s390", "s390x")),
    Rule(("riscv_flush_icache",), arches=("riscv64",)),
    Rule(("open_by_handle_at",), with_capability=CAP_DAC_READ_SEARCH),
    Rule(("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
          "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
          "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare"),
         with_capability=CAP_SYS_ADMIN),
    Rule(("clone",), args=(ArgumentCheck(0, _CMP_MASKED_EQ, _NAMESPACE_CLONE_FLAGS, 0),),
         without_capability=CAP_SYS_ADMIN, not_arches=("s390", "s390x")),
    Rule(("clone",), args=(ArgumentCheck(1, _CMP_MASKED_EQ, _NAMESPACE_CLONE_FLAGS, 0),),  # s390's argument order
         without_capability=CAP_SYS_ADMIN, arches=("s390", "s390x")),
    # clone3's flags sit in a struct seccomp cannot read: ENOSYS makes glibc fall back to clone
    Rule(("clone3",), action=_ACT_ERRNO | errno.ENOSYS, without_capability=CAP_SYS_ADMIN),
    Rule(("reboot",), with_capability=CAP_SYS_BOOT),
    Rule(("chroot",), with_capability=CAP_SYS_CHROOT),
    Rule(("delete_module", "init_module", "finit_module"), with_capability=CAP_SYS_MODULE),
    Rule(("acct",), with_capability=CAP_SYS_PACCT),
    Rule(("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
         with_capability=CAP_SYS_PTRACE),
    Rule(("iopl", "ioperm"), with_capability=CAP_SYS_RAWIO),
    Rule(("settimeofday", "stime", "clock_settime", "clock_settime64"), with_capability=CAP_SYS_TIME),
    Rule(("vhangup",), with_capability=CAP_SYS_TTY_CONFIG),
    Rule(("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"), with_capability=CAP_SYS_NICE),
    Rule(("syslog",), with_capability=CAP_SYSLOG),
    Rule(("bpf",), with_capability=CAP_BPF),
    Rule(("perf_event_open",), with_capability=CAP_PERFMON),
)

# libseccomp's native architecture name -> (Go's name used by the profile's "arches", the sub-architectures
# Docker adds to the filter so 32-bit and x32 programs are filtered by syscall name too)
ARCHITECTURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "x86_64": ("amd64", ("x86", "x32")),
    "x86": ("386", ()),
    "aarch64": ("arm64", ("arm",)),
    "arm": ("arm", ()),
    "mips64": ("mips64", ("mips", "mips64n32")),
    "mips64n32": ("mips64", ("mips", "mips64")),
    "mipsel64": ("mips64le", ("mipsel", "mipsel64n32")),
    "mipsel64n32": ("mips64le", ("mipsel", "mipsel64")),
    "s390x": ("s390x", ("s390",)),
    "ppc64le": ("ppc64le", ()),
    "riscv64": ("riscv64", ()),
}


class _ArgumentCompare(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _library() -> ctypes.CDLL:
    try:
        library = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as error:
        raise ContainerStartError(
            f"cannot load libseccomp ({error}): containers get Docker's default seccomp profile from it; "
            f"install libseccomp2, or set {OPT_OUT_VARIABLE}={OPT_OUT_VALUE} to run them without one") from None
    library.seccomp_init.restype = ctypes.c_void_p
    library.seccomp_init.argtypes = (ctypes.c_uint32,)
    library.seccomp_release.argtypes = (ctypes.c_void_p,)
    library.seccomp_arch_native.restype = ctypes.c_uint32
    library.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    library.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
    library.seccomp_arch_add.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
    library.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
    library.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    library.seccomp_rule_add_array.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgumentCompare))
    library.seccomp_export_bpf.argtypes = (ctypes.c_void_p, ctypes.c_int)
    library.seccomp_version.restype = ctypes.c_void_p
    return library


def _native_architecture(library: ctypes.CDLL) -> str:
    native = library.seccomp_arch_native()
    for name in ARCHITECTURES:
        if library.seccomp_arch_resolve_name(name.encode()) == native:
            return name
    raise ContainerStartError(f"no seccomp profile for this architecture (libseccomp token {native:#x})")


def _check(result: int, what: str) -> None:
    if result < 0:
        raise ContainerStartError(f"building the seccomp filter: {what}: {os.strerror(-result)}")


def _add(library: ctypes.CDLL, context: int, action: int, syscall: int, args: tuple[ArgumentCheck, ...],
         what: str) -> None:
    array = (_ArgumentCompare * max(len(args), 1))(*(_ArgumentCompare(a.index, a.op, a.value, a.second) for a in args))
    _check(library.seccomp_rule_add_array(context, action, syscall, len(args), array), what)


def _syscall_number(library: ctypes.CDLL, name: str) -> int | None:
    """libseccomp's number for ``name`` (negative pseudo numbers name syscalls of sub-architectures only)."""
    number = library.seccomp_syscall_resolve_name(name.encode())
    return None if number == _NR_SCMP_ERROR else number


@functools.lru_cache(maxsize=8)
def compile_default_profile(capabilities: frozenset[int]) -> bytes:
    """The default profile for a container keeping ``capabilities``, as a classic BPF program."""
    return _compile(_library(), capabilities)


def _compile(library: ctypes.CDLL, capabilities: frozenset[int]) -> bytes:
    arch = _native_architecture(library)
    go_arch, sub_arches = ARCHITECTURES[arch]
    context = library.seccomp_init(_ACT_ERRNO | errno.EPERM)
    if not context:
        raise ContainerStartError("building the seccomp filter: seccomp_init failed")
    try:
        # A binary tree of syscall numbers instead of libseccomp's default linear list: the kernel runs
        # the filter over every syscall number when it loads it (to cache the always-allowed ones);
        # measured, loading takes ~1.0 ms instead of ~2.0 ms in each container's main process.
        _check(library.seccomp_attr_set(context, _FILTER_ATTR_OPTIMIZE, _OPTIMIZE_BINARY_TREE), "optimize")
        for sub_arch in sub_arches:
            _check(library.seccomp_arch_add(context, library.seccomp_arch_resolve_name(sub_arch.encode())),
                   f"adding architecture {sub_arch}")
        unconditional = set(ALWAYS_ALLOWED)
        native_numbers = []
        for name in ALWAYS_ALLOWED:
            number = _syscall_number(library, name)
            if number is not None:
                _add(library, context, _ACT_ALLOW, number, (), name)
                native_numbers.append(number)
        for rule in CONDITIONAL_RULES:
            if not rule.applies(capabilities, go_arch):
                continue
            for name in rule.names:
                number = _syscall_number(library, name)
                if number is None or (name in unconditional and not rule.args):
                    continue  # unknown here, or already allowed whatever its arguments
                _add(library, context, rule.action, number, rule.args, name)
                native_numbers.append(number)
                if not rule.args and rule.action == _ACT_ALLOW:
                    unconditional.add(name)
        _fail_newer_syscalls_with_enosys(library, context, max(native_numbers))
        return _export(library, context)
    finally:
        library.seccomp_release(context)


def _fail_newer_syscalls_with_enosys(library: ctypes.CDLL, context: int, newest: int) -> None:
    """runc's rule: a syscall newer than all the profile names is ENOSYS, so libcs fall back to older ones
    (glibc 2.39+ tries fchmodat2 and falls back to fchmodat on ENOSYS only)."""
    for number in range(newest + 1, newest + 1 + _ENOSYS_SPAN):
        # libseccomp refuses a number its tables lack (on any architecture of the filter), and every
        # refusal costs a transaction rollback (~1 ms): stop at the end of its table, the rest stays EPERM
        if library.seccomp_rule_add_array(context, _ACT_ERRNO | errno.ENOSYS, number, 0, None) < 0:
            return


def _export(library: ctypes.CDLL, context: int) -> bytes:
    descriptor = os.memfd_create("pybuild-seccomp", os.MFD_CLOEXEC)
    try:
        _check(library.seccomp_export_bpf(context, descriptor), "seccomp_export_bpf")
        program = os.pread(descriptor, os.fstat(descriptor).st_size, 0)
    finally:
        os.close(descriptor)
    if not program or len(program) % _SOCK_FILTER_SIZE:
        raise ContainerStartError(f"building the seccomp filter: libseccomp exported {len(program)} bytes")
    return program


def program_for(enabled: bool, capabilities: frozenset[int], cache_dir: str | None = None) -> bytes | None:
    """The BPF program a container's main process loads, or None when it runs unconfined.

    Compiling takes ~20 ms of CPU, so each program is kept in memory and, with ``cache_dir``, on disk
    (keyed by the rules, the capabilities, libseccomp's version and the architecture): later pybuild
    processes read it back.
    """
    if not enabled or os.environ.get(OPT_OUT_VARIABLE) == OPT_OUT_VALUE:
        return None
    if _SECCOMP_SYSCALL is None:
        raise ContainerStartError(f"no seccomp() syscall number known for {platform.machine()}; "
                                  f"set {OPT_OUT_VARIABLE}={OPT_OUT_VALUE} to run containers without a filter")
    if cache_dir is None:
        return compile_default_profile(capabilities)
    return _cached_on_disk(capabilities, cache_dir)


@functools.lru_cache(maxsize=8)
def _cached_on_disk(capabilities: frozenset[int], cache_dir: str) -> bytes:
    library = _library()
    version = ctypes.cast(library.seccomp_version(), ctypes.POINTER(ctypes.c_uint * 3)).contents
    key = hashlib.sha256(repr((tuple(version), library.seccomp_arch_native(), sorted(capabilities),
                               ALWAYS_ALLOWED, CONDITIONAL_RULES, _ENOSYS_SPAN)).encode()).hexdigest()
    path = os.path.join(cache_dir, f"{key}.bpf")
    try:
        with open(path, "rb") as handle:
            program = handle.read()
        if program and len(program) % _SOCK_FILTER_SIZE == 0:
            return program
    except FileNotFoundError:
        pass
    program = _compile(library, capabilities)
    # Parallel stages of one build and concurrent builds may both get here: each writes its own
    # temporary file (pid and thread in the name); the renames leave one whole copy of the same bytes.
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(program)
        os.replace(temporary, path)
    except OSError:  # only a cache: the next container compiles again
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return program


def load(program: bytes) -> None:
    """Install ``program`` on the calling thread; needs CAP_SYS_ADMIN (no_new_privs is left unset)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // _SOCK_FILTER_SIZE, ctypes.addressof(buffer))
    if _libc.syscall(ctypes.c_long(_SECCOMP_SYSCALL), ctypes.c_long(_SECCOMP_SET_MODE_FILTER), ctypes.c_long(0),
                     ctypes.byref(fprog)) != 0:
        error = ctypes.get_errno()
        raise ContainerStartError(f"loading the seccomp filter: {os.strerror(error)} (errno {error})")

