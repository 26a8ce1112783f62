"""OCI annotations: ``--annotation`` and the exporters' ``annotation*.KEY=VALUE`` attributes.

buildx turns each ``--annotation [TYPE[,TYPE][PLATFORM]:]KEY=VALUE`` into an attribute of every
output (``annotation-manifest[linux/amd64].KEY=VALUE``; no type: ``annotation.KEY``), and the same
attributes may be written in ``-o`` directly. What each output does with them follows docker 26:

- the local store (``--load``, ``type=image``) and pushes drop them: docker's image store keeps no
  manifest of its own and the manifest docker pushes carries none (measured with docker 26.1);
- ``type=oci`` and ``type=docker`` files, which docker's default driver refuses, do what BuildKit's
  exporters do: ``manifest`` annotations (the default) go into the image manifest, which becomes an
  OCI manifest, ``manifest-descriptor`` ones onto its entry in ``index.json``; a single-platform
  image has no index, so ``index``/``index-descriptor`` ones are refused, as BuildKit refuses them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from types import MappingProxyType

from grammar import record
from registry_client import Platform

from builder.errors import UsageError

MANIFEST, MANIFEST_DESCRIPTOR, INDEX, INDEX_DESCRIPTOR = "manifest", "manifest-descriptor", "index", "index-descriptor"
TYPES = (MANIFEST, MANIFEST_DESCRIPTOR, INDEX, INDEX_DESCRIPTOR)
_ATTRIBUTE = re.compile(r"^annotation(?:-([a-z-]+))?(?:\[([^\]]*)\])?\.(.+)$")
_EMPTY: Mapping[str, str] = MappingProxyType({})


@record
class Annotation:
    kinds: tuple[str, ...]  # empty: the default, the image manifest
    platform: str | None
    key: str
    value: str

    def attributes(self) -> dict[str, str]:
        """The output attributes buildx makes of it."""
        where = f"[{self.platform}]" if self.platform else ""
        if not self.kinds:
            return {f"annotation{where}.{self.key}": self.value}
        return {f"annotation-{kind}{where}.{self.key}": self.value for kind in self.kinds}


@record
class ImageAnnotations:
    """The annotations of one exported single-platform image, by where they go."""

    manifest: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    manifest_descriptor: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


def parse_annotation(text: str) -> Annotation:
    """``[TYPE[,TYPE...][PLATFORM]:]KEY=VALUE`` with buildx's checks and messages."""
    left, separator, value = text.partition("=")
    if not separator:
        raise UsageError(f"invalid annotation {text!r}, expected key=value")
    if not left:
        raise UsageError(f"invalid annotation format, expected <type>:<key>=<value>, got {text!r}")
    types, colon, key = left.partition(":")
    if not colon:
        return Annotation((), None, left, value)
    platform = None
    if types.endswith("]") and "[" in types:
        types, _, platform = types[:-1].partition("[")
        _check_platform(platform)
    kinds = tuple(kind for kind in types.split(",") if kind)
    for kind in kinds:
        _check_type(kind)
    return Annotation(kinds, platform, key, value)


def annotation_attributes(texts: list[str]) -> dict[str, str]:
    """Every ``--annotation`` as output attributes (a later one of the same key wins)."""
    attributes: dict[str, str] = {}
    for text in texts:
        attributes.update(parse_annotation(text).attributes())
    return attributes


def image_annotations(attrs: Mapping[str, str], platform: Platform) -> ImageAnnotations:
    """What an output's ``annotation*`` attributes put on the image of ``platform``."""
    found: dict[str, dict[str, str]] = {kind: {} for kind in TYPES}
    for name, value in attrs.items():
        match = _ATTRIBUTE.match(name)
        if match is None:
            continue
        kind, where, key = match.group(1) or MANIFEST, match.group(2), match.group(3)
        _check_type(kind)
        if where and not _same_platform(where, platform):
            continue
        found[kind][key] = value
    refuse_index_annotations(attrs)
    return ImageAnnotations(MappingProxyType(found[MANIFEST]), MappingProxyType(found[MANIFEST_DESCRIPTOR]))


def refuse_index_annotations(attrs: Mapping[str, str]) -> None:
    """A file output of a single-platform image has no index to annotate: BuildKit's error, before the build."""
    for name in attrs:
        match = _ATTRIBUTE.match(name)
        if match is not None and match.group(1) in (INDEX, INDEX_DESCRIPTOR):
            raise UsageError("index annotations not supported for single platform export")


def _same_platform(text: str, platform: Platform) -> bool:
    _check_platform(text)
    return Platform.parse(text).normalized() == Platform(platform.os, platform.architecture,
                                                          platform.variant).normalized()


def _check_type(kind: str) -> None:
    if kind not in TYPES:
        raise UsageError(f"unknown annotation type {kind!r} (expected {', '.join(TYPES)})")


def _check_platform(text: str) -> None:
    parts = text.split("/")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise UsageError(f"invalid platform {text!r} in annotation: expected OS/ARCH[/VARIANT]")
