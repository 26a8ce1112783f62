"""``docker build`` flags that CI scripts pass and pybuild takes as docker 26 (buildx 0.13, "docker" driver) does.

- ``--load``: the image lands in pybuild's store anyway; it adds buildx's ``type=docker`` output
  (``builder.outputs.flags.parse_outputs``), so it combines with ``--push`` and ``-o`` as in buildx;
- ``--provenance`` / ``--sbom`` / ``--attest``: parsed as buildx parses them; a disabled attestation
  (``--provenance=false``) is accepted silently, any other is refused as docker's default driver
  refuses it: that image store cannot hold attestations, and neither can pybuild's;
- ``--annotation [TYPE[,TYPE][PLATFORM]:]KEY=VALUE``: checked as buildx checks it, then handed to every
  output (``builder.outputs.annotations``): the store and pushes drop it, as docker 26 does, and
  ``type=oci``/``type=docker`` files carry it, as BuildKit's exporters write it;
- ``--shm-size``, ``--ulimit``, ``--cgroup-parent``: the RUN containers' ``/dev/shm`` size, rlimits and
  parent cgroup (``run_resources`` -> ``runtime.resources.ContainerResources``);
- ``--builder``: only ``default`` exists;
- the classic builder's flags that buildx still accepts and BuildKit ignores (``--rm``, ``--force-rm``,
  ``--compress``, ``-m/--memory``, ``-c/--cpu-shares``, ...): accepted with docker's type checks, hidden
  from ``--help``; ``--isolation``, ``--squash`` and ``--security-opt`` print docker's warnings.

Bad values stop before the build with docker's wording (argparse's usage error or a UsageError).
"""
from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from builder.errors import UsageError
from grammar import GO_BOOLS, record

if TYPE_CHECKING:  # runtime costs ~0.1 s to import: only a build that runs imports it
    from runtime import ContainerResources

DEFAULT_BUILDER = "default"
# docker's ulimit names (go-units); runtime.resources maps them to the kernel's RLIMIT_* numbers
ULIMIT_NAMES = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
                "rtprio", "rttime", "sigpending", "stack")
ATTESTATION_REFUSED = ("attestations are not supported (--provenance, --sbom, --attest): pybuild's image store, "
                       "like docker's default \"docker\" driver without the containerd image store, cannot hold "
                       "them; pass --provenance=false / --sbom=false or leave the flag out")

_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def go_bool(text: str) -> bool:
    """Go's strconv.ParseBool, which docker's boolean flags use."""
    if text in GO_BOOLS:
        return GO_BOOLS[text]
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r} (expected true or false)")


class _GoBoolFlag(argparse.Action):
    """``--rm`` or ``--rm=VALUE`` (VALUE one of Go's spellings), stored as a bool."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        _, separator, word = (option_string or "").partition("=")
        setattr(namespace, self.dest, go_bool(word) if separator else True)


def go_int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None


def ram_bytes(text: str) -> int:
    """docker's ``bytes`` flags (go-units RAMInBytes): ``1000``, ``64m``, ``1.5g``, ``2GiB``; binary units."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid size: {text!r}")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def ulimit(text: str) -> tuple[str, int, int]:
    """``NAME=SOFT[:HARD]`` as docker's ulimit flag (go-units ParseUlimit) reads it."""
    name, separator, values = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"invalid ulimit argument: {text}")
    if name not in ULIMIT_NAMES:
        raise argparse.ArgumentTypeError(f"invalid ulimit type: {name} (one of {', '.join(ULIMIT_NAMES)})")
    limits = values.split(":")
    if len(limits) > 2:
        raise argparse.ArgumentTypeError(f"too many limit value arguments - {values}, can only have up to two, "
                                         "`soft[:hard]`")
    soft = go_int(limits[0])
    hard = go_int(limits[1]) if len(limits) == 2 else soft
    if soft > hard:
        raise argparse.ArgumentTypeError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return name, soft, hard


