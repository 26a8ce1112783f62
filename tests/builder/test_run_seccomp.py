"""RUN steps get Docker's default seccomp profile; RUN --security=insecure runs without one, as in BuildKit.

Checked against docker 26.1 (BuildKit 0.13): a RUN's /proc/self/status says ``Seccomp: 2`` and
``unshare -U`` fails with EPERM; an insecure RUN (a privileged container) says ``Seccomp: 0``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.builder.test_build_e2e import run_build
from tests.support.images import flatten

pytestmark = pytest.mark.privileged


def test_run_is_filtered_and_insecure_run_is_not(built_root: Path, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox:local\n"
        "RUN grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status > /filtered"
        " && { unshare -U true 2> /unshare-error; echo $? > /unshare-code; }\n"
        "RUN --security=insecure grep '^Seccomp:' /proc/self/status > /insecure\n"
    )
    run_build(built_root, tmp_path, dockerfile, tags=("seccomp:run",), entitlements=frozenset({"security.insecure"}))
    tree = flatten(built_root, "seccomp:run", tmp_path / "t")
    assert (tree / "filtered").read_text().split() == ["NoNewPrivs:", "0", "Seccomp:", "2"]
    assert (tree / "unshare-code").read_text() == "1\n"
    assert "Operation not permitted" in (tree / "unshare-error").read_text()
    assert (tree / "insecure").read_text().split() == ["Seccomp:", "0"]
