"""The image configuration blob (OCI image-spec ``config.md``; Docker's is the same shape).

``diff_ids`` are the digests of the *uncompressed* layers, in order; ``history`` has one
entry per build step, ``empty_layer`` marking steps that produced no layer.
Fields we do not model are kept in ``extra`` so that a round trip loses nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .errors import ProtocolError
from .oci import Digest, canonical_json
from .platform import Platform

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_KNOWN_TOP = {"architecture", "os", "variant", "os.version", "config", "rootfs", "history", "created", "author"}
_KNOWN_CONFIG = {
    "Env", "Entrypoint", "Cmd", "WorkingDir", "User", "Labels", "ExposedPorts",
    "Volumes", "Shell", "StopSignal", "Healthcheck", "OnBuild", "ArgsEscaped",
}


@dataclass(frozen=True, slots=True)
class History:
    created: str | None = None
    created_by: str | None = None
    comment: str | None = None
    author: str | None = None
    empty_layer: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> History:
        return cls(data.get("created"), data.get("created_by"), data.get("comment"),
                   data.get("author"), bool(data.get("empty_layer", False)))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("created", "created_by", "comment", "author"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True, slots=True)
class ImageConfig:
    platform: Platform
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    workdir: str = ""
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    shell: tuple[str, ...] | None = None
    stop_signal: str | None = None
    healthcheck: Mapping[str, Any] | None = None  # {"Test": [...], "Interval": ns, ...}
    onbuild: tuple[str, ...] | None = None
    args_escaped: bool = False
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[History, ...] = ()
    created: str | None = None
    author: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageConfig:
        try:
            body = json.loads(data)
            return cls.from_json(body)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ProtocolError(f"malformed image config: {exc}") from exc

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ImageConfig:
        run = body.get("config") or {}
        rootfs = body.get("rootfs") or {}
        extra = {k: v for k, v in body.items() if k not in _KNOWN_TOP}
        extra_config = {k: v for k, v in run.items() if k not in _KNOWN_CONFIG}
        if extra_config:
            extra["config"] = extra_config
        return cls(
            platform=Platform.from_json(body),
            env=tuple(run.get("Env") or ()),
            entrypoint=_optional_tuple(run.get("Entrypoint")),
            cmd=_optional_tuple(run.get("Cmd")),
            workdir=run.get("WorkingDir") or "",
            user=run.get("User") or "",
            labels=MappingProxyType(dict(run.get("Labels") or {})),
            exposed_ports=tuple(sorted(run.get("ExposedPorts") or {})),
            volumes=tuple(sorted(run.get("Volumes") or {})),
            shell=_optional_tuple(run.get("Shell")),
            stop_signal=run.get("StopSignal"),
            healthcheck=MappingProxyType(dict(run["Healthcheck"])) if run.get("Healthcheck") else None,
            onbuild=_optional_tuple(run.get("OnBuild")),
            args_escaped=bool(run.get("ArgsEscaped", False)),
            diff_ids=tuple(Digest.parse(d) for d in rootfs.get("diff_ids") or ()),
            history=tuple(History.from_json(h) for h in body.get("history") or ()),
            created=body.get("created"),
            author=body.get("author"),
            extra=MappingProxyType(extra),
        )

    def to_json(self) -> dict[str, Any]:
        extra = dict(self.extra)
        run: dict[str, Any] = dict(extra.pop("config", {}))
        run.update(_run_config(self))
        out: dict[str, Any] = {**extra, **self.platform.to_json(), "config": run}
        out["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]}
        if self.history:
            out["history"] = [h.to_json() for h in self.history]
        if self.created:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        return out

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


def _run_config(config: ImageConfig) -> dict[str, Any]:
    pairs: dict[str, Any] = {
        "Env": list(config.env) or None,
        "Entrypoint": _optional_list(config.entrypoint),
        "Cmd": _optional_list(config.cmd),
        "WorkingDir": config.workdir or None,
        "User": config.user or None,
        "Labels": dict(config.labels) or None,
        "ExposedPorts": {p: {} for p in config.exposed_ports} or None,
        "Volumes": {v: {} for v in config.volumes} or None,
        "Shell": _optional_list(config.shell),
        "StopSignal": config.stop_signal,
        "Healthcheck": dict(config.healthcheck) if config.healthcheck is not None else None,
        "OnBuild": _optional_list(config.onbuild),
        "ArgsEscaped": True if config.args_escaped else None,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def _optional_tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _optional_list(value: tuple[str, ...] | None) -> list[str] | None:
    # Go's `omitempty` drops empty slices: docker never writes "Cmd": [].
    return list(value) if value else None
