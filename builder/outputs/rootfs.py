"""The image's root filesystem: ``type=local`` (a directory) and ``type=tar`` (one tar).

Layers are applied in order with ``runtime.apply_layer``, which keeps owners, modes,
symlinks, hard links and device nodes (when root) and handles whiteouts. The tar output
flattens into a scratch directory under the state root first, then archives it in sorted
order with owners as numbers only, so the same image always gives the same tar.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO

from registry_client import ContentStore, open_uncompressed

from builder.errors import UsageError
from builder.imagestore import StoredImage
from builder.outputs.archive import CountingWriter


def check_destination(dest: Path, root: Path) -> None:
    """A rootfs must not be written into the state root: it would land among the images."""
    resolved, state = dest.resolve(), root.resolve()
    if resolved == state or state in resolved.parents or resolved in state.parents:
        raise UsageError(f"output directory {dest} overlaps the state directory {root}")


def apply_image(content: ContentStore, image: StoredImage, target: Path) -> None:
    """Unpack every layer of ``image`` onto ``target``, bottom to top."""
    from runtime import apply_layer  # the runtime package is only needed by rootfs outputs

    target.mkdir(parents=True, exist_ok=True)
    for layer in image.manifest.layers:
        with content.open(layer.digest) as blob:
            apply_layer(open_uncompressed(blob, layer.media_type), str(target))


def export_local(root: Path, content: ContentStore, image: StoredImage, dest: Path) -> None:
    check_destination(dest, root)
    apply_image(content, image, dest)


def export_tar(root: Path, content: ContentStore, image: StoredImage, out: BinaryIO) -> None:
    scratch_parent = root / "tmp"
    scratch_parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=scratch_parent, prefix="rootfs-"))
    try:
        apply_image(content, image, scratch)
        write_tree(scratch, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_tree(directory: Path, out: BinaryIO) -> None:
    """``directory``'s contents as a tar stream: sorted, parents first, hard links as links."""
    with tarfile.open(fileobj=CountingWriter(out), mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _sorted_tree(directory):
            name = path.relative_to(directory).as_posix()
            info = tar.gettarinfo(str(path), arcname=name)
            if info is None:
                continue  # a socket: tar cannot hold it (BuildKit drops them too)
            info.uname = info.gname = ""  # names would come from this host's passwd, not the image's
            info.mtime = int(info.mtime)
            if info.isreg():
                with open(path, "rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)


def _sorted_tree(directory: Path) -> list[Path]:
    found: list[Path] = []
    for current, dirs, files in os.walk(directory):
        dirs.sort()
        base = Path(current)
        found.extend(base / name for name in sorted(files))
        found.extend(base / name for name in dirs if (base / name).is_symlink())  # walk skips their contents
        dirs[:] = [name for name in dirs if not (base / name).is_symlink()]
        if base != directory:
            found.append(base)
    found.sort(key=lambda p: p.relative_to(directory).parts)
    return found