def add_docker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--load", action="store_true",
                        help="shorthand for --output=type=docker (the image is always in pybuild's store)")
    parser.add_argument("--provenance", metavar="false|true|mode=...",
                        help="provenance attestation: only 'false' is supported (no attestations)")
    parser.add_argument("--sbom", metavar="false|true|...", help="SBOM attestation: only 'false' is supported")
    parser.add_argument("--attest", action="append", default=[], metavar="type=TYPE[,disabled=true]",
                        help="attestation parameters: only disabled ones are supported")
    parser.add_argument("--annotation", dest="annotations", action="append", default=[],
                        metavar="[TYPE[,TYPE][PLATFORM]:]KEY=VALUE",
                        help="OCI annotation for type=oci/docker outputs (the store and pushes drop it, as docker 26)")
    parser.add_argument("--shm-size", type=ram_bytes, default=0, metavar="BYTES",
                        help="size of /dev/shm in RUN containers (e.g. 128m; default 64m)")
    parser.add_argument("--ulimit", dest="ulimits", action="append", type=ulimit, default=[],
                        metavar="NAME=SOFT[:HARD]", help="rlimit of RUN processes, e.g. nofile=1024:2048 (repeatable)")
    parser.add_argument("--cgroup-parent", metavar="CGROUP",
                        help="parent cgroup of the RUN containers, from the cgroup root as in docker")
    parser.add_argument("--builder", metavar="NAME", help="builder instance: only 'default' exists")
    hidden = argparse.SUPPRESS  # the classic builder's flags: accepted, ignored by BuildKit and by pybuild
    for flag in ("--rm", "--force-rm", "--compress", "--squash"):
        # Go's bool flags take a value only as --rm=false, never as the next word (which is the context):
        # each spelling is an option string of its own, so '--rm .' stays a flag and a context.
        spellings = [f"{flag}={word}" for word in GO_BOOLS]
        parser.add_argument(flag, *spellings, action=_GoBoolFlag, nargs=0, default=None, help=hidden)
    parser.add_argument("--isolation", help=hidden)
    parser.add_argument("-m", "--memory", help=hidden)
    parser.add_argument("--memory-swap", help=hidden)
    parser.add_argument("-c", "--cpu-shares", type=go_int, help=hidden)
    parser.add_argument("--cpu-period", type=go_int, help=hidden)
    parser.add_argument("--cpu-quota", type=go_int, help=hidden)
    parser.add_argument("--cpuset-cpus", help=hidden)
    parser.add_argument("--cpuset-mems", help=hidden)
    parser.add_argument("--security-opt", action="append", default=[], help=hidden)


def check_docker_flags(options: argparse.Namespace) -> list[str]:
    """Refuse what docker refuses (UsageError); return docker's warnings for the legacy flags."""
    builder = getattr(options, "builder", None)
    if builder is not None and builder != DEFAULT_BUILDER:
        raise UsageError(f'no builder "{builder}" found: pybuild has one builder, "default"')
    if any(not attestation.disabled for attestation in parse_attestations(options)):
        raise UsageError(ATTESTATION_REFUSED)
    if getattr(options, "annotations", None):
        from builder.outputs.annotations import annotation_attributes

        annotation_attributes(options.annotations)  # buildx's checks, before the build
    if getattr(options, "cgroup_parent", None) is not None:
        _check_cgroup_parent(options.cgroup_parent)
    warnings = []
    if getattr(options, "isolation", None) is not None:
        warnings.append("isolation flag is deprecated with BuildKit.")
    if getattr(options, "squash", None):
        warnings.append("experimental flag squash is removed with BuildKit. You should squash inside build "
                        "using a multi-stage Dockerfile for efficiency.")
    if getattr(options, "security_opt", None):
        warnings.append('security-opt flag is deprecated. "RUN --security=insecure" should be used with BuildKit.')
    return warnings


def run_resources(options: argparse.Namespace) -> ContainerResources:
    """``--shm-size`` (0: the default), ``--ulimit`` (the last one of a name wins, as in docker), ``--cgroup-parent``."""
    from runtime import ContainerResources, Ulimit

    by_name = {name: Ulimit(name, soft, hard) for name, soft, hard in getattr(options, "ulimits", [])}
    return ContainerResources(shm_size=getattr(options, "shm_size", 0) or None, ulimits=tuple(by_name.values()),
                              cgroup_parent=getattr(options, "cgroup_parent", None) or None)


@record
class Attestation:
    kind: str
    disabled: bool  # its other parameters (mode=max, ...) matter to nothing pybuild does


def parse_attestations(options: argparse.Namespace) -> list[Attestation]:
    """``--attest`` values plus the ``--provenance`` and ``--sbom`` shorthands, as buildx canonicalizes them."""
    texts = list(getattr(options, "attest", []))
    for kind in ("provenance", "sbom"):
        value = getattr(options, kind, None)
        if not value:  # "--provenance=" is no attestation at all
            continue
        try:
            texts.append(f"type={kind}" if go_bool(value) else f"type={kind},disabled=true")
        except argparse.ArgumentTypeError:
            texts.append(f"type={kind},{value}")  # "mode=max" and other parameters
    return [_attestation(text) for text in texts]


def _attestation(text: str) -> Attestation:
    import csv

    kind, disabled = "", False
    for field in next(csv.reader([text]), []):
        key, separator, value = field.partition("=")
        if not separator:
            raise UsageError(f"invalid value {field}")
        key = key.strip().lower()
        if key == "type":
            kind = value
        elif key == "disabled":
            try:
                disabled = go_bool(value)
            except argparse.ArgumentTypeError:
                raise UsageError(f"invalid value {field}: expected true or false") from None
    if not kind:
        raise UsageError("attestation type not specified")
    return Attestation(kind, disabled)


def _check_cgroup_parent(text: str) -> None:
    if not text.strip("/") or any(part in (".", "..") for part in text.split("/")):
        raise UsageError(f"invalid --cgroup-parent {text!r}: expected a cgroup path such as 'ci' or '/ci/builds'")
