"""TLS client certificates (certs.d/<host>/client.cert + client.key), insecure registries
served over TLS with a certificate nobody trusts or over plain HTTP, against the real registry."""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import warnings

import pytest

from registry_client import Credentials, Platform, RegistryClient, RegistryOptions, TransportError, pull
from registry_servers import closed_port

AMD64 = Platform("linux", "amd64")


def test_pull_with_a_client_certificate(mtls_registry, store):
    client = mtls_registry.client(insecure_registries=())
    pulled = pull(mtls_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    assert client.endpoint(mtls_registry.host).base_url == f"https://{mtls_registry.host}"
    assert all(store.has(layer) for layer in pulled.manifest.layers)


@pytest.mark.parametrize("insecure", [(), None], ids=["secure", "loopback-insecure-default"])
def test_pull_without_the_client_certificate_fails_clearly(mtls_registry, store, insecure):
    ca_only = mtls_registry.process.root.parent / "ca-only"
    options = {"certs_dirs": (ca_only,)} | ({"insecure_registries": insecure} if insecure is not None else {})
    with pytest.raises(TransportError) as caught:
        pull(mtls_registry.ref("library/hello:latest"), store, client=mtls_registry.client(**options))
    message = str(caught.value)
    # Even when plain http may be tried (loopback), the Go server's "400 HTTP request to an
    # HTTPS server" is not taken for a registry: the TLS failure is what gets reported.
    assert "requires a valid client certificate" in message and "client.cert" in message
    assert mtls_registry.host in message
    assert not (store.root / "blobs").exists()


def test_client_key_without_certificate_is_a_clear_error(mtls_registry, store, tmp_path):
    certs = tmp_path / "certs.d" / mtls_registry.host
    certs.mkdir(parents=True)
    (certs / "client.cert").write_text("not a certificate")
    with pytest.raises(TransportError) as caught:
        pull(mtls_registry.ref("library/hello:latest"), store, client=mtls_registry.client(certs_dirs=(tmp_path / "certs.d",)))
    assert "client.cert" in str(caught.value) and "client.key" in str(caught.value)


def test_insecure_registry_with_an_untrusted_certificate_skips_verification(tls_registry, store):
    client = tls_registry.client(certs_dirs=(), insecure_registries=(tls_registry.host,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pulled = pull(tls_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    endpoint = client.endpoint(tls_registry.host)
    assert endpoint.base_url == f"https://{tls_registry.host}"  # https first; TLS kept, unverified
    assert endpoint.http.verify is False
    assert all(store.has(layer) for layer in pulled.manifest.layers)
    assert not [w for w in caught if "InsecureRequestWarning" in type(w.message).__name__]


def test_untrusted_certificate_of_a_registry_not_listed_insecure_fails(tls_registry, store):
    with pytest.raises(TransportError) as caught:
        pull(tls_registry.ref("library/hello:latest"), store,
             client=tls_registry.client(certs_dirs=(), insecure_registries=()))
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) and "--insecure-registry" in str(caught.value)


def test_insecure_registry_listed_by_name_falls_back_to_plain_http(noauth_registry, store):
    client = noauth_registry.client(insecure_registries=(noauth_registry.host,))
    pulled = pull(noauth_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    assert client.endpoint(noauth_registry.host).base_url == f"http://{noauth_registry.host}"
    assert pulled.manifest.layers


def test_insecure_registry_still_presents_the_client_certificate(mtls_registry, store, tmp_path):
    """No CA for the server (insecure: unverified), but the client certificate is still sent."""
    mine = tmp_path / "certs.d" / mtls_registry.host
    mine.mkdir(parents=True)
    for name in ("client.cert", "client.key"):
        (mine / name).write_bytes((mtls_registry.process.root.parent / "certs.d" / mtls_registry.host / name).read_bytes())
    client = mtls_registry.client(certs_dirs=(tmp_path / "certs.d",), insecure_registries=(mtls_registry.host,))
    pulled = pull(mtls_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    assert client.endpoint(mtls_registry.host).http.verify is False
    assert pulled.manifest.layers


def test_the_https_error_tells_a_plain_http_server_from_a_tls_one(noauth_registry, tls_registry, mtls_registry):
    """Which error an unreachable registry reports depends on how https failed: a plain-HTTP
    server answers the TLS hello in HTTP (the hint: list it as insecure), a TLS server fails
    verification (the hint: its CA in certs.d), a closed port neither."""
    from registry_client.httpclient import ConnectionFailed
    from registry_client.options import RegistryOptions
    from registry_client.transport import Endpoint
    from registry_client.tls import answered_in_plain_http

    def https_failure(host: str) -> BaseException | None:
        endpoint = Endpoint(host, RegistryOptions(certs_dirs=()), Credentials())
        with pytest.raises(ConnectionFailed) as caught:
            endpoint.http.request("GET", f"https://{host}/v2/")
        return caught.value.reason

    plain, untrusted, closed = map(https_failure, (noauth_registry.host, tls_registry.host, closed_port()))
    assert answered_in_plain_http(plain)
    assert not answered_in_plain_http(untrusted) and "CERTIFICATE_VERIFY_FAILED" in str(untrusted)
    assert not answered_in_plain_http(closed) and isinstance(closed, ConnectionRefusedError)


def test_insecure_plain_http_registry_is_reached_over_http(noauth_registry, store):
    client = noauth_registry.client(insecure_registries=(noauth_registry.host,))
    pulled = pull(noauth_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    assert client.endpoint(noauth_registry.host).base_url == f"http://{noauth_registry.host}"
    assert pulled.manifest.layers


def test_plain_http_registry_not_listed_insecure_fails_saying_so(noauth_registry, store):
    with pytest.raises(TransportError) as caught:
        pull(noauth_registry.ref("library/hello:latest"), store,
             client=noauth_registry.client(insecure_registries=()), platform=AMD64)
    assert f"answers plain HTTP: list it with --insecure-registry {noauth_registry.host}" in str(caught.value)


def test_not_an_http_server_is_a_clear_error(store):
    """A port that answers something other than HTTP (here an SSH banner) fails cleanly."""
    listener = socket.create_server(("127.0.0.1", 0))
    host = f"127.0.0.1:{listener.getsockname()[1]}"

    def answer() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        with pytest.raises(TransportError) as caught:
            pull(f"{host}/library/hello:latest", store, client=RegistryClient(RegistryOptions(certs_dirs=())),
                 platform=AMD64)
    finally:
        listener.close()
    assert f"cannot reach registry {host}" in str(caught.value)
    assert "not an HTTP response: 'SSH-2.0-OpenSSH_9.2" in str(caught.value)



def test_pull_verifies_the_registry_against_the_ca_in_certs_d(tls_registry, store):
    """A registry not listed insecure is verified: its certs.d CA is loaded next to the system's."""
    client = tls_registry.client()
    pulled = pull(tls_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    endpoint = client.endpoint(tls_registry.host)
    assert endpoint.base_url == f"https://{tls_registry.host}" and endpoint.http.verify is True
    assert endpoint.http.tls.contexts(tls_registry.host).verifying_built
    assert all(store.has(layer) for layer in pulled.manifest.layers)


def test_an_insecure_registry_never_loads_the_system_ca_store(mtls_registry, noauth_registry, store, tmp_path):
    """Neither the unverified https probe of a loopback registry nor its plain-HTTP fallback needs
    the verifying context (the CA bundle costs tens of ms); client certificates are still sent."""
    client = mtls_registry.client(insecure_registries=(mtls_registry.host,))
    pull(mtls_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    assert not client.endpoint(mtls_registry.host).http.tls.contexts(mtls_registry.host).verifying_built
    # The process-wide default pair, in a fresh process: a plain-HTTP loopback pull leaves it unbuilt.
    script = (
        "import sys; from registry_client import pull, ContentStore, RegistryClient, RegistryOptions\n"
        "from registry_client.tls import default_contexts\n"
        "pull(sys.argv[1], ContentStore(sys.argv[2]), client=RegistryClient(RegistryOptions(certs_dirs=())))\n"
        "print(default_contexts().verifying_built)\n")
    reference = f"{noauth_registry.host}/library/hello:latest"
    result = subprocess.run([sys.executable, "-c", script, reference, str(tmp_path / "fresh")],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_broken_ca_in_certs_d_fails_before_any_connection(noauth_registry, store, tmp_path):
    """The verifying context is built late, but certs.d is read at once: even a registry that will
    be reached over plain HTTP reports its unusable CA file."""
    certs = tmp_path / "certs.d" / noauth_registry.host
    certs.mkdir(parents=True)
    (certs / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    client = noauth_registry.client(certs_dirs=(tmp_path / "certs.d",))
    with pytest.raises(TransportError) as caught:
        pull(noauth_registry.ref("library/hello:latest"), store, client=client, platform=AMD64)
    assert f"cannot use {certs / 'ca.crt'}" in str(caught.value)
    assert not (store.root / "blobs").exists()


def test_an_unusable_ssl_cert_file_is_a_clear_error_when_verifying(tls_registry, store, tmp_path, monkeypatch):
    """SSL_CERT_FILE is read when the verifying context is first needed; a wrong one is named."""
    missing = tmp_path / "no-such-bundle.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    with pytest.raises(TransportError) as caught:
        pull(tls_registry.ref("library/hello:latest"), store, client=tls_registry.client(), platform=AMD64)
    assert f"cannot load the system's CA certificates (SSL_CERT_FILE={missing}" in str(caught.value)
