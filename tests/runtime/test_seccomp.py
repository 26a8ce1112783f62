"""Docker's default seccomp profile in real containers (runtime.seccomp).

The syscall probes run the host's python3 in the container: the busybox rootfs gets the host's /usr bound
read-only (with Debian's merged /lib -> usr/lib links), so ctypes can issue raw syscalls from inside.
"""
from __future__ import annotations

import errno
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import seccomp
from runtime.spec import DOCKER_DEFAULT_CAPABILITIES, BindMount
from tests.runtime.conftest import Runner, build_busybox_rootfs
from tests.support.images import busybox_tarball, import_busybox

pytestmark = pytest.mark.privileged

HOST_PYTHON = "/usr/bin/python3"
CAP_SYS_ADMIN = 21

# Each probe prints "name errno" (0 when the call worked); x86_64 numbers, the only arch this suite runs on.
PROBE = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def probe(name, *args):
    result = libc.syscall(*[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    print(name, 0 if result >= 0 else ctypes.get_errno())
probe("add_key", 248, b"user", b"pybuild-probe", b"secret", 6, -2)  # KEY_SPEC_PROCESS_KEYRING
probe("keyctl", 250, 0, -2, 0, 0, 0)  # KEYCTL_GET_KEYRING_ID of the process keyring
probe("unshare_user", 272, 0x10000000)
probe("personality_query", 135, 0xFFFFFFFF)
probe("personality_no_randomize", 135, 0x0040000)
probe("socket_vsock", 41, 40, 1, 0)
probe("socket_inet", 41, 2, 1, 0)
probe("clone3", 435, 0, 0)
probe("fchmodat2", 452, -100, b"/tmp", 0o1777, 0)
probe("userfaultfd", 323, 0)
pid = os.fork()
if pid == 0:
    os._exit(7)
print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.fixture(scope="module")
def host_python_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.path.exists("/bin/busybox") or not os.path.exists(HOST_PYTHON):
        pytest.skip("busybox-static and python3 are needed (tests/apt-packages.txt)")
    root = build_busybox_rootfs(tmp_path_factory.mktemp("seccomp") / "rootfs")
    shutil.rmtree(root / "usr")
    (root / "usr").mkdir()
    for name in ("lib", "lib64"):
        (root / name).symlink_to(f"usr/{name}")
    return root


def _probe(runner: Runner, **spec_fields: object) -> dict[str, int]:
    result = runner.argv((HOST_PYTHON, "-I", "-c", PROBE), mounts=(BindMount("/usr", "/usr", read_only=True),),
                         **spec_fields)
    assert result.status.ok, result.stderr
    return {name: int(code) for name, code in (line.split() for line in result.stdout.splitlines())}


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the probe uses x86_64 syscall numbers")
def test_default_profile_blocks_what_docker_blocks(host_python_rootfs: Path, state_root: str) -> None:
    runner = Runner(host_python_rootfs, state_root)
    confined = _probe(runner)
    assert confined["add_key"] == errno.EPERM and confined["keyctl"] == errno.EPERM
    assert confined["unshare_user"] == errno.EPERM
    assert confined["userfaultfd"] == errno.EPERM
    assert confined["socket_vsock"] == errno.EPERM and confined["socket_inet"] == 0
    assert confined["personality_query"] == 0 and confined["personality_no_randomize"] == errno.EPERM
    # ENOSYS, not EPERM: glibc then falls back to clone and fchmodat, as under runc
    assert confined["clone3"] == errno.ENOSYS
    assert confined["fchmodat2"] == errno.ENOSYS
    assert confined["fork"] == 7
    unconfined = _probe(runner, seccomp=False)
    # the same calls get past the kernel's own checks without the filter: the filter is what stopped them
    assert unconfined["add_key"] == 0 and unconfined["keyctl"] == 0
    assert unconfined["personality_no_randomize"] == 0
    assert unconfined["clone3"] != errno.ENOSYS


def test_status_shows_a_filter_without_no_new_privs(runner: Runner) -> None:
    for user in ("root", "app"):
        result = runner("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status", user=user)
        assert result.status.ok, result.stderr
        # NoNewPrivs 0: setuid programs (su, sudo) still gain their privileges, as under Docker
        assert result.stdout.split() == ["NoNewPrivs:", "0", "Seccomp:", "2"], user


def test_unshare_needs_cap_sys_admin_as_in_docker(runner: Runner) -> None:
    denied = runner("unshare -U true && unshare -m true")
    assert denied.status.code != 0 and "Operation not permitted" in denied.stderr
    # --cap-add SYS_ADMIN lifts the clone/unshare/mount rules of the profile
    allowed = runner("unshare -m true && echo ok", capabilities=DOCKER_DEFAULT_CAPABILITIES | {CAP_SYS_ADMIN})
    assert allowed.status.ok and allowed.stdout == "ok\n", allowed.stderr


def test_unconfined_spec_has_no_filter(runner: Runner) -> None:
    result = runner("grep '^Seccomp:' /proc/self/status", seccomp=False)
    assert result.stdout.split() == ["Seccomp:", "0"]


def test_capabilities_change_the_program() -> None:
    default = seccomp.compile_default_profile(DOCKER_DEFAULT_CAPABILITIES)
    assert len(default) % 8 == 0 and default == seccomp.compile_default_profile(DOCKER_DEFAULT_CAPABILITIES)
    assert seccomp.compile_default_profile(DOCKER_DEFAULT_CAPABILITIES | {CAP_SYS_ADMIN}) != default


def test_missing_libseccomp_fails_closed_unless_opted_out(tmp_path: Path) -> None:
    # A fresh interpreter whose loader finds no libseccomp: the error names the opt-out.
    script = (
        "import ctypes, sys\n"
        "real = ctypes.CDLL.__init__\n"
        "def refuse(self, name, *a, **k):\n"
        "    if name and 'seccomp' in str(name): raise OSError(name + ': cannot open shared object file')\n"
        "    real(self, name, *a, **k)\n"
        "ctypes.CDLL.__init__ = refuse\n"
        "from runtime import seccomp\n"
        "from runtime.errors import ContainerStartError\n"
        "try:\n"
        "    seccomp.program_for(True, frozenset())\n"
        "except ContainerStartError as error:\n"
        "    print(error)\n"
        "print(seccomp.program_for(True, frozenset()) if len(sys.argv) > 1 else 'closed')\n"
    )
    root = Path(__file__).resolve().parents[2]
    environment = {key: value for key, value in os.environ.items() if key != seccomp.OPT_OUT_VARIABLE}
    closed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root,
                            env=environment)
    assert "cannot load libseccomp" in closed.stdout and "PYBUILD_SECCOMP=unconfined" in closed.stdout, closed
    opted_out = subprocess.run([sys.executable, "-c", script, "again"], capture_output=True, text=True, cwd=root,
                               env={**environment, seccomp.OPT_OUT_VARIABLE: seccomp.OPT_OUT_VALUE})
    assert opted_out.stdout.splitlines()[-1] == "None", opted_out



def test_pybuild_run_gets_the_profile_and_the_opt_out_lifts_it(tmp_path_factory: pytest.TempPathFactory) -> None:
    store = tmp_path_factory.mktemp("store")
    import_busybox(store, busybox_tarball(tmp_path_factory.mktemp("tarball")))
    command = [sys.executable, "-m", "builder.cli", "--root", str(store), "run", "--network", "none",
               "busybox:local", "grep", "^Seccomp:", "/proc/self/status"]
    root = Path(__file__).resolve().parents[2]
    environment = {key: value for key, value in os.environ.items() if key != seccomp.OPT_OUT_VARIABLE}
    confined = subprocess.run(command, capture_output=True, text=True, cwd=root, env=environment, timeout=60)
    assert confined.stdout.split() == ["Seccomp:", "2"], confined.stderr
    opted_out = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=60,
                               env={**environment, seccomp.OPT_OUT_VARIABLE: seccomp.OPT_OUT_VALUE})
    assert opted_out.stdout.split() == ["Seccomp:", "0"], opted_out.stderr


