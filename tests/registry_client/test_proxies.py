"""HTTPS_PROXY / HTTP_PROXY / NO_PROXY, with Go's rules as docker applies them, through a real
forwarding proxy (tests/support/http_proxy.py) that counts what it carried."""
from __future__ import annotations

import shutil
from typing import Iterator

import pytest

from registry_client import Platform, Reference, RetryPolicy, TransportError, pull
from registry_client.proxies import ProxySettings
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
