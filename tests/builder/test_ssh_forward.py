"""``--ssh``: agent sockets and private keys reach ``RUN --mount=type=ssh``, never the image."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from builder.errors import UsageError
from builder.run.sshforward import forwarded_ssh
from tests.support.images import flatten

ROOT = Path(__file__).resolve().parents[2]


def _key(tmp_path: Path, name: str = "id_ed25519") -> Path:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"pybuild-test-{name}", "-f", str(key)],
                   check=True)
    return key


def _listed_keys(agent_socket: str) -> str:
    return subprocess.run(["ssh-add", "-l"], env={**os.environ, "SSH_AUTH_SOCK": agent_socket},
                          capture_output=True, text=True, timeout=10).stdout


def test_key_files_are_served_by_a_private_agent_that_stops_with_the_build(tmp_path: Path) -> None:
    first, second = _key(tmp_path, "one"), _key(tmp_path, "two")
    with forwarded_ssh([f"default={first}", f"deploy={first},{second}"]) as sockets:
        assert set(sockets) == {"default", "deploy"}
        assert "pybuild-test-one" in _listed_keys(sockets["default"])
        listed = _listed_keys(sockets["deploy"])
        assert "pybuild-test-one" in listed and "pybuild-test-two" in listed
        assert os.stat(sockets["deploy"]).st_mode & 0o077 == 0  # only its owner may talk to the agent
    assert not os.path.exists(sockets["default"]) and not os.path.exists(sockets["deploy"])


def test_an_agent_socket_is_forwarded_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "agent.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    try:
        with forwarded_ssh([f"git={path}"]) as sockets:
            assert sockets == {"git": path}
        monkeypatch.setenv("SSH_AUTH_SOCK", path)
        with forwarded_ssh(["default"]) as sockets:
            assert sockets == {"default": path}
    finally:
        listener.close()


@pytest.mark.parametrize("value, message", [
    ("default=/no/such/key", "failed to read /no/such/key"),
    ("=x", "invalid --ssh"),
])
def test_bad_ssh_values_are_usage_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        with forwarded_ssh([value]):
            pass


def test_a_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-key"
    bogus.write_text("hello\n")
    with pytest.raises(UsageError, match="cannot load key"):
        with forwarded_ssh([f"default={bogus}"]):
            pass


def test_default_without_ssh_auth_sock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with pytest.raises(UsageError, match="SSH_AUTH_SOCK is not set"):
        with forwarded_ssh(["default"]):
            pass


@pytest.mark.privileged
def test_run_sees_the_agent_socket_and_the_key_stays_out_of_the_image(built_root: Path, tmp_path: Path) -> None:
    key = _key(tmp_path)
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox:local\n"
        "RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /agent\n"
        "RUN --mount=type=ssh,id=deploy,target=/tmp/deploy.sock test -S /tmp/deploy.sock && echo ok > /deploy\n")

    def pybuild(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "builder.cli", "--root", str(built_root), "build", *args],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    built = pybuild("--ssh", f"default={key}", "--ssh", f"deploy={key}", "-t", "ssh:test", str(context))
    assert built.returncode == 0, built.stderr
    tree = flatten(built_root, "ssh:test", tmp_path / "tree")
    assert (tree / "agent").read_text() == "/run/buildkit/ssh_agent.0\n"
    assert (tree / "deploy").read_text() == "ok\n"
    private = key.read_bytes()
    assert not any(private in path.read_bytes() for path in tree.rglob("*") if path.is_file() and not path.is_symlink())
    assert not (tree / "run" / "buildkit").exists() or not any((tree / "run" / "buildkit").iterdir())
    # an id nobody forwarded: a required mount fails the step, naming the id
    (context / "Dockerfile").write_text("FROM busybox:local\nRUN --mount=type=ssh,id=missing,required=true true\n")
    failed = pybuild(str(context))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "'missing'" in failed.stderr and "Dockerfile:2" in failed.stderr
