"""docker's reference normalisation, as a table (distribution/reference normalize_test.go)."""
from __future__ import annotations

import pytest

from registry_client import InvalidReference, parse_reference

D = "sha256:" + "a" * 64

VALID = [
    # text, registry, repository, tag, digest, str()
    ("ubuntu", "docker.io", "library/ubuntu", "latest", None, "docker.io/library/ubuntu:latest"),
    ("ubuntu:24.04", "docker.io", "library/ubuntu", "24.04", None, "docker.io/library/ubuntu:24.04"),
    ("library/ubuntu", "docker.io", "library/ubuntu", "latest", None, "docker.io/library/ubuntu:latest"),
    ("docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", None, "docker.io/library/ubuntu:latest"),
    ("index.docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", None, "docker.io/library/ubuntu:latest"),
    ("index.docker.io/user/app:1", "docker.io", "user/app", "1", None, "docker.io/user/app:1"),
    ("user/app", "docker.io", "user/app", "latest", None, "docker.io/user/app:latest"),
    ("myhost/x", "docker.io", "myhost/x", "latest", None, "docker.io/myhost/x:latest"),
    ("localhost/x", "localhost", "x", "latest", None, "localhost/x:latest"),
    ("localhost:5000/x/y:t", "localhost:5000", "x/y", "t", None, "localhost:5000/x/y:t"),
    ("127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", None, "127.0.0.1:5000/x:latest"),
    ("myreg.local/x", "myreg.local", "x", "latest", None, "myreg.local/x:latest"),
    ("Upper/x", "Upper", "x", "latest", None, "Upper/x:latest"),
    ("[::1]:5000/x", "[::1]:5000", "x", "latest", None, "[::1]:5000/x:latest"),
    ("ghcr.io/a/b/c:v1.2_x-y", "ghcr.io", "a/b/c", "v1.2_x-y", None, "ghcr.io/a/b/c:v1.2_x-y"),
    ("a__b/c-d--e/f.g", "docker.io", "a__b/c-d--e/f.g", "latest", None, "docker.io/a__b/c-d--e/f.g:latest"),
    (f"ubuntu@{D}", "docker.io", "library/ubuntu", None, D, f"docker.io/library/ubuntu@{D}"),
    (f"ubuntu:24.04@{D}", "docker.io", "library/ubuntu", "24.04", D, f"docker.io/library/ubuntu:24.04@{D}"),
    (f"localhost:5000/x@{D}", "localhost:5000", "x", None, D, f"localhost:5000/x@{D}"),
]


@pytest.mark.parametrize("text, registry, repository, tag, digest, canonical", VALID)
def test_valid_references(text, registry, repository, tag, digest, canonical):
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert str(ref) == canonical
    assert parse_reference(str(ref)) == ref


INVALID = [
    ("", "empty"),
    ("a" * 64, "64-byte hexadecimal"),
    ("Ubuntu", "must be lowercase"),
    ("docker.io/Library/ubuntu", "must be lowercase"),
    ("ubuntu:", "invalid reference format"),
    ("ubuntu:-tag", "invalid reference format"),
    ("ubuntu:" + "t" * 129, "invalid reference format"),
    ("-ubuntu", "invalid reference format"),
    ("ubuntu//x", "invalid reference format"),
    ("ubuntu@sha256:abc", "invalid reference format"),
    ("ubuntu@sha256:" + "a" * 63 + "g", "invalid reference format"),
    ("ubuntu@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("ubuntu@sha256:" + "a" * 65, "invalid checksum digest"),
    ("host:port/x", "invalid reference format"),
    ("a/" * 130 + "b", "255 characters"),
    ("ubuntu:tag@", "invalid reference format"),
]


@pytest.mark.parametrize("text, message", INVALID)
def test_invalid_references(text, message):
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("text, api_host, familiar", [
    ("ubuntu", "registry-1.docker.io", "ubuntu:latest"),
    ("user/app:1", "registry-1.docker.io", "user/app:1"),
    ("localhost:5000/x", "localhost:5000", "localhost:5000/x:latest"),
])
def test_api_host_and_familiar_name(text, api_host, familiar):
    ref = parse_reference(text)
    assert ref.api_host == api_host and ref.familiar == familiar


def test_identifier_prefers_digest():
    assert parse_reference(f"ubuntu:1@{D}").identifier == D
    assert parse_reference("ubuntu:1").identifier == "1"
