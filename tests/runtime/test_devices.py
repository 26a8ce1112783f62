"""Device nodes made or shipped inside a container can never open a host device (privileged)."""
from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from runtime import cgroups
from runtime import namespaces as ns
from runtime.apply import apply_layer
from runtime.diff import write_diff
from runtime.hostmounts import mounted
from runtime.overlay import OverlaySnapshotter
from runtime.spec import BindMount, Limits

pytestmark = pytest.mark.privileged
DENIED = ("Permission denied", "Operation not permitted")


def _root_disk() -> tuple[int, int]:
    device = os.stat("/").st_dev
    return os.major(device), os.minor(device)


def _probe(path: str) -> str:
    """Shell that reports, per access, whether it worked; a mknod failure is fine, a read is not."""
    return (f"head -c 1 {path} >/dev/null && echo READ-{path}; "
            f"echo x 2>/dev/null > {path} && echo WROTE-{path}; true")


def test_mknod_of_the_host_root_disk_cannot_be_read_or_written(runner) -> None:
    major, minor = _root_disk()
    # c 1:5 (zero) is on the devices allow-list, so only nodev can stop it: it proves the mount flags.
    result = runner(f"mknod /disk b {major} {minor}; mknod /zero c 1 5; mknod /kmsg c 1 11; "
                    + _probe("/disk") + _probe("/zero") + _probe("/kmsg") + "rm -f /disk /zero /kmsg")
    assert "READ-" not in result.stdout and "WROTE-" not in result.stdout, result.stdout
    assert any(word in result.stderr for word in DENIED), result.stderr


def test_nodes_on_dev_shm_and_on_caller_binds_cannot_be_opened(runner, tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    result = runner("mknod /dev/shm/zero c 1 5 && mknod /dev/zero2 c 1 5 && mknod /mnt/zero c 1 5; "
                    + _probe("/dev/shm/zero") + _probe("/dev/zero2") + _probe("/mnt/zero"),
                    mounts=(BindMount(str(tmp_path / "shared"), "/mnt"),))
    assert "READ-" not in result.stdout and "WROTE-" not in result.stdout, result.stdout
    assert stat.S_ISCHR((tmp_path / "shared" / "zero").lstat().st_mode)  # created, just unusable


@pytest.mark.parametrize("limits", [Limits(), Limits(restrict_devices=True)], ids=["nodev", "nodev+cgroup"])
def test_standard_devices_still_work(runner, limits: Limits) -> None:
    script = ("echo x > /dev/null && echo null; head -c 5 /dev/zero | wc -c; head -c 5 /dev/urandom | wc -c; "
              "head -c 5 /dev/random | wc -c; echo x > /dev/full || echo full-is-full; "
              "exec 3<>/dev/ptmx && echo ptmx; exec 3<&-; true 4<>/dev/tty || echo no-tty")
    result = runner(script, limits=limits)
    assert result.stdout.split() == ["null", "5", "5", "5", "full-is-full", "ptmx", "no-tty"]
    assert "No space left on device" in result.stderr
    assert "No such device or address" in result.stderr  # /dev/tty reached the driver: no controlling tty


def test_the_hosts_device_inodes_cannot_be_changed(runner) -> None:
    before = os.stat("/dev/null")
    result = runner("chmod 600 /dev/null; chown 1:1 /dev/zero; touch /dev/urandom; rm /dev/null; ls -l /dev/null")
    assert result.stderr.count("Read-only file system") == 3
    after = os.stat("/dev/null")
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)


def test_a_char_device_made_in_a_run_reaches_the_layer_and_applies(busybox_rootfs, runner, tmp_path: Path) -> None:
    snapshotter = OverlaySnapshotter(str(tmp_path / "snapshots"))
    with mounted(snapshotter.prepare("base-active")) as root:
        os.system(f"cp -a {busybox_rootfs}/. {root}")
    snapshotter.commit("base", "base-active")
    mounts = snapshotter.prepare("step", "base")
    result = runner.argv(("sh", "-c", "mknod /dev-null c 1 3 && chmod 640 /dev-null"), rootfs_mounts=mounts)
    assert result.status.ok, result.stderr
    layer = io.BytesIO()
    write_diff(snapshotter.view("base-view", "base"), mounts, layer)
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(layer.getvalue()))}
    node = members["dev-null"]
    assert (node.type, node.devmajor, node.devminor, node.mode) == (tarfile.CHRTYPE, 1, 3, 0o640)
    target = tmp_path / "applied"
    target.mkdir()
    apply_layer(io.BytesIO(layer.getvalue()), str(target))
    applied = (target / "dev-null").lstat()
    assert stat.S_ISCHR(applied.st_mode) and applied.st_rdev == os.makedev(1, 3)
    for key in ("step", "base-view", "base"):
        snapshotter.remove(key)


@pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/devices"), reason="no v1 devices hierarchy")
def test_devices_cgroup_allows_only_the_standard_nodes() -> None:
    directories = cgroups.create("devtest", Limits(restrict_devices=True))
    assert any("/devices/" in directory for directory in directories)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        outcome = b""
        try:
            cgroups.join(directories, os.getpid())
            for path in ("/dev/null", "/dev/kmsg"):
                try:
                    os.close(os.open(path, os.O_WRONLY))
                    outcome += b"open "
                except PermissionError:
                    outcome += b"denied "
        finally:
            os.write(writer, outcome)
            os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    with os.fdopen(reader, "rb") as handle:
        assert handle.read().split() == [b"open", b"denied"]
    cgroups.remove(directories)


def test_fallback_remount_adds_nodev_below_a_mount_point(tmp_path: Path) -> None:
    """What kernels without mount_setattr get: every mount below the target remounted on its own."""
    (tmp_path / "top").mkdir()
    pid = os.fork()
    if pid == 0:
        try:
            ns.unshare(ns.CLONE_NEWNS)
            ns.mount(None, "/", None, ns.MS_REC | ns.MS_PRIVATE)
            top = str(tmp_path / "top")
            ns.mount("tmpfs", top, "tmpfs", ns.MS_NOSUID)
            os.mkdir(top + "/sub")
            ns.mount("tmpfs", top + "/sub", "tmpfs", ns.MS_RDONLY)
            for point in ns.mount_points_below(top):
                ns._remount_adding(point, ns.MOUNT_ATTR_NODEV)
            flags = [os.statvfs(path).f_flag for path in (top, top + "/sub")]
            expected = [os.ST_NODEV | os.ST_NOSUID, os.ST_NODEV | os.ST_RDONLY]
            os._exit(0 if [flag & 0xF for flag in flags] == expected else 1)
        except BaseException:
            os._exit(2)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
