"""ADD's local archive handling: detect a tar by content, unpack it safely into the destination.

Detection is BuildKit's ``isArchivePath``: a regular file whose (gzip, bzip2, xz
or zstd, told by magic bytes, never by name) decompressed stream starts with a
valid tar header. An empty tar is not an archive and is copied as a file.

Unpacking reuses ``runtime.apply_layer``'s safe extraction (no ``..``, links
never followed out of the tree; absolute names are made relative first, as moby's
Untar joins them to the destination) into a scratch directory, then
merges the tree into the destination with the copier, so an absolute symlink
already in the image is resolved inside the rootfs, never on the host. Entries
keep the tar's owners and modes; ``--chown`` overrides the owners (BuildKit
>= 0.15 behaviour), ``--chmod`` does not apply to them.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import tarfile
import tempfile
from contextlib import ExitStack
from typing import BinaryIO

import runtime
from builder.copy.errors import ArchiveError
from builder.copy.owners import Owner
from builder.copy.sources import SourceRoot
from builder.copy.tree import CopyOptions, TreeCopier

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def open_decompressed(path: str, stack: ExitStack) -> BinaryIO:
    """``path``'s content, decompressed when its first bytes name a known compression."""
    raw = stack.enter_context(open(path, "rb"))
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return stack.enter_context(gzip.GzipFile(fileobj=raw))  # type: ignore[return-value]
    if head.startswith(b"BZh"):
        return stack.enter_context(bz2.BZ2File(raw))  # type: ignore[return-value]
    if head.startswith(b"\xfd7zXZ\x00"):
        return stack.enter_context(lzma.LZMAFile(raw))  # type: ignore[return-value]
    if head.startswith(_ZSTD_MAGIC):
        import zstandard  # lazy: only archives need it

        return stack.enter_context(zstandard.ZstdDecompressor().stream_reader(raw))  # type: ignore[return-value]
    return raw


def is_tar_archive(path: str) -> bool:
    """Whether ADD would unpack the regular file at ``path``."""
    try:
        with ExitStack() as stack:
            with tarfile.open(fileobj=open_decompressed(path, stack), mode="r|") as archive:
                return archive.next() is not None
    except Exception:  # noqa: BLE001 - any decoding failure means "not an archive", as upstream
        return False


def unpack_archive(archive_path: str, dest_root: str, dest_dir: str, owner: Owner | None,
                   written: list[str], scratch_dir: str | None = None) -> None:
    """Unpack ``archive_path`` into the existing host directory ``dest_dir`` inside ``dest_root``."""
    names = _member_names(archive_path)
    with ExitStack() as stack:
        staging = stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-unpack-", dir=scratch_dir))
        readable = archive_path
        if any(name.startswith("/") for name in names):
            readable = _without_leading_slashes(archive_path, stack, scratch_dir)
        try:
            with ExitStack() as reading:
                runtime.apply_layer(open_decompressed(readable, reading), staging)
        except (runtime.UnsafeLayerError, runtime.LayerFormatError, tarfile.TarError, OSError, EOFError) as error:
            raise ArchiveError(f"failed to unpack {os.path.basename(archive_path)}: {error}") from None
        kept, made = _implied_dirs(names, staging, dest_dir)
        copier = TreeCopier(SourceRoot(staging, name="archive"), dest_root, CopyOptions(owner=owner), written)
        copier.copy("", dest_dir)
        for target, st in kept:
            # A directory the tar only implies (no entry of its own) keeps the image's owner and mode.
            os.lchown(target, st.st_uid, st.st_gid)
            os.chmod(target, st.st_mode & 0o7777)
        for target in made:  # parents first: moby's MkdirAll gets the setgid bit a setgid parent passes down
            if os.lstat(os.path.dirname(target)).st_mode & stat.S_ISGID:
                os.chmod(target, (os.lstat(target).st_mode & 0o7777) | stat.S_ISGID)


def _member_names(archive_path: str) -> list[str]:
    with ExitStack() as stack, tarfile.open(fileobj=open_decompressed(archive_path, stack), mode="r|") as tar:
        return [member.name for member in tar]


def _without_leading_slashes(archive_path: str, stack: ExitStack, scratch_dir: str | None) -> str:
    """A copy of the archive whose absolute member names (and hardlink targets) are relative.

    ADD unpacks ``/abs/file`` to ``<dest>/abs/file`` (moby's Untar joins every name to the
    destination); layer extraction, which this reuses, rightly refuses absolute names.
    """
    handle = stack.enter_context(tempfile.NamedTemporaryFile(prefix="pybuild-relative-", suffix=".tar",
                                                             dir=scratch_dir))
    with ExitStack() as reading, tarfile.open(fileobj=open_decompressed(archive_path, reading), mode="r|") as tar, \
            tarfile.open(fileobj=handle, mode="w|", format=tarfile.PAX_FORMAT) as out:
        for member in tar:
            member.name = member.name.lstrip("/") or "."
            if member.islnk():
                member.linkname = member.linkname.lstrip("/")
            out.addfile(member, tar.extractfile(member) if member.isreg() else None)
    handle.flush()
    return handle.name


def _implied_dirs(names: list[str], staging: str,
                  dest_dir: str) -> tuple[list[tuple[str, os.stat_result]], list[str]]:
    """Directories the archive creates without naming them: those that exist in the destination
    (with their metadata), and the new ones (parents first)."""
    named = {os.path.normpath(name).lstrip("/") for name in names}
    kept, made = [], []
    for directory, dirnames, _ in os.walk(staging):
        for name in dirnames:
            relpath = os.path.relpath(os.path.join(directory, name), staging)
            if relpath in named:
                continue
            target = os.path.join(dest_dir, relpath)
            if os.path.isdir(target) and not os.path.islink(target):
                kept.append((target, os.lstat(target)))
            elif not os.path.lexists(target):
                made.append(target)
    return kept, made
