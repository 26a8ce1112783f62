"""Build arguments: ``--build-arg`` parsing, the predefined proxy and platform ARGs."""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from builder.errors import UsageError

# Passed to every RUN without a declaration, and kept out of cache keys and history.
PROXY_ARGS = frozenset(
    name for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
)
# Build args that steer the builder itself and never reach the Dockerfile's env.
CONTROL_ARGS = frozenset({
    "BUILDKIT_SYNTAX", "BUILDKIT_CACHE_MOUNT_NS", "BUILDKIT_CONTEXT_KEEP_GIT_DIR",
    "BUILDKIT_INLINE_CACHE", "BUILDKIT_MULTI_PLATFORM", "BUILDKIT_SANDBOX_HOSTNAME",
    "BUILDKIT_DOCKERFILE_CHECK", "BUILDKIT_BUILD_NAME", "BUILDKIT_SBOM_SCAN_CONTEXT",
    "BUILDKIT_SBOM_SCAN_STAGE",
})
_MACHINE_TO_ARCH = {
    "x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", ""), "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "i686": ("386", ""), "i386": ("386", ""),
    "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
}


# containerd's platform vocabulary: a one-word --platform must name one of these.
_KNOWN_OS = frozenset("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 "
                      "solaris wasip1 windows zos".split())
_KNOWN_ARCH = frozenset("386 amd64 amd64p32 arm armbe arm64 arm64be ppc64 ppc64le loong64 mips mipsle mips64 "
                        "mips64le mips64p32 mips64p32le ppc riscv riscv64 s390 s390x sparc sparc64 wasm".split())
_SPECIFIER_PART = re.compile(r"[a-z0-9_.-]+")


def parse_build_args(values: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``K=V`` sets K; a bare ``K`` takes its value from the environment, or is dropped (as docker does)."""
    environ = os.environ if environ is None else environ
    parsed: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not name:
            raise UsageError(f"invalid --build-arg {value!r}: the name is empty")
        if sep:
            parsed[name] = text
        elif name in environ:
            parsed[name] = environ[name]
    return parsed


def host_platform_string() -> str:
    machine = os.uname().machine.lower()  # what platform.machine() returns, without importing platform
    arch, variant = _MACHINE_TO_ARCH.get(machine, (machine, ""))
    return f"linux/{arch}/{variant}" if variant else f"linux/{arch}"


def normalize_platform(text: str) -> str:
    """``linux/arm64/v8`` -> ``linux/arm64``; ``amd64`` -> ``linux/amd64`` (containerd's normalisation)."""
    from registry_client import Platform  # only when a platform is given: --check without one never loads it

    parts = [part.strip().lower() for part in text.split("/")]
    if not 1 <= len(parts) <= 3 or not all(_SPECIFIER_PART.fullmatch(part) for part in parts):
        raise UsageError(f"failed to parse platform {text}: expected os/arch[/variant]")
    if len(parts) == 1:  # containerd: a known OS on this machine's architecture, else a known architecture
        if parts[0] in _KNOWN_OS:
            parts = [parts[0], *host_platform_string().split("/")[1:]]
        elif Platform("linux", parts[0]).normalized().architecture in _KNOWN_ARCH:
            parts.insert(0, "linux")
        else:
            raise UsageError(f"failed to parse platform {text}: {text!r}: unknown operating system or architecture")
    return str(Platform(*parts).normalized())


def platform_args(target_platform: str | None, target_stage: str) -> dict[str, str]:
    """BuildKit's automatic global ARGs (usable in FROM; a stage must re-declare them)."""
    build = host_platform_string()
    target = normalize_platform(target_platform) if target_platform else build
    values: dict[str, str] = {}
    for prefix, spec in (("BUILD", build), ("TARGET", target)):
        os_name, arch, *rest = spec.split("/")
        values[f"{prefix}PLATFORM"] = spec
        values[f"{prefix}OS"] = os_name
        values[f"{prefix}ARCH"] = arch
        values[f"{prefix}VARIANT"] = rest[0] if rest else ""
    values["TARGETSTAGE"] = target_stage
    return values
