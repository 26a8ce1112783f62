"""Image references, parsed and normalised exactly as docker does.

docker's rules (github.com/distribution/reference, ``normalize.go`` and ``regexp.go``):

- grammar: ``[domain[:port]/]path[:tag][@digest]``; path components are lower case;
- the first ``/``-separated component is a registry only if it is ``localhost``, or contains
  a ``.`` or a ``:``, or has an upper-case letter; otherwise the whole string is a Docker Hub path;
- ``index.docker.io`` is an alias of ``docker.io``; a one-component Hub path gets ``library/``;
- no tag and no digest means ``:latest``; with both, the digest decides what is fetched.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidReference
from .oci import DIGEST_HEX_LENGTH, LOWER_HEX
from .patterns import pattern

DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
_LEGACY_HUB = "index.docker.io"
_OFFICIAL_PREFIX = "library/"
_NAME_TOTAL_LENGTH_MAX = 255

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|\[[a-fA-F0-9:]+\])"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = (
    rf"^(?P<name>(?:{_DOMAIN_AND_PORT}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised reference: ``registry`` is canonical (``docker.io``, never ``index.docker.io``)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository``: the fully qualified repository name."""
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/``: the digest when there is one, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        """The host requests go to: Docker Hub's API lives on registry-1.docker.io."""
        return DOCKER_HUB_API_HOST if self.registry == DOCKER_HUB else self.registry

    @property
    def familiar(self) -> str:
        """The short form docker prints: ``ubuntu:latest``, ``user/app@sha256:...``."""
        name = self.repository if self.registry == DOCKER_HUB else self.name
        if self.registry == DOCKER_HUB and name.startswith(_OFFICIAL_PREFIX):
            name = name[len(_OFFICIAL_PREFIX):]
        return name + self._suffix()

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None)

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def parse_reference(text: str) -> Reference:
    """Parse ``text`` like ``docker pull`` does; raise InvalidReference with a clear reason."""
    if not text:
        raise InvalidReference("invalid reference format: empty reference", ref=text)
    if len(text) == 64 and not text.strip(LOWER_HEX):  # an image ID, not a name
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings", ref=text
        )
    domain, remainder = _split_domain(text)
    remote_name = remainder.split("@", 1)[0].split(":", 1)[0]
    if remote_name.lower() != remote_name:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote_name}) must be lowercase", ref=text
        )
    match = pattern(_REFERENCE).match(f"{domain}/{remainder}")
    if match is None:
        raise InvalidReference(f"invalid reference format: {text!r}", ref=text)
    if len(match["name"]) > _NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"repository name must not be more than {_NAME_TOTAL_LENGTH_MAX} characters", ref=text
        )
    digest = match["digest"]
    if digest is not None:
        _check_digest(digest, text)
    repository = match["name"][len(domain) + 1:]
    tag = match["tag"] or (None if digest else "latest")
    return Reference(domain, repository, tag, digest)


def _split_domain(text: str) -> tuple[str, str]:
    first, slash, rest = text.partition("/")
    looks_like_host = (
        first == "localhost" or "." in first or ":" in first or first.lower() != first
    )
    if slash and looks_like_host:
        domain, remainder = first, rest
    else:
        domain, remainder = DOCKER_HUB, text
    if domain == _LEGACY_HUB:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in remainder.split(":", 1)[0].split("@", 1)[0]:
        remainder = _OFFICIAL_PREFIX + remainder
    return domain, remainder


def _check_digest(digest: str, text: str) -> None:
    algorithm, _, encoded = digest.partition(":")
    expected = DIGEST_HEX_LENGTH.get(algorithm)
    if expected is None:
        raise InvalidReference(f"unsupported digest algorithm {algorithm!r}", ref=text)
    if len(encoded) != expected or encoded.lower() != encoded:
        raise InvalidReference(f"invalid checksum digest length or format: {digest}", ref=text)
