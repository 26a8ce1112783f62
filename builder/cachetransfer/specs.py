"""``--cache-to`` and ``--cache-from``: buildx's ``type=...,key=value`` syntax, parsed before the build."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builder.errors import UsageError

MODES = ("min", "max")
EXPORT_TIMEOUT_SECONDS = 120.0  # a CI job should not wait longer than this for its cache


@dataclass(frozen=True, slots=True)
class CacheSpec:
    kind: str  # "local" (so far the only kind)
    path: Path  # dest for --cache-to, src for --cache-from
    mode: str = "max"  # export: "max" every step of every stage, "min" the final image's steps
    timeout: float = EXPORT_TIMEOUT_SECONDS  # export: total time for all attempts


def parse_cache_specs(values: list[str], *, export: bool) -> tuple[CacheSpec, ...]:
    return tuple(_parse(value, export=export) for value in values)


def _parse(value: str, *, export: bool) -> CacheSpec:
    flag = "--cache-to" if export else "--cache-from"
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, sep, text = part.partition("=")
        if not sep or not name:
            raise UsageError(f"invalid {flag} {value!r}: expected key=value pairs")
        fields[name.strip()] = text
    kind = fields.pop("type", "local")
    if kind != "local":
        raise UsageError(f"{flag} type={kind} is not supported yet (supported: type=local)")
    location = fields.pop("dest" if export else "src", None)
    if not location:
        raise UsageError(f"{flag} type=local needs {'dest' if export else 'src'}=DIR")
    mode = fields.pop("mode", "max") if export else "max"
    if mode not in MODES:
        raise UsageError(f"invalid {flag} mode={mode!r}: expected min or max")
    timeout = _seconds(fields.pop("timeout", ""), flag) if export else EXPORT_TIMEOUT_SECONDS
    fields.pop("ignore-error", None)  # buildx compatibility: export errors are always only warnings
    if fields:
        raise UsageError(f"unknown {flag} option(s): {', '.join(sorted(fields))}")
    return CacheSpec(kind, Path(location).expanduser(), mode, timeout)


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


@dataclass(frozen=True, slots=True)
class TransferReport:
    """What one ``--cache-to`` (``exported``) or ``--cache-from`` did."""

    spec: CacheSpec
    exported: bool
    records: int = 0
    layers_moved: int = 0  # export: compressed into the directory; import: verified into the store
    layers_reused: int = 0  # export: already in the directory from its previous cache
    layers_rejected: int = 0  # import: failed verification (their steps run)
    seconds: float = 0.0
    error: str = ""

    @property
    def summary(self) -> str:
        verb, where = ("exported", "to") if self.exported else ("imported", "from")
        if self.error:
            return f"cache {verb[:-2]} {where} {self.spec.path} failed: {self.error}"
        return (f"{verb} cache {where} {self.spec.path}: {self.records} steps, {self.layers_moved} layers"
                f" ({self.layers_reused} reused, {self.layers_rejected} rejected) in {self.seconds:.1f}s")
