"""HTTPS_PROXY / HTTP_PROXY / NO_PROXY, with Go's rules as docker applies them, through a real
forwarding proxy (tests/support/http_proxy.py) that counts what it carried; https:// proxies
(TLS to the proxy, its CA in certs.d) and proxies that require Basic credentials."""
from __future__ import annotations

import base64
import logging
import shutil
import traceback
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest

from registry_client import ContentStore, Platform, Reference, RetryPolicy, TransportError, pull
from registry_client.proxies import ProxySettings
from registry_servers import closed_port, make_self_signed
from tests.support.http_proxy import ForwardProxy

AMD64 = Platform("linux", "amd64")
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "ALL_PROXY")
# Resolves to 127.0.0.1, yet is not a loopback literal: Go (and we) send it through a proxy.
LOOPBACK_ALIAS = "127.1"


@pytest.fixture()
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture()
def proxy(clean_proxy_env: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    with ForwardProxy(hosts={"registry.test": "127.0.0.1"}) as forward:
        clean_proxy_env.setenv("HTTPS_PROXY", f"http://{forward.address}")
        clean_proxy_env.setenv("HTTP_PROXY", forward.address)  # no scheme: http:// is implied
        yield forward  # type: ignore[misc]


def _renamed(host: str, name: str) -> str:
    return f"{name}:{host.rpartition(':')[2]}"


@pytest.mark.parametrize("environment, url, expected", [
    ({"HTTPS_PROXY": "http://p:3128"}, "https://reg.example/v2/", "http://p:3128"),
    ({"HTTPS_PROXY": "p:3128"}, "https://reg.example/v2/", "http://p:3128"),
    ({"HTTPS_PROXY": "http://p:3128"}, "http://reg.example/v2/", None),  # http uses HTTP_PROXY
    ({"http_proxy": "http://low:1"}, "http://reg.example/v2/", "http://low:1"),
    ({"HTTP_PROXY": "http://up:1", "http_proxy": "http://low:1"}, "http://reg.example/", "http://up:1"),
    ({"HTTPS_PROXY": "http://p:1"}, "https://localhost:5000/v2/", None),  # loopback: never proxied
    ({"HTTPS_PROXY": "http://p:1"}, "https://127.0.0.1:5000/v2/", None),
    ({"HTTPS_PROXY": "http://p:1"}, "https://[::1]:5000/v2/", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://reg.example/", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "ample"}, "https://reg.example/", "http://p:1"),  # labels, not text
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "reg.example"}, "https://reg.example/", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example"}, "https://a.example/", None),  # subdomains too
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example"}, "https://example/", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*.example"}, "https://b.example/", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "reg.example:5000"}, "https://reg.example:5000/", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "reg.example:5000"}, "https://reg.example/", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3:5000/", None),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://11.1.2.3/", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": " x.org , 10.1.2.3 "}, "https://10.1.2.3/", None),
])
def test_proxy_choice_follows_gos_rules(clean_proxy_env, environment, url, expected):
    for name, value in environment.items():
        clean_proxy_env.setenv(name, value)
    assert ProxySettings.from_environment().proxy_for(url) == expected


def test_pull_over_http_goes_through_the_proxy(noauth_registry, proxy, store):
    """An insecure registry behind a proxy: https is tried through CONNECT, then plain http
    as absolute-URI requests; every request goes through the proxy. The registry answers the
    TLS hello in plain HTTP, so unverified TLS is not tried."""
    host = _renamed(noauth_registry.host, "registry.test")  # only the proxy can resolve it
    client = noauth_registry.client(insecure_registries=(host,))
    pulled = pull(Reference(host, "library/hello", "latest"), store, client=client, platform=AMD64)
    assert all(store.has(layer) for layer in pulled.manifest.layers)
    connects = [entry for entry in proxy.log if entry.method == "CONNECT"]
    assert [entry.target for entry in connects] == [host]  # verified TLS only
    blob_gets = [entry for entry in proxy.log if entry.method == "GET" and "/blobs/" in entry.target]
    assert len(blob_gets) == 4 and all(e.target.startswith(f"http://{host}/v2/") for e in blob_gets)


def test_pull_over_https_tunnels_through_the_proxy(tls_registry, proxy, store, tmp_path):
    host = _renamed(tls_registry.host, "registry.test")
    certs = tmp_path / "certs.d" / host
    certs.mkdir(parents=True)
    shutil.copy(tls_registry.process.root.parent / "certs.d" / tls_registry.host / "ca.crt", certs / "ca.crt")
    client = tls_registry.client(certs_dirs=(tmp_path / "certs.d",))
    pulled = pull(Reference(host, "library/hello", "latest"), store, client=client, platform=AMD64)
    assert pulled.manifest.layers
    assert proxy.log and all(entry.method == "CONNECT" and entry.target == host for entry in proxy.log)


@pytest.mark.parametrize("no_proxy", [None, LOOPBACK_ALIAS, "127.1:{port}", "*"])
def test_no_proxy_bypasses_the_proxy(noauth_registry, proxy, store, clean_proxy_env, no_proxy):
    port = noauth_registry.host.rpartition(":")[2]
    if no_proxy is not None:
        clean_proxy_env.setenv("no_proxy", no_proxy.format(port=port))
    host = _renamed(noauth_registry.host, LOOPBACK_ALIAS)
    client = noauth_registry.client(insecure_registries=(host,))
    pulled = pull(Reference(host, "library/hello", "latest"), store, client=client, platform=AMD64)
    assert pulled.manifest.layers
    assert bool(proxy.log) == (no_proxy is None)


def test_no_proxy_host_is_reached_directly_even_when_only_the_proxy_could(noauth_registry, proxy, store,
                                                                         clean_proxy_env):
    clean_proxy_env.setenv("NO_PROXY", ".test")
    host = _renamed(noauth_registry.host, "registry.test")
    client = noauth_registry.client(insecure_registries=(host,), retry=RetryPolicy(attempts=1))
    with pytest.raises(TransportError) as caught:
        pull(Reference(host, "library/hello", "latest"), store, client=client, platform=AMD64)
    assert "registry.test" in str(caught.value)
    assert proxy.log == []


# -- https:// proxies and proxy credentials ---------------------------------------------------
PROXY_USER, PROXY_PASSWORD = "proxyuser", "s3cr@t pass"  # '@' and ' ' must be percent-encoded
PROXY_USERINFO = f"{PROXY_USER}:{urllib.parse.quote(PROXY_PASSWORD, safe='')}"


@pytest.fixture(scope="module")
def proxy_pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA certificate, proxy certificate, proxy key): the proxy's certificate is for 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("proxy-pki")
    ca = make_self_signed(tmp, "proxy-ca")
    key, cert = make_self_signed(tmp, "proxy", san="IP:127.0.0.1,DNS:localhost", ca=ca)
    return ca[1], cert, key


