"""login / logout through the CLI against htpasswd and Docker-Hub-like token registries."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from registry_commands_support import (
    PASSWORD, USER, Pybuild, SeededRegistry, assert_clean_failure, seeded_registry,
)
from registry_client import Credentials

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None or shutil.which("htpasswd") is None,
                                reason="docker-registry or htpasswd not installed")


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededRegistry]:
    workdir = tmp_path_factory.mktemp("basic")
    line = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, check=True).stdout
    (workdir / "htpasswd").write_bytes(line)
    extra = f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {workdir / 'htpasswd'}\n"
    with seeded_registry(workdir, extra, Credentials(USER, PASSWORD)) as registry:
        yield registry


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededRegistry]:
    from registry_servers import TokenServer

    server = TokenServer(tmp_path_factory.mktemp("tokens"), {USER: PASSWORD})
    try:
        with seeded_registry(tmp_path_factory.mktemp("token"), server.registry_config(),
                             Credentials(USER, PASSWORD)) as registry:
            yield registry
    finally:
        server.stop()


@pytest.fixture()
def pybuild(tmp_path: Path) -> Pybuild:
    return Pybuild(tmp_path / "root", tmp_path / "docker")


def stored_auths(pybuild: Pybuild) -> dict[str, dict[str, str]]:
    path = pybuild.docker_config / "config.json"
    return json.loads(path.read_text()).get("auths", {}) if path.exists() else {}


def login(pybuild: Pybuild, host: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return pybuild("login", "-u", USER, "--password-stdin", host, stdin=password + "\n")


def test_htpasswd_login_pull_logout(basic_registry: SeededRegistry, pybuild: Pybuild) -> None:
    ref = basic_registry.ref("library/hello")
    assert_clean_failure(pybuild("pull", ref), 3, "requires a login", "pybuild login")
    result = login(pybuild, basic_registry.host)
    assert result.returncode == 0 and "Login Succeeded" in result.stderr, result.stderr
    entry = stored_auths(pybuild)[basic_registry.host]
    assert base64.b64decode(entry["auth"]).decode() == f"{USER}:{PASSWORD}"
    assert (pybuild.docker_config / "config.json").stat().st_mode & 0o077 == 0
    assert pybuild("pull", "-q", "--platform", "linux/amd64", ref).returncode == 0
    out = pybuild("logout", basic_registry.host)
    assert out.returncode == 0 and f"Removing login credentials for {basic_registry.host}" in out.stderr
    assert basic_registry.host not in stored_auths(pybuild)
    assert "Not logged in" in pybuild("logout", basic_registry.host).stderr


def test_htpasswd_wrong_password_is_refused_and_not_stored(basic_registry: SeededRegistry, pybuild: Pybuild) -> None:
    assert_clean_failure(login(pybuild, basic_registry.host, "wrong"), 3, basic_registry.host)
    assert stored_auths(pybuild) == {}


def test_token_login_then_push(token_registry: SeededRegistry, pybuild: Pybuild) -> None:
    source, target = token_registry.ref("library/hello"), token_registry.ref("mine/hello:1")
    assert pybuild("pull", "-q", "--platform", "linux/amd64", source).returncode == 0  # anonymous pull
    assert pybuild("tag", source, target).returncode == 0
    assert_clean_failure(pybuild("push", target), 3)  # anonymous push is denied
    assert login(pybuild, f"http://{token_registry.host}/").returncode == 0  # URLs name their host
    assert token_registry.host in stored_auths(pybuild)
    pushed = pybuild("push", target)
    assert pushed.returncode == 0, pushed.stderr


def test_token_wrong_password_is_refused_by_the_token_server(token_registry: SeededRegistry,
                                                             pybuild: Pybuild) -> None:
    assert_clean_failure(login(pybuild, token_registry.host, "wrong"), 3, "refused the credentials")
    assert stored_auths(pybuild) == {}


def test_login_usage_errors(pybuild: Pybuild) -> None:
    assert_clean_failure(pybuild("login", "--password-stdin", "example.com", stdin="x"), 2, "--username")
    assert_clean_failure(pybuild("login", "example.com", stdin=""), 2, "--password-stdin")
