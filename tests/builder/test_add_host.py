"""``--add-host``: extra /etc/hosts lines for RUN, keyed like BuildKit (names count, addresses do not)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_build_e2e import run_build

from builder.commands.building import parse_add_hosts
from builder.errors import UsageError
from builder.events import StepCached
from runtime.network import DEFAULT_BRIDGE
from tests.support.images import flatten

ROOT = Path(__file__).resolve().parents[2]


def test_values_are_read_like_dockers_cli() -> None:
    assert parse_add_hosts(["db:10.0.0.5", "api=10.0.0.6", "v6:fd00::1", "br=[fd00::2]", "gw:host-gateway"]) == (
        ("db", "10.0.0.5"), ("api", "10.0.0.6"), ("v6", "fd00::1"), ("br", "fd00::2"), ("gw", "host-gateway"))
    for bad, message in (("nocolon", "bad format"), (":1.2.3.4", "bad format"), ("db:not-an-ip", "invalid IP"),
                         ("db=", "invalid IP")):
        with pytest.raises(UsageError, match=message):
            parse_add_hosts([bad])


def test_a_bad_value_is_a_usage_error_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    done = subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(tmp_path / "root"), "build",
                           "--add-host", "db:300.1.1.1", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode != 0
    assert "invalid IP address in add-host: '300.1.1.1'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.privileged
def test_run_sees_the_extra_hosts_and_only_names_change_the_cache_key(built_root: Path, tmp_path: Path) -> None:
    dockerfile = "FROM busybox:local\nRUN cp /etc/hosts /hosts.txt && cat /etc/hosts\n"
    hosts = (("db", "10.1.2.3"), ("gw", "host-gateway"), ("v6", "fd00::7"))
    run_build(built_root, tmp_path, dockerfile, tags=("addhost:one",), extra_hosts=hosts)
    lines = (flatten(built_root, "addhost:one", tmp_path / "one") / "hosts.txt").read_text().splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost buildkitsandbox"
    assert lines[-3:] == ["10.1.2.3\tdb", f"{DEFAULT_BRIDGE.gateway}\tgw", "fd00::7\tv6"]

    events: list = []  # another address for the same names: BuildKit blanks addresses in the key
    run_build(built_root, tmp_path, dockerfile, events, extra_hosts=(("db", "10.9.9.9"), *hosts[1:]))
    assert any(isinstance(event, StepCached) for event in events)
    events.clear()  # another name: the RUN reruns
    run_build(built_root, tmp_path, dockerfile, events, tags=("addhost:two",), extra_hosts=(("cache", "10.1.2.4"),))
    assert not any(isinstance(event, StepCached) for event in events)
    lines = (flatten(built_root, "addhost:two", tmp_path / "two") / "hosts.txt").read_text().splitlines()
    assert lines[-1] == "10.1.2.4\tcache"


@pytest.mark.privileged
def test_the_hosts_file_is_buildkits_and_stays_out_of_the_image(built_root: Path, tmp_path: Path) -> None:
    # Found side by side with docker build: BuildKit's RUN hosts file has no line for the
    # container's own address (docker run's has one).
    dockerfile = "FROM busybox:local\nRUN cp /etc/hosts /hosts.txt\n"
    run_build(built_root, tmp_path, dockerfile, tags=("addhost:exact",), extra_hosts=(("db", "10.1.2.3"),))
    tree = flatten(built_root, "addhost:exact", tmp_path / "exact")
    assert (tree / "hosts.txt").read_text() == (
        "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n10.1.2.3\tdb\n")
    assert not (tree / "etc/hosts").exists()
