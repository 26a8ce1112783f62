"""The generated files a RUN step sees in /etc: BuildKit binds /etc/resolv.conf and /etc/hosts only.

Checked against docker 26.1 (BuildKit 0.13): a RUN sees no /etc/hostname unless the image has one, and
may write it like any other file; `pybuild run` keeps docker run's generated, read-only /etc/hostname.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.builder.test_build_e2e import run_build
from tests.support.images import flatten

pytestmark = pytest.mark.privileged


def test_run_sees_no_generated_hostname_file_and_may_write_one(built_root: Path, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox:local\n"
        "RUN if [ -e /etc/hostname ]; then echo present; else echo absent; fi > /seen"
        " && grep /etc/ /proc/self/mounts | cut -d' ' -f2,4 > /etc-binds\n"
        "RUN echo built-here > /etc/hostname && hostname > /uts-name\n"
    )
    run_build(built_root, tmp_path, dockerfile, tags=("parity:etc-hostname",))
    tree = flatten(built_root, "parity:etc-hostname", tmp_path / "t")
    assert (tree / "seen").read_text() == "absent\n"
    binds = dict(line.split(" ") for line in (tree / "etc-binds").read_text().splitlines())
    assert sorted(binds) == ["/etc/hosts", "/etc/resolv.conf"], "resolv.conf and hosts only"
    for options in binds.values():
        assert {"ro", "nosuid", "nodev", "noexec"} <= set(options.split(",")), options
    assert (tree / "etc/hostname").read_text() == "built-here\n", "written by the RUN, kept in its layer"
    assert (tree / "uts-name").read_text() == "buildkitsandbox\n"


def test_dev_core_link_only_where_the_host_kernel_has_proc_kcore(built_root: Path, tmp_path: Path) -> None:
    run_build(built_root, tmp_path, "FROM busybox:local\nRUN ls /dev > /dev-entries\n", tags=("parity:dev-core",))
    entries = (flatten(built_root, "parity:dev-core", tmp_path / "t") / "dev-entries").read_text().split()
    assert ("core" in entries) == Path("/proc/kcore").exists()
    assert {"fd", "stdin", "stdout", "stderr", "ptmx", "null", "pts", "shm"} <= set(entries)