def test_compiled_programs_are_kept_on_disk_for_later_processes(tmp_path: Path) -> None:
    program = seccomp.program_for(True, DOCKER_DEFAULT_CAPABILITIES, str(tmp_path))
    [stored] = list(tmp_path.iterdir())
    assert stored.suffix == ".bpf" and stored.read_bytes() == program
    # A later process reads the file instead of compiling (~20 ms): give it different bytes to find.
    stand_in = struct.pack("HBBI", 0x06, 0, 0, 0x7FFF0000)  # BPF_RET ALLOW
    stored.write_bytes(stand_in)
    script = ("import sys\nfrom runtime import seccomp\nfrom runtime.spec import DOCKER_DEFAULT_CAPABILITIES\n"
              "print(seccomp.program_for(True, DOCKER_DEFAULT_CAPABILITIES, sys.argv[1]).hex())\n")
    later = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[2])
    assert later.stdout.strip() == stand_in.hex(), later.stderr
    assert seccomp.program_for(True, DOCKER_DEFAULT_CAPABILITIES | {CAP_SYS_ADMIN}, str(tmp_path)) != program
    assert len(list(tmp_path.iterdir())) == 2


def test_threads_compiling_the_same_program_at_once_share_one_cached_copy(tmp_path: Path) -> None:
    # parallel stages of one build: each thread's first container compiles and caches the same program
    import threading

    seccomp._cached_on_disk.cache_clear()
    results: list[bytes] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def compile_once() -> None:
        try:
            start.wait()
            results.append(seccomp._cached_on_disk(DOCKER_DEFAULT_CAPABILITIES, str(tmp_path)))
        except BaseException as error:  # noqa: B036 - reported below
            errors.append(error)

    threads = [threading.Thread(target=compile_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1
    assert [path.suffix for path in tmp_path.iterdir()] == [".bpf"], "no temporary file left behind"
