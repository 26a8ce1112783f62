"""Platforms (os/architecture/variant), normalised and matched like containerd/platforms.

Normalisation is what makes ``linux/aarch64``, ``linux/arm64`` and ``linux/arm64/v8`` the
same thing: Docker Hub indexes write ``arm64`` + ``v8`` while images built elsewhere often
omit the variant. Matching prefers an exact match, then the fallbacks a CPU can also run
(arm/v7 runs v6 and v5; amd64/v3 runs v2 and v1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import RegistryError

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}
_ARM_ALIASES = {"armhf": "v7", "armel": "v6"}


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/arch[/variant]``, the syntax of ``--platform``."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise RegistryError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Platform:
        return cls(
            os=str(data.get("os", "")),
            architecture=str(data.get("architecture", "")),
            variant=data.get("variant") or None,
            os_version=data.get("os.version") or None,
        )

    def to_json(self) -> dict[str, str]:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        return out

    def normalized(self) -> Platform:
        arch, variant = _normalize_arch(self.architecture.lower(), (self.variant or "").lower())
        os_name = self.os.lower()
        if os_name == "macos":
            os_name = "darwin"
        return Platform(os_name, arch, variant or None, self.os_version)

    @property
    def is_unknown(self) -> bool:
        """Attestation manifests (buildx SBOM/provenance) use ``unknown/unknown``."""
        return self.os == "unknown" and self.architecture == "unknown"

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def host_platform() -> Platform:
    """The platform of this machine, normalised (``linux/amd64``, ``linux/arm64``...)."""
    system = os.uname()  # what platform.system()/machine() read, without importing platform
    return Platform(system.sysname.lower() or "linux", system.machine or "amd64").normalized()


def compatible_platforms(wanted: Platform) -> list[Platform]:
    """``wanted`` first, then what the same CPU can also run, best first."""
    want = wanted.normalized()
    result = [want]
    if want.architecture == "arm" and want.variant:
        result += [Platform(want.os, "arm", f"v{n}") for n in range(int(want.variant[1:]) - 1, 4, -1)]
    elif want.architecture == "amd64":
        level = int(want.variant[1:]) if want.variant else 1
        result += [Platform(want.os, "amd64", f"v{n}") for n in range(level - 1, 1, -1)]
        if want.variant:
            result.append(Platform(want.os, "amd64"))
    elif want.architecture == "arm64" and want.variant and want.variant.startswith("v9"):
        result.append(Platform(want.os, "arm64"))
    return result


def same_platform(candidate: Platform, wanted: Platform) -> bool:
    """Equal after normalisation; ``os.version`` is compared only when both give one."""
    a, b = candidate.normalized(), wanted.normalized()
    if (a.os, a.architecture, a.variant) != (b.os, b.architecture, b.variant):
        return False
    return not (a.os_version and b.os_version) or a.os_version == b.os_version


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    if arch in _ARM_ALIASES:
        return "arm", _ARM_ALIASES[arch]
    arch = _ARCH_ALIASES.get(arch, arch)
    if arch == "amd64":
        return arch, "" if variant in ("", "v1", "1") else _with_v(variant)
    if arch == "386":
        return arch, ""
    if arch == "arm64":
        if variant in ("", "8", "v8", "v8.0"):
            return arch, ""
        return arch, "v9" if variant in ("9", "9.0", "v9.0") else _with_v(variant)
    if arch == "arm":
        return arch, "v7" if variant in ("", "7") else _with_v(variant)
    return arch, variant


def _with_v(variant: str) -> str:
    return variant if variant.startswith("v") else f"v{variant}"
