"""``pybuild run``'s docker run flags end to end, in real containers (privileged): the CLI on an imported
busybox image. The expected figures are what docker 26 prints for the same commands."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builder.image.export import OCI_CONFIG, OCI_MANIFEST
from builder.imagestore import ImageStore
from registry_client import Manifest
from tests.support.images import busybox_store

pytestmark = pytest.mark.privileged
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "busybox:local"
ENTRY_IMAGE = "entry:local"  # ENTRYPOINT ["echo", "from-entrypoint"], CMD ["from-cmd"]
DEFAULT_CAPS = "00000000a80425fb"  # CapEff of root under docker's default capability set


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = busybox_store(tmp_path_factory)
    _tag_with_entrypoint(root)
    return root


def _tag_with_entrypoint(root: Path) -> None:
    store = ImageStore(root)
    image = store.image(IMAGE)
    config = dataclasses.replace(image.config, entrypoint=("echo", "from-entrypoint"), cmd=("from-cmd",))
    config_descriptor = store.content.put_bytes(config.to_bytes(), OCI_CONFIG)
    manifest = Manifest(config_descriptor, image.manifest.layers, OCI_MANIFEST)
    store.tag(ENTRY_IMAGE, store.content.put_bytes(manifest.to_bytes(), OCI_MANIFEST))


def _run(store_root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "builder.cli", "--root", str(store_root), "run", "--network", "none", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, **(env or {})})


def _status_field(output: str, name: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith(name + ":"))


def test_entrypoint_replaces_the_images_and_drops_its_cmd(store_root: Path) -> None:
    assert _run(store_root, ENTRY_IMAGE).stdout == "from-entrypoint from-cmd\n"
    assert _run(store_root, ENTRY_IMAGE, "arg").stdout == "from-entrypoint arg\n"
    assert _run(store_root, "--entrypoint", "echo", ENTRY_IMAGE).stdout == "\n"
    assert _run(store_root, "--entrypoint", "", ENTRY_IMAGE, "echo", "hi").stdout == "hi\n"
    reset = _run(store_root, "--entrypoint", "", ENTRY_IMAGE)
    assert reset.returncode == 125 and "no command specified" in reset.stderr  # docker run's code and words


def test_env_file_in_dockers_format(store_root: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_bytes(b"\xef\xbb\xbfA=1\n  # comment\n\n  B= 2 \nC=\"q\"\nFROM_HOST\nNOT_ON_HOST\r\nD=x\r\n"
                         b"E==\n#F=1\n\tG=tab\nOVERRIDDEN=file\n")
    result = _run(store_root, "--env-file", str(env_file), "-e", "OVERRIDDEN=flag", IMAGE, "env",
                  env={"FROM_HOST": "host value"})
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert {key: env.get(key) for key in ("A", "B", "C", "D", "E", "G", "FROM_HOST", "OVERRIDDEN")} == {
        "A": "1", "B": " 2 ", "C": '"q"', "D": "x", "E": "=", "G": "tab", "FROM_HOST": "host value",
        "OVERRIDDEN": "flag"}
    assert not {"F", "#F", "NOT_ON_HOST"} & set(env)


def test_env_file_bare_name_missing_on_the_host_is_left_out(store_root: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("SURELY_NOT_SET_H10\nKEPT=1\n")
    environ = {key: value for key, value in os.environ.items() if key != "SURELY_NOT_SET_H10"}
    result = subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(store_root), "run", "--network",
                             "none", "--env-file", str(env_file), IMAGE, "env"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60, env=environ)
    assert "KEPT=1" in result.stdout.splitlines() and "SURELY_NOT_SET_H10" not in result.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("X Y=1\n", "env.list:1: variable 'X Y' contains whitespaces"),
    ("OK=1\n=1\n", "env.list:2: no variable name on line '=1'"),
])
def test_env_file_errors_name_the_file_and_line(store_root: Path, tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "env.list").write_text(content)
    result = _run(store_root, "--env-file", str(tmp_path / "env.list"), IMAGE, "true")
    assert result.returncode == 125 and message in result.stderr and "Traceback" not in result.stderr


def test_hostname_and_add_host(store_root: Path) -> None:
    result = _run(store_root, "-h", "myhost", "--add-host", "foo:1.2.3.4", "--add-host", "bar=::1", IMAGE,
                  "sh", "-c", "hostname; cat /etc/hostname; grep -E 'foo|bar' /etc/hosts")
    assert result.stdout.split("\n") == ["myhost", "myhost", "1.2.3.4\tfoo", "::1\tbar", ""], result.stderr


def test_cap_drop_all_makes_chown_fail(store_root: Path) -> None:
    result = _run(store_root, "--cap-drop", "ALL", IMAGE, "sh", "-c", "grep CapBnd /proc/self/status; chown 1 /tmp")
    assert _status_field(result.stdout, "CapBnd") == "0000000000000000"
    assert result.returncode == 1 and "Operation not permitted" in result.stderr
    assert _run(store_root, IMAGE, "chown", "1", "/tmp").returncode == 0


@pytest.mark.parametrize(("flags", "cap_eff"), [
    ((), DEFAULT_CAPS),
    (("--cap-drop", "all", "--cap-add", "chown", "--cap-add", "CAP_FOWNER"), "0000000000000009"),
    (("--cap-drop", "NET_RAW", "--cap-drop", "cap_mknod"), "00000000a00405fb"),
    (("--cap-add", "sys_admin"), "00000000a82425fb"),
])
def test_cap_add_and_drop_follow_dockers_rules(store_root: Path, flags: tuple[str, ...], cap_eff: str) -> None:
    result = _run(store_root, *flags, IMAGE, "grep", "CapEff", "/proc/self/status")
    assert _status_field(result.stdout, "CapEff") == cap_eff, result.stderr


def test_cap_add_all_and_privileged_give_every_capability(store_root: Path) -> None:
    with open("/proc/self/status") as handle:  # every capability pybuild itself may hand on
        everything = int(_status_field(handle.read(), "CapBnd"), 16)
    added = _run(store_root, "--cap-add", "ALL", "--cap-drop", "net_raw", IMAGE, "grep", "CapEff", "/proc/self/status")
    assert int(_status_field(added.stdout, "CapEff"), 16) == everything & ~(1 << 13)
    privileged = _run(store_root, "--privileged", IMAGE, "sh", "-c", "grep -E 'CapEff|Seccomp:' /proc/self/status")
    assert int(_status_field(privileged.stdout, "CapEff"), 16) == everything
    assert _status_field(privileged.stdout, "Seccomp") == "0"


def test_seccomp_unconfined_keeps_the_default_capabilities(store_root: Path) -> None:
    script = "grep -E 'CapEff|Seccomp:' /proc/self/status"
    default = _run(store_root, IMAGE, "sh", "-c", script)
    assert _status_field(default.stdout, "Seccomp") == "2"  # SECCOMP_MODE_FILTER
    unconfined = _run(store_root, "--security-opt", "seccomp=unconfined", IMAGE, "sh", "-c", script)
    assert (_status_field(unconfined.stdout, "Seccomp"), _status_field(unconfined.stdout, "CapEff")) == ("0", DEFAULT_CAPS)


def test_read_only_root_with_a_writable_tmpfs(store_root: Path) -> None:
    script = ("touch /x; echo root=$?; touch /tmp/a && echo tmp-ok; touch /dev/shm/b && echo shm-ok; "
              "stat -c %a /tmp; grep ' /tmp ' /proc/mounts")
    result = _run(store_root, "--read-only", "--tmpfs", "/tmp", "-w", "/new/dir", IMAGE, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["root=1", "tmp-ok", "shm-ok", "1777"]
    assert "Read-only file system" in result.stderr
    assert set(lines[4].split()[3].split(",")) >= {"rw", "nosuid", "nodev", "noexec"}


def test_tmpfs_options_merge_as_dockers(store_root: Path) -> None:
    script = ("grep -E ' /(x|y|z) ' /proc/mounts; stat -c '%a %u %g' /x; "
              "cp /bin/busybox /x/busybox && /x/busybox true && echo exec-ok")
    result = _run(store_root, "--tmpfs", "/x:exec,uid=5,gid=6,mode=700", "--tmpfs", "/y:ro",
                  "--tmpfs", "/z:size=10k,nr_inodes=100", IMAGE, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    mounts = {line.split()[1]: line.split()[3] for line in result.stdout.splitlines() if line.startswith("tmpfs")}
    assert mounts == {"/x": "rw,nosuid,nodev,relatime,mode=700,uid=5,gid=6",
                      "/y": "ro,nosuid,nodev,noexec,relatime",
                      "/z": "rw,nosuid,nodev,noexec,relatime,size=12k,nr_inodes=100"}
    assert result.stdout.splitlines()[-2:] == ["700 5 6", "exec-ok"]


def test_tmpfs_is_mounted_before_a_volume_inside_it(store_root: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("from the host\n")
    result = _run(store_root, "-v", f"{tmp_path}:/data/host:ro", "--tmpfs", "/data", IMAGE,
                  "cat", "/data/host/file")
    assert result.stdout == "from the host\n", result.stderr


def test_tmpfs_on_a_file_is_a_clear_error(store_root: Path) -> None:
    result = _run(store_root, "--tmpfs", "/bin/sh", IMAGE, "true")
    assert result.returncode == 125 and "Traceback" not in result.stderr
    assert "failed to start the container" in result.stderr and "Not a directory" in result.stderr


# docker 26 (runc) on this host: the exit code and the cause at the end of "docker: Error response from daemon: ..."
@pytest.mark.parametrize(("command", "code", "cause"), [
    ("no-such-command", 127, 'exec: "no-such-command": executable file not found in $PATH'),
    ("/no/such/file", 127, 'exec: "/no/such/file": stat /no/such/file: no such file or directory'),
    ("/etc", 126, 'exec: "/etc": permission denied'),
    ("/etc/passwd", 126, 'exec: "/etc/passwd": permission denied'),  # not executable
])
def test_a_command_that_cannot_run_exits_as_docker_runs(store_root: Path, command: str, code: int, cause: str) -> None:
    result = _run(store_root, IMAGE, command)
    assert result.returncode == code, result.stderr
    assert f"unable to start container process: {cause}" in result.stderr and "Traceback" not in result.stderr


def test_an_image_that_cannot_be_had_exits_125_as_docker_run(store_root: Path) -> None:
    result = _run(store_root, "localhost:1/nosuch:latest", "true")  # not in the store, its registry refuses
    assert result.returncode == 125, result.stderr
    assert "localhost:1" in result.stderr and "Traceback" not in result.stderr


def test_shm_size_and_ulimits_as_docker_run(store_root: Path) -> None:
    result = _run(store_root, "--shm-size", "1m", "--ulimit", "nofile=100:200", "--ulimit", "core=-1", IMAGE, "sh", "-c",
                  "grep /dev/shm /proc/mounts; ulimit -n; ulimit -Hn; ulimit -Hc")
    # docker run names the tmpfs "shm" whatever its size (BuildKit's RUN says "tmpfs" once sized)
    assert result.stdout == ("shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k 0 0\n"
                             "100\n200\nunlimited\n"), result.stderr
    default = _run(store_root, IMAGE, "grep", "/dev/shm", "/proc/mounts")
    assert default.stdout == "shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k 0 0\n"


def test_a_ulimit_the_kernel_refuses_exits_125_with_runcs_words(store_root: Path) -> None:
    result = _run(store_root, "--ulimit", "nofile=-1", IMAGE, "true")  # above fs.nr_open: EPERM even for root
    assert result.returncode == 125, result.stderr
    assert ("unable to start container process: error during container init: error setting rlimits for ready "
            "process: error setting rlimit type 7: operation not permitted") in result.stderr


def test_init_runs_docker_init_as_pid_1(store_root: Path) -> None:
    if not (shutil.which("docker-init") or shutil.which("tini-static")):
        pytest.skip("tini is not installed (tests/apt-packages.txt)")
    result = _run(store_root, "--init", "--read-only", IMAGE, "sh", "-c",
                  "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$; kill -TERM 1; sleep 5")
    lines = result.stdout.splitlines()
    assert lines[0] == "/sbin/docker-init -- sh -c " + result.args[-1] + " "
    assert lines[1] != "1"  # the command is tini's child, which gets the SIGTERM sent to PID 1
    assert result.returncode == 143, result.stderr


def test_name_and_labels_are_accepted(store_root: Path) -> None:
    result = _run(store_root, "--name", "web-1", "-l", "a=b", "--label", "c", IMAGE, "echo", "ok")
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr


@pytest.mark.parametrize(("flags", "message"), [
    (("--cap-add", "foo"), "invalid --cap-add: unknown capability: 'CAP_FOO'"),
    (("--cap-drop", "CAP_NOPE"), "invalid --cap-drop: unknown capability: 'CAP_NOPE'"),
    (("--security-opt", "seccomp=/profile.json"), "custom profiles are not supported"),
    (("--security-opt", "no-new-privileges"), "--security-opt no-new-privileges: not supported"),
    (("--tmpfs", "relative"), "mount path 'relative' must be absolute"),
    (("--tmpfs", "/"), "the destination can't be '/'"),
    (("--tmpfs", "/x:foo"), "invalid tmpfs option 'foo'"),
    (("--tmpfs", "/x:size"), "invalid tmpfs option 'size'"),
    (("--tmpfs", "/x:dev"), "'dev' is not supported"),
    (("--tmpfs", "/x", "-v", "/tmp:/x"), "duplicate mount point: /x"),
    (("--add-host", "nocolon"), "bad format for add-host"),
    (("--add-host", "h:not-an-ip"), "invalid IP address in add-host"),
    (("--name", "bad name"), "invalid container name 'bad name'"),
    (("--shm-size", "lots"), "argument --shm-size: invalid size: 'lots'"),
    (("--ulimit", "nofile=x"), "argument --ulimit: invalid integer 'x'"),
    (("--ulimit", "nofile=2:1"), "soft limit must be less than or equal to hard limit: 2 > 1"),
    (("--no-such-flag",), "unrecognized arguments: --no-such-flag"),
])
def test_flag_mistakes_are_clear_errors(store_root: Path, flags: tuple[str, ...], message: str) -> None:
    result = _run(store_root, *flags, IMAGE, "true")
    assert result.returncode == 125, result.stderr  # docker run's code for its own failures
    assert message in result.stderr and "Traceback" not in result.stderr


def test_help_lists_hostname_under_h(store_root: Path) -> None:
    result = _run(store_root, "--help")
    text = " ".join(result.stdout.split())  # argparse wraps to the terminal's width
    assert result.returncode == 0 and "-h HOSTNAME, --hostname HOSTNAME" in text
    assert "--privileged" in text and "pybuild keeps no container registry" in text
