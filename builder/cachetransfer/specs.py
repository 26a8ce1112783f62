"""``--cache-to`` and ``--cache-from``: buildx's ``type=...,key=value`` syntax, parsed before the build.

Kinds: ``local`` (an OCI layout directory), ``registry`` (the same cache as an OCI artifact
under a reference) and ``inline`` (export only: the records ride in the image config). As in
buildx, a bare value (``--cache-from REF``) means ``type=registry,ref=REF``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from builder.errors import UsageError
from grammar import record

LOCAL, REGISTRY, INLINE = "local", "registry", "inline"
MODES = ("min", "max")
EXPORT_TIMEOUT_SECONDS = 120.0  # a CI job should not wait longer than this for its cache
# buildx options that choose formats we always use (OCI image manifest, gzip layers): accepted, ignored.
_IGNORED = ("ignore-error", "image-manifest", "oci-mediatypes", "compression")


@record
class CacheSpec:
    kind: str  # LOCAL, REGISTRY or INLINE
    path: Path | None = None  # local: dest for --cache-to, src for --cache-from
    mode: str = "max"  # export: "max" every step of every stage, "min" the final image's steps
    timeout: float = EXPORT_TIMEOUT_SECONDS  # export: total time for all attempts
    ref: str = ""  # registry: where the cache (or the image with an inline cache) lives

    @property
    def location(self) -> str:
        """What a message names: the directory, the reference, or the image."""
        return str(self.path) if self.kind == LOCAL else self.ref or "the image config"


def parse_cache_specs(values: list[str], *, export: bool) -> tuple[CacheSpec, ...]:
    return tuple(_parse(value, export=export) for value in values)


def _parse(value: str, *, export: bool) -> CacheSpec:
    flag = "--cache-to" if export else "--cache-from"
    pairs = value.split(",") if "=" in value or not value else [f"type={REGISTRY}", f"ref={value}"]
    fields: dict[str, str] = {}
    for part in pairs:
        name, sep, text = part.partition("=")
        if not sep or not name:
            raise UsageError(f"invalid {flag} {value!r}: expected key=value pairs or an image reference")
        fields[name.strip()] = text
    kind = fields.pop("type", LOCAL)
    mode = fields.pop("mode", "max") if export else "max"
    if mode not in MODES:
        raise UsageError(f"invalid {flag} mode={mode!r}: expected min or max")
    timeout = _seconds(fields.pop("timeout", ""), flag) if export else EXPORT_TIMEOUT_SECONDS
    for name in _IGNORED:
        fields.pop(name, None)
    if kind == LOCAL:
        spec = CacheSpec(LOCAL, Path(_required(fields, "dest" if export else "src", flag, kind)).expanduser(),
                         mode, timeout)
    elif kind == REGISTRY:
        spec = CacheSpec(REGISTRY, None, mode, timeout, _reference(_required(fields, "ref", flag, kind), flag))
    elif kind == INLINE and export:
        spec = CacheSpec(INLINE, None, "min", timeout)  # an image carries only its own layers
    elif kind == INLINE:
        raise UsageError("--cache-from type=inline does not exist: use --cache-from IMAGE "
                         "(an image built with --cache-to type=inline)")
    else:
        raise UsageError(f"{flag} type={kind} is not supported (supported: local, registry, inline)")
    if fields:
        raise UsageError(f"unknown {flag} option(s): {', '.join(sorted(fields))}")
    return spec


def _required(fields: dict[str, str], name: str, flag: str, kind: str) -> str:
    value = fields.pop(name, "")
    if not value:
        raise UsageError(f"{flag} type={kind} needs {name}=" + ("DIR" if kind == LOCAL else "REF"))
    return value


def _reference(text: str, flag: str) -> str:
    from registry_client import InvalidReference, parse_reference

    try:
        reference = parse_reference(text)
    except InvalidReference as exc:
        raise UsageError(f"invalid {flag} ref={text!r}: {exc}") from None
    return str(reference)


def _seconds(text: str, flag: str) -> float:
    if not text:
        return EXPORT_TIMEOUT_SECONDS
    try:
        seconds = float(text.removesuffix("s"))
    except ValueError:
        raise UsageError(f"invalid {flag} timeout={text!r}: expected seconds, e.g. 60s") from None
    if seconds <= 0:
        raise UsageError(f"invalid {flag} timeout={text!r}: must be positive")
    return seconds


@record
class TransferReport:
    """What one ``--cache-to`` (``exported``) or ``--cache-from`` did."""

    spec: CacheSpec
    exported: bool
    records: int = 0
    layers_moved: int = 0  # export: compressed or uploaded; import: verified into the store
    layers_reused: int = 0  # export: already in the directory or registry
    layers_rejected: int = 0  # import: failed verification (their steps run)
    seconds: float = 0.0
    error: str = ""

    @property
    def summary(self) -> str:
        verb, where = ("exported", "to") if self.exported else ("imported", "from")
        if self.error:
            return f"cache {verb[:-2]} {where} {self.spec.location} failed: {self.error}"
        return (f"{verb} cache {where} {self.spec.location}: {self.records} steps, {self.layers_moved} layers"
                f" ({self.layers_reused} reused, {self.layers_rejected} rejected) in {self.seconds:.1f}s")


def parse_cache_options(options: argparse.Namespace) -> tuple[tuple[CacheSpec, ...], tuple[CacheSpec, ...]]:
    """(--cache-to specs, --cache-from specs) from the parsed build flags."""
    return (parse_cache_specs(getattr(options, "cache_to", []) or [], export=True),
            parse_cache_specs(getattr(options, "cache_from", []) or [], export=False))
