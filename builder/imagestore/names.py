"""How local images are named: index.json annotations, and what a user may type to mean one.

A user may name an image the way docker accepts it: a short name (``busybox``, meaning
``docker.io/library/busybox:latest``), a full reference, ``name@sha256:...``, an image ID
(the config digest, ``sha256:`` optional), or a unique prefix of an ID or manifest digest
(``3f57d9401f8d``). Names win over ID prefixes, as in dockerd: ``abc`` is first a tag.
"""
from __future__ import annotations

import re
from dataclasses import replace
from types import MappingProxyType

from registry_client import Descriptor, InvalidReference, Reference, parse_reference

REF_NAME = "org.opencontainers.image.ref.name"  # full normalised reference, see layout.py
REPO_DIGEST = "io.pybuild.image.repo-digest"  # name@digest the registry served it as
_ID_PREFIX = re.compile(r"^(?:sha256:)?([0-9a-f]{1,64})$")


def entry_name(entry: Descriptor) -> Reference | None:
    """The reference an index.json entry is tagged with; None for a dangling image."""
    text = entry.annotations.get(REF_NAME)
    if not text:
        return None
    try:
        return parse_reference(text)
    except InvalidReference:
        return None  # written by another tool with a bare tag: not a name we can match


def with_name(descriptor: Descriptor, name: Reference | None, repo_digest: str | None = None) -> Descriptor:
    """``descriptor`` as an index.json entry: our annotations replace any it carried."""
    annotations = {k: v for k, v in descriptor.annotations.items() if k not in (REF_NAME, REPO_DIGEST)}
    if name is not None:
        annotations[REF_NAME] = str(name)
    if repo_digest:
        annotations[REPO_DIGEST] = repo_digest
    return replace(descriptor, annotations=MappingProxyType(annotations))


def parse_name(text: str) -> Reference | None:
    """``text`` as a reference, or None when it can only be an ID."""
    try:
        return parse_reference(text)
    except InvalidReference:
        return None


def id_prefix(text: str) -> str | None:
    """The hex part of ``text`` if it may be an image ID or digest prefix."""
    match = _ID_PREFIX.match(text)
    return match.group(1) if match else None


def same_name(a: Reference, b: Reference) -> bool:
    """Equal as stored names: a tag and a digest count, an absent tag is not ``latest``."""
    return (a.name, a.tag, a.digest) == (b.name, b.tag, b.digest)
