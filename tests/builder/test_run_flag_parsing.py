"""``pybuild run``'s docker flag parsers: --env-file, --cap-add/--cap-drop, --tmpfs, mount order
(the containers themselves: tests/runtime/test_run_docker_flags.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import UsageError
from builder.run.capabilities import CAPABILITY_NUMBERS, container_capabilities, kernel_capabilities
from builder.run.containers import mount_order
from builder.run.envfile import read_env_file
from builder.run.tmpfs import parse_tmpfs
from runtime import DOCKER_DEFAULT_CAPABILITIES, BindMount, TmpfsMount


def test_env_file_keeps_values_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_bytes(b"\xef\xbb\xbfA=1\r\n   # note\n\nB= spaced \nC='single'\nBARE\nABSENT\nD=a=b\n")
    assert read_env_file(str(path), {"BARE": "from host"}) == (
        "A=1", "B= spaced ", "C='single'", "BARE=from host", "D=a=b")


def test_env_file_rejects_invalid_utf8_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_bytes(b"A=1\nB=\xff\n")
    with pytest.raises(UsageError, match=r"env:2: not valid UTF-8"):
        read_env_file(str(path), {})


def test_env_file_bare_name_with_trailing_space_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_text("NAME \n")
    with pytest.raises(UsageError, match="variable 'NAME ' contains whitespaces"):
        read_env_file(str(path), {"NAME": "x"})


def test_missing_env_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="No such file or directory"):
        read_env_file(str(tmp_path / "absent"), {})


def _numbers(*names: str) -> set[int]:
    return {CAPABILITY_NUMBERS[name] for name in names}


def test_capabilities_follow_moby_tweak_capabilities() -> None:
    assert container_capabilities([], []) == DOCKER_DEFAULT_CAPABILITIES
    assert container_capabilities(["net_admin"], ["CAP_CHOWN", "kill"]) == \
        (DOCKER_DEFAULT_CAPABILITIES - _numbers("CAP_CHOWN", "CAP_KILL")) | _numbers("CAP_NET_ADMIN")
    assert container_capabilities(["SETUID"], ["all"]) == _numbers("CAP_SETUID")
    assert container_capabilities([], ["ALL"]) == frozenset()
    assert container_capabilities(["all"], ["sys_admin"]) == kernel_capabilities() - _numbers("CAP_SYS_ADMIN")
    assert container_capabilities(["ALL"], ["ALL"]) == kernel_capabilities()  # docker: add ALL wins
    assert container_capabilities([], ["ALL"], privileged=True) == kernel_capabilities()


def test_tmpfs_starts_from_dockers_defaults_and_the_last_word_wins() -> None:
    assert parse_tmpfs("/run") == TmpfsMount("/run", ("noexec", "nosuid"))
    assert parse_tmpfs("/run/:size=1m,exec,size=2m,rprivate,defaults") == TmpfsMount("/run", ("nosuid", "exec", "size=2m"))
    assert parse_tmpfs("/x:ro,rw,suid,mode=1700") == TmpfsMount("/x", ("noexec", "rw", "suid", "mode=1700"))


def test_mounts_are_ordered_by_depth_and_unique() -> None:
    inner = BindMount("/srv", "/data/inner")
    outer = TmpfsMount("/data")
    other = BindMount("/opt", "/other")
    assert mount_order([inner, other], [outer]) == (other, outer, inner)
    with pytest.raises(UsageError, match="duplicate mount point: /data"):
        mount_order([BindMount("/srv", "/data/")], [outer])
