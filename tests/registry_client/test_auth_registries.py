"""htpasswd, Docker-Hub-like token auth and TLS against the real registry."""
from __future__ import annotations

import pytest

from registry_clients import PASSWORD, USER, make_client
from registry_client import AuthError, Credentials, Platform, TransportError, pull, push

AMD64 = Platform("linux", "amd64")


def test_basic_auth_pull(basic_registry, store):
    pulled = pull(basic_registry.ref("library/hello:latest"), store, client=basic_registry.client(), platform=AMD64)
    assert pulled.manifest.layers


def test_basic_auth_without_credentials_is_a_clear_error(basic_registry, store):
    with pytest.raises(AuthError) as caught:
        pull(basic_registry.ref("library/hello:latest"), store, client=basic_registry.client(anonymous=True))
    assert "pybuild login" in str(caught.value) and basic_registry.host in str(caught.value)


def test_basic_auth_wrong_password(basic_registry, store):
    client = make_client({basic_registry.host: Credentials(USER, "wrong")})
    with pytest.raises(AuthError):
        pull(basic_registry.ref("library/hello:latest"), store, client=client)


def test_token_anonymous_pull_fetches_one_token_per_scope(hub_registry, token_server, store):
    before = len(token_server.log.requests)
    client = hub_registry.client(anonymous=True)
    pull(hub_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    issued = token_server.log.requests[before:]
    assert len(issued) == 1  # cached for the manifests and all the blobs
    assert issued[0]["user"] is None and issued[0]["scopes"] == ["repository:library/hello:pull"]


def test_token_anonymous_push_is_denied(hub_registry, images):
    client = hub_registry.client(anonymous=True)
    with pytest.raises(AuthError):
        push(hub_registry.ref("library/anon:latest"), images.store, images.zstd.top, client=client)


def test_token_wrong_password_is_refused_by_token_server(hub_registry, store):
    client = make_client({hub_registry.host: Credentials(USER, "wrong")})
    with pytest.raises(AuthError) as caught:
        pull(hub_registry.ref("library/hello:latest"), store, client=client)
    assert "refused the credentials" in str(caught.value)


def test_identity_token_uses_oauth2_refresh_grant(hub_registry, token_server, store):
    token_server.refresh_tokens["refresh-xyz"] = USER
    before = len(token_server.log.requests)
    client = make_client({hub_registry.host: Credentials(identity_token="refresh-xyz")})
    pull(hub_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    issued = token_server.log.requests[before:]
    assert issued and all(r["method"] == "POST" and r["user"] == USER for r in issued)


def test_expired_token_is_refreshed_once(hub_registry, token_server, store):
    client = hub_registry.client(anonymous=True)
    pull(hub_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    auth = client.endpoint(hub_registry.host).auth
    for scopes, token in list(auth._tokens.items()):  # pretend every cached token has expired
        auth._tokens[scopes] = type(token)(token.value, 0.0)
    before = len(token_server.log.requests)
    pull(hub_registry.ref("library/hello:latest"), store, client=client, platform=Platform("linux", "arm64"))
    assert len(token_server.log.requests) - before == 1


def test_redirected_blobs_never_carry_authorization(hub_registry, blob_host, store):
    faults = blob_host.reset()
    client = hub_registry.client()  # with credentials, so there is a token to leak
    pull(hub_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    assert len(faults.log) == 4
    assert not any(entry["authorization"] for entry in faults.log)


def test_netrc_is_never_used(hub_registry, blob_host, store, tmp_path, monkeypatch):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine localhost login leak password leak\nmachine 127.0.0.1 login leak password leak\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    faults = blob_host.reset()
    pull(hub_registry.ref("library/hello:latest"), store, client=hub_registry.client(anonymous=True),
         platform=AMD64)
    assert faults.log and not any(entry["authorization"] for entry in faults.log)


def test_tls_with_custom_ca(tls_registry, store):
    pulled = pull(tls_registry.ref("library/hello:latest"), store, client=tls_registry.client(), platform=AMD64)
    assert tls_registry.client().endpoint(tls_registry.host).base_url.startswith("https://")
    assert pulled.manifest.layers


def test_tls_without_the_ca_fails(tls_registry, store):
    client = tls_registry.client(certs_dirs=())
    with pytest.raises(TransportError) as caught:
        pull(tls_registry.ref("library/hello:latest"), store, client=client)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


def test_plain_http_is_refused_for_secure_hosts(noauth_registry, store):
    client = noauth_registry.client(insecure_registries=())
    with pytest.raises(TransportError):
        pull(noauth_registry.ref("library/hello:latest"), store, client=client)
