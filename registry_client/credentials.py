"""Credentials from docker's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``).

Resolution order, as docker/cli: ``credHelpers[host]``, else ``credsStore``, else the inline
``auths`` entry. Docker Hub is stored under ``https://index.docker.io/v1/``; other registries
under ``host[:port]`` (keys written as URLs are matched by their host). Helpers are the
``docker-credential-<name>`` programs speaking JSON on stdin/stdout. Writing (login/logout)
keeps every other key of the file and replaces it atomically.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from .auth import ANONYMOUS, Credentials
from .errors import CredentialsError
from .reference import DOCKER_HUB

HUB_AUTH_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = {DOCKER_HUB, "index.docker.io", "registry-1.docker.io"}
_NOT_FOUND = "credentials not found"
_TOKEN_USER = "<token>"


def default_config_dir() -> Path:
    env = os.environ.get("DOCKER_CONFIG")
    return Path(env) if env else Path.home() / ".docker"


def auth_key(registry: str) -> str:
    """The config.json key for a registry host (docker/cli ``getAuthConfigKey``)."""
    return HUB_AUTH_KEY if registry in _HUB_ALIASES else registry


def _host_of_key(key: str) -> str:
    # docker/cli ConvertToHostname: strip the scheme and any path, keep the port.
    without_scheme = key.split("://", 1)[-1]
    return without_scheme.split("/", 1)[0]


class DockerConfig:
    """Read and write one ``config.json``; a missing file is an empty config."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_config_dir()
        self.path = self.directory / "config.json"

    def get(self, registry: str) -> Credentials:
        """Credentials for ``registry`` (a host[:port]); anonymous when nothing is stored."""
        data = self._load()
        key = auth_key(registry)
        helper = (data.get("credHelpers") or {}).get(registry) or (data.get("credHelpers") or {}).get(key)
        if helper:
            return _helper_get(helper, key)
        if data.get("credsStore"):
            return _helper_get(str(data["credsStore"]), key)
        entry = _find_auth_entry(data.get("auths") or {}, key)
        return _decode_entry(entry, key) if entry else ANONYMOUS

    def store(self, registry: str, credentials: Credentials) -> None:
        """Save credentials the way ``docker login`` does (helper if configured, else inline)."""
        data = self._load()
        key = auth_key(registry)
        helper = (data.get("credHelpers") or {}).get(registry) or data.get("credsStore")
        auths = data.setdefault("auths", {})
        if helper:
            secret = credentials.identity_token or credentials.password
            user = _TOKEN_USER if credentials.identity_token else credentials.username
            _run_helper(str(helper), "store", json.dumps({"ServerURL": key, "Username": user, "Secret": secret}))
            auths[key] = {}
        else:
            entry: dict[str, str] = {"auth": base64.b64encode(
                f"{credentials.username}:{'' if credentials.identity_token else credentials.password}".encode()
            ).decode()}
            if credentials.identity_token:
                entry["identitytoken"] = credentials.identity_token
            auths[key] = entry
        self._save(data)

    def erase(self, registry: str) -> bool:
        """Forget ``registry`` (``docker logout``); False if nothing was stored."""
        data = self._load()
        key = auth_key(registry)
        helper = (data.get("credHelpers") or {}).get(registry) or data.get("credsStore")
        auths = data.get("auths") or {}
        found = key in auths
        auths.pop(key, None)
        if helper:
            found = _run_helper(str(helper), "erase", key, missing_ok=True) or found
        self._save(data)
        return found

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CredentialsError(f"cannot read {self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise CredentialsError(f"{self.path} is not a JSON object")
        return data

    def _save(self, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        import tempfile

        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".config.json.")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent="\t")
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, 0o600)  # credentials: owner only, like docker
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _find_auth_entry(auths: dict[str, Any], key: str) -> dict[str, Any] | None:
    if key in auths:
        return auths[key]
    wanted = _host_of_key(key)
    for stored_key, entry in auths.items():
        host = _host_of_key(stored_key)
        if host == wanted or (key == HUB_AUTH_KEY and host in _HUB_ALIASES):
            return entry
    return None


def _decode_entry(entry: dict[str, Any], key: str) -> Credentials:
    username, password = entry.get("username", ""), entry.get("password", "")
    if entry.get("auth"):
        try:
            username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise CredentialsError(f"invalid auth entry for {key} in config.json") from exc
    return Credentials(username, password, entry.get("identitytoken") or None, entry.get("registrytoken") or None)


def _helper_get(helper: str, key: str) -> Credentials:
    output = _run_helper(helper, "get", key, missing_ok=True)
    if not output:
        return ANONYMOUS
    try:
        answer = json.loads(output)
    except ValueError as exc:
        raise CredentialsError(f"docker-credential-{helper} returned invalid JSON") from exc
    username, secret = str(answer.get("Username", "")), str(answer.get("Secret", ""))
    if username == _TOKEN_USER:
        return Credentials(identity_token=secret)
    return Credentials(username, secret)


def _run_helper(helper: str, action: str, payload: str, *, missing_ok: bool = False) -> str:
    """Run ``docker-credential-<helper> <action>``; '' when it has nothing for this host."""
    program = f"docker-credential-{helper}"
    try:
        import subprocess  # only a credential helper needs it

        result = subprocess.run([program, action], input=payload.encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        if missing_ok and action != "store":
            return ""  # a missing helper must not break anonymous pulls
        raise CredentialsError(f"credential helper {program} not found on PATH") from None
    output = result.stdout.decode(errors="replace").strip()
    if result.returncode != 0:
        if missing_ok and _NOT_FOUND in (output + result.stderr.decode(errors="replace")).lower():
            return ""
        raise CredentialsError(f"{program} {action} failed: {output or result.stderr.decode(errors='replace')}")
    return output
