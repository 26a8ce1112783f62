"""End-to-end container behaviour on a busybox rootfs (privileged: root, namespaces)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from runtime.container import run
from runtime.errors import ContainerStartError, ProcessStartError
from runtime.spec import DOCKER_DEFAULT_CAPABILITIES, BindMount, ExitStatus, ProcessSpec, Stdio
from runtime.supervisor import ContainerControl

pytestmark = pytest.mark.privileged
DOCKER_CAP_MASK = sum(1 << cap for cap in DOCKER_DEFAULT_CAPABILITIES)


def _status_field(text: str, name: str) -> int:
    line = next(line for line in text.splitlines() if line.startswith(name + ":"))
    return int(line.split()[1], 16)


def test_the_users_process_is_pid_1_and_ps_shows_only_its_processes(runner) -> None:
    """As under docker/BuildKit: no init of ours in between (``RUN echo $$; ps`` prints 1, then sh and ps)."""
    result = runner("echo $$; ps -o pid,ppid,comm; true")
    lines = result.stdout.splitlines()
    assert result.status.code == 0
    assert lines[0] == "1"
    assert [line.split() for line in lines[2:]] == [["1", "0", "sh"], ["2", "1", "ps"]]


def test_sigterm_without_a_trap_does_not_end_pid_1(runner) -> None:
    """PID 1 gets no signal it has no handler for (docker: ``RUN kill -TERM $$; echo`` goes on)."""
    result = runner("kill -TERM $$; kill -TERM 1; kill -HUP 1; echo survived")
    assert result.status.code == 0
    assert result.stdout == "survived\n"


def test_host_files_outside_the_rootfs_are_invisible(runner, tmp_path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("x")
    result = runner(f"ls {tmp_path}; ls /work; cat {secret}")
    assert result.status.code != 0
    assert "host-secret" not in result.stdout


def test_network_none_has_only_loopback(runner) -> None:
    result = runner("ls /sys/class/net; ip -o link", network="none")
    assert result.stdout.split()[0] == "lo"
    assert [line.split(":")[1].strip() for line in result.stdout.splitlines()[1:]] == ["lo"]
    assert "UP" in result.stdout


def test_hostname_is_the_containers(runner) -> None:
    result = runner("hostname; cat /etc/hostname; grep sandbox /etc/hosts", hostname="sandbox")
    assert result.stdout.splitlines()[:2] == ["sandbox", "sandbox"]
    assert os.uname().nodename != "sandbox"


def test_root_gets_dockers_default_capabilities(runner) -> None:
    text = runner("cat /proc/self/status").stdout
    assert _status_field(text, "CapBnd") == DOCKER_CAP_MASK
    assert _status_field(text, "CapEff") == DOCKER_CAP_MASK
    assert _status_field(text, "CapInh") == 0
    assert _status_field(text, "CapAmb") == 0


def test_non_root_user_has_no_effective_capabilities(runner) -> None:
    text = runner("cat /proc/self/status", user="app").stdout
    assert _status_field(text, "CapEff") == 0
    assert _status_field(text, "CapBnd") == DOCKER_CAP_MASK


def test_proc_sysrq_trigger_and_proc_sys_are_not_writable(runner) -> None:
    result = runner("echo h > /proc/sysrq-trigger && echo wrote-sysrq; "
                    "echo 1 > /proc/sys/kernel/domainname && echo wrote-sys; "
                    "cat /proc/keys 2>/dev/null | wc -c; mount | grep ' /proc/sys '")
    assert "wrote-sysrq" not in result.stdout
    assert "wrote-sys" not in result.stdout
    assert "(ro," in result.stdout


def test_dev_has_the_standard_nodes_and_mounts(runner) -> None:
    result = runner("ls /dev; head -c 4 /dev/zero | wc -c; mount | grep -E ' /dev/(pts|shm|mqueue) | /sys '")
    for name in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm"):
        assert name in result.stdout.split()
    assert "sysfs on /sys type sysfs (ro" in result.stdout
    assert "devpts on /dev/pts" in result.stdout


@pytest.mark.parametrize(("user", "expected"), [
    ("app", "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra),2001(more)"),
    ("1000", "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra),2001(more)"),
    ("app:extra", "uid=1000(app) gid=2000(extra) groups=2000(extra)"),
    ("1000:2001", "uid=1000(app) gid=2001(more) groups=2001(more)"),
    ("4242", "uid=4242 gid=0(root) groups=0(root)"),
    ("daemon", "uid=1(daemon) gid=1(daemon) groups=1(daemon),2000(extra)"),
])
def test_user_switching(runner, user: str, expected: str) -> None:
    assert runner("id", user=user).stdout.strip() == expected


def test_unknown_user_name_is_an_error(runner) -> None:
    with pytest.raises(ContainerStartError, match="UserLookupError: unable to find user ghost"):
        runner("id", user="ghost")


@pytest.mark.parametrize("code", [0, 1, 3, 42, 255])
def test_exit_code_propagates(runner, code: int) -> None:
    assert runner(f"exit {code}").status.code == code


def test_pid_1_survives_even_its_own_sigkill(runner) -> None:
    """The kernel drops it from inside the namespace (docker: the same); a signal death of PID 1 from
    outside (the OOM killer) is 128+N: tests/runtime/test_cgroups.py::test_memory_limit_kills_the_hog."""
    result = runner("kill -KILL $$; echo survived; sh -c 'kill -KILL $$'; exit $?")
    assert result.stdout == "survived\n"
    assert result.status.code == 128 + signal.SIGKILL  # the child's death, as its shell reports it


def test_env_cwd_and_home(runner) -> None:
    result = runner('echo "$FOO|$PATH|$HOME"; pwd', env=(("FOO", "bar baz"),), cwd="/made/on/demand", user="app")
    lines = result.stdout.splitlines()
    assert lines[0] == "bar baz|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/home/app"
    assert lines[1] == "/made/on/demand"


def test_stdout_and_stderr_are_streamed_separately(runner) -> None:
    result = runner("echo out; echo err >&2")
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_missing_executable_is_a_start_error(runner) -> None:
    # runc's words, which docker run prints, and docker run's exit codes: 127 not found, 126 not executable
    with pytest.raises(ProcessStartError, match=r'exec: "/no/such/binary": stat /no/such/binary: no such file') as found:
        runner.argv(("/no/such/binary",))
    assert found.value.exit_code == 127
    with pytest.raises(ProcessStartError, match=r'exec: "no-such-binary": executable file not found in \$PATH'):
        runner.argv(("no-such-binary",))
    with pytest.raises(ProcessStartError, match=r'exec: "/etc": permission denied') as denied:
        runner.argv(("/etc",))
    assert denied.value.exit_code == 126


def test_no_host_file_descriptors_leak_into_the_container(runner, tmp_path) -> None:
    leaked = os.open(tmp_path / "leak", os.O_CREAT | os.O_RDWR)  # inheritable on purpose
    os.set_inheritable(leaked, True)
    try:
        result = runner("ls /proc/self/fd")
    finally:
        os.close(leaked)
    assert sorted(int(fd) for fd in result.stdout.split()) == [0, 1, 2, 3]  # 3: ls's own directory fd


def test_orphans_are_reparented_to_the_users_pid_1(runner) -> None:
    script = "sh -c 'sleep 5 & exit 0'; sleep 0.2; ps -o ppid,comm | grep sleep"  # 0.2: until sleep has exec'ed
    assert runner(script).stdout.split() == ["1", "sleep"]


def test_pid_1_with_a_trap_gets_the_signal(runner) -> None:
    script = "trap 'echo caught; exit 7' TERM; kill -TERM 1; sleep 5 & wait"
    result = runner(script)
    assert "caught" in result.stdout
    assert result.status.code == 7


def test_timeout_kills_the_whole_container(runner) -> None:
    """SIGTERM is ignored here, so SIGKILL follows once the grace period is over."""
    started = time.monotonic()
    result = runner("trap '' TERM; sleep 60 & sleep 60", timeout=0.5, stop_grace=0.5)
    assert result.status.timed_out
    assert result.status.code == 128 + signal.SIGKILL
    assert 1.0 <= time.monotonic() - started < 5


def test_timeout_sends_sigterm_first(runner) -> None:
    started = time.monotonic()
    result = runner("trap 'echo terminated; exit 9' TERM; sleep 60 & wait", timeout=0.5)
    assert result.status == ExitStatus(9, timed_out=True)
    assert result.stdout == "terminated\n"
    assert time.monotonic() - started < 5  # far below the 10 s default grace


def test_control_signals_a_running_container(runner) -> None:
    control = ContainerControl()
    assert not control.signal(signal.SIGTERM)  # nothing running yet

    def hang_up_once_started(stream: str, data: bytes) -> None:
        assert control.signal(signal.SIGHUP)

    status = run(ProcessSpec(("sh", "-c", "trap 'exit 4' HUP; echo ready; sleep 60 & wait")), runner.mounts(),
                 hang_up_once_started, state_root=runner.state_root, control=control)
    assert status.code == 4
    assert not control.signal(signal.SIGTERM)  # over


def test_control_sigterm_is_dropped_by_pid_1_without_a_handler(runner) -> None:
    """docker stop's first step: without a trap the command runs on (SIGKILL is what ends it)."""
    control = ContainerControl()
    chunks: list[bytes] = []

    def terminate_once_started(stream: str, data: bytes) -> None:
        chunks.append(data)
        if data.startswith(b"ready"):
            assert control.signal(signal.SIGTERM)

    status = run(ProcessSpec(("sh", "-c", "echo ready; sleep 0.5; echo survived")), runner.mounts(),
                 terminate_once_started, state_root=runner.state_root, control=control)
    assert status.code == 0
    assert b"".join(chunks) == b"ready\nsurvived\n"


