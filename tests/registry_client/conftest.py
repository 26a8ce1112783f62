"""Session-scoped real registries (Debian's docker-registry 2.8) on 127.0.0.1.

Flavours: no auth, htpasswd, Docker-Hub-like (token auth + blob redirects to a fault-
injecting "CDN" on another host name), and TLS with a custom CA. Each is started once per
session, seeded with the test images by our own push code, and stopped by its PID.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from registry_client import ContentStore, Credentials, Reference, RegistryClient, push
from registry_images import TestImage, make_multi_arch, make_zstd
from registry_clients import PASSWORD, USER, StaticCredentials, make_client  # noqa: F401 (re-exported)
from registry_servers import BlobHost, RegistryProcess, TokenServer, make_self_signed
from tests.support.http_proxy import FaultProxy

if shutil.which("docker-registry") is None:  # pragma: no cover - CI installs it (tests/apt-packages.txt)
    pytest.skip("docker-registry is not installed (apt-get install docker-registry)", allow_module_level=True)


@dataclass(frozen=True)
class Images:
    store: ContentStore
    multi: TestImage
    docker: TestImage
    zstd: TestImage


@dataclass(frozen=True)
class Registry:
    host: str
    process: RegistryProcess
    credentials: dict[str, Credentials]
    client_options: dict[str, object]
    proxy: FaultProxy | None = None  # set when the registry is reached through a FaultProxy

    def client(self, *, anonymous: bool = False, **options: object) -> RegistryClient:
        merged = {**self.client_options, **options}
        return make_client(None if anonymous else self.credentials, **merged)

    def ref(self, path: str) -> Reference:
        repository, _, tag = path.partition(":")
        return Reference(self.host, repository, tag or "latest")


def seed(registry: Registry, images: Images) -> None:
    client = registry.client()
    push(registry.ref("library/hello:latest"), images.store, images.multi.top, client=client)
    push(registry.ref("library/hello:docker"), images.store, images.docker.top, client=client)
    push(registry.ref("test/zstd:latest"), images.store, images.zstd.top, client=client)


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    store = ContentStore(tmp_path_factory.mktemp("source-store"))
    return Images(store, make_multi_arch(store), make_multi_arch(store, docker=True), make_zstd(store))


def _start(tmp: Path, extra: str, credentials: dict, options: dict, images: Images) -> Iterator[Registry]:
    process = RegistryProcess(tmp, extra)
    try:
        registry = Registry(process.host, process, {process.host: c for c in credentials.values()}, options)
        seed(registry, images)
        yield registry
    finally:
        process.stop()


@pytest.fixture(scope="session")
def noauth_registry(tmp_path_factory: pytest.TempPathFactory, images: Images) -> Iterator[Registry]:
    yield from _start(tmp_path_factory.mktemp("noauth"), "", {}, {}, images)


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory, images: Images) -> Iterator[Registry]:
    tmp = tmp_path_factory.mktemp("basic")
    line = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, check=True).stdout
    (tmp / "htpasswd").write_bytes(line)
    extra = f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {tmp / 'htpasswd'}\n"
    yield from _start(tmp, extra, {"any": Credentials(USER, PASSWORD)}, {}, images)


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(tmp_path_factory.mktemp("tokens"), {USER: PASSWORD})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def blob_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobHost]:
    host = BlobHost(tmp_path_factory.mktemp("hub") / "data")
    yield host
    host.stop()


@pytest.fixture(scope="session")
def hub_registry(images: Images, token_server: TokenServer, blob_host: BlobHost) -> Iterator[Registry]:
    """Like Docker Hub: anonymous pull tokens, push for testuser, blobs redirected to a CDN."""
    tmp = blob_host.root.parent
    extra = token_server.registry_config() + (
        f"middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {blob_host.base_url}\n")
    yield from _start(tmp, extra, {"any": Credentials(USER, PASSWORD)}, {}, images)


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory, images: Images) -> Iterator[Registry]:
    tmp = tmp_path_factory.mktemp("tls")
    ca = make_self_signed(tmp, "test-ca")
    key, cert = make_self_signed(tmp, "registry", san="IP:127.0.0.1,DNS:localhost,DNS:registry.test", ca=ca)
    extra = f"  tls:\n    certificate: {cert}\n    key: {key}\n"
    process = RegistryProcess(tmp, extra)
    try:
        certs_dir = tmp / "certs.d"
        (certs_dir / process.host).mkdir(parents=True)
        shutil.copy(ca[1], certs_dir / process.host / "ca.crt")
        options = {"certs_dirs": (certs_dir,), "insecure_registries": ()}
        registry = Registry(process.host, process, {}, options)
        seed(registry, images)
        yield registry
    finally:
        process.stop()


@pytest.fixture(scope="session")
def mtls_registry(tmp_path_factory: pytest.TempPathFactory, images: Images) -> Iterator[Registry]:
    """TLS that requires a client certificate signed by its client CA (``http.tls.clientcas``).

    ``registry.client()`` uses a certs.d directory holding ca.crt, client.cert and client.key;
    ``registry.process.root.parent / "ca-only"`` is a certs.d whose directory has only ca.crt.
    """
    tmp = tmp_path_factory.mktemp("mtls")
    ca = make_self_signed(tmp, "server-ca")
    key, cert = make_self_signed(tmp, "registry", san="IP:127.0.0.1,DNS:localhost", ca=ca)
    client_ca = make_self_signed(tmp, "client-ca")
    client_key, client_cert = make_self_signed(tmp, "client", san="DNS:client", ca=client_ca)
    extra = f"  tls:\n    certificate: {cert}\n    key: {key}\n    clientcas:\n      - {client_ca[1]}\n"
    process = RegistryProcess(tmp, extra)
    try:
        for name, files in (("certs.d", {"ca.crt": ca[1], "client.cert": client_cert, "client.key": client_key}),
                            ("ca-only", {"ca.crt": ca[1]})):
            (tmp / name / process.host).mkdir(parents=True)
            for target, source in files.items():
                shutil.copy(source, tmp / name / process.host / target)
        registry = Registry(process.host, process, {}, {"certs_dirs": (tmp / "certs.d",)})
        seed(registry, images)
        yield registry
    finally:
        process.stop()


@pytest.fixture()
def fault_proxy(noauth_registry: Registry) -> Iterator[Registry]:
    """The no-auth registry behind a ``FaultProxy`` (``.proxy``): add ``Rule``s to it."""
    proxy = FaultProxy(noauth_registry.host)
    try:
        yield Registry(proxy.address, noauth_registry.process, {}, {}, proxy)
    finally:
        proxy.stop()


@pytest.fixture()
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")
