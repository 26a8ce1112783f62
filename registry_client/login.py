"""Checking credentials before ``pybuild login`` stores them, the way ``docker login`` does.

``GET /v2/`` without credentials: a ``200`` means the registry wants none (accepted as is,
like docker). A ``401`` carries the challenge: for Basic the request is sent again with the
credentials; for Bearer a token is asked of the realm with them (no scope, which every
distribution token server accepts for the base route) and ``/v2/`` is sent again with it.
A refusal anywhere is an ``AuthError``.
"""
from __future__ import annotations

import urllib.parse

from .auth import Credentials
from .credentials import HUB_AUTH_KEY
from .errors import AuthError, InvalidReference
from .options import RegistryOptions
from .reference import DOCKER_HUB, DOCKER_HUB_API_HOST
from .responses import raise_for_status
from .transport import Call, Endpoint

_HUB_NAMES = {DOCKER_HUB, "index.docker.io", DOCKER_HUB_API_HOST, HUB_AUTH_KEY}


def registry_host(server: str | None) -> str:
    """The registry a ``login``/``logout`` argument names: ``docker.io`` when empty.

    Accepts ``host[:port]``, a URL (``https://host/v1/``) and Docker Hub's aliases.
    """
    text = (server or DOCKER_HUB).strip()
    if text in _HUB_NAMES:
        return DOCKER_HUB
    host = urllib.parse.urlsplit(text).netloc if "://" in text else text.split("/", 1)[0]
    if not host or any(c.isspace() for c in host):
        raise InvalidReference(f"invalid registry address {server!r}")
    return DOCKER_HUB if host in _HUB_NAMES else host


def verify_login(server: str | None, credentials: Credentials, options: RegistryOptions | None = None) -> str:
    """Prove ``credentials`` work on ``server``; return the registry host to store them under."""
    host = registry_host(server)
    api_host = DOCKER_HUB_API_HOST if host == DOCKER_HUB else host
    endpoint = Endpoint(api_host, options or RegistryOptions(), credentials)
    response = endpoint.request(Call("GET", endpoint.url("/v2/")))
    response.close()
    if response.status_code == 401:
        raise AuthError(f"{host} refused the login for {credentials.username or 'this user'}")
    raise_for_status(response, ref=host, what="login")
    return host