def test_background_processes_die_with_the_main_process(runner) -> None:
    started = time.monotonic()
    result = runner("sleep 60 & echo started")
    assert result.stdout == "started\n"
    assert time.monotonic() - started < 5


def test_bind_mounts_read_only_and_read_write(runner, tmp_path) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "rw").mkdir()
    (tmp_path / "ro" / "file").write_text("data")
    mounts = (BindMount(str(tmp_path / "ro"), "/mnt/ro", read_only=True), BindMount(str(tmp_path / "rw"), "/mnt/rw"))
    result = runner("cat /mnt/ro/file; touch /mnt/ro/x || echo denied; echo hi > /mnt/rw/y", mounts=mounts)
    assert result.stdout.startswith("data")
    assert "denied" in result.stdout
    assert (tmp_path / "rw" / "y").read_text() == "hi\n"
    assert not (tmp_path / "ro" / "x").exists()


def test_mount_stubs_and_generated_files_stay_out_of_the_rootfs(runner, busybox_rootfs, tmp_path) -> None:
    etc = busybox_rootfs / "etc"
    before = sorted(os.listdir(etc)), etc.stat().st_mtime_ns
    (tmp_path / "data").mkdir()
    result = runner("cat /etc/resolv.conf >/dev/null && ls /mnt/data", mounts=(BindMount(str(tmp_path / "data"), "/mnt/data"),))
    assert result.status.code == 0
    assert (sorted(os.listdir(etc)), etc.stat().st_mtime_ns) == before
    assert not (busybox_rootfs / "mnt").exists()


