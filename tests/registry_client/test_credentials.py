"""config.json credentials: auths, credsStore, credHelpers (fake helper on PATH), login/logout."""
from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from registry_client import Credentials, CredentialsError, DockerConfig, Platform, RegistryClient, pull
from registry_client.options import RegistryOptions

HELPER = """#!/bin/sh
# a fake docker-credential helper: logs what it was asked, answers from a JSON file
echo "$1 $(cat)" >> "{log}"
case "$1" in
  get) python3 -c 'import json,sys; d=json.load(open("{db}")); k=sys.argv[1];
print(json.dumps({{"ServerURL":k,"Username":d[k][0],"Secret":d[k][1]}}) if k in d else "credentials not found in native keychain"); sys.exit(0 if k in d else 1)' "$(tail -n1 "{log}" | cut -d' ' -f2-)";;
  *) exit 0;;
esac
"""


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture()
def helper(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    db, log = tmp_path / "db.json", tmp_path / "helper.log"
    db.write_text(json.dumps({"127.0.0.1:5000": ["hu", "hp"], "https://index.docker.io/v1/": ["<token>", "idt"]}))
    script = bin_dir / "docker-credential-fake"
    script.write_text(HELPER.format(log=log, db=db))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return log


def _config(tmp_path: Path, body: dict) -> DockerConfig:
    (tmp_path / "cfg").mkdir(exist_ok=True)
    (tmp_path / "cfg" / "config.json").write_text(json.dumps(body))
    return DockerConfig(tmp_path / "cfg")


def test_inline_auths_with_url_keys_and_hub_alias(tmp_path):
    config = _config(tmp_path, {"auths": {
        "https://index.docker.io/v1/": {"auth": _auth("hub", "p:w")},
        "http://myreg:5000/v2/": {"auth": _auth("me", "x")},
        "other": {"identitytoken": "tok", "auth": _auth("u", "")},
    }})
    assert config.get("docker.io") == Credentials("hub", "p:w")  # password may hold ':'
    assert config.get("registry-1.docker.io") == Credentials("hub", "p:w")
    assert config.get("myreg:5000") == Credentials("me", "x")
    assert config.get("other").identity_token == "tok"
    assert config.get("unknown").is_anonymous


def test_docker_config_env_is_honoured(tmp_path, monkeypatch):
    _config(tmp_path, {"auths": {"r": {"auth": _auth("a", "b")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert DockerConfig().get("r") == Credentials("a", "b")


def test_cred_helpers_win_over_creds_store_and_auths(tmp_path, helper):
    config = _config(tmp_path, {"credHelpers": {"127.0.0.1:5000": "fake"}, "credsStore": "missing",
                                "auths": {"127.0.0.1:5000": {"auth": _auth("inline", "x")}}})
    assert config.get("127.0.0.1:5000") == Credentials("hu", "hp")
    assert "get 127.0.0.1:5000" in helper.read_text()
    assert config.get("elsewhere").is_anonymous  # credsStore helper missing from PATH: anonymous


def test_creds_store_token_user_is_an_identity_token(tmp_path, helper):
    config = _config(tmp_path, {"credsStore": "fake"})
    assert config.get("docker.io") == Credentials(identity_token="idt")
    assert config.get("nowhere:1").is_anonymous  # "credentials not found" is not an error


def test_login_and_logout_write_docker_format(tmp_path):
    config = DockerConfig(tmp_path / "new")
    config.store("127.0.0.1:5000", Credentials("me", "secret"))
    config.store("docker.io", Credentials("hub", "pw"))
    written = json.loads((tmp_path / "new" / "config.json").read_text())
    assert written["auths"]["127.0.0.1:5000"] == {"auth": _auth("me", "secret")}
    assert "https://index.docker.io/v1/" in written["auths"]
    assert (tmp_path / "new" / "config.json").stat().st_mode & 0o777 == 0o600
    assert config.erase("127.0.0.1:5000") and not config.erase("127.0.0.1:5000")
    assert config.get("127.0.0.1:5000").is_anonymous and config.get("docker.io") == Credentials("hub", "pw")


def test_login_through_a_helper(tmp_path, helper):
    config = _config(tmp_path, {"credsStore": "fake", "other": {"kept": True}})
    config.store("r:1", Credentials("u", "p"))
    assert "store " in helper.read_text()
    written = json.loads(config.path.read_text())
    assert written["auths"] == {"r:1": {}} and written["other"] == {"kept": True}


def test_broken_config_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CredentialsError, match="config.json"):
        DockerConfig(tmp_path).get("x")


def test_pull_with_credentials_from_config_json(basic_registry, tmp_path, store):
    config = _config(tmp_path, {"auths": {basic_registry.host: {"auth": _auth("testuser", "testpass")}}})
    client = RegistryClient(RegistryOptions(certs_dirs=()), config)
    pulled = pull(basic_registry.ref("library/hello:latest"), store, client=client, platform=Platform("linux", "amd64"))
    assert pulled.manifest.layers
