"""Media types of the OCI image spec and Docker's schema2, and what each one is for."""
from __future__ import annotations


class MediaType:
    """The media type strings, as one namespace for users of the package."""

    OCI_INDEX = "application/vnd.oci.image.index.v1+json"
    OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
    OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
    OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
    OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
    OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
    OCI_EMPTY = "application/vnd.oci.empty.v1+json"
    OCI_NONDISTRIBUTABLE_PREFIX = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
    DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
    DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
    DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"


OCI_INDEX = MediaType.OCI_INDEX
OCI_MANIFEST = MediaType.OCI_MANIFEST
OCI_CONFIG = MediaType.OCI_CONFIG
OCI_LAYER = MediaType.OCI_LAYER
OCI_LAYER_GZIP = MediaType.OCI_LAYER_GZIP
OCI_LAYER_ZSTD = MediaType.OCI_LAYER_ZSTD
OCI_EMPTY = MediaType.OCI_EMPTY
OCI_NONDISTRIBUTABLE_PREFIX = MediaType.OCI_NONDISTRIBUTABLE_PREFIX
DOCKER_MANIFEST_LIST = MediaType.DOCKER_MANIFEST_LIST
DOCKER_MANIFEST = MediaType.DOCKER_MANIFEST
DOCKER_CONFIG = MediaType.DOCKER_CONFIG
DOCKER_LAYER_GZIP = MediaType.DOCKER_LAYER_GZIP
DOCKER_FOREIGN_LAYER_GZIP = MediaType.DOCKER_FOREIGN_LAYER_GZIP
DOCKER_SCHEMA1 = MediaType.DOCKER_SCHEMA1
DOCKER_SCHEMA1_SIGNED = MediaType.DOCKER_SCHEMA1_SIGNED

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})

# Schema1 is deliberately absent: asking for it would make distribution 2.8 convert
# schema2 images into it instead of answering 404/406 (see registry-protocol.md §4.1).
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

GZIP_LAYER_TYPES = frozenset({
    OCI_LAYER_GZIP,
    DOCKER_LAYER_GZIP,
    DOCKER_FOREIGN_LAYER_GZIP,
    OCI_NONDISTRIBUTABLE_PREFIX + "+gzip",
})
ZSTD_LAYER_TYPES = frozenset({OCI_LAYER_ZSTD, OCI_NONDISTRIBUTABLE_PREFIX + "+zstd"})
PLAIN_LAYER_TYPES = frozenset({OCI_LAYER, OCI_NONDISTRIBUTABLE_PREFIX})
LAYER_TYPES = GZIP_LAYER_TYPES | ZSTD_LAYER_TYPES | PLAIN_LAYER_TYPES


def is_foreign(media_type: str) -> bool:
    """Foreign/non-distributable layers are fetched from their ``urls`` and never pushed."""
    return media_type == DOCKER_FOREIGN_LAYER_GZIP or media_type.startswith(
        OCI_NONDISTRIBUTABLE_PREFIX
    )


def base_type(content_type: str | None) -> str:
    """``Content-Type`` without parameters (``; charset=utf-8``), lower-cased."""
    return (content_type or "").split(";", 1)[0].strip().lower()
