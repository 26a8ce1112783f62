"""Suite-wide test configuration: the ``privileged`` marker."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _privileged_reason() -> str | None:
    """Why privileged tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("unshare") is None:
        return "unshare(1) missing"
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"namespaces unavailable: {probe.stderr.decode(errors='replace').strip()}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("privileged") for item in items):
        return
    reason = _privileged_reason()
    if reason is None:
        return
    if os.environ.get("PYBUILD_REQUIRE_PRIVILEGED") == "1":
        raise pytest.UsageError(f"privileged tests are required here but cannot run: {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("privileged"):
            item.add_marker(skip)