def _use_proxy(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("HTTPS_PROXY", url)
    env.setenv("HTTP_PROXY", url)


def _trusting(certs_d: Path, host: str, ca: Path) -> Path:
    """A certs.d directory whose ``host`` entry holds ``ca`` as ca.crt."""
    (certs_d / host).mkdir(parents=True, exist_ok=True)
    shutil.copy(ca, certs_d / host / "ca.crt")
    return certs_d


def _tls_registry_certs(tls_registry, certs_d: Path, host: str) -> Path:
    return _trusting(certs_d, host, tls_registry.process.root.parent / "certs.d" / tls_registry.host / "ca.crt")


@pytest.mark.parametrize("credentials", [False, True], ids=["open", "with-credentials"])
def test_pull_through_an_https_proxy_trusted_by_its_ca_in_certs_d(tls_registry, noauth_registry, store, tmp_path,
                                                                    clean_proxy_env, proxy_pki, credentials):
    """TLS to the proxy itself (verified with the CA in certs.d/<proxy host:port>/), inside it TLS
    to the registry through CONNECT, and plain-HTTP requests to an insecure registry."""
    ca, cert, key = proxy_pki
    with ForwardProxy(hosts={"registry.test": "127.0.0.1"}, tls=(cert, key),
                      credentials=(PROXY_USER, PROXY_PASSWORD) if credentials else None) as forward:
        _use_proxy(clean_proxy_env, forward.url(PROXY_USERINFO if credentials else ""))
        certs_d = _trusting(tmp_path / "certs.d", forward.address, ca)
        secure = _renamed(tls_registry.host, "registry.test")
        _tls_registry_certs(tls_registry, certs_d, secure)
        pulled = pull(Reference(secure, "library/hello", "latest"), store,
                      client=tls_registry.client(certs_dirs=(certs_d,)), platform=AMD64)
        assert all(store.has(layer) for layer in pulled.manifest.layers)
        assert forward.log and {(entry.method, entry.target) for entry in forward.log} == {("CONNECT", secure)}

        forward.log.clear()
        plain = _renamed(noauth_registry.host, "registry.test")
        client = noauth_registry.client(insecure_registries=(plain,), certs_dirs=(certs_d,))
        pulled = pull(Reference(plain, "library/hello", "latest"), ContentStore(tmp_path / "plain"),
                      client=client, platform=AMD64)
        assert pulled.manifest.layers
        assert client.endpoint(plain).base_url == f"http://{plain}"
        assert any(entry.method == "GET" and entry.target.startswith(f"http://{plain}/v2/") for entry in forward.log)
        assert forward.rejected == 0
        if credentials:
            assert all(_proxy_authorization(entry) == _basic(PROXY_USER, PROXY_PASSWORD) for entry in forward.log)


def test_an_https_proxy_with_an_untrusted_certificate_fails_naming_the_proxy(tls_registry, store, tmp_path,
                                                                           clean_proxy_env, proxy_pki):
    ca, cert, key = proxy_pki
    with ForwardProxy(hosts={"registry.test": "127.0.0.1"}, tls=(cert, key)) as forward:
        _use_proxy(clean_proxy_env, forward.url())
        host = _renamed(tls_registry.host, "registry.test")
        certs_d = _tls_registry_certs(tls_registry, tmp_path / "certs.d", host)  # the registry's CA only
        client = tls_registry.client(certs_dirs=(certs_d,), retry=RetryPolicy(attempts=1))
        with pytest.raises(TransportError) as caught:
            pull(Reference(host, "library/hello", "latest"), store, client=client, platform=AMD64)
    message = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message and f"proxy {forward.address}" in message
    assert f"certs.d/{forward.address}/ca.crt" in message
    assert forward.log == []  # no request was sent over the unverified connection


def test_pull_through_a_proxy_that_requires_credentials(tls_registry, noauth_registry, store, tmp_path,
                                                        clean_proxy_env):
    """user:password in the proxy URL become Proxy-Authorization on CONNECT and on every
    absolute-URI request, and never reach the registry."""
    with ForwardProxy(hosts={"registry.test": "127.0.0.1"}, credentials=(PROXY_USER, PROXY_PASSWORD)) as forward:
        _use_proxy(clean_proxy_env, forward.url(PROXY_USERINFO))
        secure = _renamed(tls_registry.host, "registry.test")
        certs_d = _tls_registry_certs(tls_registry, tmp_path / "certs.d", secure)
        pull(Reference(secure, "library/hello", "latest"), store, client=tls_registry.client(certs_dirs=(certs_d,)),
             platform=AMD64)
        connects = [entry for entry in forward.log if entry.method == "CONNECT"]
        assert connects and all(_proxy_authorization(e) == _basic(PROXY_USER, PROXY_PASSWORD) for e in connects)

        forward.log.clear()
        plain = _renamed(noauth_registry.host, "registry.test")
        pull(Reference(plain, "library/hello", "latest"), ContentStore(tmp_path / "plain"),
             client=noauth_registry.client(insecure_registries=(plain,)), platform=AMD64)
        gets = [entry for entry in forward.log if entry.method == "GET"]
        assert gets and all(_proxy_authorization(e) == _basic(PROXY_USER, PROXY_PASSWORD) for e in gets)
        assert forward.rejected == 0
    assert PROXY_PASSWORD not in noauth_registry.process.log() and PROXY_USER not in noauth_registry.process.log()


@pytest.mark.parametrize("userinfo", ["", f"{PROXY_USER}:wrong%20secret"], ids=["missing", "wrong"])
@pytest.mark.parametrize("registry_kind", ["https", "http"])
def test_refused_proxy_credentials_are_a_clear_error_that_does_not_show_them(
        tls_registry, noauth_registry, store, tmp_path, clean_proxy_env, caplog, userinfo, registry_kind):
    caplog.set_level(logging.DEBUG)
    with ForwardProxy(hosts={"registry.test": "127.0.0.1"}, credentials=(PROXY_USER, PROXY_PASSWORD)) as forward:
        _use_proxy(clean_proxy_env, forward.url(userinfo))
        if registry_kind == "https":
            host = _renamed(tls_registry.host, "registry.test")
            client = tls_registry.client(certs_dirs=(_tls_registry_certs(tls_registry, tmp_path / "certs.d", host),),
                                         retry=RetryPolicy(base_delay=0.2))
        else:
            host = _renamed(noauth_registry.host, "registry.test")
            client = noauth_registry.client(insecure_registries=(host,), retry=RetryPolicy(base_delay=0.2))
        with pytest.raises(TransportError) as caught:
            pull(Reference(host, "library/hello", "latest"), store, client=client, platform=AMD64)
        assert forward.rejected == (1 if registry_kind == "https" else 2)  # https probe (+ http probe): no retries
    message = str(caught.value)
    assert "407" in message and "proxy" in message.lower()
    everything = "".join(traceback.format_exception(caught.value)) + caplog.text
    for secret in ("wrong secret", "wrong%20secret", PROXY_PASSWORD, urllib.parse.quote(PROXY_PASSWORD, safe="")):
        assert secret not in everything


def test_an_unreachable_proxy_error_does_not_show_its_credentials(noauth_registry, store, clean_proxy_env, caplog):
    caplog.set_level(logging.DEBUG)
    closed = closed_port()
    _use_proxy(clean_proxy_env, f"http://{PROXY_USERINFO}@{closed}")
    host = _renamed(noauth_registry.host, "registry.test")
    client = noauth_registry.client(insecure_registries=(host,), retry=RetryPolicy(attempts=1))
    with pytest.raises(TransportError) as caught:
        pull(Reference(host, "library/hello", "latest"), store, client=client, platform=AMD64)
    assert closed in str(caught.value) or "proxy" in str(caught.value).lower()
    everything = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert PROXY_USER not in everything
    assert urllib.parse.quote(PROXY_PASSWORD, safe="") not in everything and PROXY_PASSWORD not in everything


def _proxy_authorization(entry) -> str | None:
    return next((value for key, value in entry.headers if key.lower() == "proxy-authorization"), None)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()



def test_a_407_on_a_forwarded_request_is_not_retried(noauth_registry, clean_proxy_env):
    """An endpoint whose scheme is known (no probe) meets the 407 on a real request: one attempt."""
    from registry_client import Credentials, RegistryOptions
    from registry_client.transport import Call, Endpoint

    with ForwardProxy(hosts={"registry.test": "127.0.0.1"}, credentials=(PROXY_USER, PROXY_PASSWORD)) as forward:
        _use_proxy(clean_proxy_env, forward.url())
        host = _renamed(noauth_registry.host, "registry.test")
        endpoint = Endpoint(host, RegistryOptions(certs_dirs=(), retry=RetryPolicy(base_delay=0.2)), Credentials(),
                            base_url=f"http://{host}")
        with pytest.raises(TransportError) as caught:
            endpoint.request(Call("GET", endpoint.url("/v2/")))
        assert forward.rejected == 1
    assert f"proxy {forward.address}: 407" in str(caught.value) and "USER:PASSWORD@" in str(caught.value)
