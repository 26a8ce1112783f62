"""``--output`` / ``-o`` values, parsed exactly as buildx parses them.

Each value is one CSV record (quotes allowed, as buildx reads it with encoding/csv):

- ``type=TYPE[,dest=PATH][,key=value...]``: keys are lower-cased and trimmed, values kept;
- a single field that is not ``type=...`` is a path: ``-o out`` means ``type=local,dest=out``;
- ``-`` alone means ``type=tar,dest=-`` (the root filesystem as a tar on stdout);
- ``type=registry`` is ``type=image`` with ``push=true`` unless ``push`` is given.
"""
from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import field
from types import MappingProxyType

from builder.errors import UsageError
from builder.image.compression import CODECS, GZIP, Compression
from grammar import record

LOCAL, TAR, OCI, DOCKER, IMAGE, REGISTRY = "local", "tar", "oci", "docker", "image", "registry"
TYPES = (LOCAL, TAR, OCI, DOCKER, IMAGE)
STDOUT = "-"


@record
class OutputSpec:
    type: str
    dest: str | None = None
    attrs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def flag(self, key: str, default: bool = False) -> bool:
        """A boolean attribute (``push=true``); anything but true/false is a usage error."""
        value = self.attrs.get(key)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise UsageError(f"invalid value {value!r} for {key} in --output type={self.type}: expected true or false")

    @property
    def names(self) -> tuple[str, ...]:
        """``name=a,b`` (quoted in the CSV) -> the names to give the image, in order."""
        return tuple(n.strip() for n in self.attrs.get("name", "").split(",") if n.strip())

    def compression(self, default_codec: str = GZIP) -> Compression:
        codec = self.attrs.get("compression", default_codec).strip().lower()
        if codec not in CODECS:
            raise UsageError(f"unsupported compression type {codec!r} (expected {', '.join(CODECS)})")
        level_text = self.attrs.get("compression-level")
        try:
            level = int(level_text) if level_text else None
        except ValueError:
            raise UsageError(f"invalid compression-level {level_text!r}") from None
        return Compression(codec, level, self.flag("force-compression"))

    @property
    def as_directory(self) -> bool:
        """oci/docker outputs write a layout directory with ``tar=false`` (as BuildKit)."""
        return not self.flag("tar", default=True)


def parse_output(text: str) -> OutputSpec:
    """One ``--output`` value -> OutputSpec; UsageError with buildx's wording when malformed."""
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error as exc:
        raise UsageError(f"invalid --output {text!r}: {exc}") from None
    if len(fields) == 1 and fields[0] == text and not text.startswith("type="):
        if text != STDOUT:
            return OutputSpec(LOCAL, text)
        return OutputSpec(TAR, STDOUT)
    kind = ""
    attrs: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"invalid value {item}")
        key = key.strip().lower()
        if key == "type":
            kind = value
        else:
            attrs[key] = value
    if not kind:
        raise UsageError("type is required for output")
    if kind == REGISTRY:
        kind = IMAGE
        attrs.setdefault("push", "true")
    if kind not in TYPES:
        raise UsageError(f"unsupported output type {kind!r} (expected one of {', '.join(TYPES)}, registry)")
    dest = attrs.pop("dest", None)
    return OutputSpec(kind, dest, MappingProxyType(attrs))
