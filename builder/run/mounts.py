"""``RUN --mount``: turn typed mounts into host bind mounts, plus what they add to the cache key.

Nothing a mount shows ever reaches the layer: the runtime removes the mount points it
had to create. Secrets are written to a private temporary directory, never to the
snapshot, and only their id enters the cache key.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from builder.context.local import BuildContext
from builder.copy.scoped_path import resolve_in_root
from builder.copy.source_digest import Selection
from builder.copy.source_keys import Keying, SourceKeys, from_material
from builder.errors import BuildError
from builder.replay.journal import BuildJournal
from grammar import RunMount, record
from runtime import BindMount, mounted

SECRETS_DIR = "/run/secrets"
SSH_SOCKET = "/run/buildkit/ssh_agent.0"


@record
class MountSources:
    """What mounts may read: the context, stages and images (as mounts of committed snapshots)."""

    context: BuildContext  # the context as .dockerignore filters it
    cache_dir: Path
    secrets: Mapping[str, bytes]
    ssh_sockets: Mapping[str, str]
    source_view: Callable[[str], list[Any]]  # from= ref -> the mounts of a read-only view of its snapshot
    source_keys: SourceKeys  # what the files read from a from= source add to a cache key
    journal: BuildJournal
    remote_files: Any = None  # a builder.copy.remote_files.RemoteFiles: ADD's URLs, fetched once per build
    keying: Keying = Keying.CONTENT  # how a step's material names those files (``two_keys`` makes both)


@record
class PreparedMounts:
    binds: tuple[BindMount, ...]
    env: tuple[tuple[str, str], ...]  # secret env= and SSH_AUTH_SOCK


def mount_material(mounts: tuple[RunMount, ...], sources: MountSources) -> tuple[dict[str, Any], ...]:
    """The cache-key part of the mounts, computable before anything is mounted."""
    return tuple(_material(mount, sources) for mount in mounts)


def _material(mount: RunMount, sources: MountSources) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": mount.type, "target": mount.target}
    if mount.type == "bind":
        if mount.from_:  # BuildKit: a bind mount (read-only or not, it has no output) keys on its files
            entry["from"] = from_material(sources, mount.from_, Selection((mount.source or "/",), wildcards=False))
        else:
            paths = [mount.source or ""]
            sources.journal.context(sources.context.covered_paths(paths))
            entry["context"] = sources.context.digest_of(paths)
        entry.update(source=mount.source, readonly=mount.readonly)
    elif mount.type in ("secret", "ssh"):
        entry.update(id=_secret_id(mount) if mount.type == "secret" else (mount.id or "default"),
                     env=mount.env, required=mount.required)
    return entry


def prepare_mounts(mounts: tuple[RunMount, ...], sources: MountSources, stack: contextlib.ExitStack) -> PreparedMounts:
    binds: list[BindMount] = []
    env: list[tuple[str, str]] = []
    for mount in mounts:
        match mount.type:
            case "bind":
                binds.append(_bind(mount, sources, stack))
            case "cache":
                binds.append(_cache(mount, sources, stack))
            case "tmpfs":
                binds.append(BindMount(stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-tmpfs-")),
                                       mount.target))
            case "secret":
                bind, secret_env = _secret(mount, sources, stack)
                binds += bind
                env += secret_env
            case "ssh":
                bind, ssh_env = _ssh(mount, sources)
                binds += bind
                env += ssh_env
    return PreparedMounts(tuple(binds), tuple(env))


def _bind(mount: RunMount, sources: MountSources, stack: contextlib.ExitStack) -> BindMount:
    if mount.from_:
        root = stack.enter_context(mounted(sources.source_view(mount.from_)))
    else:
        root = sources.context.root
    # Symlinks resolve inside the source root, as if it were "/": never on the host.
    source = Path(resolve_in_root(root, mount.source or "."))
    if not os.path.lexists(source):
        raise BuildError(f"failed to compute cache key: \"/{mount.source}\" not found")
    context_filtered = not mount.from_ and sources.context.ignore_patterns
    if context_filtered or not mount.readonly:
        # The context as .dockerignore leaves it; writes to a read-write mount are thrown away.
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-bind-")))
        relpath = os.path.relpath(source, root)
        if context_filtered:
            _filtered_tree(sources.context, "" if relpath == "." else relpath, scratch / "src",
                           hardlink=mount.readonly)
        elif source.is_dir():
            shutil.copytree(source, scratch / "src", symlinks=True)
        else:
            shutil.copy2(source, scratch / "src", follow_symlinks=False)
        source = scratch / "src"
    return BindMount(str(source), mount.target, read_only=mount.readonly)


def _filtered_tree(context: BuildContext, relpath: str, target: Path, *, hardlink: bool) -> None:
    """Recreate ``relpath`` of the context at ``target`` with only what .dockerignore keeps.

    Read-only mounts get hard links (cheap, and nothing can write through them); read-write
    ones get copies. Hard links fall back to copies across filesystems.
    """
    entries = context.entries
    prefix = f"{relpath}/" if relpath else ""
    chosen = sorted(path for path in entries if path == relpath or path.startswith(prefix)) if relpath \
        else sorted(entries)
    if not relpath:
        target.mkdir()
    elif not chosen:
        raise BuildError(f"failed to compute cache key: \"/{relpath}\" not found")
    for path in chosen:
        host = os.path.join(context.root, path)
        destination = target / path[len(prefix):] if path != relpath else target
        entry = entries[path]
        if entry.kind == "d":
            destination.mkdir(mode=entry.mode & 0o7777, parents=True, exist_ok=True)
        elif entry.kind == "l":
            destination.symlink_to(os.readlink(host))
        elif entry.kind == "s":  # sockets and fifos arrive as empty files, as BuildKit's client sends them
            destination.touch(mode=entry.mode & 0o7777)
        elif hardlink:
            try:
                os.link(host, destination)
            except OSError:
                shutil.copy2(host, destination)
        else:
            shutil.copy2(host, destination)


def _cache(mount: RunMount, sources: MountSources, stack: contextlib.ExitStack) -> BindMount:
    identity = mount.id or mount.target
    directory = sources.cache_dir / hashlib.sha256(identity.encode()).hexdigest()[:32]
    if not directory.exists():
        sources.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=sources.cache_dir, prefix=".new-"))
        os.chown(staging, mount.uid or 0, mount.gid or 0)
        os.chmod(staging, mount.mode if mount.mode is not None else 0o755)
        try:
            os.rename(staging, directory)
        except OSError:  # another build created it first
            staging.rmdir()
    if mount.sharing == "locked":
        lock = stack.enter_context(open(f"{directory}.lock", "w"))
        fcntl.flock(lock, fcntl.LOCK_EX)
    return BindMount(str(directory), mount.target)


def _secret_id(mount: RunMount) -> str:
    return mount.id or mount.source or mount.target.rstrip("/").rsplit("/", 1)[-1]


def _secret(mount: RunMount, sources: MountSources,
            stack: contextlib.ExitStack) -> tuple[list[BindMount], list[tuple[str, str]]]:
    secret_id = _secret_id(mount)
    value = sources.secrets.get(secret_id)
    if value is None:
        if mount.required:
            raise BuildError(f"secret {secret_id} not found")
        return [], []
    env = [(mount.env or secret_id, value.decode(errors="replace"))] if mount.env is not None else []
    if mount.env is not None and not mount.target:
        return [], env
    directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-secret-"))
    path = os.path.join(directory, "secret")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400 if mount.mode is None else mount.mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    os.chown(path, mount.uid or 0, mount.gid or 0)
    os.chmod(path, 0o400 if mount.mode is None else mount.mode)
    target = mount.target or f"{SECRETS_DIR}/{secret_id}"
    return [BindMount(path, target, read_only=True)], env


def _ssh(mount: RunMount, sources: MountSources) -> tuple[list[BindMount], list[tuple[str, str]]]:
    socket = sources.ssh_sockets.get(mount.id or "default")
    if socket is None:
        if mount.required:
            raise BuildError(f"no SSH key {mount.id or 'default'!r} forwarded from the client (use --ssh)")
        return [], []
    target = mount.target or SSH_SOCKET
    return [BindMount(socket, target, read_only=True)], [("SSH_AUTH_SOCK", target)]