def test_mount_stubs_are_removed_when_the_command_cannot_start(runner, busybox_rootfs, tmp_path) -> None:
    """The stubs exist once the rootfs is built; a later failure (no such user, no such program) removes them."""
    etc = busybox_rootfs / "etc"
    before = sorted(os.listdir(etc)), etc.stat().st_mtime_ns
    (tmp_path / "data").mkdir()
    mounts = (BindMount(str(tmp_path / "data"), "/mnt/data"),)
    with pytest.raises(ContainerStartError, match="unable to find user nosuchuser"):
        runner("true", mounts=mounts, user="nosuchuser")
    with pytest.raises(ContainerStartError, match="stat /no/such/program: no such file or directory"):
        runner.argv(("/no/such/program",), mounts=mounts)
    assert (sorted(os.listdir(etc)), etc.stat().st_mtime_ns) == before
    assert not (busybox_rootfs / "mnt").exists()


def test_keyboard_interrupt_kills_the_container_and_propagates(runner) -> None:
    def interrupt(stream: str, data: bytes) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run(ProcessSpec(("sh", "-c", "echo go; sleep 60")), runner.mounts(), interrupt, state_root=runner.state_root)
    assert time.monotonic() - started < 5
    assert os.listdir(os.path.join(runner.state_root, "containers")) == []


def test_stdin_is_forwarded_from_a_callers_fd(runner) -> None:
    reader, writer = os.pipe()
    os.write(writer, b"from the caller\n")
    os.close(writer)
    try:
        result = runner("cat; echo done", stdio=Stdio(stdin=reader))
    finally:
        os.close(reader)
    assert result.stdout == "from the caller\ndone\n"


def test_tty_replaces_all_three_streams(runner) -> None:
    result = runner("tty; test -t 0 && test -t 1 && test -t 2 && echo all-ttys; echo err >&2; stat -c %U /dev/pts/0",
                    stdio=Stdio(tty=True), user="app")
    assert result.stdout.replace("\r\n", "\n") == "/dev/pts/0\nall-ttys\nerr\napp\n"
    assert result.stderr == ""
